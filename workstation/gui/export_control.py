"""Exports from the window: *File ▸ Export…* (folder, formats, scope), the shown track to
one file, and PNG images of the track view (*File ▸ Export view as PNG…*).

Results are written on the library task thread (``export_one``, ``export_tracks``, given
the library and the analyzer specs); PNGs are drawn here: the shown view is grabbed as it
is, another track is loaded on the task thread (``load_for_png``) and drawn in a hidden
track view of the shown view's size. ``ExportController`` asks and reports.
"""

from __future__ import annotations

import weakref
from functools import partial
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QFileDialog

from .export_dialog import ExportDialog
from .track_loader import load_track_data

#: Export formats by file suffix (``export_current``; others: JAMS).
SUFFIX_FORMATS = {".jams": "jams", ".mid": "midi", ".midi": "midi", ".csv": "csv", ".png": "png"}


def export_one(library, specs, track_id: int, path: str, fmt: str) -> list[str]:
    """Write one track's stored results to ``path`` as ``fmt`` (task thread); the paths
    written."""
    from workstation.analysis.results import load_results, provenance, with_edits
    from workstation.export.batch import write_notes_midi, write_results
    t = library.track(track_id)
    p = Path(path)
    results, made = with_edits(library, t, load_results(library, t, specs), provenance(specs))
    if fmt == "midi":   # to the very path asked for (.mid or .midi)
        return [str(write_notes_midi(p, results, made))] if "notes" in results else []
    written = write_results(p.parent, p.stem, results, [fmt], duration_s=t.duration_s,
                            title=t.title, artist=t.artist, audio_path=t.path, provenance=made)
    return [str(x) for x in written]


def export_tracks(library, specs, track_ids: list[int], out_dir: str, formats: list[str],
                  midi_grid: int = 0) -> list[str]:
    """Write the stored results of each track in ``formats`` (task thread; ``midi_grid``: see
    ``write_results``); the paths written."""
    from workstation.analysis.results import load_results, provenance, with_edits
    from workstation.export.batch import export_stems, write_results
    written: list[str] = []
    made = provenance(specs)
    tracks = [t for t in (library.track(tid) for tid in track_ids) if t is not None and t.status == "ok"]
    stems = export_stems([t.path for t in tracks], [f"track{t.id}" for t in tracks])
    for t, stem in zip(tracks, stems):
        results, made_t = with_edits(library, t, load_results(library, t, specs), made)
        written += [str(p) for p in write_results(out_dir, stem, results,
                                                  formats, duration_s=t.duration_s, title=t.title,
                                                  artist=t.artist, audio_path=t.path,
                                                  provenance=made_t, midi_grid=midi_grid)]
    return written


def load_for_png(library, track_id: int, specs):
    """A track's ``TrackViewData`` to draw as PNG (task thread)."""
    return load_track_data(library, track_id, specs)


class ExportController:
    """The exports of ``window`` (a ``MainWindow``). ``last_export``: the paths the last
    results export wrote; ``last_png_export``: the last PNG of a track not shown."""

    def __init__(self, window):
        self._window = weakref.ref(window)  # no Python cycle through the window
        self.last_export: list[str] = []
        self.last_png_export: str | None = None
        self._png_view = None   # the hidden track view drawing tracks that are not shown

    @property
    def window(self):
        return self._window()

    def export_dialog(self) -> None:
        """Ask for a folder, formats and scope, then export (Ctrl+E)."""
        w = self.window
        selected = w.selected_track_ids()
        if w.current_track_id is None and not selected:
            w.status("Select tracks to export")
            return
        folder = w.settings.get("export/folder", "") or str(Path.home())
        fmts = str(w.settings.get("export/formats", "jams,midi,csv")).split(",")
        grid = w.settings.get("export/midi_grid", 0, int)
        dlg = ExportDialog(w, folder=folder, formats=fmts, n_selected=len(selected), midi_grid=grid)
        if dlg.exec() != QDialog.DialogCode.Accepted:
            return
        out, fmts, use_selection = dlg.choice()
        if not out or not fmts:
            w.status("Nothing to export: choose a folder and at least one format")
            return
        w.settings.set("export/folder", out)
        w.settings.set("export/formats", ",".join(fmts))
        w.settings.set("export/midi_grid", dlg.midi_grid())
        ids = selected if use_selection else [w.current_track_id]
        self.export_tracks(ids, out, fmts, midi_grid=dlg.midi_grid())

    def export_tracks(self, track_ids: list[int], out_dir: str | Path, formats, *,
                      midi_grid: int = 0) -> int | None:
        """Write the stored results of ``track_ids`` as ``formats`` ('jams', 'midi', 'csv')
        into ``out_dir`` on the task thread ('png': the current view, written here; MIDI
        notes snapped to 1/``midi_grid`` of a beat when > 0).
        Returns the task ticket (None when only a PNG was asked)."""
        w = self.window
        formats = list(formats)
        out_dir = Path(out_dir)
        if "png" in formats:
            from workstation.export.batch import safe_stem
            formats.remove("png")
            out_dir.mkdir(parents=True, exist_ok=True)
            for tid in track_ids:
                if tid == w.current_track_id and w.view.data is not None:
                    self.export_png(out_dir / f"{safe_stem(w.view.data.track.path)}.png")
                elif tid is not None:  # other tracks: loaded there, drawn here in a hidden view
                    w.tasks.submit("png_track", load_for_png, w.library, int(tid), w.specs,
                                   on_done=partial(self.render_png, out_dir=out_dir))
        if not formats:
            return None
        w.edit_control.flush()  # corrections not saved yet go first (same task thread)
        return w.tasks.submit("export", export_tracks, w.library, w.specs,
                              [int(t) for t in track_ids if t is not None], str(out_dir), formats,
                              int(midi_grid), on_done=self._exported, key="export")

    def export_current(self, path: str | Path) -> int | None:
        """Export the shown track to ``path`` in the format its suffix names (.jams, .mid;
        .csv: one file per layer named after ``path``; .png: the view). The task ticket
        (None for a PNG)."""
        w = self.window
        path = Path(path)
        fmt = SUFFIX_FORMATS.get(path.suffix.lower(), "jams")
        if fmt == "png":
            self.export_png(path)
            return None
        w.edit_control.flush()  # corrections not saved yet go first (same task thread)
        return w.tasks.submit("export", export_one, w.library, w.specs, w.current_track_id,
                              str(path), fmt, on_done=self._exported, key="export")

    def _exported(self, paths: list[str]) -> None:
        self.last_export = list(paths)
        self.window.status(f"Exported {len(paths)} files"
                           + (f" to {Path(paths[0]).parent}" if paths else ""))

    def export_png_dialog(self) -> None:
        """Ask where to save a PNG of the track view (Ctrl+Shift+E)."""
        w = self.window
        if w.view.data is None:
            w.status("Select a track to export its view")
            return
        from workstation.export.batch import safe_stem
        folder = w.settings.get("export/folder", "") or str(Path.home())
        path, _ = QFileDialog.getSaveFileName(w, "Export the view as PNG", str(
            Path(folder) / f"{safe_stem(w.view.data.track.path)}.png"), "PNG (*.png)")
        if path:
            self.export_png(path)

    def render_png(self, data, out_dir: Path) -> None:
        """Draw a track that is not shown (``TrackViewData``) in a hidden track view of the
        shown view's size and image mode (whole track) and save it as PNG in ``out_dir``."""
        from workstation.export.batch import safe_stem

        from .track_view import TrackView
        w = self.window
        if self._png_view is None:
            self._png_view = TrackView()
            self._png_view.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
            self._png_view.use_settings(w.settings)   # the user's colour maps and dB range
        v = self._png_view
        v.resize(w.view.size())
        v.set_image_mode(w.view.image_mode if w.view.image_mode in ("spectrogram", "salience")
                         else "spectrogram")
        v.set_data(data)
        v.set_x_range(0.0, max(data.duration_s, 0.1))
        path = Path(out_dir) / f"{safe_stem(data.track.path, f'track{data.track.id}')}.png"
        ok = v.grab().save(str(path), "PNG")
        if ok:
            self.last_png_export = str(path)
        w.status(f"Saved the view of {data.track.title or Path(data.track.path).name} to {path}"
                 if ok else f"Cannot write {path}")

    def export_png(self, path: str | Path) -> bool:
        """A PNG of the track view as it is shown (a small file, written here)."""
        w = self.window
        ok = w.view.grab().save(str(path), "PNG")
        w.status(f"Saved the view to {path}" if ok else f"Cannot write {path}")
        return bool(ok)

    def close(self) -> None:
        """Let the hidden PNG view go (at shutdown)."""
        if self._png_view is not None:
            self._png_view.deleteLater()
            self._png_view = None
