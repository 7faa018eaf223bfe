"""The DSP ``embedding`` analyzer and its feature statistics (workstation.core.features)."""

from __future__ import annotations

import logging
import time

import numpy as np
import pytest

from workstation.analysis.analyzers.embedding import DspEmbedding
from workstation.analysis.base import TrackInfo
from workstation.analysis.pipeline import analyze, array_chunks, run_pipeline
from synth_tones import drum_bursts, tone_pattern
from workstation.core import constants as C
from workstation.core import features as F
from workstation.core.types import Embedding

SR = C.SAMPLE_RATE
log = logging.getLogger(__name__)


@pytest.fixture(scope="module")
def frontend():
    from workstation.inference.frontend import FrontEnd
    return FrontEnd("cpu")


def test_dimension_normalisation_and_space(frontend):
    e = analyze(tone_pattern(6.0), DspEmbedding(), frontend=frontend)
    assert isinstance(e, Embedding)
    assert e.vector.shape == (F.DIM,) and e.vector.dtype == np.float32
    assert 64 <= F.DIM <= 128
    assert abs(float(np.linalg.norm(e.vector)) - 1.0) < 1e-5
    assert e.space == "dsp-stats-v1"
    assert np.all(np.isfinite(e.vector))


def test_chunk_invariance(frontend):
    x = tone_pattern(14.0) + drum_bursts(14.0, level=0.1)
    a = analyze(x, DspEmbedding(), frontend=frontend, chunk_s=60.0)  # one chunk
    b = analyze(x, DspEmbedding(), frontend=frontend, chunk_s=3.3)  # five chunks
    assert np.abs(a.vector - b.vector).max() < 1e-4


def test_similar_material_is_closer_than_different(frontend):
    a = analyze(tone_pattern(level=0.3), DspEmbedding(), frontend=frontend).vector
    a2 = analyze(tone_pattern(level=0.2, noise=0.002, seed=3), DspEmbedding(),
                 frontend=frontend).vector
    d = analyze(drum_bursts(), DspEmbedding(), frontend=frontend).vector
    d2 = analyze(drum_bursts(level=0.5, seed=9, bpm=120.0), DspEmbedding(),
                 frontend=frontend).vector
    sim_same, sim_diff = float(a @ a2), float(a @ d)
    assert sim_same > 0.9, sim_same
    assert sim_same > sim_diff + 0.5, (sim_same, sim_diff)
    assert float(d @ d2) > float(d @ a) + 0.5


def _stats(x, frontend):
    st = F.TrackStatistics()
    for c in array_chunks(x, frontend):
        st.update(c.mel(), c.stft_mag())
    return st.raw()


def test_rhythm_band_follows_the_tempo(frontend):
    # click trains: the autocorrelation is high in the tempo band holding the beat period and
    # its multiples (bpm / k), low everywhere else
    edges = F.TEMPO_BANDS_BPM
    for bpm in (75.0, 97.0):
        x = np.zeros(int(SR * 10), dtype=np.float32)
        x[(np.arange(0, 10, 60.0 / bpm) * SR).astype(int)] = 1.0
        bands = _stats(x, frontend)["rhythm"][:8]
        held = {int(np.searchsorted(edges, bpm / k) - 1) for k in (1, 2, 3, 4)
                if edges[0] <= bpm / k < edges[-1]}
        assert int(np.searchsorted(edges, bpm) - 1) in held
        for b in range(8):
            assert (bands[b] > 0.8) if b in held else (bands[b] < 0.3), (bpm, b, bands)


def test_harmony_is_transposition_invariant(frontend):
    # interval content does not change with the key (up to the chroma filterbank's
    # imperfections): a fourth higher is much closer than noise bursts
    h1 = _stats(tone_pattern(8.0, root=57), frontend)["harmony"]
    h2 = _stats(tone_pattern(8.0, root=62), frontend)["harmony"]
    hd = _stats(drum_bursts(8.0), frontend)["harmony"]
    assert np.linalg.norm(h1 - h2) < 0.2 * np.linalg.norm(h1)
    assert np.linalg.norm(h1 - h2) < 0.3 * np.linalg.norm(h1 - hd)


def test_speed_excluding_front_end(frontend):
    seconds = 60.0
    x = tone_pattern(seconds) + drum_bursts(seconds, level=0.1)
    chunks = list(array_chunks(x, frontend))
    for c in chunks:  # the shared front end, computed once, is not the analyzer's cost
        c.mel()
        c.stft_mag()
    info = TrackInfo(path="<speed>", sr=SR, n_samples=len(x), n_frames=C.n_frames_for(len(x)))
    best = np.inf
    for _ in range(3):
        t0 = time.perf_counter()
        out = run_pipeline(lambda: chunks, info, [DspEmbedding()])
        best = min(best, time.perf_counter() - t0)
    assert "embedding" in out.results
    speed = seconds / best
    log.info("embedding: %.0fx realtime excluding the front end", speed)
    # the speed itself is measured by benchmarks/throughput.py (no timing assertion in tests)
