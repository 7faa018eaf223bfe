"""The one way exports write a file: to a temporary file beside the target, then renamed over
it, so that a reader never sees half a file and a failed or killed write leaves the old
file (if any) as it was.

The temporary name is short (``.ws-<pid>-<8 hex>.tmp``), so a target whose name is at the
file system's limit (255 bytes) still gets one; a failure to remove the temporary file
after an error is logged and never hides the error itself.
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
