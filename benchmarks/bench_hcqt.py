"""HCQT speed and accuracy: the fast multirate HCQT (``inference.cqt``) against the naive
reference (six nnAudio CQT2010v2, ``frontend.hcqt_reference``).

    .venv/bin/python benchmarks/bench_hcqt.py [--threads 2] [--long-s 600] [--skip-naive-long]

Prints a table: realtime factor of both on 30 s and on a long signal (processed chunk by
chunk as the pipeline does: 60 s + 3 s borders), and per-harmonic accuracy on a test signal
(harmonic tones + noise): relative L2 error, max and 99th-percentile |dB| error over active
bins (within 40 dB of the maximum), correlation of log-magnitudes.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from workstation.analysis.pipeline import array_chunks
from workstation.core import constants as C
from workstation.inference.frontend import FrontEnd, hcqt_reference


class _NaiveFrontEnd(FrontEnd):
    def hcqt(self, audio):
        return hcqt_reference(audio, device=self.device)


def test_signal(seconds: float, seed: int = 0) -> np.ndarray:
    """Harmonic tones changing every 2 s (5 partials, 1/k amplitudes) plus white noise at -40 dB."""
    sr = C.SAMPLE_RATE
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    x = 0.003 * rng.standard_normal(n)
    seg = 2 * sr
    t = np.arange(seg) / sr
    for s0 in range(0, n, seg):
        m = min(seg, n - s0)
        for f0 in 440.0 * 2 ** ((rng.integers(24, 96, size=3) - 69) / 12):
            for k in range(1, 6):
                if f0 * k < 10000:
                    x[s0:s0 + m] += 0.2 / k * np.sin(2 * np.pi * f0 * k * t[:m] + rng.uniform(0, 6))
    return x.astype(np.float32)


def chunked(audio: np.ndarray, frontend) -> float:
    t0 = time.perf_counter()
    for chunk in array_chunks(audio, frontend):
        chunk.hcqt()
    return time.perf_counter() - t0


def accuracy(seconds: float = 20.0) -> list[tuple]:
    x = test_signal(seconds, seed=1)
    ref = hcqt_reference(x)
    fast = FrontEnd("cpu").hcqt(x)
    edge = int(3 * C.FRAME_RATE)  # the reference pads by reflection, the fast one by zeros
    rows = []
    for i, h in enumerate(C.HARMONICS):
        r, f = ref[i][:, edge:-edge], fast[i][:, edge:-edge]
        active = r > r.max() * 1e-2
        db = 20 * np.log10(np.maximum(f[active], 1e-12) / r[active])
        floor = 1e-3 * r.max()
        corr = np.corrcoef(np.log(r + floor).ravel(), np.log(f + floor).ravel())[0, 1]
        rows.append((h, np.linalg.norm(f - r) / np.linalg.norm(r), np.abs(db).max(),
                     np.percentile(np.abs(db), 99), corr))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--long-s", type=float, default=600.0)
    ap.add_argument("--skip-naive-long", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    fast, naive = FrontEnd("cpu"), _NaiveFrontEnd("cpu")
    short = test_signal(30.0)
    chunked(short[: C.SAMPLE_RATE], fast), chunked(short[: C.SAMPLE_RATE], naive)  # warm-up
    print(f"HCQT speed, {args.threads} threads (realtime factor = audio seconds / wall seconds)")
    print(f"{'signal':>10} {'naive s':>9} {'naive x':>8} {'fast s':>8} {'fast x':>8} {'speed-up':>9}")
    for secs in (30.0, args.long_s):
        x = short if secs == 30.0 else test_signal(secs)
        tf = chunked(x, fast)
        tn = float("nan") if (secs != 30.0 and args.skip_naive_long) else chunked(x, naive)
        print(f"{secs:>9.0f}s {tn:>9.2f} {secs / tn:>7.1f}x {tf:>8.2f} {secs / tf:>7.1f}x {tn / tf:>8.1f}x")
    print("\nAccuracy vs reference (20 s tones + noise, 3 s edges excluded)")
    print(f"{'harmonic':>8} {'rel L2':>8} {'max|dB|':>8} {'p99|dB|':>8} {'log corr':>9}")
    for h, rel, mx, p99, corr in accuracy():
        print(f"{h:>8} {rel:>8.4f} {mx:>8.3f} {p99:>8.3f} {corr:>9.5f}")


if __name__ == "__main__":
    main()
