"""notes: note events from the salience on synthetic melodies/chords, and on real piano recordings."""

from pathlib import Path

import mir_eval
import numpy as np
import pytest

from synth_tones import SR, render, tone
from workstation.analysis.analyzers.salience import METHODS
from workstation.analysis.base import get_analyzer
from workstation.analysis.pipeline import analyze_array
from workstation.analysis.analyzers.notes import notes_from_salience
from workstation.core import constants as C
from workstation.core.types import Notes, Salience, result_from_arrays
from workstation.core.units import midi_to_hz


@pytest.fixture(params=[m for m in METHODS if m != "basic-pitch"])
def method(request):
    """These known-answer tests run on our saliences: harmonic summation and the learned net.
    Pretrained basic-pitch reads the 4th partial of these additive test tones as a second note
    two octaves up (posterior ~0.45 beside ~0.9); its known answers (a piano triad, a repeated
    note) are in test_notes_basic_pitch.py and its real-recording figures in the benchmark."""
    return request.param


def _notes(x, method=None) -> Notes:
    sal = get_analyzer("pitch.salience") if method is None else get_analyzer("pitch.salience", method=method)
    out = analyze_array(np.asarray(x, dtype=np.float32), [sal, get_analyzer("notes", method="salience")])
    assert not out.errors, out.errors
    assert out.results["pitch.salience"].method == (method or sal.params["method"])
    return out.results["notes"]


def _onset_prf(ref, est: Notes):
    ri = np.array([[a, b] for a, b, _ in ref])
    rp = midi_to_hz(np.array([p for *_, p in ref]))
    ei = np.stack([est.onsets_s, est.offsets_s], axis=1)
    return mir_eval.transcription.precision_recall_f1_overlap(
        ri, rp, ei, midi_to_hz(est.pitch_midi), offset_ratio=None)[:3]


def test_melody_onsets_and_pitches(method):
    ref, t = [], 0.3
    for p in [60, 62, 64, 65, 67, 69, 71, 72, 48, 55, 76, 79, 52]:
        ref.append((t, t + 0.35, p))
        t += 0.45
    est = _notes(render(ref, t + 0.4), method)
    p, r, f = _onset_prf(ref, est)
    assert f >= 0.9, (p, r, f)
    assert sorted(est.pitch_midi.tolist()) == sorted(p for *_, p in ref)
    assert np.all((est.velocity >= 1) & (est.velocity <= 127))
    assert np.all((est.confidence >= 0) & (est.confidence <= 1))
    assert np.all(est.offsets_s > est.onsets_s)
    back = result_from_arrays(est.to_arrays())
    np.testing.assert_array_equal(back.pitch_midi, est.pitch_midi)


def test_chord_gives_simultaneous_notes(method):
    ref = [(0.3, 1.5, 57), (0.3, 1.5, 61), (0.3, 1.5, 64), (0.3, 1.5, 68)]
    est = _notes(render(ref, 2.0), method)
    assert sorted(est.pitch_midi.tolist()) == [57, 61, 64, 68]
    assert np.all(np.abs(est.onsets_s - 0.3) < 0.05)      # mir_eval's onset tolerance
    assert np.all(np.abs(est.offsets_s - 1.5) < 0.1)


def test_vibrato_is_one_note_with_oscillating_bend(method):
    x = np.pad(tone(64, 2.0, vibrato_cents=40, vibrato_hz=5.0), (SR // 4, SR // 4))
    est = _notes(x, method)
    assert est.pitch_midi.tolist() == [64]
    cents = est.bend_cents[est.bend_note == 0]
    inner = cents[3:-3]
    assert np.std(inner) > 8                                    # it moves
    assert np.abs(np.mean(inner)) < 10                          # around the note's pitch
    assert np.sum(np.diff(np.sign(inner)) != 0) >= 10            # ~2 sign changes per cycle
    times = est.bend_times_s[est.bend_note == 0]
    assert np.all(np.diff(times) > 0) and times[0] >= est.onsets_s[0] - 1e-9


def test_steady_note_has_flat_bend(method):
    est = _notes(np.pad(tone(69.3, 1.0), (SR // 4, SR // 4)), method)
    assert est.pitch_midi.tolist() == [69]
    inner = est.bend_cents[est.bend_note == 0][2:-2]
    assert np.all(np.abs(inner - 30) < 8)


@pytest.mark.parametrize("pitch", [60, 69])
def test_repeated_notes_with_50ms_gap(pitch, method):
    ref = [(0.3, 0.8, pitch), (0.85, 1.35, pitch)]
    est = _notes(render(ref, 1.8), method)
    assert est.pitch_midi.tolist() == [pitch, pitch]
    assert np.all(np.abs(est.onsets_s - [0.3, 0.85]) < 0.05)


def test_silence_gives_no_notes(method):
    est = _notes(np.zeros(SR, dtype=np.float32), method)
    assert len(est) == 0 and len(est.bend_note) == 0


def _prob_map(row_values, pitch=64, floor=1e-4):
    """A learned-style Salience: probability ``floor`` everywhere, ``row_values`` at ``pitch``."""
    n = len(row_values)
    v = np.full((C.N_BINS, n), floor, dtype=np.float16)
    v[int(round((pitch - C.FMIN_MIDI) * C.BINS_PER_SEMITONE))] = row_values
    return Salience(times_s=np.arange(n) * C.HOP_LENGTH / C.SAMPLE_RATE,
                    freqs_hz=np.asarray(C.cqt_frequencies()), values=v, method="learned")


def test_learned_probability_uses_absolute_thresholds():
    """A faint probability map is silence (no per-track normalisation); a wobble between 0.86 and
    0.6 (vibrato) stays one note; a dip from 0.98 to 0.55 (a re-attack) splits it."""
    kw = get_analyzer("notes").method_params("learned")
    assert kw["relative"] is False and kw["split_logit"] is True
    assert len(notes_from_salience(_prob_map(np.full(200, 0.01)), **kw)) == 0
    t = np.arange(200)
    ramp = np.clip(np.minimum(t - 20, 180 - t) / 5, 0, 1)
    wobble = ramp * (0.73 + 0.13 * np.cos(2 * np.pi * t / 17))
    assert len(notes_from_salience(_prob_map(wobble), **kw)) == 1
    dip = ramp * np.where(np.abs(t - 100) <= 2, 0.55, 0.98)
    est = notes_from_salience(_prob_map(dip), **kw)
    assert est.pitch_midi.tolist() == [64, 64]
    # the same dip on the DSP scale is 0.43 of the level: also two notes there
    assert len(notes_from_salience(_prob_map(dip), **get_analyzer("notes").method_params("dsp"))) == 2


@pytest.mark.evaldata
def test_real_piano_onset_f1(evaldata: Path, method):
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
        f1.append(_onset_prf(ref, _notes(load(wav), method))[2])
        print(f"{wav.name}: onset F1 {f1[-1]:.2f}")
    print(f"{method}: mean onset F1 {np.mean(f1):.3f}")
    assert np.mean(f1) >= 0.5
