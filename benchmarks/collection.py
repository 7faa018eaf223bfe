"""Speed and memory of analysing a whole collection: a printed table, not a timed test.

    .venv/bin/python benchmarks/collection.py [--clips 1000] [--seconds 30] [--clips-dir DIR]
                                              [--device cpu|cuda] [--threads 2] [--peer-clips 20]

1. renders ``--clips`` pieces of ``--seconds`` with the demo collection's composer and
   renderer (``workstation.training.demo``: ``compose(seed, style=...)``, ``render`` with
   FluidSynth, written as tagged FLAC 44.1 kHz stereo like ``build_collection``) into
   ``--clips-dir`` (default ``~/.cache/workstation-bench/collection-<N>``); clips already
   there are reused, so a second run only analyses;
2. scans them into a fresh temporary library and analyses them as ``workstation analyze``
   does: every analyzer, the default preset, ``Scheduler(lib, device=...).run(jobs_for(...))``
   with its worker process. Only the analysis is timed (worker start-up and model loading
   included, the scan and the rendering not);
3. prints clips, audio hours, wall time, realtime factor (audio s / wall s), tracks per hour,
   and the memory of the analysis, which runs in a spawned process of its own that holds only
   what ``workstation analyze`` holds (the scheduler and its workers, not this benchmark's
   rendering): each worker's peak RSS, the scheduler's, and the peak of their sum at one moment
   (psutil if installed, else /proc/<pid>/status VmRSS, sampled every 0.25 s); done/failed
   counts, GPU utilisation (``--device cuda`` with nvidia-smi), and, beside it, basic-pitch 0.4
   alone (the peer of benchmarks/peers.py) on the first ``--peer-clips`` clips.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from throughput import table  # noqa: E402  (benchmarks/throughput.py)

STYLES = ("pop", "rock", "ballad", "swing", "bossa", "waltz")
SEED0 = 20_000
SR, CHANNELS, FMT = 44100, 2, "flac"


# ---------------------------------------------------------------------------------------------
# 1. the clips


def clip_specs(n: int, seconds: float) -> list:
    """One DemoSpec per clip: seed SEED0 + i, the styles in turn; key, tempo, instruments and
    vibrato are drawn from the seed by ``compose``."""
    from workstation.training.demo import DemoSpec
    return [DemoSpec(i + 1, SEED0 + i, STYLES[i % len(STYLES)], None, None, float(seconds), (), None,
                     FMT, SR, CHANNELS, "system") for i in range(n)]


def clip_path(folder: Path, spec) -> Path:
    return folder / f"{spec.number:05d}_{spec.style}_s{spec.seed}_{spec.duration_s:g}s.{spec.fmt}"


def render_clips(folder: Path, specs: list) -> tuple[int, float]:
    """Render the clips missing from ``folder`` -> (how many were rendered, seconds taken)."""
    from workstation.training.demo import _write_audio
    from workstation.training.demo_render import render

    folder.mkdir(parents=True, exist_ok=True)
    todo = [s for s in specs if not clip_path(folder, s).exists()]
    t0 = time.perf_counter()
    for k, spec in enumerate(todo):
        piece = spec.compose()
        y = render(piece, sr=spec.sr, sf2_path=spec.sf2(), stereo=spec.channels == 2)
        final = clip_path(folder, spec)
        part = final.with_name(final.name + ".part")  # never a half-written clip under its name
        _write_audio(part, y, spec, piece)
        os.replace(part, final)
        if (k + 1) % 10 == 0 or k + 1 == len(todo):
            el = time.perf_counter() - t0
            print(f"rendered {k + 1}/{len(todo)} ({el / (k + 1):.2f} s per clip)", file=sys.stderr, flush=True)
    return len(todo), time.perf_counter() - t0


# ---------------------------------------------------------------------------------------------
# 2. memory and GPU samplers


def _children(pid: int) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid:
            out.append(int(d))
    return out


def _is_worker(pid: int) -> bool:
    """The scheduler's spawned worker, not multiprocessing's resource tracker."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            cmd = fh.read().replace(b"\0", b" ")
    except OSError:
        return False
    return b"spawn_main" in cmd and b"resource_tracker" not in cmd


def _vm_rss_mb(pid: int) -> float | None:
    """The VmRSS line of /proc/PID/status in MB (None once the process is gone)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class Sampler(threading.Thread):
    """Samples, every ``period`` s until ``stop()``, the RSS of the analysis process ``root``
    (the scheduler, as ``workstation analyze`` runs it) and of every worker it starts (keyed by
    pid): each one's peak and the peak of their sum at one moment (what the machine must hold);
    with ``gpu``, nvidia-smi's utilisation and memory."""

    def __init__(self, gpu: bool, root: int | None = None, period: float = 0.25):
        super().__init__(daemon=True)
        self.period, self.gpu = period, gpu
        self.root = root or os.getpid()
        self.worker_mb: dict[int, float] = {}
        self.root_mb = 0.0
        self.total_mb = 0.0
        self.gpu_util: list[float] = []
        self.gpu_mem: list[float] = []
        self._halt = threading.Event()
        try:
            import psutil
            self.psutil = psutil
        except ImportError:
            self.psutil = None
        self.source = "psutil rss" if self.psutil else "/proc VmRSS"

    def _rss_mb(self, pid: int) -> float | None:
        if self.psutil is not None:
            try:
                return self.psutil.Process(pid).memory_info().rss / 2**20
            except self.psutil.Error:
                return None
        return _vm_rss_mb(pid)

    def _sample_tree(self) -> None:
        root = self._rss_mb(self.root)
        if root is None:
            return
        total = root
        self.root_mb = max(self.root_mb, root)
        for pid in _children(self.root):
            if _is_worker(pid):
                mb = self._rss_mb(pid)
                if mb is not None:
                    total += mb
                    self.worker_mb[pid] = max(self.worker_mb.get(pid, 0.0), mb)
        self.total_mb = max(self.total_mb, total)

    def _sample_gpu(self) -> None:
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu,memory.used",
                                  "--format=csv,noheader,nounits", "-i", "0"],
                                 capture_output=True, text=True, timeout=5).stdout
            u, m = (float(v) for v in out.strip().splitlines()[0].split(","))
        except (OSError, ValueError, IndexError, subprocess.SubprocessError):
            return
        self.gpu_util.append(u)
        self.gpu_mem.append(m)

    def run(self) -> None:
        while not self._halt.is_set():
            self._sample_tree()
            if self.gpu:
                self._sample_gpu()
            self._halt.wait(self.period)

    def stop(self) -> None:
        self._halt.set()
        self.join()


# ---------------------------------------------------------------------------------------------
# 3. the analysis, as `workstation analyze` runs it


def _analysis_process(paths: list[str], device: str, workers: int, threads: int | None, out) -> None:
    """The analysis in a process of its own, spawned, so that it holds only what
    ``workstation analyze`` holds (not this benchmark's rendering or torch): scan into a fresh
    library, then ``Scheduler.run`` on every default analyzer. Puts a plain dict on ``out``."""
    from workstation.analysis.jobs import PRESETS, specs_for, with_methods
    from workstation.analysis.scheduler import Scheduler, jobs_for
    from workstation.library import Library

    with tempfile.TemporaryDirectory(prefix="workstation-bench-lib-") as root:
        lib = Library.open(root)
        t0 = time.perf_counter()
        report = lib.scan(Path(paths[0]).parent)
        scan_s = time.perf_counter() - t0
        wanted = {str(Path(p).resolve()) for p in paths}
        tracks = [t for t in lib.tracks(status="ok") if t.path in wanted]
        specs = with_methods(specs_for(None), PRESETS["default"])  # as `analyze --preset default`
        jobs = jobs_for(lib, specs, [t.id for t in tracks])
        failures: list[str] = []

        def on_event(ev):
            if ev.kind in ("analyzer_failed", "track_failed", "worker_crashed") and len(failures) < 5:
                failures.append(f"{ev.kind}: {ev.message}"[:200])

        out.put("start")
        sched = Scheduler(lib, device=device, workers=workers, threads=threads)
        t0 = time.perf_counter()
        try:
            counts = sched.run(jobs, on_event)
        finally:
            wall = time.perf_counter() - t0
            sched.close()
        audio_s = sum(t.duration_s or 0.0 for t in tracks)
        lib.close()
    out.put(dict(counts=dict(counts), wall=wall, audio_s=audio_s, n=len(jobs), scan_s=scan_s,
                 unreadable=len(paths) - len(tracks), scan_failed=list(report.failed)[:5],
                 failures=failures))


def analyse(paths: list[Path], device: str, gpu: bool, workers: int = 1, threads: int | None = None) -> dict:
    """Runs ``_analysis_process`` and samples its memory (and the GPU) while it analyses ->
    its dict with ``sampler`` added."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=_analysis_process, args=([str(p) for p in paths], device, workers, threads, out))
    proc.start()
    first = out.get()   # "start": the scan is done, the analysis begins
    assert first == "start", first
    sampler = Sampler(gpu, root=proc.pid)
    sampler.start()
    try:
        r = out.get()
    finally:
        sampler.stop()
        proc.join()
    r["sampler"] = sampler
    return r


def peer_basic_pitch(paths: list[Path]) -> tuple[str, float, float] | None:
    """basic-pitch alone on ``paths`` -> (status, audio s, wall s); None where not installed.
    Timed per clip around ``peers.basic_pitch_notes`` (its model loaded by a warm-up first)."""
    from peers import basic_pitch_notes, peer

    from workstation.core import constants as C
    from workstation.core.audio import load

    if not (peer("basic_pitch") and peer("onnxruntime")):
        return None
    audio_s = wall = 0.0
    with contextlib.redirect_stdout(io.StringIO()):  # warm-up: the ONNX model loads
        basic_pitch_notes(load(paths[0])[: 2 * C.SAMPLE_RATE])
    for p in paths:
        x = load(p)
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # it prints a line per file
            basic_pitch_notes(x)
        wall += time.perf_counter() - t0
        audio_s += len(x) / C.SAMPLE_RATE
    return "ok", audio_s, wall


# ---------------------------------------------------------------------------------------------


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clips", type=int, default=1000)
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--clips-dir", help="default ~/.cache/workstation-bench/collection-<N>")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--threads", type=int, default=2, help="torch threads in all (divided among the workers)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (Scheduler(workers=N))")
    p.add_argument("--peer-clips", type=int, default=20, help="clips for basic-pitch (0: skip)")
    args = p.parse_args()
    if args.clips < 1 or args.seconds < 10:
        p.error("--clips must be at least 1 and --seconds at least 10 (the composer needs 3 bars)")
    # before torch loads here and before the worker is spawned (it inherits the environment)
    os.environ["WORKSTATION_THREADS"] = str(max(1, args.threads // max(1, args.workers)))
    os.environ["OMP_NUM_THREADS"] = os.environ["WORKSTATION_THREADS"]
    import torch
    torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda: no CUDA device here")

    suffix = "" if args.seconds == 30 else f"-{args.seconds:g}s"
    folder = Path(args.clips_dir or f"~/.cache/workstation-bench/collection-{args.clips}{suffix}").expanduser()
    specs = clip_specs(args.clips, args.seconds)
    print(f"# Collection ({os.cpu_count()} CPUs visible, torch threads {args.threads}, "
          f"torch {torch.__version__}, device {args.device})")
    print(f"clips in {folder}", flush=True)
    n_rendered, render_s = render_clips(folder, specs)
    print(f"rendered {n_rendered} clips in {render_s:.1f} s"
          + (f" ({render_s / n_rendered:.2f} s per clip)" if n_rendered else " (all reused)"), flush=True)
    paths = [clip_path(folder, s) for s in specs]

    per_worker = max(1, args.threads // max(1, args.workers))
    r = analyse(paths, args.device, gpu=args.device == "cuda" and shutil.which("nvidia-smi") is not None,
                workers=args.workers, threads=per_worker)
    c, s = r["counts"], r["sampler"]
    rtf = r["audio_s"] / r["wall"]
    worker = max(s.worker_mb.values()) if s.worker_mb else float("nan")
    rows = [
        ("clips analysed", f"{r['n']} (scan {r['scan_s']:.1f} s, not timed; unreadable {r['unreadable']})"),
        ("audio hours", f"{r['audio_s'] / 3600:.3f}"),
        ("wall time (analysis only)", f"{r['wall']:.1f} s"),
        ("realtime factor", f"{rtf:.1f}x"),
        ("tracks per hour", f"{r['n'] / r['wall'] * 3600:.0f}"),
        ("worker processes x torch threads", f"{args.workers} x {per_worker}"),
        (f"peak RSS worker ({s.source})",
         f"{worker:.0f} MB" + (f" (max over {len(s.worker_mb)} worker processes; their peaks add up to "
                               f"{sum(s.worker_mb.values()):.0f} MB)" if len(s.worker_mb) > 1 else "")),
        ("peak RSS of the analysis process (the scheduler, as `workstation analyze`)", f"{s.root_mb:.0f} MB"),
        ("peak RSS of the analysis, all its processes at one moment", f"{s.total_mb:.0f} MB"),
        ("tracks done / failed / cancelled", f"{c['done']} / {c['failed']} / {c['cancelled']}"),
        ("analyzers failed / worker crashes", f"{c['analyzers_failed']} / {c['crashes']}"),
    ]
    if args.device == "cuda":
        if s.gpu_util:
            rows.append(("GPU utilisation mean / max (nvidia-smi)",
                         f"{sum(s.gpu_util) / len(s.gpu_util):.0f}% / {max(s.gpu_util):.0f}%"))
            rows.append(("GPU memory used max (nvidia-smi)", f"{max(s.gpu_mem):.0f} MiB"))
        else:
            rows.append(("GPU utilisation", "nvidia-smi absent or unreadable"))
    if args.peer_clips > 0:
        k = min(args.peer_clips, len(paths))
        bp = peer_basic_pitch(paths[:k])
        if bp is None:
            rows.append((f"basic-pitch 0.4 alone (peer), first {k} clips", "not installed"))
        else:
            _, a, w = bp
            rows.append((f"basic-pitch 0.4 alone (peer), first {k} clips",
                         f"{a / w:.1f}x realtime ({w:.1f} s for {a:.0f} s of audio)"))
    print(table(f"Collection analysis: {r['n']} clips of {args.seconds:g} s on {args.device} "
                f"(every analyzer, default preset)", ("measure", "value"), rows))
    for line in r["failures"]:
        print(f"  {line}")
    for path, why in r["scan_failed"][:5]:
        print(f"  scan failed {path}: {why}")


if __name__ == "__main__":
    main()
