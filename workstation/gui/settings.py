"""Persistent GUI settings (QSettings, organisation 'workstation') and the library root.

``Settings()`` uses the platform store; ``Settings(path)`` an INI file (tests point it at a
temporary file so they never touch the user's settings).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from workstation.library.paths import default_root as default_library_root

ORGANISATION = "workstation"
APPLICATION = "workstation"
MAX_RECENT = 10


class Settings:
    """Typed accessors over QSettings: recent collections, window geometry, view options."""

    def __init__(self, path: str | Path | None = None):
        if path is None:
            self._q = QSettings(ORGANISATION, APPLICATION)
        else:
            self._q = QSettings(str(path), QSettings.Format.IniFormat)

    @property
    def qsettings(self) -> QSettings:
        return self._q

    def sync(self) -> None:
        self._q.sync()

    # -- recent collections --------------------------------------------------------------
    def recent(self) -> list[str]:
        v = self._q.value("recent", [])
        if isinstance(v, str):
            v = [v]
        return [str(x) for x in (v or [])]

    def add_recent(self, path: str | Path) -> list[str]:
        p = str(Path(path).expanduser().resolve())
        items = [p] + [r for r in self.recent() if r != p]
        items = items[:MAX_RECENT]
        self._q.setValue("recent", items)
        return items

    def clear_recent(self) -> None:
        self._q.setValue("recent", [])

    # -- window --------------------------------------------------------------------------
    def geometry(self) -> QByteArray | None:
        v = self._q.value("window/geometry")
        return v if isinstance(v, QByteArray) and not v.isEmpty() else None

    def set_geometry(self, geometry: QByteArray, state: QByteArray | None = None) -> None:
        self._q.setValue("window/geometry", geometry)
        if state is not None:
            self._q.setValue("window/state", state)

    def window_state(self) -> QByteArray | None:
        v = self._q.value("window/state")
        return v if isinstance(v, QByteArray) and not v.isEmpty() else None

    # -- options -------------------------------------------------------------------------
    def get(self, key: str, default=None, type_=None):
        v = self._q.value(key, default)
        if type_ is bool and isinstance(v, str):
            return v.lower() in ("1", "true", "yes")
        if type_ is not None and v is not None:
            try:
                return type_(v)
            except (TypeError, ValueError):
                return default
        return v

    def set(self, key: str, value) -> None:
        self._q.setValue(key, value)

    # -- track view image ------------------------------------------------------------------
    def colour_map(self, kind: str) -> str:
        """The colour map (pyqtgraph name) of the track view's ``kind`` of image ('db':
        spectrograms, 'salience'); '' when never chosen."""
        return str(self.get(f"view/colour_map/{kind}", "") or "")

    def set_colour_map(self, kind: str, name: str) -> None:
        self.set(f"view/colour_map/{kind}", str(name))

    def db_levels(self) -> tuple[float, float]:
        """Displayed (floor, top) of the spectrogram images in dB re the track's peak
        (default (-60, 0))."""
        return (self.get("view/db_floor", -60.0, float), self.get("view/db_top", 0.0, float))

    def set_db_levels(self, floor_db: float, top_db: float) -> None:
        self.set("view/db_floor", float(floor_db))
        self.set("view/db_top", float(top_db))

    @property
    def library_root(self) -> Path:
        v = self.get("library/root")
        return Path(v) if v else default_library_root()

    @property
    def auto_analyse(self) -> bool:
        return self.get("analysis/auto", True, bool)

    @property
    def device(self) -> str:
        return str(self.get("analysis/device", "auto"))
