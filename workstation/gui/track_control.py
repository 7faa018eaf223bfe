"""The shown track in the window: selecting a row loads its results and display features
on the track loader thread (``load_track_data``), the answer fills the track view and the
info panel; other images (mel, HCQT, …) are computed there on request
(``display_image``), and the comparison with a reference annotation (mir_eval figures,
``compare``) on the library task thread, again when a correction by hand of the shown
track is saved or dropped (its rows say the layer is corrected).

``TrackController`` asks for these (only the latest of each counts) and shows the answers.
"""

from __future__ import annotations

import logging
import weakref
from pathlib import Path

from .track_loader import display_image, load_track_data

log = logging.getLogger(__name__)


def compare(track_id: int, estimates: dict, references: dict):
    """mir_eval figures of the estimates against the references (task thread);
    (track id, figures, reference analyzer ids without an estimate)."""
    from workstation.analysis.compare import COMPARISONS, compare_results
    missing = [k for k in references if k in COMPARISONS and k not in estimates]
    return track_id, compare_results(estimates, references), missing


def track_image(library, track, mode: str, harmonic: float):
    """(track id, image) of ``track`` in image ``mode`` (loader thread; ``harmonic``: the
    HCQT harmonic, 0 or None: 1)."""
    return track.id, display_image(library, track, mode, harmonic=harmonic or 1.0)


class TrackController:
    """Loading and showing the current track of ``window`` (a ``MainWindow``)."""

    def __init__(self, window):
        self._window = weakref.ref(window)  # no Python cycle through the window
        window.table.selectionModel().currentRowChanged.connect(self._current_row)
        window.view.image_requested.connect(self.request_image)
        window.state.edits_changed.connect(self._edits_changed)

    @property
    def window(self):
        return self._window()

    def _current_row(self, current, _previous) -> None:
        w = self.window
        if not current.isValid():
            return
        tid = w.proxy.track_id(current.row())
        if tid != w.current_track_id:
            self.load_track(tid)

    def load_track(self, track_id: int) -> None:
        """Show a track: results and display features are prepared on the loader thread."""
        w = self.window
        w.edit_control.flush()  # the edits of the track shown so far are saved first
        w.current_track_id = track_id
        w.map.mark(track_id)
        w.loader.drop_pending("track")
        w.loader.submit("track", load_track_data, w.library, track_id, w.specs,
                        on_done=self._loaded, key="track")
        row = w.model.row_for(track_id)
        w.status(f"Loading {row.title if row else track_id}…")

    def _loaded(self, data) -> None:
        w = self.window
        if data.track.id != w.current_track_id:
            return
        w.view.set_data(data)
        w.edit_control.track_shown(data)
        w.info.set_data(data)
        w.reference_control.track_shown(data.track.id)
        self.request_compare()
        if data.track.id != w.similarity_control.similar_for:
            w.request_similar()
        w.playback_control.track_shown(data)
        log.debug("track %s loaded in %s s", data.track.id, data.timings.get("total_s"))
        w.status(f"{data.track.title or Path(data.track.path).name}")

    def request_image(self, mode: str, harmonic: float) -> None:
        """Compute the shown track's image in ``mode`` (the track view asks for it)."""
        w = self.window
        if w.current_track_id is None or w.view.data is None:
            return
        w.loader.drop_pending("image")
        w.loader.submit("image", track_image, w.library, w.view.data.track, mode, harmonic,
                        on_done=self._image_done, on_error=self._image_failed, key="image")

    def _image_done(self, result) -> None:
        w = self.window
        track_id, img = result
        if track_id == w.current_track_id and w.view.data is not None:
            w.view.set_image(img)

    def _image_failed(self, message: str) -> None:
        w = self.window
        w.view.message.setText(f"cannot compute the image: {message}")
        w.status(f"image failed: {message}")

    def request_compare(self) -> None:
        """Compare the shown track's estimates with its reference (or clear the comparison)."""
        w = self.window
        tid = w.current_track_id
        refs, _ = w.references.get(tid, ({}, "")) if tid is not None else ({}, "")
        if not refs or w.view.data is None:
            w.compare.clear()
            return
        corrected = set(w.state.edits(tid))   # layers corrected by hand, saved or not
        w.tasks.drop_pending("compare")
        w.tasks.submit("compare", compare, tid, dict(w.view.data.results), refs,
                       on_done=lambda r: self._compared(r, corrected), key="compare")

    def _edits_changed(self, track_id: int, _revisions) -> None:
        """A correction of the shown track is saved, dropped or begun: compare again."""
        w = self.window
        if track_id == w.current_track_id and w.view.data is not None \
                and w.view.data.track.id == track_id:
            self.request_compare()

    def _compared(self, result, corrected=()) -> None:
        w = self.window
        track_id, figures, missing = result
        if track_id == w.current_track_id:
            _, source = w.references.get(track_id, ({}, ""))
            w.compare.set_figures(figures, source, missing, corrected)
