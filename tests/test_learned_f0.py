"""The learned f0 model (PESTO-style): weights manifest + sha256 loading, the network, the
recipe's determinism, and ``pitch.f0`` with ``method="pesto"`` on known answers."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest
import torch

from workstation.analysis.base import get_analyzer
from workstation.analysis.pipeline import analyze, analyze_array
from workstation.core import constants as C
from workstation.core.errors import ModelError, WorkstationError
from workstation.inference import weights
from workstation.inference.models.pesto import Audio2F0, PestoNet, local_average_bin
from workstation.training import train_f0, train_f0_data

SR = C.SAMPLE_RATE
NAME = train_f0.MODEL_NAME


def _shipped():
    try:
        weights.manifest_entry(NAME)
    except ModelError:
        pytest.skip(f"{NAME} is not in models/manifest.json (run `python -m workstation.training f0`)")
    return weights.load_model(NAME)


def sung_tone(f0_hz: float, *, duration_s: float = 2.0, vib_rate: float = 5.5, vib_cents: float = 50.0,
              lead_silence_s: float = 0.5, tail_silence_s: float = 0.5, seed: int = 0):
    """A sung-like tone: vibrato, a formant-shaped harmonic spectrum, a little breath noise,
    between silences. Returns audio [shape=(n,)], true f0 per frame [shape=(n_frames,)] (0 in
    silence) and the tone's frame mask."""
    rng = np.random.default_rng(seed)
    n_tone = int(duration_s * SR)
    t = np.arange(n_tone) / SR
    f = f0_hz * 2 ** (vib_cents / 1200 * np.sin(2 * np.pi * vib_rate * t))
    phase = 2 * np.pi * np.cumsum(f) / SR
    y = np.zeros(n_tone)
    for h in range(1, 25):
        fh = h * f0_hz
        if fh > 0.45 * SR:
            break
        formant = 1.0 + 4.0 * np.exp(-0.5 * (np.log2(fh / 700.0) / 0.3) ** 2) \
            + 2.0 * np.exp(-0.5 * (np.log2(fh / 2500.0) / 0.25) ** 2)
        y += formant * h ** -1.0 * np.sin(h * phase + rng.uniform(0, 2 * np.pi))
    ramp = int(0.03 * SR)
    y[:ramp] *= np.linspace(0, 1, ramp)
    y[-ramp:] *= np.linspace(1, 0, ramp)
    y = 0.3 * y / np.abs(y).max() + 0.003 * rng.normal(size=n_tone)
    a, b = int(lead_silence_s * SR), int(tail_silence_s * SR)
    audio = np.concatenate([np.zeros(a), y, np.zeros(b)]).astype(np.float32)
    n_frames = C.n_frames_for(len(audio))
    frame_t = np.arange(n_frames) * C.HOP_LENGTH / SR - lead_silence_s
    inside = (frame_t >= 0) & (frame_t < duration_s)
    true = np.where(inside, f0_hz * 2 ** (vib_cents / 1200 * np.sin(2 * np.pi * vib_rate * frame_t)), 0.0)
    return audio, true, inside


# ------------------------------------------------------------------------------ network
def test_network_shapes_and_equivariant_toeplitz_layer():
    torch.manual_seed(0)
    m = PestoNet().eval()
    x = torch.rand(7, C.N_BINS) * 0.1
    logits, v = m(x)
    assert logits.shape == (7, C.N_BINS) and v.shape == (7,)
    # the inference copy (channels-last (1 x k) conv2d) computes the same network
    fast = m.for_inference()
    with torch.inference_mode():
        lf, vf = fast(x)
        lt, vt = PestoNet(temporal_layers=1).eval().for_inference()(x)
    assert torch.allclose(lf, logits.detach(), atol=1e-4) and torch.allclose(vf, v.detach(), atol=1e-5)
    assert lt.shape == (7, C.N_BINS) and vt.shape == (7,)
    # the copy keeps the model's device and dtype (its 2-D convolutions were once created on
    # the CPU whatever the model's device: the pipeline failed on CUDA)
    m64 = PestoNet().to(torch.float64).eval().for_inference()
    assert {p.dtype for p in m64.parameters()} == {torch.float64}
    # the Toeplitz matmul is the full-width convolution it stands for
    z = torch.randn(3, C.N_BINS)
    direct = m.toeplitz(z[:, None])[:, 0]
    assert torch.allclose(z @ m.toeplitz.weight[0, 0][m._toeplitz_index], direct, atol=1e-5)
    # translation equivariance: the convolution stack on a frame with content away from the
    # borders (the per-frame standardisation sees the same values), then the Toeplitz layer
    # on zero-edged input (exact; only the constant floor region breaks it for the full net)
    db = torch.full((1, C.N_BINS), -100.0)
    db[0, 150:190] = torch.linspace(-40, -10, 40)
    k = 17
    shifted = train_f0.shift_frames(db, torch.tensor([k]), max_shift=30)
    with torch.no_grad():
        def stack(d):
            x = ((d - d.mean(-1, keepdim=True)) / d.std(-1, keepdim=True))[:, None]
            return m.to_one(m.convs(x))[:, 0]
        a, b = stack(db), stack(shifted)
        assert torch.allclose(b[0, 60 + k:C.N_BINS - 60 + k], a[0, 60:C.N_BINS - 60], atol=1e-5)
        z = torch.zeros(1, C.N_BINS)
        z[0, 100:200] = torch.randn(100)
        zs = torch.roll(z, k, dims=1)
        y, ys = (t @ m.toeplitz.weight[0, 0][m._toeplitz_index] for t in (z, zs))
        assert torch.allclose(ys[0, k:], y[0, :-k], atol=1e-4)


def test_temporal_layers_keep_pitch_equivariance_and_read_runs_of_frames():
    """Version 3: residual (time x pitch) convolutions after the per-frame encoder. A run of
    frames shifted in pitch gives the shifted latent (away from the borders); [S, T, F] runs
    and a 2-D run give the same result; a frame's output depends on its neighbours within
    ``context_frames`` and not beyond."""
    torch.manual_seed(0)
    m = PestoNet(filter_scale=0.4, temporal_layers=2).eval()
    assert m.context_frames == 3 and m.hparams["temporal_layers"] == 2
    assert "temporal_layers" not in PestoNet().hparams            # v1/v2 checkpoints unchanged
    t = 12
    db = torch.full((t, C.N_BINS), -100.0)
    for i in range(t):                                        # a glide: 2 bins per frame
        db[i, 150 + 2 * i:190 + 2 * i] = torch.linspace(-40, -10, 40)
    k = 17
    shifted = train_f0.shift_frames(db, torch.full((t,), k), max_shift=30)

    def latent(d):
        x = ((d - d.mean(-1, keepdim=True)) / d.std(-1, keepdim=True))[:, None]
        h = m.convs(x)
        h4 = h[None].permute(0, 2, 1, 3)
        for conv in m.temporal:
            pt = conv.dilation[0] * (conv.kernel_size[0] // 2)
            h4 = h4 + m.temporal_act(conv(torch.nn.functional.pad(h4, (0, 0, pt, pt), mode="replicate")))
        return m.to_one(h4[0].permute(1, 0, 2))[:, 0]

    with torch.no_grad():
        a, b = latent(db), latent(shifted)
        assert torch.allclose(b[:, 60 + k:C.N_BINS - 60 + k], a[:, 60:C.N_BINS - 60], atol=1e-4)
        l2, v2 = m.forward_db(db)
        l3, v3 = m.forward_db(db[None].repeat(2, 1, 1))
        assert l2.shape == (t, C.N_BINS) and v2.shape == (t,) and l3.shape == (2, t, C.N_BINS)
        assert torch.allclose(l3[1], l2, atol=1e-5) and torch.allclose(v3[0], v2, atol=1e-5)
        changed = db.clone()
        changed[0] = -100.0                                   # change frame 0 only
        lc, _ = m.forward_db(changed)
        diff = (lc - l2).abs().amax(dim=-1)
        assert diff[3] > 0 and torch.all(diff[4:] == 0)


@pytest.mark.parametrize("filter_scale", [1.0, 0.4])
def test_input_cqt_reads_partial_amplitude_at_its_bin(filter_scale):
    """Both inputs (the HCQT's h=1 channel, the model's own shorter-window CQT) put a steady
    partial at its pitch bin and read its amplitude in dB (0.3 -> -10.5 dBFS)."""
    m = PestoNet(filter_scale=filter_scale)
    assert m.uses_hcqt == (filter_scale == 1.0)
    t = np.arange(SR) / SR
    y = (0.3 * np.sin(2 * np.pi * 220.0 * t)).astype(np.float32)   # A3 = MIDI 57
    mag = m.input_cqt(y)
    assert mag.shape == (C.N_BINS, C.n_frames_for(len(y)))
    db = m.to_db(mag.T)[C.n_frames_for(len(y)) // 2]
    assert int(db.argmax()) == round((57 - C.FMIN_MIDI) * C.BINS_PER_SEMITONE)
    assert float(db.max()) == pytest.approx(20 * np.log10(0.3), abs=1.0)
    if filter_scale < 1:
        # shorter windows: the tone's onset reaches full level sooner than with the HCQT
        z = np.concatenate([np.zeros(SR // 2, np.float32), y])
        rise = [int(np.argmax(n.to_db(n.input_cqt(z).T)[:, 165].numpy() > 20 * np.log10(0.3) - 3))
                for n in (m, PestoNet())]
        assert rise[0] < rise[1]


def test_local_average_bin_is_sub_bin():
    p = torch.zeros(2, C.N_BINS)
    p[0, 100], p[0, 101] = 0.5, 0.5          # halfway
    p[1, 200] = 1.0
    out = local_average_bin(p)
    assert torch.allclose(out, torch.tensor([100.5, 200.0]))


# ------------------------------------------------------------------------------ weights
def test_save_load_roundtrip_and_sha256_refusal(tmp_path):
    torch.manual_seed(1)
    m = PestoNet()
    m.offset_bins.fill_(0.37)
    entry = weights.save_model(m, name="test.pesto", version=3, file="test_pesto.pt", models_dir=tmp_path,
                               extra={"offset_bins": 0.37}, sample_rate=SR, hop_length=C.HOP_LENGTH,
                               input={"feature": "hcqt"}, recipe="none", data="none", licence="x",
                               metrics={"a": 1.0})
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest[0]["sha256"] == weights.sha256_file(tmp_path / "test_pesto.pt") == entry["sha256"]
    for key in ("name", "version", "file", "sample_rate", "hop_length", "input", "recipe", "data",
                "licence", "metrics"):
        assert key in manifest[0]
    loaded = weights.load_model("test.pesto", models_dir=tmp_path)
    assert loaded is weights.load_model("test.pesto", models_dir=tmp_path)  # cached
    assert not loaded.training and float(loaded.offset_bins) == pytest.approx(0.37)
    x = torch.rand(5, C.N_BINS)
    with torch.no_grad():
        assert torch.equal(loaded(x)[0], m.eval()(x)[0])
    # a corrupted copy is refused, naming the file
    bad = tmp_path / "bad"
    bad.mkdir()
    shutil.copy(tmp_path / "manifest.json", bad / "manifest.json")
    blob = bytearray((tmp_path / "test_pesto.pt").read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    (bad / "test_pesto.pt").write_bytes(bytes(blob))
    with pytest.raises(ModelError, match=r"test_pesto\.pt: sha256 mismatch"):
        weights.load_model("test.pesto", models_dir=bad)
    (bad / "test_pesto.pt").unlink()
    with pytest.raises(ModelError, match=r"test_pesto\.pt: weights .* are missing"):
        weights.load_model("test.pesto", models_dir=bad)
    with pytest.raises(ModelError, match="no model named"):
        weights.load_model("nope", models_dir=tmp_path)
    assert issubclass(ModelError, WorkstationError)


def test_shipped_model_matches_manifest():
    model = _shipped()
    e = weights.manifest_entry(NAME)
    path = weights.MODELS_DIR / e["file"]
    assert weights.sha256_file(path) == e["sha256"]
    assert path.stat().st_size < 1_000_000
    assert e["sample_rate"] == SR and e["hop_length"] == C.HOP_LENGTH
    assert "python -m workstation.training f0" in e["recipe"]
    assert isinstance(model, PestoNet)


# ------------------------------------------------------------------------------ recipe
@pytest.mark.parametrize("temporal_layers", [0, 2])
def test_recipe_is_deterministic(temporal_layers):
    """Same seed, same weights (frame by frame, and with temporal layers over runs of frames
    of the moving-pitch clips of ``--synth-version 3``)."""
    rng = np.random.default_rng(0)
    ref = PestoNet(filter_scale=train_f0.F0Config.filter_scale)
    dbs, midis, vs = [], [], []
    for _ in range(2):
        y, f0, v = train_f0_data.synth_tone_clip(rng, duration_s=1.0, moving=bool(temporal_layers))
        dbs.append(train_f0_data._cqt_frames(y, ref))
        midis.append(np.where(v, 69 + 12 * np.log2(f0 / 440.0), 0.0).astype(np.float32))
        vs.append(v)
    n = sum(len(d) for d in dbs)
    data = {"db": np.concatenate(dbs), "midi": np.concatenate(midis), "voiced": np.concatenate(vs),
            "source": (np.arange(n) % 3).astype(np.int8),     # exercise the per-source sampling
            "clip": np.repeat(np.arange(2, dtype=np.int32), [len(d) for d in dbs])}
    cfg = train_f0.F0Config(steps=3, batch=32, seed=5, temporal_layers=temporal_layers, seq_frames=8)
    a, _ = train_f0.train(cfg, data=data)
    b, _ = train_f0.train(cfg, data=data)
    assert a.context_frames == (3 if temporal_layers else 0)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb), ka
    c, _ = train_f0.train(dataclasses.replace(cfg, seed=6), data=data)
    assert not torch.equal(a.toeplitz.weight, c.toeplitz.weight)


def test_training_cli_lists_recipes(capsys):
    from workstation.training.__main__ import main
    assert main(["--help"]) == 0
    assert main(["nonsense"]) == 2
    assert "f0" in capsys.readouterr().err


# ------------------------------------------------------------------------------ known answers
@pytest.fixture(scope="module")
def vibrato_result():
    _shipped()
    audio, true, inside = sung_tone(220.0)
    r = analyze_array(audio, [get_analyzer("pitch.f0", method="pesto")]).results["pitch.f0"]
    return audio, true, inside, r


def test_vibrato_tone_known_answer(vibrato_result):
    audio, true, inside, r = vibrato_result
    assert r.freqs_hz.shape == r.voiced.shape == r.confidence.shape == (C.n_frames_for(len(audio)),)
    core = inside & (np.abs(np.arange(len(true)) - np.flatnonzero(inside).mean()) < inside.sum() / 2 - 8)
    cents = 1200 * np.abs(np.log2(r.freqs_hz[core] / true[core]))
    assert np.median(cents) < 20.0
    assert r.voiced[core].mean() > 0.9
    silence = ~inside
    silence[np.flatnonzero(inside)[0] - 10:np.flatnonzero(inside)[-1] + 10] = False
    assert (~r.voiced[silence]).mean() > 0.9
    assert np.all((r.confidence >= 0) & (r.confidence <= 1))


@pytest.mark.parametrize("f0_hz", [110.0, 440.0])
def test_steady_tones_other_registers(f0_hz):
    _shipped()
    audio, true, inside = sung_tone(f0_hz, duration_s=1.0, vib_cents=0.0, lead_silence_s=0.2,
                                    tail_silence_s=0.2, seed=3)
    r = analyze_array(audio, [get_analyzer("pitch.f0", method="pesto")]).results["pitch.f0"]
    core = inside.copy()
    idx = np.flatnonzero(inside)
    core[idx[:8]] = core[idx[-8:]] = False
    cents = 1200 * np.abs(np.log2(r.freqs_hz[core] / f0_hz))
    assert np.median(cents) < 20.0


def test_glide_known_answer():
    """A sung-like portamento (A3 up a fifth to E4 over 200 ms, then down over 300 ms) is
    followed frame by frame, glides included."""
    _shipped()
    rng = np.random.default_rng(2)
    seg = [(220.0, 0.5), ("glide", 0.2), (329.63, 0.5), ("glide", 0.3), (220.0, 0.5)]
    midi = []
    for i, (f, d) in enumerate(seg):
        n = int(d * SR)
        if f == "glide":
            a, b = 69 + 12 * np.log2(seg[i - 1][0] / 440), 69 + 12 * np.log2(seg[i + 1][0] / 440)
            midi.append(a + (b - a) * (0.5 - 0.5 * np.cos(np.pi * np.arange(n) / n)))
        else:
            midi.append(np.full(n, 69 + 12 * np.log2(f / 440)))
    midi = np.concatenate(midi)
    f = 440 * 2 ** ((midi - 69) / 12)
    phase = 2 * np.pi * np.cumsum(f) / SR
    y = sum(h ** -1.0 * np.sin(h * phase + rng.uniform(0, 2 * np.pi)) for h in range(1, 16))
    pad = np.zeros(int(0.4 * SR))
    ramp = int(0.03 * SR)
    y[:ramp] *= np.linspace(0, 1, ramp)
    y[-ramp:] *= np.linspace(1, 0, ramp)
    audio = np.concatenate([pad, 0.3 * y / np.abs(y).max(), pad]).astype(np.float32)
    r = analyze_array(audio, [get_analyzer("pitch.f0", method="pesto")]).results["pitch.f0"]
    frames = np.arange(len(r.freqs_hz)) * C.HOP_LENGTH - len(pad)
    inside = (frames >= int(0.1 * SR)) & (frames < len(f) - int(0.1 * SR))
    true = f[np.clip(frames, 0, len(f) - 1)]
    cents = 1200 * np.abs(np.log2(np.maximum(r.freqs_hz[inside], 1.0) / true[inside]))
    glide = np.zeros(len(f), bool)
    glide[int(0.5 * SR):int(0.7 * SR)] = glide[int(1.2 * SR):int(1.5 * SR)] = True
    on_glide = glide[np.clip(frames, 0, len(f) - 1)][inside]
    assert np.median(cents) < 20.0
    assert np.mean(cents[on_glide] < 50.0) > 0.9
    assert r.voiced[inside].mean() > 0.9


def test_deterministic_and_chunked_like_whole(vibrato_result):
    audio, _, _, r = vibrato_result
    again = analyze_array(audio, [get_analyzer("pitch.f0", method="pesto")], chunk_s=1.0).results["pitch.f0"]
    # chunks of 1 s with discarded borders give the same frames as one chunk
    np.testing.assert_allclose(again.freqs_hz, r.freqs_hz, rtol=1e-4)
    np.testing.assert_allclose(again.confidence, r.confidence, atol=1e-4)
    model = weights.load_model(NAME)
    cqt = model.input_cqt(audio).numpy()
    o1, o2 = Audio2F0(model)(cqt), Audio2F0(model, batch_frames=37)(cqt)
    assert o1["freqs_hz"].shape == (cqt.shape[1],)
    np.testing.assert_allclose(o1["pitch_midi"], o2["pitch_midi"], atol=1e-4)


def test_method_parameter():
    a, b = get_analyzer("pitch.f0"), get_analyzer("pitch.f0", method="pesto")
    assert a.params_hash() != b.params_hash()
    # the shipped model reads the shared HCQT or (filter_scale < 1) computes its own CQT
    model = _shipped()
    assert b.features == (("hcqt",) if model.uses_hcqt else ("audio",))
    with pytest.raises(ValueError, match="method"):
        get_analyzer("pitch.f0", method="crepe")   # the methods are crepe-tiny and crepe-full


def test_result_cache_key_follows_the_weights(tmp_path, monkeypatch):
    """Retrained weights (another sha256 in the manifest) change the cache key of the
    analyzers that run them, and only theirs."""
    from workstation.inference import manifest
    runs = {"pesto": get_analyzer("pitch.f0", method="pesto"), "pyin": get_analyzer("pitch.f0", method="pyin"),
            "melody": get_analyzer("pitch.f0", method="melody"),
            "salience": get_analyzer("pitch.salience", method="learned"),
            "salience dsp": get_analyzer("pitch.salience", method="dsp")}
    assert runs["pesto"].models_used() == ("pitch.f0.pesto",) and runs["pyin"].models_used() == ()
    before = {k: a.params_hash() for k, a in runs.items()}
    entries = manifest.read_manifest()
    for e in entries:
        if e["name"] == "pitch.f0.pesto":
            e["sha256"] = "0" * 64
    (tmp_path / "manifest.json").write_text(json.dumps(entries))
    monkeypatch.setattr(manifest, "MODELS_DIR", tmp_path)
    after = {k: a.params_hash() for k, a in runs.items()}
    assert after["pesto"] != before["pesto"]
    assert all(after[k] == before[k] for k in ("pyin", "melody", "salience", "salience dsp"))


def test_viterbi_decoder_follows_a_path_and_jumps():
    from workstation.inference.models.pesto import viterbi_bins
    rng = np.random.default_rng(0)
    p = rng.random((300, C.N_BINS))
    p[:150, 100] += 60.0          # a note at bin 100, then a leap to bin 160
    p[150:, 160] += 60.0
    p[70, 250] += 400.0           # one outlier frame
    p /= p.sum(1, keepdims=True)
    path = viterbi_bins(p)
    assert np.all(path[:150] == 100) and np.all(path[151:] == 160)
    assert np.argmax(p[70]) == 250 and path[70] == 100


def _dense_viterbi(probs, sigma_bins, max_step, jump_prob, floor=1e-4):
    """Textbook Viterbi with the full (n_bins x n_bins) transition matrix: score of i -> j is
    the larger of the Gaussian step (within max_step) and a jump from the best bin."""
    n, f = probs.shape
    emit = np.log(probs.astype(np.float64) + floor)
    d = np.arange(f)[None] - np.arange(f)[:, None]                     # [i, j] = j - i
    log_t = np.where(np.abs(d) <= max_step, -0.5 * (d / sigma_bins) ** 2, -np.inf)
    delta, back = emit[0], np.zeros((n, f), np.int64)
    for t in range(1, n):
        cand = delta[:, None] + log_t                                  # [i, j]
        arg, best = cand.argmax(0), cand.max(0)
        jump = delta.max() + np.log(jump_prob)
        back[t] = np.where(jump > best, delta.argmax(), arg)
        delta = np.maximum(best, jump) + emit[t]
    path = [int(delta.argmax())]
    for t in range(n - 1, 0, -1):
        path.append(int(back[t, path[-1]]))
    return np.array(path[::-1])


def test_viterbi_decoder_equals_a_dense_viterbi_and_segments_stitch_exactly():
    """The fast decoder (steps a jump always beats left out, all segments in one recursion)
    gives the textbook path, and the segmented decode equals the one-piece decode on a long
    melody-like sequence."""
    from workstation.inference.models.pesto import viterbi_bins
    rng = np.random.default_rng(3)
    n, f = 400, 48
    walk = np.clip(np.cumsum(rng.normal(0, 0.8, n)) + 24, 2, f - 3).astype(int)
    walk[200:] = np.clip(walk[200:] - 12, 0, f - 1)                     # a leap
    p = rng.random((n, f)) * 0.3
    p[np.arange(n), walk] += rng.uniform(0.2, 1.0, n)
    p[np.arange(n), np.clip(walk + 12, 0, f - 1)] += rng.uniform(0.0, 0.8, n)   # an octave-like rival
    p /= p.sum(1, keepdims=True)
    for sigma, step, jump in ((3.0, 15, 1e-3), (1.5, 4, 1e-2)):
        ref = _dense_viterbi(p, sigma, step, jump)
        got = viterbi_bins(p, sigma_bins=sigma, max_step=step, jump_prob=jump, segment=None)
        assert np.array_equal(got, ref)
    # a long sequence: segments of 256 frames (+-128 of context) decoded at once
    m = 5000
    walk = np.clip(np.cumsum(rng.normal(0, 0.7, m)) % 300 + 30, 0, C.N_BINS - 1).astype(int)
    q = rng.random((m, C.N_BINS)) * 0.05
    q[np.arange(m), walk] += 1.0
    q[np.arange(m), np.minimum(walk + 60, C.N_BINS - 1)] += rng.uniform(0, 0.9, m)
    q /= q.sum(1, keepdims=True)
    whole = viterbi_bins(q, segment=None)
    seg = viterbi_bins(q)
    assert len(seg) == m and np.array_equal(seg, whole)
    assert np.mean(whole == walk) > 0.95


# ------------------------------------------------------------------------------ melody head
def test_melody_method_follows_the_tune_over_a_chord():
    """``method="melody"`` (the salience net's melody head) picks the sung-like tune, not the
    louder-in-number chord tones under it, and chunking does not change it."""
    try:
        weights.manifest_entry("salience")
    except ModelError:
        pytest.skip("salience is not in models/manifest.json")
    audio, true, inside = sung_tone(523.25, duration_s=2.0, vib_cents=30.0, seed=5)
    t = np.arange(len(audio)) / SR
    env = np.clip(np.minimum(t - 0.3, 2.7 - t) / 0.05, 0, 1)
    chord = sum(0.5 / h * np.sin(2 * np.pi * h * f * t) for f in (130.81, 164.81, 196.0)
                for h in range(1, 6))
    mix = (audio + 0.08 * env * chord / np.abs(chord).max()).astype(np.float32)
    a = get_analyzer("pitch.f0", method="melody")
    assert a.features == ("hcqt",)
    r = analyze_array(mix, [a]).results["pitch.f0"]
    assert r.freqs_hz.shape == (C.n_frames_for(len(mix)),)
    idx = np.flatnonzero(inside)
    core = np.zeros_like(inside)
    core[idx[10:-10]] = True
    cents = 1200 * np.abs(np.log2(np.maximum(r.freqs_hz[core], 1.0) / true[core]))
    assert np.median(cents) < 30.0
    assert np.mean(cents < 50.0) > 0.8
    assert r.voiced[core].mean() > 0.7
    again = analyze_array(mix, [get_analyzer("pitch.f0", method="melody")], chunk_s=1.0).results["pitch.f0"]
    np.testing.assert_allclose(again.freqs_hz, r.freqs_hz, rtol=1e-3)


# ------------------------------------------------------------------------------ real singing
@pytest.mark.evaldata
@pytest.mark.parametrize("dataset", ["mir1k", "vocadito"])
def test_learned_f0_on_real_singing(evaldata, dataset):
    """The shipped learned f0 (its default Viterbi decoder) on real solo singing: MIR-1K's
    first 10 voice clips (benchmark: RPA 0.973, pYIN 0.977) and vocadito (0.992)."""
    mir_eval = pytest.importorskip("mir_eval")
    from workstation.training import evaldata as ed
    items = list(ed.mir1k(evaldata) if dataset == "mir1k" else ed.vocadito(evaldata))[:10]
    if not items:
        pytest.skip(f"no {dataset} files under {evaldata}")
    scores = []
    for it in items:
        r = analyze(ed.load_audio(it), get_analyzer("pitch.f0", method="pesto"))
        est = np.where(r.voiced, r.freqs_hz, -r.freqs_hz)
        s = mir_eval.melody.evaluate(it.ref["f0_times_s"], it.ref["f0_hz"], r.times_s, est)
        scores.append([s["Raw Pitch Accuracy"], s["Overall Accuracy"]])
    rpa, oa = np.mean(scores, axis=0)
    assert rpa > 0.96 and oa > 0.88, dict(rpa=rpa, oa=oa)
