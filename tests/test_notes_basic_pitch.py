"""Pretrained basic-pitch as ``pitch.salience`` method ``basic-pitch`` and our note tracking
on its posteriorgrams (``notes_from_posteriorgrams``): manifest, a corrupt file refused by
name, a piano triad, repeated notes, chunk invariance, real piano."""

import shutil

import numpy as np
import pytest

from workstation.analysis.analyzers.notes import notes_from_posteriorgrams
from workstation.analysis.base import get_analyzer
from workstation.analysis.pipeline import analyze_array
from workstation.core import constants as C
from workstation.core.errors import ModelError
from workstation.core.types import Salience
from workstation.inference import manifest, weights

SR = C.SAMPLE_RATE


def _piano(pitches, start_s, dur_s, total_s):
    """Piano-like tones (5 decaying partials) of MIDI ``pitches`` from ``start_s``."""
    x = np.zeros(int(total_s * SR))
    t = np.arange(int(dur_s * SR)) / SR
    for m in pitches:
        f = 440.0 * 2 ** ((m - 69) / 12)
        tone = sum(np.sin(2 * np.pi * f * k * t) / k for k in range(1, 6)) * np.exp(-3 * t)
        a = int(start_s * SR)
        x[a:a + len(t)] += 0.1 * tone
    return x.astype(np.float32)


def _run(x, **kw):
    out = analyze_array(x, [get_analyzer("pitch.salience", method="basic-pitch"),
                            get_analyzer("notes", method="salience")], **kw)
    assert not out.errors, out.errors
    return out.results["pitch.salience"], out.results["notes"]


def test_manifest_entry_and_licence():
    e = manifest.manifest_entry("basic-pitch")
    assert e["format"] == "basic-pitch-onnx" and "Apache-2.0" in e["licence"]
    assert (manifest.MODELS_DIR / e["licence_file"]).is_file()
    assert weights.sha256_file(manifest.MODELS_DIR / e["file"]) == e["sha256"]


def test_corrupt_weights_are_refused_by_name(tmp_path):
    shutil.copy(manifest.MODELS_DIR / "manifest.json", tmp_path / "manifest.json")
    data = bytearray((manifest.MODELS_DIR / "basic_pitch_nmp.onnx").read_bytes())
    data[1000] ^= 0x55
    (tmp_path / "basic_pitch_nmp.onnx").write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"basic_pitch_nmp\.onnx.*sha256 mismatch"):
        weights.load_model("basic-pitch", models_dir=tmp_path)


def test_piano_triad_gives_its_three_notes():
    x = _piano((60, 64, 67), 0.5, 1.5, 2.5)
    sal, notes = _run(x)
    assert sal.method == "basic-pitch" and sal.note_values.shape == (88, len(sal.times_s))
    strong = notes.velocity >= 64
    assert sorted(notes.pitch_midi[strong].tolist()) == [60, 64, 67]
    assert np.all(np.abs(notes.onsets_s[strong] - 0.5) < 0.05)
    assert np.all(np.abs(notes.offsets_s[strong] - 2.0) < 0.3)
    # multi-f0 peaks during the triad include the three pitches, none in the silence after
    mid = np.abs(np.asarray(sal.times_s)[sal.peak_frame] - 1.0) < 0.2
    got = np.round(69 + 12 * np.log2(sal.peak_freq_hz[mid] / 440))
    assert {60, 64, 67} <= set(got.astype(int).tolist())
    assert not np.any(np.asarray(sal.times_s)[sal.peak_frame] > 2.3)


def test_repeated_note_is_split_at_its_onsets():
    x = _piano((62,), 0.3, 0.6, 2.0) + _piano((62,), 0.9, 0.6, 2.0)
    _, notes = _run(x)
    d = notes.pitch_midi == 62
    assert d.sum() == 2, notes.onsets_s[d]
    np.testing.assert_allclose(np.sort(notes.onsets_s[d]), [0.3, 0.9], atol=0.05)


def test_posteriorgram_tracking_known_answer():
    """The tracking alone on hand-made posteriorgrams: a held note with a short dip bridged,
    a repeated note split at its second onset, a weak blip dropped."""
    n = 200
    note = np.zeros((88, n), np.float32)
    onset = np.zeros((88, n), np.float32)
    note[60 - 21, 10:100] = 0.9
    note[60 - 21, 50:55] = 0.1            # a dip shorter than max_gap_frames: bridged
    onset[60 - 21, 10] = 0.9
    note[64 - 21, 20:150] = 0.8
    onset[64 - 21, [20, 90]] = 0.8         # repeated note: two onsets
    note[70 - 21, 120:125] = 0.4           # weak and short: no note
    sal = Salience(times_s=np.arange(n) * C.HOP_LENGTH / SR, freqs_hz=np.asarray(C.cqt_frequencies()),
                   values=np.zeros((C.N_BINS, n), np.float16), method="basic-pitch",
                   note_values=note, onset_values=onset)
    notes = notes_from_posteriorgrams(sal)
    frame = C.HOP_LENGTH / SR
    got = sorted(zip(notes.pitch_midi.tolist(), np.round(notes.onsets_s / frame).astype(int).tolist(),
                     np.round(notes.offsets_s / frame).astype(int).tolist()))
    assert got == [(60, 10, 100), (64, 20, 90), (64, 90, 150)]


def test_chunks_give_the_same_notes():
    x = _piano((55, 59, 62), 0.4, 1.0, 3.5) + _piano((67,), 2.0, 1.0, 3.5)
    _, a = _run(x)
    _, b = _run(x, chunk_s=1.0)
    assert a.pitch_midi.tolist() == b.pitch_midi.tolist()
    np.testing.assert_allclose(a.onsets_s, b.onsets_s, atol=0.025)


def test_real_piano_notes(evaldata):
    """basic-pitch posteriorgrams + our tracking on the real piano takes (benchmark: see the
    README's notes table)."""
    mir_eval = pytest.importorskip("mir_eval")
    from workstation.training import evaldata as ed
    items = list(ed.piano_notes(evaldata))
    if not items:
        pytest.skip(f"no piano recordings under {evaldata}")
    f1 = []
    for it in items:
        _, n = _run(ed.load_audio(it))
        est_iv = np.stack([n.onsets_s, n.offsets_s], 1)
        f1.append(mir_eval.transcription.precision_recall_f1_overlap(
            it.ref["intervals_s"], 440 * 2 ** ((it.ref["pitch_midi"] - 69) / 12), est_iv,
            440 * 2 ** ((n.pitch_midi - 69) / 12), offset_ratio=None)[2])
    assert np.mean(f1) > 0.8, f1
