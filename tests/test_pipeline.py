"""The per-track pipeline: chunking, fan-out with features computed once, stages, failures."""

import numpy as np
import pytest

from workstation.analysis.pipeline import analyze_array, stages
from workstation.core import constants as C
from workstation.core.errors import Cancelled
from workstation.inference.frontend import FrontEnd
from ws_test_plugins import Broken, FrameEnergy, PeakOfEnergy, Slow


class CountingFrontEnd(FrontEnd):
    def __init__(self):
        super().__init__("cpu")
        self.calls = 0

    def stft_mag(self, audio):
        self.calls += 1
        return super().stft_mag(audio)


def _signal(seconds=7.3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(int(seconds * C.SAMPLE_RATE)).astype(np.float32) * 0.1
    x[C.SAMPLE_RATE * 5: C.SAMPLE_RATE * 5 + 2000] += 1.0  # a loud burst at 5 s
    return x


def test_chunked_features_equal_whole_signal():
    x = _signal()
    fe = FrontEnd("cpu")
    whole = fe.stft_mag(x).sum(axis=0)
    for chunk_s in (1.0, 2.5, 60.0):
        got = analyze_array(x, [FrameEnergy()], chunk_s=chunk_s, frontend=fe).results["test.energy"].vector
        assert got.shape == (C.n_frames_for(len(x)),)
        np.testing.assert_allclose(got, whole, rtol=1e-4, atol=1e-3)


def test_feature_computed_once_per_chunk_for_all_analyzers():
    x = _signal()
    fe = CountingFrontEnd()

    class Second(FrameEnergy):
        id = "test.energy2"

    out = analyze_array(x, [FrameEnergy(), Second()], chunk_s=2.0, frontend=fe)
    n_chunks = int(np.ceil(C.n_frames_for(len(x)) / round(2.0 * C.SAMPLE_RATE / C.HOP_LENGTH)))
    assert fe.calls == n_chunks
    np.testing.assert_array_equal(out.results["test.energy"].vector, out.results["test.energy2"].vector)


def test_stages_and_dependency_results():
    x = _signal()
    out = analyze_array(x, [PeakOfEnergy(), FrameEnergy()], chunk_s=3.0)
    assert [a.id for a in stages([PeakOfEnergy(), FrameEnergy()])[0]] == ["test.energy"]
    peak_frame = out.results["test.peak"].scores[0]
    assert abs(peak_frame * C.HOP_LENGTH / C.SAMPLE_RATE - 5.0) < 0.1


def test_a_failing_analyzer_fails_alone_and_its_dependents_are_reported():
    x = _signal(3.0)

    class NeedsBroken(PeakOfEnergy):
        id = "test.needs_broken"
        requires = ("test.broken",)

    errors = []
    out = analyze_array(x, [Broken(), FrameEnergy(), NeedsBroken()],
                        on_error=lambda a, e: errors.append(a.id))
    assert "test.energy" in out.results
    assert set(out.errors) == {"test.broken", "test.needs_broken"}
    assert "always fails" in str(out.errors["test.broken"])
    assert "test.broken" in str(out.errors["test.needs_broken"])
    assert sorted(errors) == ["test.broken", "test.needs_broken"]


def test_checkpoint_cancels_between_steps():
    x = _signal(2.0)
    calls = {"n": 0}

    def checkpoint():
        calls["n"] += 1
        if calls["n"] > 3:
            raise Cancelled("cancelled")

    with pytest.raises(Cancelled):
        analyze_array(x, [Slow(seconds=5.0)], checkpoint=checkpoint)


def test_unknown_parameter_is_rejected():
    with pytest.raises(ValueError, match="unknown parameters"):
        Slow(speed=3)
