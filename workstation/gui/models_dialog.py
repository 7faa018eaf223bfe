"""The *Help ▸ Models and licences* dialog: every model of the manifest (``models/manifest.json``)
with its origin (pretrained weights of another project, or trained here by a recipe), its
licence, whether its weights file is present, and which analyzer methods run it; below the
table, the full licence text of the selected model."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QDialogButtonBox, QHeaderView, QLabel,
                               QPlainTextEdit, QSplitter, QTableWidget, QTableWidgetItem,
                               QVBoxLayout)

from workstation.core.errors import ModelError
from workstation.inference import manifest as mf

COLUMNS = ("Model", "Version", "Origin", "Licence", "Weights", "sha256", "Used by")
COL_NAME, COL_VERSION, COL_ORIGIN, COL_LICENCE, COL_WEIGHTS, COL_SHA, COL_USED_BY = range(len(COLUMNS))


def origin_of(entry: dict[str, Any]) -> str:
    """``"pretrained: <source>"`` for weights of another project, else ``"trained here: <recipe>"``."""
    if entry.get("source"):
        return f"pretrained: {entry['source']}"
    return f"trained here: {entry.get('recipe', '?')}"


def models_used_by() -> dict[str, list[str]]:
    """Model name -> the analyzer methods that run it (``"<analyzer id>=<method>"``), from the
    analyzers of the registry that declare a ``methods`` tuple. Methods whose analyzer cannot be
    built with ``method=<m>`` alone are skipped."""
    from workstation.analysis.base import registry
    used: dict[str, list[str]] = {}
    for aid, cls in sorted(registry().items()):
        for m in getattr(cls, "methods", None) or ():
            try:
                names = cls(method=m).models_used()
            except ValueError:
                continue
            for name in names:
                used.setdefault(str(name), []).append(f"{aid}={m}")
    return used


def licence_text(entry: dict[str, Any]) -> str:
    """The full licence text of an entry (its ``licence_file`` in ``MODELS_DIR``), else its
    ``licence`` string."""
    licence = str(entry.get("licence", "(no licence given)"))
    fname = entry.get("licence_file")
    if fname:
        try:
            return (mf.MODELS_DIR / str(fname)).read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            return f"{licence}\n\n(the licence file {fname} cannot be read: {exc})"
    return licence


class ModelsDialog(QDialog):
    """A table of the manifest's models (name, version, origin, licence, weights present,
    short sha256, the analyzer methods that use it) and a read-only view of the selected
    model's full licence. Whether the weights are present is a file-existence check only (no
    hashing on the GUI thread). *Close* or Escape closes it."""

    def __init__(self, parent=None, *, entries: list[dict[str, Any]] | None = None):
        """entries: the manifest's entries (read from ``models/manifest.json`` when None)."""
        super().__init__(parent)
        self.setWindowTitle("Models and licences")
        self.resize(1100, 600)
        error = ""
        if entries is None:
            try:
                entries = mf.read_manifest()
            except ModelError as exc:
                entries, error = [], str(exc)
        self.entries = list(entries)
        used_by = models_used_by()
        lay = QVBoxLayout(self)
        self.label = QLabel(error or f"{len(self.entries)} model(s) in {mf.MODELS_DIR / mf.MANIFEST_NAME}. "
                            "Select one to read its licence.")
        self.label.setWordWrap(True)
        lay.addWidget(self.label)
        self.table = QTableWidget(len(self.entries), len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        for r, e in enumerate(self.entries):
            name = str(e.get("name", "?"))
            path = mf.weights_path(e) if e.get("file") else None
            present = path is not None and path.is_file()
            sha = str(e.get("sha256", ""))
            cells = (name, str(e.get("version", "")), origin_of(e), str(e.get("licence", "")),
                     "present" if present else "missing", sha[:12],
                     ", ".join(used_by.get(name, [])))
            tips = (name, "", origin_of(e), str(e.get("licence", "")), str(path or ""), sha,
                    "\n".join(used_by.get(name, [])))
            for c, (text, tip) in enumerate(zip(cells, tips)):
                item = QTableWidgetItem(text)
                if tip:
                    item.setToolTip(tip)
                self.table.setItem(r, c, item)
        h = self.table.horizontalHeader()
        h.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.setWordWrap(False)
        self.table.resizeColumnsToContents()
        for c in (COL_ORIGIN, COL_LICENCE):  # full text in the tooltips
            self.table.setColumnWidth(c, min(self.table.columnWidth(c), 220))
        h.setStretchLastSection(True)
        self.licence_view = QPlainTextEdit()
        self.licence_view.setReadOnly(True)
        self.licence_view.setPlaceholderText("Select a model to read its licence.")
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.licence_view)
        split.setSizes([320, 240])
        lay.addWidget(split, 1)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)
        self.table.itemSelectionChanged.connect(self._show_selected)
        if self.entries:
            self.table.selectRow(0)

    def row_of(self, name: str) -> int:
        """The table row of model ``name`` (-1 when absent)."""
        for r, e in enumerate(self.entries):
            if e.get("name") == name:
                return r
        return -1

    def model_names(self) -> list[str]:
        """The models listed, in table order."""
        return [self.table.item(r, COL_NAME).text() for r in range(self.table.rowCount())]

    def _show_selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            self.licence_view.clear()
            return
        self.licence_view.setPlainText(licence_text(self.entries[rows[0].row()]))
        self.licence_view.moveCursor(self.licence_view.textCursor().MoveOperation.Start)
