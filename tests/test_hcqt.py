"""The fast harmonic CQT against the naive nnAudio reference, on the chunk grid, and its speed."""


import numpy as np
import pytest
import torch

from synth_tones import SR, render
from workstation.analysis.pipeline import array_chunks
from workstation.core import constants as C
from workstation.inference.cqt import ConstantQ, harmonic_cqt, hcqt_amplitude_scale
from workstation.inference.frontend import FrontEnd, hcqt_reference


@pytest.fixture(scope="module")
def signal():
    rng = np.random.default_rng(0)
    notes = [(0.2, 3.8, 36), (0.2, 3.8, 55), (0.2, 3.8, 64), (1.0, 3.0, 79), (0.5, 3.5, 91)]
    x = render(notes, 4.0) + 0.003 * rng.standard_normal(4 * SR).astype(np.float32)
    return x


@pytest.fixture(scope="module")
def both(signal):
    return hcqt_reference(signal), FrontEnd("cpu").hcqt(signal)


def test_shape_and_dtype(signal, both):
    ref, fast = both
    n_frames = C.n_frames_for(len(signal))
    assert fast.shape == ref.shape == (len(C.HARMONICS), C.N_BINS, n_frames)
    assert fast.dtype == np.float32


@pytest.mark.parametrize("i", range(len(C.HARMONICS)))
def test_matches_reference(both, i):
    ref, fast = both
    sl = slice(90, -90)  # the reference pads by reflection, the fast one by zeros
    r, f = ref[i][:, sl], fast[i][:, sl]
    rel = np.linalg.norm(f - r) / np.linalg.norm(r)
    assert rel < 0.01, f"relative L2 error {rel:.4f} for harmonic {C.HARMONICS[i]}"
    active = r > 1e-2 * r.max()
    db = np.abs(20 * np.log10(np.maximum(f[active], 1e-12) / r[active]))
    assert np.percentile(db, 99) < 1.0 and db.max() < 3.0, (np.percentile(db, 99), db.max())
    floor = 1e-3 * r.max()
    corr = np.corrcoef(np.log(r + floor).ravel(), np.log(f + floor).ravel())[0, 1]
    assert corr > 0.999


def test_amplitude_scale_reads_partials():
    """A cosine of amplitude A at a bin centre reads A in every harmonic channel."""
    f0 = C.FMIN_HZ * 2 ** (100 / 60)  # bin 100 of the h=1 channel
    t = np.arange(3 * SR) / SR
    x = (0.3 * np.cos(2 * np.pi * f0 * t)).astype(np.float32)
    amp = FrontEnd("cpu").hcqt(x) / hcqt_amplitude_scale()[:, :, None]
    mid = amp.shape[-1] // 2
    # h=1 bin 100, h=2 bin 40, h=0.5 bin 160 all sit on f0
    for ch, b in ((1, 100), (2, 40), (0, 160)):
        assert amp[ch, b, mid] == pytest.approx(0.3, rel=0.02)


def test_chunked_equals_whole():
    """Chunks with 3 s borders give the same valid frames as one pass over the whole signal."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal(int(25 * SR)).astype(np.float32) * 0.1
    fe = FrontEnd("cpu")
    whole = fe.hcqt(x)
    parts = [c.hcqt() for c in array_chunks(x, fe, chunk_s=8.0)]
    chunked = np.concatenate(parts, axis=-1)
    assert chunked.shape == whole.shape
    err = np.abs(chunked - whole).max() / whole.max()
    assert err < 1e-3, err


def test_constant_q_bin_order_and_batch():
    freqs = np.array([440.0, 55.0, 1760.0, 110.0])
    cq = ConstantQ(freqs)
    t = np.arange(2 * SR) / SR
    x = torch.from_numpy(np.stack([np.sin(2 * np.pi * f * t) for f in (55.0, 1760.0)]).astype(np.float32))
    y = cq(x)  # [2, 4, n_frames]
    mid = y.shape[-1] // 2
    assert y.shape[:2] == (2, 4)
    assert int(torch.argmax(y[0, :, mid])) == 1   # 55 Hz tone -> the 55 Hz bin
    assert int(torch.argmax(y[1, :, mid])) == 2   # 1760 Hz tone -> the 1760 Hz bin


def test_a_subset_of_harmonics_equals_the_full_hcqts_channels():
    """``FrontEnd.hcqt(x, harmonics=(h,))`` (the view's HCQT image) computes only that
    channel, equal to it in the full HCQT."""
    from workstation.inference.frontend import FrontEnd
    x = np.random.default_rng(3).standard_normal(C.SAMPLE_RATE * 3).astype(np.float32) * 0.1
    fe = FrontEnd("cpu")
    full = fe.hcqt(x)
    for i, h in enumerate(C.HARMONICS):
        one = fe.hcqt(x, harmonics=(h,))
        assert one.shape == (1,) + full.shape[1:]
        np.testing.assert_allclose(one[0], full[i], rtol=0, atol=1e-5 * float(full[i].max()))
    two = fe.hcqt(x, harmonics=(1.0, 3.0))
    np.testing.assert_allclose(two, full[[1, 3]], rtol=0, atol=1e-5 * float(full.max()))
