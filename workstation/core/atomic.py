"""The one way the Workstation writes a file (exports, results, the similarity index, model
weights and manifest, display caches): to a temporary file beside the target, then renamed
over it, so that a reader never sees half a file and a failed or killed write leaves the old
file (if any) as it was. ``durable=True`` also flushes the data and the folder to disk
(results, index, weights), and leaves the file readable by others (0644).

The temporary name is short (``.ws-<pid>-<8 hex>.tmp``), so a target whose name is at the
file system's limit (255 bytes) still gets one; a failure to remove the temporary file
after an error is logged and never hides the error itself. A writer killed outright leaves
its temporary file; ``remove_stale_temps`` (run by every batch export) removes those whose
process is gone.
"""

from __future__ import annotations

import logging
import os
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

log = logging.getLogger(__name__)


def temp_path_beside(path: str | Path) -> Path:
    """A fresh temporary path in ``path``'s folder (not created)."""
    path = Path(path)
    return path.with_name(f".ws-{os.getpid()}-{secrets.token_hex(4)}.tmp")


def discard(tmp: str | Path) -> None:
    """Remove a temporary file if it is there; a failure is logged, not raised."""
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("%s: cannot remove the temporary file: %s", tmp, exc)


def remove_stale_temps(folder: str | Path) -> int:
    """Remove the temporary files that killed writers left in ``folder`` (those whose process,
    named in the file name, no longer runs); returns how many."""
    n = 0
    for p in Path(folder).glob(".ws-*-*.tmp"):
        try:
            pid = int(p.name.split("-")[1])
            os.kill(pid, 0)                       # raises when no such process
        except ProcessLookupError:
            discard(p)
            n += 1
        except (ValueError, IndexError, PermissionError, OSError):
            continue
    return n


def fsync_dir(directory: str | Path) -> None:
    """Flush a folder's entries to disk (POSIX; a no-op elsewhere)."""
    if os.name != "posix":   # directories cannot be opened for fsync on Windows
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_write(path: str | Path, what: str = "write", *, error=None,
                 durable: bool = False) -> Iterator[Path]:
    """``with atomic_write(target) as tmp: <write tmp>``: on success ``tmp`` replaces
    ``target``; on any error ``tmp`` is removed and the error raised: as
    ``error(target, "cannot <what>: <reason>")`` when ``error`` is given (an exception of that
    type from the body passes unchanged), else the original exception. ``durable``: fsync the
    file before the rename and the folder after it, mode 0644."""
    path = Path(path)
    tmp = temp_path_beside(path)
    try:
        yield tmp
        if durable:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        if durable:
            fsync_dir(path.parent)
    except BaseException as exc:      # KeyboardInterrupt too: leave nothing behind
        discard(tmp)
        if error is None or isinstance(exc, error) or not isinstance(exc, Exception):
            raise
        raise error(path, f"cannot {what}: {exc}") from exc


def save_npz(path: str | Path, *, durable: bool = False, **arrays) -> Path:
    """``np.savez`` of ``arrays`` to ``path`` through ``atomic_write`` (uncompressed)."""
    import numpy as np

    path = Path(path)
    with atomic_write(path, durable=durable) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    return path
