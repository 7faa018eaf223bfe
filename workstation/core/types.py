"""Plain result types shared by every layer.

Time is the last axis; units are in the names (``times_s``, ``freqs_hz``,
``pitch_midi``, ``confidence`` in [0, 1]). Every type serialises to a flat
dict of numpy arrays (``to_arrays`` / ``from_arrays``) so the result store can
write it as one ``.npz`` file, and the GUI and the worker exchange these, never
Qt objects or tensors.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np


def _empty(dtype=np.float64) -> np.ndarray:
    return np.zeros(0, dtype=dtype)


class Result:
    """Mixin: flat numpy serialisation of a dataclass whose fields are arrays or scalars."""

    kind: ClassVar[str] = "result"

    def to_arrays(self) -> dict[str, np.ndarray]:
        out = {"__kind__": np.asarray(self.kind)}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            v = getattr(self, f.name)
            out[f.name] = np.asarray(v, dtype=str) if f.name in self._str_lists() else np.asarray(v)
        return out

    @classmethod
    def _str_lists(cls) -> tuple[str, ...]:
        return ()

    @classmethod
    def from_arrays(cls, arrays) -> "Result":
        kwargs = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if f.name not in arrays:
                continue
            v = np.asarray(arrays[f.name])
            if f.name in cls._str_lists():
                v = [str(x) for x in v.tolist()]
            elif v.ndim == 0:
                v = v.item()
            kwargs[f.name] = v
        return cls(**kwargs)


@dataclass
class PitchTrack(Result):
    """A dominant-f0 (melody) track.

    times_s [shape=(n_frames,)] frame centres in seconds;
    freqs_hz [shape=(n_frames,)] f0 in Hz (the best estimate also where unvoiced, 0 where none);
    voiced [shape=(n_frames,), bool] voicing decision;
    confidence [shape=(n_frames,)] in [0, 1].
    """

    kind: ClassVar[str] = "pitch_track"
    times_s: np.ndarray
    freqs_hz: np.ndarray
    voiced: np.ndarray
    confidence: np.ndarray


@dataclass
class Salience(Result):
    """Multi-f0 salience with frame-wise peaks.

    times_s [shape=(n_frames,)]; freqs_hz [shape=(n_bins,)] bin centres;
    values [shape=(n_bins, n_frames)] in [0, 1] (float16 or float32);
    peaks as flat arrays: peak_frame [shape=(n_peaks,)] frame index,
    peak_freq_hz [shape=(n_peaks,)], peak_salience [shape=(n_peaks,)].
    method: how ``values`` was made: "dsp" (harmonic summation: a level scale, dB above the
    local background), "learned" (a calibrated probability that the pitch sounds) or
    "basic-pitch" (basic-pitch's contour posteriorgram); consumers such as ``notes`` choose
    their thresholds by it.
    note_values, onset_values [shape=(88, n_frames)] (MIDI 21..108, probabilities): the note
    and onset posteriorgrams of a note-level model (method "basic-pitch"), else empty (0, 0).
    """

    kind: ClassVar[str] = "salience"
    times_s: np.ndarray
    freqs_hz: np.ndarray
    values: np.ndarray
    peak_frame: np.ndarray = field(default_factory=lambda: _empty(np.int64))
    peak_freq_hz: np.ndarray = field(default_factory=_empty)
    peak_salience: np.ndarray = field(default_factory=_empty)
    method: str = "dsp"
    note_values: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float16))
    onset_values: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float16))

    def frame_peaks(self) -> list[np.ndarray]:
        """Peak frequencies in Hz per frame (a list of n_frames arrays)."""
        n = len(self.times_s)
        order = np.argsort(self.peak_frame, kind="stable")
        frames = self.peak_frame[order]
        freqs = self.peak_freq_hz[order]
        bounds = np.searchsorted(frames, np.arange(n + 1))
        return [freqs[bounds[i]:bounds[i + 1]] for i in range(n)]


@dataclass
class Notes(Result):
    """Note events.

    onsets_s, offsets_s [shape=(n_notes,)] in seconds; pitch_midi [shape=(n_notes,), int];
    velocity [shape=(n_notes,), int 1..127]; confidence [shape=(n_notes,)] in [0, 1];
    pitch bends as flat arrays: bend_note [shape=(n_bend,), int] note index,
    bend_times_s [shape=(n_bend,)] absolute time, bend_cents [shape=(n_bend,)] deviation from pitch_midi.
    method: how they were found: "salience" (polyphonic, from ``pitch.salience``), "f0" (one
    at a time from ``pitch.f0``), "f0+salience" (each in the passages ``auto`` read so), ""
    where not recorded (edited or imported notes, older caches).
    """

    kind: ClassVar[str] = "notes"
    onsets_s: np.ndarray
    offsets_s: np.ndarray
    pitch_midi: np.ndarray
    velocity: np.ndarray
    confidence: np.ndarray = field(default_factory=_empty)
    bend_note: np.ndarray = field(default_factory=lambda: _empty(np.int64))
    bend_times_s: np.ndarray = field(default_factory=_empty)
    bend_cents: np.ndarray = field(default_factory=_empty)
    method: str = ""

    def __len__(self) -> int:
        return len(self.onsets_s)


@dataclass
class Key(Result):
    """Global key and a local-key timeline.

    tonic_pc 0..11 (C = 0); mode 'major' or 'minor'; confidence in [0, 1];
    local segments: local_start_s, local_end_s [shape=(n_seg,)], local_tonic_pc [int],
    local_mode [list of str], local_confidence [shape=(n_seg,)].
    """

    kind: ClassVar[str] = "key"
    tonic_pc: int
    mode: str
    confidence: float
    local_start_s: np.ndarray = field(default_factory=_empty)
    local_end_s: np.ndarray = field(default_factory=_empty)
    local_tonic_pc: np.ndarray = field(default_factory=lambda: _empty(np.int64))
    local_mode: list = field(default_factory=list)
    local_confidence: np.ndarray = field(default_factory=_empty)

    @classmethod
    def _str_lists(cls) -> tuple[str, ...]:
        return ("local_mode",)

    @property
    def label(self) -> str:
        from .units import key_label
        return key_label(self.tonic_pc, self.mode)


@dataclass
class Beats(Result):
    """Beats, downbeats and tempo.

    times_s [shape=(n_beats,)]; positions [shape=(n_beats,), int] position in the bar
    (1 = downbeat, 0 = unknown); tempo_bpm the main tempo; tempo_alternatives_bpm
    [shape=(k,)] e.g. half and double; tempo_confidence in [0, 1]; meter beats per bar (0 unknown).
    """

    kind: ClassVar[str] = "beats"
    times_s: np.ndarray
    positions: np.ndarray
    tempo_bpm: float
    tempo_alternatives_bpm: np.ndarray = field(default_factory=_empty)
    tempo_confidence: float = 0.0
    meter: int = 0

    @property
    def downbeats_s(self) -> np.ndarray:
        return self.times_s[self.positions == 1]


@dataclass
class Tags(Result):
    """Open-vocabulary tags with scores in [0, 1]: labels [list of str], scores [shape=(n,)]."""

    kind: ClassVar[str] = "tags"
    labels: list
    scores: np.ndarray

    @classmethod
    def _str_lists(cls) -> tuple[str, ...]:
        return ("labels",)


@dataclass
class Embedding(Result):
    """A fixed-length track vector [shape=(dim,), float32]; ``space`` names the vector space
    (two embeddings are comparable only within one space).

    Optional per-segment vectors (same space) so that a region of a track can be a query:
    segment_times_s [shape=(n_seg, 2)] start and end of each segment in seconds;
    segment_vectors [shape=(n_seg, dim), float32] unit-norm vectors (empty in results stored
    before segments existed)."""

    kind: ClassVar[str] = "embedding"
    vector: np.ndarray
    space: str = ""
    segment_times_s: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    segment_vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))

    def region_vector(self, start_s: float, end_s: float) -> np.ndarray:
        """The unit-norm mean of the segment vectors overlapping [start_s, end_s), weighted by
        the overlap [shape=(dim,), float32]; the track vector when there are no segments."""
        seg = np.asarray(self.segment_times_s, dtype=np.float64).reshape(-1, 2)
        vecs = np.asarray(self.segment_vectors, dtype=np.float64)
        if len(seg) == 0 or vecs.size == 0:
            return np.asarray(self.vector, dtype=np.float32)
        lo, hi = float(min(start_s, end_s)), float(max(start_s, end_s))
        w = np.minimum(seg[:, 1], hi) - np.maximum(seg[:, 0], lo)
        w = np.maximum(w, 0.0)
        if w.sum() <= 0:  # a point or a region outside: the nearest segment
            mid = 0.5 * (lo + hi)
            w = np.zeros(len(seg))
            w[int(np.argmin(np.abs(seg.mean(axis=1) - mid)))] = 1.0
        v = (w[:, None] * vecs.reshape(len(seg), -1)).sum(axis=0)
        n = np.linalg.norm(v)
        return (v / n if n > 0 else v).astype(np.float32)


RESULT_TYPES: dict[str, type[Result]] = {
    t.kind: t for t in (PitchTrack, Salience, Notes, Key, Beats, Tags, Embedding)
}


def result_from_arrays(arrays) -> Result:
    """Rebuild any result from ``to_arrays`` output (uses the stored ``__kind__``)."""
    kind = str(np.asarray(arrays["__kind__"]))
    return RESULT_TYPES[kind].from_arrays(arrays)


def nonfinite_fields(result: Result) -> list[str]:
    """Names of the result's floating-point arrays that hold NaN or infinity (none may: a
    result with them is refused before it is stored)."""
    out = []
    for name, value in result.to_arrays().items():
        arr = np.asarray(value)
        if arr.dtype.kind in "fc" and not np.isfinite(arr).all():
            out.append(name)
    return out
