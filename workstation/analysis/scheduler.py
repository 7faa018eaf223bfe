"""The job scheduler: feeds tracks to a worker process and survives its crashes.

One job is in flight at a time, so when the worker dies (a segfault in a
decoder, an out-of-memory kill) the scheduler knows which track did it: that
track's unfinished analyses are marked failed with the reason, a fresh worker is
started, and the queue goes on. Results are written by the worker as each
analyzer finishes, and ``resume`` semantics come from the catalogue: whatever is
not 'done' is analysed again, whatever is 'done' is never recomputed.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import queue
import signal
import time
from collections import deque
from typing import Callable, Iterable

from workstation.analysis.jobs import AnalyzerSpec, Event, Job
from workstation.core.errors import WorkstationError

log = logging.getLogger(__name__)

EventFn = Callable[[Event], None]


def _exit_reason(code: int | None) -> str:
    if code is None:
        return "stopped responding"
    if code < 0:
        try:
            return f"was killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


class Scheduler:
    """Runs jobs in a worker process.

    ``run(jobs, on_event)`` blocks until every job is done, failed or cancelled
    (CLI). A GUI runs the same call on a thread and forwards events to signals.
    ``cancel()``, ``pause()`` and ``resume()`` may be called from any thread.
    """

    def __init__(self, library, *, device: str = "auto", log_level: int = logging.WARNING,
                 job_timeout_s: float | None = None):
        self.library = library
        self.device = device
        self.log_level = log_level
        self.job_timeout_s = job_timeout_s
        self._ctx = mp.get_context("spawn")
        self._cancel = self._ctx.Event()
        self._running = self._ctx.Event()
        self._running.set()
        self._proc = None
        self._jobs = None
        self._events = None
        self._ready = False
        self.restarts = 0

    # ---- control (thread-safe) -------------------------------------------------------
    def cancel(self) -> None:
        self._cancel.set()
        self._running.set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    # ---- worker lifecycle ------------------------------------------------------------
    def _start_worker(self) -> None:
        from workstation.analysis.lifeline import worker_entry   # the worker dies with this process

        self._jobs = self._ctx.Queue()
        self._events = self._ctx.Queue()
        self._ready = False
        self._proc = self._ctx.Process(
            target=worker_entry, name="workstation-worker", daemon=True,
            args=(os.getpid(), str(self.library.root), self.device, self._jobs, self._events,
                  self._cancel, self._running, self.log_level))
        self._proc.start()

    def _stop_worker(self, timeout: float = 10.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.is_alive():
            try:
                self._jobs.put(None)
            except (OSError, ValueError):
                pass
            proc.join(timeout)
        if proc.is_alive():
            proc.terminate()
            proc.join(5)
        if proc.is_alive():
            proc.kill()
            proc.join(5)
        for q in (self._jobs, self._events):
            q.close()
            q.join_thread()

    def close(self) -> None:
        self._stop_worker()

    # ---- main loop -------------------------------------------------------------------
    def run(self, jobs: Iterable[Job], on_event: EventFn | None = None) -> dict[str, int]:
        """Run the jobs; returns counts of tracks {'done', 'failed', 'cancelled'}, of worker
        'crashes' and of 'analyzers_failed' (a track is 'done' when its job ran to the end,
        though some of its analyzers may have failed)."""
        emit = on_event or (lambda e: None)
        pending = deque(jobs)
        counts = {"done": 0, "failed": 0, "cancelled": 0, "crashes": 0, "analyzers_failed": 0}
        self.library.reset_running()
        in_flight: Job | None = None
        started_at = 0.0
        try:
            while pending or in_flight is not None:
                if self._proc is None or not self._proc.is_alive():
                    if not self._ready:
                        self._raise_if_start_failed()
                    if in_flight is not None:
                        reason = _exit_reason(self._proc.exitcode if self._proc else None)
                        self._fail_crashed(in_flight, f"the analysis worker {reason} while "
                                                      f"analysing {in_flight.path}", emit)
                        counts["failed"] += 1
                        counts["crashes"] += 1
                        in_flight = None
                    if self._proc is not None:
                        self._stop_worker()
                        self.restarts += 1
                    if not pending:
                        break
                    self._start_worker()
                if in_flight is None:
                    if self._cancel.is_set():
                        for job in pending:     # recorded, so every view says 'cancelled'
                            self._mark_unfinished(job, "cancelled")
                            emit(Event("track_cancelled", job.track_id, message=job.path))
                            counts["cancelled"] += 1
                        pending.clear()
                        break
                    in_flight = pending.popleft()
                    started_at = time.monotonic()
                    self._jobs.put(in_flight)
                try:
                    ev: Event = self._events.get(timeout=0.2)
                except queue.Empty:
                    if (self.job_timeout_s and in_flight is not None and not self.paused
                            and time.monotonic() - started_at > self.job_timeout_s):
                        log.warning("job on %s timed out; killing the worker", in_flight.path)
                        self._proc.kill()
                        self._proc.join(5)
                    continue
                if ev.kind == "ready":
                    self._ready = True
                    continue
                if ev.kind == "worker_failed":   # nothing ran: no record is touched
                    raise WorkstationError(ev.message)
                emit(ev)
                if ev.kind == "analyzer_failed":
                    counts["analyzers_failed"] += 1
                if ev.kind in ("track_done", "track_failed", "track_cancelled"):
                    key = {"track_done": "done", "track_failed": "failed",
                           "track_cancelled": "cancelled"}[ev.kind]
                    counts[key] += 1
                    in_flight = None
        except BaseException:               # Ctrl+C or an error here: the worker stops too
            self._cancel.set()
            self._running.set()
            raise
        finally:
            self._stop_worker()
            if in_flight is not None:        # stopped mid-track (Ctrl+C, an error): not 'running'
                self._release(in_flight)
        emit(Event("all_done", data=dict(counts)))
        return counts

    def _release(self, job: Job) -> None:
        """The job's analyses still marked 'running' go back to 'pending' (this run's only:
        another run on the same library keeps its own)."""
        self._mark_unfinished(job, "pending", only="running")

    def _mark_unfinished(self, job: Job, status: str, *, only: str | None = None,
                         error: str | None = None) -> None:
        """Set the job's analyses that are not 'done' (or only those in status ``only``) to
        ``status`` (with ``error``, the reason)."""
        for spec in job.specs:
            try:
                a = spec.build()
            except Exception:
                continue
            rec = self.library.get_analysis(job.content_hash, *a.result_key)
            if (rec is None and only is None) or (rec is not None and rec.status != "done"
                                                   and (only is None or rec.status == only)):
                self.library.set_analysis(job.content_hash, *a.result_key,
                                          status=status, error=error)

    def _raise_if_start_failed(self) -> None:
        """WorkstationError with the worker's reason when it died before it was ready and said
        why (a bad device); only the start-up's events are read here."""
        if self._events is None:
            return
        while True:
            try:
                ev = self._events.get(timeout=0.05)
            except (queue.Empty, OSError, ValueError):
                return
            if ev.kind == "worker_failed":
                raise WorkstationError(ev.message)

    def _fail_crashed(self, job: Job, reason: str, emit: EventFn) -> None:
        self._mark_unfinished(job, "failed", error=reason)
        emit(Event("worker_crashed", job.track_id, message=reason))
        emit(Event("track_failed", job.track_id, message=reason))


def jobs_for(library, specs: list[AnalyzerSpec], track_ids: list[int] | None = None,
             *, force: bool = False) -> list[Job]:
    """Jobs for the tracks (default: every track with status 'ok') that still miss a result."""
    built = [s.build() for s in specs]
    keys = [a.result_key for a in built]
    if force:
        tracks = [library.track(t) for t in track_ids] if track_ids else library.tracks(status="ok")
        for t in tracks:
            for k in keys:
                library.set_analysis(t.content_hash, *k, status="pending")
        todo = [(t, [k[0] for k in keys]) for t in tracks]
    else:
        todo = library.pending(track_ids, keys)
    if not todo and track_ids is None and not library.tracks(status="ok"):
        raise WorkstationError("the library has no readable tracks to analyse")
    return [Job(t.id, t.path, t.content_hash, tuple(specs)) for t, _ in todo]
