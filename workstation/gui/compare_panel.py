"""The comparison panel: mir_eval figures of the estimates against a loaded reference
annotation, one row per (layer, figure). The figures come from
``workstation.analysis.compare.compare_results`` (computed on a task thread), the same
functions ``benchmarks/accuracy.py`` prints. A layer corrected by hand is compared as
corrected, and its rows say so ('Notes (corrected by hand)')."""

from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractItemView, QHeaderView, QLabel, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

LAYER_LABELS = {"pitch.f0": "Melody f0", "notes": "Notes", "beats": "Beats", "key": "Key"}


def layer_label(layer_id: str, corrected: bool = False) -> str:
    """The Layer column's text: 'Notes', or 'Notes (corrected by hand)'."""
    name = LAYER_LABELS.get(layer_id, layer_id)
    return f"{name} (corrected by hand)" if corrected else name


class ComparePanel(QWidget):
    """``set_figures(figures, source)`` shows {layer id: {figure: value}}; ``figures`` keeps
    what is shown (for tests and copy)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.figures: dict[str, dict[str, float]] = {}
        self.source = ""
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Layer", "Figure", "Value"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        h = self.table.horizontalHeader()
        h.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        h.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        h.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.label)
        lay.addWidget(self.table)
        self.clear()

    def clear(self, message: str = "Load a reference annotation (File ▸ Open annotation…, "
                                    "Ctrl+L) to compare the estimates with it.") -> None:
        self.figures = {}
        self.source = ""
        self.corrected: set[str] = set()
        self.table.setRowCount(0)
        self.label.setText(message)

    def set_figures(self, figures: dict[str, dict[str, float]], source: str = "",
                    layers_without_estimate=(), corrected=()) -> None:
        """``corrected``: the layer ids whose estimate is a correction by hand (their rows
        say so in the Layer column)."""
        self.figures = {k: dict(v) for k, v in figures.items()}
        self.source = source
        self.corrected = set(corrected)
        rows = [(lid, name, val) for lid, figs in figures.items() for name, val in figs.items()]
        self.table.setRowCount(len(rows))
        for i, (lid, name, val) in enumerate(rows):
            text = "–" if val is None or (isinstance(val, float) and math.isnan(val)) else f"{val:.3f}"
            for j, t in enumerate((layer_label(lid, lid in self.corrected), name, text)):
                it = QTableWidgetItem(t)
                if j == 2:
                    it.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(i, j, it)
        msg = f"Estimate vs reference <b>{Path(source).name}</b>" if source else "Estimate vs reference"
        if layers_without_estimate:
            msg += ("<br><span style='color:#d8b35a'>no estimate yet for: "
                    + ", ".join(LAYER_LABELS.get(x, x) for x in layers_without_estimate) + "</span>")
        if not rows and not layers_without_estimate:
            msg += "<br>no layer in common"
        self.label.setText(msg)

    def value(self, layer_id: str, figure: str) -> float:
        return self.figures[layer_id][figure]
