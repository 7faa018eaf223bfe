"""The window's reference layers (a JAMS or MIDI next to the audio, compared with mir_eval),
image modes, exporting a selection in every format, the playback loop, and the similarity
panel, offscreen (pytest-qt) on two demo files analysed by the real worker."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")
pytest.importorskip("pyqtgraph")

from PySide6.QtCore import Qt  # noqa: E402

from gui_window import DEMO, _open_first  # noqa: E402
from workstation.core import constants as C  # noqa: E402
from workstation.library import Library  # noqa: E402


# ------------------------------------------------------------------------------ references

def _reference_of(track) -> Path:
    ref = DEMO / (Path(track.path).stem + ".jams")
    if not ref.is_file():
        pytest.skip("the bundled demo collection is absent (resources/demo)")
    return ref


def test_reference_layers_and_comparison_match_mir_eval(qtbot, window):
    import mir_eval
    from workstation.core.units import key_label, midi_to_hz
    from workstation.export import read_annotation_file, read_midi
    data = _open_first(qtbot, window)
    v, est = window.view, data.results
    ref_path = _reference_of(data.track)
    ref = read_annotation_file(ref_path)
    assert {"notes", "beats", "key", "pitch.f0"} <= set(ref)
    window.open_annotation(ref_path)
    qtbot.waitUntil(lambda: "notes" in window.compare.figures and "key" in window.compare.figures,
                    timeout=30_000)
    # the reference layers drawn are the file's
    np.testing.assert_allclose(np.sort(v.ref_notes_item.onsets_s), np.sort(ref["notes"].onsets_s))
    np.testing.assert_allclose(v.ref_beat_lines.times_s, np.sort(ref["beats"].times_s))
    assert v.ref_key_band.labels and v.ref_box.isEnabled()
    x, y = v.ref_f0_curve.getOriginalDataset()
    assert np.nanmax(np.abs(y - np.round(y))) < 1.0 and np.isfinite(y).sum() > 10
    # the comparison equals mir_eval computed here
    figs = window.compare.figures

    def iv(n):
        return np.stack([n.onsets_s, np.maximum(n.offsets_s, n.onsets_s + 1e-3)], 1), midi_to_hz(n.pitch_midi)
    _, _, f1, _ = mir_eval.transcription.precision_recall_f1_overlap(*iv(ref["notes"]), *iv(est["notes"]),
                                                                   offset_ratio=None)
    assert figs["notes"]["onset F1"] == pytest.approx(f1)
    assert figs["beats"]["F-measure"] == pytest.approx(
        mir_eval.beat.f_measure(np.sort(ref["beats"].times_s), np.sort(est["beats"].times_s)))
    lab = [key_label(k.tonic_pc, k.mode).replace(":", " ") for k in (ref["key"], est["key"])]
    assert figs["key"]["weighted score"] == pytest.approx(mir_eval.key.weighted_score(*lab))
    f0r, f0e = ref["pitch.f0"], est["pitch.f0"]
    m = mir_eval.melody.evaluate(f0r.times_s, np.where(f0r.voiced, f0r.freqs_hz, 0.0), f0e.times_s,
                                 np.where(f0e.voiced, np.abs(f0e.freqs_hz), -np.abs(f0e.freqs_hz)))
    assert figs["pitch.f0"]["RPA"] == pytest.approx(m["Raw Pitch Accuracy"])
    assert window.compare.table.rowCount() == sum(len(f) for f in figs.values())
    # a MIDI reference replaces the notes layer (and, with its tempo map, the beats)
    mid = ref_path.with_suffix(".mid")
    if mid.is_file():
        window.open_annotation(mid)
        midi_notes = read_midi(mid)
        qtbot.waitUntil(lambda: len(v.ref_notes_item.onsets_s) == len(midi_notes)
                        and window.compare.source == str(mid), timeout=30_000)
        _, _, f1m, _ = mir_eval.transcription.precision_recall_f1_overlap(
            *iv(midi_notes), *iv(est["notes"]), offset_ratio=None)
        assert window.compare.figures["notes"]["onset F1"] == pytest.approx(f1m)
    # the reference toggle hides every reference layer, not the estimates
    window.view.set_references_visible(False)
    assert not v.ref_notes_item.isVisible() and v.notes_item.isVisible()
    window.clear_annotation()
    assert not len(v.ref_notes_item.onsets_s) and not window.compare.figures


def test_a_bad_annotation_file_is_reported(qtbot, window, tmp_path):
    _open_first(qtbot, window)
    bad = tmp_path / "broken.jams"
    bad.write_text("{ not json")
    window.open_annotation(bad)
    qtbot.waitUntil(lambda: "broken.jams" in window.status_label.text()
                    and "failed" in window.status_label.text(), timeout=20_000)
    assert not window.view.references


@pytest.mark.parametrize("mode,rows,unit", [("linear", 512, "hz"), ("mel", C.N_MELS, "mel"),
                                            ("hcqt", C.N_BINS, "midi")])
def test_image_modes_place_overlays_on_their_axis(qtbot, window, mode, rows, unit):
    from workstation.core.units import hz_to_mel, midi_to_hz
    data = _open_first(qtbot, window)
    v = window.view
    v.set_image_mode(mode)
    qtbot.waitUntil(lambda: v.image.image is not None and v.image.image.shape[0] == rows, timeout=60_000)
    assert v.image.image.shape[1] == data.display.n_frames and v.y_unit == unit
    notes = data.results["notes"]
    centre = [r.center().y() for r in v.notes_item._rects]
    p = np.sort(notes.pitch_midi)
    expect = {"hz": midi_to_hz(p), "mel": hz_to_mel(midi_to_hz(p)), "midi": p}[unit]
    # the rectangles span y(pitch -+ 0.4): their centres lie within that span
    lo = {"hz": midi_to_hz(p - 0.4), "mel": hz_to_mel(midi_to_hz(p - 0.4)), "midi": p - 0.4}[unit]
    assert np.all(np.sort(centre) >= np.sort(lo) - 1e-6) and np.all(np.sort(centre) <= np.sort(expect) * 1.03 + 0.5)
    text = v.readout_at(1.0, float(expect[0]))
    assert f"{midi_to_hz(p[0]):8.1f} Hz" in text
    if mode == "hcqt":
        v.set_harmonic(2.0)
        qtbot.waitUntil(lambda: (("hcqt", 2.0) in v._images), timeout=60_000)
        assert v._images[("hcqt", 2.0)].harmonic == 2.0
    v.set_image_mode("spectrogram")
    assert v.y_unit == "midi"


def test_export_selection_in_every_format(qtbot, window, tmp_path):
    from workstation.export import read_csv_layer, read_jams, read_midi
    from workstation.analysis.results import load_results
    _open_first(qtbot, window)
    ids = [window.model.row(i).track_id for i in range(window.model.rowCount())]
    out = tmp_path / "export"
    window.export_tracks(ids, out, ["jams", "midi", "csv", "png"])
    qtbot.waitUntil(lambda: bool(window.last_export), timeout=60_000)
    assert len({Path(p).parent for p in window.last_export}) == 1
    for tid in ids:
        t = window.library.track(tid)
        stem = Path(t.path).stem
        res = load_results(window.library, t, window.specs)
        back = read_jams(out / f"{stem}.jams")
        assert back["key"].tonic_pc == res["key"].tonic_pc
        doc = json.loads((out / f"{stem}.jams").read_text())   # each layer says what made it
        assert all(a["annotation_metadata"]["annotation_tools"].startswith("Workstation ")
                   for a in doc["annotations"])
        np.testing.assert_allclose(np.sort(back["beats"].times_s), np.sort(res["beats"].times_s), atol=1e-3)
        mid = read_midi(out / f"{stem}.mid")
        assert len(mid) == len(res["notes"])
        np.testing.assert_allclose(np.sort(mid.onsets_s), np.sort(res["notes"].onsets_s), atol=2e-3)
        csvs = sorted(out.glob(f"{stem}.*.csv"))
        assert csvs
        beats_csv = next(p for p in csvs if "beats" in p.name)
        np.testing.assert_allclose(read_csv_layer(beats_csv).times_s, np.sort(res["beats"].times_s), atol=1e-3)
    from PySide6.QtGui import QImage
    for tid in ids:  # the shown track from the view, the other drawn in a hidden view
        png = out / f"{Path(window.library.track(tid).path).stem}.png"
        qtbot.waitUntil(png.is_file, timeout=60_000)
        img = QImage(str(png))
        assert img.width() > 400 and img.height() > 200
    # the dialog's MIDI rhythm: notes snapped to sixteenths of the beat grid, remembered
    from workstation.gui.export_dialog import ExportDialog
    dlg = ExportDialog(window, folder=str(out), midi_grid=4)
    assert dlg.midi_grid() == 4 and dlg.grid.currentText() == "sixteenth notes"
    dlg.deleteLater()
    import mido
    window.last_export = []
    window.export_tracks(ids[:1], tmp_path / "grid", ["midi"], midi_grid=4)
    qtbot.waitUntil(lambda: bool(window.last_export), timeout=60_000)
    mf = mido.MidiFile(window.last_export[0])
    ticks = [sum(m.time for m in tr[:i + 1]) for tr in mf.tracks for i, m in enumerate(tr)
             if m.type in ("note_on", "note_off")]
    assert ticks and all(t % (mf.ticks_per_beat // 4) == 0 for t in ticks)


def test_loop_the_visible_range_and_hear_the_notes(qtbot, window):
    import soundfile as sf_
    data = _open_first(qtbot, window)
    v, pb = window.view, window.playback
    v.set_x_range(2.0, 6.0)
    window.activateWindow()
    v.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_L)
    assert pb.loop == pytest.approx((2.0, 6.0))
    assert v.loop_region.isVisible()
    np.testing.assert_allclose(v.loop_region.getRegion(), (2.0, 6.0))
    v.loop_region.setRegion((3.0, 5.0))
    v.loop_region.sigRegionChangeFinished.emit(v.loop_region)
    assert pb.loop == pytest.approx((3.0, 5.0))
    window.clear_loop()
    assert pb.loop is None and not v.loop_region.isVisible()
    # the notes synthesised over the audio: a WAV of the track's length becomes the source;
    # without an audio output a dialog says nothing will play (test_gui_library_truth.py)
    # and the mix is checked as rendered on the task thread
    window.set_hear_notes(True)
    if pb.audible:
        qtbot.waitUntil(lambda: pb.source_override is not None, timeout=60_000)
        path = pb.source_override[0]
    else:
        from workstation.gui.playback_control import notes_mix as _notes_mix
        assert not window.act_hear_notes.isChecked() and pb.source_override is None
        window.last_notice.close()
        _, path = _notes_mix(window.library, data.track, data.results["notes"])
    info = sf_.info(path)
    assert abs(info.duration - data.duration_s) < 0.05
    window.set_hear_notes(False)
    assert pb.source_override is None


# ------------------------------------------------------------------------------ similarity

def test_similarity_panel_map_and_playlist(qtbot, window, tmp_path):
    from workstation.analysis.similarity import SimilaritySearch
    from workstation.export.playlist import read_m3u8
    data = _open_first(qtbot, window)
    panel = window.similar_panel
    qtbot.waitUntil(lambda: bool(panel.results), timeout=30_000)
    # the panel lists what the search answers directly, never the track itself
    with Library.open(window.library_root) as lib:
        direct = SimilaritySearch(lib).similar(data.track.id, k=panel.k.value())
    assert panel.track_ids() == [r.track_id for r in direct]
    assert data.track.id not in panel.track_ids()
    assert panel.table.rowCount() == len(direct) and panel.table.item(0, 3).text()
    # the map holds every analysed track; a click on a point opens it
    qtbot.waitUntil(lambda: len(window.map.track_ids) == window.model.rowCount(), timeout=30_000)
    other = panel.track_ids()[0]
    window.map.click_track(other)
    qtbot.waitUntil(lambda: window.view.data is not None and window.view.data.track.id == other,
                    timeout=30_000)
    # double-click in the list opens a track too
    panel._on_double_click(0, 0)
    qtbot.waitUntil(lambda: window.current_track_id == panel.results[0].track_id, timeout=10_000)
    # a playlist from the shown track, exported as M3U8 with the seed first
    out = tmp_path / "list.m3u8"
    window.make_playlist("nearest", 2, out)
    qtbot.waitUntil(out.is_file, timeout=30_000)
    entries = read_m3u8(out)
    assert len(entries) == 2
    assert Path(entries[0].path).name == Path(window.library.track(window.current_track_id).path).name
