"""The export dialog: a folder, the formats (JAMS, MIDI, CSV, Sonic Visualiser, PNG of the view) and the
scope (the shown track or the selected tracks). It only asks; ``MainWindow.export_tracks``
writes (on the task thread)."""

from __future__ import annotations

from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFileDialog,
                               QFormLayout, QHBoxLayout, QLineEdit, QPushButton, QRadioButton,
                               QVBoxLayout, QWidget)

#: Format key -> label; 'png' is the current view (the shown track only).
EXPORT_FORMATS = {"jams": "JAMS (all layers)", "midi": "MIDI (notes, tempo map from the beats)",
                  "csv": "CSV (one file per layer, with a header row)",
                  "sv": "Sonic Visualiser (a session with the audio and every layer, and .svl layer files)",
                  "audacity": "Audacity label tracks (beats, notes, keys)",
                  "png": "PNG of the current view"}
#: The MIDI file's rhythm: label -> grid (subdivisions of a beat the notes snap to; 0 = as played).
MIDI_GRIDS = {"as played": 0, "quarter notes": 1, "eighth notes": 2, "eighth triplets": 3,
              "sixteenth notes": 4, "sixteenth triplets": 6, "32nd notes": 8}


class ExportDialog(QDialog):
    def __init__(self, parent=None, *, folder: str = "", formats=("jams", "midi", "csv"),
                 n_selected: int = 1, midi_grid: int = 0):
        super().__init__(parent)
        self.setWindowTitle("Export")
        self.folder = QLineEdit(folder)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QWidget()
        rl = QHBoxLayout(row)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.folder, 1)
        rl.addWidget(browse)
        self.boxes = {}
        fmt_box = QWidget()
        fl = QVBoxLayout(fmt_box)
        fl.setContentsMargins(0, 0, 0, 0)
        for k, label in EXPORT_FORMATS.items():
            cb = QCheckBox(label)
            cb.setChecked(k in formats)
            fl.addWidget(cb)
            self.boxes[k] = cb
        self.grid = QComboBox()
        for label, n in MIDI_GRIDS.items():
            self.grid.addItem(label, n)
        self.grid.setCurrentIndex(max(0, self.grid.findData(int(midi_grid))))
        self.grid.setToolTip("For notation: snap the MIDI file's notes to this grid of the "
                             "detected beats (as played keeps their times)")
        self.current = QRadioButton("The shown track")
        self.selected = QRadioButton(f"The {n_selected} selected tracks")
        self.current.setChecked(n_selected <= 1)
        self.selected.setChecked(n_selected > 1)
        self.selected.setEnabled(n_selected > 1)
        scope = QWidget()
        sl = QVBoxLayout(scope)
        sl.setContentsMargins(0, 0, 0, 0)
        sl.addWidget(self.current)
        sl.addWidget(self.selected)
        form = QFormLayout()
        form.addRow("Folder:", row)
        form.addRow("Formats:", fmt_box)
        form.addRow("MIDI rhythm:", self.grid)
        form.addRow("Tracks:", scope)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(buttons)

    def _browse(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Export to folder", self.folder.text())
        if d:
            self.folder.setText(d)

    def midi_grid(self) -> int:
        """Subdivisions of a beat the MIDI notes snap to (0: as played)."""
        return int(self.grid.currentData())

    def choice(self) -> tuple[str, list[str], bool]:
        """(folder, formats, selected_tracks)."""
        return (self.folder.text().strip(), [k for k, cb in self.boxes.items() if cb.isChecked()],
                self.selected.isChecked())
