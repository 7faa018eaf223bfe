"""Monophonic notes from a dominant-f0 track (``notes`` method ``f0``): what Tony does for a
solo voice or instrument, one note at a time, from the ``pitch.f0`` result.

Voiced runs (unvoiced gaps of up to ``gap_frames`` bridged) -> the pitch in MIDI, median over
``median_frames`` -> within a run a new note starts where the pitch leaves the current note's
median by more than ``change_semitones`` for ``hold_frames`` frames in a row (a step to
another note, not a vibrato or a scoop, which come back) -> notes shorter than
``min_duration_s`` dropped -> pitch: the rounded median; confidence: the mean f0 confidence;
velocity: 127 x that mean (the f0 track has no loudness; the posteriorgram method's velocity
is a probability too); pitch bends: the raw f0 against the note's pitch, in cents, every
``bend_step_frames`` frames. The rules and their values were fixed before any measurement
(not tuned on the evaluation data).

``foreign_note_share`` is how the default method ``auto`` tells a solo line from polyphony:
in the frames where a note-level model (basic-pitch's note posteriorgram) hears a note, the
share that also holds a note which is neither the f0 track's pitch nor one of its first
six harmonics (within a semitone). A solo voice or instrument reads 0.00-0.12 on the
development set; piano, mixes and bands 0.16-0.95 (README, Accuracy).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.ndimage import median_filter

from workstation.core import constants as C
from workstation.core import postprocess as pp
from workstation.core.types import Notes, PitchTrack, Salience
from workstation.core.units import hz_to_midi


#: Harmonics of the f0 (1st to 6th) in semitones above it, rounded: a note there is the same sound.
HARMONIC_SEMITONES = (0, 12, 19, 24, 28, 31)
#: ``auto`` reads a track as monophonic where under this share of its note frames hold a
#: foreign note ...
MONO_MAX_FOREIGN = 0.1
#: ... and at least this much time, and this share of the track's frames, hold a note at all
#: (else there is too little to decide on: a solo line sounds most of the time, 28 % or more
#: of the frames on the development set).
MONO_MIN_NOTE_S = 1.0
MONO_MIN_NOTE_SHARE = 0.1


def _note_frames(f0: PitchTrack, sal: Salience, threshold: float
                 ) -> tuple[np.ndarray, np.ndarray, float] | None:
    """(sounding, foreign) [shape=(n_frames,), bool] and the frame period (s) on the salience's
    frames: a note sounds (``note_values`` [shape=(88, n_frames)] above ``threshold``), one of
    them is neither the f0 track's pitch nor one of ``HARMONIC_SEMITONES`` above it (within a
    semitone). None without a note posteriorgram or an f0 track."""
    nv = np.asarray(sal.note_values)
    if nv.ndim != 2 or nv.shape[1] == 0 or len(f0.times_s) == 0:
        return None
    n = min(nv.shape[1], len(sal.times_s))
    active = nv[:, :n] > threshold
    at = np.clip(np.searchsorted(np.asarray(f0.times_s), np.asarray(sal.times_s[:n])), 0, len(f0.times_s) - 1)
    hz = np.asarray(f0.freqs_hz, np.float64)[at]
    has_f0 = hz > 0
    key = np.round(hz_to_midi(np.maximum(hz, 1e-3))).astype(np.int64) - 21   # row of MIDI 21..108
    related = np.zeros_like(active)
    cols = np.nonzero(has_f0)[0]
    for h in HARMONIC_SEMITONES:
        for d in (-1, 0, 1):
            row = key[cols] + h + d
            ok = (row >= 0) & (row < nv.shape[0])
            related[row[ok], cols[ok]] = True
    frame_s = float(sal.times_s[1] - sal.times_s[0]) if n > 1 else 0.0
    return active.any(axis=0), (active & ~related).any(axis=0), frame_s


def _share(sounding: np.ndarray, foreign: np.ndarray, frame_s: float) -> tuple[float, float, float]:
    """(share, seconds, fraction) of ``foreign_note_share`` over these frames."""
    k = int(sounding.sum())
    if k == 0:
        return 0.0, 0.0, 0.0
    return float(foreign.sum() / k), k * frame_s, k / len(sounding)


def foreign_note_share(f0: PitchTrack, sal: Salience, *, threshold: float = 0.5
                       ) -> tuple[float, float, float] | None:
    """(share, seconds, fraction): of the salience frames where a note sounds (``note_values``
    [shape=(88, n_frames)] above ``threshold``), the share holding a note that is not the f0
    track's pitch (its estimate, voiced or not) or one of ``HARMONIC_SEMITONES`` above it,
    within one semitone; how many seconds of frames hold a note, and what fraction of all
    frames that is. None where the salience has no note posteriorgram (only basic-pitch's
    has one)."""
    flags = _note_frames(f0, sal, threshold)
    return None if flags is None else _share(*flags)


def _enough_sound(share: tuple[float, float, float] | None) -> bool:
    """Whether a ``foreign_note_share`` result has enough note frames to decide on
    (``MONO_MIN_NOTE_S``, ``MONO_MIN_NOTE_SHARE``)."""
    return share is not None and share[1] >= MONO_MIN_NOTE_S and share[2] >= MONO_MIN_NOTE_SHARE


def reads_as_monophonic(share: tuple[float, float, float] | None) -> bool:
    """The rule on a ``foreign_note_share`` result: enough note frames and few foreign notes
    among them (``MONO_MAX_FOREIGN``)."""
    return _enough_sound(share) and share[0] < MONO_MAX_FOREIGN


#: ``auto`` on a track that is not monophonic as a whole reads it in passages of this length
#: (seconds; the last one takes a remainder under half of it), each by a stricter rule, since a
#: passage is less evidence than a track: under this share of foreign notes ...
PASSAGE_S = 10.0
PASSAGE_MAX_FOREIGN = 0.05
#: ... and notes in this share of its frames or more (solo singing's 10-s blocks read 0.00-0.04
#: with notes in 50-77 % of the frames; the polyphonic blocks that passed the track rule, 0.014
#: with notes in 17 %, 0.084 in 19 %, 0.098 in 52 %: README, Accuracy).
PASSAGE_MIN_NOTE_SHARE = 0.3


def monophonic_passages(f0: PitchTrack, sal: Salience, *, passage_s: float = PASSAGE_S,
                        threshold: float = 0.5) -> list[tuple[float, float, bool]]:
    """How ``auto`` reads the track: [(start_s, end_s, monophonic)], adjacent passages of the
    same reading merged, covering the salience's frames. A track monophonic as a whole
    (``reads_as_monophonic``) is one monophonic passage; one with too little sound to decide,
    or no note posteriorgram, one polyphonic passage. Otherwise each ``passage_s`` block is
    read on its own frames (a solo intro before the band comes in reads monophonic): a block
    with too little sound to decide (under 1 s or a tenth of its frames, as for a track) takes
    its neighbour's reading (the one before it, else the one after, else polyphonic); the others
    are monophonic where under ``PASSAGE_MAX_FOREIGN`` of their note frames hold a foreign note
    and notes sound in ``PASSAGE_MIN_NOTE_SHARE`` of their frames or more."""
    flags = _note_frames(f0, sal, threshold)
    end_s = float(sal.times_s[-1]) + C.HOP_LENGTH / C.SAMPLE_RATE if len(sal.times_s) else 0.0
    if flags is None:
        return [(0.0, end_s, False)]
    sounding, foreign, frame_s = flags
    whole = _share(sounding, foreign, frame_s)
    if reads_as_monophonic(whole) or not _enough_sound(whole):
        return [(0.0, end_s, reads_as_monophonic(whole))]
    n = len(sounding)
    step = max(1, int(round(passage_s / frame_s)))
    edges = list(range(0, n, step)) + [n]
    if len(edges) > 2 and edges[-1] - edges[-2] < step // 2:
        del edges[-2]
    reads: list[bool | None] = []
    for a, b in zip(edges, edges[1:]):
        got = _share(sounding[a:b], foreign[a:b], frame_s)
        reads.append(got[0] < PASSAGE_MAX_FOREIGN and got[2] >= PASSAGE_MIN_NOTE_SHARE
                     if _enough_sound(got) else None)
    for order in (range(len(reads)), reversed(range(len(reads)))):
        last = None
        for i in order:
            reads[i] = last if reads[i] is None else reads[i]
            last = reads[i]
    out: list[tuple[float, float, bool]] = []
    for a, b, mono in zip(edges, edges[1:], (bool(r) for r in reads)):
        t0, t1 = (0.0 if a == 0 else float(sal.times_s[a])), (end_s if b == n else float(sal.times_s[b]))
        out[-1:] = [(out[-1][0], t1, mono)] if out and out[-1][2] == mono else [*out[-1:], (t0, t1, mono)]
    return out


def merge_passages(mono: Notes | None, poly: Notes | None, passages: list[tuple[float, float, bool]]
                   ) -> Notes:
    """The notes of ``mono`` (method ``f0``) whose onset lies in a monophonic passage and those
    of ``poly`` (``salience``) whose onset lies in a polyphonic one, by onset, pitch bends kept
    with their notes; a note that sounds on into the next note of its pitch ends where that
    one starts (one method's note across a border into the other's); ``method``
    "f0+salience" where both kinds of passage occur. Where all passages are of one kind, that
    kind's notes as they are (the other may be None)."""
    kinds = {m for _, _, m in passages}
    if kinds == {True}:
        return mono
    if kinds <= {False}:
        return poly
    starts = np.array([a for a, _, _ in passages[1:]])
    mono_of = np.array([m for _, _, m in passages], bool)
    picked = [pp.take_notes(notes, np.flatnonzero(
                  mono_of[np.searchsorted(starts, np.asarray(notes.onsets_s), side="right")] == want))
              for notes, want in ((mono, True), (poly, False))]
    out = pp.sort_notes(pp.concat_notes(picked, method="f0+salience"))
    # a note that sounds on into the next note of its pitch (one from each method) ends there
    on, off, pitch = out.onsets_s, np.asarray(out.offsets_s, np.float64).copy(), out.pitch_midi
    for p in np.unique(pitch):
        i = np.flatnonzero(pitch == p)
        off[i[:-1]] = np.minimum(off[i[:-1]], on[i[1:]])
    keep = np.asarray(out.bend_times_s) < off[np.asarray(out.bend_note, np.int64)]
    return dataclasses.replace(out, offsets_s=off, bend_note=out.bend_note[keep],
                               bend_times_s=out.bend_times_s[keep], bend_cents=out.bend_cents[keep])


def _bridge(voiced: np.ndarray, gap_frames: int) -> np.ndarray:
    """``voiced`` with unvoiced gaps of at most ``gap_frames`` frames between voiced frames filled."""
    v = voiced.copy()
    s, e = pp.runs(~v)
    for a, b in zip(s, e):
        if a > 0 and b < len(v) and b - a <= gap_frames:
            v[a:b] = True
    return v


def _split(midi: np.ndarray, change: float, hold: int) -> list[int]:
    """Cut points inside one voiced run of median-filtered MIDI pitches [shape=(n,)]: the first
    frame of each ``hold`` frames in a row more than ``change`` semitones from the median of
    the note so far."""
    cuts, start, out, k = [], 0, 0, 0
    while k < len(midi):
        if abs(midi[k] - np.median(midi[start:k + 1])) > change:
            out += 1
            if out >= hold:
                k = k - hold + 1
                cuts.append(k)
                start, out = k, 0
        else:
            out = 0
        k += 1
    return cuts


def notes_from_pitch_track(f0: PitchTrack, *, change_semitones: float = 0.7, hold_frames: int = 5,
                           gap_frames: int = 2, median_frames: int = 5, min_duration_s: float = 0.1,
                           bend_step_frames: int = 4) -> Notes:
    """Notes from ``f0`` (times_s, freqs_hz, voiced, confidence [shape=(n_frames,)] on a
    regular frame grid); see the module's docstring for the rules and units."""
    times = np.asarray(f0.times_s, np.float64)
    n = len(times)
    frame_s = float(times[1] - times[0]) if n > 1 else 0.0
    voiced = _bridge(np.asarray(f0.voiced, bool) & (np.asarray(f0.freqs_hz) > 0), gap_frames)
    midi = hz_to_midi(np.maximum(np.asarray(f0.freqs_hz, np.float64), 1e-3))   # gaps: very low, not nan
    conf = np.asarray(f0.confidence, np.float64) if len(f0.confidence) == n else np.ones(n)
    min_frames = max(1, int(round(min_duration_s / frame_s))) if frame_s else 1
    spans = []
    for a, b in zip(*pp.runs(voiced)):
        smooth = median_filter(midi[a:b], size=median_frames, mode="nearest")
        edges = [0, *_split(smooth, change_semitones, hold_frames), b - a]
        spans += [(a + s, a + e, float(np.median(smooth[s:e]))) for s, e in zip(edges, edges[1:])
                  if e - s >= min_frames]
    on = np.array([times[s] for s, _, _ in spans])
    off = np.array([times[e - 1] + frame_s for _, e, _ in spans])
    pitch = np.array([int(round(m)) for _, _, m in spans], np.int64)
    mean_conf = np.array([conf[s:e].mean() for s, e, _ in spans])
    bend_note, bend_t, bend_c = [], [], []
    for i, (s, e, _) in enumerate(spans):
        idx = np.arange(s, e, max(1, int(bend_step_frames)))
        bend_note += [i] * len(idx)
        bend_t += list(times[idx])
        bend_c += list(100.0 * (midi[idx] - pitch[i]))
    return Notes(onsets_s=on, offsets_s=off, pitch_midi=pitch,
                 velocity=np.clip(np.round(127 * mean_conf), 1, 127).astype(np.int64),
                 confidence=np.clip(mean_conf, 0.0, 1.0),
                 bend_note=np.asarray(bend_note, np.int64), bend_times_s=np.asarray(bend_t, np.float64),
                 bend_cents=np.asarray(bend_c, np.float64), method="f0")
