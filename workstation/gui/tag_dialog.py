"""The *Tags ▸ Suggest tags* dialog: tags the user gave a few tracks by hand, proposed for
other tracks by ``workstation.analysis.tagging.propose_tags`` (embedding prototypes), each
with its score; the user ticks the ones to keep and applies them."""

from __future__ import annotations

from typing import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QHeaderView, QLabel, QTableWidget,
                               QTableWidgetItem, QVBoxLayout)

#: Proposals at least this likely are ticked when the dialog opens.
PRECHECK_SCORE = 0.75


class TagSuggestionsDialog(QDialog):
    """A checkable list of (track, tag, score) proposals. ``applied`` carries the ticked
    (track id, tag) pairs when the user presses *Apply*."""

    applied = Signal(list)

    def __init__(self, proposals: Sequence[tuple[int, str, str, float]], parent=None, *,
                 message: str = ""):
        """proposals: (track id, track title, tag, score in [0, 1]), best first."""
        super().__init__(parent)
        self.setWindowTitle("Suggested tags")
        self.resize(560, 420)
        lay = QVBoxLayout(self)
        n_tags = len({p[2] for p in proposals})
        text = message or (f"{len(proposals)} suggestions for {n_tags} tag(s), from the tracks you "
                           "tagged by hand. Tick the ones to keep." if proposals else
                           "No suggestions: tag a few tracks by hand first (Tags ▸ Add tag, Ctrl+T).")
        self.label = QLabel(text)
        self.label.setWordWrap(True)
        lay.addWidget(self.label)
        self.table = QTableWidget(len(proposals), 3)
        self.table.setHorizontalHeaderLabels(["Track", "Tag", "Score"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        h = self.table.horizontalHeader()
        h.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self._pairs: list[tuple[int, str]] = []
        for r, (tid, title, tag, score) in enumerate(proposals):
            item = QTableWidgetItem(title)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if score >= PRECHECK_SCORE else Qt.CheckState.Unchecked)
            item.setToolTip(f"track {tid}")
            self.table.setItem(r, 0, item)
            self.table.setItem(r, 1, QTableWidgetItem(tag))
            s = QTableWidgetItem(f"{score:.2f}")
            s.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(r, 2, s)
            self._pairs.append((int(tid), str(tag)))
        lay.addWidget(self.table)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Apply
                                        | QDialogButtonBox.StandardButton.Close)
        self.buttons.button(QDialogButtonBox.StandardButton.Apply).clicked.connect(self.apply)
        self.buttons.rejected.connect(self.reject)
        self.buttons.button(QDialogButtonBox.StandardButton.Apply).setEnabled(bool(proposals))
        lay.addWidget(self.buttons)

    def set_checked(self, row: int, checked: bool) -> None:
        self.table.item(row, 0).setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)

    def checked_pairs(self) -> list[tuple[int, str]]:
        """The ticked (track id, tag) pairs."""
        return [p for r, p in enumerate(self._pairs)
                if self.table.item(r, 0).checkState() == Qt.CheckState.Checked]

    def apply(self) -> None:
        pairs = self.checked_pairs()
        if pairs:
            self.applied.emit(pairs)
        self.accept()
