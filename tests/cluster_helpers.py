"""What the cluster tests share: the analyzers they run, a folder of short synthetic
tracks, and the Ray worker processes running the analysis task."""

from __future__ import annotations

import threading
from contextlib import contextmanager
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


@contextmanager
def ray_test_cluster(*nodes: dict):
    """Ray's own multi-node test cluster on 127.0.0.1 (``ray.cluster_utils.Cluster``): a head
    that runs nothing and one node per ``nodes`` entry (``add_node`` arguments, e.g.
    ``{"num_cpus": 2, "num_gpus": 1}``) -> (cluster, the nodes); always shut down. Skips
    where the cluster extra is not installed."""
    import pytest
    pytest.importorskip("ray", reason="the cluster extra is not installed (pip install -e .[cluster])")
    import ray
    from ray.cluster_utils import Cluster
    if ray.is_initialized():
        ray.shutdown()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    try:
        added = [cluster.add_node(**args) for args in nodes]
        cluster.wait_for_nodes()
        yield cluster, added
    finally:
        ray.shutdown()
        cluster.shutdown()
