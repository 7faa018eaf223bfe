"""pitch.salience: harmonic-summation salience and its peaks on synthetic tones with known f0."""

import mir_eval
import numpy as np
import pytest

from synth_tones import SR, render, tone
from workstation.analysis.analyzers.salience import METHODS
from workstation.analysis.base import get_analyzer
from workstation.analysis.pipeline import analyze
from workstation.core import constants as C
from workstation.core import postprocess as pp
from workstation.core.types import Salience, result_from_arrays
from workstation.core.units import hz_to_midi, midi_to_hz


def _salience(x, method):
    sal = analyze(x, get_analyzer("pitch.salience", method=method))
    assert sal.method == method
    return sal


@pytest.fixture(params=METHODS)
def method(request):
    """Every known-answer test runs on both methods: harmonic summation and the learned net."""
    return request.param


@pytest.fixture(scope="module", params=METHODS)
def triad(request):
    x = render([(0.0, 3.0, 60), (0.0, 3.0, 64), (0.0, 3.0, 67)], 3.0)
    return _salience(x, request.param)


def _inner(sal, margin_s=0.3):
    t = sal.times_s
    return np.flatnonzero((t > margin_s) & (t < t[-1] - margin_s))


def test_result_layout(triad):
    n = C.n_frames_for(3 * SR)
    assert isinstance(triad, Salience)
    assert triad.values.shape == (C.N_BINS, n) and triad.values.dtype == np.float16
    assert triad.freqs_hz[0] == pytest.approx(C.FMIN_HZ) and len(triad.times_s) == n
    assert 0.0 <= float(triad.values.min()) and float(triad.values.max()) <= 1.0
    assert len(triad.peak_frame) == len(triad.peak_freq_hz) == len(triad.peak_salience)
    assert np.bincount(triad.peak_frame, minlength=n).max() <= 8
    back = result_from_arrays(triad.to_arrays())
    np.testing.assert_array_equal(back.values, triad.values)


def test_triad_f0s_found(triad):
    peaks = triad.frame_peaks()
    frames = _inner(triad)
    hits = 0
    for i in frames:
        m = hz_to_midi(peaks[i])
        hits += all(np.any(np.abs(m - p) < 0.2) for p in (60, 64, 67))  # within 20 cents
    assert hits / len(frames) >= 0.9


def test_triad_no_strong_octave_errors(triad):
    """No peak near the octaves (or the octave below) of the triad reaches half the weakest true peak."""
    midi = hz_to_midi(triad.peak_freq_hz)
    inner = np.isin(triad.peak_frame, _inner(triad))
    true = inner & np.any(np.abs(midi[:, None] - np.array([60, 64, 67])) < 0.3, axis=1)
    weakest = np.percentile(triad.peak_salience[true], 5)
    wrong = inner & np.any(np.abs(midi[:, None] - np.array([48, 52, 55, 72, 76, 79])) < 0.5, axis=1)
    assert not np.any(triad.peak_salience[wrong] > 0.5 * weakest)


@pytest.mark.parametrize("pitch", [33.0, 57.3, 81.0])
def test_single_tone_one_dominant_peak(pitch, method):
    sal = _salience(tone(pitch, 2.0).astype(np.float32), method)
    frames = _inner(sal)
    peaks = sal.frame_peaks()
    # basic-pitch (pretrained) reads the 4th partial of these additive tones as a note two
    # octaves up at about half the true note's posterior (0.46 vs 0.91 at MIDI 57.3)
    ratio = 0.6 if method == "basic-pitch" else 0.5
    ok = 0
    for i in frames:
        sel = sal.peak_frame == i
        vals, freqs = sal.peak_salience[sel], sal.peak_freq_hz[sel]
        best = np.argmax(vals)
        others = np.delete(vals, best)
        ok += (abs(hz_to_midi(freqs[best]) - pitch) < 0.1) and (len(others) == 0 or others.max() < ratio * vals[best])
    assert ok / len(frames) >= 0.95
    assert len(peaks) == len(sal.times_s)


def test_silence_has_no_peaks(method):
    sal = _salience(np.zeros(2 * SR, dtype=np.float32), method)
    # DSP: exactly 0 (no level above the floor); learned: a probability, near 0 but not exactly;
    # basic-pitch: its contour posterior rests at about 0.11 on silence (no note above 0.3)
    floor = {"learned": 0.01, "basic-pitch": 0.15}.get(method, 1e-12)
    assert len(sal.peak_frame) == 0 and float(sal.values.max()) < floor


def test_chord_sequence_multipitch_accuracy(method):
    rng = np.random.default_rng(3)
    # No note is an integer multiple (octave, twelfth...) of another in the same chord: the
    # subharmonic penalty deliberately suppresses those (a known limit of the DSP salience).
    chords = [(48, 55, 64), (53, 57, 60, 64), (43, 59, 65, 69), (50, 57, 66), (45, 60, 66, 71)]
    notes, ref_t = [], []
    for i, ch in enumerate(chords):
        notes += [(0.1 + 0.8 * i, 0.1 + 0.8 * i + 0.7, p) for p in ch]
    x = render(notes, 4.3)
    x += 0.002 * rng.standard_normal(len(x)).astype(np.float32)
    sal = _salience(x, method)
    t = sal.times_s
    ref = [midi_to_hz(np.array([p for on, off, p in notes if on + 0.05 <= ti < off - 0.05]))
           for ti in t]
    keep = [i for i, ti in enumerate(t) if len(ref[i]) or all(not (on - 0.1 <= ti < off + 0.1) for on, off, _ in notes)]
    scores = mir_eval.multipitch.evaluate(t[keep], [ref[i] for i in keep], t[keep],
                                          [sal.frame_peaks()[i] for i in keep])
    assert scores["Recall"] >= 0.85, scores
    if method == "dsp":
        assert scores["Accuracy"] >= 0.8, scores
        assert scores["Precision"] >= 0.85, scores
    else:
        # The learned net (trained on soundfont instruments) reads the octave and twelfth above
        # the bass of these bright additive tones (partials 0.7**k) as doubled notes (~0.9):
        # precision ~0.65. Spectral-smoothness suppression of such peaks lifts it to ~0.9 here
        # but costs recall on real mixes (demo collection multipitch accuracy 0.623 -> 0.604),
        # so it is not applied. This floor guards against a regression beyond that.
        assert scores["Precision"] >= 0.6 and scores["Accuracy"] >= 0.6, scores


def test_pick_peaks_parabolic():
    v = np.zeros((50, 2), dtype=np.float32)
    v[20:23, 0] = [0.5, 1.0, 0.5]       # symmetric -> 21.0
    v[30:33, 1] = [0.5, 1.0, 0.9]       # skewed up -> between 31 and 32
    v[5, 1] = 0.05                      # below threshold
    p = pp.pick_peaks(v, threshold=0.1)
    assert list(p.frame) == [0, 1]
    assert p.bin[0] == pytest.approx(21.0)
    assert 31.0 < p.bin[1] < 31.5


def test_fundamental_gate_rejects_missing_fundamental():
    """A candidate with partials 2 and 3 but nothing at its own f0 (a sub-octave ghost) is gated
    out; a tone with its fundamental 20 dB under its upper partials passes."""
    h = {hh: i for i, hh in enumerate(C.HARMONICS)}
    amp = np.full((len(C.HARMONICS), C.N_BINS, 4), 1e-6, dtype=np.float32)
    b = 150                                   # a tone at bin b: partials 1..5 of b
    for k in (1.0, 2.0, 3.0, 4.0, 5.0):
        amp[h[k], b] = 0.1 * 0.7 ** (k - 1)
    amp[h[1.0], b - C.BINS_PER_OCTAVE] = 1e-6   # its sub-octave: partial 2 (= b) present, f0 absent
    amp[h[2.0], b - C.BINS_PER_OCTAVE] = 0.1
    amp[h[3.0], b - C.BINS_PER_OCTAVE] = 0.03
    c = 250                                   # a low-ish real note: fundamental 20 dB weak
    amp[h[1.0], c], amp[h[2.0], c], amp[h[3.0], c] = 0.01, 0.1, 0.05
    g = pp.fundamental_gate(amp, below_db=40.0, width_db=10.0)
    assert g.shape == (C.N_BINS, 4)
    assert np.all(g[b] == 1.0) and np.all(g[c] == 1.0)
    assert np.all(g[b - C.BINS_PER_OCTAVE] == 0.0)
