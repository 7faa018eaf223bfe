"""Where the library lives by default (shared by the CLI and the GUI)."""

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
