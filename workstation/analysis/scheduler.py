"""The job scheduler: feeds tracks to worker processes and survives their crashes.

One job is in flight in each worker at a time, so when a worker dies (a segfault in a
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


class _Slot:
    """One worker process and the one job it has in flight."""

    def __init__(self, index: int):
        self.index = index
        self.proc = None
        self.jobs = None
        self.events = None
        self.ready = False
        self.in_flight: Job | None = None
        self.started_at = 0.0


class Scheduler:
    """Runs jobs in ``workers`` worker processes, one track in flight in each.

    ``run(jobs, on_event)`` blocks until every job is done, failed or cancelled
    (CLI). A GUI runs the same call on a thread and forwards events to signals.
    ``cancel()``, ``pause()`` and ``resume()`` may be called from any thread.
    ``workers``: worker processes (default 1), each with ``threads`` torch threads (default:
    $WORKSTATION_THREADS, else the CPU count divided among the workers) and, with several
    workers, as many analyzer threads (at most 2). Each worker has one track at a time, so a crash is
    still blamed on the right file.
    """

    def __init__(self, library, *, device: str = "auto", log_level: int = logging.WARNING,
                 job_timeout_s: float | None = None, workers: int = 1, threads: int | None = None):
        self.library = library
        self.device = device
        self.log_level = log_level
        self.job_timeout_s = job_timeout_s
        self.workers = max(1, int(workers))
        env = int(os.environ.get("WORKSTATION_THREADS", "0") or 0)
        self.threads = threads or env or (max(1, (os.cpu_count() or 1) // self.workers)
                                          if self.workers > 1 else None)
        self._ctx = mp.get_context("spawn")
        self._cancel = self._ctx.Event()
        self._running = self._ctx.Event()
        self._running.set()
        self._slots = [_Slot(i) for i in range(self.workers)]
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
    def _start_worker(self, slot: _Slot) -> None:
        from workstation.analysis.lifeline import worker_entry   # the worker dies with this process

        slot.jobs = self._ctx.Queue()
        slot.events = self._ctx.Queue()
        slot.ready = False
        slot.proc = self._ctx.Process(
            target=worker_entry, name=f"workstation-worker-{slot.index}", daemon=True,
            args=(os.getpid(), str(self.library.root), self.device, slot.jobs, slot.events,
                  self._cancel, self._running, self.log_level, self.threads))
        pools = self.worker_env()
        os.environ.update(pools)
        try:
            slot.proc.start()
        finally:
            for k in pools:
                os.environ.pop(k, None)

    def worker_env(self) -> dict[str, str]:
        """What a worker's environment gets where the CPUs are divided among several workers
        (nothing the user set is overridden): the sizes of its BLAS and OpenMP pools (read when
        it imports numpy and torch), each the worker's share of the CPUs, and its pipeline's
        analyzer threads, that share capped at the pipeline's default of 2. With 2 workers on
        2 cores, one analyzer at a time per worker cut the peak RSS of the whole analysis from
        about 1.50 to 1.25 GB for 3-5 % less speed (benchmarks/collection.py, 60 clips)."""
        if not (self.threads and self.workers > 1):
            return {}
        env = {"OMP_NUM_THREADS": str(self.threads), "OPENBLAS_NUM_THREADS": str(self.threads),
               "WORKSTATION_ANALYZER_THREADS": str(min(2, self.threads))}
        return {k: v for k, v in env.items() if k not in os.environ}

    def _stop_worker(self, slot: _Slot, timeout: float = 10.0) -> None:
        proc, slot.proc = slot.proc, None
        if proc is None:
            return
        if proc.is_alive():
            try:
                slot.jobs.put(None)
            except (OSError, ValueError):
                pass
            proc.join(timeout)
        if proc.is_alive():
            proc.terminate()
            proc.join(5)
        if proc.is_alive():
            proc.kill()
            proc.join(5)
        for q in (slot.jobs, slot.events):
            q.close()
            q.join_thread()
        slot.jobs = slot.events = None     # a stopped slot is never read again

    def close(self) -> None:
        for slot in self._slots:
            self._stop_worker(slot)

    # ---- main loop -------------------------------------------------------------------
    def run(self, jobs: Iterable[Job], on_event: EventFn | None = None) -> dict[str, int]:
        """Run the jobs; returns counts of tracks {'done', 'failed', 'cancelled'}, of worker
        'crashes' and of 'analyzers_failed' (a track is 'done' when its job ran to the end,
        though some of its analyzers may have failed)."""
        emit = on_event or (lambda e: None)
        pending = deque(jobs)
        counts = {"done": 0, "failed": 0, "cancelled": 0, "crashes": 0, "analyzers_failed": 0}
        self.library.reset_running()
        slots = self._slots
        try:
            while pending or any(s.in_flight is not None for s in slots):
                for slot in slots:
                    self._tend(slot, pending, counts, emit)
                if self._cancel.is_set() and pending:
                    for job in pending:     # recorded, so every view says 'cancelled'
                        self._mark_unfinished(job, "cancelled")
                        emit(Event("track_cancelled", job.track_id, message=job.path))
                        counts["cancelled"] += 1
                    pending.clear()
                if not self._read_events(slots, counts, emit):
                    self._check_timeouts(slots)
        except BaseException:               # Ctrl+C or an error here: the workers stop too
            self._cancel.set()
            self._running.set()
            raise
        finally:
            for slot in slots:
                self._stop_worker(slot)
                if slot.in_flight is not None:   # stopped mid-track (Ctrl+C, an error): not 'running'
                    self._release(slot.in_flight)
                    slot.in_flight = None
        emit(Event("all_done", data=dict(counts)))
        return counts

    def _tend(self, slot: _Slot, pending: deque, counts: dict, emit: EventFn) -> None:
        """A dead worker: its track fails with the reason and a fresh worker starts when
        there is work left; an idle worker gets the next job."""
        if slot.proc is None or not slot.proc.is_alive():
            if slot.proc is not None and not slot.ready:
                self._raise_if_start_failed(slot)
            if slot.in_flight is not None:
                reason = _exit_reason(slot.proc.exitcode if slot.proc else None)
                self._fail_crashed(slot.in_flight, f"the analysis worker {reason} while "
                                                   f"analysing {slot.in_flight.path}", emit)
                counts["failed"] += 1
                counts["crashes"] += 1
                slot.in_flight = None
            if slot.proc is not None:
                self._stop_worker(slot)
                self.restarts += 1
            if not pending or self._cancel.is_set():
                return
            self._start_worker(slot)
        if slot.in_flight is None and pending and not self._cancel.is_set():
            slot.in_flight = pending.popleft()
            slot.started_at = time.monotonic()
            slot.jobs.put(slot.in_flight)

    def _read_events(self, slots: list[_Slot], counts: dict, emit: EventFn) -> bool:
        """Forward the workers' events (waiting up to 0.2 s for the first) -> whether any came."""
        live = [s for s in slots if s.events is not None]
        got = False
        deadline = time.monotonic() + 0.2
        while live and not got:
            for slot in live:
                try:
                    ev: Event = slot.events.get(timeout=0.2 if len(live) == 1 else 0.01)
                except queue.Empty:
                    continue
                got = True
                self._on_event(slot, ev, counts, emit)
            if time.monotonic() > deadline:
                break
        return got

    def _on_event(self, slot: _Slot, ev: Event, counts: dict, emit: EventFn) -> None:
        if ev.kind == "ready":
            slot.ready = True
            return
        if ev.kind == "worker_failed":   # nothing ran: no record is touched
            raise WorkstationError(ev.message)
        emit(ev)
        if ev.kind == "analyzer_failed":
            counts["analyzers_failed"] += 1
        if ev.kind in ("track_done", "track_failed", "track_cancelled"):
            key = {"track_done": "done", "track_failed": "failed",
                   "track_cancelled": "cancelled"}[ev.kind]
            counts[key] += 1
            slot.in_flight = None

    def _check_timeouts(self, slots: list[_Slot]) -> None:
        for slot in slots:
            if (self.job_timeout_s and slot.in_flight is not None and not self.paused
                    and time.monotonic() - slot.started_at > self.job_timeout_s):
                log.warning("job on %s timed out; killing the worker", slot.in_flight.path)
                slot.proc.kill()
                slot.proc.join(5)

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

    def _raise_if_start_failed(self, slot: _Slot) -> None:
        """WorkstationError with the worker's reason when it died before it was ready and said
        why (a bad device); only the start-up's events are read here."""
        if slot.events is None:
            return
        while True:
            try:
                ev = slot.events.get(timeout=0.05)
            except (queue.Empty, OSError, ValueError):
                return
            if ev.kind == "worker_failed":
                raise WorkstationError(ev.message)

    def _fail_crashed(self, job: Job, reason: str, emit: EventFn) -> None:
        self._mark_unfinished(job, "failed", error=reason)
        emit(Event("worker_crashed", job.track_id, message=reason))
        emit(Event("track_failed", job.track_id, message=reason))


def default_workers(n_jobs: int | None = None) -> int:
    """Worker processes for a run of ``n_jobs`` tracks where none were asked for (the CLI's
    ``--workers``, the window): 2 where there are 2 or more CPUs, never more than the jobs.
    Two workers on 2 cores analyse a collection about 15 % faster than one (each runs one
    analyzer at a time; the whole analysis peaked at 1.14 GB on 1,000 clips)."""
    n = min(2, os.cpu_count() or 1)
    return max(1, min(n, n_jobs)) if n_jobs is not None else n


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
