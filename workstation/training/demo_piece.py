"""A composed piece and its exact labels: :class:`Piece`, :class:`Part`, :class:`Chord`.

The data types that :func:`workstation.training.demo_compose.compose` returns: notes and
pitch bends per instrument, chords, beats, key, tempo; the label views derived from them
(melody f0 [shape=(n_frames,)] Hz on the analysis frame grid, multi-f0, piano rolls
[shape=(128, n_frames)], core ``Key`` / ``Beats`` / ``Tags``), a fingerprint of every label,
and :func:`to_pretty_midi`. All times are seconds from the start of the audio.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pretty_midi

from workstation.core.constants import HOP_LENGTH, SAMPLE_RATE, n_frames_for
from workstation.core.types import Beats, Key, Notes, PitchTrack, Tags
from workstation.core.units import key_label, midi_to_hz, pitch_class_name

#: Pitch-bend range in semitones assumed by the labels (General MIDI default, FluidSynth default).
BEND_RANGE_SEMITONES: float = 2.0

ROLES: tuple[str, ...] = ("melody", "chords", "bass", "drums")


@dataclass(frozen=True)
class Part:
    """One instrument's notes.

    onsets_s, offsets_s [shape=(n_notes,)] seconds; pitch_midi, velocity [shape=(n_notes,), int];
    bend_times_s [shape=(n_bends,)] seconds and bend_values [shape=(n_bends,), int in -8192..8191]:
    MIDI pitch-bend events (a value holds until the next event; +-8192 = +-BEND_RANGE_SEMITONES).
    """

    name: str
    role: str
    program: int
    is_drum: bool
    onsets_s: np.ndarray
    offsets_s: np.ndarray
    pitch_midi: np.ndarray
    velocity: np.ndarray
    bend_times_s: np.ndarray
    bend_values: np.ndarray

    def __len__(self) -> int:
        return len(self.onsets_s)

    def bend_semitones_at(self, times_s) -> np.ndarray:
        """Pitch bend in semitones in effect at ``times_s`` [shape=(n,)]."""
        t = np.asarray(times_s, dtype=np.float64)
        idx = np.searchsorted(self.bend_times_s, t, side="right") - 1
        vals = np.where(idx >= 0, self.bend_values[np.clip(idx, 0, None)] if len(self.bend_values) else 0, 0)
        return vals.astype(np.float64) * BEND_RANGE_SEMITONES / 8192.0

    def to_notes(self) -> Notes:
        """The part as a core :class:`Notes` (bends in cents, attached to the note sounding then)."""
        bend_note, bend_t, bend_c = [], [], []
        for t, v in zip(self.bend_times_s, self.bend_values):
            idx = np.flatnonzero((self.onsets_s <= t) & (t < self.offsets_s))
            if len(idx):
                bend_note.append(int(idx[0]))
                bend_t.append(float(t))
                bend_c.append(float(v) * BEND_RANGE_SEMITONES * 100.0 / 8192.0)
        return Notes(onsets_s=self.onsets_s.copy(), offsets_s=self.offsets_s.copy(),
                     pitch_midi=self.pitch_midi.copy(), velocity=self.velocity.copy(),
                     confidence=np.ones(len(self), dtype=np.float64),
                     bend_note=np.asarray(bend_note, dtype=np.int64),
                     bend_times_s=np.asarray(bend_t, dtype=np.float64),
                     bend_cents=np.asarray(bend_c, dtype=np.float64))


@dataclass(frozen=True)
class Chord:
    """A chord span: start_s, end_s seconds; root_pc 0..11; quality ('maj', 'min', 'dim', '7', ...)."""

    start_s: float
    end_s: float
    root_pc: int
    quality: str

    @property
    def label(self) -> str:
        """JAMS/mir_eval chord label, e.g. 'A:min', 'E:7'."""
        return f"{pitch_class_name(self.root_pc)}:{self.quality}"


@dataclass(frozen=True)
class Piece:
    """A composed piece with exact labels (all times in seconds from the start of the audio).

    parts: one :class:`Part` per instrument, in ROLES order (melody first); the melody is
    ``parts[melody_index]``. beat_times_s [shape=(n_beats,)], beat_positions [shape=(n_beats,), int,
    1 = downbeat], beat_measures [shape=(n_beats,), int, 1-based bar number].
    """

    seed: int
    title: str
    style: str
    genre: str
    tonic_pc: int
    mode: str
    tempo_bpm: float
    beats_per_bar: int
    duration_s: float
    parts: tuple[Part, ...]
    melody_index: int
    chords: tuple[Chord, ...]
    beat_times_s: np.ndarray
    beat_positions: np.ndarray
    beat_measures: np.ndarray
    midi: pretty_midi.PrettyMIDI = dataclasses.field(repr=False, compare=False)

    # -- labels -------------------------------------------------------------------------------

    @property
    def melody(self) -> Part:
        return self.parts[self.melody_index]

    @property
    def key_label(self) -> str:
        """JAMS ``key_mode`` label, e.g. 'A:minor'."""
        return key_label(self.tonic_pc, self.mode)

    @property
    def instrument_names(self) -> list[str]:
        return [p.name for p in self.parts]

    @property
    def pitched_parts(self) -> list[Part]:
        return [p for p in self.parts if not p.is_drum]

    def n_frames(self, *, sr: int = SAMPLE_RATE, hop_length: int = HOP_LENGTH) -> int:
        """Frames of the rendered audio (``duration_s * sr`` samples, centred frames)."""
        return n_frames_for(int(round(self.duration_s * sr)), hop_length=hop_length)

    def frame_times(self, *, sr: int = SAMPLE_RATE, hop_length: int = HOP_LENGTH) -> np.ndarray:
        """Frame centre times in seconds [shape=(n_frames,)]."""
        return np.arange(self.n_frames(sr=sr, hop_length=hop_length)) * hop_length / sr

    def f0_at(self, times_s) -> tuple[np.ndarray, np.ndarray]:
        """Melody f0 in Hz (bends included) and voicing at ``times_s`` [shape=(n,)].

        Unvoiced times get frequency 0. A note sounds on [onset, offset).
        """
        t = np.asarray(times_s, dtype=np.float64)
        m = self.melody
        idx = np.searchsorted(m.onsets_s, t, side="right") - 1
        safe = np.clip(idx, 0, None)
        voiced = (idx >= 0) & (t < m.offsets_s[safe])
        pitch = m.pitch_midi[safe].astype(np.float64) + m.bend_semitones_at(t)
        freqs = np.where(voiced, midi_to_hz(pitch), 0.0)
        return freqs, voiced

    def f0_frames(self, *, sr: int = SAMPLE_RATE, hop_length: int = HOP_LENGTH) -> PitchTrack:
        """Melody f0 on the analysis frame grid as a core :class:`PitchTrack` [shape=(n_frames,)]."""
        times = self.frame_times(sr=sr, hop_length=hop_length)
        freqs, voiced = self.f0_at(times)
        return PitchTrack(times_s=times, freqs_hz=freqs, voiced=voiced,
                          confidence=voiced.astype(np.float64))

    def multif0_frames(self, *, sr: int = SAMPLE_RATE,
                       hop_length: int = HOP_LENGTH) -> tuple[np.ndarray, list[np.ndarray]]:
        """All sounding pitched notes per frame (mir_eval multipitch format; bends included).

        Returns times_s [shape=(n_frames,)] and a list of n_frames arrays of frequencies in Hz.
        """
        times = self.frame_times(sr=sr, hop_length=hop_length)
        per_frame: list[list[float]] = [[] for _ in times]
        for part in self.pitched_parts:
            bend = part.bend_semitones_at(times) if len(part.bend_values) else np.zeros(len(times))
            for on, off, p in zip(part.onsets_s, part.offsets_s, part.pitch_midi):
                a = int(np.ceil(on * sr / hop_length - 1e-9))
                b = int(np.ceil(off * sr / hop_length - 1e-9))
                for k in range(max(a, 0), min(b, len(times))):
                    per_frame[k].append(float(midi_to_hz(p + bend[k])))
        return times, [np.asarray(sorted(f), dtype=np.float64) for f in per_frame]

    def piano_roll(self, *, sr: int = SAMPLE_RATE, hop_length: int = HOP_LENGTH,
                   roles: Sequence[str] | None = None) -> np.ndarray:
        """Active pitched notes [shape=(128, n_frames), bool] (nominal pitches, bends ignored)."""
        n = self.n_frames(sr=sr, hop_length=hop_length)
        roll = np.zeros((128, n), dtype=bool)
        for part in self.pitched_parts:
            if roles is not None and part.role not in roles:
                continue
            for on, off, p in zip(part.onsets_s, part.offsets_s, part.pitch_midi):
                a = int(np.ceil(on * sr / hop_length - 1e-9))
                b = int(np.ceil(off * sr / hop_length - 1e-9))
                roll[p, max(a, 0):min(b, n)] = True
        return roll

    def onset_roll(self, *, sr: int = SAMPLE_RATE, hop_length: int = HOP_LENGTH) -> np.ndarray:
        """Note onsets of pitched parts on the frame grid [shape=(128, n_frames), bool]."""
        n = self.n_frames(sr=sr, hop_length=hop_length)
        roll = np.zeros((128, n), dtype=bool)
        for part in self.pitched_parts:
            frames = np.rint(part.onsets_s * sr / hop_length).astype(np.int64)
            ok = frames < n
            roll[part.pitch_midi[ok], frames[ok]] = True
        return roll

    def key(self) -> Key:
        return Key(tonic_pc=self.tonic_pc, mode=self.mode, confidence=1.0,
                   local_start_s=np.array([0.0]), local_end_s=np.array([self.duration_s]),
                   local_tonic_pc=np.array([self.tonic_pc]), local_mode=[self.mode],
                   local_confidence=np.array([1.0]))

    def beats(self) -> Beats:
        return Beats(times_s=self.beat_times_s.copy(), positions=self.beat_positions.copy(),
                     tempo_bpm=float(self.tempo_bpm),
                     tempo_alternatives_bpm=np.array([self.tempo_bpm / 2, self.tempo_bpm * 2]),
                     tempo_confidence=1.0, meter=self.beats_per_bar)

    def tags(self) -> Tags:
        labels = self.instrument_names + [self.genre]
        return Tags(labels=labels, scores=np.ones(len(labels)))

    def label_arrays(self) -> dict[str, np.ndarray]:
        """Every label as named arrays (used for fingerprints and equality of compositions)."""
        out: dict[str, np.ndarray] = {
            "meta": np.asarray([self.seed, self.tonic_pc, self.beats_per_bar, self.melody_index]),
            "text": np.asarray([self.title, self.style, self.genre, self.mode] + self.instrument_names),
            "num": np.asarray([self.tempo_bpm, self.duration_s]),
            "beat_times_s": self.beat_times_s, "beat_positions": self.beat_positions,
            "beat_measures": self.beat_measures,
            "chords": np.asarray([[c.start_s, c.end_s, c.root_pc] for c in self.chords]),
            "chord_q": np.asarray([c.quality for c in self.chords]),
        }
        for i, p in enumerate(self.parts):
            for f in ("onsets_s", "offsets_s", "pitch_midi", "velocity", "bend_times_s", "bend_values"):
                out[f"part{i}.{f}"] = getattr(p, f)
            out[f"part{i}.prog"] = np.asarray([p.program, int(p.is_drum)])
        return out

    def fingerprint(self) -> str:
        """sha256 of every label (equal for equal compositions)."""
        h = hashlib.sha256()
        for k, v in sorted(self.label_arrays().items()):
            h.update(k.encode())
            a = np.ascontiguousarray(v)
            h.update(str(a.dtype).encode() + str(a.shape).encode())
            h.update(a.tobytes())
        return h.hexdigest()


def to_pretty_midi(piece: Piece) -> pretty_midi.PrettyMIDI:
    """The piece as a new ``PrettyMIDI`` (tempo, meter, key signature, one instrument per part)."""
    pm = pretty_midi.PrettyMIDI(resolution=960, initial_tempo=float(piece.tempo_bpm))
    pm.time_signature_changes.append(pretty_midi.TimeSignature(piece.beats_per_bar, 4, 0.0))
    pm.key_signature_changes.append(
        pretty_midi.KeySignature(piece.tonic_pc + (12 if piece.mode == "minor" else 0), 0.0))
    for part in piece.parts:
        inst = pretty_midi.Instrument(program=part.program, is_drum=part.is_drum, name=part.name)
        for on, off, p, v in zip(part.onsets_s, part.offsets_s, part.pitch_midi, part.velocity):
            inst.notes.append(pretty_midi.Note(velocity=int(v), pitch=int(p), start=float(on), end=float(off)))
        for t, v in zip(part.bend_times_s, part.bend_values):
            inst.pitch_bends.append(pretty_midi.PitchBend(pitch=int(v), time=float(t)))
        pm.instruments.append(inst)
    return pm
