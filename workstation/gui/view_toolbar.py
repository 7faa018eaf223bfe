"""The track view's toolbar (image mode, HCQT harmonic, layer toggles, reference toggle,
colour map and dB floor of the image, a one-line message) and the message page shown in
place of the panes.

The toolbar only holds widgets; ``TrackView`` connects them to its setters (each setter
updates the widget back, with signals blocked where a loop could form).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel,
                               QWidget)

from workstation.analysis.display import SPEC_DB_RANGE
from workstation.core import constants as C

from . import panes as P
from .main_image import COLOUR_MAPS


def message_page() -> QLabel:
    """A word-wrapped, centred, selectable label that stands in place of the panes."""
    page = QLabel("")
    page.setWordWrap(True)
    page.setAlignment(Qt.AlignmentFlag.AlignCenter)
    page.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    page.setStyleSheet(f"color: {P.TEXT}; background: {P.BACKGROUND}; padding: 24px;"
                       " font-size: 11pt;")
    return page


class _Message(QLabel):
    def setText(self, text: str) -> None:  # noqa: N802 (Qt name)
        super().setText(text)
        self.setToolTip(text)


class ViewToolbar(QWidget):
    """Widgets: ``mode_box`` (labels ``mode_labels``), ``harmonic_box`` (one per
    ``C.HARMONICS``), ``layer_boxes`` (layer name -> check box), ``ref_box``, ``cmap_box``
    (item data: pyqtgraph colour-map names of ``COLOUR_MAPS``), ``floor_box`` (dB re the
    track's peak, in [-SPEC_DB_RANGE, -1]) and ``message`` (its text is also its tool tip,
    for when the toolbar clips it)."""

    def __init__(self, mode_labels, layers: dict[str, tuple[str, str]], parent=None):
        """``layers``: layer name -> (check box label, colour)."""
        super().__init__(parent)
        bar = QHBoxLayout(self)
        bar.setContentsMargins(4, 2, 4, 2)
        self.setMinimumWidth(200)  # the toolbar may be clipped rather than widen the window
        self.mode_box = QComboBox()
        self.mode_box.addItems(list(mode_labels))
        self.harmonic_box = QComboBox()
        self.harmonic_box.addItems([f"h={h:g}" for h in C.HARMONICS])
        self.harmonic_box.setCurrentIndex(list(C.HARMONICS).index(1.0))
        self.harmonic_box.setToolTip("HCQT harmonic shown, placed at its fundamental")
        self.harmonic_box.setVisible(False)
        bar.addWidget(QLabel("Image:"))
        bar.addWidget(self.mode_box)
        bar.addWidget(self.harmonic_box)
        self.layer_boxes: dict[str, QCheckBox] = {}
        for name, (label, colour) in layers.items():
            cb = QCheckBox(label)
            cb.setChecked(True)
            cb.setStyleSheet(f"QCheckBox {{ color: {colour}; }}")
            bar.addWidget(cb)
            self.layer_boxes[name] = cb
        self.ref_box = QCheckBox("Reference")
        self.ref_box.setChecked(True)
        self.ref_box.setEnabled(False)
        self.ref_box.setToolTip("Layers of the loaded annotation file (green)")
        self.ref_box.setStyleSheet(f"QCheckBox {{ color: {P.REF_COLOUR}; }}")
        bar.addWidget(self.ref_box)
        self.cmap_box = QComboBox()
        for name, label in COLOUR_MAPS.items():
            self.cmap_box.addItem(label, name)
        self.cmap_box.setToolTip("Colour map of the image (remembered for spectrograms and\n"
                                 "for the salience separately)")
        self.floor_box = QDoubleSpinBox()
        self.floor_box.setRange(-SPEC_DB_RANGE, -1.0)
        self.floor_box.setDecimals(0)
        self.floor_box.setSuffix(" dB")
        self.floor_box.setToolTip("Floor of the displayed dB range (re the track's peak);\n"
                                  "the colour bar's handles move both ends")
        bar.addWidget(self.cmap_box)
        bar.addWidget(self.floor_box)
        bar.addStretch(1)
        self.message = _Message("")
        self.message.setStyleSheet("color: #d8b35a;")
        bar.addWidget(self.message)

    def show_colour(self, cmap: str, floor_db: float, floor_enabled: bool) -> None:
        """Show a colour map and dB floor without emitting the widgets' signals."""
        for box in (self.cmap_box, self.floor_box):
            box.blockSignals(True)
        self.cmap_box.setCurrentIndex(max(0, self.cmap_box.findData(cmap)))
        self.floor_box.setValue(float(floor_db))
        for box in (self.cmap_box, self.floor_box):
            box.blockSignals(False)
        self.floor_box.setEnabled(floor_enabled)
