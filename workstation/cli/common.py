"""Helpers shared by the command-line commands: opening the library, finding a track."""

from __future__ import annotations

from pathlib import Path

from workstation.core.errors import WorkstationError
from workstation.library.paths import default_root as default_library_root


def _open_library(args):
    from workstation.library import Library
    root = Path(args.library) if args.library else default_library_root()
    if root.exists() and not root.is_dir():
        raise WorkstationError(f"--library {root}: exists and is not a folder")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorkstationError(f"--library {root}: cannot create the folder ({exc.strerror or exc})") from None
    return Library.open(root)


def _resolve_track(lib, text: str):
    """A track by id or by path (it must be in the library)."""
    if text.isdigit() and not Path(text).exists():
        return lib.track(int(text))
    t = lib.track_by_path(Path(text).expanduser())
    if t is None:
        raise WorkstationError(f"{text}: not in the library (run 'workstation analyze' on it first)")
    return t
