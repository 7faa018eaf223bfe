"""Speed and memory of the analysis engine: printed tables, not timed tests.

    .venv/bin/python benchmarks/throughput.py [--threads 2] [--device cpu|cuda|both]
                                              [--minutes 10] [--long-minutes 60] [--skip-long] [--peers]

Tables:
1. front end: realtime factor (audio seconds per wall second) of each shared feature,
   the naive HCQT (six nnAudio CQTs) side by side with ours, and our HCQT's error
   against the naive one;
2. analyzers: realtime factor of each analyzer alone, with its features precomputed;
3. pipeline: the whole analysis of a file through the real worker code path
   (decode, resample, chunk, front end, every analyzer);
4. memory: peak resident memory of the whole analysis of a long file, in a fresh process;
5. with ``--peers``: basic-pitch, librosa's pyin and essentia's RhythmExtractor2013 timed on
   the same file in the same process, beside our whole pipeline (``throughput_peers.py``).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workstation.core import constants as C  # noqa: E402


def test_signal(seconds: float, seed: int = 0) -> np.ndarray:
    """Harmonic tones changing every 250 ms over noise and clicks: busy for every analyzer."""
    rng = np.random.default_rng(seed)
    sr = C.SAMPLE_RATE
    n = int(seconds * sr)
    out = np.zeros(n, dtype=np.float32)
    seg = sr // 4
    t = np.arange(seg) / sr
    env = np.minimum(1, np.minimum(t / 0.01, (t[-1] - t) / 0.02)).astype(np.float32)
    for start in range(0, n - seg, seg):
        for _ in range(3):
            f0 = 110 * 2 ** (rng.integers(0, 36) / 12)
            tone = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 7) if f0 * k < sr / 2)
            out[start:start + seg] += 0.1 * env * tone.astype(np.float32)
    out += 0.01 * rng.standard_normal(n).astype(np.float32)
    out[:: sr // 2] += 0.8
    return out


def write_long_wav(path: Path, minutes: float) -> None:
    import soundfile as sf
    block = test_signal(60.0, seed=1)
    with sf.SoundFile(path, "w", samplerate=C.SAMPLE_RATE, channels=1, subtype="PCM_16") as f:
        for i in range(int(np.ceil(minutes))):
            f.write(block * (0.6 + 0.4 * ((i % 3) / 2)))


def rtf(seconds_audio: float, fn, repeat: int = 1) -> tuple[float, float]:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return seconds_audio / best, best


def table(title: str, header: tuple[str, ...], rows: list[tuple]) -> str:
    rows = [tuple(str(c) for c in r) for r in rows]
    w = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    line = lambda r: "| " + " | ".join(c.ljust(x) for c, x in zip(r, w)) + " |"  # noqa: E731
    return "\n".join([f"\n### {title}\n", line(header), "|" + "|".join("-" * (x + 2) for x in w) + "|",
                      *(line(r) for r in rows)])


class PrecomputedFrontEnd:
    """Wraps a FrontEnd and memoises features per segment, so analyzers are timed alone."""

    def __init__(self, fe):
        self.fe = fe
        self.device = fe.device
        self.cache: dict = {}

    def _get(self, name, audio):
        key = (name, len(audio), audio[:: 997].tobytes())
        if key not in self.cache:
            self.cache[key] = getattr(self.fe, name)(audio)
        return self.cache[key]

    def hcqt(self, a):
        return self._get("hcqt", a)

    def stft_mag(self, a):
        return self._get("stft_mag", a)

    def mel(self, a):
        return self._get("mel", a)


def bench_device(device: str, minutes: float) -> list[str]:
    import torch

    from workstation.analysis.base import registry
    from workstation.analysis.pipeline import analyze_array, array_chunks, stages
    from workstation.inference.frontend import FrontEnd, hcqt_reference

    out = []
    fe = FrontEnd(device)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    x30 = test_signal(30.0)
    xl = test_signal(minutes * 60.0)
    fe.hcqt(x30)  # warm-up (kernels, CUDA context)
    sync()
    rows = []
    for name in ("stft_mag", "mel", "hcqt"):
        def run_all(name=name):
            for ch in array_chunks(xl, fe):
                getattr(ch, name)()
            sync()
        r, s = rtf(len(xl) / C.SAMPLE_RATE, run_all)
        rows.append((f"{name} ({minutes:g} min, chunked)", f"{s:.2f}", f"{r:.0f}x"))
    r_ref, s_ref = rtf(30.0, lambda: hcqt_reference(x30, device=device))
    r_new, s_new = rtf(30.0, lambda: fe.hcqt(x30), repeat=2)
    rows.append(("hcqt naive: 6 x nnAudio CQT2010v2 (30 s)", f"{s_ref:.2f}", f"{r_ref:.1f}x"))
    rows.append(("hcqt ours (30 s)", f"{s_new:.2f}", f"{r_new:.0f}x"))
    ref = hcqt_reference(x30, device=device)
    new = fe.hcqt(x30)
    n = min(ref.shape[-1], new.shape[-1])
    ref, new = ref[..., 10:n - 10], new[..., 10:n - 10]
    rel = np.linalg.norm(new - ref, axis=(1, 2)) / np.linalg.norm(ref, axis=(1, 2))
    lr, ln = np.log1p(100 * ref).ravel(), np.log1p(100 * new).ravel()
    corr = float(np.corrcoef(lr, ln)[0, 1])
    rows.append(("hcqt ours vs naive: relative L2 error per harmonic", "",
                 " ".join(f"{e:.3f}" for e in rel)))
    rows.append(("hcqt ours vs naive: correlation of log magnitudes", "", f"{corr:.4f}"))
    out.append(table(f"Front end on {device} ({torch.get_num_threads()} threads)",
                     ("feature", "seconds", "realtime factor"), rows))

    pre = PrecomputedFrontEnd(fe)
    reg = registry()
    analyzers = [cls() for cls in reg.values()]
    # warm the feature cache and collect dependency results
    warm = analyze_array(xl, analyzers, frontend=pre)
    rows = []
    for group in stages(analyzers):
        for a in group:
            known = {k: v for k, v in warm.results.items() if k in a.requires}
            default = a.params.get("method")
            # every method of the analyzer, the default first (side by side with its baseline)
            for method in [default] + [m for m in getattr(a, "methods", ()) if m != default]:
                params = {} if method is None else {"method": method}
                b = type(a)(**params)
                r, s = rtf(len(xl) / C.SAMPLE_RATE,
                           lambda b=b, known=known: analyze_array(xl, [b], frontend=pre,
                                                                  known_results=dict(known)))
                label = f"{a.id} v{a.version}" + ("" if method is None else
                                                  f" {method}" + (" (default)" if method == default else ""))
                rows.append((label, ", ".join(b.features) or "(results)", f"{s:.2f}", f"{r:.0f}x"))
    out.append(table(f"Analyzers alone on {device}, features precomputed ({minutes:g} min signal); "
                     "every method, the default first",
                     ("analyzer", "uses", "seconds", "realtime factor"), rows))
    return out


def bench_pipeline(device: str, minutes: float, tmp: Path) -> str:
    from workstation.analysis.base import TrackInfo, registry
    from workstation.analysis.pipeline import file_chunks, run_pipeline
    from workstation.core.audio import expected_samples, probe
    from workstation.inference.frontend import FrontEnd

    path = tmp / f"bench_{minutes:g}min.wav"
    if not path.exists():
        write_long_wav(path, minutes)
    fe = FrontEnd(device)
    info = probe(str(path))
    n = expected_samples(info, C.SAMPLE_RATE)
    track = TrackInfo(str(path), C.SAMPLE_RATE, n, C.n_frames_for(n), device=device)
    dur = info.duration_s
    rows = []
    # every analyzer with each preset's methods, the pitch analyzers alone, then other choices
    from workstation.analysis.jobs import PRESETS
    pitch = ("pitch.f0", "pitch.salience", "notes")
    presets = [(f"every analyzer, preset {name}" + (" (the default)" if not m else f": {m}"), None, m)
               for name, m in PRESETS.items()]
    for label, ids, methods in (*presets, ("pitch.f0 + pitch.salience + notes (default)", pitch, {}),
                                ("every analyzer, pitch.salience=learned", None, {"pitch.salience": "learned"}),
                                ("every analyzer, pitch.f0=pyin", None, {"pitch.f0": "pyin"})):
        analyzers = [cls(**({"method": methods[aid]} if aid in methods else {}))
                     for aid, cls in registry().items() if ids is None or aid in ids]
        t0 = time.perf_counter()
        out = run_pipeline(lambda: file_chunks(str(path), fe, n_samples=n), track, analyzers)
        wall = time.perf_counter() - t0
        assert not out.errors, out.errors
        rows.append((path.name, label, f"{dur:.0f}", f"{wall:.1f}", f"{dur / wall:.0f}x"))
    return table(f"Whole pipeline on {device}: decode + front end + analyzers",
                 ("file", "analyzers", "audio s", "wall s", "realtime factor"), rows)


def _memory_child(path: str, device: str) -> None:
    from workstation.analysis.base import TrackInfo, registry
    from workstation.analysis.pipeline import file_chunks, run_pipeline
    from workstation.core.audio import expected_samples, probe
    from workstation.inference.frontend import FrontEnd

    fe = FrontEnd(device)
    info = probe(path)
    n = expected_samples(info, C.SAMPLE_RATE)
    track = TrackInfo(path, C.SAMPLE_RATE, n, C.n_frames_for(n), device=device)
    t0 = time.perf_counter()
    out = run_pipeline(lambda: file_chunks(path, fe, n_samples=n), track,
                       [cls() for cls in registry().values()])
    wall = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"RESULT {info.duration_s:.0f} {wall:.1f} {peak_mb:.0f} {len(out.errors)}")


def bench_memory(device: str, minutes: float, tmp: Path) -> str:
    path = tmp / f"bench_{minutes:g}min.wav"
    if not path.exists():
        write_long_wav(path, minutes)
    proc = subprocess.run([sys.executable, __file__, "--memory-child", str(path), "--device", device],
                          capture_output=True, text=True, env=dict(os.environ))
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")]
    if proc.returncode or not line:
        return f"\nmemory run failed:\n{proc.stderr[-2000:]}"
    dur, wall, peak, nerr = line[0].split()[1:]
    return table(f"Peak memory, whole analysis of a {minutes:g}-minute file on {device} (fresh process)",
                 ("audio s", "wall s", "realtime factor", "peak RSS MB", "analyzer errors"),
                 [(dur, wall, f"{float(dur) / float(wall):.0f}x", peak, nerr)])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu", help="cpu | cuda | both")
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--long-minutes", type=float, default=60.0)
    p.add_argument("--skip-long", action="store_true")
    p.add_argument("--peers", action="store_true",
                   help="also time the peers on the same file (throughput_peers.py)")
    p.add_argument("--memory-child")
    args = p.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    os.environ["WORKSTATION_THREADS"] = str(args.threads)
    if args.memory_child:
        _memory_child(args.memory_child, args.device)
        return
    devices = ["cpu", "cuda"] if args.device == "both" else [args.device]
    if "cuda" in devices and not torch.cuda.is_available():
        print("no CUDA device: GPU rows skipped")
        devices.remove("cuda")
    print(f"# Throughput ({os.cpu_count()} CPUs visible, torch threads {args.threads}, torch {torch.__version__})")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for dev in devices:
            for t in bench_device(dev, args.minutes):
                print(t, flush=True)
            print(bench_pipeline(dev, args.minutes, tmp), flush=True)
            if args.peers and dev == "cpu":
                from throughput_peers import bench_peers
                path = tmp / f"bench_{args.minutes:g}min.wav"
                print(table(f"Peers on the same {args.minutes:g}-minute file, same process",
                            ("what", "analyses", "seconds", "realtime factor"),
                            bench_peers(path)), flush=True)
            if not args.skip_long:
                print(bench_memory(dev, args.long_minutes, tmp), flush=True)


if __name__ == "__main__":
    main()
