"""The similarity panel and the collection map.

``SimilarityPanel`` lists the tracks most similar to the selected one (or to the loop
region) with their score and why they matched (timbre, harmony/key, rhythm/tempo, tags),
and makes playlists. ``CollectionMap`` draws every analysed track as a point of a 2-D
projection of the embeddings, where similar tracks sit together; a click selects one.

Both only draw: the queries (``workstation.analysis.similarity.SimilaritySearch``) run on a
task thread of the main window, which hands over plain results.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QHBoxLayout, QHeaderView, QLabel,
                               QPushButton, QSpinBox, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

from workstation.analysis.similarity_reasons import reasons, summary

from . import panes as P

COLUMNS = ("Title", "Artist", "Score", "Why")


class SimilarityPanel(QWidget):
    """Signals: ``open_track(int)`` on a double-click; ``query_changed()`` when k changes;
    ``playlist_requested(str mode, int length)``; ``region_query()`` for the loop region."""

    open_track = Signal(int)
    query_changed = Signal()
    playlist_requested = Signal(str, int)
    region_query = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.results: list = []
        self.label = QLabel("Select an analysed track.")
        self.label.setWordWrap(True)
        self.k = QSpinBox()
        self.k.setRange(1, 200)
        self.k.setValue(10)
        self.k.setPrefix("k = ")
        self.k.valueChanged.connect(lambda _v: self.query_changed.emit())
        self.region_button = QPushButton("Like the loop region")
        self.region_button.setToolTip("Tracks similar to the looped region of this track (L sets it)")
        self.region_button.clicked.connect(self.region_query.emit)
        self.mode = QComboBox()
        self.mode.addItems(["nearest first", "smooth walk"])
        self.length = QSpinBox()
        self.length.setRange(2, 500)
        self.length.setValue(20)
        self.length.setPrefix("length ")
        self.playlist_button = QPushButton("Playlist…")
        self.playlist_button.setToolTip("Make a playlist from this track and export it (M3U8 or JSON)")
        self.playlist_button.clicked.connect(
            lambda: self.playlist_requested.emit("walk" if self.mode.currentIndex() else "nearest",
                                                 self.length.value()))
        top = QHBoxLayout()
        top.addWidget(self.k)
        top.addWidget(self.region_button)
        top.addStretch(1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.mode)
        bottom.addWidget(self.length)
        bottom.addWidget(self.playlist_button)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(False)
        h = self.table.horizontalHeader()
        h.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        h.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        h.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        h.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.cellDoubleClicked.connect(self._on_double_click)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(top)
        lay.addWidget(self.label)
        lay.addWidget(self.table, 1)
        lay.addLayout(bottom)

    def clear(self, message: str = "Select an analysed track.") -> None:
        self.results = []
        self.table.setRowCount(0)
        self.label.setText(message)

    def set_results(self, results: list, title: str, elapsed_s: float | None = None) -> None:
        """Show ``SimilarTrack`` results for the query named ``title``."""
        self.results = list(results)
        self.table.setRowCount(len(self.results))
        for i, r in enumerate(self.results):
            why = summary(r.explanation) if r.explanation else ""
            cells = (r.title or r.path, r.artist or "", f"{r.score:.3f}", why)
            for j, text in enumerate(cells):
                it = QTableWidgetItem(text)
                it.setData(Qt.ItemDataRole.UserRole, int(r.track_id))
                if j == 2:
                    it.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if j == 3 and r.explanation:
                    it.setToolTip("\n".join(reasons(r.explanation)))
                self.table.setItem(i, j, it)
        t = f" in {elapsed_s * 1000:.0f} ms" if elapsed_s is not None else ""
        self.label.setText(f"{len(self.results)} tracks like <b>{title}</b>{t} (double-click to open)"
                           if self.results else f"No similar track for {title} yet")

    def track_ids(self) -> list[int]:
        return [int(r.track_id) for r in self.results]

    def _on_double_click(self, row: int, _col: int) -> None:
        if 0 <= row < len(self.results):
            self.open_track.emit(int(self.results[row].track_id))


def _tip_for(texts: dict):
    """The hover text function of the map's points (a closure over ``texts``, not a bound
    method: the scatter item must not hold the widget in a Python reference cycle)."""
    def tip(x=None, y=None, data=None) -> str:
        return texts.get(int(data), f"track {data}") if data is not None else ""
    return tip


class CollectionMap(QWidget):
    """Every analysed track as a point of a 2-D projection of the embeddings (unitless
    coordinates: only distances mean something). Hovering a point shows its track's text
    (title and artist, or title and file name); the selected track's point is ringed and
    labelled. Signal: ``track_clicked(int)``."""

    track_clicked = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.track_ids = np.zeros(0, dtype=np.int64)
        self.xy = np.zeros((0, 2), dtype=np.float32)
        self.texts: dict[int, str] = {}
        self.plot = pg.PlotWidget(background=P.BACKGROUND)
        self.plot.hideAxis("left")
        self.plot.hideAxis("bottom")
        self.plot.setAspectLocked(True)
        self.plot.getViewBox().setDefaultPadding(0.12)  # room for the rings and the label
        self.scatter = pg.ScatterPlotItem(size=9, pen=pg.mkPen("#15171c"), brush=pg.mkBrush(P.ACCENT),
                                          hoverable=True, hoverSize=12,
                                          hoverBrush=pg.mkBrush("#ffffff"),
                                          tip=_tip_for(self.texts))
        self.scatter.sigClicked.connect(self._on_clicked)
        self.plot.addItem(self.scatter)
        self.current = pg.ScatterPlotItem(size=16, pen=pg.mkPen("#ffffff", width=2),
                                          brush=pg.mkBrush(0, 0, 0, 0))
        self.plot.addItem(self.current)
        self.current_label = pg.TextItem("", color="#ffffff", anchor=(0.0, 1.2))
        self.current_label.setVisible(False)
        self.plot.addItem(self.current_label)
        self.label = QLabel("The collection map appears once tracks have embeddings.")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.label)
        lay.addWidget(self.plot, 1)

    def text_for(self, track_id: int) -> str:
        """What hovering the track's point shows (title and artist, or title and file name)."""
        return self.texts.get(int(track_id), f"track {int(track_id)}")

    def set_points(self, track_ids, xy, texts: dict | None = None) -> None:
        """Draw ``track_ids`` at ``xy`` [shape=(n, 2)]; ``texts``: hover text by track id."""
        self.track_ids = np.asarray(track_ids, dtype=np.int64)
        self.xy = np.asarray(xy, dtype=np.float32).reshape(-1, 2)
        self.texts.clear()            # the same dict: the scatter's tip reads it
        self.texts.update({int(k): str(v) for k, v in (texts or {}).items()})
        self.scatter.setData(x=self.xy[:, 0], y=self.xy[:, 1], data=self.track_ids.tolist())
        self.label.setText(f"{len(self.track_ids)} tracks: nearby points sound alike "
                           "(hover for names, click one to open it)")

    def mark(self, track_id: int | None) -> None:
        """Ring and label the point of ``track_id`` (None, or a track not on the map: none)."""
        idx = np.flatnonzero(self.track_ids == track_id) if track_id is not None else []
        if len(idx):
            x, y = float(self.xy[idx[0], 0]), float(self.xy[idx[0], 1])
            self.current.setData(x=[x], y=[y])
            self.current_label.setText(self.text_for(int(track_id)))
            right = x > (float(self.xy[:, 0].min()) + float(self.xy[:, 0].max())) / 2
            self.current_label.setAnchor((1.0, 1.2) if right else (0.0, 1.2))  # text inwards
            self.current_label.setPos(x, y)
            self.current_label.setVisible(True)
        else:
            self.current.setData(x=[], y=[])
            self.current_label.setText("")
            self.current_label.setVisible(False)

    def click_track(self, track_id: int) -> None:
        """What a click on the track's point does (for keyboard users and tests)."""
        self.track_clicked.emit(int(track_id))

    def _on_clicked(self, _item, points, *_):
        if len(points):
            self.track_clicked.emit(int(points[0].data()))
