"""The worker writes the display cache while it analyses a track, equal to what the window's
loader computes from the decoded audio, so an analysed track opens without decoding it."""

from pathlib import Path

import numpy as np
import soundfile as sf

from workstation.analysis.display import (DisplayBuilder, cache_path, display_features_from_audio,
                                          read_cache)
from workstation.analysis.jobs import AnalyzerSpec
from workstation.analysis.pipeline import array_chunks
from workstation.analysis.scheduler import Scheduler, jobs_for
from workstation.core import constants as C
from workstation.core.audio import stream
from workstation.gui.track_loader import display_features, load_track_data
from workstation.inference.frontend import FrontEnd
from workstation.library import Library

ENERGY = AnalyzerSpec("ws_test_plugins:FrameEnergy")


def _music(seconds: float, sr: int = 44100) -> np.ndarray:
    """A stereo signal [shape=(n, 2)]: a rising glide over noise, then silence."""
    rng = np.random.default_rng(3)
    t = np.arange(int(seconds * sr)) / sr
    f = 110 * 2 ** (t / seconds * 4)
    y = 0.3 * np.sin(2 * np.pi * np.cumsum(f) / sr) + 0.01 * rng.standard_normal(len(t))
    y[int(0.8 * len(y)):] = 0.0
    return np.stack([y, 0.5 * y], axis=1).astype(np.float32)


def _same(a, b):
    assert a.spec.shape == b.spec.shape and a.env_min.shape == b.env_min.shape
    diff = np.abs(a.spec.astype(int) - b.spec.astype(int))
    assert diff.max() <= 1, diff.max()   # one grey level (0.31 dB): the builder's float16 dB
    np.testing.assert_allclose(a.env_min, b.env_min, atol=1e-6)
    np.testing.assert_allclose(a.env_max, b.env_max, atol=1e-6)
    assert abs(a.duration_s - b.duration_s) < 1e-3


def test_builder_from_chunks_equals_the_loader_computation():
    """Chunk by chunk (three chunks with borders) the builder gives the whole-signal features."""
    x = _music(150, sr=C.SAMPLE_RATE)[:, 0]
    b = DisplayBuilder(C.n_frames_for(len(x)), len(x))
    chunks = list(array_chunks(x, FrontEnd("cpu")))
    assert len(chunks) == 3
    for ch in chunks[:2]:
        b.add(ch)
    assert b.result() is None                 # a pass cut short gives nothing
    b.add(chunks[2])
    b.add(chunks[0])                          # a second pass is ignored
    _same(b.result(), display_features_from_audio(x))


def test_worker_writes_the_display_cache_and_the_loader_uses_it(tmp_path):
    music = tmp_path / "music"
    music.mkdir()
    sf.write(music / "long.flac", _music(130), 44100)
    lib = Library.open(tmp_path / "lib")
    lib.scan(music)
    (track,) = lib.tracks()
    path = cache_path(lib.root, track.content_hash)
    assert not path.exists()
    counts = Scheduler(lib, device="cpu").run(jobs_for(lib, [ENERGY]))
    assert counts["done"] == 1
    cached = read_cache(path)
    assert cached is not None
    audio = np.concatenate(list(stream(track.path)))
    _same(cached, display_features_from_audio(audio))
    # the window's loader reads it without decoding: it works with the audio file gone
    Path(track.path).rename(tmp_path / "moved.flac")
    assert display_features(lib, track).spec.shape == cached.spec.shape
    data = load_track_data(lib, track.id, [ENERGY])
    assert data.display is not None and not data.display_error
