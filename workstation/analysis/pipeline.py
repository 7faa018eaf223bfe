"""The per-track pipeline: decode once, compute the shared front end once, fan out.

``run_pipeline`` walks a track chunk by chunk. Every chunk becomes one
``FeatureChunk`` whose features are computed lazily, at most once, and the same
chunk is handed to every analyzer of the current stage (analyzers are
generators, see ``analysis.base``). Analyzers that ``require`` other results run
in a later stage; a later stage that needs features gets a second pass over the
audio. A failing analyzer fails alone (and the analyzers that depend on it);
the others finish.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from workstation.analysis.base import Analyzer, FeatureChunk, TrackInfo
from workstation.core import constants as C
from workstation.core.errors import AnalysisError, Cancelled, WorkstationError
from workstation.core.types import Result

log = logging.getLogger(__name__)

ProgressFn = Callable[[str, float], None]
"""on_progress(analyzer_id, fraction in [0, 1])."""
ResultFn = Callable[[Analyzer, Result, float], None]
"""on_result(analyzer, result, elapsed_s) — called as soon as an analyzer finishes."""
ErrorFn = Callable[[Analyzer, BaseException], None]
"""on_error(analyzer, exception) — called when an analyzer fails."""


class _Feed:
    """Single-slot iterator through which the pipeline hands one chunk at a time to a generator."""

    def __init__(self) -> None:
        self._item: FeatureChunk | None = None
        self._closed = False

    @property
    def has_item(self) -> bool:
        return self._item is not None

    def put(self, chunk: FeatureChunk) -> None:
        assert self._item is None, "previous chunk not consumed"
        self._item = chunk

    def close(self) -> None:
        self._closed = True

    def __iter__(self) -> "_Feed":
        return self

    def __next__(self) -> FeatureChunk:
        if self._item is None:
            if self._closed:
                raise StopIteration
            raise AnalysisError("analyzer asked for a chunk before yielding its progress "
                                "(an analyzer must yield once after each chunk)")
        item, self._item = self._item, None
        return item


@dataclass
class _Running:
    analyzer: Analyzer
    gen: Iterator[float]
    feed: _Feed
    started: float
    result: Result | None = None
    error: BaseException | None = None
    done: bool = False


@dataclass
class PipelineOutcome:
    """What ``run_pipeline`` produced: results and errors by analyzer id."""

    results: dict[str, Result] = field(default_factory=dict)
    errors: dict[str, BaseException] = field(default_factory=dict)
    elapsed_s: dict[str, float] = field(default_factory=dict)


def stages(analyzers: Sequence[Analyzer]) -> list[list[Analyzer]]:
    """Group analyzers into stages so that each runs after the analyzers it requires.

    A required analyzer missing from ``analyzers`` is an error unless its result is
    supplied to ``run_pipeline`` through ``known_results``."""
    remaining = list(analyzers)
    placed: set[str] = set()
    ids = {a.id for a in analyzers}
    out: list[list[Analyzer]] = []
    while remaining:
        ready = [a for a in remaining if all(r in placed or r not in ids for r in a.requires)]
        if not ready:
            raise AnalysisError("circular requirements among analyzers: "
                                + ", ".join(a.id for a in remaining))
        out.append(ready)
        placed.update(a.id for a in ready)
        remaining = [a for a in remaining if a not in ready]
    return out


def _step(r: _Running, on_progress: ProgressFn | None) -> None:
    """Advance one analyzer generator by one yield, recording result or error."""
    try:
        frac = next(r.gen)
        if on_progress is not None:
            on_progress(r.analyzer.id, float(frac))
    except StopIteration as stop:
        r.done = True
        if stop.value is None:
            r.error = AnalysisError(f"{r.analyzer.id} returned no result")
        else:
            r.result = stop.value
    except Cancelled:
        raise
    except Exception as exc:  # an analyzer bug or bad data fails that analyzer alone
        log.exception("analyzer %s failed", r.analyzer.id)
        r.done = True
        r.error = exc


def default_threads() -> int:
    """Analyzer threads: $WORKSTATION_ANALYZER_THREADS, else min(2, CPUs). Most analyzer work
    is numpy or torch code that releases the GIL, so two analyzers on two cores overlap."""
    env = os.environ.get("WORKSTATION_ANALYZER_THREADS")
    return max(1, int(env)) if env else max(1, min(2, os.cpu_count() or 1))


def run_pipeline(chunk_source: Callable[[], Iterable[FeatureChunk]], track: TrackInfo,
                 analyzers: Sequence[Analyzer], *, known_results: dict[str, Result] | None = None,
                 on_progress: ProgressFn | None = None, on_result: ResultFn | None = None,
                 on_error: ErrorFn | None = None,
                 checkpoint: Callable[[], None] | None = None,
                 threads: int | None = None) -> PipelineOutcome:
    """Run ``analyzers`` over one track.

    chunk_source: a callable returning a fresh iterable of FeatureChunks (called once per
    stage that needs features). known_results: results already available (e.g. from the
    cache) for analyzers this run depends on. checkpoint: called between chunks; raise
    ``Cancelled`` there to stop (pause by blocking in it). threads: analyzers of a stage are
    advanced on up to this many threads at once (default ``default_threads()``); each analyzer
    is only ever advanced by one thread at a time, and callbacks are serialised.
    """
    outcome = PipelineOutcome()
    track.results.update(known_results or {})
    n_threads = threads or default_threads()
    lock = threading.Lock()
    if on_progress is not None:
        user_progress = on_progress

        def on_progress(aid: str, frac: float) -> None:  # noqa: F811 (serialised wrapper)
            with lock:
                user_progress(aid, frac)
    pool = ThreadPoolExecutor(n_threads, thread_name_prefix="analyzer") if n_threads > 1 else None
    try:
        _run_stages(chunk_source, track, analyzers, outcome, on_progress, on_result, on_error,
                    checkpoint, pool, lock)
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    return outcome


def _run_stages(chunk_source, track, analyzers, outcome, on_progress, on_result, on_error,
                checkpoint, pool, lock) -> None:
    def each(fn, items):
        items = list(items)
        if pool is None or len(items) < 2:
            for it in items:
                fn(it)
        else:
            for f in [pool.submit(fn, it) for it in items]:
                f.result()  # re-raises Cancelled raised inside

    for stage in stages(analyzers):
        runnable: list[_Running] = []
        for a in stage:
            missing = [r for r in a.requires if r not in track.results]
            if missing:
                err = AnalysisError(f"{a.id} needs {', '.join(missing)}, which failed or was not run")
                outcome.errors[a.id] = err
                if on_error:
                    on_error(a, err)
                continue
            feed = _Feed()
            runnable.append(_Running(a, a.run(feed, track), feed, time.perf_counter()))
        def feed(r: _Running, chunk: FeatureChunk) -> None:
            r.feed.put(chunk)
            while r.feed.has_item and not r.done:
                _step(r, on_progress)
            if r.done and r.feed.has_item:  # finished without reading the chunk
                r.feed._item = None

        def finish(r: _Running) -> None:
            r.feed.close()
            while not r.done:
                if checkpoint is not None:
                    checkpoint()
                _step(r, on_progress)

        if any(a.analyzer.features for a in runnable):
            for chunk in chunk_source():
                if checkpoint is not None:
                    checkpoint()
                each(lambda r, chunk=chunk: feed(r, chunk),
                     [r for r in runnable if not r.done and r.analyzer.features])
        each(finish, runnable)
        for r in runnable:
            elapsed = time.perf_counter() - r.started
            outcome.elapsed_s[r.analyzer.id] = elapsed
            if r.error is not None:
                outcome.errors[r.analyzer.id] = r.error
                if on_error:
                    on_error(r.analyzer, r.error)
            else:
                assert r.result is not None
                outcome.results[r.analyzer.id] = r.result
                track.results[r.analyzer.id] = r.result
                if on_result:
                    on_result(r.analyzer, r.result, elapsed)


def array_chunks(audio: np.ndarray, frontend, *, sr: int = C.SAMPLE_RATE,
                 chunk_s: float = C.CHUNK_SECONDS,
                 border_s: float = C.CHUNK_BORDER_SECONDS) -> Iterator[FeatureChunk]:
    """FeatureChunks over an in-memory mono signal [shape=(n_samples,)] at ``sr``."""
    hop = C.HOP_LENGTH
    pad = int(np.ceil(border_s * sr / hop)) * hop
    chunk_frames = max(1, int(round(chunk_s * sr / hop)))
    n_frames = C.n_frames_for(len(audio))
    padded = np.pad(np.asarray(audio, dtype=np.float32), (pad, pad + chunk_frames * hop))
    for i, start in enumerate(range(0, n_frames, chunk_frames)):
        n = min(chunk_frames, n_frames - start)
        seg = padded[start * hop: start * hop + n * hop + 2 * pad]
        yield FeatureChunk(index=i, frame_start=start, n_frames=n, audio=seg, pad=pad,
                           progress=(start + n) / n_frames, frontend=frontend, sr=sr,
                           is_last=start + n >= n_frames)


def analyze_array(audio: np.ndarray, analyzers: Sequence[Analyzer], *, sr: int = C.SAMPLE_RATE,
                  frontend=None, path: str = "<array>", chunk_s: float = C.CHUNK_SECONDS,
                  **kwargs) -> PipelineOutcome:
    """Run analyzers on an in-memory mono signal already at ``sr`` (tests, notebooks).

    Raises the first analyzer error when there is exactly one analyzer (convenient in tests)."""
    if sr != C.SAMPLE_RATE:
        raise WorkstationError(f"analyze_array wants audio at {C.SAMPLE_RATE} Hz, got {sr}")
    if frontend is None:
        from workstation.inference.frontend import FrontEnd
        frontend = FrontEnd("cpu")
    info = TrackInfo(path=path, sr=sr, n_samples=len(audio), n_frames=C.n_frames_for(len(audio)),
                     device=str(getattr(frontend, "device", "cpu")))
    out = run_pipeline(lambda: array_chunks(audio, frontend, sr=sr, chunk_s=chunk_s), info,
                       analyzers, **kwargs)
    if len(analyzers) == 1 and out.errors:
        raise next(iter(out.errors.values()))
    return out


def analyze(audio: np.ndarray, analyzer: Analyzer, **kwargs) -> Result:
    """Run one analyzer on an in-memory signal at 22050 Hz and return its result."""
    return analyze_array(audio, [analyzer], **kwargs).results[analyzer.id]


def file_chunks(path: str, frontend, *, sr: int = C.SAMPLE_RATE, chunk_s: float = C.CHUNK_SECONDS,
                border_s: float = C.CHUNK_BORDER_SECONDS, n_samples: int | None = None,
                info=None) -> Iterator[FeatureChunk]:
    """FeatureChunks streamed from an audio file: decoded, mixed to mono and resampled in
    blocks, so memory stays bounded whatever the file's length. ``info``: the file's
    ``core.audio.AudioInfo`` when the caller probed it already (else it is probed again)."""
    from workstation.core.audio import stream
    from workstation.core.chunking import chunk_stream

    hop = C.HOP_LENGTH
    pad = int(np.ceil(border_s * sr / hop)) * hop
    chunk_frames = max(1, int(round(chunk_s * sr / hop)))
    n_total = C.n_frames_for(n_samples) if n_samples else None
    for i, ch in enumerate(chunk_stream(stream(path, sr=sr, info=info), n_samples_hint=n_samples,
                                        chunk_frames=chunk_frames, pad=pad, hop_length=hop)):
        done = ch.frame_start + ch.n_frames
        progress = 1.0 if ch.is_last else (min(0.999, done / n_total) if n_total else 0.0)
        yield FeatureChunk(index=i, frame_start=ch.frame_start, n_frames=ch.n_frames,
                           audio=ch.segment, pad=pad, progress=progress, frontend=frontend,
                           sr=sr, is_last=ch.is_last)
