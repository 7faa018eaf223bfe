"""``beats``: beats, downbeats, meter and tempo from the mel spectrogram: DSP (spectral flux)
or a learned beat / downbeat activation network (``method="learned"``).

``method="dsp"`` (the default). Per chunk: streaming SuperFlux-style onset strength (with
carried state, so the envelope is identical whatever the chunking), its bass-band version
and a pooled log-mel (20 bands, float16) for spectral-change cues: about 46 bytes per frame,
14 MB for an hour. At the end: global tempo (autocorrelation comb with a log-normal prior),
Ellis dynamic-programming beat tracking, beat-synchronous accents for meter (3 or 4) and
downbeat phase.

``method="learned"``: the model ``beats`` from ``models/`` (sha256-checked; a small TCN on
the mel spectrogram, see ``workstation.inference.models.beats``) gives a beat and a downbeat
activation per frame (blocks with discarded borders, batched, ``torch.inference_mode``);
8 bytes per frame are kept. The beat activation replaces the onset envelope for the same
tempo estimate and DP beat tracking; the downbeat activation at the tracked beats chooses
the meter (3 or 4) and the downbeat phase (``decode_activation``).
"""

from __future__ import annotations

import numpy as np

from workstation.analysis.base import Analyzer, register
from workstation.core import constants as C
from workstation.core import rhythm
from workstation.core.types import Beats

METHODS = ("dsp", "learned")
#: the default method: dsp until the learned model beats it on real recordings
#: (benchmarks/accuracy.py --tasks beats: GTZAN and the FMP C6 / madmom / JTD set).
DEFAULT_METHOD = "dsp"


def _empty(tempo_bpm: float = 0.0) -> Beats:
    return Beats(times_s=np.zeros(0), positions=np.zeros(0, np.int64), tempo_bpm=tempo_bpm)


@register
class BeatsAnalyzer(Analyzer):
    """Beats result; parameters: ``method`` (``dsp`` | ``learned``), ``model`` (manifest name
    of the learned weights), tempo prior and range, DP ``tightness``."""

    id = "beats"
    methods = METHODS
    version = 2
    result_type = Beats
    features = ("mel",)
    default_params = {
        "method": DEFAULT_METHOD,
        "model": "beats",
        "prior_bpm": 120.0,
        "prior_octaves": 1.0,
        "tightness": 300.0,
        "min_bpm": 30.0,
        "max_bpm": 300.0,
    }
    description = ("Beats, downbeats, meter and tempo (dsp: spectral flux, comb tempo, DP tracking; "
                   "learned: TCN beat/downbeat activations, same decoder)")

    def __init__(self, **params):
        super().__init__(**params)
        if self.params["method"] not in METHODS:
            raise ValueError(f"{self.id}: method must be one of {METHODS}, got {self.params['method']!r}")

    def _decoder_params(self) -> dict:
        return {k: self.params[k] for k in ("prior_bpm", "prior_octaves", "tightness", "min_bpm", "max_bpm")}

    def run(self, chunks, track):
        if self.params["method"] == "learned":
            return (yield from self._run_learned(chunks, track))
        osf = rhythm.OnsetStrength()
        on, low, pooled = [], [], []
        for chunk in chunks:
            a, b, c = osf.process(chunk.mel())
            on.append(a)
            low.append(b)
            pooled.append(c)
            yield chunk.progress
        if not on:
            return _empty()
        return decode_beats(np.concatenate(on), np.concatenate(low), np.concatenate(pooled, axis=1),
                            **self._decoder_params())

    def _run_learned(self, chunks, track):
        from workstation.inference.models.beats import Audio2Beats
        from workstation.inference.weights import load_model

        model = load_model(self.params["model"], device=track.device or "cpu")
        net = Audio2Beats(model, device=track.device or "cpu")
        acts = []
        # Streaming with context: a frame's activation is output once ``ctx`` frames of right
        # context have arrived, and the last ``ctx`` frames already seen are kept as left
        # context, so the activation does not depend on where the chunks are cut.
        ctx = net.border_frames
        buf = np.zeros((C.N_MELS, 0), np.float32)
        start = 0                                # first frame of buf not output yet
        for chunk in chunks:
            buf = np.concatenate([buf, chunk.mel().astype(np.float32)], axis=1)
            end = buf.shape[1] if chunk.is_last else buf.shape[1] - ctx
            if end > start:
                acts.append(net(buf)[:, start:end])
                keep = max(0, end - ctx) // 2 * 2     # even: the net's half-rate grid stays put
                buf, start = buf[:, keep:], end - keep
            yield chunk.progress
        if buf.shape[1] > start:                 # a stream that did not flag its last chunk
            acts.append(net(buf)[:, start:])
        if not acts:
            return _empty()
        act = np.concatenate(acts, axis=1)
        return decode_activation(act[0], act[1], **self._decoder_params())


def decode_beats(onset: np.ndarray, onset_low: np.ndarray, pooled: np.ndarray, *,
                 prior_bpm: float = 120.0, prior_octaves: float = 1.0, tightness: float = 100.0,
                 min_bpm: float = 30.0, max_bpm: float = 300.0,
                 frame_rate: float = C.FRAME_RATE) -> Beats:
    """Beats result from the per-frame envelopes of a whole track (see ``rhythm``)."""
    if len(onset) < 4 or not np.any(onset > 0):
        return _empty()
    frames, tempo, bpm = _track(onset, prior_bpm=prior_bpm, prior_octaves=prior_octaves,
                                tightness=tightness, min_bpm=min_bpm, max_bpm=max_bpm,
                                frame_rate=frame_rate)
    if len(frames) == 0:
        return Beats(times_s=np.zeros(0), positions=np.zeros(0, np.int64), tempo_bpm=tempo.bpm,
                     tempo_alternatives_bpm=tempo.alternatives_bpm,
                     tempo_confidence=tempo.confidence)
    acc = rhythm.beat_accents(frames, onset, onset_low, pooled)
    met = rhythm.estimate_meter(acc)
    alts = np.array([a * bpm / tempo.bpm for a in tempo.alternatives_bpm])
    return Beats(times_s=frames / frame_rate, positions=met.positions, tempo_bpm=float(bpm),
                 tempo_alternatives_bpm=alts, tempo_confidence=tempo.confidence, meter=met.meter)


def _track(env: np.ndarray, *, prior_bpm: float, prior_octaves: float, tightness: float,
           min_bpm: float, max_bpm: float, frame_rate: float):
    """(beat frames, TempoEstimate, bpm of the tracked beats) of an envelope [shape=(n_frames,)]."""
    tempo = rhythm.estimate_tempo(env, frame_rate=frame_rate, prior_bpm=prior_bpm,
                                  prior_octaves=prior_octaves, min_bpm=min_bpm, max_bpm=max_bpm)
    period = 60.0 * frame_rate / tempo.bpm
    frames = rhythm.track_beats(env, period, tightness=tightness)
    # Report the tempo of the beats actually tracked: the mean of the inter-beat intervals
    # within 10 % of their median (sub-frame precision).
    bpm = tempo.bpm
    if len(frames) > 2:
        ibi = np.diff(frames).astype(np.float64)
        ok = np.abs(ibi / np.median(ibi) - 1.0) < 0.1
        bpm = 60.0 * frame_rate / float(ibi[ok].mean())
    if abs(np.log(bpm / tempo.bpm)) > np.log(1.1):
        bpm = tempo.bpm
    return frames, tempo, bpm


def decode_activation(beat: np.ndarray, downbeat: np.ndarray, *, prior_bpm: float = 120.0,
                      prior_octaves: float = 1.0, tightness: float = 300.0, min_bpm: float = 30.0,
                      max_bpm: float = 300.0, frame_rate: float = C.FRAME_RATE,
                      radius: int = 2) -> Beats:
    """Beats result from learned activations of a whole track: beat [shape=(n_frames,)] and
    downbeat [shape=(n_frames,)] probabilities in [0, 1].

    Tempo (autocorrelation comb) and Ellis DP tracking run on the beat activation; the meter
    (3 or 4) and downbeat phase come from the downbeat activation (max within ``radius``
    frames of each beat, ``rhythm.estimate_meter``)."""
    beat = np.asarray(beat, dtype=np.float64)
    downbeat = np.asarray(downbeat, dtype=np.float64)
    if len(beat) < 4 or not np.any(beat > 0.05):
        return _empty()
    frames, tempo, bpm = _track(beat, prior_bpm=prior_bpm, prior_octaves=prior_octaves,
                                tightness=tightness, min_bpm=min_bpm, max_bpm=max_bpm,
                                frame_rate=frame_rate)
    alts = np.array([a * bpm / tempo.bpm for a in tempo.alternatives_bpm])
    if len(frames) == 0:
        return Beats(times_s=np.zeros(0), positions=np.zeros(0, np.int64), tempo_bpm=float(bpm),
                     tempo_alternatives_bpm=alts, tempo_confidence=tempo.confidence)
    idx = np.clip(frames[:, None] + np.arange(-radius, radius + 1)[None, :], 0, len(beat) - 1)
    acc = downbeat[idx].max(axis=1)[None, :]
    met = rhythm.estimate_meter(acc, weights=(1.0,))
    return Beats(times_s=frames / frame_rate, positions=met.positions, tempo_bpm=float(bpm),
                 tempo_alternatives_bpm=alts, tempo_confidence=tempo.confidence, meter=met.meter)
