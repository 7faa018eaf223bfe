"""The procedural composer: ``compose(seed, ...)`` writes a piece with exact ground truth.

A short piece (melody, chord comping, bass, drums on GM channel 10) in a key, meter and
tempo, in one of six styles (pop, rock, ballad, swing, bossa, waltz), returned as a
:class:`workstation.training.demo_piece.Piece`. ``compose`` is exactly deterministic from its
arguments (one ``numpy.random.Generator`` seeded with ``seed``, every draw made in a fixed
order whatever is overridden). Musical time is exact: beat ``i`` sounds at
``i * 60 / tempo_bpm`` seconds.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pretty_midi

from workstation.core.units import pitch_class_name
from workstation.training.demo_piece import BEND_RANGE_SEMITONES, Chord, Part, Piece, to_pretty_midi
from workstation.training.demo_theory import (_PROGRESSIONS, _QUALITIES, _pitches_in, _scale, _tonic_from,
                                              _voicing)

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


def _choice(rng: np.random.Generator, seq):
    return seq[int(rng.integers(len(seq)))]


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
