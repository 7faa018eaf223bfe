"""*Help ▸ Keyboard shortcuts* (F1) and *Help ▸ About the Workstation*.

The shortcut list is read from the window's own menus when it opens, so it can never
disagree with what the keys do; the track view's mouse gestures (``panes.MOUSE_GESTURES``,
the ones its panes implement) follow under the menu 'Track view (mouse)'; long texts wrap
(rows as tall as their text), and a shortcut of one widget (Delete in the track view, Delete
in the library table) says where it works. About names the version, the Python, torch and Qt
versions, the library folder and every model with its licence (the full texts are in
*Help ▸ Models and licences*), and in the desktop bundle the folder of the licence texts of
everything it ships.
"""

from __future__ import annotations

import platform

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QDialogButtonBox, QHeaderView, QMenu,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

import workstation

#: The width of the Keys column (the Menu column: a little less), px; longer texts wrap.
KEYS_COLUMN_PX = 220


def shortcut_place(action) -> str:
    """Where a shortcut works when it is not window-wide ('the track view', 'the library
    table'); '' for a window-wide one."""
    if action.shortcutContext() not in (Qt.ShortcutContext.WidgetShortcut,
                                        Qt.ShortcutContext.WidgetWithChildrenShortcut):
        return ""
    from .track_view import TrackView
    for obj in action.associatedObjects():
        if not isinstance(obj, QWidget) or isinstance(obj, QMenu):
            continue
        w = obj
        while w is not None:
            if isinstance(w, TrackView):
                return "the track view"
            w = w.parentWidget()
        return "the library table" if isinstance(obj, QAbstractItemView) else "its panel"
    return ""


def shortcut_rows(menubar, *, places: bool = False) -> list[tuple[str, str, str]]:
    """(menu path, action text, shortcut) of every menu action with a shortcut, in menu
    order; ``places``: the path says where a widget's own shortcut works ('Edit (in the
    track view)'), so that a key used twice (Delete) reads unambiguously."""
    rows: list[tuple[str, str, str]] = []

    def walk(menu, path: str) -> None:
        for a in menu.actions():
            if a.menu() is not None:
                walk(a.menu(), f"{path} ▸ {a.text().replace('&', '')}")
            elif not a.isSeparator() and not a.shortcut().isEmpty():
                place = shortcut_place(a) if places else ""
                rows.append((f"{path} (in {place})" if place else path, a.text().replace("&", ""),
                             a.shortcut().toString()))

    for top in menubar.actions():
        if top.menu() is not None:
            walk(top.menu(), top.text().replace("&", ""))
    return rows


class ShortcutsDialog(QDialog):
    """A table of the window's keyboard shortcuts (menu, action, keys); Escape closes it."""

    def __init__(self, menubar, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.resize(780, 560)
        from .panes import MOUSE_GESTURES
        rows = shortcut_rows(menubar, places=True) + [("Track view (mouse)", what, gesture)
                                                      for gesture, what in MOUSE_GESTURES]
        self.table = t = QTableWidget(len(rows), 3, self)
        t.setHorizontalHeaderLabels(("Menu", "Action", "Keys"))
        t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        t.verticalHeader().setVisible(False)
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                t.setItem(r, c, QTableWidgetItem(text))
        # long texts (the mouse gestures) wrap: every row is as tall as its text
        t.setWordWrap(True)
        t.setTextElideMode(Qt.TextElideMode.ElideNone)
        head = t.horizontalHeader()
        head.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        t.setColumnWidth(0, KEYS_COLUMN_PX - 40)
        t.setColumnWidth(2, KEYS_COLUMN_PX)
        head.sectionResized.connect(lambda *_: t.resizeRowsToContents())
        t.resizeRowsToContents()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.table)
        lay.addWidget(buttons)

    def resizeEvent(self, ev) -> None:
        """Rows follow the stretched Action column's new width (once the layout has run)."""
        super().resizeEvent(ev)
        QTimer.singleShot(0, self.table.resizeRowsToContents)

    def rows(self) -> list[tuple[str, str, str]]:
        return [tuple(self.table.item(r, c).text() for c in range(3)) for r in range(self.table.rowCount())]


def about_text(library_root: str | None = None) -> str:
    """Plain text for the About box: version, runtime versions, library folder, models."""
    from importlib.metadata import PackageNotFoundError, version

    import PySide6

    from workstation.inference import manifest as mf
    try:
        torch_version = version("torch")
    except PackageNotFoundError:
        torch_version = "?"
    lines = [f"The Workstation {workstation.__version__}",
             "Analyse, inspect, correct and export a music collection; offline.",
             "",
             f"Python {platform.python_version()}, torch {torch_version}, Qt (PySide6) {PySide6.__version__}"]
    if library_root:
        lines.append(f"Library: {library_root}")
    lines += ["", "Models (Help ▸ Models and licences has the full texts):"]
    try:
        for e in mf.read_manifest():
            lines.append(f"  {e.get('name')} v{e.get('version', '?')}: {e.get('licence', 'no licence given')}")
    except Exception as exc:   # a damaged manifest must not stop the About box
        lines.append(f"  (the model manifest cannot be read: {exc})")
    if (workstation.LICENCES_DIR / "THIRD_PARTY.txt").is_file():   # the desktop bundle
        lines += ["", "Licences of the bundled software (Python, Qt, torch, ...): "
                  f"{workstation.LICENCES_DIR} (THIRD_PARTY.txt lists them)"]
    return "\n".join(lines)
