"""Procedural composer and renderer: multi-instrument pieces with exact ground truth.

``compose(seed, ...)`` writes a short piece (melody, chord comping, bass, drums on
GM channel 10) in a key, meter and tempo, and returns a :class:`Piece` holding the
``pretty_midi.PrettyMIDI`` and exact labels: notes per instrument, the melody
line and its f0 (pitch bends and vibrato included), key and mode, chords, beats
with their position in the bar, tempo and instrument names. ``compose`` is
exactly deterministic from its arguments (one ``numpy.random.Generator`` seeded
with ``seed``, every draw made in a fixed order whatever is overridden).

``render(piece, sr=..., sf2_path=...)`` synthesises a piece with FluidSynth (via
pretty_midi), one fresh synthesiser per instrument, so it is a pure function of
its arguments (FluidSynth itself may differ in tiny ways between runs).

``python -m workstation.training.demo --out resources/demo`` (re)builds the bundled
demo collection: ten pieces as FLAC/OGG with tags, each with ``.jams`` ground
truth and the ``.mid`` beside it, and a README table.

Musical time is exact: beat ``i`` sounds at ``i * 60 / tempo_bpm`` seconds.
Pitch bends use the General MIDI default range of +-2 semitones.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pretty_midi

from workstation.core.constants import HOP_LENGTH, SAMPLE_RATE, n_frames_for
from workstation.core.errors import WorkstationError
from workstation.core.types import Beats, Key, Notes, PitchTrack, Tags
from workstation.core.units import key_label, midi_to_hz, parse_key_label, pitch_class_name

log = logging.getLogger(__name__)

#: Pitch-bend range in semitones assumed by the labels (General MIDI default, FluidSynth default).
BEND_RANGE_SEMITONES: float = 2.0
#: Debian's fluid-soundfont-gm; used when present.
SYSTEM_SF2 = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
#: The small GM soundfont shipped inside pretty_midi (always present).
BUNDLED_SF2 = Path(pretty_midi.__file__).resolve().parent / "TimGM6mb.sf2"

ROLES: tuple[str, ...] = ("melody", "chords", "bass", "drums")

_MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
_MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)
_QUALITIES = {"maj": (0, 4, 7), "min": (0, 3, 7), "dim": (0, 3, 6), "7": (0, 4, 7, 10),
              "maj7": (0, 4, 7, 11), "min7": (0, 3, 7, 10)}

# Progressions as (root in semitones above the tonic, quality); one chord per bar (or per two bars).
_PROGRESSIONS = {
    "major": (
        ((0, "maj"), (5, "maj"), (7, "maj"), (9, "min")),            # I-IV-V-vi
        ((0, "maj"), (7, "maj"), (9, "min"), (5, "maj")),            # I-V-vi-IV
        ((2, "min7"), (7, "7"), (0, "maj7"), (0, "maj7")),           # ii-V-I
        ((0, "maj"), (9, "min"), (2, "min"), (7, "7")),              # I-vi-ii-V
        ((0, "maj"), (5, "maj"), (0, "maj"), (7, "7")),              # I-IV-I-V
    ),
    "minor": (
        ((0, "min"), (5, "min"), (7, "maj"), (0, "min")),            # i-iv-V-i
        ((0, "min"), (8, "maj"), (3, "maj"), (10, "maj")),           # i-VI-III-VII
        ((0, "min"), (5, "min"), (7, "min"), (0, "min")),            # i-iv-v-i
        ((0, "min"), (10, "maj"), (8, "maj"), (7, "7")),             # i-VII-VI-V
        ((2, "dim"), (7, "7"), (0, "min"), (0, "min")),              # ii°-V-i
    ),
}

# Styles: meter, tempo range, comping / bass / drum patterns, genre tag.
_STYLES = {
    "pop": dict(meter=4, tempo=(92, 128), comp=("quarters", "arp8", "half"), bass=("root_fifth", "eighths"),
                drums="rock", genre="Pop", weight=3),
    "rock": dict(meter=4, tempo=(110, 150), comp=("quarters", "offbeat"), bass=("eighths", "root_fifth"),
                 drums="rock", genre="Rock", weight=2),
    "ballad": dict(meter=4, tempo=(70, 88), comp=("arp8", "block", "half"), bass=("roots", "root_fifth"),
                   drums="ballad", genre="Ballad", weight=2),
    "swing": dict(meter=4, tempo=(120, 160), comp=("charleston", "half"), bass=("walking",),
                  drums="swing", genre="Jazz", weight=2),
    "bossa": dict(meter=4, tempo=(110, 140), comp=("bossa",), bass=("bossa",),
                  drums="bossa", genre="Bossa Nova", weight=1),
    "waltz": dict(meter=3, tempo=(84, 160), comp=("waltz", "arp8", "block"), bass=("roots", "root_fifth"),
                  drums="waltz", genre="Waltz", weight=2),
}

# GM programs (0-based) per role, with the melody's playable range in MIDI numbers.
_MELODY_PROGRAMS = {0: (62, 84), 11: (62, 84), 24: (60, 79), 40: (62, 86), 56: (60, 79),
                    64: (62, 82), 65: (60, 77), 66: (58, 74), 68: (62, 81), 71: (60, 80),
                    73: (65, 88), 74: (65, 86), 80: (62, 84)}
_CHORD_PROGRAMS = (0, 4, 16, 19, 24, 25, 26, 46, 48, 11)
_SUSTAINED_PROGRAMS = {16, 19, 48, 49, 52, 88, 89}
_BASS_PROGRAMS = (32, 33, 34)
_VIBRATO_PROGRAMS = {40, 41, 42, 48, 56, 64, 65, 66, 68, 71, 73, 74}

_KICK, _RIM, _SNARE, _HAT, _PEDAL_HAT, _OPEN_HAT, _CRASH, _RIDE = 36, 37, 38, 42, 44, 46, 49, 51


class RenderError(WorkstationError):
    """A piece cannot be rendered (no FluidSynth, no soundfont)."""


# ---------------------------------------------------------------------------------------------
# Data


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


# ---------------------------------------------------------------------------------------------
# Composition


def _choice(rng: np.random.Generator, seq):
    return seq[int(rng.integers(len(seq)))]


def _tonic_from(key) -> tuple[int | None, str | None]:
    if key is None:
        return None, None
    if isinstance(key, (int, np.integer)):
        return int(key) % 12, None
    s = str(key)
    if ":" in s or " " in s.strip():
        pc, mode = parse_key_label(s)
        return pc, mode
    pc, _ = parse_key_label(s)
    return pc, None


def _scale(tonic_pc: int, mode: str, leading_tone: bool = False) -> tuple[int, ...]:
    steps = list(_MAJOR_SCALE if mode == "major" else _MINOR_SCALE)
    if mode == "minor" and leading_tone:
        steps[6] = 11
    return tuple(sorted((tonic_pc + s) % 12 for s in steps))


def _pitches_in(pcs, lo: int, hi: int) -> np.ndarray:
    return np.asarray([p for p in range(lo, hi + 1) if p % 12 in pcs], dtype=np.int64)


def _voicing(chord_pcs: Sequence[int], prev: np.ndarray | None, lo: int = 50, hi: int = 71) -> np.ndarray:
    """Closest closed-position voicing of ``chord_pcs`` in [lo, hi] to ``prev`` (or to the middle)."""
    cands = []
    n = len(chord_pcs)
    for inv in range(n):
        pcs = list(chord_pcs[inv:]) + list(chord_pcs[:inv])
        for base in range(lo - 12, hi + 1):
            if base % 12 != pcs[0]:
                continue
            v = [base]
            for pc in pcs[1:]:
                nxt = v[-1] + 1
                while nxt % 12 != pc:
                    nxt += 1
                v.append(nxt)
            if v[0] >= lo and v[-1] <= hi:
                cands.append(np.asarray(v, dtype=np.int64))
    ref = prev if prev is not None else None
    def cost(v):
        if ref is None:
            return abs(float(np.mean(v)) - (lo + hi) / 2)
        m = min(len(v), len(ref))
        return float(np.abs(np.sort(v)[:m] - np.sort(ref)[:m]).sum())
    return min(cands, key=cost)


class _Builder:
    def __init__(self):
        self.on: list[float] = []
        self.off: list[float] = []
        self.pitch: list[int] = []
        self.vel: list[int] = []
        self.bend_t: list[float] = []
        self.bend_v: list[int] = []

    def add(self, on: float, off: float, pitch: int, vel: int):
        self.on.append(float(on))
        self.off.append(float(off))
        self.pitch.append(int(pitch))
        self.vel.append(int(np.clip(vel, 1, 127)))

    def part(self, name: str, role: str, program: int, is_drum: bool) -> Part:
        order = np.lexsort((np.asarray(self.pitch), np.asarray(self.on))) if self.on else np.zeros(0, int)
        return Part(name=name, role=role, program=int(program), is_drum=is_drum,
                    onsets_s=np.asarray(self.on, dtype=np.float64)[order],
                    offsets_s=np.asarray(self.off, dtype=np.float64)[order],
                    pitch_midi=np.asarray(self.pitch, dtype=np.int64)[order],
                    velocity=np.asarray(self.vel, dtype=np.int64)[order],
                    bend_times_s=np.asarray(self.bend_t, dtype=np.float64),
                    bend_values=np.asarray(self.bend_v, dtype=np.int64))


_RHYTHMS = {  # melody rhythm cells per bar, in beats; negative = rest
    4: ((1, 1, 1, 1), (2, 1, 1), (1.5, 0.5, 1, 1), (0.5, 0.5, 1, 2), (2, 2), (1, 1, 2),
        (3, 1), (1, 0.5, 0.5, 2), (-1, 1, 1, 1), (0.5, 0.5, 0.5, 0.5, 2)),
    3: ((1, 1, 1), (2, 1), (1.5, 0.5, 1), (0.5, 0.5, 2), (1, 2), (-1, 1, 1), (3,)),
}
_CADENCE_RHYTHMS = {4: ((2, -2), (3, -1), (4,), (1, 3)), 3: ((3,), (2, -1))}


def compose(seed: int, *, duration_s: float | None = None, key: int | str | None = None,
            mode: str | None = None, tempo_bpm: float | None = None, meter: int | None = None,
            style: str | None = None, programs: Mapping[str, int] | None = None,
            vibrato: bool | None = None, title: str | None = None) -> Piece:
    """Compose a piece deterministically from ``seed``.

    Parameters left as None are drawn from the seed: duration_s (20-40 s), key (tonic as a
    pitch class, a name 'Eb' or a label 'A:minor'), mode ('major'/'minor'), style
    (pop, rock, ballad, swing, bossa, waltz), tempo_bpm (the style's range, within 70-160),
    meter (beats per bar, 3 or 4; the style's), programs ({'melody': 73, 'chords': 0,
    'bass': 32}: GM programs, 0-based), vibrato (on sustained melody notes).
    Every draw is made whatever is overridden, so overriding one parameter leaves the others.
    """
    rng = np.random.default_rng(seed)
    # --- global draws (fixed order) ---
    names = sorted(_STYLES)
    weights = np.asarray([_STYLES[n]["weight"] for n in names], dtype=np.float64)
    d_style = names[int(rng.choice(len(names), p=weights / weights.sum()))]
    d_duration = float(np.round(rng.uniform(20.0, 40.0), 1))
    d_tonic = int(rng.integers(12))
    d_mode = "minor" if rng.random() < 0.45 else "major"
    u_tempo = rng.random()
    d_melody = int(_choice(rng, sorted(_MELODY_PROGRAMS)))
    d_chords = int(_choice(rng, _CHORD_PROGRAMS))
    d_bass = int(_choice(rng, _BASS_PROGRAMS))
    d_vibrato = rng.random() < 0.3
    d_prog = int(rng.integers(len(_PROGRESSIONS["major"])))
    d_comp = rng.random()
    d_bassp = rng.random()
    d_two_bar = rng.random() < 0.5

    style = style or d_style
    if style not in _STYLES:
        raise ValueError(f"unknown style {style!r}; choose from {sorted(_STYLES)}")
    st = _STYLES[style]
    duration_s = float(duration_s if duration_s is not None else d_duration)
    k_pc, k_mode = _tonic_from(key)
    tonic = d_tonic if k_pc is None else k_pc
    mode = mode or k_mode or d_mode
    if mode not in ("major", "minor"):
        raise ValueError(f"mode must be 'major' or 'minor', not {mode!r}")
    lo_t, hi_t = st["tempo"]
    tempo = float(tempo_bpm if tempo_bpm is not None else round(lo_t + u_tempo * (hi_t - lo_t)))
    beats_per_bar = int(meter if meter is not None else st["meter"])
    if beats_per_bar not in (3, 4):
        raise ValueError(f"meter must be 3 or 4 beats per bar, not {beats_per_bar}")
    progs = {"melody": d_melody, "chords": d_chords, "bass": d_bass}
    progs.update(programs or {})
    vib = bool(d_vibrato if vibrato is None else vibrato)

    beat_s = 60.0 / tempo
    bar_s = beat_s * beats_per_bar
    tail_s = 1.2  # release after the final chord
    n_bars = int(np.floor((duration_s - tail_s) / bar_s))
    if n_bars < 3:
        raise ValueError(f"duration {duration_s} s is too short for 3 bars at {tempo} BPM")
    final_bar = n_bars - 1
    end_s = min(n_bars * bar_s, duration_s - tail_s)  # everything ends by here

    # --- harmony ---
    prog = _PROGRESSIONS[mode][d_prog]
    bars_per_chord = 2 if (d_two_bar and tempo >= 120) else 1
    chords: list[Chord] = []
    chord_of_bar: list[tuple[int, str]] = []
    for bar in range(n_bars):
        if bar == final_bar:
            root, q = 0, ("maj" if mode == "major" else "min")
        else:
            root, q = prog[(bar // bars_per_chord) % len(prog)]
        chord_of_bar.append(((tonic + root) % 12, q))
    for bar, (rpc, q) in enumerate(chord_of_bar):
        start = bar * bar_s
        stop = min((bar + 1) * bar_s, end_s)
        if chords and chords[-1].root_pc == rpc and chords[-1].quality == q:
            chords[-1] = Chord(chords[-1].start_s, stop, rpc, q)
        else:
            chords.append(Chord(start, stop, rpc, q))

    def chord_pcs(bar: int) -> list[int]:
        rpc, q = chord_of_bar[bar]
        return [(rpc + i) % 12 for i in _QUALITIES[q]]

    # --- melody ---
    mel = _Builder()
    lo, hi = _MELODY_PROGRAMS.get(progs["melody"], (62, 84))
    center = (lo + hi) // 2
    cur = int(_pitches_in([tonic], center - 6, center + 6)[0])
    phrase_rhythms: dict[int, tuple] = {}
    for bar in range(n_bars):
        pcs_chord = chord_pcs(bar)
        rpc, q = chord_of_bar[bar]
        leading = mode == "minor" and (rpc - tonic) % 12 == 7 and q in ("maj", "7")
        scale_p = _pitches_in(_scale(tonic, mode, leading), lo, hi)
        chord_p = _pitches_in(pcs_chord, lo, hi)
        if bar == final_bar:
            cells = (min(beats_per_bar, max(1.0, (end_s - bar * bar_s) / beat_s)),)
        elif bar % 4 == 3:
            cells = _CADENCE_RHYTHMS[beats_per_bar][int(rng.integers(len(_CADENCE_RHYTHMS[beats_per_bar])))]
        else:
            slot = bar % 8
            if slot >= 4 and (slot - 4) in phrase_rhythms and rng.random() < 0.6:
                cells = phrase_rhythms[slot - 4]  # answer phrase repeats the rhythm
            else:
                cells = _RHYTHMS[beats_per_bar][int(rng.integers(len(_RHYTHMS[beats_per_bar])))]
            phrase_rhythms[slot] = cells
        pos = 0.0
        for c in cells:
            dur = abs(float(c))
            if c < 0:
                pos += dur
                continue
            strong = pos == 0.0 or (beats_per_bar == 4 and pos == 2.0)
            if bar == final_bar:
                target = _pitches_in([tonic], lo, hi)
                pitch = int(target[np.argmin(np.abs(target - cur))])
            elif strong or dur >= 2 or bar % 4 == 3 and pos == 0:
                step = int(rng.integers(-4, 5))
                pitch = int(chord_p[np.argmin(np.abs(chord_p - (cur + step)))])
            else:
                r = rng.random()
                i = int(np.argmin(np.abs(scale_p - cur)))
                move = 0 if r < 0.1 else (1 if r < 0.75 else 2)
                direction = 1 if rng.random() < 0.5 else -1
                if cur > center + 5:
                    direction = -1 if rng.random() < 0.75 else 1
                elif cur < center - 5:
                    direction = 1 if rng.random() < 0.75 else -1
                i = int(np.clip(i + direction * move, 0, len(scale_p) - 1))
                pitch = int(scale_p[i])
            on = bar * bar_s + pos * beat_s
            legato = 0.92 if dur >= 1 else 0.85
            off = min(on + dur * beat_s * legato, end_s)
            if off - on > 0.05:
                accent = 12 if pos == 0 else (6 if float(pos).is_integer() else 0)
                mel.add(on, off, pitch, int(rng.integers(84, 96)) + accent)
                cur = pitch
            pos += dur

    # vibrato on sustained notes (bend events every 10 ms, reset to 0 at the note's end)
    vib_rate = float(rng.uniform(5.0, 6.5))
    vib_depth_cents = float(rng.uniform(25.0, 45.0))
    if vib:
        for on, off in zip(list(mel.on), list(mel.off)):
            if off - on < 0.45:
                continue
            start = on + 0.15
            ts = np.arange(start, off - 0.005, 0.01)
            ramp = np.clip((ts - start) / 0.2, 0.0, 1.0)
            cents = vib_depth_cents * ramp * np.sin(2 * np.pi * vib_rate * (ts - start))
            vals = np.clip(np.rint(cents / (BEND_RANGE_SEMITONES * 100.0) * 8192.0), -8192, 8191)
            mel.bend_t.extend(float(t) for t in ts)
            mel.bend_v.extend(int(v) for v in vals)
            mel.bend_t.append(float(off))
            mel.bend_v.append(0)

    # --- chords ---
    comp = _Builder()
    cprog = progs["chords"]
    comp_names = st["comp"]
    if cprog in _SUSTAINED_PROGRAMS:
        comp_names = tuple(c for c in comp_names if c in ("block", "half", "waltz")) or ("block",)
    comp_pat = comp_names[int(d_comp * len(comp_names))]
    prev = None
    for bar in range(n_bars):
        v = _voicing(chord_pcs(bar), prev)
        prev = v
        t0 = bar * bar_s
        if bar == final_bar:
            hits = [(0.0, None, list(v))]
        elif comp_pat == "block":
            hits = [(0.0, beats_per_bar * 0.97, list(v))]
        elif comp_pat == "half":
            hits = [(0.0, 1.9, list(v)), (2.0, 1.9, list(v))] if beats_per_bar == 4 else [(0.0, 2.9, list(v))]
        elif comp_pat == "quarters":
            hits = [(float(b), 0.8, list(v)) for b in range(beats_per_bar)]
        elif comp_pat == "offbeat":
            hits = [(b + 0.5, 0.4, list(v)) for b in range(beats_per_bar)]
        elif comp_pat == "charleston":
            hits = [(0.0, 1.2, list(v)), (1.5, 0.9, list(v))]
        elif comp_pat == "bossa":
            hits = [(0.0, 1.3, list(v)), (1.5, 0.9, list(v)), (3.0, 0.4, list(v))]
        elif comp_pat == "waltz":
            hits = [(float(b), 0.8, list(v)) for b in range(1, beats_per_bar)]
        elif comp_pat == "arp8":
            seq = list(v) + [int(v[0]) + 12]
            order = seq + seq[-2:0:-1]
            hits = [(i * 0.5, 0.5, [order[i % len(order)]]) for i in range(beats_per_bar * 2)]
        else:  # pragma: no cover - every style names known patterns
            raise ValueError(comp_pat)
        for b, d, ps in hits:
            on = t0 + b * beat_s
            off = end_s if d is None else min(on + d * beat_s, end_s)
            if off - on <= 0.05:
                continue
            vel = int(rng.integers(58, 70)) + (6 if b == 0 else 0)
            for p in ps:
                comp.add(on, off, p, vel)

    # --- bass ---
    bass = _Builder()
    bass_names = st["bass"]
    bass_pat = bass_names[int(d_bassp * len(bass_names))]
    for bar in range(n_bars):
        rpc, q = chord_of_bar[bar]
        root = 33 + (rpc - 33) % 12  # A1..G#2
        fifth = root + 7
        third = root + _QUALITIES[q][1]
        t0 = bar * bar_s
        if bar == final_bar:
            notes = [(0.0, None, root)]
        elif bass_pat == "roots":
            notes = [(0.0, beats_per_bar * 0.95, root)]
        elif bass_pat == "root_fifth":
            notes = ([(0.0, 1.9, root), (2.0, 1.9, fifth)] if beats_per_bar == 4
                     else [(0.0, 0.95, root), (1.0, 0.9, fifth), (2.0, 0.9, fifth)])
        elif bass_pat == "eighths":
            notes = [(i * 0.5, 0.45, root) for i in range(beats_per_bar * 2)]
        elif bass_pat == "bossa":
            notes = [(0.0, 1.4, root), (1.5, 0.45, fifth), (2.0, 1.4, fifth), (3.5, 0.45, root)]
        elif bass_pat == "walking":
            nrpc, _ = chord_of_bar[min(bar + 1, final_bar)]
            nroot = 33 + (nrpc - 33) % 12
            approach = nroot - 1 if rng.random() < 0.5 else nroot + 1
            walk = [root, third, fifth, approach][:beats_per_bar]
            notes = [(float(i), 0.9, p) for i, p in enumerate(walk)]
        else:  # pragma: no cover
            raise ValueError(bass_pat)
        for b, d, p in notes:
            on = t0 + b * beat_s
            off = end_s if d is None else min(on + d * beat_s, end_s)
            if off - on > 0.05:
                bass.add(on, off, p, int(rng.integers(82, 96)) + (8 if b == 0 else 0))

    # --- drums (GM channel 10) ---
    drums = _Builder()
    pattern = st["drums"]
    hit = 0.1
    for bar in range(n_bars):
        t0 = bar * bar_s
        hits: list[tuple[float, int, int]] = []
        if bar == 0 or bar == final_bar:
            hits.append((0.0, _CRASH, 90))
        if bar == final_bar:
            hits.append((0.0, _KICK, 100))
        elif pattern == "rock":
            hits += [(0.0, _KICK, 100), (2.0, _KICK, 92), (1.0, _SNARE, 96), (3.0, _SNARE, 96)]
            if rng.random() < 0.4:
                hits.append((2.5, _KICK, 80))
            hits += [(i * 0.5, _HAT, 70 if i % 2 else 80) for i in range(8)]
        elif pattern == "ballad":
            hits += [(0.0, _KICK, 85), (2.0, _KICK, 70), (1.0, _RIM, 70), (3.0, _RIM, 70)]
            hits += [(float(i), _HAT, 55) for i in range(4)]
        elif pattern == "swing":
            hits += [(0.0, _RIDE, 75), (1.0, _RIDE, 80), (1.0 + 2 / 3, _RIDE, 60), (2.0, _RIDE, 75),
                     (3.0, _RIDE, 80), (3.0 + 2 / 3, _RIDE, 60), (1.0, _PEDAL_HAT, 60),
                     (3.0, _PEDAL_HAT, 60), (0.0, _KICK, 55)]
        elif pattern == "bossa":
            hits += [(0.0, _KICK, 80), (1.5, _KICK, 70), (2.0, _KICK, 80), (3.5, _KICK, 70),
                     (0.0, _RIM, 70), (0.75, _RIM, 65), (1.5, _RIM, 65), (2.5, _RIM, 70), (3.25, _RIM, 65)]
            hits += [(i * 0.5, _HAT, 55) for i in range(8)]
        elif pattern == "waltz":
            hits += [(0.0, _KICK, 92), (1.0, _HAT, 65), (2.0, _HAT, 65)]
            if beats_per_bar == 3:
                hits += [(1.0, _SNARE, 55), (2.0, _SNARE, 50)]
        hits = [h for h in hits if h[0] < beats_per_bar]
        for b, p, vel in hits:
            on = t0 + b * beat_s
            if on + hit <= end_s + 0.5 * tail_s:
                drums.add(on, on + hit, p, vel)

    parts = (
        mel.part(pretty_midi.program_to_instrument_name(progs["melody"]), "melody", progs["melody"], False),
        comp.part(pretty_midi.program_to_instrument_name(cprog), "chords", cprog, False),
        bass.part(pretty_midi.program_to_instrument_name(progs["bass"]), "bass", progs["bass"], False),
        drums.part("Drums", "drums", 0, True),
    )

    n_beats = int(np.sum(np.arange(n_bars * beats_per_bar) * beat_s < duration_s))
    idx = np.arange(n_beats)
    beat_times = idx * beat_s
    positions = (idx % beats_per_bar + 1).astype(np.int64)
    measures = (idx // beats_per_bar + 1).astype(np.int64)
    if title is None:
        title = f"{_STYLE_TITLES[style]} in {_tonic_display(tonic, mode)} {mode}"
    piece = Piece(seed=int(seed), title=title, style=style, genre=st["genre"], tonic_pc=tonic, mode=mode,
                  tempo_bpm=tempo, beats_per_bar=beats_per_bar, duration_s=duration_s, parts=parts,
                  melody_index=0, chords=tuple(chords), beat_times_s=beat_times, beat_positions=positions,
                  beat_measures=measures, midi=pretty_midi.PrettyMIDI())
    object.__setattr__(piece, "midi", to_pretty_midi(piece))
    return piece


_STYLE_TITLES = {"pop": "Pop Song", "rock": "Rock Tune", "ballad": "Ballad", "swing": "Swing",
                 "bossa": "Bossa Nova", "waltz": "Waltz"}


def _tonic_display(pc: int, mode: str) -> str:
    name = pitch_class_name(pc)
    if mode == "minor" and pc in (1, 8):
        name = {1: "C#", 8: "G#"}[pc]
    return name.replace("b", "-flat").replace("#", "-sharp")


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


# ---------------------------------------------------------------------------------------------
# Rendering


def default_soundfont() -> Path:
    """Debian's FluidR3_GM where installed, else pretty_midi's bundled TimGM6mb."""
    return SYSTEM_SF2 if SYSTEM_SF2.is_file() else BUNDLED_SF2


_ROLE_GAIN = {"melody": 1.0, "chords": 0.45, "bass": 0.6, "drums": 0.5}
_ROLE_PAN = {"melody": 0.05, "chords": -0.35, "bass": 0.0, "drums": 0.25}


def render_parts(piece: Piece, *, sr: int = SAMPLE_RATE,
                 sf2_path: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """Each part synthesised alone, mono, raw FluidSynth level [role -> shape=(n_samples,)].

    n_samples = round(duration_s * sr). One fresh synthesiser per part (no state shared).
    """
    try:
        import fluidsynth  # noqa: F401  (pyfluidsynth; needs libfluidsynth)
    except (ImportError, OSError) as exc:
        raise RenderError(f"FluidSynth is not available: {exc}") from exc
    sf2 = Path(sf2_path) if sf2_path is not None else default_soundfont()
    if not sf2.is_file():
        log.warning("soundfont %s not found; falling back to %s", sf2, BUNDLED_SF2)
        sf2 = BUNDLED_SF2
    n = int(round(piece.duration_s * sr))
    midi = to_pretty_midi(piece)  # a fresh copy: rendering never touches piece.midi
    out: dict[str, np.ndarray] = {}
    for part, inst in zip(piece.parts, midi.instruments):
        y = np.zeros(n, dtype=np.float64)
        if len(inst.notes):
            synth = fluidsynth.Synth(samplerate=float(sr))
            try:
                sfid = synth.sfload(str(sf2))
                if sfid < 0:
                    raise RenderError(f"{sf2}: FluidSynth cannot load this soundfont")
                w = inst.fluidsynth(fs=sr, synthesizer=synth, sfid=sfid)
            finally:
                synth.delete()
            m = min(n, len(w))
            y[:m] = w[:m]
        out[part.role] = y
    return out


def render(piece: Piece, *, sr: int = SAMPLE_RATE, sf2_path: str | os.PathLike | None = None,
           stereo: bool = False, target_rms_db: float = -20.0, peak_db: float = -1.0) -> np.ndarray:
    """Synthesise ``piece`` with FluidSynth; float32 in [-1, 1].

    Parts are balanced (each to a common RMS, then role gains: melody in front), panned
    when ``stereo``, and the mix is scaled to ``target_rms_db`` dBFS RMS without its peak
    exceeding ``peak_db`` dBFS. The last 50 ms fade out.
    Returns [shape=(n_samples,)] mono or [shape=(2, n_samples)] stereo, n_samples = round(duration_s * sr).
    """
    stems = render_parts(piece, sr=sr, sf2_path=sf2_path)
    n = int(round(piece.duration_s * sr))
    mix = np.zeros((2 if stereo else 1, n), dtype=np.float64)
    for role, y in stems.items():
        active = np.abs(y) > 1e-4 * (np.abs(y).max() + 1e-12)
        if not active.any():
            continue
        rms = float(np.sqrt(np.mean(y[active] ** 2)))
        g = _ROLE_GAIN.get(role, 0.5) / max(rms, 1e-9)
        if stereo:
            theta = (_ROLE_PAN.get(role, 0.0) + 1.0) * np.pi / 4
            mix[0] += g * np.cos(theta) * np.sqrt(2) * y
            mix[1] += g * np.sin(theta) * np.sqrt(2) * y
        else:
            mix[0] += g * y
    rms = float(np.sqrt(np.mean(mix ** 2)))
    peak = float(np.abs(mix).max())
    if peak <= 0:
        raise RenderError(f"rendering '{piece.title}' gave silence")
    scale = min(10 ** (target_rms_db / 20) / rms, 10 ** (peak_db / 20) / peak)
    mix *= scale
    fade = min(n, int(0.05 * sr))
    mix[:, n - fade:] *= np.linspace(1.0, 0.0, fade)
    out = mix.astype(np.float32)
    return out if stereo else out[0]


# ---------------------------------------------------------------------------------------------
# Ground truth as JAMS


def _r(t) -> float:
    """Times in the JAMS files are rounded to the microsecond (keeps the files small)."""
    return round(float(t), 6)


def save_jams(jam, path: str | os.PathLike) -> None:
    """Validate ``jam`` and write it as compact JSON (``jams.save`` indents, which triples the size)."""
    import json

    jam.validate(strict=True)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(jam.__json__, fh, separators=(",", ":"))


def to_jams(piece: Piece, *, hop_s: float = HOP_LENGTH / SAMPLE_RATE, artist: str = "Workstation Demo",
            release: str = "Demo Collection"):
    """The piece's labels as a ``jams.JAMS`` (note_midi per instrument and for the melody,
    pitch_contour, key_mode, chord, beat, beat_position, tempo, tag_open)."""
    import jams

    d = float(piece.duration_s)
    jam = jams.JAMS()
    jam.file_metadata = jams.FileMetadata(title=piece.title, artist=artist, release=release, duration=d)
    src = f"workstation.training.demo.compose(seed={piece.seed})"

    def meta(annotator: dict):
        return jams.AnnotationMetadata(annotator=jams.Sandbox(**annotator), data_source=src,
                                       annotation_tools="workstation.training.demo",
                                       annotation_rules="exact: generated from the score")

    for part in piece.pitched_parts:
        who = {"name": part.name, "instrument": part.name, "program": part.program, "role": part.role}
        ann = jams.Annotation("note_midi", duration=d, annotation_metadata=meta(who),
                              sandbox=jams.Sandbox(**who, melody=False))
        for on, off, p, v in zip(part.onsets_s, part.offsets_s, part.pitch_midi, part.velocity):
            ann.append(time=_r(on), duration=_r(off - on), value=float(p), confidence=1.0)
        jam.annotations.append(ann)
    m = piece.melody
    who = {"name": "melody", "instrument": m.name, "program": m.program, "role": "melody"}
    ann = jams.Annotation("note_midi", duration=d, annotation_metadata=meta(who),
                          sandbox=jams.Sandbox(**who, melody=True))
    for on, off, p in zip(m.onsets_s, m.offsets_s, m.pitch_midi):
        ann.append(time=_r(on), duration=_r(off - on), value=float(p), confidence=1.0)
    jam.annotations.append(ann)

    times = np.arange(int(np.floor(d / hop_s)) + 1) * hop_s
    times = times[times < d]
    freqs, voiced = piece.f0_at(times)
    who = {"name": "melody", "instrument": m.name, "hop_s": hop_s}
    ann = jams.Annotation("pitch_contour", duration=d, annotation_metadata=meta(who),
                          sandbox=jams.Sandbox(**who))
    for t, f, v in zip(times, freqs, voiced):
        ann.append(time=_r(t), duration=0.0,
                   value={"index": 0, "frequency": round(float(f), 2), "voiced": bool(v)}, confidence=1.0)
    jam.annotations.append(ann)

    ann = jams.Annotation("key_mode", duration=d, annotation_metadata=meta({"name": "score"}))
    ann.append(time=0.0, duration=d, value=piece.key_label, confidence=1.0)
    jam.annotations.append(ann)

    ann = jams.Annotation("chord", duration=d, annotation_metadata=meta({"name": "score"}))
    for c in piece.chords:
        ann.append(time=_r(c.start_s), duration=_r(c.end_s - c.start_s), value=c.label, confidence=1.0)
    jam.annotations.append(ann)

    ann_b = jams.Annotation("beat", duration=d, annotation_metadata=meta({"name": "score"}))
    ann_p = jams.Annotation("beat_position", duration=d, annotation_metadata=meta({"name": "score"}))
    for t, pos, bar in zip(piece.beat_times_s, piece.beat_positions, piece.beat_measures):
        ann_b.append(time=_r(t), duration=0.0, value=int(pos), confidence=1.0)
        ann_p.append(time=_r(t), duration=0.0, confidence=1.0,
                     value={"position": int(pos), "measure": int(bar),
                            "num_beats": int(piece.beats_per_bar), "beat_units": 4})
    jam.annotations.extend([ann_b, ann_p])

    ann = jams.Annotation("tempo", duration=d, annotation_metadata=meta({"name": "score"}))
    ann.append(time=0.0, duration=d, value=float(piece.tempo_bpm), confidence=1.0)
    jam.annotations.append(ann)

    ann = jams.Annotation("tag_open", duration=d, annotation_metadata=meta({"name": "instruments"}))
    for name in piece.instrument_names:
        ann.append(time=0.0, duration=d, value=name, confidence=1.0)
    jam.annotations.append(ann)
    jam.sandbox.update(seed=piece.seed, style=piece.style, genre=piece.genre,
                       meter=f"{piece.beats_per_bar}/4", melody_instrument=m.name)
    return jam


# ---------------------------------------------------------------------------------------------
# The bundled collection


@dataclass(frozen=True)
class DemoSpec:
    """One piece of the bundled collection and how it is stored."""

    number: int
    seed: int
    style: str
    key: str
    tempo_bpm: float
    duration_s: float
    programs: tuple[tuple[str, int], ...]
    vibrato: bool
    fmt: str  # 'flac' or 'ogg'
    sr: int
    channels: int
    soundfont: str  # 'system' (FluidR3_GM) or 'bundled' (TimGM6mb)

    def compose(self) -> Piece:
        return compose(self.seed, duration_s=self.duration_s, key=self.key, tempo_bpm=self.tempo_bpm,
                       style=self.style, programs=dict(self.programs), vibrato=self.vibrato)

    def sf2(self) -> Path:
        return SYSTEM_SF2 if self.soundfont == "system" and SYSTEM_SF2.is_file() else BUNDLED_SF2


def _P(**kw) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(kw.items()))


DEMO_SPECS: tuple[DemoSpec, ...] = (
    DemoSpec(1, 101, "waltz", "A:minor", 138, 32.0, _P(melody=40, chords=0, bass=32), True, "ogg", 44100, 2, "system"),
    DemoSpec(2, 202, "pop", "C:major", 112, 24.0, _P(melody=73, chords=25, bass=33), False, "flac", 22050, 1, "bundled"),
    DemoSpec(3, 303, "ballad", "Eb:major", 76, 36.0, _P(melody=65, chords=4, bass=32), True, "ogg", 44100, 2, "system"),
    DemoSpec(4, 404, "swing", "F:major", 150, 24.0, _P(melody=11, chords=26, bass=32), False, "flac", 44100, 1, "bundled"),
    DemoSpec(5, 505, "bossa", "D:minor", 128, 30.0, _P(melody=71, chords=24, bass=32), False, "ogg", 44100, 2, "system"),
    DemoSpec(6, 606, "rock", "E:minor", 124, 22.0, _P(melody=80, chords=16, bass=34), False, "flac", 22050, 2, "bundled"),
    DemoSpec(7, 707, "waltz", "G:major", 96, 22.0, _P(melody=68, chords=46, bass=32), False, "ogg", 44100, 2, "system"),
    DemoSpec(8, 808, "ballad", "B:minor", 72, 34.0, _P(melody=0, chords=48, bass=32), False, "flac", 22050, 1, "bundled"),
    DemoSpec(9, 909, "pop", "Bb:major", 100, 30.0, _P(melody=56, chords=48, bass=33), True, "ogg", 44100, 2, "system"),
    DemoSpec(10, 1010, "swing", "F#:minor", 160, 38.0, _P(melody=66, chords=16, bass=32), True, "ogg", 44100, 2, "bundled"),
)

DEMO_YEAR = "2025"


def demo_name(spec: DemoSpec, piece: Piece) -> str:
    """File stem, e.g. '01_waltz_in_a_minor'."""
    slug = piece.title.lower().replace("-", "_").replace(" ", "_")
    return f"{spec.number:02d}_{slug}"


def _write_audio(path: Path, y: np.ndarray, spec: DemoSpec, piece: Piece) -> None:
    import soundfile as sf

    data = y.T if y.ndim == 2 else y
    if spec.fmt == "flac":
        sf.write(str(path), data, spec.sr, format="FLAC", subtype="PCM_16")
        from mutagen.flac import FLAC as Tagged
    else:
        sf.write(str(path), data, spec.sr, format="OGG", subtype="VORBIS", compression_level=0.6)
        from mutagen.oggvorbis import OggVorbis as Tagged
    f = Tagged(str(path))
    f["title"] = piece.title
    f["artist"] = "Workstation Demo"
    f["album"] = "Demo Collection"
    f["date"] = DEMO_YEAR
    f["genre"] = piece.genre
    f["tracknumber"] = str(spec.number)
    f["comment"] = f"Synthesised by workstation.training.demo (seed {piece.seed}); ground truth in the .jams"
    f.save()


def build_collection(out_dir: str | os.PathLike, *, specs: Sequence[DemoSpec] = DEMO_SPECS) -> list[dict]:
    """Compose, render and write every piece (audio + .jams + .mid) and the README table.

    Returns one row per piece (name, key, tempo, meter, instruments, duration, format, file).
    """
    import jams  # noqa: F401

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for spec in specs:
        piece = spec.compose()
        name = demo_name(spec, piece)
        y = render(piece, sr=spec.sr, sf2_path=spec.sf2(), stereo=spec.channels == 2)
        audio = out / f"{name}.{spec.fmt}"
        _write_audio(audio, y, spec, piece)
        jam = to_jams(piece)
        jam.file_metadata.identifiers = {"file": audio.name}
        jam.sandbox.update(soundfont=spec.sf2().name, sample_rate=spec.sr, channels=spec.channels)
        save_jams(jam, out / f"{name}.jams")
        piece.midi.write(str(out / f"{name}.mid"))
        fmt = (f"FLAC {spec.sr / 1000:g} kHz" if spec.fmt == "flac" else f"OGG Vorbis {spec.sr / 1000:g} kHz")
        fmt += " stereo" if spec.channels == 2 else " mono"
        rows.append(dict(name=name, file=audio.name, title=piece.title, key=piece.key_label,
                         tempo=piece.tempo_bpm, meter=f"{piece.beats_per_bar}/4",
                         instruments=", ".join(piece.instrument_names), duration=piece.duration_s,
                         format=fmt, soundfont=spec.sf2().name, vibrato=spec.vibrato))
        log.info("wrote %s (%s)", audio, fmt)
    _write_readme(out, rows)
    return rows


def _write_readme(out: Path, rows: list[dict]) -> None:
    lines = [
        "# Demo collection",
        "",
        "Ten short pieces composed and rendered by `workstation.training.demo` (rebuild with",
        "`python -m workstation.training.demo --out resources/demo`). Each audio file has its exact",
        "ground truth beside it: `<name>.jams` (note_midi per instrument and for the melody, melody",
        "pitch_contour with vibrato bends, key_mode, chord, beat, beat_position, tempo, tag_open) and",
        "the `<name>.mid` it was rendered from. Tags: artist \"Workstation Demo\", album \"Demo",
        "Collection\". Rendered with FluidSynth and the soundfont named in the table (FluidR3_GM from",
        "Debian's fluid-soundfont-gm, MIT licence; TimGM6mb from pretty_midi, GPL-2).",
        "",
        "| file | key | tempo (BPM) | meter | instruments | duration (s) | format | soundfont |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        inst = r["instruments"] + (" (melody with vibrato)" if r["vibrato"] else "")
        lines.append(f"| {r['file']} | {r['key']} | {r['tempo']:g} | {r['meter']} | {inst} | "
                     f"{r['duration']:g} | {r['format']} | {r['soundfont']} |")
    (out / "README.md").write_text("\n".join(lines) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m workstation.training.demo",
                                 description="Build the bundled demo collection (audio, .jams, .mid, README).")
    ap.add_argument("--out", default="resources/demo", help="output folder (default resources/demo)")
    ap.add_argument("--only", type=int, nargs="*", help="piece numbers to build (default all)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    specs = [s for s in DEMO_SPECS if not args.only or s.number in args.only]
    rows = build_collection(args.out, specs=specs)
    total = sum(f.stat().st_size for f in Path(args.out).iterdir() if f.is_file())
    print(f"{len(rows)} pieces written to {args.out}; folder size {total / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
