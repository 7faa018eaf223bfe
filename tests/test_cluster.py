"""Analysis on a Ray cluster (issue 16): a real local Ray head with 2 CPUs on 127.0.0.1,
started once for the module and always shut down; no mocks. The cluster's results equal
the local worker's, a corrupt file fails alone with its reason, a re-run computes nothing,
and a Ray worker killed mid-run fails nothing that can be retried."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from cluster_helpers import SPECS, TRACKS, _folder, _ray_task_pids, run_beside
from synth_tones import tone_pattern
from workstation.analysis.jobs import Job
from workstation.analysis.results import load_results
from workstation.cli.main import main
from workstation.core import constants as C
from workstation.core.errors import WorkstationError
from workstation.library import Library

# A local head on the loopback address (set before Ray is imported; see cluster.driver.connect).
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")



@pytest.fixture(scope="module")
def ray_head():
    pytest.importorskip("ray", reason="the cluster extra is not installed (pip install -e .[cluster])")
    from workstation.cluster.driver import connect
    ray, started = connect("local:2")
    try:
        assert started and ray.cluster_resources().get("CPU") == 2
        assert {n["NodeManagerAddress"] for n in ray.nodes()} == {"127.0.0.1"}
        yield ray
    finally:
        ray.shutdown()


def _add_truncated(music: Path) -> None:
    sf.write(music / "whole.flac", tone_pattern(4.0, root=55), C.SAMPLE_RATE, format="FLAC")
    data = (music / "whole.flac").read_bytes()
    (music / "whole.flac").unlink()
    (music / "truncated.flac").write_bytes(data[:len(data) // 2])   # scans, fails to decode


def _results(lib_root: Path) -> dict:
    lib = Library.open(lib_root)
    return {Path(t.path).name: load_results(lib, t, SPECS) for t in lib.tracks(status="ok")}


def _records(lib_root: Path, name: str) -> list:
    lib = Library.open(lib_root)
    t = next(t for t in lib.tracks() if Path(t.path).name == name)
    return [lib.get_analysis(t.content_hash, *s.build().result_key) for s in SPECS]


def _result_mtimes(lib_root: Path) -> dict:
    return {p: p.stat().st_mtime_ns for p in (lib_root / "results").rglob("*.npz")}


def test_cluster_run_equals_the_local_run_and_a_rerun_computes_nothing(ray_head, tmp_path):
    music = _folder(tmp_path)
    _add_truncated(music)
    args = ["analyze", str(music), "--analyzers", "key,beats", "--device", "cpu", "--quiet"]
    t0 = time.perf_counter()
    assert main(["--library", str(tmp_path / "local"), *args, "--out", str(tmp_path / "out_local")]) == 1
    t1 = time.perf_counter()
    assert main(["--library", str(tmp_path / "cl"), *args, "--out", str(tmp_path / "out_cl"),
                 "--cluster", "local:2"]) == 1      # 1: the truncated file failed
    t2 = time.perf_counter()
    print(f"local worker {t1 - t0:.1f} s, cluster {t2 - t1:.1f} s")

    local, cluster = _results(tmp_path / "local"), _results(tmp_path / "cl")
    assert set(cluster) == set(local) == set(TRACKS) | {"truncated.flac"}
    for name in TRACKS:
        lo, cl = local[name], cluster[name]
        assert set(lo) == set(cl) == {"key", "beats"}, name
        assert (cl["key"].tonic_pc, cl["key"].mode) == (lo["key"].tonic_pc, lo["key"].mode)
        np.testing.assert_allclose(cl["key"].confidence, lo["key"].confidence, rtol=1e-5)
        np.testing.assert_allclose(cl["beats"].times_s, lo["beats"].times_s, atol=1e-6)
        np.testing.assert_allclose(cl["beats"].tempo_bpm, lo["beats"].tempo_bpm, rtol=1e-6)
        assert cl["beats"].tempo_bpm == pytest.approx(TRACKS[name][1], rel=0.03)
    # the same export files, the beat layers byte for byte
    names = sorted(p.name for p in (tmp_path / "out_local").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "out_cl").iterdir()) and len(names) >= 12
    for n in names:
        if n.endswith(".beats.csv"):
            assert (tmp_path / "out_cl" / n).read_text() == (tmp_path / "out_local" / n).read_text()

    # the corrupt file failed alone, with the local run's reason
    assert cluster["truncated.flac"] == {}
    lo_recs, cl_recs = _records(tmp_path / "local", "truncated.flac"), _records(tmp_path / "cl", "truncated.flac")
    for lo, cl in zip(lo_recs, cl_recs):
        assert cl.status == lo.status == "failed"
        assert cl.error == lo.error and "truncated or corrupt" in cl.error
    # the display cache was written as by the local worker
    shown = sorted(p.name for p in (tmp_path / "cl" / "cache" / "display").iterdir())
    assert shown == sorted(p.name for p in (tmp_path / "local" / "cache" / "display").iterdir())
    assert len(shown) == len(TRACKS)

    # a re-run (every track queued, done or not) submits only the failed file, rewrites nothing
    from workstation.cluster import run_on_cluster
    before = _result_mtimes(tmp_path / "cl")
    lib = Library.open(tmp_path / "cl")
    jobs = [Job(t.id, t.path, t.content_hash, tuple(SPECS)) for t in lib.tracks(status="ok")]
    events = []
    counts = run_on_cluster(lib, jobs, "local:2", on_event=events.append)
    assert counts["submitted"] == 1 and counts["failed"] == 1 and counts["done"] == 3, counts
    assert sum(e.kind == "track_done" and e.message == "cached" for e in events) == 3
    assert _result_mtimes(tmp_path / "cl") == before and len(before) == 6
    # and the local worker takes the cluster's results as its own: nothing to do
    from workstation.analysis.scheduler import jobs_for
    assert [Path(j.path).name for j in jobs_for(lib, SPECS)] == ["truncated.flac"]


def test_store_in_a_shared_folder_written_by_the_tasks_and_adopted_by_another_library(
        ray_head, tmp_path, capsys):
    music = _folder(tmp_path, seconds=4.0)
    shared = tmp_path / "shared"
    args = ["analyze", str(music), "--analyzers", "key,beats", "--device", "cpu", "--quiet"]
    assert main(["--library", str(tmp_path / "a"), *args, "--cluster", "local:2",
                 "--store", str(shared)]) == 0
    files = sorted(p.relative_to(shared) for p in shared.rglob("*.npz"))
    assert len(files) == 2 * len(TRACKS)                       # written by the tasks, there
    assert not list((tmp_path / "a" / "results").rglob("*.npz"))
    lib = Library.open(tmp_path / "a")
    assert lib.shared_store == shared.resolve()               # remembered by the library
    recs = [r for t in lib.tracks() for r in _records(tmp_path / "a", Path(t.path).name)]
    assert all(r.status == "done" and r.result_path.startswith(str(shared.resolve())) for r in recs)
    cl = _results(tmp_path / "a")
    # the same results as a plain local run into a library of its own
    assert main(["--library", str(tmp_path / "plain"), *args]) == 0
    plain = _results(tmp_path / "plain")
    for name in TRACKS:
        assert (cl[name]["key"].tonic_pc, cl[name]["key"].mode) == (plain[name]["key"].tonic_pc,
                                                                     plain[name]["key"].mode)
        np.testing.assert_allclose(cl[name]["beats"].times_s, plain[name]["beats"].times_s, atol=1e-6)
    # another library (another machine) naming the same store computes nothing: it adopts them
    before = {p: p.stat().st_mtime_ns for p in shared.rglob("*.npz")}
    assert main(["--library", str(tmp_path / "b"), *args, "--store", str(shared)]) == 0
    assert {p: p.stat().st_mtime_ns for p in shared.rglob("*.npz")} == before
    other = _results(tmp_path / "b")
    assert {n: set(r) for n, r in other.items()} == {n: {"key", "beats"} for n in TRACKS}
    # a library that already keeps results of its own is not switched silently
    capsys.readouterr()
    assert main(["--library", str(tmp_path / "plain"), *args, "--store", str(shared)]) != 0
    err = capsys.readouterr().err
    assert "move them into" in err and str(tmp_path / "plain" / "results") in err


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds Ray workers in /proc")
@pytest.mark.parametrize("retries", [2, 0])
def test_a_killed_worker_is_retried_or_fails_with_the_reason(ray_head, tmp_path, retries):
    from workstation.cluster import run_on_cluster

    music = _folder(tmp_path, seconds=12.0, names=dict(list(TRACKS.items())[:2]))
    lib = Library.open(tmp_path / "lib")
    lib.scan(music)
    jobs = [Job(t.id, t.path, t.content_hash, tuple(SPECS)) for t in lib.tracks(status="ok")]
    killed: list[int] = []

    def killer(stop):
        while not stop.is_set() and not killed:
            for pid in _ray_task_pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                except ProcessLookupError:
                    continue
                break
            time.sleep(0.02)

    counts, events = run_beside(killer, lib, jobs, "local:2", join_s=5, retries=retries)
    assert killed, "no Ray worker was running the task"
    ends = [e for e in events if e.kind in ("track_done", "track_failed", "track_cancelled")]
    assert sorted(e.track_id for e in ends) == sorted(j.track_id for j in jobs)
    assert counts["done"] + counts["failed"] == len(jobs) and counts["cancelled"] == 0
    for t in lib.tracks(status="ok"):
        for s in SPECS:
            rec = lib.get_analysis(t.content_hash, *s.build().result_key)
            assert rec.status in ("done", "failed"), rec
            assert rec.status == "done" or rec.error
    if retries:
        assert counts["done"] == len(jobs) and counts["crashes"] == 0, events
    else:
        assert counts["crashes"] == 1 and counts["done"] == len(jobs) - 1, events
        (fail,) = [e for e in ends if e.kind == "track_failed"]
        assert fail.message.startswith("worker died on the cluster after 1 attempt while analysing")
    # a re-run computes nothing twice: only what failed is submitted again
    again = run_on_cluster(lib, jobs, "local:2", retries=retries)
    assert again["submitted"] == counts["failed"] and again["done"] == len(jobs), again


def test_ctrl_c_cancels_the_submitted_tasks(ray_head, tmp_path):
    from workstation.cluster import run_on_cluster

    music = _folder(tmp_path, seconds=6.0)
    lib = Library.open(tmp_path / "lib")
    lib.scan(music)
    jobs = [Job(t.id, t.path, t.content_hash, tuple(SPECS)) for t in lib.tracks(status="ok")]
    events = []

    def on_event(ev):
        events.append(ev)
        if ev.kind == "track_started" and sum(e.kind == "track_started" for e in events) == 2:
            raise KeyboardInterrupt   # as a Ctrl+C while the second task is being submitted

    with pytest.raises(KeyboardInterrupt):
        run_on_cluster(lib, jobs, "local:2", on_event=on_event)
    assert sorted(e.track_id for e in events if e.kind == "track_cancelled") == sorted(j.track_id for j in jobs)
    statuses = {lib.get_analysis(t.content_hash, *s.build().result_key).status
                if lib.get_analysis(t.content_hash, *s.build().result_key) else None
                for t in lib.tracks(status="ok") for s in SPECS}
    assert "running" not in statuses and "cancelled" in statuses, statuses


def test_the_window_cancel_and_pause_hooks(ray_head, tmp_path):
    """``should_stop`` cancels like Ctrl+C but returns the counts; while ``paused`` nothing
    new is submitted (the window's Cancel and Pause)."""
    from workstation.cluster import run_on_cluster

    music = _folder(tmp_path, seconds=3.0)
    lib = Library.open(tmp_path / "lib")
    lib.scan(music)
    jobs = [Job(t.id, t.path, t.content_hash, tuple(SPECS)) for t in lib.tracks(status="ok")]
    events, t0 = [], time.monotonic()
    counts = run_on_cluster(lib, jobs, "local:2", on_event=events.append, paused=lambda: True,
                            should_stop=lambda: time.monotonic() - t0 > 1.0)
    assert not any(e.kind == "track_started" for e in events)     # paused: nothing submitted
    assert counts["cancelled"] == len(jobs) and counts["done"] == 0, counts
    assert events[-1].kind == "all_done"
    assert {lib.get_analysis(t.content_hash, *s.build().result_key) for t in lib.tracks(status="ok")
            for s in SPECS} == {None}                              # nothing left 'running'
    # a pause that ends: the run goes on after it
    timed, t0 = [], time.monotonic()
    counts = run_on_cluster(lib, jobs, "local:2", paused=lambda: time.monotonic() - t0 < 1.0,
                            on_event=lambda e: timed.append((time.monotonic(), e.kind)))
    assert counts["done"] == len(jobs), counts
    assert min(t for t, kind in timed if kind == "track_started") - t0 >= 1.0


def test_without_ray_the_cluster_option_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    from workstation.cluster.driver import import_ray
    monkeypatch.setitem(sys.modules, "ray", None)       # as when the extra is not installed
    with pytest.raises(WorkstationError, match=r"pip install -e \.\[cluster\]"):
        import_ray()
    music = _folder(tmp_path, seconds=2.0, names={"a.wav": (57, 100.0)})
    rc = main(["--library", str(tmp_path / "lib"), "analyze", str(music), "--analyzers", "key",
               "--cluster", "local:1", "--quiet"])
    assert rc == 2 and "pip install -e .[cluster]" in capsys.readouterr().err


@pytest.mark.parametrize("text", ["local:0", "local", "nowhere", "ray://", "http://x:1"])
def test_a_bad_cluster_address_is_refused_before_any_work(text, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--library", str(tmp_path / "lib"), "analyze", str(tmp_path), "--cluster", text])
    assert exc.value.code == 2 and "--cluster" in capsys.readouterr().err


def test_cluster_addresses_parse():
    from workstation.cluster import parse_address
    assert parse_address("local:4").kind == "local" and parse_address("local:4").cpus == 4
    for text in ("auto", "ray://head.example.org:10001", "10.0.0.5:6379", "head:6379"):
        assert parse_address(text).kind == "connect" and parse_address(text).address == text
