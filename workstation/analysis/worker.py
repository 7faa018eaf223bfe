"""The analysis worker: a separate process that owns the torch device.

It takes ``Job``s from a queue, runs the pipeline on each track, writes every
result atomically into the result store and its status into the catalogue as
soon as it is ready, and reports ``Event``s. Cancel and pause are honoured
between chunks. A crash here never takes its client down: the scheduler marks
the job failed and starts a new worker.
"""

from __future__ import annotations

import logging
import os
import queue
import time
from typing import Any

from workstation.analysis.base import Analyzer, TrackInfo
from workstation.analysis.jobs import Event, Job
from workstation.analysis.pipeline import file_chunks, run_pipeline, stages
from workstation.core import constants as C
from workstation.core.errors import Cancelled, WorkstationError
from workstation.core.types import nonfinite_fields

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 0.1


class _Throttle:
    def __init__(self, interval: float):
        self.interval = interval
        self.last = 0.0

    def ready(self) -> bool:
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            return True
        return False


def process_job(job: Job, library, frontend, emit, *, cancel=None, running=None,
                parent_pid: int | None = None) -> None:
    """Analyse one track: skip what is cached, run the rest, store each result when done."""
    from workstation.core.audio import expected_samples, probe

    emit(Event("track_started", job.track_id, message=job.path))
    try:
        analyzers = [s.build() for s in job.specs]
    except Exception as exc:
        emit(Event("track_failed", job.track_id, message=f"cannot build analyzers: {exc}"))
        return
    store = library.store
    h = job.content_hash
    key = {a.id: a.result_key for a in analyzers}

    todo: list[Analyzer] = []
    cached: dict[str, Any] = {}
    for a in analyzers:
        rec = library.get_analysis(h, *key[a.id])
        if rec is not None and rec.status == "done" and store.intact(h, *key[a.id]):
            cached[a.id] = None  # loaded lazily below, only if something needs it
        else:
            todo.append(a)
    if not todo:
        emit(Event("track_done", job.track_id, progress=1.0, message="cached",
                   data={"ok": [], "failed": [], "cached": list(cached)}))
        return
    needed = {r for a in todo for r in a.requires}
    known = {}
    for a in analyzers:
        if a.id in cached and a.id in needed:
            res = store.load(h, *key[a.id])
            if res is None:  # unreadable cache entry: recompute it
                todo.insert(0, a)
            else:
                known[a.id] = res
    todo = [a for group in stages(todo) for a in group]

    for a in todo:
        library.set_analysis(h, *key[a.id], status="running", progress=0.0)

    fractions = {a.id: 0.0 for a in todo}
    throttle = _Throttle(PROGRESS_INTERVAL_S)

    def overall() -> float:
        return sum(fractions.values()) / max(1, len(fractions))

    def on_progress(aid: str, frac: float) -> None:
        fractions[aid] = frac
        if throttle.ready():
            emit(Event("progress", job.track_id, aid, overall()))

    ok: list[str] = []
    failed: list[str] = []

    def on_result(a: Analyzer, result, elapsed: float) -> None:
        bad = nonfinite_fields(result)
        if bad:   # never stored: one NaN vector used to break the similarity search of every track
            on_error(a, ValueError(f"its result has NaN or infinite values ({', '.join(bad)}); not stored"))
            return
        path = store.save(h, *key[a.id], result)
        library.set_analysis(h, *key[a.id], status="done", result_path=str(path), progress=1.0,
                             elapsed_s=elapsed, error=None)
        fractions[a.id] = 1.0
        ok.append(a.id)
        emit(Event("analyzer_done", job.track_id, a.id, overall(), data={"elapsed_s": elapsed}))

    def on_error(a: Analyzer, exc: BaseException) -> None:
        msg = f"{a.id} failed on {job.path}: {exc}"
        library.set_analysis(h, *key[a.id], status="failed", error=msg)
        fractions[a.id] = 1.0
        failed.append(a.id)
        emit(Event("analyzer_failed", job.track_id, a.id, overall(), message=msg))

    def checkpoint() -> None:
        if parent_pid is not None and os.getppid() != parent_pid:
            raise Cancelled("the client that started this analysis has exited")
        if cancel is not None and cancel.is_set():
            raise Cancelled("cancelled")
        while running is not None and not running.is_set():
            if cancel is not None and cancel.is_set():
                raise Cancelled("cancelled")
            running.wait(0.1)

    def unfinished(status: str, error: str | None) -> None:
        for a in todo:
            if a.id not in ok and a.id not in failed:
                library.set_analysis(h, *key[a.id], status=status, error=error)

    try:
        info = probe(job.path)
        n_samples = expected_samples(info, C.SAMPLE_RATE)
        track = TrackInfo(path=job.path, sr=C.SAMPLE_RATE, n_samples=n_samples,
                          n_frames=C.n_frames_for(n_samples), device=str(frontend.device))
        display = _display_builder(library, h, track)

        def chunks():
            for chunk in file_chunks(job.path, frontend, n_samples=n_samples, info=info):
                if display is not None:
                    display.add(chunk)
                yield chunk
        run_pipeline(chunks, track, todo, known_results=known, on_progress=on_progress,
                     on_result=on_result, on_error=on_error, checkpoint=checkpoint)
        _write_display(library, h, display)
    except Cancelled:
        unfinished("cancelled", None)
        emit(Event("track_cancelled", job.track_id, message=job.path))
        return
    except WorkstationError as exc:
        unfinished("failed", str(exc))
        emit(Event("track_failed", job.track_id, message=str(exc)))
        return
    except Exception as exc:  # unexpected: report with the file name, keep the worker alive
        log.exception("unexpected error on %s", job.path)
        msg = f"{job.path}: unexpected error: {type(exc).__name__}: {exc}"
        unfinished("failed", msg)
        emit(Event("track_failed", job.track_id, message=msg))
        return
    emit(Event("track_done", job.track_id, progress=1.0,
               data={"ok": ok, "failed": failed, "cached": list(cached)}))


def _display_builder(library, content_hash: str, track: TrackInfo):
    """A ``DisplayBuilder`` for the track when its display cache is missing, else None."""
    from workstation.analysis.display import DisplayBuilder, cache_path
    if not content_hash or cache_path(library.root, content_hash).is_file():
        return None
    return DisplayBuilder(track.n_frames, track.n_samples, track.sr)


def _write_display(library, content_hash: str, display) -> None:
    """Store the display features built during the analysis (a pass that read every chunk),
    so the window shows the track without decoding it again."""
    from workstation.analysis.display import cache_path, write_cache
    d = display.result() if display is not None else None
    if d is not None:
        write_cache(cache_path(library.root, content_hash), d)


def worker_main(library_root: str, device: str, jobs, events, cancel, running,
                log_level: int = logging.WARNING) -> None:
    """Entry point of the worker process (spawned by ``Scheduler``)."""
    logging.basicConfig(level=log_level, format="worker %(process)d %(levelname)s %(name)s: %(message)s")
    from workstation.inference.device import configure_threads
    from workstation.inference.frontend import FrontEnd
    from workstation.library import Library

    try:
        configure_threads()
        library = Library.open(library_root)
        frontend = FrontEnd(device)
    except Exception as exc:   # a bad device, an unreadable library: the run cannot start
        events.put(Event("worker_failed", message=f"the analysis worker cannot start: {exc}"))
        return
    events.put(Event("ready", message=str(frontend.device), data={"pid": os.getpid()}))
    parent = os.getppid()
    while True:
        try:
            job = jobs.get(timeout=1.0)
        except queue.Empty:
            if os.getppid() != parent:  # our client died: do not linger as an orphan
                break
            continue
        if job is None:
            break
        process_job(job, library, frontend, events.put, cancel=cancel, running=running,
                    parent_pid=parent)
