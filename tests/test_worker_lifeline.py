"""The analysis worker dies with the process that started it: killing the CLI (kill -9) while
the worker is still starting up, or while it analyses, leaves no process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

PARENT = textwrap.dedent("""
    import sys, time
    from workstation.analysis.scheduler import Scheduler
    from workstation.library import Library
    lib = Library.open(sys.argv[1])
    s = Scheduler(lib, device="cpu")
    slot = s._slots[0]
    s._start_worker(slot)
    print(slot.proc.pid, flush=True)
    if sys.argv[2] == "ready":          # wait until the worker has loaded everything
        print(slot.events.get(timeout=120).kind, flush=True)
    time.sleep(600)
""")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            state = next(line for line in f if line.startswith("State:"))
    except (FileNotFoundError, ProcessLookupError):
        return False
    return " Z " not in state and "zombie" not in state


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.timeout(180)
@pytest.mark.parametrize("moment", ["starting", "ready"])
def test_worker_ends_when_its_parent_is_killed(tmp_path, moment):
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(tmp_path / "lib"), moment],
                              stdout=subprocess.PIPE, text=True)
    try:
        worker = int(parent.stdout.readline())
        if moment == "ready":
            assert parent.stdout.readline().strip() == "ready"
        assert _alive(worker)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 30
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(worker), f"worker {worker} outlived its parent"
    finally:
        if parent.poll() is None:
            parent.kill()
