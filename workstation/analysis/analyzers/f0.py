"""``pitch.f0``: dominant f0 with voicing and confidence (pYIN, pure DSP).

The algorithm lives in ``workstation.core.pitch`` (YIN difference function through the
FFT, pYIN threshold-distribution candidates, Viterbi over a 20-cent pitch grid with
voiced/unvoiced states); this module only streams the pipeline's chunks through it.

Per chunk the analyzer computes the candidates of the chunk's valid frames from its raw
audio (the chunk borders supply the context each frame needs) and hands them to a
streaming ``PitchHMM`` that decodes every frame with enough right context in parallel
overlapping segments. Memory is bounded by one chunk plus the output arrays
(13 bytes a frame), whatever the file's length.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Generator, Iterable

import numpy as np

from workstation.analysis.base import Analyzer, FeatureChunk, TrackInfo, register
from workstation.core import constants as C
from workstation.core.pitch import PitchHMM, PyinParams, pyin_candidates
from workstation.core.types import PitchTrack

log = logging.getLogger(__name__)

_DEFAULTS = {k: (list(v) if isinstance(v, tuple) else v)
             for k, v in dataclasses.asdict(PyinParams()).items()}


@register
class F0(Analyzer):
    """Dominant f0 (pYIN): ``PitchTrack`` on the analysis frame grid.

    freqs_hz: the refined candidate frequency of the decoded pitch bin (also on unvoiced
    frames, where it is the HMM's pitch memory); voiced: the decoded voicing;
    confidence: the frame's voiced probability in [0, 1]. Parameters: see
    ``workstation.core.pitch.PyinParams``.
    """

    id = "pitch.f0"
    version = 1
    result_type = PitchTrack
    features = ("audio",)
    default_params = _DEFAULTS
    description = "Dominant f0 with voicing and confidence (pYIN: YIN candidates + HMM Viterbi)"

    def _pyin_params(self) -> PyinParams:
        kw = dict(self.params)
        kw["beta_parameters"] = tuple(kw["beta_parameters"])
        return PyinParams(**kw)

    def run(self, chunks: Iterable[FeatureChunk], track: TrackInfo
            ) -> Generator[float, None, PitchTrack]:
        p = self._pyin_params()
        hmm = PitchHMM(sr=track.sr, hop_length=C.HOP_LENGTH, params=p)
        for chunk in chunks:
            freqs, probs = pyin_candidates(chunk.audio, sr=chunk.sr, hop_length=C.HOP_LENGTH,
                                           first_center=chunk.pad, n_frames=chunk.n_frames,
                                           params=p)
            hmm.push(freqs, probs)
            yield chunk.progress
        freqs_hz, voiced, confidence = hmm.finish()
        n = track.n_frames
        if len(freqs_hz) != n:  # a stream shorter or longer than announced: fit the grid
            log.debug("%s: %d decoded frames for %d expected", track.path, len(freqs_hz), n)
            freqs_hz = _fit(freqs_hz, n, 0.0)
            voiced = _fit(voiced, n, False)
            confidence = _fit(confidence, n, 0.0)
        return PitchTrack(times_s=track.times_s(), freqs_hz=freqs_hz.astype(np.float32),
                          voiced=voiced.astype(bool), confidence=confidence.astype(np.float32))


def _fit(a: np.ndarray, n: int, fill) -> np.ndarray:
    if len(a) >= n:
        return a[:n]
    return np.concatenate([a, np.full(n - len(a), fill, dtype=a.dtype)])
