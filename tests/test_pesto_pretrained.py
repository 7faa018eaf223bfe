"""The port of the pretrained PESTO (pesto-pitch 2.0.1, ``mir-1k_g7``): known answer, frame grid,
fast path vs pesto's layer-by-layer path, and parity with the real ``pesto`` package where it
is importable (it is not in CI: pesto imports torchaudio, which this environment lacks)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from workstation.core import constants as C
from workstation.inference.models.pesto_pretrained import (
    N_OUT_BINS, Audio2PestoPretrained, load_pesto_pretrained)

SR = C.SAMPLE_RATE
CKPT = Path(__file__).resolve().parents[1] / "models" / "pesto_mir-1k_g7.ckpt"


@pytest.fixture(scope="module")
def run() -> Audio2PestoPretrained:
    return Audio2PestoPretrained(load_pesto_pretrained(CKPT), device="cpu")


def sung_tone_over_chord(seed: int = 0) -> tuple[np.ndarray, np.ndarray, slice]:
    """0.5 s silence, 3 s of a vibrato tone (220 Hz, 5.5 Hz, +-40 cents, 6 decaying harmonics)
    over a quieter piano-like C3-E3-G3 chord, 0.5 s silence -> (audio [n] float32,
    true f0 in Hz [n], the tone's sample range)."""
    rng = np.random.default_rng(seed)
    n_sil, n_tone = int(0.5 * SR), int(3.0 * SR)
    t = np.arange(n_tone) / SR
    f0 = 220.0 * 2.0 ** (40.0 / 1200.0 * np.sin(2 * np.pi * 5.5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / SR
    voice = sum(0.6 ** k * np.sin((k + 1) * phase + rng.uniform(0, 2 * np.pi)) for k in range(6))
    voice *= 0.25 * np.clip(np.minimum(t, t[-1] - t) / 0.05, 0, 1)
    chord = np.zeros(n_tone)
    for midi in (48, 52, 55):                                     # C3 E3 G3
        f = 440.0 * 2.0 ** ((midi - 69) / 12)
        for k in range(1, 6):
            chord += 0.5 ** k * np.sin(2 * np.pi * k * f * t + rng.uniform(0, 2 * np.pi)) * np.exp(-t * k / 1.5)
    chord *= 0.06 * np.clip(t / 0.005, 0, 1)
    x = np.concatenate([np.zeros(n_sil), voice + chord, np.zeros(n_sil)]).astype(np.float32)
    true = np.concatenate([np.zeros(n_sil), f0, np.zeros(n_sil)])
    return x, true, slice(n_sil, n_sil + n_tone)


def test_known_answer_vibrato_over_chord(run):
    x, true, tone = sung_tone_over_chord()
    out = run(x)
    n_frames = 1 + x.size // C.HOP_LENGTH
    assert out["freqs_hz"].shape == out["confidence"].shape == (n_frames,)
    assert out["probs"].shape == (N_OUT_BINS, n_frames) and out["bin_midi"].shape == (N_OUT_BINS,)
    assert np.allclose(out["probs"].sum(0), 1.0, atol=1e-4)
    assert np.all((out["confidence"] >= 0) & (out["confidence"] <= 1))
    centres = np.arange(n_frames) * C.HOP_LENGTH
    # voiced frames: well inside the tone (skip 0.1 s at each end)
    voiced = (centres >= tone.start + int(0.1 * SR)) & (centres < tone.stop - int(0.1 * SR))
    err = 1200 * np.abs(np.log2(out["freqs_hz"][voiced] / true[centres[voiced]]))
    assert np.median(err) < 25.0, f"median error {np.median(err):.1f} cents"
    # the distribution peaks at the sung pitch too (bin_midi maps bins to MIDI)
    peak_midi = out["bin_midi"][out["probs"][:, voiced].argmax(0)]
    true_midi = 69 + 12 * np.log2(true[centres[voiced]] / 440.0)
    assert np.median(np.abs(peak_midi - true_midi)) < 0.5
    silent = centres < tone.start - int(0.2 * SR)
    assert out["confidence"][voiced].mean() > out["confidence"][silent].mean() + 0.2


@pytest.mark.parametrize("seconds", [0.1, 1.0, 7.3])
def test_frame_grid(run, seconds):
    n = int(round(seconds * SR))
    x = (0.1 * np.random.default_rng(0).standard_normal(n)).astype(np.float32)
    out = run(x)
    n_frames = 1 + n // C.HOP_LENGTH
    for key in ("freqs_hz", "pitch_midi", "confidence"):
        assert out[key].shape == (n_frames,), key
        assert np.all(np.isfinite(out[key]))
    assert out["probs"].shape == (N_OUT_BINS, n_frames)


def test_short_inputs_and_batching(run):
    assert run(np.zeros(0, np.float32))["freqs_hz"].shape == (1,)
    assert run(np.zeros(1000, np.float32))["freqs_hz"].shape == (1 + 1000 // C.HOP_LENGTH,)
    x, _, _ = sung_tone_over_chord()
    small = Audio2PestoPretrained(run.model, device="cpu", batch_frames=37)(x)
    full = run(x)
    assert np.allclose(small["probs"], full["probs"], atol=1e-5)


def test_fast_path_matches_pesto_layers(run):
    model, enc = run.model, run.model.encoder
    x, _, _ = sung_tone_over_chord()
    half = model.cqt.width // 2
    frames = torch.from_numpy(np.pad(x, half, mode="reflect")).unfold(0, 2 * half, C.HOP_LENGTH)[::4]
    lo, hi = model.crop
    with torch.inference_mode():
        logp = model.cqt(frames).mul(np.log(10) / 10)[:, None, lo:hi]
        fast, ref = enc(logp), enc.forward_reference(logp)
    assert torch.allclose(fast, ref, atol=1e-3)
    assert torch.equal(fast.argmax(-1), ref.argmax(-1))
    assert not any(p.requires_grad for p in model.parameters()) and not model.training


def test_resampled_input_stays_on_grid(run):
    x, _, _ = sung_tone_over_chord()
    import soxr
    x44 = soxr.resample(x, SR, 44100).astype(np.float32)
    out = run(x44, sr=44100)
    assert out["freqs_hz"].shape == (1 + round(x44.size * SR / 44100) // C.HOP_LENGTH,)


def _import_pesto():
    try:
        import pesto
    except Exception as e:                                       # torchaudio missing, etc.
        pytest.skip(f"the reference package `pesto` is not importable here ({type(e).__name__}: {e}); "
                    "parity with pesto-pitch 2.0.1 is checked where it is installed")
    return pesto


def test_parity_with_pesto_package(run):
    pesto = _import_pesto()
    x, _, _ = sung_tone_over_chord(seed=3)
    ts, f, c, a = pesto.predict(torch.from_numpy(x), SR, step_size=1000 * C.HOP_LENGTH / SR,
                                model_name="mir-1k_g7")
    out = run(x)
    assert f.shape == out["freqs_hz"].shape
    # pesto's step k is at k * hop / sr seconds: our frame centres
    assert np.allclose(ts.numpy(), np.arange(f.numel()) * 1000 * C.HOP_LENGTH / SR, atol=1e-3)
    conf = (c.numpy() > 0.5) & (out["confidence"] > 0.5)
    assert conf.sum() > 100
    cents = 1200 * np.abs(np.log2(out["freqs_hz"] / f.numpy()))
    assert cents[conf].max() < 0.1
    assert np.abs(out["confidence"] - c.numpy()).max() < 1e-4
    assert np.abs(out["probs"].T - a.numpy()).max() < 1e-3


def test_manifest_entry_and_corrupt_weights_refused_by_name(tmp_path):
    """The manifest records source, licence (LGPL-3.0, its text beside the weights) and sha256;
    a damaged checkpoint is refused with the file's name before it is unpickled."""
    import shutil

    from workstation.core.errors import ModelError
    from workstation.inference import manifest, weights
    e = manifest.manifest_entry("pitch.f0.pesto-mir1k")
    assert e["format"] == "pesto-pitch-ckpt" and "LGPL" in e["licence"] and len(e["sha256"]) == 64
    assert (manifest.MODELS_DIR / e["licence_file"]).is_file()
    shutil.copy(manifest.MODELS_DIR / "manifest.json", tmp_path / "manifest.json")
    data = bytearray(CKPT.read_bytes())
    data[len(data) // 3] ^= 0xFF
    (tmp_path / CKPT.name).write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"pesto_mir-1k_g7\.ckpt.*sha256 mismatch"):
        weights.load_model("pitch.f0.pesto-mir1k", models_dir=tmp_path)
