"""Analyzers used by the tests through the plug-in path (``ws_test_plugins:Name``).

They are real analyzers run by the real worker process; they exist to exercise
the pipeline's contract (fan-out, stages, failures, cancel, worker crashes).
"""

from __future__ import annotations

import ctypes
import os
import time

import numpy as np

from workstation.analysis.base import Analyzer
from workstation.core.types import Embedding, Tags


class FrameEnergy(Analyzer):
    """Per-frame STFT energy as a vector (checks chunking and feature sharing)."""

    id = "test.energy"
    features = ("stft_mag",)
    result_type = Embedding

    def run(self, chunks, track):
        parts = []
        for c in chunks:
            parts.append(c.stft_mag().sum(axis=0))
            yield c.progress
        return Embedding(np.concatenate(parts).astype(np.float32), space="energy")


class PeakOfEnergy(Analyzer):
    """Depends on test.energy: the index of its maximum (checks stages)."""

    id = "test.peak"
    requires = ("test.energy",)
    result_type = Tags

    def run(self, chunks, track):
        e = track.results["test.energy"].vector
        yield 1.0
        return Tags(labels=["peak"], scores=np.array([float(np.argmax(e))]))


class Broken(Analyzer):
    """Raises on the first chunk."""

    id = "test.broken"
    features = ("audio",)
    result_type = Tags

    def run(self, chunks, track):
        for c in chunks:
            raise ValueError("this analyzer always fails")
            yield c.progress
        return Tags([], np.zeros(0))


class Slow(Analyzer):
    """Takes ``seconds`` to finish, yielding progress every 50 ms (checks cancel and pause)."""

    id = "test.slow"
    features = ("audio",)
    result_type = Tags
    default_params = {"seconds": 3.0}

    def run(self, chunks, track):
        for c in chunks:
            yield c.progress * 0.01
        t0 = time.monotonic()
        while time.monotonic() - t0 < self.params["seconds"]:
            time.sleep(0.05)
            yield min(1.0, (time.monotonic() - t0) / self.params["seconds"])
        return Tags(["slow"], np.ones(1))


class CrashOnName(Analyzer):
    """Segfaults the process (a real SIGSEGV) on files whose name contains 'crash'."""

    id = "test.crash"
    features = ("audio",)
    result_type = Tags

    def run(self, chunks, track):
        for c in chunks:
            if "crash" in os.path.basename(track.path):
                ctypes.string_at(0)  # dereference NULL: the worker dies as a native crash would
            yield c.progress
        return Tags(["alive"], np.ones(1))


class NaNOnName(Analyzer):
    """A vector with a NaN for files whose name contains "nan_me" (checks that the worker
    refuses a non-finite result instead of storing it)."""

    id = "test.nan"
    features = ("stft_mag",)
    result_type = Embedding

    def run(self, chunks, track):
        for c in chunks:
            yield c.progress
        v = np.ones(8, np.float32)
        if "nan_me" in os.path.basename(track.path):
            v[3] = np.nan
        return Embedding(v, space="test")
