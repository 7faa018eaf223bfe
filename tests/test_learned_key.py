"""The learned key model ``key`` (``workstation.inference.models.key``) and the ``key``
analyzer's ``method="learned"``: feature and network shapes, transposition equivariance,
determinism and piecewise = whole inference, sha256 checking, and a known answer (I-IV-V-I
cadences of additive tones in known keys) through ``analyze_array``."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from workstation.analysis.analyzers.key import METHODS, KeyAnalyzer
from workstation.analysis.base import get_analyzer
from workstation.analysis.pipeline import analyze, analyze_array
from workstation.core import constants as C
from workstation.core.errors import ModelError
from workstation.inference.frontend import FrontEnd
from workstation.inference.models.key import (MAP_BINS, TUNING_MARGIN, Audio2Key, KeyNet, block_map,
                                              map_tuning_cents, peak_pitch_map, tune_map)
from workstation.inference.weights import MODELS_DIR, load_model, manifest_entry, read_manifest

SR = C.SAMPLE_RATE

needs_model = pytest.mark.skipif(
    not any(e.get("name") == "key" for e in read_manifest()),
    reason="models/key.pt not trained yet (python -m workstation.training key)")


def tone(midi: float, dur_s: float, *, cents: float = 0.0, n_harm: int = 6) -> np.ndarray:
    """Additive harmonic tone (1/h partials) with a short attack and exponential decay."""
    t = np.arange(int(dur_s * SR)) / SR
    f0 = 440.0 * 2 ** ((midi - 69 + cents / 100.0) / 12)
    x = sum(np.sin(2 * np.pi * h * f0 * t) / h for h in range(1, n_harm + 1) if h * f0 < SR / 2)
    return x * np.minimum(1.0, t / 0.02) * np.exp(-1.5 * t)


def cadence(tonic_pc: int, mode: str, *, repeats: int = 5, chord_s: float = 0.6,
            cents: float = 0.0) -> np.ndarray:
    """I-IV-V-I (major) or i-iv-V-i (harmonic minor): bass + triad, repeated."""
    root = 60 + tonic_pc if tonic_pc < 6 else 48 + tonic_pc
    third = (4, 7) if mode == "major" else (3, 7)
    prog = [(0, (0,) + third), (5, (0,) + third), (7, (0, 4, 7)), (0, (0,) + third)]

    def chord(r, ivs):
        notes = [r - 12] + [r + i for i in ivs]
        return sum(tone(m, chord_s, cents=cents) for m in notes) / len(notes)
    one = np.concatenate([chord(root + deg, ivs) for deg, ivs in prog])
    return (0.5 * np.tile(one, repeats)).astype(np.float32)


@pytest.fixture(scope="module")
def frontend():
    return FrontEnd("cpu")


# -- features (no model needed) ---------------------------------------------------------------

def test_peak_map_places_a_tone_on_its_bin(frontend):
    x = tone(57.0, 3.0, n_harm=1).astype(np.float32)          # A3 = 220 Hz, a pure sine
    m = peak_pitch_map(frontend.stft_mag(x), margin_bins=0)
    assert m.shape == (MAP_BINS, C.n_frames_for(len(x))) and m.dtype == np.float32
    prof = m.sum(axis=1)
    assert int(np.argmax(prof)) == (57 - 36) * C.BINS_PER_SEMITONE
    b = block_map(frontend.stft_mag(x))
    assert b.shape == (MAP_BINS + 2 * TUNING_MARGIN, -(-m.shape[1] // 16))


def test_tuning_is_measured_and_removed(frontend):
    x = cadence(2, "major", repeats=2, cents=30.0)
    m = block_map(frontend.stft_mag(x))
    assert abs(map_tuning_cents(m) - 30.0) < 8.0
    tuned, cents = tune_map(m)
    assert tuned.shape == (MAP_BINS, m.shape[1])
    assert abs(map_tuning_cents(tuned, margin_bins=0)) < 8.0


def test_network_shapes_and_transposition_equivariance():
    torch.manual_seed(0)
    net = KeyNet().eval()
    x = torch.zeros(3, MAP_BINS + 20, 40)
    x[:, 60:300] = torch.rand(3, 240, 40)                    # content away from the edges
    with torch.inference_mode():
        a = net(x[:, 10:10 + MAP_BINS])
        b = net(x[:, 5:5 + MAP_BINS])                        # the same content one semitone higher
        f = net.features(x[:, 10:10 + MAP_BINS])
    assert a.shape == (3, 24) and f.shape == (3, net.hparams["pc_channels"], 12, 40)
    rolled = torch.roll(a.reshape(3, 2, 12), 1, dims=2).reshape(3, 24)
    torch.testing.assert_close(b, rolled, atol=1e-6, rtol=1e-5)
    assert (b - a).abs().max().item() > 1e-3                 # and not trivially constant


def test_stone_loss_rewards_consistent_rotation():
    from workstation.training.train_key import signature_dft, stone_loss
    p = torch.zeros(2, 24)
    p[0, 0] = 1.0                                            # C major
    p[1, 7] = 1.0                                            # G major: C transposed by +7
    assert abs(signature_dft(p[:1]).abs().item() - 1.0) < 1e-6
    k = torch.tensor([0])
    good = stone_loss(p[:1], p[1:], k, torch.tensor([7]))
    near = stone_loss(p[:1], p[1:], k, torch.tensor([2]))   # one fifth off on the circle
    bad = stone_loss(p[:1], p[1:], k, torch.tensor([1]))    # six fifths off: the opposite side
    assert good.item() == pytest.approx(0.0, abs=1e-6)
    assert near.item() == pytest.approx(1 - np.cos(np.pi / 6), abs=1e-5)
    assert bad.item() == pytest.approx(2.0, abs=1e-5)
    rel = torch.zeros(1, 24)
    rel[0, 12 + 9] = 1.0                                     # A minor: same signature as C major
    assert stone_loss(p[:1], rel, k, k).item() == pytest.approx(0.0, abs=1e-6)


def test_method_is_checked():
    assert METHODS == ("dsp", "learned")
    with pytest.raises(ValueError, match="method"):
        KeyAnalyzer(method="oracle")


# -- the shipped model -------------------------------------------------------------------------

@needs_model
def test_checkpoint_rebuilds_and_hparams_travel():
    entry = manifest_entry("key")
    model = load_model("key")
    assert entry["sample_rate"] == C.SAMPLE_RATE and entry["hop_length"] == C.HOP_LENGTH
    assert entry["input"]["feature"] == "stft_mag"
    assert isinstance(model, KeyNet) and model.hparams["n_bins"] == MAP_BINS
    ckpt = torch.load(MODELS_DIR / entry["file"], map_location="cpu", weights_only=True)
    assert ckpt["arch"] == "key_chromanet" and ckpt["hparams"] == model.hparams


@needs_model
def test_sha256_mismatch_is_refused(tmp_path):
    entry = manifest_entry("key")
    for sub in ("good", "bad"):
        (tmp_path / sub).mkdir()
        shutil.copy(MODELS_DIR / entry["file"], tmp_path / sub / entry["file"])
        (tmp_path / sub / "manifest.json").write_text(json.dumps([entry]))
    assert isinstance(load_model("key", models_dir=tmp_path / "good"), KeyNet)
    bad = tmp_path / "bad" / entry["file"]
    data = bytearray(bad.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="sha256"):
        load_model("key", models_dir=tmp_path / "bad")


@needs_model
def test_audio2key_pieces_match_whole_and_are_deterministic(frontend):
    model = load_model("key")
    x = np.concatenate([cadence(0, "major", repeats=6), cadence(9, "minor", repeats=6)])
    m, _ = tune_map(block_map(frontend.stft_mag(x)))
    whole, centres = Audio2Key(model)(m, window_blocks=40, hop_blocks=5)
    pieces, c2 = Audio2Key(model, piece_blocks=17)(m, window_blocks=40, hop_blocks=5)
    assert whole.shape == (24, len(centres)) and whole.dtype == np.float32
    np.testing.assert_array_equal(centres, c2)
    np.testing.assert_allclose(pieces, whole, atol=1e-5)
    np.testing.assert_allclose(np.exp(whole).sum(axis=0), 1.0, atol=1e-5)
    again, _ = Audio2Key(model, piece_blocks=17)(m, window_blocks=40, hop_blocks=5)
    np.testing.assert_array_equal(pieces, again)
    with pytest.raises(ValueError):
        Audio2Key(model)(m[:100])


@needs_model
@pytest.mark.parametrize("tonic_pc,mode", [(2, "major"), (9, "minor"), (0, "major"), (7, "minor")])
def test_cadence_names_the_key(tonic_pc, mode, frontend):
    out = analyze_array(cadence(tonic_pc, mode), [get_analyzer("key", method="learned")],
                        frontend=frontend)
    assert not out.errors, out.errors
    k = out.results["key"]
    assert (k.tonic_pc, k.mode) == (tonic_pc, mode), k.label
    assert 0.0 < k.confidence <= 1.0
    assert len(k.local_start_s) >= 1 and k.local_end_s[-1] == pytest.approx(5 * 4 * 0.6, abs=0.01)
    assert np.all((k.local_confidence >= 0) & (k.local_confidence <= 1))


@needs_model
def test_chunking_does_not_change_the_result():
    x = np.concatenate([cadence(0, "major", repeats=8), cadence(8, "major", repeats=8)])
    r1 = analyze(x, KeyAnalyzer(method="learned"))
    r2 = analyze(x, KeyAnalyzer(method="learned"), chunk_s=7.3)
    assert (r1.tonic_pc, r1.mode) == (r2.tonic_pc, r2.mode)
    assert r1.confidence == pytest.approx(r2.confidence, abs=1e-4)
    np.testing.assert_array_equal(r1.local_tonic_pc, r2.local_tonic_pc)
    np.testing.assert_allclose(r1.local_start_s, r2.local_start_s)
    # the local timeline follows the modulation C -> Ab major (19.2 s each)
    keys = [(int(t), m) for t, m in zip(r1.local_tonic_pc, r1.local_mode)]
    assert keys[0] == (0, "major") and keys[-1] == (8, "major"), keys


@needs_model
def test_silence_gives_zero_confidence():
    res = analyze(np.zeros(SR * 5, np.float32), KeyAnalyzer(method="learned"))
    assert res.confidence == 0.0
