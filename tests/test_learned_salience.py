"""The learned multi-f0 salience model (DeepSalience-style): shapes, chunking, determinism,
sha256-checked loading, a known answer on a synthetic piano-like triad, and the
``pitch.salience`` / ``notes`` analyzers with ``method="learned"``."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from workstation.core import constants as C
from workstation.core.errors import ModelError
from workstation.inference import weights
from workstation.inference.models.salience import HEADS, Audio2Salience, SalienceNet, gaussian_blur_bins

SR = C.SAMPLE_RATE
TRIAD_MIDI = (60, 64, 67)


def _have_trained() -> bool:
    try:
        weights.verify(weights.manifest_entry("salience"))
    except ModelError:
        return False
    return True


needs_weights = pytest.mark.skipif(
    not _have_trained(),
    reason="models/salience.pt is absent: train it with `python -m workstation.training salience`")


def piano_like(midis, *, dur_s: float = 2.0, sr: int = SR, seed: int = 0) -> np.ndarray:
    """Struck harmonic tones: 12 partials, 1/k amplitudes, slight inharmonicity, decays faster
    for higher partials, a 5 ms attack; summed and normalised to a peak of 0.5."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(dur_s * sr)) / sr
    y = np.zeros_like(t)
    for m in midis:
        f0 = 440.0 * 2 ** ((m - 69) / 12)
        for k in range(1, 13):
            fk = k * f0 * np.sqrt(1 + 4e-4 * k * k)
            if fk > sr / 2 - 500:
                break
            y += (1.0 / k) * np.exp(-t * (1.5 + 0.6 * k)) * np.sin(2 * np.pi * fk * t + rng.uniform(0, 2 * np.pi))
    y *= np.minimum(1.0, t / 0.005)
    y += 1e-4 * rng.standard_normal(len(y))
    return (0.5 * y / np.abs(y).max()).astype(np.float32)


def _bin(midi: float) -> int:
    return int(round((midi - C.FMIN_MIDI) * C.BINS_PER_SEMITONE))


# ------------------------------------------------------------------------------ the network

def test_forward_shapes_and_range():
    torch.manual_seed(0)
    net = SalienceNet().eval()
    x = torch.rand(2, len(C.HARMONICS), C.N_BINS, 100) * 1e-2
    with torch.inference_mode():
        y = net(x)
    assert y.shape == (2, len(HEADS), C.N_BINS, 100)
    out = Audio2Salience(net)(x[0].numpy())
    assert out.shape == (len(HEADS), C.N_BINS, 100) and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    assert Audio2Salience(net)(np.zeros((6, C.N_BINS, 0), np.float32)).shape == (3, C.N_BINS, 0)


def test_blocked_inference_matches_one_pass():
    """Blocks with discarded borders (context >= the receptive field) equal one forward pass."""
    torch.manual_seed(1)
    net = SalienceNet().eval()
    rng = np.random.default_rng(0)
    x = (rng.random((6, C.N_BINS, 700)) ** 4 * 1e-2).astype(np.float32)
    whole = Audio2Salience(net, block_frames=4096)(x)
    blocked = Audio2Salience(net, block_frames=128, border_frames=64, batch_size=3)(x)
    np.testing.assert_allclose(blocked, whole, atol=1e-5)


def test_level_invariance():
    """The input is referenced to the local loudest partial: a 20 dB gain changes nothing."""
    torch.manual_seed(2)
    net = SalienceNet().eval()
    rng = np.random.default_rng(1)
    x = (rng.random((6, C.N_BINS, 200)) ** 4 * 1e-2 + 1e-6).astype(np.float32)
    a2s = Audio2Salience(net)
    np.testing.assert_allclose(a2s(10 * x), a2s(x), atol=1e-4)


def test_deterministic():
    torch.manual_seed(3)
    a = SalienceNet()
    torch.manual_seed(3)
    b = SalienceNet()
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)
    x = np.random.default_rng(2).random((6, C.N_BINS, 64)).astype(np.float32) * 1e-3
    run = Audio2Salience(a.eval())
    assert np.array_equal(run(x), run(x))


def test_gaussian_blur_targets():
    roll = np.zeros((C.N_BINS, 3), bool)
    roll[100, 1] = True
    t = gaussian_blur_bins(roll, sigma_bins=1.0)
    assert t[100, 1] == 1.0 and t[100, 0] == 0.0
    assert t[99, 1] == pytest.approx(np.exp(-0.5)) and t[101, 1] == pytest.approx(np.exp(-0.5))
    assert t[102, 1] == pytest.approx(np.exp(-2.0)) and t[103, 1] == 0.0


# ------------------------------------------------------------------------------ weights

def test_save_load_sha256_and_corruption(tmp_path):
    torch.manual_seed(4)
    net = SalienceNet(channels=(4, 4, 4), tall_channels=4).eval()
    entry = weights.save_model(net, name="salience.test", version=1, file="salience_test.pt",
                               models_dir=tmp_path, sample_rate=C.SAMPLE_RATE, hop_length=C.HOP_LENGTH)
    assert len(entry["sha256"]) == 64
    loaded = weights.load_model("salience.test", models_dir=tmp_path)
    assert isinstance(loaded, SalienceNet) and loaded.hparams["channels"] == [4, 4, 4]
    x = torch.rand(1, 6, C.N_BINS, 20) * 1e-2
    with torch.inference_mode():
        assert torch.equal(loaded(x), net(x))
    # a corrupted copy is refused, naming the file
    bad = tmp_path / "bad"
    shutil.copytree(tmp_path, bad, ignore=shutil.ignore_patterns("bad"))
    data = bytearray((bad / "salience_test.pt").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (bad / "salience_test.pt").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="sha256 mismatch"):
        weights.load_model("salience.test", models_dir=bad)


@needs_weights
def test_shipped_weights_verified():
    entry = weights.manifest_entry("salience")
    assert weights.sha256_file(weights.verify(entry)) == entry["sha256"]
    for k in ("version", "sample_rate", "hop_length", "input", "recipe", "data", "licence", "metrics"):
        assert k in entry, k
    assert (weights.MODELS_DIR / entry["file"]).stat().st_size < 2_000_000


# ------------------------------------------------------------------------------ known answer

@needs_weights
def test_triad_top_peaks():
    """C4-E4-G4 struck together: the three strongest salience peaks are the three notes."""
    from workstation.core import postprocess as pp
    from workstation.inference.frontend import FrontEnd

    y = piano_like(TRIAD_MIDI)
    h = FrontEnd("cpu").hcqt(y)
    sal = Audio2Salience(weights.load_model("salience"))(h)[HEADS.index("salience")]
    fr = slice(int(0.15 * C.FRAME_RATE), int(1.0 * C.FRAME_RATE))
    mean = sal[:, fr].mean(axis=1, keepdims=True)
    pk = pp.pick_peaks(mean, threshold=0.0, max_peaks=3)
    found = sorted(np.rint(pk.bin / C.BINS_PER_SEMITONE + C.FMIN_MIDI).astype(int).tolist())
    assert found == list(TRIAD_MIDI)
    assert mean[[_bin(m) for m in TRIAD_MIDI], 0].min() > 0.3


# ------------------------------------------------------------------------------ analyzers

@needs_weights
def test_analyzer_learned_through_pipeline_and_chunk_joins():
    from workstation.analysis.base import get_analyzer
    from workstation.analysis.pipeline import analyze_array

    y = np.concatenate([piano_like(TRIAD_MIDI, dur_s=1.5), piano_like((55, 62), dur_s=1.5, seed=1)])
    out = analyze_array(y, [get_analyzer("pitch.salience", method="learned"), get_analyzer("notes", method="salience")])
    assert not out.errors, out.errors
    sal = out.results["pitch.salience"]
    assert sal.values.shape == (C.N_BINS, C.n_frames_for(len(y))) and sal.values.dtype == np.float16
    assert len(sal.peak_frame) > 0 and sal.peak_salience.min() >= 0.3
    notes = out.results["notes"]
    first = {int(p) for p, t in zip(notes.pitch_midi, notes.onsets_s) if t < 0.2}
    second = {int(p) for p, t in zip(notes.pitch_midi, notes.onsets_s) if 1.4 < t < 1.7}
    assert set(TRIAD_MIDI) <= first and {55, 62} <= second
    # 1-s chunks (context carried across joins) give the same salience as one chunk
    short = analyze_array(y, [get_analyzer("pitch.salience", method="learned")], chunk_s=1.0)
    np.testing.assert_allclose(short.results["pitch.salience"].values.astype(np.float32),
                               sal.values.astype(np.float32), atol=2e-3)


def test_analyzer_rejects_unknown_method():
    from workstation.analysis.base import get_analyzer

    with pytest.raises(ValueError, match="method"):
        get_analyzer("pitch.salience", method="magic")
