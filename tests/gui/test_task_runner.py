"""``TaskRunner``: each call's answer goes to its own callbacks on the GUI thread; with a
``key`` only the latest call of that key counts; a call without ``on_error`` fails through
the ``failed`` signal; ``drop_pending`` drops queued calls with their callbacks."""

from __future__ import annotations

import threading

import pytest

pytest.importorskip("pytestqt")

from workstation.core.errors import WorkstationError  # noqa: E402
from workstation.gui.worker_bridge import TaskRunner  # noqa: E402


@pytest.fixture
def runner(qtbot):
    r = TaskRunner("test-runner")
    yield r
    assert r.stop(10.0)


def _fail(message: str):
    raise WorkstationError(message)


def test_answers_go_to_the_callbacks_on_the_gui_thread(qtbot, runner):
    gui = threading.get_ident()
    got: list = []
    runner.submit("t", lambda x: (x * 2, threading.get_ident()), 21,
                  on_done=lambda r: got.append(("done", r[0], r[1] != gui, threading.get_ident() == gui)))
    runner.submit("t", _fail, "no such track",
                  on_error=lambda m: got.append(("error", m, threading.get_ident() == gui)))
    qtbot.waitUntil(lambda: len(got) == 2, timeout=10_000)
    assert got == [("done", 42, True, True), ("error", "no such track", True)]


def test_only_the_latest_call_of_a_key_counts(qtbot, runner):
    gate = threading.Event()
    got: list = []
    runner.submit("slow", gate.wait, 10.0)            # holds the thread while we submit
    first = runner.submit("t", lambda: 1, on_done=got.append, key="k")
    second = runner.submit("t", lambda: 2, on_done=got.append, key="k")
    failing = runner.submit("t", _fail, "old", on_error=got.append, key="k2")
    runner.submit("t", lambda: 3, on_done=got.append, key="k2")
    runner.submit("t", lambda: 4, on_done=got.append)  # no key: always answered
    assert second > first and runner.latest("k") == second and runner.latest("k2") == failing + 1
    answered = []
    runner.done.connect(lambda tag, ticket, result: answered.append(ticket))
    gate.set()
    qtbot.waitUntil(lambda: len(answered) == 5, timeout=10_000)  # every answer is signalled
    qtbot.wait(50)
    assert got == [2, 3, 4]                             # stale answers never reach callbacks


def test_errors_without_callback_and_dropped_calls(qtbot, runner):
    failed: list = []
    runner.failed.connect(lambda tag, message: failed.append((tag, message)))
    gate = threading.Event()
    got: list = []
    runner.submit("slow", gate.wait, 10.0)
    runner.submit("image", lambda: 1, on_done=got.append)
    runner.submit("scan", _fail, "unreadable")
    runner.drop_pending("image")
    gate.set()
    qtbot.waitUntil(lambda: bool(failed), timeout=10_000)
    assert failed == [("scan", "unreadable")]
    assert runner.wait_idle(5.0) and got == []
