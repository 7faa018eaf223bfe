"""Cut a stream of audio blocks into overlapping analysis chunks on the frame grid.

The frame grid is the centred one (librosa ``center=True``): frame ``j`` is centred on
sample ``j * hop``, and a signal of ``n`` samples has ``C.n_frames_for(n) = 1 + n // hop``
frames. A chunk owns ``n_frames`` consecutive *valid* frames from ``frame_start`` and
carries the samples it needs to compute them with context: from
``frame_start * hop - pad`` to ``(frame_start + n_frames) * hop + pad``, zero outside the
signal (the same zero padding a centred front end applies to a whole signal), so a
per-frame feature computed on each chunk and cropped to its valid frames equals the
feature computed on the whole signal, as long as its window fits in ``pad``.

``chunk_stream`` works from blocks of any size and keeps only the samples the next chunk
needs (about ``chunk_frames * hop + 2 * pad`` plus one incoming block), whatever the
length of the stream. It needs no total length: a chunk is emitted as soon as its
segment is complete, and at that point the stream is known to hold at least one more
frame, so ``is_last`` is exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np

from . import constants as C


@dataclass
class Chunk:
    """One chunk of the frame grid.

    frame_start, n_frames: the valid frames ``frame_start .. frame_start + n_frames - 1``;
    segment [shape=(n_frames * hop + 2 * pad,), float32]: samples from ``frame_start * hop - pad``
    (zero outside the signal); pad: samples of context on each side; is_last: no frame follows;
    n_samples_so_far: samples received from the stream when the chunk was emitted (the total
    length when ``is_last``); progress: fraction of frames done, in [0, 1] (estimated from
    ``n_samples_hint`` where given, exactly 1.0 for the last chunk).
    """

    index: int
    frame_start: int
    n_frames: int
    segment: np.ndarray
    pad: int
    is_last: bool
    n_samples_so_far: int
    progress: float

    @property
    def frame_stop(self) -> int:
        """One past the last valid frame."""
        return self.frame_start + self.n_frames


def chunk_stream(blocks: Iterable[np.ndarray], *, n_samples_hint: int | None = None,
                 chunk_frames: int, pad: int, hop_length: int = C.HOP_LENGTH) -> Iterator[Chunk]:
    """Chunks of at most ``chunk_frames`` valid frames over a stream of mono blocks.

    blocks: mono sample blocks [shape=(n,)] of any sizes (empty ones allowed); their
    concatenation is the signal. n_samples_hint: expected total length in samples, used only
    for ``Chunk.progress``. chunk_frames >= 1; pad: context in samples on each side, a
    multiple of ``hop_length``.

    The valid frames of the chunks tile ``0 .. C.n_frames_for(n_samples) - 1`` exactly, in
    order, without overlap; the last chunk has ``is_last=True``.
    """
    if chunk_frames < 1:
        raise ValueError(f"chunk_frames must be >= 1, got {chunk_frames}")
    if pad < 0 or pad % hop_length:
        raise ValueError(f"pad ({pad}) must be a non-negative multiple of hop_length ({hop_length})")
    hop = hop_length
    seg_len = chunk_frames * hop + 2 * pad
    hint_frames = C.n_frames_for(n_samples_hint, hop_length=hop) if n_samples_hint else None

    # buf holds the samples from global index buf_start (negative at first: the left zero pad),
    # pending holds blocks received but not yet joined to buf.
    buf = np.zeros(pad, dtype=np.float32)
    buf_start = -pad
    pending: list[np.ndarray] = []
    n_pending = 0
    n_total = 0
    frame_start = 0
    index = 0

    def progress(stop: int) -> float:
        return min(1.0, stop / hint_frames) if hint_frames else 0.0

    for block in blocks:
        block = np.asarray(block, dtype=np.float32).reshape(-1)
        if not len(block):
            continue
        pending.append(block)
        n_pending += len(block)
        n_total += len(block)
        while len(buf) + n_pending >= (frame_start * hop - pad - buf_start) + seg_len:
            if pending:
                buf = np.concatenate([buf, *pending])
                pending.clear()
                n_pending = 0
            off = frame_start * hop - pad - buf_start
            # The segment is complete, so the signal has at least (frame_start + chunk_frames) * hop
            # + pad samples: frame frame_start + chunk_frames exists and this chunk is not the last.
            seg = buf[off:off + seg_len].copy()
            yield Chunk(index=index, frame_start=frame_start, n_frames=chunk_frames, segment=seg,
                        pad=pad, is_last=False, n_samples_so_far=n_total,
                        progress=min(progress(frame_start + chunk_frames), 0.999))
            index += 1
            frame_start += chunk_frames
            keep_from = frame_start * hop - pad - buf_start
            buf = buf[keep_from:].copy()  # copy: let the old buffer go
            buf_start += keep_from

    if pending:
        buf = np.concatenate([buf, *pending])
        pending.clear()
    n_frames_total = C.n_frames_for(n_total, hop_length=hop)
    while frame_start < n_frames_total:
        n = min(chunk_frames, n_frames_total - frame_start)
        off = frame_start * hop - pad - buf_start
        length = n * hop + 2 * pad
        seg = np.zeros(length, dtype=np.float32)
        avail = buf[off:off + length]
        seg[:len(avail)] = avail
        last = frame_start + n >= n_frames_total
        yield Chunk(index=index, frame_start=frame_start, n_frames=n, segment=seg, pad=pad,
                    is_last=last, n_samples_so_far=n_total,
                    progress=1.0 if last else progress(frame_start + n))
        index += 1
        frame_start += n


@dataclass
class ContextWindow:
    """What a network reads and what it may write in one step of a ``ContextStream``.

    frames [shape=(..., width)]: feature frames ``start .. start + width - 1`` (global frame
    indices); ``lo .. hi - 1``: the frames that are final now (each has the stream's context
    on its right inside ``frames``, or the stream has ended). A caller computes on ``frames``
    and keeps the columns ``lo - start .. hi - start``."""

    frames: np.ndarray
    start: int
    lo: int
    hi: int


class ContextStream:
    """Streaming with temporal context: the one way an analyzer feeds per-chunk feature frames
    to a network whose output at a frame depends on ``context`` frames on each side.

    ``push(frames, is_last)`` appends a chunk's frames [shape=(..., m)] and returns the
    ``ContextWindow`` of that step: the carried frames (up to ``2 * context``: the left context
    of the first frame not yet final, and those frames) followed by the new ones; a frame is
    final once ``context`` frames follow it (all frames at the end of the stream, at most
    ``limit``). ``finish()`` gives the window of the frames still pending when a stream did
    not flag its last chunk (None if there are none). ``align``: the global index of every
    window's first frame is a multiple of it (for networks that pool time by ``align``)."""

    def __init__(self, context: int, *, align: int = 1, limit: int | None = None):
        self.context = int(context)
        self.align = max(1, int(align))
        self.limit = limit
        self._buf: np.ndarray | None = None
        self._start = 0      # global index of _buf's first frame
        self._written = 0    # frames before this are final

    def push(self, frames: np.ndarray, is_last: bool) -> ContextWindow:
        frames = np.asarray(frames)
        buf = frames if self._buf is None else np.concatenate([self._buf, frames], axis=-1)
        start, end = self._start, self._start + buf.shape[-1]
        hi = end if is_last else end - self.context
        if self.limit is not None:
            hi = min(hi, self.limit)
        lo = self._written
        self._written = max(lo, hi)
        keep = max(0, buf.shape[-1] - 2 * self.context)
        keep -= (start + keep) % self.align
        self._buf, self._start = buf[..., keep:], start + keep
        return ContextWindow(buf, start, lo, max(lo, hi))

    def finish(self) -> ContextWindow | None:
        if self._buf is None:
            return None
        end = self._start + self._buf.shape[-1]
        hi = end if self.limit is None else min(end, self.limit)
        if hi <= self._written:
            return None
        lo, self._written = self._written, hi
        return ContextWindow(self._buf, self._start, lo, hi)
