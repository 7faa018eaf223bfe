"""Sonic Visualiser export: layer files (.svl) and the session (.sv) are well-formed SV XML with
the layer types, units and points SV needs, and read back to the layers written.

Checked by hand in Sonic Visualiser 4.5.1 under xvfb: the demo waltz's session opens with
the beats as time instants over the waveform, the notes on a piano scale, f0 as red discrete
curves and the key as a region."""

from __future__ import annotations

import bz2
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from workstation.core.errors import AnnotationError
from workstation.core.types import Beats, Key, Notes, PitchTrack, Tags
from workstation.export.batch import FORMATS, write_results
from workstation.export.sonic_visualiser import read_svl, write_sv

SR = 22050
DUR = 12.0


@pytest.fixture(scope="module")
def results():
    rng = np.random.default_rng(3)
    n = 300
    t = np.arange(n) * 512 / SR
    voiced = rng.random(n) > 0.3
    f0 = PitchTrack(times_s=t, freqs_hz=np.where(voiced, 200 + 50 * rng.random(n), 0.0),
                    voiced=voiced, confidence=rng.random(n))
    k = 20
    on = np.sort(rng.uniform(0, 10, k))
    notes = Notes(onsets_s=on, offsets_s=on + rng.uniform(0.05, 1.0, k),
                  pitch_midi=rng.integers(40, 90, k), velocity=rng.integers(1, 128, k),
                  bend_note=np.array([1]), bend_times_s=np.array([on[1]]), bend_cents=np.array([20.0]))
    key = Key(tonic_pc=9, mode="minor", confidence=0.8,
              local_start_s=np.array([0.0, 5.0]), local_end_s=np.array([5.0, DUR]),
              local_tonic_pc=np.array([9, 0]), local_mode=["minor", "major"],
              local_confidence=np.array([0.9, 0.6]))
    bt = 0.5 + np.arange(18) * 0.6
    beats = Beats(times_s=bt, positions=np.r_[3, np.arange(17) % 3 + 1], tempo_bpm=100.0,
                  meter=3)
    return {"pitch.f0": f0, "notes": notes, "key": key, "beats": beats,
            "tags": Tags(labels=["piano"], scores=np.array([0.9]))}


@pytest.fixture(scope="module")
def audio(tmp_path_factory):
    p = tmp_path_factory.mktemp("audio") / "tone.wav"
    x = 0.1 * np.sin(2 * np.pi * 220 * np.arange(int(DUR * SR)) / SR)
    sf.write(p, x, SR)
    return p


@pytest.fixture(scope="module")
def written(results, audio, tmp_path_factory):
    out = tmp_path_factory.mktemp("sv")
    paths = write_sv(out, "song", results, audio_path=audio, duration_s=DUR,
                     provenance={"beats": {"text": "beats -- learned"}})
    return {p.name: p for p in paths}


def _model_and_layer(path: Path):
    root = ET.parse(path).getroot()
    assert root.tag == "sv"
    (model,) = root.find("data").findall("model")
    ds = root.find("data").find("dataset")
    (layer,) = root.find("display").findall("layer")
    assert [x.attrib for x in root.find("data").findall("layer")] == [layer.attrib]
    assert layer.get("model") == model.get("id") and model.get("dataset") == ds.get("id")
    assert model.get("sampleRate") == str(SR)
    return model, ds, layer


def test_files_written(written):
    assert sorted(written) == ["song.beats.svl", "song.f0.svl", "song.key.svl",
                               "song.notes.svl", "song.sv"]


def test_beats_are_time_instants_with_bar_beat_labels(written, results):
    model, ds, layer = _model_and_layer(written["song.beats.svl"])
    assert layer.get("type") == "timeinstants" and model.get("dimensions") == "1"
    pts = ds.findall("point")
    labels = [p.get("label") for p in pts]
    assert labels[:5] == ["0.3", "1.1", "1.2", "1.3", "2.1"]   # a pickup beat is bar 0
    frames = np.array([int(p.get("frame")) for p in pts])
    assert np.array_equal(frames, np.round(results["beats"].times_s * SR).astype(int))
    back = read_svl(written["song.beats.svl"])["beats"]
    assert np.allclose(back.times_s, results["beats"].times_s, atol=0.5 / SR)
    assert np.array_equal(back.positions, results["beats"].positions)
    assert back.meter == 3 and back.tempo_bpm == pytest.approx(100.0, rel=1e-3)
    assert "<!-- beats - - learned -->" in written["song.beats.svl"].read_text()


def test_f0_is_a_time_value_layer_in_hz_without_unvoiced_frames(written, results):
    model, ds, layer = _model_and_layer(written["song.f0.svl"])
    f0 = results["pitch.f0"]
    assert layer.get("type") == "timevalues" and model.get("units") == "Hz"
    assert layer.get("plotStyle") == "6"           # discrete curves: gaps where unvoiced
    assert model.get("resolution") == "512"
    vals = np.array([float(p.get("value")) for p in ds.findall("point")])
    assert len(vals) == int(f0.voiced.sum()) and vals.min() > 0
    back = read_svl(written["song.f0.svl"])["pitch.f0"]
    assert np.allclose(back.times_s, f0.times_s[f0.voiced], atol=0.5 / SR)
    assert np.array_equal(back.freqs_hz, f0.freqs_hz[f0.voiced])   # repr: exact floats


def test_notes_are_a_note_layer_in_midi_pitch(written, results):
    model, ds, layer = _model_and_layer(written["song.notes.svl"])
    assert layer.get("type") == "notes"
    assert model.get("subtype") == "note" and model.get("units") == "MIDI Pitch"
    from workstation.core.postprocess import sort_notes
    want = sort_notes(results["notes"])
    back = read_svl(written["song.notes.svl"])["notes"]
    assert np.array_equal(back.pitch_midi, want.pitch_midi)
    assert np.array_equal(back.velocity, want.velocity)
    assert np.allclose(back.onsets_s, want.onsets_s, atol=0.5 / SR)
    assert np.allclose(back.offsets_s, want.offsets_s, atol=1.0 / SR)
    assert ds.findall("point")[0].get("label")[-1].isdigit()     # note name, e.g. "A4"


def test_key_is_a_region_layer_labelled_by_key(written, results):
    model, ds, layer = _model_and_layer(written["song.key.svl"])
    assert layer.get("type") == "regions" and model.get("subtype") == "region"
    assert [p.get("label") for p in ds.findall("point")] == ["A minor", "C major"]
    assert [p.get("value") for p in ds.findall("point")] == ["21", "0"]
    back = read_svl(written["song.key.svl"])["key"]
    assert (back.tonic_pc, back.mode) == (9, "minor")
    assert list(back.local_tonic_pc) == [9, 0] and back.local_mode == ["minor", "major"]
    assert np.allclose(back.local_end_s, [5.0, DUR])


def test_key_without_local_segments_spans_the_track(tmp_path):
    (p,) = write_sv(tmp_path, "k", {"key": Key(tonic_pc=2, mode="major", confidence=0.5)},
                    sample_rate=SR, duration_s=DUR)
    back = read_svl(p)["key"]
    assert p.name == "k.key.svl"       # no audio: no session
    assert list(back.local_start_s) == [0.0] and list(back.local_end_s) == [DUR]


def test_session_references_audio_and_every_layer(written, audio, results):
    raw = written["song.sv"].read_bytes()
    assert raw[:3] == b"BZh"
    root = ET.fromstring(bz2.decompress(raw))
    main = [m for m in root.iter("model") if m.get("mainModel") == "true"]
    assert len(main) == 1 and main[0].get("file") == str(audio.resolve())
    assert main[0].get("end") == str(int(DUR * SR))
    views = root.find("display").findall("view")
    types = [[lay.get("type") for lay in v.findall("layer")] for v in views]
    assert types == [["timeruler", "waveform", "timeinstants"], ["timeruler", "notes"],
                     ["timeruler", "timevalues"], ["timeruler", "regions"]]
    back = read_svl(written["song.sv"])
    assert set(back) == {"beats", "notes", "pitch.f0", "key"}
    assert np.array_equal(back["notes"].pitch_midi, read_svl(written["song.notes.svl"])["notes"].pitch_midi)


def test_batch_format_sv(results, audio, tmp_path):
    assert "sv" in FORMATS
    paths = write_results(tmp_path, "x", results, ["sv"], duration_s=DUR, audio_path=str(audio))
    assert sorted(p.name for p in paths) == ["x.beats.svl", "x.f0.svl", "x.key.svl",
                                             "x.notes.svl", "x.sv"]


def test_odd_labels_escaped_and_bad_files_refused(tmp_path):
    b = Beats(times_s=np.array([0.5, 1.0]), positions=np.array([0, 0]), tempo_bpm=120.0)
    (p,) = write_sv(tmp_path, 'a&<"b', {"beats": b}, sample_rate=SR)
    ET.parse(p)
    assert list(read_svl(p)["beats"].positions) == [0, 0]
    bad = tmp_path / "bad.svl"
    bad.write_text("<sv><data>")
    with pytest.raises(AnnotationError):
        read_svl(bad)
    empty = tmp_path / "empty.svl"
    empty.write_text("<sv><data/></sv>")
    with pytest.raises(AnnotationError, match="no beats"):
        read_svl(empty)
