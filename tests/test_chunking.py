"""chunk_stream: exact tiling of the frame grid, per-frame features equal to whole-signal ones."""

from __future__ import annotations

import numpy as np
import pytest

from workstation.core import constants as C
from workstation.core.chunking import chunk_stream

HOP = C.HOP_LENGTH


def blocks_of(x, sizes):
    """Split x into consecutive blocks whose sizes cycle through ``sizes``."""
    i, k = 0, 0
    while i < len(x):
        n = sizes[k % len(sizes)]
        yield x[i:i + n]
        i += n
        k += 1


def frame_energy(x, *, frame_length, hop=HOP):
    """Energy of centred frames (zero padded), [shape=(1 + len(x) // hop,)]."""
    half = frame_length // 2
    xp = np.pad(x.astype(np.float64), (half, frame_length))
    n = C.n_frames_for(len(x), hop_length=hop)
    idx = np.arange(n)[:, None] * hop + np.arange(frame_length)[None, :]
    return (xp[idx] ** 2).sum(axis=1)


def weighted_energy(x, *, frame_length, hop=HOP):
    """A position-sensitive frame feature: sum of w * x^2 with an asymmetric window."""
    half = frame_length // 2
    xp = np.pad(x.astype(np.float64), (half, frame_length))
    n = C.n_frames_for(len(x), hop_length=hop)
    w = np.linspace(0.1, 1.0, frame_length)
    idx = np.arange(n)[:, None] * hop + np.arange(frame_length)[None, :]
    return (xp[idx] ** 2 * w).sum(axis=1)


@pytest.mark.parametrize("n_samples", [0, 1, 255, 256, 257, 5000, 12345, 65536, 100003])
@pytest.mark.parametrize("sizes", [(1000,), (7, 3001, 1, 513), (10 ** 6,), (256,)])
@pytest.mark.parametrize("chunk_frames,pad", [(10, 512), (1, 256), (37, 0), (64, 2048)])
def test_chunks_tile_the_frame_grid_and_match_whole_signal_features(n_samples, sizes,
                                                                     chunk_frames, pad):
    rng = np.random.default_rng(n_samples)
    x = rng.standard_normal(n_samples).astype(np.float32)
    frame_length = min(2 * pad, 1024) if pad else 1  # the window must fit in the pad
    chunks = list(chunk_stream(blocks_of(x, sizes), chunk_frames=chunk_frames, pad=pad))
    n_frames = C.n_frames_for(n_samples)

    # exact tiling, in order
    starts = [c.frame_start for c in chunks]
    assert starts[0] == 0
    for a, b in zip(chunks, chunks[1:]):
        assert b.frame_start == a.frame_start + a.n_frames
    assert chunks[-1].frame_start + chunks[-1].n_frames == n_frames
    assert all(1 <= c.n_frames <= chunk_frames for c in chunks)
    assert [c.is_last for c in chunks] == [False] * (len(chunks) - 1) + [True]
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert chunks[-1].n_samples_so_far == n_samples and chunks[-1].progress == 1.0

    # segment content: the signal from frame_start * hop - pad, zeros outside
    padded = np.concatenate([np.zeros(pad, np.float32), x, np.zeros(pad + chunk_frames * HOP, np.float32)])
    for c in chunks:
        assert c.segment.dtype == np.float32
        assert len(c.segment) == c.n_frames * HOP + 2 * pad
        s = c.frame_start * HOP
        np.testing.assert_array_equal(c.segment, padded[s:s + len(c.segment)])

    # a per-frame feature on each segment, cropped to the valid frames, equals the whole one
    for feat in (frame_energy, weighted_energy):
        whole = feat(x, frame_length=frame_length)
        parts = [feat(c.segment, frame_length=frame_length)[pad // HOP: pad // HOP + c.n_frames]
                 for c in chunks]
        np.testing.assert_allclose(np.concatenate(parts), whole, rtol=1e-10, atol=1e-12)


def test_progress_with_hint_is_monotone():
    x = np.ones(HOP * 1000, np.float32)
    chunks = list(chunk_stream(blocks_of(x, (4096,)), n_samples_hint=len(x), chunk_frames=100,
                               pad=HOP * 4))
    prog = [c.progress for c in chunks]
    assert prog == sorted(prog) and prog[-1] == 1.0 and 0 < prog[0] < 0.2
    assert all(p < 1.0 for p in prog[:-1])


def test_memory_stays_bounded_on_a_long_stream():
    """The chunker never holds much more than one segment plus one block."""
    chunk_frames, pad, block = 200, 8 * HOP, 3000
    seg_len = chunk_frames * HOP + 2 * pad
    held = []

    def gen():
        rng = np.random.default_rng(0)
        for _ in range(2000):  # 6M samples in all
            yield rng.standard_normal(block).astype(np.float32)

    n = 0
    for c in chunk_stream(gen(), chunk_frames=chunk_frames, pad=pad):
        n += c.n_frames
        held.append(len(c.segment))
    assert n == C.n_frames_for(2000 * block)
    assert max(held) == seg_len


def test_chunks_are_emitted_before_the_stream_ends():
    """Chunks come out as soon as their segment is complete (a stream can be endless)."""
    def endless():
        while True:
            yield np.zeros(1000, np.float32)

    it = chunk_stream(endless(), chunk_frames=50, pad=HOP)
    first = [next(it) for _ in range(5)]
    assert [c.frame_start for c in first] == [0, 50, 100, 150, 200]
    assert not any(c.is_last for c in first)


def test_bad_arguments():
    with pytest.raises(ValueError, match="multiple"):
        list(chunk_stream([np.zeros(10)], chunk_frames=4, pad=100))
    with pytest.raises(ValueError, match="chunk_frames"):
        list(chunk_stream([np.zeros(10)], chunk_frames=0, pad=0))


def test_chunks_over_a_decoded_file(tmp_path):
    """stream() feeding chunk_stream(): the frame grid of the resampled file, tiled exactly."""
    import soundfile as sf

    from workstation.core.audio import expected_samples, load, probe, stream
    p = tmp_path / "x.wav"
    rng = np.random.default_rng(1)
    sf.write(p, 0.1 * rng.standard_normal((123457, 2)), 44100, subtype="FLOAT")
    n = expected_samples(probe(p))
    pad = 4 * HOP
    chunks = list(chunk_stream(stream(p, block_s=0.3), n_samples_hint=n, chunk_frames=100, pad=pad))
    assert sum(c.n_frames for c in chunks) == C.n_frames_for(n)
    assert chunks[-1].n_samples_so_far == n
    whole = np.concatenate([np.zeros(pad, np.float32), load(p), np.zeros(pad + 100 * HOP, np.float32)])
    for c in chunks:
        s = c.frame_start * HOP
        np.testing.assert_allclose(c.segment, whole[s:s + len(c.segment)], atol=1e-6)
