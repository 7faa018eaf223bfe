"""The same folder of clips through the local worker and through a local Ray cluster
(``local:1``, ``local:2``): tracks per hour and the cluster's overhead per track.

    .venv/bin/python benchmarks/cluster.py [--clips 50] [--seconds 20] [--analyzers key,beats]
                                           [--cpus 1,2] [--device cpu|cuda]

Each run starts from an empty library (nothing cached). Columns:
- wall s: the whole run, start-up included (the local worker's process start, Ray's head);
- start s: Ray's start-up alone (``ray.init`` to the first task's arrival is in 'wall');
- tracks/h: clips per hour of wall time after start-up;
- task s: mean time a track's analysis took inside its Ray task (decode + analyzers);
- overhead s/track: what the cluster adds per track beyond its analysis, from the run with
  one worker process, where tracks run one after another:
  (wall - start) / clips - task s (scheduling, argument and result transfer, the driver's
  writes, worker start-up spread over the clips).
``--device cuda`` (a lent GPU): the local worker on the GPU, and the Ray tasks sharing it
(each asks for 1/N of it on ``local:N``, see ``workstation.cluster.gpus``).
Needs the cluster extra (pip install -e .[cluster]).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")   # a loopback-only head
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import soundfile as sf  # noqa: E402

from throughput import test_signal  # noqa: E402
from workstation.analysis.jobs import specs_for  # noqa: E402
from workstation.analysis.scheduler import Scheduler, jobs_for  # noqa: E402
from workstation.core import constants as C  # noqa: E402
from workstation.library import Library  # noqa: E402


def make_clips(folder: Path, n: int, seconds: float) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        sf.write(folder / f"clip{i:03d}.wav", test_signal(seconds, seed=100 + i), C.SAMPLE_RATE,
                 subtype="PCM_16")


def run_local(root: Path, music: Path, specs, device: str) -> dict:
    lib = Library.open(root)
    lib.scan(music)
    jobs = jobs_for(lib, specs)
    t0 = time.perf_counter()
    counts = Scheduler(lib, device=device).run(jobs)
    wall = time.perf_counter() - t0
    return {"wall": wall, "start": 0.0, "done": counts["done"], "failed": counts["failed"],
            "task": float("nan")}


def run_cluster(root: Path, music: Path, specs, cpus: int, device: str) -> dict:
    from workstation.cluster import run_on_cluster
    from workstation.cluster.driver import connect

    lib = Library.open(root)
    lib.scan(music)
    jobs = jobs_for(lib, specs)
    task_s = []

    def on_event(ev):
        if ev.kind == "track_done" and ev.data.get("task_s") is not None:
            task_s.append(ev.data["task_s"])

    t0 = time.perf_counter()
    ray, _ = connect(f"local:{cpus}")
    start = time.perf_counter() - t0
    try:
        counts = run_on_cluster(lib, jobs, f"local:{cpus}", on_event=on_event, device=device)
    finally:
        ray.shutdown()
    wall = time.perf_counter() - t0
    return {"wall": wall, "start": start, "done": counts["done"], "failed": counts["failed"],
            "task": sum(task_s) / max(1, len(task_s))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--analyzers", default=None, help="comma list (default: every analyzer)")
    ap.add_argument("--cpus", default="1,2", help="local Ray clusters to try (worker processes)")
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    specs = specs_for(args.analyzers.split(",") if args.analyzers else None)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        make_clips(tmp / "music", args.clips, args.seconds)
        print(f"{args.clips} clips of {args.seconds:g} s, analyzers: "
              f"{', '.join(s.id for s in specs)}; {os.cpu_count()} CPUs; device {args.device}",
              flush=True)
        rows.append(("local worker", run_local(tmp / "lib-local", tmp / "music", specs, args.device)))
        for n in [int(c) for c in args.cpus.split(",") if c.strip()]:
            rows.append((f"ray local:{n}", run_cluster(tmp / f"lib-ray{n}", tmp / "music", specs, n,
                                                                args.device)))
    print(f"{'run':14s} {'wall s':>8s} {'start s':>8s} {'tracks/h':>9s} {'task s':>7s} "
          f"{'x realtime':>10s} {'done':>5s} {'failed':>6s}")
    for name, r in rows:
        work = max(1e-9, r["wall"] - r["start"])
        print(f"{name:14s} {r['wall']:8.1f} {r['start']:8.1f} {args.clips / work * 3600:9.0f} "
              f"{r['task']:7.2f} {args.clips * args.seconds / work:10.1f} {r['done']:5d} "
              f"{r['failed']:6d}")
    one = dict(rows).get("ray local:1")
    if one is not None:
        per = (one["wall"] - one["start"]) / args.clips
        print(f"cluster overhead per track (local:1): {per - one['task']:.3f} s "
              f"({per:.2f} s per track, of which {one['task']:.2f} s analysis inside the task)")


if __name__ == "__main__":
    main()
