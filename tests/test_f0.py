"""pitch.f0 (pYIN): known answers on synthetic signals, streaming/chunk invariance, and
accuracy on real singing (MIR-1K, vocadito) when ../shared/evaldata is present."""

from pathlib import Path

import numpy as np
import pytest

from workstation.analysis.base import get_analyzer
from workstation.analysis.pipeline import analyze
from workstation.core import constants as C
from workstation.core.pitch import PitchHMM, PyinParams, cmndf, pitch_grid, pyin, pyin_candidates
from workstation.core.types import PitchTrack

SR = C.SAMPLE_RATE
HOP = C.HOP_LENGTH


def _times(n):
    return np.arange(n) / SR


def _harmonic(phase, n_harm=6, rolloff=1.0, amps=None):
    """Sum of harmonics of an instantaneous phase [rad] with 1/k^rolloff amplitudes."""
    amps = amps if amps is not None else [1.0 / k ** rolloff for k in range(1, n_harm + 1)]
    return sum(a * np.sin(k * phase) for k, a in enumerate(amps, start=1) if a)


def _cents(f, ref):
    return 1200.0 * np.log2(np.asarray(f, float) / np.asarray(ref, float))


def _run(y, **kw):
    return analyze(np.asarray(y, np.float32), get_analyzer("pitch.f0", method="pyin"), **kw)


def _frame_times(track):
    return np.asarray(track.times_s)


# ----------------------------------------------------------------------------- core DSP

def test_cmndf_minimum_at_the_period():
    f0 = 441.0  # period of exactly 50 samples
    y = np.sin(2 * np.pi * f0 * _times(SR // 2))
    d = cmndf(y, sr=SR, hop_length=HOP)
    mid = d[:, d.shape[1] // 2]
    assert d.shape[0] == int(np.ceil(SR / PyinParams.fmin)) + 1
    assert mid[0] == 1.0
    assert np.argmin(mid[20:80]) + 20 == 50
    assert mid[50] < 1e-3


def test_candidates_are_probabilities_and_best_is_the_period():
    y = 0.5 * np.sin(2 * np.pi * 300.0 * _times(SR))
    freqs, probs = pyin_candidates(y, sr=SR, hop_length=HOP)
    n = 1 + len(y) // HOP
    assert freqs.shape == probs.shape == (PyinParams.max_candidates, n)
    assert np.all(probs >= 0) and np.all(probs.sum(axis=0) <= 1 + 1e-5)
    inner = slice(10, n - 10)
    assert np.all(np.diff(probs[:, inner], axis=0) <= 1e-7)  # sorted by probability
    assert np.all(np.abs(_cents(freqs[0, inner], 300.0)) < 2.0)
    assert np.all(probs[:, inner].sum(axis=0) > 0.9)


def test_streaming_hmm_equals_one_shot():
    rng = np.random.default_rng(3)
    t = _times(6 * SR)
    y = _harmonic(2 * np.pi * 180 * t + 40 * np.sin(2 * np.pi * 0.5 * t))
    y[2 * SR: 3 * SR] = 0.05 * rng.standard_normal(SR)
    p = PyinParams(segment_s=1.0, overlap_s=1.0)
    f_all, v_all, c_all = pyin(y, params=p)
    freqs, probs = pyin_candidates(y, params=p)
    hmm = PitchHMM(params=p)
    for a in range(0, freqs.shape[1], 97):  # odd-sized pushes
        hmm.push(freqs[:, a:a + 97], probs[:, a:a + 97])
    f, v, c = hmm.finish()
    assert len(f) == len(f_all)
    assert np.mean(v == v_all) > 0.995
    both = v & v_all
    assert np.mean(np.abs(_cents(f[both], f_all[both])) < 1.0) > 0.995


def test_pitch_grid_is_20_cents_from_fmin():
    g = pitch_grid(fmin=55.0, fmax=1760.0, bins_per_semitone=5)
    assert g[0] == 55.0 and len(g) == 5 * 12 * 5 + 1
    np.testing.assert_allclose(_cents(g[1:], g[:-1]), 20.0)


# ----------------------------------------------------------------------------- analyzer

def test_result_type_and_grid():
    y = 0.3 * np.sin(2 * np.pi * 220 * _times(int(1.3 * SR)))
    tr = _run(y)
    n = C.n_frames_for(len(y))
    assert isinstance(tr, PitchTrack)
    assert tr.freqs_hz.shape == tr.voiced.shape == tr.confidence.shape == tr.times_s.shape == (n,)
    assert tr.voiced.dtype == bool
    assert np.all((tr.confidence >= 0) & (tr.confidence <= 1))
    np.testing.assert_allclose(tr.times_s, np.arange(n) * HOP / SR)
    back = PitchTrack.from_arrays(tr.to_arrays())
    np.testing.assert_array_equal(back.freqs_hz, tr.freqs_hz)


@pytest.mark.parametrize("f0", [65.0, 110.0, 246.9, 440.0, 987.8, 1568.0])
def test_sine_pitch_within_10_cents(f0):
    y = 0.5 * np.sin(2 * np.pi * f0 * _times(2 * SR))
    tr = _run(y)
    inner = slice(8, -8)  # frames whose analysis window lies inside the tone
    v = tr.voiced[inner]
    assert v.mean() >= 0.95
    err = np.abs(_cents(tr.freqs_hz[inner][v], f0))
    assert err.max() < 10.0, err.max()
    assert tr.confidence[inner][v].mean() > 0.9


def test_vibrato_tracked_framewise():
    # 220 Hz, +-50 cents at 5.5 Hz, harmonic voice-like spectrum
    t = _times(3 * SR)
    depth, rate = 50.0, 5.5
    inst = 220.0 * 2 ** (depth / 1200 * np.sin(2 * np.pi * rate * t))
    phase = 2 * np.pi * np.cumsum(inst) / SR
    tr = _run(0.3 * _harmonic(phase, n_harm=8))
    ft = _frame_times(tr)
    truth = 220.0 * 2 ** (depth / 1200 * np.sin(2 * np.pi * rate * ft))
    inner = (ft > 0.1) & (ft < 2.9)
    assert tr.voiced[inner].mean() >= 0.98
    err = np.abs(_cents(tr.freqs_hz[inner], truth[inner]))
    assert np.median(err) < 10.0 and np.percentile(err, 95) < 10.0, (np.median(err), np.percentile(err, 95))


@pytest.mark.parametrize("kind", ["missing", "weak"])
def test_harmonic_tone_right_octave(kind):
    f0 = 150.0
    t = _times(2 * SR)
    if kind == "missing":   # harmonics 2..6 only
        amps = [0.0, 1 / 2, 1 / 3, 1 / 4, 1 / 5, 1 / 6]
    else:                   # fundamental 26 dB below the strong 2nd..5th harmonics
        amps = [0.05, 1.0, 1.0, 1.0, 1.0]
    tr = _run(0.2 * _harmonic(2 * np.pi * f0 * t, amps=amps))
    inner = slice(8, -8)
    v = tr.voiced[inner]
    assert v.mean() >= 0.95
    err = _cents(tr.freqs_hz[inner][v], f0)
    assert np.mean(np.abs(err) < 50) >= 0.98
    assert abs(np.median(err)) < 10


def test_silence_and_noise_are_unvoiced():
    rng = np.random.default_rng(0)
    tone = 0.3 * _harmonic(2 * np.pi * 220 * _times(SR))
    y = np.concatenate([tone, np.zeros(SR), 0.1 * rng.standard_normal(SR),
                        0.003 * rng.standard_normal(SR), tone])
    tr = _run(y)
    ft = _frame_times(tr)

    def seg(a, b):
        return (ft > a + 0.1) & (ft < b - 0.1)
    assert tr.voiced[seg(0, 1)].mean() > 0.95 and tr.voiced[seg(4, 5)].mean() > 0.95
    for a in (1, 2, 3):
        assert tr.voiced[seg(a, a + 1)].mean() < 0.05, a
        assert tr.confidence[seg(a, a + 1)].mean() < 0.1, a
    assert tr.confidence[seg(0, 1)].mean() > 0.8
    assert np.all(tr.freqs_hz[seg(1, 2)] == 0)  # digital silence: no estimate at all


def test_sung_glide_with_portamento():
    # a 0.4 s note at 196 Hz, a 0.3 s portamento up a fifth, a note at 293.7 Hz with vibrato
    t = _times(int(1.5 * SR))
    lo, hi = 196.0, 293.66
    g = np.clip((t - 0.4) / 0.3, 0, 1)
    g = g * g * (3 - 2 * g)  # smoothstep in log frequency
    inst = lo * (hi / lo) ** g * 2 ** (30 / 1200 * np.sin(2 * np.pi * 5 * t) * (t > 0.8))
    y = 0.3 * _harmonic(2 * np.pi * np.cumsum(inst) / SR, n_harm=10, rolloff=1.5)
    y *= np.minimum(1, np.minimum(t / 0.03, (t[-1] - t) / 0.03))
    tr = _run(y)
    ft = _frame_times(tr)
    truth = np.interp(ft, t, inst)
    inner = (ft > 0.06) & (ft < 1.44)
    assert tr.voiced[inner].mean() >= 0.98
    err = np.abs(_cents(tr.freqs_hz[inner], truth[inner]))
    assert np.median(err) < 5.0 and np.percentile(err, 95) < 15.0, (np.median(err), np.percentile(err, 95))


def test_chunk_invariance():
    rng = np.random.default_rng(7)
    t = _times(13 * SR)
    inst = 150 * 2 ** (np.sin(2 * np.pi * 0.13 * t) + 0.02 * np.sin(2 * np.pi * 5 * t))
    y = 0.3 * _harmonic(2 * np.pi * np.cumsum(inst) / SR)
    y[int(4.2 * SR): int(5.1 * SR)] = 0.0
    y[int(8.0 * SR): int(8.7 * SR)] = 0.05 * rng.standard_normal(int(0.7 * SR))
    a = _run(y, chunk_s=5.0)
    b = _run(y, chunk_s=60.0)
    assert np.mean(a.voiced == b.voiced) > 0.995
    both = a.voiced & b.voiced
    assert np.mean(np.abs(_cents(a.freqs_hz[both], b.freqs_hz[both])) < 1.0) > 0.995
    np.testing.assert_allclose(a.confidence, b.confidence, atol=1e-4)


# ----------------------------------------------------------------------------- real recordings

def _mir1k(root: Path):
    import soundfile as sf
    import soxr
    d = root / "mono_f0" / "mir1k"
    for pv in sorted((d / "PitchLabel").glob("*.pv")):
        x, fs = sf.read(d / "Wavfile" / f"{pv.stem}.wav", dtype="float32")
        midi = np.loadtxt(pv)
        # 20 ms hop, first label at 20 ms (checked: that offset maximises agreement)
        ref_t = 0.02 * (1 + np.arange(len(midi)))
        ref_f = np.where(midi > 0, 440.0 * 2 ** ((midi - 69) / 12), 0.0)
        yield soxr.resample(x[:, 1], fs, SR), ref_t, ref_f   # right channel = voice


def _vocadito(root: Path):
    import soundfile as sf
    import soxr
    for csv in sorted((root / "mono_f0" / "vocadito").glob("*_f0.csv")):
        ref = np.loadtxt(csv, delimiter=",")
        x, fs = sf.read(csv.with_name(csv.name.replace("_f0.csv", ".wav")), dtype="float32")
        x = x.mean(axis=1) if x.ndim > 1 else x
        yield soxr.resample(x, fs, SR), ref[:, 0], ref[:, 1]


@pytest.mark.evaldata
@pytest.mark.parametrize("dataset,floor", [("mir1k", 0.90), ("vocadito", 0.90)])
def test_accuracy_on_real_singing(evaldata, dataset, floor):
    mir_eval = pytest.importorskip("mir_eval")
    gen = {"mir1k": _mir1k, "vocadito": _vocadito}[dataset](evaldata)
    scores = []
    for y, ref_t, ref_f in gen:
        tr = _run(y)
        est_f = np.where(tr.voiced, tr.freqs_hz, -tr.freqs_hz)
        s = mir_eval.melody.evaluate(ref_t, ref_f, tr.times_s, est_f)
        scores.append([s["Raw Pitch Accuracy"], s["Raw Chroma Accuracy"], s["Overall Accuracy"],
                       s["Voicing Recall"], s["Voicing False Alarm"]])
    if not scores:
        pytest.skip(f"no {dataset} files under {evaldata}")
    rpa, rca, oa, vr, vfa = np.mean(scores, axis=0)
    assert rpa > floor and rca >= rpa and oa > 0.8 and vr > 0.9 and vfa < 0.35, \
        dict(rpa=rpa, rca=rca, oa=oa, vr=vr, vfa=vfa)
