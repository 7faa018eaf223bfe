"""A cluster of several Ray nodes (issue 16): Ray's own multi-node test cluster
(``ray.cluster_utils.Cluster``: a head and two worker nodes, each its own raylet and
object store on 127.0.0.1), always shut down. The driver connects to it by address as to
any cluster; the tasks spread over both nodes, and a node that dies mid-run fails nothing:
its tasks run again on the node that is left."""

from __future__ import annotations

import os
import sys
import threading
import time

import pytest

from cluster_helpers import SPECS, TRACKS, _folder, _ray_task_pids, ray_test_cluster, run_beside
from workstation.analysis.jobs import Job
from workstation.analysis.results import load_results
from workstation.library import Library

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


@pytest.fixture
def two_nodes():
    """A head with no CPUs (it schedules nothing) and two worker nodes with one CPU each."""
    with ray_test_cluster({"num_cpus": 1}, {"num_cpus": 1}) as (cluster, nodes):
        yield cluster, nodes


def _jobs(tmp_path, seconds: float, names=TRACKS):
    music = _folder(tmp_path, seconds=seconds, names=names)
    lib = Library.open(tmp_path / "lib")
    lib.scan(music)
    return lib, [Job(t.id, t.path, t.content_hash, tuple(SPECS)) for t in lib.tracks(status="ok")]


def test_tracks_spread_over_the_nodes(two_nodes, tmp_path):
    from workstation.cluster import run_on_cluster
    cluster, nodes = two_nodes
    lib, jobs = _jobs(tmp_path, 6.0)
    events = []
    counts = run_on_cluster(lib, jobs, cluster.address, on_event=events.append)
    assert counts["done"] == len(jobs) and counts["failed"] == 0, events
    done = [e for e in events if e.kind == "track_done"]
    assert {e.data["node_id"] for e in done} == {n.node_id for n in nodes}    # never the head
    for t in lib.tracks(status="ok"):
        assert set(load_results(lib, t, SPECS)) == {s.id for s in SPECS}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds Ray workers in /proc")
def test_a_node_that_dies_mid_run_fails_nothing(two_nodes, tmp_path):
    """The first node is removed (its raylet and workers killed, no grace) while both nodes
    run a task: every track still ends done, the last ones on the node that is left, and a
    re-run submits nothing."""
    from workstation.cluster import run_on_cluster
    cluster, (first, second) = two_nodes
    lib, jobs = _jobs(tmp_path, 12.0)
    removed = threading.Event()

    def remove_first_node(stop):
        while not stop.is_set():
            if len(_ray_task_pids()) >= 2:      # a task running on each node
                time.sleep(0.5)
                cluster.remove_node(first, allow_graceful=False)
                removed.set()
                return
            time.sleep(0.05)

    counts, events = run_beside(remove_first_node, lib, jobs, cluster.address, retries=2)
    assert removed.is_set(), "the tasks never ran on both nodes at once"
    assert counts["done"] == len(jobs) and counts["failed"] == 0 and counts["crashes"] == 0, events
    done = [e for e in events if e.kind == "track_done"]
    assert done[-1].data["node_id"] == second.node_id
    for t in lib.tracks(status="ok"):
        for s in SPECS:
            assert lib.get_analysis(t.content_hash, *s.build().result_key).status == "done"
    again = run_on_cluster(lib, jobs, cluster.address)
    assert again["submitted"] == 0 and again["done"] == len(jobs), again
