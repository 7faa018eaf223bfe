"""The training corpus's score model and composers: what gets rendered, and the truth.

:class:`Track` (notes and pitch bends of one instrument) and the internal ``_Score`` (tracks,
key, beats, tempo, meter, chords); the GM program tables; expression (vibrato, glissandi,
scoops, bend-ups, falls as pitch-bend events) and dynamics; the composers of the ``mono``
items (one melodic line), the ``poly`` / ``full`` items (a band from
:func:`workstation.training.demo_compose.compose`) and drum kits. The ``score`` items come
from :mod:`workstation.training.corpus_scores`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pretty_midi

from workstation.training import demo_compose, demo_piece, demo_theory

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
    bend_range_semitones: float = demo_piece.BEND_RANGE_SEMITONES

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


def _track_from_part(part: demo_piece.Part) -> Track:
    return Track(name=part.name, role=part.role, program=part.program, is_drum=part.is_drum,
                 onsets_s=part.onsets_s.copy(), offsets_s=part.offsets_s.copy(),
                 pitch_midi=part.pitch_midi.copy(), velocity=part.velocity.copy(),
                 bend_times_s=part.bend_times_s.astype(np.float64),
                 bend_semitones=part.bend_values.astype(np.float64) * demo_piece.BEND_RANGE_SEMITONES / 8192.0)


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
    steps = demo_theory._MAJOR_SCALE if mode == "major" else demo_theory._MINOR_SCALE
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
    """Lowest tempo at which demo_compose.compose fits its 3 bars (and the release tail) in duration_s."""
    return 60.0 * meter * 3 / (duration_s - 1.3)


def _compose_band(rng: np.random.Generator, duration_s: float, *, drums: bool,
                  programs: Sequence[int] = ()) -> _Score:
    """Melody + chords + bass (+ drums) from demo_compose.compose, with random style, tempo and programs."""
    styles = sorted(demo_compose._STYLES)
    style = styles[int(rng.integers(len(styles)))]
    st = demo_compose._STYLES[style]
    lo_t, hi_t = st["tempo"]
    tempo = float(np.round(rng.uniform(lo_t * 0.85, hi_t * 1.15)))
    tempo = float(max(tempo, math.ceil(_min_tempo(st["meter"], duration_s))))
    progs = sorted(p for p in (programs or _LINE_PROGRAMS) if _LINE_PROGRAMS.get(p, (48, 84))[1] >= 72)
    mel = int(progs[int(rng.integers(len(progs)))]) if progs else int(sorted(programs)[0])
    chords = int(_CHORD_PROGRAMS[int(rng.integers(len(_CHORD_PROGRAMS)))])
    bass = int(_BASS_PROGRAMS[int(rng.integers(len(_BASS_PROGRAMS)))])
    seed = int(rng.integers(2 ** 31))
    piece = demo_compose.compose(seed, duration_s=duration_s, style=style, tempo_bpm=tempo,
                         programs={"melody": mel, "chords": chords, "bass": bass}, vibrato=False)
    tracks = [_track_from_part(p) for p in piece.parts if drums or not p.is_drum]
    return _Score(tracks=tracks, melody_index=piece.melody_index, duration_s=duration_s,
                  tonic_pc=piece.tonic_pc, mode=piece.mode, tempo_bpm=piece.tempo_bpm,
                  meter=piece.beats_per_bar, beat_times_s=piece.beat_times_s.copy(),
                  beat_positions=piece.beat_positions.copy(), beat_measures=piece.beat_measures.copy(),
                  style=style, genre=piece.genre, source=f"demo.compose(seed={seed})",
                  chords=[(c.start_s, c.end_s, c.root_pc, c.quality) for c in piece.chords])


def _drum_track(rng: np.random.Generator, tempo: float, meter: int, duration_s: float) -> tuple[Track, str, str]:
    """A drum kit from demo_compose.compose at ``tempo`` / ``meter`` (beats at i * 60 / tempo)."""
    style = {3: "waltz"}.get(meter) or str(rng.choice(["pop", "rock", "ballad", "swing", "bossa"]))
    seed = int(rng.integers(2 ** 31))
    bar_beats = 3 if meter == 3 else 4      # other meters are composed in 4/4
    need = 3 * bar_beats * 60.0 / tempo + 1.3   # demo_compose.compose needs 3 bars + its 1.2 s tail
    piece = demo_compose.compose(seed, duration_s=max(duration_s, need), style=style, tempo_bpm=tempo,
                         meter=bar_beats)
    part = _track_from_part(piece.parts[-1])
    keep = part.onsets_s < duration_s - 0.3
    part = dataclasses.replace(part, onsets_s=part.onsets_s[keep], offsets_s=part.offsets_s[keep],
                               pitch_midi=part.pitch_midi[keep], velocity=part.velocity[keep])
    return part, style, piece.genre
