"""ONNX Runtime against our torch modules, per pretrained network, on the CPU.

    .venv/bin/python benchmarks/onnx_vs_torch.py [--threads 2]

The speed issue asks to run each network with the faster engine. For each network this
times, on the same inputs in one process: our torch module in float32, in the low precision
the product uses where the CPU runs it natively (bfloat16 on AVX-512), and ONNX Runtime
(float32, all graph optimisations, ``--threads`` intra-op threads), and prints the largest
output difference. ``onnxruntime`` (and ``onnx`` for exporting CREPE) are not product
dependencies: install them beside the venv (``pip install --target DIR onnxruntime onnx``)
and pass ``--extra-path DIR``.

- basic-pitch: its own ``nmp.onnx`` from the basic-pitch wheel (what our ``OnnxGraph`` runs);
  16 windows of 2 s.
- CREPE tiny: our ``CrepeNet`` in torchcrepe's layer order exported to ONNX (opset 17; ONNX
  Runtime fuses the batch norms itself); 1024 windows of 64 ms.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def bench(fn, repeat: int = 3) -> float:
    """Seconds per call (after one warm-up call)."""
    fn()
    t0 = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - t0) / repeat


def session(ort, path: Path, threads: int):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def basic_pitch_rows(ort, threads: int) -> list[tuple]:
    from workstation.inference.manifest import manifest_entry
    from workstation.inference.models.basic_pitch import OUTPUT_NAMES, WINDOW_SAMPLES
    from workstation.inference.weights import load_model, weights_path
    net = load_model("basic-pitch", device="cpu")
    x = (np.random.default_rng(0).standard_normal((16, WINDOW_SAMPLES, 1)) * 0.1).astype(np.float32)
    secs = 16 * WINDOW_SAMPLES / 22050
    xt = torch.from_numpy(x)
    with torch.inference_mode():
        ref = {k: v.numpy() for k, v in net(xt).items()}
        t32 = bench(lambda: net(xt))
        tlow = bench(lambda: net(xt, lowp_dtype=torch.bfloat16))
    rows = [("basic-pitch", "torch float32 (OnnxGraph)", f"{t32 * 1000:.0f}", f"{secs / t32:.0f}x", "0"),
            ("basic-pitch", "torch, 2-D convolutions in bfloat16 (product)", f"{tlow * 1000:.0f}",
             f"{secs / tlow:.0f}x", "")]
    if ort is None:
        return rows + [("basic-pitch", "ONNX Runtime", "not installed", "", "")]
    s = session(ort, weights_path(manifest_entry("basic-pitch")), threads)
    name = s.get_inputs()[0].name
    tort = bench(lambda: s.run(None, {name: x}))
    out = dict(zip([o.name for o in s.get_outputs()], s.run(None, {name: x})))
    diff = max(float(np.abs(out[n] - ref[k]).max()) for k, n in OUTPUT_NAMES.items())
    return rows + [("basic-pitch", "ONNX Runtime float32", f"{tort * 1000:.0f}", f"{secs / tort:.0f}x",
                    f"{diff:.1e}")]


def crepe_rows(ort, threads: int) -> list[tuple]:
    from workstation.analysis.analyzers.f0 import CREPE_MODELS
    from workstation.inference.weights import load_model
    net = load_model(CREPE_MODELS["crepe-tiny"], device="cpu")

    class Plain(torch.nn.Module):   # torchcrepe's layer order: plain ops the exporter knows
        def __init__(self, n):
            super().__init__()
            self.n = n

        def forward(self, x):
            b = x.shape[0]
            return self.n._forward_plain(torch.nn.functional.pad(x, (254, 254)).reshape(b, -1, 4).transpose(1, 2))

    x = torch.randn(1024, 1024, generator=torch.Generator().manual_seed(0))
    secs = 1024 * 2 * 256 / 22050   # the default runs CREPE on every 2nd frame of our grid
    with torch.inference_mode():
        ref = net(x).numpy()
        t32 = bench(lambda: net(x))
        tlow = bench(lambda: net(x.to(torch.bfloat16)))
    rows = [("CREPE tiny", "torch float32, folded layers", f"{t32 * 1000:.0f}", f"{secs / t32:.0f}x", "0"),
            ("CREPE tiny", "torch bfloat16, folded layers (product)", f"{tlow * 1000:.0f}",
             f"{secs / tlow:.0f}x", "")]
    if ort is None:
        return rows + [("CREPE tiny", "ONNX Runtime", "not installed", "", "")]
    import importlib.util
    if importlib.util.find_spec("onnx") is None:   # the TorchScript exporter needs it
        return rows + [("CREPE tiny", "ONNX Runtime", "onnx not installed (exporter)", "", "")]
    with tempfile.TemporaryDirectory() as tmp, torch.inference_mode():
        path = Path(tmp) / "crepe_tiny.onnx"
        torch.onnx.export(Plain(net), (x,), str(path), input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "n"}, "y": {0: "n"}}, opset_version=17, dynamo=False)
        s = session(ort, path, threads)
        xn = x.numpy()
        tort = bench(lambda: s.run(None, {"x": xn}))
        diff = float(np.abs(s.run(None, {"x": xn})[0] - ref).max())
    return rows + [("CREPE tiny", "ONNX Runtime float32 (exported, BN fused by ORT)",
                    f"{tort * 1000:.0f}", f"{secs / tort:.0f}x", f"{diff:.1e}")]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--extra-path", help="a folder with onnxruntime (and onnx) installed")
    args = ap.parse_args()
    if args.extra_path:
        sys.path.append(args.extra_path)
    torch.set_num_threads(args.threads)
    try:
        import onnxruntime as ort
    except ImportError:
        ort = None
    rows = basic_pitch_rows(ort, args.threads) + crepe_rows(ort, args.threads)
    header = ("network", "engine", "ms per batch", "realtime", "max |diff| vs torch f32")
    widths = [max(len(str(r[i])) for r in (header, *rows)) for i in range(len(header))]
    print(f"# torch {torch.__version__}, {args.threads} threads"
          + (f", onnxruntime {ort.__version__}" if ort else ""))
    for r in (header, tuple("-" * w for w in widths), *rows):
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
