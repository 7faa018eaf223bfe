"""The one way exports write a file: to a temporary file beside the target, then renamed over
it, so that a reader never sees half a file and a failed or killed write leaves the old
file (if any) as it was.

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

from workstation.core.errors import AnnotationError

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


@contextmanager
def atomic_write(path: str | Path, what: str = "write") -> Iterator[Path]:
    """``with atomic_write(target) as tmp: <write tmp>``: on success ``tmp`` replaces
    ``target``; on any error ``tmp`` is removed and ``AnnotationError(target, "cannot <what>:
    <reason>")`` raised (an ``AnnotationError`` from the body passes unchanged)."""
    path = Path(path)
    tmp = temp_path_beside(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except AnnotationError:
        discard(tmp)
        raise
    except Exception as exc:   # OSError, ValueError, a writer library's own errors
        discard(tmp)
        raise AnnotationError(path, f"cannot {what}: {exc}") from exc
    except BaseException:      # KeyboardInterrupt: leave nothing behind
        discard(tmp)
        raise
