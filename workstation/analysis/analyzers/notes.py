"""``notes``: note events (onset, offset, MIDI pitch, velocity, confidence, pitch bends)
from the ``pitch.salience`` result (DSP post-processing in ``core.postprocess``), or, with
``method="f0"``, one note at a time from the ``pitch.f0`` track (``notes_mono``); the default
``method="auto"`` chooses per track: ``f0`` where the track sounds monophonic
(``notes_mono.reads_as_monophonic``), else ``salience``, and on a track that is not monophonic as a
whole, ``f0`` in its passages that are (``notes_mono.monophonic_passages``: a solo intro).
``Notes.method`` says which ran ("f0", "salience" or "f0+salience").

Per-semitone activation (max over the 5 bins of a semitone) -> hysteresis (on/off
thresholds, short gaps bridged) -> re-attack split at valleys (repeated notes) -> onset and
offset placed where the dB-like level is within 6 dB of the note's level (compensating the
CQT window's smear) -> minimum duration -> velocity from the peak activation, confidence from
the mean -> pitch bend: the salience peak inside the semitone, in cents, every 4 frames.

The salience result says how it was made (``Salience.method``) and the thresholds follow:
relative to the track's level on the DSP scale, absolute on the learned probability (whose
``learned_*`` parameters replace their DSP counterparts), see ``METHOD_PARAMS``.
"""

from __future__ import annotations

import numpy as np

from workstation.analysis.base import Analyzer, register
from workstation.core import constants as C
from workstation.core import postprocess as pp
from workstation.core.types import Notes, Salience


def notes_from_salience(sal: Salience, *, on_threshold: float = 0.4, off_threshold: float = 0.2,
                        min_duration_s: float = 0.05, max_gap_s: float = 0.035,
                        split_depth: float = 0.2, bend_step_frames: int = 4,
                        relative: bool = True, split_logit: bool = False) -> Notes:
    """Note events from a ``Salience`` (values [shape=(C.N_BINS, n_frames)]).

    relative: thresholds are fractions of the track's level (``core.postprocess.track_level``),
    for a salience on an uncalibrated scale (the DSP one); False: absolute thresholds on a
    calibrated probability (the learned one; silence stays silent whatever the scale).
    split_logit: re-attack valleys are measured in log-odds (``split_depth`` in logits): on a
    probability a dip from 0.98 to 0.6 (a repeated note, 3.5) is deep, one from 0.86 to 0.6 (a
    vibrato moving across the semitone's bins, 1.4) is not."""
    values = np.asarray(sal.values)  # float16 on disk; never copied whole to float32
    frame_s = C.HOP_LENGTH / C.SAMPLE_RATE
    act, midi_rows = pp.semitone_activation(values)
    if relative:
        # Thresholds relative to the track's strong notes: recordings differ by tens of dB in
        # how far partials stand above their background (synthetic tones ~0.7, a piano ~0.2).
        level = pp.track_level(act)
        if level > 0:
            act = act * np.float32(1.0 / level)
    split_act = None
    if split_logit:
        p = np.clip(act, 1e-3, 1 - 1e-3)
        split_act = np.log(p / (1 - p))
    # The activation ramps over about the CQT window of the pitch: Q / f seconds.
    q = 1.0 / (2.0 ** (1.0 / C.BINS_PER_OCTAVE) - 1.0)
    window_s = q / (C.FMIN_HZ * 2.0 ** ((midi_rows - C.FMIN_MIDI) / 12.0))
    edge_frames = np.clip(np.ceil(0.5 * window_s / frame_s) + 4, 8, 48).astype(int)
    ev = pp.segment_notes(act, on_threshold=on_threshold, off_threshold=off_threshold,
                          edge_window_frames=edge_frames,
                          min_frames=max(1, int(round(min_duration_s / frame_s))),
                          max_gap_frames=int(round(max_gap_s / frame_s)),
                          split_depth=split_depth, split_act=split_act)
    bend_note, bend_frame, bend_cents = pp.note_bends(values, ev, midi_rows, step_frames=bend_step_frames)
    times = np.asarray(sal.times_s, dtype=np.float64)
    t_of = (lambda f: times[np.minimum(f, len(times) - 1)] if len(times) else np.zeros(len(f)))
    return Notes(onsets_s=t_of(ev.start), offsets_s=t_of(ev.end - 1) + frame_s,
                 pitch_midi=midi_rows[ev.row].astype(np.int64),
                 velocity=np.clip(np.round(100 * ev.peak), 1, 127).astype(np.int64),
                 confidence=np.clip(ev.mean, 0.0, 1.0).astype(np.float64),
                 bend_note=bend_note, bend_times_s=t_of(bend_frame), bend_cents=bend_cents,
                 method="salience")


def notes_from_posteriorgrams(sal: Salience, *, onset_threshold: float = 0.5,
                              frame_threshold: float = 0.3, min_duration_s: float = 0.1277,
                              max_gap_frames: int = 11, onset_snap_frames: int = 3,
                              bend_step_frames: int = 4) -> Notes:
    """Note events from a note-level model's posteriorgrams (``sal.note_values``,
    ``sal.onset_values`` [shape=(88, n_frames)], row ``i`` = MIDI ``21 + i``; basic-pitch's).

    Per semitone: runs of frames whose note posterior reaches ``frame_threshold``, dips of up to
    ``max_gap_frames`` bridged (basic-pitch's energy tolerance), kept when they hold an onset
    peak (a local maximum in time of the onset posterior >= ``onset_threshold``) or their note
    posterior reaches ``onset_threshold``; each later onset peak inside a run starts a new
    note (a repeated note); a note's onset moves to an onset peak up to ``onset_snap_frames``
    before it; pieces shorter than ``min_duration_s`` are dropped. Thresholds and minimum
    length are basic-pitch's defaults (not tuned here). Pitch bends: the contour
    (``sal.values``) inside the semitone, every ``bend_step_frames`` frames."""
    from scipy.ndimage import binary_closing

    note = np.asarray(sal.note_values, dtype=np.float32)
    onset = np.asarray(sal.onset_values, dtype=np.float32)
    frame_s = C.HOP_LENGTH / C.SAMPLE_RATE
    min_frames = max(1, int(round(min_duration_s / frame_s)))
    midi_rows = 21 + np.arange(len(note))
    left = np.concatenate([onset[:, :1], onset[:, :-1]], axis=1)
    right = np.concatenate([onset[:, 1:], onset[:, -1:]], axis=1)
    is_peak = (onset >= onset_threshold) & (onset >= left) & (onset > right)
    lo = note >= frame_threshold
    if max_gap_frames > 0 and lo.size:
        lo |= binary_closing(lo, structure=np.ones((1, 2 * max_gap_frames + 1), bool))
    starts, ends, rows = [], [], []
    for r in np.flatnonzero(lo.any(axis=1)):
        s_run, e_run = pp.runs(lo[r])
        peaks = np.flatnonzero(is_peak[r])
        for s0, e0 in zip(s_run, e_run):
            inside = peaks[(peaks >= s0 - onset_snap_frames) & (peaks < e0)]
            if not len(inside) and note[r, s0:e0].max() < onset_threshold:
                continue
            cuts = [min(s0, int(inside[0])) if len(inside) and inside[0] <= s0 + onset_snap_frames
                    else s0]
            cuts += [int(p) for p in inside if p >= cuts[0] + min_frames]
            for a, b in zip(cuts, cuts[1:] + [e0]):
                if b - a >= min_frames:
                    starts.append(a), ends.append(b), rows.append(r)
    start, end, row = (np.asarray(v, dtype=np.int64) for v in (starts, ends, rows))
    peak = np.asarray([note[r, a:b].max() for a, b, r in zip(start, end, row)], np.float64)
    mean = np.asarray([note[r, a:b].mean() for a, b, r in zip(start, end, row)], np.float64)
    order = np.lexsort((row, start))
    ev = pp.NoteEvents(start=start[order], end=end[order], row=row[order], peak=peak[order],
                       mean=mean[order])
    bend_note, bend_frame, bend_cents = pp.note_bends(sal.values, ev, midi_rows, step_frames=bend_step_frames)
    times = np.asarray(sal.times_s, dtype=np.float64)
    t_of = (lambda f: times[np.minimum(f, len(times) - 1)] if len(times) else np.zeros(len(f)))
    return Notes(onsets_s=t_of(ev.start), offsets_s=t_of(ev.end - 1) + frame_s,
                 pitch_midi=midi_rows[ev.row].astype(np.int64),
                 velocity=np.clip(np.round(127 * ev.peak), 1, 127).astype(np.int64),
                 confidence=np.clip(ev.mean, 0.0, 1.0), bend_note=bend_note,
                 bend_times_s=t_of(bend_frame), bend_cents=bend_cents, method="salience")


#: Parameters of ``notes_from_salience`` per salience method (``Salience.method``). The DSP
#: salience is a level scale: thresholds relative to the track's level, valleys in that scale.
#: The learned one is a calibrated probability: absolute thresholds (silence stays silent),
#: re-attack valleys in log-odds (a vibrato's wobble across bins is no re-attack).
#: Learned values tuned on the demo collection and synthetic tones (never on the evaluation data).
METHOD_PARAMS = {
    "dsp": dict(relative=True, split_logit=False),
    "learned": dict(relative=False, split_logit=True),
}


#: ``method``: ``auto`` (the default: per track, ``f0`` where the track sounds monophonic,
#: else ``salience``, with ``f0`` in the passages of it that do),
#: ``salience`` (polyphonic, from ``pitch.salience``, whatever made it) or
#: ``f0`` (monophonic, from the ``pitch.f0`` track: one note at a time, for a solo voice or
#: instrument; ``notes_mono.notes_from_pitch_track``).
METHODS = ("auto", "salience", "f0")


@register
class NotesAnalyzer(Analyzer):
    """Note events; ``requires`` follows the method: both tracks for ``auto``, else
    ``pitch.salience`` or ``pitch.f0``."""

    id = "notes"
    version = 5  # 2: per-method post-processing (absolute thresholds on the learned salience)
    #              3: the method parameter; f0: monophonic notes from the pitch.f0 track
    #              4: auto (the default) chooses f0 or salience per track; Notes.method
    #              5: auto reads a track that is not monophonic as a whole in 10-s passages
    methods = METHODS
    result_type = Notes
    features = ()
    requires = ("pitch.f0", "pitch.salience")
    description = ("Note events from the multi-f0 salience (hysteresis, re-attacks, pitch bends), "
                   "or one at a time from the f0 track where the track (or a passage of it) sounds "
                   "monophonic")
    default_params = {
        "method": "auto",
        "on_threshold": 0.4,      # dsp: activation (relative to the track level) that starts a note
        "off_threshold": 0.2,     # dsp: activation that keeps it going
        "split_depth": 0.2,       # dsp: valley depth that splits a repeated note
        "learned_on_threshold": 0.6,   # learned: probability that starts a note
        "learned_off_threshold": 0.3,  # learned: probability that keeps it going
        "learned_split_depth": 2.5,    # learned: valley depth in log-odds that splits a repeated note
        "min_duration_s": 0.05,
        "max_gap_s": 0.035,       # gaps bridged (unless a re-attack valley splits them)
        "bend_step_frames": 4,    # pitch-bend subsampling (4 frames = 46 ms)
    }

    def __init__(self, **params):
        super().__init__(**params)
        if self.params["method"] not in METHODS:
            raise ValueError(f"notes: method must be one of {METHODS}, got {self.params['method']!r}")
        self.requires = {"f0": ("pitch.f0",), "salience": ("pitch.salience",)}.get(
            self.params["method"], type(self).requires)

    def run(self, chunks, track):
        from .notes_mono import merge_passages, monophonic_passages, notes_from_pitch_track

        for _ in chunks:  # no features: the stream is empty
            yield 0.0
        method = self.params["method"]
        passages = (monophonic_passages(track.results["pitch.f0"], track.results["pitch.salience"])
                    if method == "auto" else [(0.0, float("inf"), method == "f0")])
        kinds = {m for *_, m in passages}
        yield 0.5
        mono = (notes_from_pitch_track(track.results["pitch.f0"],
                                       bend_step_frames=int(self.params["bend_step_frames"]))
                if True in kinds else None)
        poly = self._salience_notes(track.results["pitch.salience"]) if False in kinds else None
        return merge_passages(mono, poly, passages)

    def _salience_notes(self, sal: Salience) -> Notes:
        """Polyphonic notes from ``sal``: basic-pitch's posteriorgrams, else the salience itself."""
        if getattr(sal, "method", "dsp") == "basic-pitch":
            return notes_from_posteriorgrams(sal, bend_step_frames=int(self.params["bend_step_frames"]))
        return notes_from_salience(sal, **self.method_params(getattr(sal, "method", "dsp")))

    def method_params(self, method: str) -> dict:
        """Keyword arguments of ``notes_from_salience`` for a salience made by ``method``."""
        p = dict(self.params)
        p.pop("method", None)
        learned = {k: p.pop(k) for k in list(p) if k.startswith("learned_")}
        if method == "learned":
            p.update({k[len("learned_"):]: v for k, v in learned.items()})
        return {**p, **METHOD_PARAMS.get(method, METHOD_PARAMS["dsp"])}
