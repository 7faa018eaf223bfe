"""Training corpus: rendered audio with exact labels, deterministic from a seed, cached on disk.

Four kinds of item (weights in :class:`CorpusSpec`):

- ``mono``: one melodic instrument alone (any of ~60 GM programs, its full range), random
  tempo, key, meter and dynamics, with vibrato, glissandi (pitch-bend ramps into the next
  note, bend range 12 semitones), scoops, bend-ups and falls; sometimes with a drum kit;
- ``poly``: melody + chord comping + bass from :func:`workstation.training.demo.compose`
  (random style, tempo, programs, dynamics; the melody gets the same expression);
- ``full``: ``poly`` with drums (GM channel 10);
- ``score``: an excerpt of a real composition from music21's corpus (Bach chorales and other
  Bach works), transposed, at a random tempo, on a random ensemble (optional: skipped with a
  log line where music21 is not installed).

Every item is rendered through FluidSynth with one of several soundfonts (pretty_midi's
TimGM6mb, Debian's FluidR3_GM, MuseScore General), stems mixed at random balances, then an
augmentation chain (EQ, reverb, noise, level: :mod:`workstation.training.augment`).

Labels (all exact, from the score that was rendered; bends included):
melody f0 and voicing on the analysis frame grid (frame ``i`` centred at ``i * hop / sr``,
``n_frames = 1 + n_samples // hop``), every note (onset, offset, pitch, velocity, track:
program, GM family, drum or not), pitch bends per track in semitones, key (tonic, mode),
beats with their bar positions and bar numbers, downbeats, tempo, meter, chords (procedural
items), style and genre. :func:`pitch_roll` builds the multi-hot salience target on the HCQT
grid (20-cent bins from C1) with the bends.

``make_item(seed, spec)`` is a pure function of its arguments (FluidSynth output may differ
in tiny ways; the labels are exact). ``build_corpus(out, spec, workers=N)`` renders items in
parallel into ``<out>/<index:06d>.npz`` (atomic writes, no pickles) with a ``manifest.json``;
re-running resumes. :class:`Corpus` reads a built corpus and yields aligned training crops.

CLI: ``python -m workstation.training.corpus --out DIR --n 200 --seed 0 --workers 2``.
Never train on ``../shared/evaldata``: nothing here reads it.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import math
import os
import platform
import sys
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import numpy as np
import pretty_midi

from workstation.core import constants as C
from workstation.core.errors import WorkstationError
from workstation.core.types import Beats, Key, Notes
from workstation.core.units import midi_to_hz, pitch_class_name
from workstation.training import demo
from workstation.training.augment import AugmentProbs, Augmentation, apply_augmentation, draw_augmentation

log = logging.getLogger(__name__)

#: Bump when a change alters what a given spec renders (it is part of the spec hash).
CORPUS_VERSION: int = 1

KINDS: tuple[str, ...] = ("mono", "poly", "full", "score")

#: Soundfonts by short name: candidate paths, first existing wins.
SOUNDFONTS: dict[str, tuple[Path, ...]] = {
    "timgm6mb": (demo.BUNDLED_SF2,),
    "fluidr3": (demo.SYSTEM_SF2,),
    "musescore": (Path("/usr/share/sounds/sf3/MuseScore_General.sf3"),
                  Path("/usr/share/sounds/sf3/MuseScore_General_Lite.sf3"),
                  Path("/usr/share/sounds/sf2/MuseScore_General.sf2")),
}


class CorpusError(WorkstationError):
    """A corpus folder cannot be built or read (another spec, corrupt item, ...)."""


# ---------------------------------------------------------------------------------------------
# Spec


@dataclass(frozen=True)
class CorpusSpec:
    """What a corpus holds. Equal specs render equal corpora; ``spec_hash`` names the cache folder.

    kinds: (kind, weight) pairs over KINDS; soundfonts: short names of SOUNDFONTS or paths;
    duration_s: item length range in seconds; p_vibrato / p_glissando / p_bends: per-item
    probabilities of each melodic expression; p_mono_drums: share of mono items with drums;
    melody_programs: GM programs the mono line / band melody is drawn from (empty: all of
    _LINE_PROGRAMS; unknown programs get the range 48-84).
    """

    n_items: int = 200
    seed: int = 0
    duration_s: tuple[float, float] = (10.0, 20.0)
    kinds: tuple[tuple[str, float], ...] = (("mono", 0.3), ("poly", 0.25), ("full", 0.3), ("score", 0.15))
    soundfonts: tuple[str, ...] = ("timgm6mb", "fluidr3", "musescore")
    p_vibrato: float = 0.5
    p_glissando: float = 0.35
    p_bends: float = 0.4
    p_mono_drums: float = 0.2
    melody_programs: tuple[int, ...] = ()
    augment: AugmentProbs = AugmentProbs()
    sr: int = C.SAMPLE_RATE
    hop_length: int = C.HOP_LENGTH

    def __post_init__(self):
        for k, w in self.kinds:
            if k not in KINDS:
                raise ValueError(f"unknown corpus kind {k!r}; choose from {KINDS}")
            if w < 0:
                raise ValueError(f"kind weight must be >= 0, got {k}={w}")
        if not self.kinds or sum(w for _, w in self.kinds) <= 0:
            raise ValueError("at least one kind needs a positive weight")
        if not self.soundfonts:
            raise ValueError("name at least one soundfont")
        lo, hi = self.duration_s
        if not 6.0 <= lo <= hi:
            raise ValueError(f"duration range must satisfy 6 <= min <= max, got {self.duration_s}")

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["version"] = CORPUS_VERSION
        return d

    @classmethod
    def from_dict(cls, d: Mapping) -> "CorpusSpec":
        d = dict(d)
        d.pop("version", None)
        aug = d.pop("augment", {}) or {}
        aug = AugmentProbs(**{k: tuple(v) if isinstance(v, list) else v for k, v in aug.items()})
        d["duration_s"] = tuple(d.get("duration_s", (10.0, 20.0)))
        d["kinds"] = tuple((str(k), float(w)) for k, w in d.get("kinds", ()))
        d["soundfonts"] = tuple(d.get("soundfonts", ()))
        d["melody_programs"] = tuple(int(p) for p in d.get("melody_programs", ()))
        return cls(augment=aug, **d)

    def spec_hash(self) -> str:
        """12 hex digits naming this spec (and CORPUS_VERSION)."""
        blob = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:12]


def item_seed(corpus_seed: int, index: int) -> int:
    """The seed of item ``index`` of a corpus seeded with ``corpus_seed`` (independent streams)."""
    return int(np.random.SeedSequence([int(corpus_seed), int(index)]).generate_state(1)[0])


def default_dir(spec: CorpusSpec) -> Path:
    """``<user cache>/workstation/corpus/<spec-hash>`` (platformdirs)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("workstation")) / "corpus" / spec.spec_hash()


# ---------------------------------------------------------------------------------------------
# Score model (what gets rendered, and the truth)


@dataclass
class Track:
    """One instrument: notes plus pitch-bend events.

    onsets_s, offsets_s [shape=(n,)] seconds (a note sounds on [onset, offset));
    pitch_midi, velocity [shape=(n,), int]; bend_times_s [shape=(m,)] and bend_semitones
    [shape=(m,)]: a bend holds from its time until the next event (quantised to what MIDI
    sends); bend_range_semitones: the channel's pitch-bend sensitivity used to render them.
    """

    name: str
    role: str
    program: int
    is_drum: bool
    onsets_s: np.ndarray
    offsets_s: np.ndarray
    pitch_midi: np.ndarray
    velocity: np.ndarray
    bend_times_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    bend_semitones: np.ndarray = field(default_factory=lambda: np.zeros(0))
    bend_range_semitones: float = demo.BEND_RANGE_SEMITONES

    def bend_at(self, times_s) -> np.ndarray:
        """Bend in semitones in effect at ``times_s`` [shape=(n,)]."""
        return _bend_at(self.bend_times_s, self.bend_semitones, times_s)


def _bend_at(bt: np.ndarray, bs: np.ndarray, times_s) -> np.ndarray:
    t = np.asarray(times_s, dtype=np.float64)
    if len(bt) == 0:
        return np.zeros(t.shape)
    idx = np.searchsorted(bt, t, side="right") - 1
    return np.where(idx >= 0, bs[np.clip(idx, 0, None)], 0.0)


@dataclass
class _Score:
    tracks: list[Track]
    melody_index: int
    duration_s: float
    tonic_pc: int
    mode: str
    tempo_bpm: float
    meter: int
    beat_times_s: np.ndarray
    beat_positions: np.ndarray
    beat_measures: np.ndarray
    style: str
    genre: str
    source: str
    chords: list = field(default_factory=list)  # [(start_s, end_s, root_pc, quality)]


def _track_from_part(part: demo.Part) -> Track:
    return Track(name=part.name, role=part.role, program=part.program, is_drum=part.is_drum,
                 onsets_s=part.onsets_s.copy(), offsets_s=part.offsets_s.copy(),
                 pitch_midi=part.pitch_midi.copy(), velocity=part.velocity.copy(),
                 bend_times_s=part.bend_times_s.astype(np.float64),
                 bend_semitones=part.bend_values.astype(np.float64) * demo.BEND_RANGE_SEMITONES / 8192.0)


def _beat_grid(tempo_bpm: float, meter: int, duration_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    beat_s = 60.0 / tempo_bpm
    n = int(np.floor((duration_s - 1e-9) / beat_s)) + 1
    idx = np.arange(n)
    return idx * beat_s, (idx % meter + 1).astype(np.int64), (idx // meter + 1).astype(np.int64)


# GM programs for solo lines with a playable range (MIDI numbers).
_LINE_PROGRAMS: dict[int, tuple[int, int]] = {
    0: (36, 96), 1: (36, 96), 4: (40, 91), 6: (41, 89), 11: (53, 89), 12: (48, 84), 13: (60, 96),
    16: (36, 91), 19: (36, 91), 21: (53, 89), 22: (60, 84),
    24: (40, 81), 25: (40, 84), 26: (40, 86), 27: (40, 86), 29: (40, 84), 30: (40, 84),
    32: (28, 60), 33: (28, 62), 35: (28, 60), 38: (28, 60),
    40: (55, 96), 41: (48, 86), 42: (36, 76), 43: (28, 60), 44: (48, 84), 45: (48, 84), 46: (36, 91),
    48: (40, 86), 52: (48, 79), 53: (48, 79), 54: (48, 84),
    56: (54, 84), 57: (40, 72), 58: (28, 58), 60: (41, 77), 61: (40, 79), 62: (40, 84),
    64: (56, 87), 65: (49, 81), 66: (44, 76), 67: (36, 69), 68: (58, 91), 69: (52, 81),
    70: (34, 72), 71: (50, 91),
    72: (74, 102), 73: (60, 96), 74: (60, 94), 75: (60, 91), 79: (60, 84),
    80: (36, 96), 81: (36, 96), 82: (48, 91), 84: (40, 88), 85: (48, 84), 87: (28, 72),
    104: (48, 84), 105: (48, 84), 109: (60, 84), 110: (55, 96), 111: (60, 84),
}
#: Programs that sustain (vibrato and glissandi make sense).
_SUSTAINED = {16, 19, 21, 22, 40, 41, 42, 43, 44, 48, 52, 53, 54, 56, 57, 58, 60, 61, 62, 64, 65, 66, 67,
              68, 69, 70, 71, 72, 73, 74, 75, 79, 80, 81, 82, 84, 85, 87, 109, 110, 111}
#: Programs that are bent in practice (guitars, leads, saxes, strings, voices).
_BENDY = {24, 25, 26, 27, 29, 30, 33, 35, 40, 41, 42, 52, 53, 54, 64, 65, 66, 67, 80, 81, 84, 85, 87,
          104, 105, 110}
_CHORD_PROGRAMS = (0, 1, 2, 4, 5, 6, 11, 16, 17, 19, 24, 25, 26, 27, 46, 48, 49, 50, 52, 61, 88, 89, 90, 91, 95)
_BASS_PROGRAMS = (32, 33, 34, 35, 36, 37, 38, 39, 43)

_ENSEMBLES = {  # per voice, soprano first
    "strings": ((40,), (40, 41), (41, 42), (42, 43)),
    "organ": ((19,), (19,), (19,), (19,)),
    "choir": ((52, 53), (52, 53), (52, 53), (52, 53)),
    "brass": ((56,), (56, 60), (57, 60), (57, 58)),
    "winds": ((73, 68), (68, 71), (71, 69), (70,)),
    "piano": ((0,), (0,), (0,), (0,)),
    "mixed": ((40, 68, 71, 73, 56, 52), (41, 71, 69, 60, 52), (42, 70, 57, 61, 52), (42, 43, 70, 58, 32)),
}


def gm_family(program: int, is_drum: bool = False) -> str:
    """GM instrument family ('Piano', 'Guitar', 'Strings', ... or 'Drums')."""
    return "Drums" if is_drum else pretty_midi.program_to_instrument_class(int(program))


# ---------------------------------------------------------------------------------------------
# Expression: vibrato, glissando, scoops, bend-ups, falls


def _express(track: Track, rng: np.random.Generator, *, vibrato: bool, glissando: bool, bends: bool,
             bend_range: float) -> Track:
    """Add bend events to ``track`` (replacing its own) and set its bend range.

    Events every 10 ms inside a note that is bent, a reset to 0 at its offset. Draws are made
    in a fixed order per note whatever is enabled.
    """
    vib_rate = float(rng.uniform(4.5, 7.0))
    vib_depth = float(rng.uniform(0.1, 0.6))  # semitones, peak
    times: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    on, off, p = track.onsets_s, track.offsets_s, track.pitch_midi
    for i in range(len(on)):
        u_scoop, u_up, u_fall, u_gl = rng.random(4)
        scoop_depth = float(rng.uniform(0.3, 1.2))
        scoop_len = float(rng.uniform(0.04, 0.15))
        up_depth = float(rng.choice([1.0, 2.0]))
        up_at = float(rng.uniform(0.2, 0.6))
        fall_depth = float(rng.uniform(0.5, 3.0))
        gl_len = float(rng.uniform(0.06, 0.25))
        vib_phase = float(rng.uniform(0, 2 * np.pi))
        dur = off[i] - on[i]
        t = np.arange(on[i], off[i] - 0.005, 0.01)
        if len(t) < 2:
            continue
        rel = t - on[i]
        curve = np.zeros(len(t))
        used = False
        if vibrato and dur >= 0.3:
            ramp = np.clip((rel - 0.12) / 0.25, 0.0, 1.0)
            curve += vib_depth * ramp * np.sin(2 * np.pi * vib_rate * rel + vib_phase)
            used = True
        if bends and u_scoop < 0.3:
            curve += -scoop_depth * np.clip(1.0 - rel / scoop_len, 0.0, 1.0)
            used = True
        if bends and u_up < 0.15 and dur >= 0.3:
            t_up = up_at * dur
            curve += min(up_depth, bend_range) * np.clip((rel - t_up) / 0.08, 0.0, 1.0)
            used = True
        elif bends and u_fall < 0.12 and dur >= 0.3 and (i + 1 == len(on) or on[i + 1] - off[i] > 0.1):
            curve += -min(fall_depth, bend_range) * np.clip((rel - (dur - 0.2)) / 0.2, 0.0, 1.0) ** 2
            used = True
        if glissando and i + 1 < len(on) and on[i + 1] - off[i] < 0.03 and u_gl < 0.7:
            step = float(p[i + 1] - p[i])
            if 0 < abs(step) <= bend_range and dur > 0.12:
                g = min(gl_len, 0.6 * dur)
                curve += step * np.clip((rel - (dur - g)) / g, 0.0, 1.0)
                used = True
        if not used:
            continue
        q = np.clip(np.rint(curve / bend_range * 8192.0), -8192, 8191)
        times.append(t)
        vals.append(q * bend_range / 8192.0)
        times.append(np.asarray([off[i]]))
        vals.append(np.zeros(1))
    bt = np.concatenate(times) if times else np.zeros(0)
    bs = np.concatenate(vals) if vals else np.zeros(0)
    order = np.argsort(bt, kind="stable")
    return dataclasses.replace(track, bend_times_s=bt[order], bend_semitones=bs[order],
                               bend_range_semitones=float(bend_range))


def _dynamics(track: Track, rng: np.random.Generator, duration_s: float) -> Track:
    """Scale velocities by a random level with a crescendo or diminuendo across the item."""
    level = float(rng.uniform(0.55, 1.2))
    slope = float(rng.uniform(-0.4, 0.4))
    jitter = rng.normal(0.0, 5.0, size=len(track.velocity))
    g = level * (1.0 + slope * (track.onsets_s / max(duration_s, 1e-9) - 0.5))
    v = np.clip(np.rint(track.velocity * g + jitter), 12, 127).astype(np.int64)
    return dataclasses.replace(track, velocity=v)


# ---------------------------------------------------------------------------------------------
# Composers


def _compose_line(rng: np.random.Generator, duration_s: float,
                  programs: Sequence[int] = ()) -> tuple[Track, dict]:
    """A monophonic line: random program (full range), tempo, meter, key, rhythm and contour."""
    programs = sorted(programs or _LINE_PROGRAMS)
    program = int(programs[int(rng.integers(len(programs)))])
    lo, hi = _LINE_PROGRAMS.get(program, (48, 84))
    tempo = float(np.round(rng.uniform(50.0, 190.0)))
    meter = int(rng.choice([2, 3, 4, 4]))
    tonic = int(rng.integers(12))
    mode = "minor" if rng.random() < 0.45 else "major"
    chromatic = float(rng.uniform(0.0, 0.15))
    legato = float(rng.uniform(0.6, 1.0))
    leapiness = float(rng.uniform(0.05, 0.35))
    steps = demo._MAJOR_SCALE if mode == "major" else demo._MINOR_SCALE
    scale = np.asarray([q for q in range(lo, hi + 1) if (q - tonic) % 12 in steps])
    beat_s = 60.0 / tempo
    # note values in beats, weighted towards the beat at slow tempi and longer notes at fast
    values = np.asarray([0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0])
    w = np.asarray([0.5, 2.0, 0.5, 3.0, 1.0, 1.5, 0.5, 0.4])
    w = w * np.exp(-np.abs(np.log2(values * beat_s / 0.45)) * 0.8)
    w = w / w.sum()
    cur = float(rng.uniform(lo + 0.3 * (hi - lo), hi - 0.3 * (hi - lo)))
    idx = int(np.argmin(np.abs(scale - cur)))
    t = float(rng.choice([0.0, 0.0, 0.5, 1.0])) * beat_s
    end = duration_s - 0.4
    on, off, pitch, vel = [], [], [], []
    direction = 1 if rng.random() < 0.5 else -1
    while True:
        val = float(values[int(rng.choice(len(values), p=w))])
        u_rest, u_leap, u_dir, u_chrom, u_art = rng.random(5)
        leap = int(rng.integers(3, 9))
        accent = int(rng.integers(-8, 9))
        d = val * beat_s
        if t + min(d, 0.15) >= end:
            break
        if u_rest < 0.08 and on:
            t += d
            continue
        if u_dir < 0.25:
            direction = -direction
        move = leap if u_leap < leapiness else (1 if u_leap < 0.8 else 2)
        idx += direction * move
        if idx < 0 or idx >= len(scale):
            direction = -direction
            idx = int(np.clip(idx + 2 * direction * move, 0, len(scale) - 1))
        q = int(scale[idx])
        if u_chrom < chromatic:
            q = int(np.clip(q + (1 if direction > 0 else -1), lo, hi))
        art = legato if u_art < 0.8 else float(np.clip(legato - 0.4, 0.3, 1.0))
        stop = min(t + d * art, end)
        if stop - t > 0.06:
            on.append(t)
            off.append(stop)
            pitch.append(q)
            beat_pos = t / beat_s
            strong = abs(beat_pos - round(beat_pos)) < 1e-6 and int(round(beat_pos)) % meter == 0
            vel.append(int(np.clip(88 + accent + (10 if strong else 0), 1, 127)))
        t += d
    if not on:  # pathological draws: one long note
        on, off, pitch, vel = [0.0], [end], [int(scale[len(scale) // 2])], [90]
    track = Track(name=pretty_midi.program_to_instrument_name(program), role="melody", program=program,
                  is_drum=False, onsets_s=np.asarray(on), offsets_s=np.asarray(off),
                  pitch_midi=np.asarray(pitch, dtype=np.int64), velocity=np.asarray(vel, dtype=np.int64))
    return track, dict(tempo_bpm=tempo, meter=meter, tonic_pc=tonic, mode=mode)


def _min_tempo(meter: int, duration_s: float) -> float:
    """Lowest tempo at which demo.compose fits its 3 bars (and the release tail) in duration_s."""
    return 60.0 * meter * 3 / (duration_s - 1.3)


def _compose_band(rng: np.random.Generator, duration_s: float, *, drums: bool,
                  programs: Sequence[int] = ()) -> _Score:
    """Melody + chords + bass (+ drums) from demo.compose, with random style, tempo and programs."""
    styles = sorted(demo._STYLES)
    style = styles[int(rng.integers(len(styles)))]
    st = demo._STYLES[style]
    lo_t, hi_t = st["tempo"]
    tempo = float(np.round(rng.uniform(lo_t * 0.85, hi_t * 1.15)))
    tempo = float(max(tempo, math.ceil(_min_tempo(st["meter"], duration_s))))
    progs = sorted(p for p in (programs or _LINE_PROGRAMS) if _LINE_PROGRAMS.get(p, (48, 84))[1] >= 72)
    mel = int(progs[int(rng.integers(len(progs)))]) if progs else int(sorted(programs)[0])
    chords = int(_CHORD_PROGRAMS[int(rng.integers(len(_CHORD_PROGRAMS)))])
    bass = int(_BASS_PROGRAMS[int(rng.integers(len(_BASS_PROGRAMS)))])
    seed = int(rng.integers(2 ** 31))
    piece = demo.compose(seed, duration_s=duration_s, style=style, tempo_bpm=tempo,
                         programs={"melody": mel, "chords": chords, "bass": bass}, vibrato=False)
    tracks = [_track_from_part(p) for p in piece.parts if drums or not p.is_drum]
    return _Score(tracks=tracks, melody_index=piece.melody_index, duration_s=duration_s,
                  tonic_pc=piece.tonic_pc, mode=piece.mode, tempo_bpm=piece.tempo_bpm,
                  meter=piece.beats_per_bar, beat_times_s=piece.beat_times_s.copy(),
                  beat_positions=piece.beat_positions.copy(), beat_measures=piece.beat_measures.copy(),
                  style=style, genre=piece.genre, source=f"demo.compose(seed={seed})",
                  chords=[(c.start_s, c.end_s, c.root_pc, c.quality) for c in piece.chords])


def _drum_track(rng: np.random.Generator, tempo: float, meter: int, duration_s: float) -> tuple[Track, str, str]:
    """A drum kit from demo.compose at ``tempo`` / ``meter`` (beats at i * 60 / tempo)."""
    style = {3: "waltz"}.get(meter) or str(rng.choice(["pop", "rock", "ballad", "swing", "bossa"]))
    seed = int(rng.integers(2 ** 31))
    bar_beats = 3 if meter == 3 else 4      # other meters are composed in 4/4
    need = 3 * bar_beats * 60.0 / tempo + 1.3   # demo.compose needs 3 bars + its 1.2 s tail
    piece = demo.compose(seed, duration_s=max(duration_s, need), style=style, tempo_bpm=tempo,
                         meter=bar_beats)
    part = _track_from_part(piece.parts[-1])
    keep = part.onsets_s < duration_s - 0.3
    part = dataclasses.replace(part, onsets_s=part.onsets_s[keep], offsets_s=part.offsets_s[keep],
                               pitch_midi=part.pitch_midi[keep], velocity=part.velocity[keep])
    return part, style, piece.genre


# -- real scores (music21) ----------------------------------------------------------------------

_M21_PATHS: list[str] | None = None


def music21_available() -> bool:
    try:
        import music21  # noqa: F401
    except ImportError:
        return False
    return True


def _m21_paths() -> list[str]:
    global _M21_PATHS
    if _M21_PATHS is None:
        from music21 import corpus as m21corpus

        root = Path(m21corpus.__file__).resolve().parent
        _M21_PATHS = sorted(str(Path(p).resolve().relative_to(root)) for p in m21corpus.getComposer("bach")
                            if str(p).endswith((".mxl", ".xml", ".musicxml")))
    return _M21_PATHS


def _score_key(score) -> tuple[int, str]:
    """Key from the key signature, major or relative minor chosen by the final bass note
    (chorales end on the tonic); music21's key analysis where that does not decide."""
    from music21 import key as m21key

    sigs = list(score.recurse().getElementsByClass(m21key.KeySignature))
    parts = list(score.parts)
    last = list(parts[-1].recurse().notes) if parts else []
    if sigs and last:
        bass = last[-1]
        final_pc = min(bass.pitches, key=lambda q: q.midi).pitchClass if bass.isChord else bass.pitch.pitchClass
        ks = sigs[0]
        for mode in ("major", "minor"):
            if ks.asKey(mode).tonic.pitchClass == final_pc:
                return int(final_pc), mode
    k = score.analyze("key")
    return int(k.tonic.pitchClass), str(k.mode) if k.mode in ("major", "minor") else "major"


def _compose_score(rng: np.random.Generator, duration_s: float) -> _Score:
    """An excerpt of a Bach work from music21's corpus on a random ensemble."""
    from music21 import corpus as m21corpus
    from music21 import meter as m21meter

    paths = _m21_paths()
    start_idx = int(rng.integers(len(paths)))
    tempo_q = float(np.round(rng.uniform(56.0, 110.0)))
    transpose = int(rng.integers(-4, 5))
    ens_names = sorted(_ENSEMBLES)
    ensemble = ens_names[int(rng.integers(len(ens_names)))]
    u_start = float(rng.random())
    prog_draws = rng.random(8)
    for attempt in range(20):
        rel = paths[(start_idx + attempt) % len(paths)]
        score = m21corpus.parse(rel)
        parts = list(score.parts)[:4]
        if len(parts) >= 2 and all(len(p.recurse().notes) for p in parts):
            break
    else:  # pragma: no cover - the corpus has plenty of 4-part works
        raise CorpusError(f"no usable score near music21 corpus item {paths[start_idx]}")
    sec_per_q = 60.0 / tempo_q
    tonic, mode = _score_key(score)
    # beats from the measures of the first part (pickup bars count from the end of the bar)
    beats_q, pos, bars = [], [], []
    ts = None
    for mi, m in enumerate(parts[0].getElementsByClass("Measure")):
        ts = m.timeSignature or ts or m21meter.TimeSignature("4/4")
        bar_q = float(ts.barDuration.quarterLength)
        beat_q = float(ts.beatDuration.quarterLength)
        dur = float(m.duration.quarterLength)
        pad = bar_q - dur if mi == 0 and dur < bar_q - 1e-6 else 0.0
        for k in range(int(ts.beatCount)):
            qpos = float(m.offset) + k * beat_q - pad
            if float(m.offset) - 1e-6 <= qpos < float(m.offset) + dur - 1e-6:
                beats_q.append(qpos)
                pos.append(k + 1)
                bars.append(mi + 1)  # bars counted from the first (pickup) bar of the work
    ts = ts or m21meter.TimeSignature("4/4")
    meter = int(ts.beatCount)
    beat_q = float(ts.beatDuration.quarterLength)
    beats_q = np.asarray(beats_q)
    total_q = float(score.highestTime)
    # excerpt start on a beat so that the excerpt fits (or from 0 for short works)
    max_start_q = max(0.0, total_q - (duration_s - 0.5) / sec_per_q)
    cands = beats_q[beats_q <= max_start_q] if len(beats_q) else np.zeros(1)
    start_q = float(cands[int(u_start * len(cands))]) if len(cands) else 0.0
    t0 = start_q * sec_per_q
    end_s = duration_s - 0.3
    tracks = []
    roles = ("melody", "alto", "tenor", "bass")
    for vi, part in enumerate(parts):
        choices = _ENSEMBLES[ensemble][min(vi, 3)]
        program = int(choices[int(prog_draws[vi] * len(choices))])
        on, off, pitch = [], [], []
        for n in part.stripTies().flatten().notes:
            ql = float(n.quarterLength)
            if ql <= 0:
                continue  # grace notes
            a = float(n.offset) * sec_per_q - t0
            b = a + ql * sec_per_q * 0.97
            if b <= 0.02 or a >= end_s - 0.05:
                continue
            for q in n.pitches:
                on.append(max(a, 0.0))
                off.append(min(b, end_s))
                pitch.append(int(q.midi) + transpose)
        order = np.lexsort((np.asarray(pitch), np.asarray(on))) if on else np.zeros(0, int)
        tracks.append(Track(name=pretty_midi.program_to_instrument_name(program), role=roles[min(vi, 3)],
                            program=program, is_drum=False, onsets_s=np.asarray(on, dtype=np.float64)[order],
                            offsets_s=np.asarray(off, dtype=np.float64)[order],
                            pitch_midi=np.asarray(pitch, dtype=np.int64)[order],
                            velocity=np.full(len(on), 80, dtype=np.int64)))
    bt = beats_q * sec_per_q - t0
    keep = (bt >= -1e-9) & (bt < duration_s)
    return _Score(tracks=tracks, melody_index=0, duration_s=duration_s, tonic_pc=(tonic + transpose) % 12,
                  mode=mode, tempo_bpm=tempo_q / beat_q, meter=meter, beat_times_s=np.maximum(bt[keep], 0.0),
                  beat_positions=np.asarray(pos, dtype=np.int64)[keep],
                  beat_measures=np.asarray(bars, dtype=np.int64)[keep], style="chorale" if len(parts) == 4 else "baroque",
                  genre="Classical", source=f"music21:{rel} transpose={transpose:+d} ensemble={ensemble}")


# ---------------------------------------------------------------------------------------------
# Rendering (one synthesiser per soundfont per process, reset between tracks)

_SYNTHS: dict[tuple[str, int], tuple[object, int]] = {}
_FLUID_BLOCK = 64  # FLUID_BUFSIZE


def _synth(sf2: Path, sr: int):
    """A cached (Synth, sfid) for ``sf2``; raises RenderError if FluidSynth cannot load it."""
    key = (str(sf2), sr)
    if key not in _SYNTHS:
        try:
            import fluidsynth
        except (ImportError, OSError) as exc:
            raise demo.RenderError(f"FluidSynth is not available: {exc}") from exc
        synth = fluidsynth.Synth(samplerate=float(sr), gain=0.2,
                                 **{"synth.reverb.active": 0, "synth.chorus.active": 0})
        sfid = synth.sfload(str(sf2))
        if sfid < 0:
            synth.delete()
            raise demo.RenderError(f"{sf2}: FluidSynth cannot load this soundfont")
        _SYNTHS[key] = (synth, sfid)
    return _SYNTHS[key]


def resolve_soundfont(name: str) -> Path | None:
    """Path of soundfont ``name`` (a SOUNDFONTS key or a file path), None when absent."""
    for p in SOUNDFONTS.get(name, (Path(name),)):
        if p.is_file():
            return p
    return None


def _soundfont_for(name: str, sr: int) -> tuple[Path, object, int]:
    path = resolve_soundfont(name)
    if path is None:
        log.warning("soundfont %r not found; falling back to %s", name, demo.BUNDLED_SF2.name)
    else:
        try:
            return (path, *_synth(path, sr))
        except demo.RenderError as exc:
            log.warning("%s; falling back to %s", exc, demo.BUNDLED_SF2.name)
    return (demo.BUNDLED_SF2, *_synth(demo.BUNDLED_SF2, sr))


def render_track(track: Track, n_samples: int, *, sf2: Path, sr: int = C.SAMPLE_RATE) -> np.ndarray:
    """One track synthesised alone with FluidSynth [shape=(n_samples,)] float64, raw level.

    Events land on the nearest sample; note-offs before controllers before note-ons at equal
    times; the channel's pitch-bend range is set (RPN 0) to ``track.bend_range_semitones``.
    """
    synth, sfid = _synth(sf2, sr)
    synth.system_reset()
    synth.get_samples(4 * _FLUID_BLOCK)
    ch = 9 if track.is_drum else 0
    if track.is_drum:
        if synth.program_select(ch, sfid, 128, track.program) != 0:
            synth.program_select(ch, sfid, 128, 0)
    elif synth.program_select(ch, sfid, 0, track.program) != 0:
        log.debug("%s has no GM program %d; using 0", sf2.name, track.program)
        synth.program_select(ch, sfid, 0, 0)
    rng_semi = int(round(track.bend_range_semitones))
    for cc, v in ((101, 0), (100, 0), (6, rng_semi), (38, 0), (101, 127), (100, 127)):
        synth.cc(ch, cc, v)
    ev: list[tuple[int, int, int, int]] = []  # (sample, order, a, b)
    for on, off, p, v in zip(track.onsets_s, track.offsets_s, track.pitch_midi, track.velocity):
        ev.append((int(round(on * sr)), 2, int(p), int(v)))
        ev.append((int(round(off * sr)), 0, int(p), 0))
    for t, s in zip(track.bend_times_s, track.bend_semitones):
        ev.append((int(round(t * sr)), 1, int(round(s / track.bend_range_semitones * 8192.0)), 0))
    ev.sort()
    y = np.zeros(n_samples, dtype=np.float64)
    cur = 0
    for s, kind, a, b in ev:
        s = min(s, n_samples)
        if s > cur:
            y[cur:s] = synth.get_samples(s - cur)[::2]
            cur = s
        if kind == 0:
            synth.noteoff(ch, a)
        elif kind == 1:
            synth.pitch_bend(ch, a)
        else:
            synth.noteon(ch, a, b)
    if cur < n_samples:
        y[cur:] = synth.get_samples(n_samples - cur)[::2]
    synth.all_sounds_off(ch)
    # FluidSynth renders in blocks of 64 samples and applies events at block starts: end on a
    # block boundary so that the next track starts at the phase a fresh synthesiser would have
    if n_samples % _FLUID_BLOCK:
        synth.get_samples(_FLUID_BLOCK - n_samples % _FLUID_BLOCK)
    return y


# ---------------------------------------------------------------------------------------------
# Items


_ARRAY_FIELDS = ("audio", "melody_f0_hz", "melody_voiced", "note_onset_s", "note_offset_s", "note_pitch_midi",
                 "note_velocity", "note_track", "track_program", "track_is_drum", "bend_track", "bend_times_s",
                 "bend_semitones", "beats_s", "beat_positions", "beat_measures", "chord_start_s", "chord_end_s",
                 "chord_root_pc")
_STR_LIST_FIELDS = ("track_name", "track_role", "track_family", "chord_quality")
_SCALAR_FIELDS = ("seed", "index", "kind", "sr", "hop_length", "duration_s", "melody_track", "tonic_pc", "mode",
                  "tempo_bpm", "meter", "style", "genre", "soundfont", "source", "spec_hash")


@dataclass
class CorpusItem:
    """One rendered item and its labels.

    audio [shape=(n_samples,), float32] at ``sr``; melody_f0_hz [shape=(n_frames,), float32]
    (0 where unvoiced), melody_voiced [shape=(n_frames,), bool] on frames centred at
    ``i * hop_length / sr``. Notes (all tracks, drums included) as flat arrays
    note_onset_s, note_offset_s [shape=(n_notes,)] s, note_pitch_midi, note_velocity,
    note_track [int] (index into the track_* arrays). Tracks: track_name, track_role
    ('melody', 'chords', 'bass', 'drums', 'alto', ...), track_family (GM family or 'Drums'),
    track_program [int, 0-based GM], track_is_drum [bool]. Pitch bends: bend_track [int],
    bend_times_s, bend_semitones (held until the next event of the same track).
    Key: tonic_pc 0..11, mode; beats_s, beat_positions (1 = downbeat), beat_measures
    (1-based bar); tempo_bpm (beats per minute), meter (beats per bar); chords (procedural
    items): chord_start_s, chord_end_s, chord_root_pc, chord_quality. ``augment``: the drawn
    augmentation (dict).
    """

    seed: int
    index: int
    kind: str
    sr: int
    hop_length: int
    duration_s: float
    audio: np.ndarray
    melody_f0_hz: np.ndarray
    melody_voiced: np.ndarray
    melody_track: int
    note_onset_s: np.ndarray
    note_offset_s: np.ndarray
    note_pitch_midi: np.ndarray
    note_velocity: np.ndarray
    note_track: np.ndarray
    track_name: list
    track_role: list
    track_family: list
    track_program: np.ndarray
    track_is_drum: np.ndarray
    bend_track: np.ndarray
    bend_times_s: np.ndarray
    bend_semitones: np.ndarray
    tonic_pc: int
    mode: str
    tempo_bpm: float
    meter: int
    beats_s: np.ndarray
    beat_positions: np.ndarray
    beat_measures: np.ndarray
    chord_start_s: np.ndarray
    chord_end_s: np.ndarray
    chord_root_pc: np.ndarray
    chord_quality: list
    style: str
    genre: str
    soundfont: str
    source: str
    augment: dict
    spec_hash: str = ""

    # -- derived views ------------------------------------------------------------------------

    @property
    def n_frames(self) -> int:
        return C.n_frames_for(len(self.audio), hop_length=self.hop_length)

    def frame_times(self) -> np.ndarray:
        """Frame centre times in seconds [shape=(n_frames,)]."""
        return np.arange(self.n_frames) * self.hop_length / self.sr

    @property
    def downbeats_s(self) -> np.ndarray:
        return self.beats_s[self.beat_positions == 1]

    @property
    def instruments(self) -> list[dict]:
        return [dict(name=n, role=r, family=f, program=int(p), is_drum=bool(d))
                for n, r, f, p, d in zip(self.track_name, self.track_role, self.track_family,
                                         self.track_program, self.track_is_drum)]

    def bend_at(self, track: int, times_s) -> np.ndarray:
        """Bend in semitones of ``track`` at ``times_s``."""
        sel = self.bend_track == track
        return _bend_at(self.bend_times_s[sel], self.bend_semitones[sel], times_s)

    def notes(self, track: int | None = None, *, pitched_only: bool = True) -> Notes:
        """The notes of one track (or all pitched tracks) as core :class:`Notes` (bends in cents)."""
        sel = np.ones(len(self.note_onset_s), bool) if track is None else self.note_track == track
        if pitched_only:
            sel &= ~self.track_is_drum[self.note_track]
        idx = np.flatnonzero(sel)
        order = idx[np.lexsort((self.note_pitch_midi[idx], self.note_onset_s[idx]))]
        bn, bt, bc = [], [], []
        for j, i in enumerate(order):
            k = self.note_track[i]
            m = (self.bend_track == k) & (self.bend_times_s >= self.note_onset_s[i]) & \
                (self.bend_times_s < self.note_offset_s[i])
            bn += [j] * int(m.sum())
            bt += list(self.bend_times_s[m])
            bc += list(self.bend_semitones[m] * 100.0)
        return Notes(onsets_s=self.note_onset_s[order], offsets_s=self.note_offset_s[order],
                     pitch_midi=self.note_pitch_midi[order], velocity=self.note_velocity[order],
                     confidence=np.ones(len(order)), bend_note=np.asarray(bn, dtype=np.int64),
                     bend_times_s=np.asarray(bt, dtype=np.float64), bend_cents=np.asarray(bc, dtype=np.float64))

    def key(self) -> Key:
        return Key(tonic_pc=int(self.tonic_pc), mode=self.mode, confidence=1.0,
                   local_start_s=np.array([0.0]), local_end_s=np.array([self.duration_s]),
                   local_tonic_pc=np.array([int(self.tonic_pc)]), local_mode=[self.mode],
                   local_confidence=np.array([1.0]))

    def beats(self) -> Beats:
        return Beats(times_s=self.beats_s.copy(), positions=self.beat_positions.copy(),
                     tempo_bpm=float(self.tempo_bpm), tempo_confidence=1.0, meter=int(self.meter),
                     tempo_alternatives_bpm=np.array([self.tempo_bpm / 2, self.tempo_bpm * 2]))

    def pitch_roll(self, **kwargs) -> np.ndarray:
        """See :func:`pitch_roll`."""
        return pitch_roll(self, **kwargs)

    def multif0(self) -> tuple[np.ndarray, list[np.ndarray]]:
        """All sounding pitched notes per frame in Hz, bends included (mir_eval multipitch format)."""
        times = self.frame_times()
        per: list[list[float]] = [[] for _ in times]
        for t_i, frames, pitch in _note_frames(self):
            for k, p in zip(frames, pitch):
                per[k].append(float(midi_to_hz(p)))
        return times, [np.asarray(sorted(f)) for f in per]

    def label_fingerprint(self) -> str:
        """sha256 of every label (audio excluded): equal for equal compositions."""
        h = hashlib.sha256()
        arrays = self.to_arrays()
        for k in sorted(arrays):
            if k in ("audio",):
                continue
            a = np.ascontiguousarray(arrays[k])
            h.update(k.encode() + str(a.dtype).encode() + str(a.shape).encode() + a.tobytes())
        return h.hexdigest()

    # -- serialisation ------------------------------------------------------------------------

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Flat numpy arrays (no objects): audio as int16 (peak < 1), strings as unicode arrays."""
        out: dict[str, np.ndarray] = {}
        for f in _ARRAY_FIELDS:
            out[f] = np.asarray(getattr(self, f))
        out["audio"] = np.clip(np.rint(np.asarray(self.audio, np.float64) * 32767.0), -32768, 32767).astype(np.int16)
        for f in _STR_LIST_FIELDS:
            out[f] = np.asarray([str(x) for x in getattr(self, f)], dtype=str)
        for f in _SCALAR_FIELDS:
            out[f] = np.asarray(getattr(self, f))
        out["augment_json"] = np.asarray(json.dumps(self.augment, sort_keys=True))
        out["summary_json"] = np.asarray(json.dumps(self.summary(), sort_keys=True))
        return out

    @classmethod
    def from_arrays(cls, a: Mapping[str, np.ndarray]) -> "CorpusItem":
        kw: dict = {}
        for f in _ARRAY_FIELDS:
            kw[f] = np.asarray(a[f])
        kw["audio"] = np.asarray(a["audio"]).astype(np.float32) / 32767.0
        for f in _STR_LIST_FIELDS:
            kw[f] = [str(x) for x in np.asarray(a[f]).tolist()]
        for f in _SCALAR_FIELDS:
            kw[f] = np.asarray(a[f]).item()
        kw["augment"] = json.loads(str(np.asarray(a["augment_json"])))
        return cls(**kw)

    def save(self, path: str | os.PathLike) -> None:
        """Write atomically (temp file, fsync, rename) as a compressed ``.npz``."""
        from workstation.core.atomic import atomic_write
        with atomic_write(path, durable=True) as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, **self.to_arrays())

    @classmethod
    def load(cls, path: str | os.PathLike) -> "CorpusItem":
        try:
            with np.load(path, allow_pickle=False) as z:
                return cls.from_arrays(z)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            raise CorpusError(f"{path}: not a readable corpus item ({exc})") from exc

    def summary(self) -> dict:
        """A short JSON-able description (manifest row)."""
        return dict(index=int(self.index), seed=int(self.seed), kind=self.kind, style=self.style,
                    genre=self.genre, key=f"{pitch_class_name(int(self.tonic_pc))}:{self.mode}",
                    tempo_bpm=round(float(self.tempo_bpm), 3), meter=int(self.meter),
                    duration_s=float(self.duration_s), soundfont=self.soundfont,
                    n_notes=int(len(self.note_onset_s)),
                    programs=[int(p) if not d else -1 for p, d in zip(self.track_program, self.track_is_drum)],
                    source=self.source)


def _note_frames(item: CorpusItem):
    """For each pitched note: (track, frame indices, bent pitch in MIDI per frame)."""
    fr = item.sr / item.hop_length
    n = item.n_frames
    times = item.frame_times()
    bend_cache: dict[int, np.ndarray] = {}
    for i in range(len(item.note_onset_s)):
        k = int(item.note_track[i])
        if item.track_is_drum[k]:
            continue
        a = max(int(np.ceil(item.note_onset_s[i] * fr - 1e-9)), 0)
        b = min(int(np.ceil(item.note_offset_s[i] * fr - 1e-9)), n)
        if b <= a:
            continue
        if k not in bend_cache:
            bend_cache[k] = item.bend_at(k, times)
        frames = np.arange(a, b)
        yield k, frames, item.note_pitch_midi[i] + bend_cache[k][a:b]


def pitch_roll(item: CorpusItem, *, bins_per_semitone: int = C.BINS_PER_SEMITONE,
               fmin_midi: float = C.FMIN_MIDI, n_bins: int = C.N_BINS,
               roles: Sequence[str] | None = None) -> np.ndarray:
    """Multi-hot target of every sounding pitched note [shape=(n_bins, n_frames), bool].

    Bin ``k`` is centred on MIDI ``fmin_midi + k / bins_per_semitone`` (defaults: the HCQT grid,
    C1 and 20-cent bins); each note sets the bin nearest its pitch *with the bend in effect* on
    every frame on which it sounds (frame t with onset <= t < offset). Pitches outside the grid
    are dropped. ``roles`` keeps only tracks of those roles (e.g. ('melody',)).
    """
    roll = np.zeros((n_bins, item.n_frames), dtype=bool)
    for k, frames, pitch in _note_frames(item):
        if roles is not None and item.track_role[k] not in roles:
            continue
        b = np.rint((pitch - fmin_midi) * bins_per_semitone).astype(np.int64)
        ok = (b >= 0) & (b < n_bins)
        roll[b[ok], frames[ok]] = True
    return roll


def _draw_kind(rng: np.random.Generator, spec: CorpusSpec) -> str:
    names = [k for k, _ in spec.kinds]
    w = np.asarray([w for _, w in spec.kinds], dtype=np.float64)
    return names[int(rng.choice(len(names), p=w / w.sum()))]


def make_item(seed: int, spec: CorpusSpec = CorpusSpec(), *, index: int = -1) -> CorpusItem:
    """Compose, render, augment and label one item; a pure function of (seed, spec).

    Independent random streams (composition, expression, mix, augmentation) come from
    ``seed`` so that a change in one part of the recipe leaves the others' draws alone.
    """
    sr, hop = spec.sr, spec.hop_length
    top = np.random.default_rng([seed, 0])
    kind = _draw_kind(top, spec)
    sf_name = spec.soundfonts[int(top.integers(len(spec.soundfonts)))]
    duration = float(np.round(top.uniform(*spec.duration_s), 1))
    u_vib, u_gl, u_bend, u_drums = top.random(4)
    comp = np.random.default_rng([seed, 1])
    if kind == "score" and not music21_available():
        log.warning("music21 is not installed: item %d (seed %d) is a 'poly' item instead of 'score'", index, seed)
        kind = "poly"
    if kind == "mono":
        line, meta = _compose_line(comp, duration, spec.melody_programs)
        bt, bp, bm = _beat_grid(meta["tempo_bpm"], meta["meter"], duration)
        score = _Score(tracks=[line], melody_index=0, duration_s=duration, tonic_pc=meta["tonic_pc"],
                       mode=meta["mode"], tempo_bpm=meta["tempo_bpm"], meter=meta["meter"], beat_times_s=bt,
                       beat_positions=bp, beat_measures=bm, style="solo", genre="Solo", source="line")
        if u_drums < spec.p_mono_drums:
            drums, style, genre = _drum_track(comp, meta["tempo_bpm"], meta["meter"], duration)
            score.tracks.append(drums)
            score.style, score.genre = f"solo+{style}", genre
    elif kind in ("poly", "full"):
        score = _compose_band(comp, duration, drums=kind == "full", programs=spec.melody_programs)
    else:
        score = _compose_score(comp, duration)
    # expression and dynamics
    expr = np.random.default_rng([seed, 2])
    mel = score.tracks[score.melody_index]
    sustained = mel.program in _SUSTAINED
    bendy = mel.program in _BENDY
    bend_range = 12.0 if kind == "mono" else demo.BEND_RANGE_SEMITONES
    score.tracks[score.melody_index] = _express(
        mel, expr, vibrato=bool(u_vib < spec.p_vibrato and sustained),
        glissando=bool(u_gl < spec.p_glissando and (sustained or bendy) and kind != "score"),
        bends=bool(u_bend < spec.p_bends and bendy), bend_range=bend_range)
    score.tracks = [_dynamics(t, expr, duration) for t in score.tracks]
    # render and mix
    n = int(round(duration * sr))
    sf2, _, _ = _soundfont_for(sf_name, sr)
    mix_rng = np.random.default_rng([seed, 3])
    mix = np.zeros(n)
    for t in score.tracks:
        gain_db = {"melody": mix_rng.uniform(0.0, 2.0), "chords": mix_rng.uniform(-12.0, -3.0),
                   "bass": mix_rng.uniform(-10.0, -2.0), "drums": mix_rng.uniform(-12.0, -1.0)}.get(
            t.role, mix_rng.uniform(-5.0, -1.0))
        if not len(t.onsets_s):
            continue
        y = render_track(t, n, sf2=sf2, sr=sr)
        active = np.abs(y) > 1e-4 * (np.abs(y).max() + 1e-12)
        if not active.any():
            log.warning("item %d: track %s (program %d) rendered silent with %s", index, t.name, t.program,
                        sf2.name)
            continue
        mix += y * 10.0 ** (gain_db / 20.0) / float(np.sqrt(np.mean(y[active] ** 2)))
    if not np.any(mix):
        raise demo.RenderError(f"item {index} (seed {seed}) rendered silence with {sf2}")
    fade = int(0.05 * sr)
    mix[n - fade:] *= np.linspace(1.0, 0.0, fade)
    aug = draw_augmentation(np.random.default_rng([seed, 4]), spec.augment)
    audio = apply_augmentation(mix, aug, sr=sr)
    return _labels(score, audio, seed=seed, index=index, kind=kind, spec=spec, soundfont=sf2.name, aug=aug)


def _labels(score: _Score, audio: np.ndarray, *, seed: int, index: int, kind: str, spec: CorpusSpec,
            soundfont: str, aug: Augmentation) -> CorpusItem:
    sr, hop = spec.sr, spec.hop_length
    n_frames = C.n_frames_for(len(audio), hop_length=hop)
    times = np.arange(n_frames) * hop / sr
    mel = score.tracks[score.melody_index]
    idx = np.searchsorted(mel.onsets_s, times, side="right") - 1
    safe = np.clip(idx, 0, None)
    voiced = (idx >= 0) & (times < mel.offsets_s[safe]) if len(mel.onsets_s) else np.zeros(n_frames, bool)
    if len(mel.onsets_s) > 1 and np.any(mel.onsets_s[1:] < mel.offsets_s[:-1] - 1e-9):
        # overlapping melody notes (chords in a top voice): the highest sounding pitch is the melody
        f0_midi = np.full(n_frames, -np.inf)
        for i in range(len(mel.onsets_s)):
            sel = (times >= mel.onsets_s[i]) & (times < mel.offsets_s[i])
            f0_midi[sel] = np.maximum(f0_midi[sel], mel.pitch_midi[i])
        voiced = np.isfinite(f0_midi)
        f0_midi = np.where(voiced, f0_midi, 0.0)
    else:
        f0_midi = mel.pitch_midi[safe].astype(np.float64) if len(mel.onsets_s) else np.zeros(n_frames)
    f0 = np.where(voiced, midi_to_hz(f0_midi + mel.bend_at(times)), 0.0).astype(np.float32)
    cat = lambda f, dt: np.concatenate([np.asarray(getattr(t, f), dtype=dt) for t in score.tracks])  # noqa: E731
    note_track = np.concatenate([np.full(len(t.onsets_s), i, dtype=np.int64) for i, t in enumerate(score.tracks)])
    bend_track = np.concatenate([np.full(len(t.bend_times_s), i, dtype=np.int64)
                                 for i, t in enumerate(score.tracks)])
    ch = score.chords
    return CorpusItem(
        seed=int(seed), index=int(index), kind=kind, sr=sr, hop_length=hop, duration_s=float(score.duration_s),
        audio=audio, melody_f0_hz=f0, melody_voiced=voiced.astype(bool), melody_track=int(score.melody_index),
        note_onset_s=cat("onsets_s", np.float64), note_offset_s=cat("offsets_s", np.float64),
        note_pitch_midi=cat("pitch_midi", np.int64), note_velocity=cat("velocity", np.int64), note_track=note_track,
        track_name=[t.name for t in score.tracks], track_role=[t.role for t in score.tracks],
        track_family=[gm_family(t.program, t.is_drum) for t in score.tracks],
        track_program=np.asarray([t.program for t in score.tracks], dtype=np.int64),
        track_is_drum=np.asarray([t.is_drum for t in score.tracks], dtype=bool),
        bend_track=bend_track, bend_times_s=cat("bend_times_s", np.float64),
        bend_semitones=cat("bend_semitones", np.float64),
        tonic_pc=int(score.tonic_pc), mode=score.mode, tempo_bpm=float(score.tempo_bpm), meter=int(score.meter),
        beats_s=np.asarray(score.beat_times_s, np.float64), beat_positions=np.asarray(score.beat_positions, np.int64),
        beat_measures=np.asarray(score.beat_measures, np.int64),
        chord_start_s=np.asarray([c[0] for c in ch], np.float64), chord_end_s=np.asarray([c[1] for c in ch], np.float64),
        chord_root_pc=np.asarray([c[2] for c in ch], np.int64), chord_quality=[c[3] for c in ch],
        style=score.style, genre=score.genre, soundfont=soundfont, source=score.source, augment=aug.as_dict(),
        spec_hash=spec.spec_hash())


# ---------------------------------------------------------------------------------------------
# Building and reading the cache


def _item_path(out: Path, index: int) -> Path:
    return out / f"{index:06d}.npz"


def _item_done(path: Path, spec_hash: str) -> dict | None:
    """The stored summary of a finished item of this spec, or None (absent, corrupt, other spec)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["spec_hash"]) != spec_hash:
                return None
            return json.loads(str(z["summary_json"]))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        log.warning("%s is unreadable; rendering it again", path)
        return None


def _build_one(index: int, spec_dict: dict, out: str) -> tuple[int, dict, float]:
    """Worker: render item ``index`` and write it; returns (index, summary, seconds)."""
    t0 = time.perf_counter()
    spec = CorpusSpec.from_dict(spec_dict)
    item = make_item(item_seed(spec.seed, index), spec, index=index)
    item.save(_item_path(Path(out), index))
    return index, item.summary(), time.perf_counter() - t0


def _versions() -> dict:
    v = {"python": platform.python_version(), "numpy": np.__version__, "pretty_midi": pretty_midi.__version__
         if hasattr(pretty_midi, "__version__") else "?"}
    try:
        from importlib.metadata import version

        for pkg in ("pyfluidsynth", "music21", "scipy"):
            try:
                v[pkg] = version(pkg)
            except Exception:  # noqa: BLE001 - PackageNotFoundError and friends: just unknown
                v[pkg] = None
    except ImportError:  # pragma: no cover
        pass
    v["soundfonts"] = {name: (str(p) if (p := resolve_soundfont(name)) else None) for name in SOUNDFONTS}
    return v


def _write_json(path: Path, obj) -> None:
    from workstation.core.atomic import atomic_write
    with atomic_write(path, durable=True) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, indent=1, sort_keys=True)


def build_corpus(out_dir: str | os.PathLike, spec: CorpusSpec = CorpusSpec(), *, workers: int = 1,
                 progress=None) -> dict:
    """Render every item of ``spec`` into ``out_dir`` (resumable) and return the manifest.

    Items already there (same spec hash) are kept; the others are rendered, in ``workers``
    spawned processes when > 1. ``progress(done, total)`` is called after each item.
    Raises CorpusError when ``out_dir`` holds a corpus of another spec.
    The manifest's ``build`` entry tells what this call did: n_rendered, wall_s, audio_s
    (seconds of audio rendered) and realtime_factor (audio_s / wall_s).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    h = spec.spec_hash()
    mpath = out / "manifest.json"
    if mpath.is_file():
        try:
            old = json.loads(mpath.read_text())
        except (OSError, ValueError) as exc:
            raise CorpusError(f"{mpath}: unreadable manifest ({exc}); delete the folder or choose another") from exc
        if old.get("spec_hash") != h:
            raise CorpusError(f"{out} holds a corpus of another spec (hash {old.get('spec_hash')}, this one {h}); "
                              "use another folder (the default folder is named by the spec hash) or delete it")
    manifest = {"format": "workstation-corpus", "corpus_version": CORPUS_VERSION, "spec_hash": h,
                "spec": spec.to_dict(), "versions": _versions(), "complete": False, "items": []}
    _write_json(mpath, manifest)
    summaries: dict[int, dict] = {}
    todo = []
    for i in range(spec.n_items):
        s = _item_done(_item_path(out, i), h)
        if s is None:
            todo.append(i)
        else:
            summaries[i] = s
    log.info("%s: %d items done, %d to render with %d worker(s)", out, len(summaries), len(todo), workers)
    t0 = time.perf_counter()
    audio_s = 0.0
    spec_dict = spec.to_dict()
    if workers <= 1 or len(todo) <= 1:
        for i in todo:
            _, s, _ = _build_one(i, spec_dict, str(out))
            summaries[i] = s
            audio_s += s["duration_s"]
            if progress:
                progress(len(summaries), spec.n_items)
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
            futs = [pool.submit(_build_one, i, spec_dict, str(out)) for i in todo]
            for fut in as_completed(futs):
                i, s, _ = fut.result()
                summaries[i] = s
                audio_s += s["duration_s"]
                if progress:
                    progress(len(summaries), spec.n_items)
    wall = time.perf_counter() - t0
    items = [summaries[i] for i in range(spec.n_items)]
    nbytes = sum(_item_path(out, i).stat().st_size for i in range(spec.n_items))
    manifest.update(complete=True, items=items, n_items=spec.n_items,
                    total_audio_s=float(sum(s["duration_s"] for s in items)), total_bytes=int(nbytes),
                    build=dict(n_rendered=len(todo), workers=workers, wall_s=wall, audio_s=audio_s,
                               realtime_factor=audio_s / wall if wall > 0 and todo else None))
    _write_json(mpath, manifest)
    return manifest


@dataclass
class Crop:
    """A training crop: audio [shape=(n_frames * hop,)] float32 starting at sample
    ``frame_start * hop`` of the item, and the labels of frames [frame_start, frame_start + n_frames)
    of the item (frame j of the crop is centred on crop sample j * hop, as the front end computes it).
    pitch_roll [shape=(n_bins, n_frames), bool] or None."""

    index: int
    frame_start: int
    audio: np.ndarray
    melody_f0_hz: np.ndarray
    melody_voiced: np.ndarray
    pitch_roll: np.ndarray | None


class Corpus:
    """Read a built corpus: ``len``, ``corpus[i] -> CorpusItem``, random aligned crops."""

    def __init__(self, root: str | os.PathLike, *, cache_items: int = 8):
        self.root = Path(root)
        mpath = self.root / "manifest.json"
        if not mpath.is_file():
            raise CorpusError(f"{self.root}: no manifest.json (build it with build_corpus or "
                              "python -m workstation.training.corpus)")
        self.manifest = json.loads(mpath.read_text())
        self.spec = CorpusSpec.from_dict(self.manifest["spec"])
        n = self.manifest.get("n_items", self.spec.n_items)
        self.files = [p for p in (_item_path(self.root, i) for i in range(n)) if p.is_file()]
        if not self.manifest.get("complete"):
            log.warning("%s: the build did not finish; %d of %d items present", self.root, len(self.files), n)
        self._cache: dict[int, CorpusItem] = {}
        self._roll_cache: dict[int, np.ndarray] = {}
        self._cache_items = cache_items

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> CorpusItem:
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        if i not in self._cache:
            if len(self._cache) >= self._cache_items:
                drop = next(iter(self._cache))
                self._cache.pop(drop)
                self._roll_cache.pop(drop, None)
            self._cache[i] = CorpusItem.load(self.files[i])
        return self._cache[i]

    def __iter__(self) -> Iterator[CorpusItem]:
        for i in range(len(self)):
            yield self[i]

    def crop(self, i: int, frame_start: int, n_frames: int, *, roll: bool = True) -> Crop:
        """Crop ``n_frames`` frames of item ``i`` from ``frame_start`` (zero-padded past the end)."""
        item = self[i]
        hop = item.hop_length
        audio = np.zeros(n_frames * hop, dtype=np.float32)
        seg = item.audio[frame_start * hop:(frame_start + n_frames) * hop]
        audio[:len(seg)] = seg
        f0 = np.zeros(n_frames, dtype=np.float32)
        v = np.zeros(n_frames, dtype=bool)
        m = max(0, min(n_frames, item.n_frames - frame_start))
        f0[:m] = item.melody_f0_hz[frame_start:frame_start + m]
        v[:m] = item.melody_voiced[frame_start:frame_start + m]
        pr = None
        if roll:
            if i not in self._roll_cache:
                self._roll_cache[i] = pitch_roll(item)
            full = self._roll_cache[i]
            pr = np.zeros((full.shape[0], n_frames), dtype=bool)
            pr[:, :m] = full[:, frame_start:frame_start + m]
        return Crop(index=i, frame_start=frame_start, audio=audio, melody_f0_hz=f0, melody_voiced=v, pitch_roll=pr)

    def crops(self, n_frames: int, *, seed: int = 0, roll: bool = True,
              indices: Sequence[int] | None = None) -> Iterator[Crop]:
        """Endless random crops of ``n_frames`` frames (deterministic from ``seed``)."""
        if not len(self):
            raise CorpusError(f"{self.root}: the corpus is empty")
        rng = np.random.default_rng(seed)
        pool = np.asarray(indices if indices is not None else np.arange(len(self)))
        while True:
            i = int(pool[int(rng.integers(len(pool)))])
            n_item = self[i].n_frames
            start = int(rng.integers(max(1, n_item - n_frames + 1)))
            yield self.crop(i, start, n_frames, roll=roll)


# ---------------------------------------------------------------------------------------------
# CLI


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m workstation.training.corpus",
                                 description="Render the synthetic training corpus (audio + exact labels).")
    ap.add_argument("--out", help="output folder (default <user cache>/workstation/corpus/<spec hash>)")
    ap.add_argument("--n", type=int, default=200, help="number of items (default 200)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    ap.add_argument("--duration", type=float, nargs=2, metavar=("MIN", "MAX"), default=(10.0, 20.0),
                    help="item length range in seconds (default 10 20)")
    ap.add_argument("--soundfonts", nargs="+", default=list(CorpusSpec.soundfonts),
                    help=f"soundfont names ({', '.join(SOUNDFONTS)}) or paths")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    spec = CorpusSpec(n_items=args.n, seed=args.seed, duration_s=tuple(args.duration),
                      soundfonts=tuple(args.soundfonts))
    out = Path(args.out) if args.out else default_dir(spec)
    if not music21_available() and any(k == "score" and w > 0 for k, w in spec.kinds):
        log.warning("music21 is not installed: 'score' items will be 'poly' items")
    last = [0.0]

    def progress(done, total):
        now = time.perf_counter()
        if now - last[0] > 5 or done == total:
            last[0] = now
            log.info("%d / %d items", done, total)

    m = build_corpus(out, spec, workers=args.workers, progress=progress)
    b = m["build"]
    speed = f"{b['realtime_factor']:.1f}x realtime" if b["realtime_factor"] else "nothing to render"
    kinds = {}
    for s in m["items"]:
        kinds[s["kind"]] = kinds.get(s["kind"], 0) + 1
    print(f"{out}: {m['n_items']} items ({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))}), "
          f"{m['total_audio_s'] / 3600:.2f} h of audio, {m['total_bytes'] / 1e6:.1f} MB; "
          f"rendered {b['n_rendered']} in {b['wall_s']:.1f} s ({speed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
