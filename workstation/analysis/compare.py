"""Compare an estimate with a reference annotation, layer by layer, with mir_eval.

The GUI's comparison panel and ``benchmarks/accuracy.py`` use the same functions, so the
figures a user sees over a loaded annotation are the figures the benchmark prints.

- ``pitch.f0`` (``PitchTrack`` vs ``PitchTrack``): melody RPA, RCA, OA, voicing recall and
  false alarm (``mir_eval.melody``);
- ``notes`` (``Notes`` vs ``Notes``): onset P/R/F1 and onset-offset F1
  (``mir_eval.transcription``; 50 ms onset tolerance, 50 cents);
- ``beats`` (``Beats`` vs ``Beats``): F-measure, CMLt, AMLt (``mir_eval.beat``, without the
  5-s trimming that ``evaluate`` does: excerpts are often short) and the tempo within 4 %;
- ``key`` (``Key`` vs ``Key``): MIREX weighted score and exact match (``mir_eval.key``).
"""

from __future__ import annotations

import logging
import warnings
from typing import Callable

import numpy as np

from workstation.core.types import Beats, Key, Notes, PitchTrack, Result
from workstation.core.units import key_label, midi_to_hz

log = logging.getLogger(__name__)


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def melody_scores(ref_times_s, ref_freqs_hz, est_times_s, est_freqs_hz, est_voiced=None) -> dict[str, float]:
    """mir_eval melody figures. Reference frequencies <= 0 are unvoiced; the estimate's
    unvoiced frames (``est_voiced`` False, or frequency <= 0) keep their pitch guess as a
    negative frequency, so RPA counts it as mir_eval intends."""
    import mir_eval

    if not len(ref_times_s) or not len(est_times_s):
        raise ValueError("the reference or the estimate has no f0 frames")
    est_f = np.asarray(est_freqs_hz, dtype=np.float64)
    if est_voiced is not None:
        est_f = np.where(np.asarray(est_voiced, dtype=bool), np.abs(est_f), -np.abs(est_f))
    s = _quiet(mir_eval.melody.evaluate, np.asarray(ref_times_s, dtype=np.float64),
               np.maximum(np.asarray(ref_freqs_hz, dtype=np.float64), 0.0),
               np.asarray(est_times_s, dtype=np.float64), est_f)
    return {"RPA": float(s["Raw Pitch Accuracy"]), "RCA": float(s["Raw Chroma Accuracy"]),
            "OA": float(s["Overall Accuracy"]), "VR": float(s["Voicing Recall"]),
            "VFA": float(s["Voicing False Alarm"])}


def compare_f0(est: PitchTrack, ref: PitchTrack) -> dict[str, float]:
    ref_f = np.where(np.asarray(ref.voiced, dtype=bool), ref.freqs_hz, 0.0) if len(ref.voiced) \
        else np.asarray(ref.freqs_hz)
    return melody_scores(ref.times_s, ref_f, est.times_s, est.freqs_hz, est.voiced)


def note_intervals(notes: Notes) -> tuple[np.ndarray, np.ndarray]:
    """[shape=(n, 2)] onset/offset in s (offsets at least 1 ms after onsets) and pitches in Hz."""
    if not len(notes):
        return np.zeros((0, 2)), np.zeros(0)
    on = np.asarray(notes.onsets_s, dtype=np.float64)
    iv = np.stack([on, np.maximum(np.asarray(notes.offsets_s, dtype=np.float64), on + 1e-3)], axis=1)
    return iv, midi_to_hz(np.asarray(notes.pitch_midi, dtype=np.float64))


def note_scores(ref_iv, ref_hz, est_iv, est_hz) -> dict[str, float]:
    import mir_eval

    if not len(ref_iv) or not len(est_iv):
        return {"onset P": 0.0, "onset R": 0.0, "onset F1": 0.0, "onset-offset F1": 0.0}
    p, r, f, _ = _quiet(mir_eval.transcription.precision_recall_f1_overlap, ref_iv, ref_hz,
                        est_iv, est_hz, offset_ratio=None)
    _, _, f2, _ = _quiet(mir_eval.transcription.precision_recall_f1_overlap, ref_iv, ref_hz,
                         est_iv, est_hz)
    return {"onset P": float(p), "onset R": float(r), "onset F1": float(f), "onset-offset F1": float(f2)}


def compare_notes(est: Notes, ref: Notes) -> dict[str, float]:
    return note_scores(*note_intervals(ref), *note_intervals(est))


def beat_scores(ref_times_s, est_times_s) -> dict[str, float]:
    import mir_eval

    ref = np.sort(np.asarray(ref_times_s, dtype=np.float64))
    est = np.sort(np.asarray(est_times_s, dtype=np.float64))
    if not len(ref) or not len(est):
        return {"F-measure": 0.0, "CMLt": 0.0, "AMLt": 0.0}
    f = _quiet(mir_eval.beat.f_measure, ref, est)
    _, cmlt, _, amlt = _quiet(mir_eval.beat.continuity, ref, est)
    return {"F-measure": float(f), "CMLt": float(cmlt), "AMLt": float(amlt)}


def tempo_ok(est_bpm: float, ref_bpm: float | None, *, tolerance: float = 0.04,
             factors=(1.0,)) -> float:
    """1.0 when ``est_bpm`` times one of ``factors`` is within ``tolerance`` of ``ref_bpm``,
    0.0 otherwise, NaN without a reference tempo."""
    if not ref_bpm or not np.isfinite(ref_bpm):
        return float("nan")
    return float(min(abs(est_bpm * f - ref_bpm) for f in factors) / ref_bpm <= tolerance)


def compare_beats(est: Beats, ref: Beats) -> dict[str, float]:
    out = beat_scores(ref.times_s, est.times_s)
    ref_bpm = ref.tempo_bpm if ref.tempo_bpm and ref.tempo_bpm > 0 else (
        60.0 / float(np.median(np.diff(ref.times_s))) if len(ref.times_s) > 2 else None)
    out["tempo acc1"] = tempo_ok(est.tempo_bpm, ref_bpm)
    out["tempo acc2"] = tempo_ok(est.tempo_bpm, ref_bpm, factors=(1.0, 2.0, 0.5, 3.0, 1 / 3))
    return out


def key_score(ref_tonic_pc: int, ref_mode: str, est_tonic_pc: int, est_mode: str) -> float:
    """MIREX weighted key score (1 exact, 0.5 fifth, 0.3 relative, 0.2 parallel, else 0)."""
    import mir_eval

    ref = key_label(int(ref_tonic_pc), str(ref_mode)).replace(":", " ")
    est = key_label(int(est_tonic_pc), str(est_mode)).replace(":", " ")
    return float(_quiet(mir_eval.key.weighted_score, ref, est))


def compare_key(est: Key, ref: Key) -> dict[str, float]:
    s = key_score(ref.tonic_pc, ref.mode, est.tonic_pc, est.mode)
    return {"weighted score": s, "correct": float(s == 1.0)}


#: Layer id -> (result type of both sides, comparison).
COMPARISONS: dict[str, tuple[type, Callable[[Result, Result], dict[str, float]]]] = {
    "pitch.f0": (PitchTrack, compare_f0),
    "notes": (Notes, compare_notes),
    "beats": (Beats, compare_beats),
    "key": (Key, compare_key),
}


def compare_layer(layer_id: str, estimate: Result, reference: Result) -> dict[str, float]:
    """Figures of ``estimate`` against ``reference`` for one layer (see the module doc).
    Raises ValueError for a layer without a comparison or mismatched types."""
    if layer_id not in COMPARISONS:
        raise ValueError(f"no comparison for layer {layer_id!r}; one of {sorted(COMPARISONS)}")
    typ, fn = COMPARISONS[layer_id]
    if not isinstance(estimate, typ) or not isinstance(reference, typ):
        raise ValueError(f"{layer_id}: expected two {typ.__name__} results, got "
                         f"{type(estimate).__name__} and {type(reference).__name__}")
    return fn(estimate, reference)


def compare_results(estimates: dict[str, Result], references: dict[str, Result]) -> dict[str, dict[str, float]]:
    """Figures for every layer present (with a comparison) in both, by layer id."""
    out: dict[str, dict[str, float]] = {}
    for lid in COMPARISONS:
        e, r = estimates.get(lid), references.get(lid)
        if e is None or r is None:
            continue
        try:
            out[lid] = compare_layer(lid, e, r)
        except ValueError as exc:
            log.warning("cannot compare %s: %s", lid, exc)
    return out
