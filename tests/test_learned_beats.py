"""The learned beat / downbeat model ``beats`` (``workstation.inference.models.beats``) and the
``beats`` analyzer's ``method="learned"``: shapes, determinism, sha256 checking, chunking
invariance and a known answer (click tracks at known tempi)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from workstation.analysis.analyzers.beats import METHODS, BeatsAnalyzer, decode_activation
from workstation.analysis.base import get_analyzer
from workstation.analysis.pipeline import analyze_array
from workstation.core import constants as C
from workstation.core.errors import ModelError
from workstation.inference.frontend import FrontEnd
from workstation.inference.models.beats import HEADS, Audio2Beats, BeatNet
from workstation.inference.weights import MODELS_DIR, load_model, manifest_entry, read_manifest

SR = C.SAMPLE_RATE

pytestmark = pytest.mark.skipif(
    not any(e.get("name") == "beats" for e in read_manifest()),
    reason="models/beats.pt not trained yet (python -m workstation.training beats)")


def clicks(bpm: float, duration_s: float, *, meter: int = 4, offset_s: float = 0.5,
           seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A click track: a decaying noise burst plus a low thump on every beat, the bar's first
    beat louder. Returns (audio [shape=(n,)], beat times s [shape=(n_beats,)])."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * SR)
    x = np.zeros(n, np.float32)
    times = np.arange(offset_s, duration_s - 0.2, 60.0 / bpm)
    L = int(0.06 * SR)
    t = np.arange(L) / SR
    env = np.exp(-t / 0.012)
    for k, tb in enumerate(times):
        s = int(round(tb * SR))
        g = 1.0 if k % meter == 0 else 0.5
        burst = (0.3 * rng.standard_normal(L) + np.sin(2 * np.pi * 80 * t)) * env * g
        m = min(L, n - s)
        x[s:s + m] += burst[:m].astype(np.float32)
    return 0.3 * x, times


@pytest.fixture(scope="module")
def model():
    return load_model("beats")


@pytest.fixture(scope="module")
def frontend():
    return FrontEnd("cpu")


def test_network_shapes_and_range(model):
    mel = np.abs(np.random.default_rng(0).standard_normal((C.N_MELS, 333))).astype(np.float32) ** 2
    with torch.inference_mode():
        logits = model(torch.from_numpy(mel)[None])
    assert logits.shape == (1, len(HEADS), 333)
    out = Audio2Beats(model)(mel)
    assert out.shape == (2, 333) and out.dtype == np.float32
    assert np.all((out >= 0) & (out <= 1))
    assert Audio2Beats(model)(np.zeros((C.N_MELS, 0), np.float32)).shape == (2, 0)
    batch = Audio2Beats(model)(np.stack([mel, mel]))
    assert batch.shape == (2, 2, 333)
    with pytest.raises(ValueError):
        Audio2Beats(model)(mel[0])


def test_blocks_match_one_pass_and_determinism(model, frontend):
    x, _ = clicks(110.0, 30.0)
    mel = frontend.mel(x)
    whole = Audio2Beats(model, block_frames=8192)(mel)
    blocks = Audio2Beats(model, block_frames=700, border_frames=768, batch_size=2)(mel)
    np.testing.assert_allclose(blocks, whole, atol=2e-4)
    again = Audio2Beats(model, block_frames=700, border_frames=768, batch_size=2)(mel)
    np.testing.assert_array_equal(blocks, again)


def test_checkpoint_rebuilds_and_hparams_travel(model):
    entry = manifest_entry("beats")
    assert entry["sample_rate"] == C.SAMPLE_RATE and entry["hop_length"] == C.HOP_LENGTH
    assert entry["input"]["feature"] == "mel"
    assert isinstance(model, BeatNet) and model.hparams["n_mels"] == C.N_MELS
    ckpt = torch.load(MODELS_DIR / entry["file"], map_location="cpu", weights_only=True)
    assert ckpt["arch"] == "beats_tcn" and ckpt["hparams"] == model.hparams


def test_sha256_mismatch_is_refused(tmp_path):
    entry = manifest_entry("beats")
    for sub in ("good", "bad"):
        (tmp_path / sub).mkdir()
        shutil.copy(MODELS_DIR / entry["file"], tmp_path / sub / entry["file"])
        (tmp_path / sub / "manifest.json").write_text(json.dumps([entry]))
    assert isinstance(load_model("beats", models_dir=tmp_path / "good"), BeatNet)   # intact copy
    bad = tmp_path / "bad" / entry["file"]
    data = bytearray(bad.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="sha256"):
        load_model("beats", models_dir=tmp_path / "bad")


@pytest.mark.parametrize("decoder", ["dbn", "dp"])
@pytest.mark.parametrize("bpm", [120.0, 92.0])
def test_click_track_known_tempo(bpm, decoder):
    x, truth = clicks(bpm, 20.0)
    b = analyze_array(x, [get_analyzer("beats", method="learned", decoder=decoder)]).results["beats"]
    assert abs(b.tempo_bpm - bpm) / bpm < 0.04, b.tempo_bpm
    # every click after the first two seconds has a beat within 70 ms, and vice versa
    inner = truth[(truth > 2.0) & (truth < 18.0)]
    d = np.abs(inner[:, None] - b.times_s[None, :]).min(axis=1)
    assert np.all(d < 0.07), d.max()
    est = b.times_s[(b.times_s > 2.0) & (b.times_s < 18.0)]
    d2 = np.abs(est[:, None] - truth[None, :]).min(axis=1)
    assert np.all(d2 < 0.07), d2.max()
    assert b.positions.shape == b.times_s.shape
    assert set(np.unique(b.positions)) <= set(range(0, 5))


def test_analyzer_through_pipeline_is_chunking_invariant():
    x, _ = clicks(128.0, 24.0, seed=1)
    a = get_analyzer("beats", method="learned")            # default decoder: dbn
    one = analyze_array(x, [a]).results["beats"]
    many = analyze_array(x, [get_analyzer("beats", method="learned")], chunk_s=7.0).results["beats"]
    np.testing.assert_allclose(many.times_s, one.times_s, atol=1e-9)
    np.testing.assert_array_equal(many.positions, one.positions)
    assert abs(many.tempo_bpm - one.tempo_bpm) < 1e-6
    assert one.tempo_alternatives_bpm.size >= 1


def test_methods_and_default():
    assert BeatsAnalyzer.methods == METHODS == ("dsp", "learned")
    # learned + DBN won on GTZAN and on FMP C6 / madmom / JTD (benchmarks/accuracy.py --tasks beats)
    assert get_analyzer("beats").params["method"] == "learned"
    assert get_analyzer("beats").params["decoder"] == "dbn"
    with pytest.raises(ValueError, match="method"):
        get_analyzer("beats", method="magic")
    assert get_analyzer("beats", method="dsp").params_hash() != get_analyzer("beats").params_hash()
    assert get_analyzer("beats", decoder="dp").params_hash() != get_analyzer("beats").params_hash()
    with pytest.raises(ValueError, match="decoder"):
        get_analyzer("beats", decoder="viterbi")


def test_decode_activation_known_answer():
    # a synthetic activation: peaks every 0.5 s (120 BPM), downbeat peaks every third beat
    n = int(30 * C.FRAME_RATE)
    beat = np.zeros(n)
    down = np.zeros(n)
    frames = np.rint(np.arange(0.3, 29.8, 0.5) * C.FRAME_RATE).astype(int)
    beat[frames] = 0.9
    down[frames[1::3]] = 0.8
    b = decode_activation(beat, down)
    assert abs(b.tempo_bpm - 120.0) < 120 * 0.04
    assert b.meter == 3
    np.testing.assert_allclose(b.downbeats_s[:3], frames[1::3][:3] / C.FRAME_RATE, atol=0.02)
    assert decode_activation(np.zeros(n), np.zeros(n)).times_s.size == 0
