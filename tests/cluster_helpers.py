"""What the cluster tests share: the analyzers they run, a folder of short synthetic
tracks, and the Ray worker processes running the analysis task."""

from __future__ import annotations

import threading
from pathlib import Path

import soundfile as sf

from synth_tones import tone_pattern
from workstation.analysis.jobs import specs_for
from workstation.core import constants as C

SPECS = specs_for(["key", "beats"])
TRACKS = {"a.wav": (57, 100.0), "b.wav": (60, 120.0), "c.wav": (62, 90.0)}


def _folder(root: Path, seconds: float = 6.0, names=TRACKS) -> Path:
    music = root / "music"
    music.mkdir(parents=True)
    for name, (tonic, bpm) in names.items():
        sf.write(music / name, tone_pattern(seconds, root=tonic, bpm=bpm), C.SAMPLE_RATE,
                 subtype="FLOAT")
    return music


def _ray_task_pids() -> list[int]:
    """Ray worker processes running our task (Ray names them ``ray::analyze_task``)."""
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes()
            except OSError:
                continue
            if cmd.startswith(b"ray::analyze_task"):
                pids.append(int(d.name))
    return pids


def run_beside(action, lib, jobs, address, join_s: float = 30.0, **kwargs):
    """``run_on_cluster(lib, jobs, address, **kwargs)`` while ``action(stop)`` runs on a
    thread (``stop``: a threading.Event set when the run ends) -> (counts, events)."""
    from workstation.cluster import run_on_cluster
    stop = threading.Event()
    th = threading.Thread(target=action, args=(stop,), daemon=True)
    th.start()
    events: list = []
    try:
        counts = run_on_cluster(lib, jobs, address, on_event=events.append, **kwargs)
    finally:
        stop.set()
        th.join(join_s)
    return counts, events
