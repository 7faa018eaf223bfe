"""The basic-pitch port (``workstation.inference.models.basic_pitch`` on ``onnx_graph``).

Known-answer, alignment and shape tests need only torch, numpy and the vendored
``models/basic_pitch_nmp.onnx``. Parity tests against onnxruntime (and against
``basic_pitch.inference.run_inference``) are skipped where those packages are absent.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from workstation.inference.models.basic_pitch import (
    CONTOUR_MIDI_MIN, HOP, INPUT_NAME, KEEP_FRAMES, LEAD_FRAMES, N_CONTOUR_BINS, N_NOTES,
    NOTE_MIDI_MIN, OUTPUT_NAMES, WINDOW_FRAMES, WINDOW_SAMPLES, Audio2BasicPitch, load_basic_pitch)

REPO = Path(__file__).resolve().parents[1]
MODEL_PATH = REPO / "models" / "basic_pitch_nmp.onnx"
SR = 22050
TRIAD = (60, 64, 67)


@pytest.fixture(scope="module")
def net():
    return load_basic_pitch(MODEL_PATH)


@pytest.fixture(scope="module")
def a2bp(net):
    """Full precision: the parity tests compare with onnxruntime and basic-pitch to 1e-4."""
    return Audio2BasicPitch(net, batch_size=4, precision="float32")


@pytest.fixture(scope="module")
def a2bp_auto(net):
    """As the analyzer runs it: bfloat16 learned convolutions on an AVX-512 CPU."""
    return Audio2BasicPitch(net, batch_size=4)


def piano(notes: list[tuple[int, float, float]], total_s: float) -> np.ndarray:
    """Piano-like tones: (MIDI, onset s, duration s) -> float32 [shape=(total_s * SR,)];
    7 harmonics at 1/h amplitude, faster decay for higher harmonics, 2 ms attack, 20 ms release."""
    x = np.zeros(int(round(total_s * SR)))
    for midi, onset_s, dur_s in notes:
        f0 = 440.0 * 2.0 ** ((midi - 69) / 12.0)
        t = np.arange(int(dur_s * SR)) / SR
        env = np.minimum(1.0, t / 0.002) * np.clip((dur_s - t) / 0.02, 0.0, 1.0)
        tone = sum(np.sin(2 * np.pi * f0 * h * t) * np.exp(-(1.0 + 0.7 * h) * t) / h for h in range(1, 8))
        s = int(round(onset_s * SR))
        seg = x[s:s + len(t)]
        seg += 0.15 * (env * tone)[:len(seg)]
    return x.astype(np.float32)


def random_music(seconds: float, seed: int) -> np.ndarray:
    """A few seconds of random piano-like notes over a little noise."""
    rng = np.random.default_rng(seed)
    notes = [(int(rng.integers(36, 90)), float(rng.uniform(0, seconds - 0.3)), float(rng.uniform(0.1, 1.2)))
             for _ in range(int(4 * seconds))]
    x = piano(notes, seconds) + 1e-3 * rng.standard_normal(int(round(seconds * SR))).astype(np.float32)
    return x.astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Without onnxruntime
# ---------------------------------------------------------------------------------------------

def test_network_io(net):
    assert not any(p.requires_grad for p in net.parameters()) and not net.training
    buffers = list(net.buffers())
    assert buffers and all(b.is_floating_point() for b in buffers)
    x = torch.zeros(3, WINDOW_SAMPLES, 1)
    with torch.inference_mode():
        out = net(x)
        out2 = net(x[:1, :, 0])                 # (batch, samples) is accepted too
    assert set(out) == {"contour", "note", "onset"}
    assert out["contour"].shape == (3, WINDOW_FRAMES, N_CONTOUR_BINS)
    assert out["note"].shape == out["onset"].shape == (3, WINDOW_FRAMES, N_NOTES)
    assert out2["note"].shape == (1, WINDOW_FRAMES, N_NOTES)
    with pytest.raises(ValueError):
        net(torch.zeros(1, 1000, 1))


@pytest.mark.parametrize("precision", ["float32", "auto"])
def test_c_major_triad_known_answer(a2bp, a2bp_auto, precision):
    """C4 E4 G4 for 1 s from 0.5 s, then silence: notes high during, low elsewhere, onsets
    at the onset frame, contour peaks at the three pitches."""
    x = piano([(m, 0.5, 1.0) for m in TRIAD], 2.5)
    out = (a2bp if precision == "float32" else a2bp_auto)(x)
    note, onset, contour = out["note"], out["onset"], out["contour"]
    on, off = round(0.5 * SR / HOP), round(1.5 * SR / HOP)
    rows = [m - NOTE_MIDI_MIN for m in TRIAD]
    others = np.setdiff1d(np.arange(N_NOTES), rows)
    assert note[rows, on + 3:off - 3].min() > 0.5
    assert note[others, on:off].max() < 0.5
    assert note[:, :on - 3].max() < 0.3 and note[:, off + 10:].max() < 0.3
    for r in rows:
        assert abs(int(np.argmax(onset[r])) - 0.5 * SR / HOP) <= 2
        assert onset[r].max() > 0.5
    mid = contour[:, (on + off) // 2]
    peaks = np.sort(np.argsort(mid)[-3:])
    np.testing.assert_allclose(CONTOUR_MIDI_MIN + peaks / 3.0, TRIAD, atol=0.34)


def test_reduced_precision_only_in_the_learned_convolutions(net, a2bp, a2bp_auto):
    """The graph's learned 2-D convolutions (kernels wider than 1 on both axes) are the ones
    "auto" may run in bfloat16, never the CQT's (1, n) filter banks; outputs stay within 0.03
    of float32 and the 0.5-thresholded notes and onsets agree on >= 99.9 % of the cells."""
    g = net.graph
    weight_names = [g._steps[k][1][1] for k in g._spatial]       # Conv inputs: x, w, b
    kernels = sorted(tuple(getattr(g, g._buffer_of[w]).shape[2:]) for w in weight_names)
    assert kernels == sorted([(3, 39), (5, 5), (7, 7), (7, 3), (5, 5), (3, 3)])
    x = random_music(6.0, seed=11)
    full, auto = a2bp(x), a2bp_auto(x)
    for k in full:
        assert np.abs(full[k] - auto[k]).max() < 0.03, k
        assert ((full[k] > 0.5) == (auto[k] > 0.5)).mean() >= 0.999, k
    with pytest.raises(ValueError, match="precision"):
        Audio2BasicPitch(net, precision="bfloat16")


def test_time_alignment_without_drift(a2bp):
    """Onsets anywhere in a 14 s file (8 model windows) peak within a frame of sample / 256,
    while basic-pitch's own windowing (hop of 141.27 frames) drifts later window by window."""
    onsets = [0.7 + 1.5 * i + 0.0037 * i for i in range(9)]       # 0.7 s .. 12.7 s
    x = piano([(69 if i % 2 else 64, t, 0.5) for i, t in enumerate(onsets)], 14.0)
    ours, theirs = a2bp(x)["onset"], a2bp.basic_pitch_unwrapped(x)["onset"]
    late = []
    for i, t in enumerate(onsets):
        row, frame = (69 if i % 2 else 64) - NOTE_MIDI_MIN, t * SR / HOP
        lo = int(frame) - 12
        assert abs(lo + int(np.argmax(ours[row, lo:lo + 25])) - frame) <= 1, t
        late.append(lo + int(np.argmax(theirs[lo:lo + 25, row])) - frame)
    assert abs(late[0]) <= 1 and late[-1] >= 4      # 7 windows * 0.73 frame ~ 5 frames


@pytest.mark.parametrize("n_samples", [0, 1, 2205, 44100, 116865])   # 0, 0.1 s, 2.0 s, 5.3 s
def test_any_length(a2bp, n_samples):
    x = random_music(6.0, seed=3)[:n_samples]
    out = a2bp(x)
    n_frames = 1 + n_samples // HOP
    assert out["note"].shape == out["onset"].shape == (N_NOTES, n_frames)
    assert out["contour"].shape == (N_CONTOUR_BINS, n_frames)
    for v in out.values():
        assert v.dtype == np.float32 and v.flags.c_contiguous
        assert np.isfinite(v).all() and v.min() >= 0.0 and v.max() <= 1.0
    if n_samples:
        bp = a2bp.basic_pitch_unwrapped(x)
        assert bp["note"].shape == (int(np.floor(n_samples * (86 / SR))), N_NOTES)


@pytest.mark.parametrize("precision, atol", [("float32", 1e-4), ("auto", 0.03)])
def test_batch_size_does_not_matter(net, precision, atol):
    """(In bfloat16 oneDNN may pick another kernel for another batch size: 0.03 there.)"""
    x = random_music(5.0, seed=4)
    one = Audio2BasicPitch(net, batch_size=1, precision=precision)(x)
    many = Audio2BasicPitch(net, batch_size=16, precision=precision)(x)
    for k in one:
        np.testing.assert_allclose(one[k], many[k], atol=atol)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu(net):
    x = random_music(4.0, seed=5)
    cpu = Audio2BasicPitch(net, batch_size=4, precision="float32")(x)
    gpu = Audio2BasicPitch(load_basic_pitch(MODEL_PATH), device="cuda", batch_size=4)(x)
    for k in cpu:
        assert np.abs(cpu[k] - gpu[k]).max() < 1e-4, k


def test_parser_matches_onnx_package():
    onnx = pytest.importorskip("onnx", reason="the onnx package is not installed")
    from onnx import numpy_helper

    from workstation.inference.onnx_graph import read_onnx
    ours, ref = read_onnx(MODEL_PATH), onnx.load(str(MODEL_PATH))
    assert ours.opset == next(o.version for o in ref.opset_import if o.domain in ("", "ai.onnx"))
    assert [o.name for o in ref.graph.output] == ours.outputs and ours.inputs == [INPUT_NAME]
    inits = {t.name: numpy_helper.to_array(t) for t in ref.graph.initializer}
    assert inits.keys() == ours.initializers.keys()
    for name, arr in inits.items():
        assert arr.dtype == ours.initializers[name].dtype
        np.testing.assert_array_equal(arr, ours.initializers[name])
    assert len(ref.graph.node) == len(ours.nodes)
    for a, b in zip(ref.graph.node, ours.nodes):
        assert (a.op_type, list(a.input), list(a.output)) == (b.op_type, b.inputs, b.outputs)
        for attr in a.attribute:
            v = onnx.helper.get_attribute_value(attr)
            v = v.decode() if isinstance(v, bytes) else list(v) if not np.isscalar(v) else v
            assert b.attrs[attr.name] == v, (a.op_type, attr.name)


# ---------------------------------------------------------------------------------------------
# Parity with onnxruntime / basic_pitch (skipped where absent)
# ---------------------------------------------------------------------------------------------

def _ort_session():
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (parity test)")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    return ort.InferenceSession(str(MODEL_PATH), opts, providers=["CPUExecutionProvider"])


def _ort_outputs(sess, windows: np.ndarray) -> dict[str, np.ndarray]:
    """windows [shape=(n, 43844)] -> {key: [shape=(n, 172, bins)]} from onnxruntime."""
    names = list(OUTPUT_NAMES.values())
    res = sess.run(names, {INPUT_NAME: windows[:, :, None].astype(np.float32)})
    return dict(zip(OUTPUT_NAMES, res))


def test_parity_with_onnxruntime(net, a2bp):
    sess = _ort_session()
    x = random_music(4.5, seed=7)
    # raw windows
    windows = np.stack([np.pad(x, (0, WINDOW_SAMPLES))[s:s + WINDOW_SAMPLES] for s in (0, 20000, 40000)])
    ref = _ort_outputs(sess, windows)
    with torch.inference_mode():
        out = net(torch.from_numpy(windows))
    for k in ref:
        assert np.abs(out[k].numpy() - ref[k]).max() < 1e-4, k
    # the full path: windows starting 15 frames before the audio every 141 frames, frames 15..155
    hop, lead = KEEP_FRAMES * HOP, LEAD_FRAMES * HOP
    n_frames = 1 + len(x) // HOP
    padded = np.concatenate([np.zeros(lead, np.float32), x, np.zeros(2 * WINDOW_SAMPLES, np.float32)])
    starts = range(0, n_frames * HOP, hop)
    ref = _ort_outputs(sess, np.stack([padded[s:s + WINDOW_SAMPLES] for s in starts]))
    got = a2bp(x)
    for k, v in ref.items():
        want = v[:, LEAD_FRAMES:LEAD_FRAMES + KEEP_FRAMES].reshape(-1, v.shape[-1])[:n_frames].T
        assert np.abs(got[k] - want).max() < 1e-4, k


def test_parity_with_basic_pitch_run_inference(a2bp, tmp_path):
    sess = _ort_session()   # noqa: F841  (skips without onnxruntime)
    inference = pytest.importorskip("basic_pitch.inference", reason="basic_pitch is not installed")
    sf = pytest.importorskip("soundfile")
    x = random_music(5.0, seed=8)
    path = tmp_path / "music.wav"
    sf.write(path, x, SR, subtype="FLOAT")
    ref = inference.run_inference(path, inference.Model(MODEL_PATH))
    replica, ours = a2bp.basic_pitch_unwrapped(x), a2bp(x)
    for k in ("note", "onset", "contour"):
        assert replica[k].shape == ref[k].shape
        assert np.abs(replica[k] - ref[k]).max() < 1e-4, k
        # the first window is on both grids: frames 0..140 agree
        assert np.abs(ours[k][:, :KEEP_FRAMES].T - ref[k][:KEEP_FRAMES]).max() < 1e-4, k


def test_silent_window_does_not_depend_on_its_batch(net):
    """An all-zero window (normalisation 0 / 0 -> 0) gives the same output alone or batched
    with a loud one. (onnxruntime 1.32 does not: batched, its silent-window output moves by
    up to 0.05.)"""
    x = np.zeros((2, WINDOW_SAMPLES), np.float32)
    x[1] = random_music(2.0, seed=9)[:WINDOW_SAMPLES]
    with torch.inference_mode():
        both, alone = net(torch.from_numpy(x)), net(torch.from_numpy(x[:1]))
    for k in both:
        assert torch.isfinite(both[k]).all()
        assert (both[k][0] - alone[k][0]).abs().max() < 1e-5, k


@pytest.mark.parametrize("length, stride", [(44098, 2), (1001, 2), (257, 3), (256, 2), (900, 7)])
def test_polyphase_fir_equals_the_strided_convolution(length, stride):
    """The strided one-channel FIR (basic-pitch's anti-aliasing filter before each CQT octave)
    runs as a polyphase convolution: the same output as the plain strided Conv, any length."""
    from torch.nn import functional as F

    from workstation.inference.onnx_graph import OnnxNode, _build_conv

    rng = np.random.default_rng(length)
    h = rng.standard_normal((1, 1, 1, 256)).astype(np.float32)
    consts = {"w": h, "b": np.array([0.25], np.float32)}
    node = OnnxNode("Conv", ["x", "w", "b"], ["y"], {"strides": [1, stride], "kernel_shape": [1, 256]})
    fn, args = _build_conv(node, consts)
    assert args[1] == "w::polyphase"     # the polyphase path was taken
    x = torch.from_numpy(rng.standard_normal((3, 1, 1, length)).astype(np.float32))
    got = fn(x, *(torch.from_numpy(consts[a]) for a in args[1:]))
    want = F.conv2d(x.double(), torch.from_numpy(h).double(), torch.tensor([0.25]).double(), stride=(1, stride))
    assert got.shape == want.shape
    np.testing.assert_allclose(got.double().numpy(), want.numpy(), atol=1e-4)


def test_chunks_on_the_track_grid_equal_the_whole_track(a2bp):
    """``frames_on_grid`` on padded segments (as the analyzer's chunks: 3 s of border) gives the
    whole track's numbers, frame for frame, wherever the chunk boundaries fall."""
    x = random_music(9.0, seed=3)
    whole = a2bp(x)
    n_frames = whole["note"].shape[1]
    pad = 3 * SR
    for lo, hi in ((0, 300), (300, 611), (611, n_frames), (141, 142), (5, 5)):
        s0 = lo * HOP - pad
        seg = np.zeros(pad + (hi - lo) * HOP + pad, np.float32)
        a, b = max(s0, 0), min(hi * HOP + pad, len(x))
        seg[a - s0:b - s0] = x[a:b]
        got = a2bp.frames_on_grid(seg, s0, lo, hi)
        for k, v in whole.items():
            assert got[k].shape == (v.shape[0], hi - lo)
            np.testing.assert_allclose(got[k], v[:, lo:hi], atol=1e-5)
