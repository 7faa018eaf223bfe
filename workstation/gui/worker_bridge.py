"""Background work for the GUI: the analysis scheduler and the loaders.

``AnalysisBridge`` runs ``Scheduler.run`` (which spawns the worker process), or
``cluster.run_on_cluster`` when a Ray cluster is set, on a Python thread and re-emits its
events as Qt signals (queued to the GUI thread). ``TaskRunner`` is
a single loader thread with a queue: decoding for display, loading results, scanning,
exports; each call's answer goes to that call's own callbacks on the GUI thread. Only ids,
plain data and ``core`` types cross these boundaries (a task receives the library or the
similarity search, never a widget).
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from typing import Callable, Sequence

from PySide6.QtCore import QObject, Signal

from workstation.core.errors import WorkstationError

log = logging.getLogger(__name__)


class AnalysisBridge(QObject):
    """Runs analyses of one library in the background.

    Signals: ``started(int n_jobs)``, ``event(Event)`` for every worker event,
    ``finished(dict counts)`` (also after a start that found nothing to do, with zeros),
    ``failed_to_start(str reason)``.
    """

    started = Signal(int)
    event = Signal(object)
    finished = Signal(dict)
    failed_to_start = Signal(str)

    def __init__(self, library_root, *, device: str = "auto", parent=None):
        super().__init__(parent)
        self.library_root = str(library_root)
        self.device = device
        #: a Ray address (``local:N``, ``auto``, ``ray://HOST:PORT``): runs go to that cluster
        #: (``cluster.run_on_cluster``) instead of the local worker; None: the local worker
        self.cluster: str | None = None
        self._thread: threading.Thread | None = None
        self._scheduler = None
        self._lock = threading.Lock()
        self._cancel_requested = False
        self._paused = False

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def paused(self) -> bool:
        return self._paused

    def start(self, specs, track_ids: Sequence[int] | None = None, *, force: bool = False) -> bool:
        """Analyse ``track_ids`` (None: every readable track) with ``specs`` (AnalyzerSpec
        list). Returns False when a run is already going."""
        if self.running:
            return False
        self._cancel_requested = False
        self._paused = False
        ids = None if track_ids is None else [int(t) for t in track_ids]
        self._thread = threading.Thread(target=self._run, args=(list(specs), ids, force),
                                        name="workstation-analysis", daemon=True)
        self._thread.start()
        return True

    def _run(self, specs, track_ids, force) -> None:
        from workstation.analysis.scheduler import Scheduler, default_workers, jobs_for
        from workstation.library import Library

        counts = {"done": 0, "failed": 0, "cancelled": 0, "crashes": 0}
        lib = None
        try:
            lib = Library.open(self.library_root)
            jobs = jobs_for(lib, specs, track_ids, force=force)
            self.started.emit(len(jobs))
            if jobs and self.cluster:
                from workstation.cluster import run_on_cluster
                counts = run_on_cluster(lib, jobs, self.cluster, on_event=self._emit,
                                        device=self.device, should_stop=lambda: self._cancel_requested,
                                        paused=lambda: self._paused)
            elif jobs:
                sched = Scheduler(lib, device=self.device, workers=default_workers(len(jobs)))
                with self._lock:
                    self._scheduler = sched
                    if self._cancel_requested:
                        sched.cancel()
                    elif self._paused:
                        sched.pause()
                counts = sched.run(jobs, self._emit)
        except WorkstationError as e:
            self.failed_to_start.emit(str(e))
        except Exception as e:  # keep the GUI alive; say what happened
            log.exception("analysis run failed")
            self.failed_to_start.emit(f"analysis could not run: {type(e).__name__}: {e}")
        finally:
            with self._lock:
                self._scheduler = None
            if lib is not None:
                lib.close()
            self.finished.emit(dict(counts))

    def _emit(self, ev) -> None:
        if ev.kind != "all_done":
            self.event.emit(ev)

    def pause(self) -> None:
        with self._lock:
            self._paused = True
            if self._scheduler is not None:
                self._scheduler.pause()

    def resume(self) -> None:
        with self._lock:
            self._paused = False
            if self._scheduler is not None:
                self._scheduler.resume()

    def cancel(self) -> None:
        with self._lock:
            self._cancel_requested = True
            if self._scheduler is not None:
                self._scheduler.cancel()

    def wait(self, timeout: float | None = None) -> bool:
        """Join the run thread; True when it has ended."""
        t = self._thread
        if t is None:
            return True
        t.join(timeout)
        return not t.is_alive()

    def shutdown(self, timeout: float = 15.0) -> bool:
        self.cancel()
        return self.wait(timeout)


class TaskRunner(QObject):
    """One loader thread running submitted callables in order.

    ``submit(tag, fn, *args, on_done=..., on_error=..., key=...)`` returns a ticket; the
    answer comes back on the GUI thread to the call's own callbacks: ``on_done(result)`` or
    ``on_error(message)`` (a call without ``on_error`` fails through the signal
    ``failed(tag, message)``). ``key``: only the latest call of that key counts; the answer
    of an older one is dropped, errors included (so clicking through tracks never shows a
    stale one). ``tag`` names the task in logs and for ``drop_pending``.

    The signals ``done(tag, ticket, result)`` and ``error(tag, ticket, message)`` report
    every answer (stale ones too) for observers such as tests. ``drop_pending(tag)`` removes
    queued tasks with that tag that have not started (their callbacks are never called).
    """

    done = Signal(str, int, object)
    error = Signal(str, int, str)
    failed = Signal(str, str)

    def __init__(self, name: str = "workstation-loader", parent=None):
        super().__init__(parent)
        self._name = name
        self._queue: list[tuple[str, int, Callable, tuple, dict]] = []
        self._cond = threading.Condition()
        self._ticket = 0
        self._stopping = False
        self._busy = False
        # GUI thread only: the callbacks of each pending ticket and the latest ticket per key
        self._callbacks: dict[int, tuple[str | None, Callable | None, Callable | None]] = {}
        self._latest: dict[str, int] = {}
        self.done.connect(self._answer_done)
        self.error.connect(self._answer_error)
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, tag: str, fn: Callable, *args, on_done: Callable[[object], None] | None = None,
               on_error: Callable[[str], None] | None = None, key: str | None = None,
               **kwargs) -> int:
        """Run ``fn(*args, **kwargs)`` on the thread (call from the GUI thread); the ticket."""
        with self._cond:
            self._ticket += 1
            ticket = self._ticket
            if on_done is not None or on_error is not None or key is not None:
                self._callbacks[ticket] = (key, on_done, on_error)
            if key is not None:
                self._latest[key] = ticket
            self._queue.append((tag, ticket, fn, args, kwargs))
            self._cond.notify()
            return ticket

    def latest(self, key: str) -> int | None:
        """The ticket of the latest call submitted with ``key`` (None: none yet)."""
        return self._latest.get(key)

    def drop_pending(self, tag: str) -> None:
        with self._cond:
            dropped = [q[1] for q in self._queue if q[0] == tag]
            self._queue = [q for q in self._queue if q[0] != tag]
            for ticket in dropped:
                self._callbacks.pop(ticket, None)

    def _take(self, ticket: int) -> tuple[bool, Callable | None, Callable | None]:
        """(current, on_done, on_error) of an answered ticket; not current when a newer
        call of its key was submitted."""
        with self._cond:
            key, on_done, on_error = self._callbacks.pop(ticket, (None, None, None))
            current = key is None or self._latest.get(key) == ticket
        return current, on_done, on_error

    def _answer_done(self, tag: str, ticket: int, result) -> None:
        current, on_done, _ = self._take(ticket)
        if current and on_done is not None:
            on_done(result)

    def _answer_error(self, tag: str, ticket: int, message: str) -> None:
        current, _, on_error = self._take(ticket)
        if not current:
            return
        if on_error is not None:
            on_error(message)
        else:
            self.failed.emit(tag, message)

    @property
    def idle(self) -> bool:
        with self._cond:
            return not self._queue and not self._busy

    def wait_idle(self, timeout: float = 30.0) -> bool:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.idle:
                return True
            time.sleep(0.01)
        return False

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                tag, ticket, fn, args, kwargs = self._queue.pop(0)
                self._busy = True
            try:
                result = fn(*args, **kwargs)
            except WorkstationError as e:
                self.error.emit(tag, ticket, str(e))
            except Exception as e:
                log.error("%s task %s failed:\n%s", self._name, tag, traceback.format_exc())
                self.error.emit(tag, ticket, f"{type(e).__name__}: {e}")
            else:
                self.done.emit(tag, ticket, result)
            finally:
                del fn, args, kwargs   # the task's references go here, not with the next one
                with self._cond:
                    self._busy = False

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop after the running task (queued ones are dropped, with their callbacks);
        True when the thread ended."""
        with self._cond:
            self._stopping = True
            self._queue.clear()
            self._callbacks.clear()
            self._cond.notify_all()
        self._thread.join(timeout)
        return not self._thread.is_alive()
