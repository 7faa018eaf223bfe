"""``beats``: beats, downbeats, meter and tempo from the mel spectrogram: DSP (spectral flux)
or a learned beat / downbeat activation network (``method="learned"``).

``method="dsp"``. Per chunk: streaming SuperFlux-style onset strength (with
carried state, so the envelope is identical whatever the chunking), its bass-band version
and a pooled log-mel (20 bands, float16) for spectral-change cues: about 46 bytes per frame,
14 MB for an hour. At the end: global tempo (autocorrelation comb with a log-normal prior),
Ellis dynamic-programming beat tracking, beat-synchronous accents for meter (3 or 4) and
downbeat phase.

``method="learned"``: the model ``beats`` from ``models/`` (sha256-checked; a small TCN on
the mel spectrogram, see ``workstation.inference.models.beats``) gives a beat and a downbeat
activation per frame (blocks with discarded borders, batched, ``torch.inference_mode``);
8 bytes per frame are kept (and the 4-byte flux envelope). The downbeat activation at the
tracked beats chooses the meter (3 or 4) and the downbeat phase (``decode_activation``).

``decoder="dbn"`` (the default, with ``method="learned"``): the beat activation, fused with
the spectral-flux envelope (geometric weight ``onset_weight`` = 0.25: the flux sharpens the
phase where the network also fires on off-beats), is decoded by the bar-pointer DBN of
``workstation.core.beat_decode`` (Krebs, Böck & Widmer 2015, as madmom's
DBNBeatTrackingProcessor: tempo 55-215 BPM, tempo changes at beat boundaries, lambda 100,
observation lambda 16), with a log-normal prior per beat (``tempo_sigma_octaves``) around
the global comb tempo estimate against tempo-octave errors. ``decoder="dp"``: the comb tempo
and Ellis DP tracking (the previous decoder). Measured (benchmarks/accuracy.py): beat F on
GTZAN learned+dbn 0.885 vs dsp+dp 0.810, librosa 0.859, essentia 0.836; FMP C6 / madmom /
JTD 0.679 vs 0.564, 0.616, 0.585.
"""

from __future__ import annotations

import numpy as np

from workstation.analysis.base import Analyzer, register
from workstation.core import constants as C
from workstation.core import beat_decode, rhythm
from workstation.core.chunking import ContextStream
from workstation.core.types import Beats

METHODS = ("dsp", "learned")
#: beat decoders: ``dbn`` (bar-pointer HMM over tempo and beat position, Viterbi;
#: ``workstation.core.beat_decode``) or ``dp`` (Ellis dynamic programming at one global tempo).
DECODERS = ("dbn", "dp")
#: the default method and decoder: the pair that wins on real recordings
#: (benchmarks/accuracy.py --tasks beats: GTZAN and the FMP C6 / madmom / JTD set).
DEFAULT_METHOD = "learned"
DEFAULT_DECODER = "dbn"


def _empty(tempo_bpm: float = 0.0) -> Beats:
    return Beats(times_s=np.zeros(0), positions=np.zeros(0, np.int64), tempo_bpm=tempo_bpm)


@register
class BeatsAnalyzer(Analyzer):
    """Beats result; parameters: ``method`` (``dsp`` | ``learned``), ``decoder`` (``dbn`` |
    ``dp``), ``model`` (manifest name of the learned weights), tempo prior and range, DP
    ``tightness``; DBN tempo range ``dbn_min_bpm``..``dbn_max_bpm``, ``transition_lambda``,
    ``observation_lambda``, ``tempo_sigma_octaves`` (a log-normal prior per beat around the
    global tempo estimate; 0 = none) and ``onset_weight`` (learned + dbn: the activation is
    fused with the spectral-flux onset envelope, ``beat ** (1 - w) * onset ** w``)."""

    id = "beats"
    methods = METHODS
    decoders = DECODERS
    version = 3
    result_type = Beats
    features = ("mel",)
    default_params = {
        "method": DEFAULT_METHOD,
        "decoder": DEFAULT_DECODER,
        "model": "beats",
        "prior_bpm": 120.0,
        "prior_octaves": 1.0,
        "tightness": 300.0,
        "min_bpm": 30.0,
        "max_bpm": 300.0,
        "dbn_min_bpm": 55.0,
        "dbn_max_bpm": 215.0,
        "transition_lambda": 100.0,
        "observation_lambda": 16.0,
        "tempo_sigma_octaves": 0.5,
        "onset_weight": 0.25,
    }
    description = ("Beats, downbeats, meter and tempo (dsp: spectral flux; learned: TCN beat/downbeat "
                   "activations fused with the flux; decoded by a tempo / beat-position DBN or by DP)")

    def __init__(self, **params):
        super().__init__(**params)
        if self.params["method"] not in METHODS:
            raise ValueError(f"{self.id}: method must be one of {METHODS}, got {self.params['method']!r}")
        if self.params["decoder"] not in DECODERS:
            raise ValueError(f"{self.id}: decoder must be one of {DECODERS}, got {self.params['decoder']!r}")

    def _decoder_params(self) -> dict:
        return {k: self.params[k] for k in ("decoder", "prior_bpm", "prior_octaves", "tightness", "min_bpm",
                                            "max_bpm", "dbn_min_bpm", "dbn_max_bpm", "transition_lambda",
                                            "observation_lambda", "tempo_sigma_octaves")}

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
        # a frame's activation is output once ``border_frames`` of right context have arrived
        # (``ContextStream``), so it does not depend on where the chunks are cut; windows start
        # on even frames (the net's half-rate grid stays put)
        stream = ContextStream(net.border_frames, align=2)
        osf = rhythm.OnsetStrength()             # the flux envelope, fused with the activation
        onsets = []
        for chunk in chunks:
            mel = chunk.mel()
            onsets.append(osf.process(mel)[0])
            win = stream.push(mel.astype(np.float32), chunk.is_last)
            if win.hi > win.lo:
                acts.append(net(win.frames)[:, win.lo - win.start:win.hi - win.start])
            yield chunk.progress
        win = stream.finish()                    # a stream that did not flag its last chunk
        if win is not None:
            acts.append(net(win.frames)[:, win.lo - win.start:win.hi - win.start])
        if not acts:
            return _empty()
        act = np.concatenate(acts, axis=1)
        return decode_activation(act[0], act[1], onset=np.concatenate(onsets),
                                 onset_weight=self.params["onset_weight"], **self._decoder_params())


_DBN_KEYS = ("dbn_min_bpm", "dbn_max_bpm", "transition_lambda", "observation_lambda", "tempo_sigma_octaves")


def decode_beats(onset: np.ndarray, onset_low: np.ndarray, pooled: np.ndarray, *,
                 decoder: str = "dp", prior_bpm: float = 120.0, prior_octaves: float = 1.0,
                 tightness: float = 100.0, min_bpm: float = 30.0, max_bpm: float = 300.0,
                 frame_rate: float = C.FRAME_RATE, **dbn) -> Beats:
    """Beats result from the per-frame envelopes of a whole track (see ``rhythm``); the
    beats by ``decoder`` (``dp`` or ``dbn`` on ``rhythm.onset_probability(onset)``), the
    meter and downbeats from the beat-synchronous accents."""
    if len(onset) < 4 or not np.any(onset > 0):
        return _empty()
    env = rhythm.onset_probability(onset) if decoder == "dbn" else onset
    frames, tempo, bpm = _track(env, decoder=decoder, prior_bpm=prior_bpm, prior_octaves=prior_octaves,
                                tightness=tightness, min_bpm=min_bpm, max_bpm=max_bpm,
                                frame_rate=frame_rate, **dbn)
    alts = rhythm.tempo_alternatives(bpm, tempo, min_bpm=min_bpm, max_bpm=max_bpm)
    if len(frames) == 0:
        return Beats(times_s=np.zeros(0), positions=np.zeros(0, np.int64), tempo_bpm=float(bpm),
                     tempo_alternatives_bpm=alts, tempo_confidence=tempo.confidence)
    acc = rhythm.beat_accents(frames, onset, onset_low, pooled)
    met = rhythm.estimate_meter(acc)
    return Beats(times_s=frames / frame_rate, positions=met.positions, tempo_bpm=float(bpm),
                 tempo_alternatives_bpm=alts, tempo_confidence=tempo.confidence, meter=met.meter)


def _track(env: np.ndarray, *, decoder: str = "dp", prior_bpm: float, prior_octaves: float,
           tightness: float, min_bpm: float, max_bpm: float, frame_rate: float,
           dbn_min_bpm: float = 55.0, dbn_max_bpm: float = 215.0, transition_lambda: float = 100.0,
           observation_lambda: float = 16.0, tempo_sigma_octaves: float = 0.5):
    """(beat frames, TempoEstimate, bpm of the tracked beats) of an envelope [shape=(n_frames,)]
    (for ``decoder="dbn"`` a beat probability in [0, 1])."""
    tempo = rhythm.estimate_tempo(env, frame_rate=frame_rate, prior_bpm=prior_bpm,
                                  prior_octaves=prior_octaves, min_bpm=min_bpm, max_bpm=max_bpm)
    if decoder == "dbn":
        prior = None
        if tempo_sigma_octaves > 0:
            centre = float(np.clip(tempo.bpm, dbn_min_bpm, dbn_max_bpm))
            prior = lambda b: -0.5 * (np.log2(b / centre) / tempo_sigma_octaves) ** 2  # noqa: E731
        res = beat_decode.track_beats_dbn(env, frame_rate=frame_rate, min_bpm=dbn_min_bpm,
                                          max_bpm=dbn_max_bpm, n_tempi=None,
                                          transition_lambda=transition_lambda,
                                          observation_lambda=observation_lambda,
                                          tempo_log_prior=prior)
        frames = rhythm.trim_beats(env, res.frames)    # no beats in silence before / after
    elif decoder == "dp":
        period = 60.0 * frame_rate / tempo.bpm
        frames = rhythm.track_beats(env, period, tightness=tightness)
    else:
        raise ValueError(f"beats: decoder must be one of {DECODERS}, got {decoder!r}")
    # Report the tempo of the beats actually tracked: the mean of the inter-beat intervals
    # within 10 % of their median (sub-frame precision).
    bpm = tempo.bpm
    if len(frames) > 2:
        ibi = np.diff(frames).astype(np.float64)
        ok = np.abs(ibi / np.median(ibi) - 1.0) < 0.1
        bpm = 60.0 * frame_rate / float(ibi[ok].mean())
    if decoder == "dp" and abs(np.log(bpm / tempo.bpm)) > np.log(1.1):
        bpm = tempo.bpm
    return frames, tempo, bpm


def decode_activation(beat: np.ndarray, downbeat: np.ndarray, *, decoder: str = "dp",
                      onset: np.ndarray | None = None, onset_weight: float = 0.25,
                      prior_bpm: float = 120.0, prior_octaves: float = 1.0, tightness: float = 300.0,
                      min_bpm: float = 30.0, max_bpm: float = 300.0, frame_rate: float = C.FRAME_RATE,
                      radius: int = 2, **dbn) -> Beats:
    """Beats result from learned activations of a whole track: beat [shape=(n_frames,)] and
    downbeat [shape=(n_frames,)] probabilities in [0, 1].

    ``decoder="dp"``: tempo (autocorrelation comb) and Ellis DP tracking on the beat
    activation. ``decoder="dbn"``: the bar-pointer DBN (``beat_decode``, parameters in
    ``dbn``: dbn_min_bpm, dbn_max_bpm, transition_lambda, observation_lambda,
    tempo_sigma_octaves) on the beat activation, fused with the spectral-flux ``onset``
    envelope [shape=(n_frames,)] when given: ``beat ** (1 - onset_weight) *
    onset_probability(onset) ** onset_weight``. The meter (3 or 4) and downbeat phase come
    from the downbeat activation (max within ``radius`` frames of each beat,
    ``rhythm.estimate_meter``)."""
    beat = np.asarray(beat, dtype=np.float64)
    downbeat = np.asarray(downbeat, dtype=np.float64)
    if len(beat) < 4 or not np.any(beat > 0.05):
        return _empty()
    env = beat
    if decoder == "dbn" and onset is not None and onset_weight > 0 and len(onset) == len(beat):
        env = beat ** (1.0 - onset_weight) * rhythm.onset_probability(onset) ** onset_weight
    frames, tempo, bpm = _track(env, decoder=decoder, prior_bpm=prior_bpm, prior_octaves=prior_octaves,
                                tightness=tightness, min_bpm=min_bpm, max_bpm=max_bpm,
                                frame_rate=frame_rate, **dbn)
    alts = rhythm.tempo_alternatives(bpm, tempo, min_bpm=min_bpm, max_bpm=max_bpm)
    if len(frames) == 0:
        return Beats(times_s=np.zeros(0), positions=np.zeros(0, np.int64), tempo_bpm=float(bpm),
                     tempo_alternatives_bpm=alts, tempo_confidence=tempo.confidence)
    idx = np.clip(frames[:, None] + np.arange(-radius, radius + 1)[None, :], 0, len(beat) - 1)
    acc = downbeat[idx].max(axis=1)[None, :]
    met = rhythm.estimate_meter(acc, weights=(1.0,))
    return Beats(times_s=frames / frame_rate, positions=met.positions, tempo_bpm=float(bpm),
                 tempo_alternatives_bpm=alts, tempo_confidence=tempo.confidence, meter=met.meter)
