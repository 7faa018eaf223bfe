"""The DBN beat decoder (``workstation.core.beat_decode``): known answers on synthetic
activations (a click track at a known tempo, a tempo change, a 3/4 bar), the DSP method
with the DBN on a real click track, and the memory bound on a 60-minute activation."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from workstation.analysis.analyzers.beats import BeatsAnalyzer, decode_activation
from workstation.analysis.pipeline import analyze
from workstation.core import beat_decode as bd
from workstation.core import constants as C

FR = C.FRAME_RATE


def activation(beat_times_s: np.ndarray, n_frames: int, *, peak: float = 0.9, floor: float = 0.02,
               offbeat: float = 0.0, seed: int = 0) -> np.ndarray:
    """A beat activation [shape=(n_frames,)]: a 3-frame bump at each beat, optional weaker
    bumps half-way between beats, noise floor."""
    rng = np.random.default_rng(seed)
    a = floor * rng.random(n_frames)
    for t, h in [(t, peak) for t in beat_times_s] + \
                [(0.5 * (u + v), offbeat) for u, v in zip(beat_times_s[:-1], beat_times_s[1:])]:
        f = int(round(t * FR))
        for df, w in ((-1, 0.4), (0, 1.0), (1, 0.4)):
            if 0 <= f + df < n_frames:
                a[f + df] = max(a[f + df], h * w)
    return a


def nearest(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a[:, None] - b[None, :]).min(axis=1)


@pytest.mark.parametrize("bpm", [72.0, 120.0, 163.0])
def test_click_activation_known_tempo(bpm):
    truth = np.arange(0.4, 29.6, 60.0 / bpm)
    act = activation(truth, int(30 * FR))
    r = bd.track_beats_dbn(act, threshold=0.05)
    t = r.frames / FR
    assert np.all(nearest(truth, t) < 0.07)
    assert np.all(nearest(t, truth) < 0.07)
    assert abs(60.0 * FR / np.median(np.diff(r.frames)) / bpm - 1) < 0.04
    assert np.all(r.positions == 1) and r.beats_per_bar == 1


def test_tempo_prior_resolves_offbeats():
    # off-beat bumps at 0.3: without a prior the observation model prefers double tempo (each
    # extra "beat" on an off-beat bump gains); a log-normal prior per beat around 80 BPM
    # (sigma 0.25 octave: the penalty per extra beat outweighs the bump) brings back the written tempo
    truth = np.arange(0.4, 29.6, 60.0 / 72.0)
    act = activation(truth, int(30 * FR), offbeat=0.3)
    fast = bd.track_beats_dbn(act, threshold=0.05)
    assert abs(60.0 * FR / np.median(np.diff(fast.frames)) / 144.0 - 1) < 0.04
    r = bd.track_beats_dbn(act, threshold=0.05, tempo_log_prior=lambda b: -0.5 * (np.log2(b / 80.0) / 0.25) ** 2)
    t = r.frames / FR
    assert np.all(nearest(truth, t) < 0.07) and np.all(nearest(t, truth) < 0.07)


def test_tempo_change_is_followed():
    a_times = np.arange(0.5, 20.0, 60.0 / 100.0)
    b_times = a_times[-1] + np.cumsum(np.full(int(20 / (60.0 / 130.0)), 60.0 / 130.0))
    truth = np.concatenate([a_times, b_times[b_times < 39.5]])
    act = activation(truth, int(40 * FR), seed=1)
    r = bd.track_beats_dbn(act, threshold=0.05)
    t = r.frames / FR
    assert np.all(nearest(truth, t) < 0.07)
    assert np.all(nearest(t, truth) < 0.07)
    ibi = np.diff(t)
    assert abs(60.0 / np.median(ibi[t[1:] < 18]) / 100.0 - 1) < 0.04
    assert abs(60.0 / np.median(ibi[t[:-1] > 22]) / 130.0 - 1) < 0.04


@pytest.mark.parametrize("meter", [3, 4])
def test_bar_model_meter_and_downbeats(meter):
    truth = np.arange(0.3, 29.5, 0.5)
    n = int(30 * FR)
    beat = activation(truth, n)
    down = activation(truth[1::meter], n, peak=0.8, seed=2)
    r = bd.track_bars_dbn(beat, down, beats_per_bar=(3, 4))
    assert r.beats_per_bar == meter
    t = r.frames / FR
    assert np.all(nearest(truth, t) < 0.07)
    np.testing.assert_allclose(t[r.positions == 1], truth[1::meter][:np.sum(r.positions == 1)], atol=0.03)
    # the analyzer's decode_activation with the DBN: same beats, meter from the downbeat head
    b = decode_activation(beat, down, decoder="dbn")
    assert b.meter == meter and abs(b.tempo_bpm - 120.0) < 120 * 0.04
    np.testing.assert_allclose(b.downbeats_s[:3], truth[1::meter][:3], atol=0.03)
    assert any(abs(x / 60.0 - 1) < 0.02 for x in b.tempo_alternatives_bpm)


def test_state_space_and_transitions():
    P = bd.beat_periods(24.0, 94.0)
    np.testing.assert_array_equal(P, np.arange(24, 95))
    assert len(bd.beat_periods(24.0, 94.0, 30)) == 30
    sp = bd.BarStateSpace(P, 3)
    assert sp.n_states == 3 * P.sum()
    np.testing.assert_array_equal(sp.last[:, 0] - sp.first[:, 0], [23, 23, 23])
    assert np.all(sp.state_pos[sp.first] == 0) and np.all(sp.state_pos[sp.last] == P - 1)
    L = bd.tempo_transition_log(P, 100.0)
    np.testing.assert_allclose(np.exp(L).sum(axis=1), 1.0)
    assert np.all(np.argmax(L, axis=1) == np.arange(len(P)))       # constant tempo most likely


def test_silence_and_empty():
    assert bd.track_beats_dbn(np.zeros(0)).frames.size == 0
    assert bd.track_beats_dbn(np.zeros(500), threshold=0.05).frames.size == 0


def _traced_peak(minutes: float):
    n = int(minutes * 60 * FR)
    truth = np.arange(0.5, minutes * 60 - 1.0, 0.5)
    act = activation(truth, n).astype(np.float32)
    tracemalloc.start()
    try:
        r = bd.track_beats_dbn(act, threshold=0.05)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert abs(len(r.frames) - len(truth)) <= 2
    return n, peak


def test_memory_per_frame_is_bounded():
    # what the decoder allocates grows by at most ~100 bytes per frame (int8 back-pointers,
    # 71 tempi; float64 per-frame gains), plus a constant for the state vectors: 60 min at
    # 86 fps stays under 35 MB; a (n_frames, n_states) array would be 4189 * 4 bytes per frame
    n, peak = _traced_peak(1.5)
    assert peak < n * 100 + 2e6, peak / n
    assert peak > n * 71                     # the back-pointers are really there (sanity)


@pytest.mark.slow
def test_sixty_minutes_memory_is_bounded():
    n, peak = _traced_peak(60.0)
    assert peak < 48e6, peak / 1e6


def test_dsp_method_with_dbn_on_click_track():
    from test_beats import f_measure, pattern

    x, ref, _ = pattern(120.0, 20.0)
    res = analyze(x, BeatsAnalyzer(method="dsp", decoder="dbn"))
    assert res.tempo_bpm == pytest.approx(120.0, rel=0.04)
    assert f_measure(ref, res.times_s, window=0.07) > 0.95


def test_decoder_is_validated():
    with pytest.raises(ValueError, match="decoder"):
        BeatsAnalyzer(decoder="magic")
    assert BeatsAnalyzer.decoders == ("dbn", "dp")


@pytest.mark.parametrize("beats_per_bar, prior", [(1, False), (1, True), (3, False), (4, True)])
def test_block_recursion_gives_the_frame_loops_path(beats_per_bar, prior):
    """The default engine (semi-Markov recursion, a block of min-period frames per step) decodes
    exactly the path and log probability of the frame-by-frame Viterbi."""
    rng = np.random.default_rng(beats_per_bar + 10 * prior)
    n = 2500
    a = rng.random(n) ** 3
    period = rng.uniform(28, 55)
    down = a * rng.random(n) * 0.3
    for i, k in enumerate(np.arange(rng.uniform(0, period), n, period)):
        a[int(k)] = rng.uniform(0.5, 1.0)
        if i % beats_per_bar == 0:
            down[int(k)] = 0.9 * a[int(k)]
    tempo_prior = (lambda bpm: -0.5 * (np.log2(bpm / 110.0) / 0.5) ** 2) if prior else None
    kw = dict(beats_per_bar=beats_per_bar, tempo_log_prior=tempo_prior)
    d = down if beats_per_bar > 1 else None
    ref = bd.viterbi(a, d, engine="frames", **kw)
    fast = bd.viterbi(a, d, **kw)
    assert len(ref.frames) > 10
    np.testing.assert_array_equal(fast.frames, ref.frames)
    np.testing.assert_array_equal(fast.positions, ref.positions)
    np.testing.assert_array_equal(fast.periods, ref.periods)
    assert fast.log_prob == pytest.approx(ref.log_prob, abs=1e-6)
    with pytest.raises(ValueError, match="engine"):
        bd.viterbi(a, engine="gpu")
