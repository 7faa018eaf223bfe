"""Blocked inference: one way to run a frame-wise network over a long input.

``blocked_predict`` cuts the frame axis into blocks of equal width, adds ``border`` frames of
context on each side (zero outside the input), runs the blocks through ``predict`` in
batches, and keeps each block's centre (in the manner of beat_this's
``split_predict_aggregate``). As long as the network's receptive field fits in the border,
the output does not depend on the blocking. Used by the learned salience (and its melody
head) and the learned beat tracker; the analyzers stream chunks into it with
``core.chunking.ContextStream``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np


def blocked_predict(x: np.ndarray, predict: Callable[[np.ndarray], np.ndarray], *,
                    block_frames: int, border_frames: int, batch_size: int,
                    align: int = 1) -> np.ndarray:
    """``predict`` over ``x`` [shape=(..., n_frames)] float32 in blocks -> [shape=(*out, n_frames)]
    float32.

    predict: a batch [shape=(batch, ..., width)] -> [shape=(batch, *out, width)] (numpy; the
    frame axis last and unchanged in length). Blocks have equal widths of at most
    ``block_frames`` (rounded up to a multiple of ``align``, as are the border and every block
    start, for networks that pool time by ``align``), so that no block of a batch is mostly
    padding; a batch of one block is cut to that block's frames plus the borders."""
    x = np.asarray(x, dtype=np.float32)
    n = x.shape[-1]
    b = -(-int(border_frames) // align) * align
    blk = -(-n // max(1, -(-n // int(block_frames)))) if n else 0
    blk = -(-blk // align) * align
    starts = list(range(0, n, blk)) if n else []
    lead = [(0, 0)] * (x.ndim - 1)
    padded = np.pad(x, (*lead, (b, b + blk)), mode="constant")
    out = None
    for i in range(0, len(starts), batch_size):
        group = starts[i:i + batch_size]
        width = min(blk, n - group[0]) + 2 * b if len(group) == 1 else blk + 2 * b
        y = predict(np.stack([padded[..., s:s + width] for s in group]))
        if out is None:
            out = np.empty((*y.shape[1:-1], n), np.float32)
        for j, s in enumerate(group):
            m = min(blk, n - s)
            out[..., s:s + m] = y[j, ..., b:b + m]
    return out


__all__ = ["blocked_predict"]
