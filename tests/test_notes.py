"""notes: note events from the salience on synthetic melodies/chords, and on real piano recordings."""

from pathlib import Path

import mir_eval
import numpy as np
import pytest

from synth_tones import SR, render, tone
from workstation.analysis.base import get_analyzer
from workstation.analysis.pipeline import analyze_array
from workstation.core.types import Notes, result_from_arrays
from workstation.core.units import midi_to_hz


def _notes(x) -> Notes:
    out = analyze_array(np.asarray(x, dtype=np.float32),
                        [get_analyzer("pitch.salience"), get_analyzer("notes")])
    assert not out.errors, out.errors
    return out.results["notes"]


def _onset_prf(ref, est: Notes):
    ri = np.array([[a, b] for a, b, _ in ref])
    rp = midi_to_hz(np.array([p for *_, p in ref]))
    ei = np.stack([est.onsets_s, est.offsets_s], axis=1)
    return mir_eval.transcription.precision_recall_f1_overlap(
        ri, rp, ei, midi_to_hz(est.pitch_midi), offset_ratio=None)[:3]


def test_melody_onsets_and_pitches():
    ref, t = [], 0.3
    for p in [60, 62, 64, 65, 67, 69, 71, 72, 48, 55, 76, 79, 52]:
        ref.append((t, t + 0.35, p))
        t += 0.45
    est = _notes(render(ref, t + 0.4))
    p, r, f = _onset_prf(ref, est)
    assert f >= 0.9, (p, r, f)
    assert sorted(est.pitch_midi.tolist()) == sorted(p for *_, p in ref)
    assert np.all((est.velocity >= 1) & (est.velocity <= 127))
    assert np.all((est.confidence >= 0) & (est.confidence <= 1))
    assert np.all(est.offsets_s > est.onsets_s)
    back = result_from_arrays(est.to_arrays())
    np.testing.assert_array_equal(back.pitch_midi, est.pitch_midi)


def test_chord_gives_simultaneous_notes():
    ref = [(0.3, 1.5, 57), (0.3, 1.5, 61), (0.3, 1.5, 64), (0.3, 1.5, 68)]
    est = _notes(render(ref, 2.0))
    assert sorted(est.pitch_midi.tolist()) == [57, 61, 64, 68]
    assert np.all(np.abs(est.onsets_s - 0.3) < 0.05)      # mir_eval's onset tolerance
    assert np.all(np.abs(est.offsets_s - 1.5) < 0.1)


def test_vibrato_is_one_note_with_oscillating_bend():
    x = np.pad(tone(64, 2.0, vibrato_cents=40, vibrato_hz=5.0), (SR // 4, SR // 4))
    est = _notes(x)
    assert est.pitch_midi.tolist() == [64]
    cents = est.bend_cents[est.bend_note == 0]
    inner = cents[3:-3]
    assert np.std(inner) > 8                                    # it moves
    assert np.abs(np.mean(inner)) < 10                          # around the note's pitch
    assert np.sum(np.diff(np.sign(inner)) != 0) >= 10            # ~2 sign changes per cycle
    times = est.bend_times_s[est.bend_note == 0]
    assert np.all(np.diff(times) > 0) and times[0] >= est.onsets_s[0] - 1e-9


def test_steady_note_has_flat_bend():
    est = _notes(np.pad(tone(69.3, 1.0), (SR // 4, SR // 4)))
    assert est.pitch_midi.tolist() == [69]
    inner = est.bend_cents[est.bend_note == 0][2:-2]
    assert np.all(np.abs(inner - 30) < 8)


@pytest.mark.parametrize("pitch", [60, 69])
def test_repeated_notes_with_50ms_gap(pitch):
    ref = [(0.3, 0.8, pitch), (0.85, 1.35, pitch)]
    est = _notes(render(ref, 1.8))
    assert est.pitch_midi.tolist() == [pitch, pitch]
    assert np.all(np.abs(est.onsets_s - [0.3, 0.85]) < 0.05)


def test_silence_gives_no_notes():
    est = _notes(np.zeros(SR, dtype=np.float32))
    assert len(est) == 0 and len(est.bend_note) == 0


@pytest.mark.evaldata
def test_real_piano_onset_f1(evaldata: Path):
    """Onset F1 (50 ms, pitch) on real piano recordings with captured MIDI (figures for the record)."""
    pretty_midi = pytest.importorskip("pretty_midi")
    from workstation.core.audio import load
    folder = evaldata / "poly_notes"
    files = sorted((folder / "fmp_audiolabs_piano").glob("*.wav")) + [folder / "madmom_stereo_sample" / "stereo_sample.wav"]
    files = [w for w in files if w.with_suffix(".mid").exists()]
    if not files:
        pytest.skip(f"no piano recordings with MIDI under {folder}")
    f1 = []
    for wav in files:
        pm = pretty_midi.PrettyMIDI(str(wav.with_suffix(".mid")))
        ref = [(n.start, n.end, n.pitch) for i in pm.instruments for n in i.notes]
        f1.append(_onset_prf(ref, _notes(load(wav)))[2])
        print(f"{wav.name}: onset F1 {f1[-1]:.2f}")
    print(f"mean onset F1 {np.mean(f1):.3f}")
    assert np.mean(f1) >= 0.5
