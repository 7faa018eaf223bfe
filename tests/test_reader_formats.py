"""The annotation reader recognises formats instead of guessing (issue: a Sonic Visualiser
notes export came back with offsets equal to the pitch numbers, Tony notes as pitches 0-1
lasting 84 s, a GTZAN key file as one beat, a madmom tempo file as one note, Audacity point
labels as zero-length notes; MIR-1K .pv, GTZAN .bpm and SV MIDI-layer labels were refused)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from workstation.core.errors import AnnotationError
from workstation.export import read_annotation_file
from workstation.training import evaldata as ed

EVAL = Path(__file__).resolve().parents[2] / "shared" / "evaldata"
needs_eval = pytest.mark.skipif(not EVAL.is_dir(), reason=f"evaldata not found at {EVAL}")


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_sonic_visualiser_notes_export(tmp_path):
    """SV writes a notes layer as time, pitch, duration, level, label."""
    p = _write(tmp_path, "sv_notes.csv", "0.5,60,0.25,0.8,C4\n1.0,64,0.5,0.6,E4\n2.0,67,1.25,0.7,G4\n")
    n = read_annotation_file(p)["notes"]
    assert n.pitch_midi.tolist() == [60, 64, 67]
    np.testing.assert_allclose(n.onsets_s, [0.5, 1.0, 2.0])
    np.testing.assert_allclose(n.offsets_s, [0.75, 1.5, 3.25])


def test_sonic_visualiser_midi_layer_labels(tmp_path):
    p = _write(tmp_path, "midi_layer.csv", "0.5,67,0.3,59,G4 - vel 59\n0.9,69,0.2,70,A4 - vel 70\n")
    n = read_annotation_file(p)["notes"]
    assert n.pitch_midi.tolist() == [67, 69]
    np.testing.assert_allclose(n.offsets_s, [0.8, 1.1])


def test_tony_notes_in_hz(tmp_path):
    """Tony / SV notes with the frequency in Hz: onset, Hz, duration."""
    p = _write(tmp_path, "tony.csv", "0.5,220.0,0.4\n1.2,246.94,0.3\n2.0,261.63,0.8\n")
    n = read_annotation_file(p)["notes"]
    assert n.pitch_midi.tolist() == [57, 59, 60]
    np.testing.assert_allclose(n.offsets_s, [0.9, 1.5, 2.8])


def test_two_plausible_readings_are_refused(tmp_path):
    p = _write(tmp_path, "amb.txt", "20.0 25.0 30.0\n40.0 45.0 50.0\n")
    with pytest.raises(AnnotationError, match="could be notes as onset, offset, pitch or as onset, pitch, duration") as e:
        read_annotation_file(p)
    # the refusal carries both readings; the user's choice reads the file that way
    assert set(e.value.readings) == {"notes: onset, offset, pitch", "notes: onset, pitch, duration"}
    a = read_annotation_file(p, reading="notes: onset, offset, pitch")["notes"]
    assert a.pitch_midi.tolist() == [30, 50] and a.offsets_s.tolist() == [25.0, 45.0]
    b = read_annotation_file(p, reading="notes: onset, pitch, duration")["notes"]
    assert b.pitch_midi.tolist() == [25, 45] and b.offsets_s.tolist() == [50.0, 90.0]
    # a reading the file does not offer is refused with the reason
    with pytest.raises(AnnotationError, match="no longer reads as beats"):
        read_annotation_file(p, reading="beats")
    # an unambiguous file ignores a stale choice
    sv = _write(tmp_path, "sv.csv", "0.5,60,0.25,0.8,C4\n")
    assert read_annotation_file(sv, reading="notes: onset, offset, pitch")["notes"].pitch_midi.tolist() == [60]


def test_audacity_point_labels_with_note_names_are_refused(tmp_path):
    p = _write(tmp_path, "points.txt", "1.0\t1.0\tC4\n2.0\t2.0\tE4\n")
    with pytest.raises(AnnotationError, match="points in time"):
        read_annotation_file(p)


def test_a_single_number_is_not_a_beat(tmp_path):
    p = _write(tmp_path, "one.txt", "22\n")
    with pytest.raises(AnnotationError, match=r"\.bpm.*\.lerch\.txt") as e:
        read_annotation_file(p)
    assert set(e.value.readings) == {"tempo in BPM", "GTZAN key index"}
    assert read_annotation_file(p, reading="tempo in BPM")["beats"].tempo_bpm == 22.0
    k = read_annotation_file(p, reading="GTZAN key index")["key"]
    assert (k.tonic_pc, k.mode) == (7, "minor")     # 22 = 12 + 10: G minor (A=0 .. G#=11)
    # 140 can only be a tempo; 0.5 neither
    with pytest.raises(AnnotationError) as e:
        read_annotation_file(_write(tmp_path, "two.txt", "140\n"))
    assert set(e.value.readings) == {"tempo in BPM"}
    with pytest.raises(AnnotationError) as e:
        read_annotation_file(_write(tmp_path, "three.txt", "0.5\n"))
    assert not e.value.readings


def test_madmom_tempo_file(tmp_path):
    b = read_annotation_file(_write(tmp_path, "x.tempo", "120.0 60.0 0.7\n"))["beats"]
    assert b.tempo_bpm == 120.0 and b.tempo_alternatives_bpm.tolist() == [60.0]
    assert b.tempo_confidence == 0.7 and len(b.times_s) == 0


def test_mir1k_voicing_file_says_where_the_pitch_is(tmp_path):
    with pytest.raises(AnnotationError, match=r"\.pv"):
        read_annotation_file(_write(tmp_path, "a.vocal", "0\n1\n1\n"))


@needs_eval
def test_gtzan_key_and_tempo_files_read_as_the_dataset_means():
    items = [i for i in ed.gtzan(EVAL) if "key" in i.ref or "tempo_bpm" in i.ref]
    assert items
    for it in items:
        genre, num = it.name.split(".")
        if "key" in it.ref:
            k = read_annotation_file(EVAL / "gtzan" / "key" / f"{genre}.{num}.lerch.txt")["key"]
            assert (k.tonic_pc, k.mode) == it.ref["key"], it.name
        if "tempo_bpm" in it.ref:
            b = read_annotation_file(EVAL / "gtzan" / "tempo" / f"gtzan_{genre}_{num}.bpm")["beats"]
            assert abs(b.tempo_bpm - it.ref["tempo_bpm"]) < 1e-9 and len(b.times_s) == 0


@needs_eval
def test_mir1k_pitch_labels():
    items = list(ed.mir1k(EVAL))[:5]
    assert items
    for it in items:
        f0 = read_annotation_file(EVAL / "mono_f0" / "mir1k" / "PitchLabel" / f"{it.name}.pv")["pitch.f0"]
        np.testing.assert_allclose(f0.times_s, it.ref["f0_times_s"])
        np.testing.assert_allclose(f0.freqs_hz, it.ref["f0_hz"], rtol=1e-9)
        assert np.array_equal(f0.voiced, it.ref["f0_hz"] > 0)


@needs_eval
def test_guitarset_contour_segments_are_one_f0():
    """GuitarSet numbers the successive notes of a string's f0 0, 1, 2: all 160 frames are
    the f0 (only contour 0, 85 frames, was kept)."""
    r = read_annotation_file(EVAL / "poly_notes" / "guitarset_excerpt" / "03_BN3-119-G_solo.jams")
    f0 = r["pitch.f0"]
    assert len(f0.times_s) == 160 and f0.voiced.sum() == 160
    assert np.all(np.diff(f0.times_s) > 0)


def test_overlapping_contours_are_multif0_not_one_picked(tmp_path):
    import json
    obs = [{"time": 0.01 * k, "duration": 0.0, "confidence": None,
            "value": {"index": i, "frequency": 220.0 * (i + 1), "voiced": True}}
           for k in range(20) for i in (0, 1)]
    doc = {"annotations": [{"namespace": "pitch_contour", "data": obs, "sandbox": {},
                            "annotation_metadata": {}, "time": 0, "duration": 1.0}],
           "file_metadata": {"duration": 1.0}, "sandbox": {}}
    p = tmp_path / "two.jams"
    p.write_text(json.dumps(doc))
    r = read_annotation_file(p)
    assert "pitch.f0" not in r
    s = r["pitch.salience"]
    assert len(s.times_s) == 20 and len(s.peak_freq_hz) == 40


def test_demo_ground_truth_notes_are_not_doubled():
    """Each demo piece's JAMS has one note list per part plus a "melody" list that repeats
    a part: read, it must have as many notes as the piece's MIDI (it had 190 for 141)."""
    from workstation.export import read_midi
    demo = Path(__file__).resolve().parents[1] / "resources" / "demo"
    pieces = sorted(demo.glob("*.jams"))
    assert len(pieces) >= 8
    for jams_path in pieces:
        notes = read_annotation_file(jams_path)["notes"]
        assert len(notes) == len(read_midi(jams_path.with_suffix(".mid"))), jams_path.name


def test_headed_tables_are_read_by_their_column_names(tmp_path):
    """pandas' beats CSV with its index column, and a semicolon CSV with quoted headers, were
    refused ("first column is not a time")."""
    b = read_annotation_file(_write(tmp_path, "beats.csv", ",time,beat\n0,0.5,1\n1,1.0,2\n2,1.5,3\n3,2.0,4\n"))["beats"]
    np.testing.assert_allclose(b.times_s, [0.5, 1.0, 1.5, 2.0])
    assert b.positions.tolist() == [1, 2, 3, 4]
    n = read_annotation_file(_write(tmp_path, "notes.csv",
                                    '"onset";"offset";"pitch"\n0.5;1.0;60\n1.0;1.75;64\n'))["notes"]
    assert n.pitch_midi.tolist() == [60, 64]
    np.testing.assert_allclose(n.offsets_s, [1.0, 1.75])
    f0 = read_annotation_file(_write(tmp_path, "f0.csv", "Time;Frequency\n0.0;220.0\n0.01;0\n"))["pitch.f0"]
    assert f0.voiced.tolist() == [True, False]
    with pytest.raises(AnnotationError, match="'loudness' are not understood"):
        read_annotation_file(_write(tmp_path, "odd.csv", "time,loudness\n0.5,3\n1.0,4\n"))
