"""The worker process and the scheduler: bad files, crashes, cancel, pause, resume."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from workstation.analysis.jobs import AnalyzerSpec
from workstation.analysis.results import load_results
from workstation.analysis.scheduler import Scheduler, jobs_for
from workstation.library import Library

ENERGY = AnalyzerSpec("ws_test_plugins:FrameEnergy")
CRASH = AnalyzerSpec("ws_test_plugins:CrashOnName")
TESTS = Path(__file__).parent
REPO = TESTS.parent


def _tone(path, f=440.0, seconds=2.0, sr=44100):
    t = np.arange(int(seconds * sr)) / sr
    sf.write(path, 0.3 * np.sin(2 * np.pi * f * t), sr)


@pytest.fixture
def collection(tmp_path):
    music = tmp_path / "music"
    music.mkdir()
    for i, f in enumerate((220, 330, 440)):
        _tone(music / f"tone{i}.wav", f)
    _tone(music / "crash_me.wav", 550)
    (music / "notes.wav").write_text("this is not audio")
    lib = Library.open(tmp_path / "lib")
    return lib, music


@pytest.mark.parametrize("workers", [1, 2])
def test_crash_and_corrupt_file_among_good_ones(collection, workers):
    """With one worker or two (each with one track in flight), the crash is blamed on the
    file that caused it and nothing else fails."""
    lib, music = collection
    report = lib.scan(music)
    failed = {Path(p).name: reason for p, reason in report.failed}
    assert "notes.wav" in failed and failed["notes.wav"]
    specs = [ENERGY, CRASH]
    jobs = jobs_for(lib, specs)
    assert len(jobs) == 4  # the corrupt file is never queued
    events = []
    sched = Scheduler(lib, device="cpu", workers=workers)
    counts = sched.run(jobs, events.append)
    assert counts["crashes"] == 1 and counts["failed"] == 1 and counts["done"] == 3, events
    assert sched.restarts >= 1
    pids = {e.data["pid"] for e in events if e.kind == "track_started"}
    at = next(i for i, e in enumerate(events) if e.kind == "worker_crashed")
    if any(e.kind == "track_started" for e in events[at:]):   # work was left: a fresh worker took it
        assert len(pids) >= workers + 1
    crash = [e for e in events if e.kind == "worker_crashed"]
    assert len(crash) == 1 and "crash_me.wav" in crash[0].message and "SIGSEGV" in crash[0].message
    for t in lib.tracks(status="ok"):
        res = load_results(lib, t, specs)
        if "crash" in Path(t.path).name:
            assert "test.crash" not in res
            a = CRASH.build()
            rec = lib.get_analysis(t.content_hash, a.id, a.version, a.params_hash())
            assert rec.status == "failed" and "crash_me.wav" in rec.error
        else:
            assert set(res) == {"test.energy", "test.crash"}
            assert res["test.energy"].vector.shape[0] > 100


def test_cancel_stops_the_queue_and_resume_finishes_it(collection):
    lib, music = collection
    os.remove(music / "crash_me.wav")
    lib.scan(music)
    slow = [AnalyzerSpec("ws_test_plugins:Slow", (("seconds", 2.0),))]
    sched = Scheduler(lib, device="cpu")
    events = []

    def on_event(e):
        events.append(e)
        if e.kind == "track_done":
            sched.cancel()  # cancel as soon as the first track is finished

    counts = sched.run(jobs_for(lib, slow), on_event)
    assert counts["done"] == 1 and counts["cancelled"] == 2
    remaining = jobs_for(lib, slow)
    assert len(remaining) == 2  # the finished track is not queued again
    counts = Scheduler(lib, device="cpu").run(remaining)
    assert counts["done"] == 2 and not jobs_for(lib, slow)


def test_pause_holds_the_worker(collection):
    lib, music = collection
    os.remove(music / "crash_me.wav")
    lib.scan(music)
    slow = [AnalyzerSpec("ws_test_plugins:Slow", (("seconds", 0.5),))]
    sched = Scheduler(lib, device="cpu")
    progress_times = []

    def on_event(e):
        if e.kind == "track_started" and not progress_times:
            sched.pause()
            threading.Timer(1.5, sched.resume).start()
        if e.kind == "progress":
            progress_times.append(time.monotonic())

    t0 = time.monotonic()
    counts = sched.run(jobs_for(lib, slow), on_event)
    assert counts["done"] == 3
    assert time.monotonic() - t0 > 1.5 + 3 * 0.5


def test_killed_run_resumes_where_it_stopped(tmp_path):
    music = tmp_path / "music"
    music.mkdir()
    for i in range(3):
        _tone(music / f"t{i}.wav", 200 + 100 * i)
    lib_root = tmp_path / "lib"
    env = dict(os.environ, PYTHONPATH=f"{TESTS}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    cmd = [sys.executable, "-m", "workstation", "--library", str(lib_root), "analyze", str(music),
           "--analyzers", "ws_test_plugins:Slow", "--quiet"]
    proc = subprocess.Popen(cmd, env=env, cwd=REPO)
    spec = AnalyzerSpec("ws_test_plugins:Slow")
    deadline = time.monotonic() + 60
    lib = None
    while time.monotonic() < deadline:
        time.sleep(0.2)
        if (lib_root / "library.sqlite").exists():
            lib = lib or Library.open(lib_root)
            if len(lib.tracks()) == 3 and len(jobs_for(lib, [spec])) <= 2:
                break
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert lib is not None
    first_done = {t.path for t in lib.tracks() if not load_results(lib, t, [spec]) == {}}
    assert 1 <= len(first_done) < 3, "the kill should land half-way"
    a = spec.build()
    before = {p: lib.get_analysis(lib.track_by_path(p).content_hash, a.id, a.version,
                                  a.params_hash()).updated_at for p in first_done}
    time.sleep(1.5)  # let the orphaned worker notice its client is gone
    out = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert not jobs_for(lib, [spec])
    for p, stamp in before.items():
        rec = lib.get_analysis(lib.track_by_path(p).content_hash, a.id, a.version, a.params_hash())
        assert rec.updated_at == stamp, "a finished result was recomputed"


def test_result_with_nan_is_refused_not_stored(tmp_path):
    """A NaN result fails its analyzer with the reason (one NaN vector once broke the similarity
    search of the whole library); the other tracks are unaffected."""
    music = tmp_path / "music"
    music.mkdir()
    _tone(music / "fine.wav", 330)
    _tone(music / "nan_me.wav", 440)
    lib = Library.open(tmp_path / "lib")
    lib.scan(music)
    spec = AnalyzerSpec("ws_test_plugins:NaNOnName")
    counts = Scheduler(lib, device="cpu").run(jobs_for(lib, [spec]))
    assert counts["done"] + counts["failed"] == 2
    a = spec.build()
    for t in lib.tracks():
        rec = lib.get_analysis(t.content_hash, a.id, a.version, a.params_hash())
        if "nan_me" in t.path:
            assert rec.status == "failed" and "NaN or infinite values (vector)" in rec.error
            assert not lib.store.exists(t.content_hash, a.id, a.version, a.params_hash())
        else:
            assert rec.status == "done"


def test_cli_exit_code_says_an_analyzer_failed(tmp_path):
    """An analyzer that fails on one track (its job otherwise runs to the end) makes `analyze`
    exit 1 with the reason on stderr (it exited 0 and the track showed as 'done')."""
    music = tmp_path / "music"
    music.mkdir()
    _tone(music / "fine.wav", 330)
    _tone(music / "nan_me.wav", 440)
    env = {**os.environ, "WORKSTATION_LIBRARY": str(tmp_path / "lib"),
           "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "workstation", "analyze", str(music), "--analyzers",
           "ws_test_plugins:NaNOnName", "--device", "cpu"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, cwd=REPO)
    assert proc.returncode == 1, proc.stderr
    assert "test.nan failed on" in proc.stderr and "nan_me.wav" in proc.stderr
    assert "nan_me.wav: done, but failed: test.nan" in proc.stderr
    again = subprocess.run(cmd + ["--allow-failures"], capture_output=True, text=True, env=env,
                           timeout=300, cwd=REPO)
    assert again.returncode == 0, again.stderr


def test_divided_cpus_give_each_worker_one_analyzer_thread_per_share(tmp_path, monkeypatch):
    """Several workers: each gets its CPU share as torch/BLAS threads and as analyzer threads,
    at most 2 (two analyzers at once in each of 2 workers on 2 cores cost 250 MB for 3-5 %); one worker keeps the
    pipeline's default; a value the user set is never overridden; the parent's environment is
    left as it was."""
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "WORKSTATION_ANALYZER_THREADS", "WORKSTATION_THREADS"):
        monkeypatch.delenv(k, raising=False)
    lib = Library.open(tmp_path / "lib")
    env = Scheduler(lib, device="cpu", workers=2, threads=1).worker_env()
    assert env == {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "WORKSTATION_ANALYZER_THREADS": "1"}
    assert Scheduler(lib, device="cpu", workers=1).worker_env() == {}
    assert Scheduler(lib, device="cpu", workers=2, threads=8).worker_env()["WORKSTATION_ANALYZER_THREADS"] == "2"
    monkeypatch.setenv("WORKSTATION_ANALYZER_THREADS", "3")
    assert "WORKSTATION_ANALYZER_THREADS" not in Scheduler(lib, device="cpu", workers=2, threads=1).worker_env()
    assert os.environ.get("OMP_NUM_THREADS") is None


def test_default_workers_are_two_where_there_are_two_cpus_and_never_more_than_the_jobs():
    from workstation.analysis.scheduler import default_workers
    n = min(2, os.cpu_count() or 1)
    assert default_workers() == n and default_workers(1) == 1 and default_workers(0) == 1
    assert default_workers(100) == n
