"""The one streaming-with-context primitive (``core.chunking.ContextStream``) and the one
blocked-inference helper (``inference.blocked.blocked_predict``): a local operator computed
through them equals the operator on the whole input, whatever the cuts."""

import numpy as np
import pytest

from workstation.core.chunking import ContextStream
from workstation.inference.blocked import blocked_predict


def local_op(x: np.ndarray, r: int) -> np.ndarray:
    """A stand-in network with a receptive field of +-r frames: a weighted moving sum along
    the last axis with zero padding [shape=(..., n)] -> [shape=(2, ..., n)] (two 'heads')."""
    w = np.arange(1, 2 * r + 2, dtype=np.float64)
    pad = np.pad(x.astype(np.float64), [(0, 0)] * (x.ndim - 1) + [(r, r)])
    out = sum(w[k] * pad[..., k:k + x.shape[-1]] for k in range(2 * r + 1))
    return np.stack([out, -out]).astype(np.float32)


def batched(r):
    return lambda batch: np.stack([local_op(b, r) for b in batch])


@pytest.mark.parametrize("n,block,batch,align", [(1, 8, 2, 1), (50, 8, 3, 1), (203, 40, 2, 2),
                                                 (97, 200, 4, 2), (64, 16, 1, 4)])
def test_blocked_predict_equals_the_whole_input(n, block, batch, align):
    x = np.random.default_rng(n).standard_normal((3, n)).astype(np.float32)
    out = blocked_predict(x, batched(5), block_frames=block, border_frames=5, batch_size=batch,
                          align=align)
    assert out.shape == (2, 3, n)
    np.testing.assert_allclose(out, local_op(x, 5), rtol=1e-5, atol=1e-4)
    # a border shorter than the receptive field is visibly wrong near block joins (the test
    # can fail)
    if n > block:
        short = blocked_predict(x, batched(5), block_frames=block, border_frames=1, batch_size=batch)
        assert not np.allclose(short, local_op(x, 5), atol=1e-3)


@pytest.mark.parametrize("sizes", [[10, 10, 10], [1, 2, 3, 40, 1], [7], [33, 1, 1, 1, 20]])
@pytest.mark.parametrize("align", [1, 2])
def test_context_stream_gives_every_frame_once_with_its_context(sizes, align):
    r = 4
    x = np.random.default_rng(len(sizes)).standard_normal((2, sum(sizes))).astype(np.float32)
    whole = local_op(x, r)
    got = np.full_like(whole, np.nan)
    stream = ContextStream(r, align=align)
    edges = np.cumsum([0, *sizes])
    for i, (a, b) in enumerate(zip(edges[:-1], edges[1:])):
        win = stream.push(x[:, a:b], is_last=i == len(sizes) - 1)
        assert win.start % align == 0
        assert win.frames.shape[-1] <= 2 * r + align + (b - a)      # memory stays bounded
        if win.hi > win.lo:
            assert np.all(np.isnan(got[..., win.lo:win.hi]))          # each frame written once
            got[..., win.lo:win.hi] = local_op(win.frames, r)[..., win.lo - win.start:win.hi - win.start]
    assert stream.finish() is None
    np.testing.assert_allclose(got, whole, rtol=1e-5, atol=1e-4)


def test_context_stream_finish_and_limit():
    r = 3
    x = np.arange(20, dtype=np.float32)[None]
    stream = ContextStream(r, limit=15)
    first = stream.push(x[:, :12], is_last=False)
    assert (first.lo, first.hi) == (0, 9)
    second = stream.push(x[:, 12:], is_last=False)        # the stream never says it ended
    assert (second.lo, second.hi) == (9, 15)               # capped by the limit
    assert stream.finish() is None                         # nothing left under the limit
    unlimited = ContextStream(r)
    unlimited.push(x, is_last=False)
    rest = unlimited.finish()
    assert (rest.lo, rest.hi) == (17, 20)
    np.testing.assert_array_equal(rest.frames[0, rest.lo - rest.start:], x[0, 17:])
