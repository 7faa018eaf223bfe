"""``beats``: beats, downbeats, meter and tempo from the mel spectrogram.

Per chunk: streaming SuperFlux-style onset strength (with carried state, so the
envelope is identical whatever the chunking), its bass-band version and a pooled
log-mel (20 bands, float16) for spectral-change cues: about 46 bytes per frame,
14 MB for an hour. At the end: global tempo (autocorrelation comb with a
log-normal prior), Ellis dynamic-programming beat tracking, beat-synchronous
accents for meter (3 or 4) and downbeat phase.
"""

from __future__ import annotations

import numpy as np

from workstation.analysis.base import Analyzer, register
from workstation.core import constants as C
from workstation.core import rhythm
from workstation.core.types import Beats


@register
class BeatsAnalyzer(Analyzer):
    id = "beats"
    version = 1
    result_type = Beats
    features = ("mel",)
    default_params = {
        "prior_bpm": 120.0,
        "prior_octaves": 1.0,
        "tightness": 300.0,
        "min_bpm": 30.0,
        "max_bpm": 300.0,
    }
    description = "Beats, downbeats, meter and tempo (spectral flux, comb tempo, DP tracking)."

    def run(self, chunks, track):
        osf = rhythm.OnsetStrength()
        on, low, pooled = [], [], []
        for chunk in chunks:
            a, b, c = osf.process(chunk.mel())
            on.append(a)
            low.append(b)
            pooled.append(c)
            yield chunk.progress
        if not on:
            return Beats(times_s=np.zeros(0), positions=np.zeros(0, np.int64), tempo_bpm=0.0)
        return decode_beats(np.concatenate(on), np.concatenate(low), np.concatenate(pooled, axis=1),
                            **self.params)


def decode_beats(onset: np.ndarray, onset_low: np.ndarray, pooled: np.ndarray, *,
                 prior_bpm: float = 120.0, prior_octaves: float = 1.0, tightness: float = 100.0,
                 min_bpm: float = 30.0, max_bpm: float = 300.0,
                 frame_rate: float = C.FRAME_RATE) -> Beats:
    """Beats result from the per-frame envelopes of a whole track (see ``rhythm``)."""
    empty = Beats(times_s=np.zeros(0), positions=np.zeros(0, np.int64), tempo_bpm=0.0)
    if len(onset) < 4 or not np.any(onset > 0):
        return empty
    tempo = rhythm.estimate_tempo(onset, frame_rate=frame_rate, prior_bpm=prior_bpm,
                                  prior_octaves=prior_octaves, min_bpm=min_bpm, max_bpm=max_bpm)
    period = 60.0 * frame_rate / tempo.bpm
    frames = rhythm.track_beats(onset, period, tightness=tightness)
    if len(frames) == 0:
        return Beats(times_s=np.zeros(0), positions=np.zeros(0, np.int64), tempo_bpm=tempo.bpm,
                     tempo_alternatives_bpm=tempo.alternatives_bpm,
                     tempo_confidence=tempo.confidence)
    # Report the tempo of the beats actually tracked (median inter-beat interval).
    # Mean of the inter-beat intervals within 10 % of their median (sub-frame precision).
    bpm = tempo.bpm
    if len(frames) > 2:
        ibi = np.diff(frames).astype(np.float64)
        ok = np.abs(ibi / np.median(ibi) - 1.0) < 0.1
        bpm = 60.0 * frame_rate / float(ibi[ok].mean())
    if abs(np.log(bpm / tempo.bpm)) > np.log(1.1):
        bpm = tempo.bpm
    acc = rhythm.beat_accents(frames, onset, onset_low, pooled)
    met = rhythm.estimate_meter(acc)
    alts = np.array([a * bpm / tempo.bpm for a in tempo.alternatives_bpm])
    return Beats(times_s=frames / frame_rate, positions=met.positions, tempo_bpm=float(bpm),
                 tempo_alternatives_bpm=alts, tempo_confidence=tempo.confidence, meter=met.meter)
