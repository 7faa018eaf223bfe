"""Child processes that die with their parent.

The analysis worker is spawned (a fresh interpreter): if the CLI or the window that started
it is killed (kill -9, a crash) while the worker is still importing torch or analysing a
track, nothing would tell it; it used to live on as an orphan (about 600 MB) and even finish
its queued track. ``worker_entry`` starts a watch thread before anything heavy is imported:
every ``WATCH_INTERVAL_S`` it compares ``os.getppid()`` with the pid of the process that
started it, and ends the process at once (``os._exit(EXIT_ORPHANED)``) when they differ.
Results are written atomically, so an ended worker leaves no half-written result (at most a
temporary file that the next write replaces).

This module imports nothing heavy (its package brings numpy; torch and the models come after
the watch has started), so the watch runs from the child's first moments.
"""

from __future__ import annotations

import os
import signal
import threading
import time

#: Seconds between two looks at the parent.
WATCH_INTERVAL_S: float = 0.5
#: Exit status of a process ended because its parent died.
EXIT_ORPHANED: int = 3


def watch_parent(parent_pid: int, *, interval_s: float = WATCH_INTERVAL_S) -> threading.Thread:
    """End this process as soon as its parent is no longer ``parent_pid`` (checked now, then
    every ``interval_s`` seconds on a daemon thread, which it returns)."""
    if os.getppid() != parent_pid:
        os._exit(EXIT_ORPHANED)

    def watch() -> None:
        while True:
            time.sleep(interval_s)
            if os.getppid() != parent_pid:
                os._exit(EXIT_ORPHANED)

    t = threading.Thread(target=watch, name="parent-watch", daemon=True)
    t.start()
    return t


def worker_entry(parent_pid: int, *args, **kwargs) -> None:
    """The worker process's target: the parent watch, then ``analysis.worker.worker_main``.
    Ctrl+C in a terminal reaches the whole process group: the worker ignores it and stops
    through the scheduler's cancel event instead (at its next checkpoint, marking its
    unfinished analyses 'cancelled'), so no KeyboardInterrupt traceback is printed from it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    watch_parent(parent_pid)
    from workstation.analysis.worker import worker_main
    worker_main(*args, **kwargs)
