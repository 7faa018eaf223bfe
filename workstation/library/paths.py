"""Where the library lives by default (shared by the CLI and the GUI), and how file paths and
text made from them are stored in its SQLite catalogue."""

from __future__ import annotations

import os
from pathlib import Path


def default_root() -> Path:
    """``$WORKSTATION_LIBRARY``, else the platform user data folder (platformdirs
    ``user_data_dir("workstation")``: ~/.local/share/workstation or $XDG_DATA_HOME/workstation
    on Linux, ~/Library/Application Support/workstation on macOS, %LOCALAPPDATA%\\workstation
    on Windows)."""
    env = os.environ.get("WORKSTATION_LIBRARY")
    if env:
        return Path(env)
    from platformdirs import user_data_dir
    return Path(user_data_dir("workstation", appauthor=False))


def storable_text(text: str) -> str:
    """``text`` with lone surrogates (undecodable file-name bytes) replaced by U+FFFD, so that
    SQLite (UTF-8) and terminals take it."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def db_path_value(path: str) -> str | bytes:
    """How a (normalised) path is stored: as text, or, for a file name that is not valid
    UTF-8 (Linux allows any bytes; Python hands them over as lone surrogates), as the raw
    bytes in a BLOB, so that such a file is catalogued and opened like any other."""
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        return os.fsencode(path)


def normalize_path(path: str | Path) -> str:
    """The absolute path under which a file is catalogued."""
    return str(Path(path).expanduser().resolve())
