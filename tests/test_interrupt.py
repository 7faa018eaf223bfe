"""Ctrl+C during `analyze` (SIGINT to the whole process group, as a terminal sends it): the
CLI says how to resume and exits 130, no traceback comes from the worker, no analysis is
left 'running', no process is left behind; the same command then finishes the work."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf

from workstation.library import Library


@pytest.mark.skipif(os.name != "posix", reason="process groups and SIGINT")
@pytest.mark.timeout(600)
def test_ctrl_c_stops_cleanly_and_the_next_run_resumes(tmp_path):
    music = tmp_path / "music"
    music.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):      # 3 minutes each: long enough to be interrupted mid-track
        sf.write(music / f"t{i}.wav", (0.1 * rng.standard_normal(22050 * 180)).astype(np.float32), 22050)
    env = {**os.environ, "WORKSTATION_LIBRARY": str(tmp_path / "lib")}
    cmd = [sys.executable, "-m", "workstation", "analyze", str(music), "--device", "cpu",
           "--analyzers", "pitch.f0,key"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lib_db = tmp_path / "lib"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:          # wait until the worker is analysing
        time.sleep(0.5)
        if lib_db.exists():
            with Library.open(lib_db) as lib:
                if any(v.get("running") for v in lib.status_summary()["analyses"].values()):
                    break
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert "run the same command again to resume" in err
    alive = ["?"]
    for _ in range(20):                      # the worker notices within its 0.5-s watch
        time.sleep(0.25)
        alive = subprocess.run(["pgrep", "-a", "-s", str(proc.pid)], capture_output=True,
                               text=True).stdout.splitlines()
        if not alive:
            break
    assert not alive, f"processes left in the session: {alive}"
    with Library.open(lib_db) as lib:
        states = lib.status_summary()["analyses"]
        assert not any(v.get("running") for v in states.values()), states
    again = subprocess.run(cmd + ["--quiet"], capture_output=True, text=True, env=env, timeout=500)
    assert again.returncode == 0, again.stderr
    with Library.open(lib_db) as lib:
        assert all(v.get("done") == 3 for v in lib.status_summary()["analyses"].values())
