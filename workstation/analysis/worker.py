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


def plan_job(job: Job, library) -> tuple[list[Analyzer], list[Analyzer], dict[str, Any], list[str]]:
    """What a job still has to compute -> (its analyzers, those to run now in stage order,
    the cached results the ones to run need, the ids already cached). Raises what building
    an analyzer raises. Writes only to adopt a result that the store holds intact but the
    catalogue has no record of (another library sharing the store, ``--store``, computed
    it): it is recorded as done here."""
    analyzers = [s.build() for s in job.specs]
    store = library.store
    h = job.content_hash
    key = {a.id: a.result_key for a in analyzers}
    todo: list[Analyzer] = []
    cached: list[str] = []
    for a in analyzers:
        rec = library.get_analysis(h, *key[a.id])
        if (rec is None or rec.status == "done") and store.intact(h, *key[a.id]):
            if rec is None:
                library.set_analysis(h, *key[a.id], status="done", progress=1.0,
                                     result_path=str(store.path_for(h, *key[a.id])))
            cached.append(a.id)  # loaded below only if something needs it
        else:
            todo.append(a)
    if not todo:
        return analyzers, [], {}, cached
    needed = {r for a in todo for r in a.requires}
    known: dict[str, Any] = {}
    for a in analyzers:
        if a.id in cached and a.id in needed:
            res = store.load(h, *key[a.id])
            if res is None:  # unreadable cache entry: recompute it
                todo.insert(0, a)
            else:
                known[a.id] = res
    todo = [a for group in stages(todo) for a in group]
    return analyzers, todo, known, cached


def analyze_file(path: str, todo: list[Analyzer], frontend, *, known: dict[str, Any] | None = None,
                 on_result, on_error, on_progress=None, checkpoint=None, display: bool = False,
                 threads: int | None = None):
    """Decode ``path`` and run the ``todo`` analyzers on it (the pipeline both the local
    worker and a cluster task run). ``on_result(analyzer, result, elapsed_s)`` gets each
    finite result; a result with NaN or infinite values goes to ``on_error(analyzer, exc)``
    instead, as does an analyzer that fails. ``display``: also build the track's display
    features; returns them (``DisplayFeatures`` or None). Raises ``WorkstationError`` when
    the file cannot be read, ``Cancelled`` from ``checkpoint``."""
    from workstation.analysis.display import DisplayBuilder
    from workstation.core.audio import expected_samples, probe

    info = probe(path)
    n_samples = expected_samples(info, C.SAMPLE_RATE)
    track = TrackInfo(path=path, sr=C.SAMPLE_RATE, n_samples=n_samples,
                      n_frames=C.n_frames_for(n_samples), device=str(frontend.device))
    builder = DisplayBuilder(track.n_frames, track.n_samples, track.sr) if display else None

    def chunks():
        for chunk in file_chunks(path, frontend, n_samples=n_samples, info=info):
            if builder is not None:
                builder.add(chunk)
            yield chunk

    def checked(a: Analyzer, result, elapsed: float) -> None:
        bad = nonfinite_fields(result)
        if bad:   # never stored: one NaN vector used to break the similarity search of every track
            on_error(a, ValueError(f"its result has NaN or infinite values ({', '.join(bad)}); not stored"))
            return
        on_result(a, result, elapsed)

    run_pipeline(chunks, track, todo, known_results=known or {}, on_progress=on_progress,
                 on_result=checked, on_error=on_error, checkpoint=checkpoint, threads=threads)
    return builder.result() if builder is not None else None


def analyzer_error(a: Analyzer, path: str, exc: BaseException) -> str:
    """The reason recorded for an analyzer that failed on a file."""
    return f"{a.id} failed on {path}: {exc}"


def unexpected_error(path: str, exc: BaseException) -> str:
    """The reason recorded for a track whose analysis raised something unexpected."""
    return f"{path}: unexpected error: {type(exc).__name__}: {exc}"


def process_job(job: Job, library, frontend, emit, *, cancel=None, running=None,
                parent_pid: int | None = None) -> None:
    """Analyse one track: skip what is cached, run the rest, store each result when done."""
    emit(Event("track_started", job.track_id, message=job.path, data={"pid": os.getpid()}))
    try:
        analyzers, todo, known, cached = plan_job(job, library)
    except Exception as exc:
        emit(Event("track_failed", job.track_id, message=f"cannot build analyzers: {exc}"))
        return
    if not todo:
        emit(Event("track_done", job.track_id, progress=1.0, message="cached",
                   data={"ok": [], "failed": [], "cached": list(cached)}))
        return
    store = library.store
    h = job.content_hash
    key = {a.id: a.result_key for a in analyzers}

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
        path = store.save(h, *key[a.id], result)
        library.set_analysis(h, *key[a.id], status="done", result_path=str(path), progress=1.0,
                             elapsed_s=elapsed, error=None)
        fractions[a.id] = 1.0
        ok.append(a.id)
        emit(Event("analyzer_done", job.track_id, a.id, overall(), data={"elapsed_s": elapsed}))

    def on_error(a: Analyzer, exc: BaseException) -> None:
        msg = analyzer_error(a, job.path, exc)
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
        display = analyze_file(job.path, todo, frontend, known=known, on_result=on_result,
                               on_error=on_error, on_progress=on_progress, checkpoint=checkpoint,
                               display=needs_display(library, h))
        write_display(library, h, display)
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
        msg = unexpected_error(job.path, exc)
        unfinished("failed", msg)
        emit(Event("track_failed", job.track_id, message=msg))
        return
    emit(Event("track_done", job.track_id, progress=1.0,
               data={"ok": ok, "failed": failed, "cached": list(cached)}))


def needs_display(library, content_hash: str) -> bool:
    """Whether the track's display cache is missing (so an analysis should build it)."""
    from workstation.analysis.display import cache_path
    return bool(content_hash) and not cache_path(library.root, content_hash).is_file()


def write_display(library, content_hash: str, display) -> None:
    """Store the display features built during the analysis (a pass that read every chunk),
    so the window shows the track without decoding it again."""
    from workstation.analysis.display import cache_path, write_cache
    if display is not None:
        write_cache(cache_path(library.root, content_hash), display)


def make_frontend(device: str = "auto"):
    """The shared front end for an analysis process (torch threads from $WORKSTATION_THREADS)."""
    from workstation.inference.device import configure_threads
    from workstation.inference.frontend import FrontEnd
    configure_threads()
    return FrontEnd(device)


def worker_main(library_root: str, device: str, jobs, events, cancel, running,
                log_level: int = logging.WARNING, threads: int | None = None) -> None:
    """Entry point of the worker process (spawned by ``Scheduler``); ``threads``: torch's
    intra-op threads (None: $WORKSTATION_THREADS or torch's choice)."""
    logging.basicConfig(level=log_level, format="worker %(process)d %(levelname)s %(name)s: %(message)s")
    from workstation.inference.device import configure_threads
    from workstation.inference.frontend import FrontEnd
    from workstation.library import Library

    try:
        configure_threads(threads)
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
        trim_heap()


def trim_heap() -> None:
    """Give the heap's free pages back to the system between tracks (glibc ``malloc_trim``;
    nothing elsewhere). Tracks of different lengths leave the allocator's arenas fragmented:
    without it a worker grew from 450 to 740 MB over ten clips of 25-34 s, with it it stays
    at 340 MB between tracks and its peak drops from 842 to 693 MB."""
    import ctypes
    import sys
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):   # not glibc (musl): nothing to trim
        pass
