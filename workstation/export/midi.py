"""Standard MIDI files: notes (with velocities and pitch bends) and a tempo map from beats.

Writing (``write_midi``), for notation by default (MuseScore, Sibelius, a DAW's score view):

- With ``beats``, MIDI beat ``m + j`` (tick ``(m + j) * resolution``) is the ``j``-th detected
  beat. Before the first detected beat comes a pickup of ``m`` whole beats at the local tempo
  (``m`` = the time before the first beat in beats, rounded; 0 when under half a beat, the
  first beat then moved to time 0), in a partial first bar, so that detected downbeats fall
  on bar lines (time signature ``meter/4``); a text event marks the first detected beat. A
  tempo event is written only where the beats drift from the current tempo by more than a
  tolerance (0.1 beat, a fitted tempo per segment). Tempi are
  integers in microseconds per beat. Without beats: 120 BPM (or ``beats.tempo_bpm`` when
  only the tempo is known). The key layer becomes key signatures (its local keys, each change
  at the nearest downbeat: ``key_signatures``); one track,
  named after its General MIDI program, holds every note.
- ``performance=True`` keeps what playback needs: a tempo on every detected beat (each beat
  within 0.5 µs + half a tick of its time) and pitch bends. The bend range is set to ±2
  semitones with RPN 0 on every channel used (the General MIDI default, so players that
  ignore RPNs agree). Because a bend applies to a whole channel, bent notes are spread over
  channels so that no two overlapping notes share one (up to 15 channels, the drum channel
  excluded); a channel's bend is reset to 0 at the end of each bent note.
- ``resolution`` (ticks per beat) is high (1920) so that note times survive quantisation to
  well under 1 ms at any usual tempo. ``grid=N`` snaps the notes to 1/N of a beat for
  notation (``workstation export --midi-grid N``).

Reading: ``read_midi`` merges every non-drum instrument into one ``Notes`` (bends attributed
to the notes sounding on their channel, range from RPN 0 when present, else ±2 semitones);
``read_midi_beats`` gives the MIDI beat grid, downbeats from the time signatures (in our own
files, from the first detected beat on).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from workstation.core.errors import AnnotationError
from workstation.core.types import Beats, Key, Notes

from .atomic import atomic_write

log = logging.getLogger(__name__)

#: Pitch-bend range written with RPN 0 and assumed when a file sets none, in semitones.
BEND_RANGE_SEMITONES = 2.0
#: Ticks per beat of the files we write.
DEFAULT_RESOLUTION = 1920
_MAX_CHANNELS = 15  # 16 minus the drum channel


def _pm():
    import pretty_midi  # imported lazily (pulls mido)
    return pretty_midi


# ---------------------------------------------------------------------------------- tempo map

def _tempo_map(beats: Beats | None, *, tolerance: float = 0.0
               ) -> tuple[list[tuple[int, int]], int, int, list[tuple[int, int]]]:
    """The tempo map as (beat index, microseconds per beat) changes, the MIDI beat index of the
    first detected beat, the meter (0 unknown) and the time signatures as (beat index,
    numerator over 4).

    Before the first detected beat ``t0`` comes a pickup of ``m = floor(t0 / ibi + 0.5)`` whole
    beats at the local tempo (``ibi`` = the first inter-beat interval), so its tempo stays
    within a factor of 2 of the music's (the old map squeezed up to a bar into a few ms: 15,000
    BPM). With ``m = 0`` (``t0`` under half a beat) the first detected beat is placed at time 0.
    Time signatures: a partial first bar (``(m + j_d) % meter`` beats, ``j_d`` the index of the
    first detected downbeat) then ``meter/4``, so detected downbeats fall on bar lines.

    ``tolerance`` (fraction of a beat): a new tempo only where the constant tempo since the
    last change (fitted by least squares from where the segment starts) would put a detected
    beat more than ``tolerance`` beats away; each segment starts where the previous one
    placed its last beat, within the tolerance of it, so errors do not add up. 0 puts a tempo
    on every beat (each beat then within 0.5 µs of its time)."""
    if beats is None:
        return [(0, 500_000)], 0, 0, []
    t = np.asarray(beats.times_s, dtype=np.float64)
    keep = np.isfinite(t) & (t >= 0)
    t, first = np.unique(t[keep], return_index=True)
    meter = int(beats.meter) if beats.meter and beats.meter > 0 else 0
    pos = np.asarray(beats.positions, dtype=np.int64)
    pos = pos[keep][first] if len(pos) == len(keep) else np.zeros(len(t), dtype=np.int64)
    if meter == 0 and np.any(pos >= 1):
        meter = int(pos.max())
    if len(t) < 2:
        bpm = float(beats.tempo_bpm) if beats.tempo_bpm and beats.tempo_bpm > 0 else 120.0
        return [(0, int(round(60e6 / bpm)))], 0, meter, ([(0, meter)] if meter else [])
    m = int(np.floor(t[0] / (t[1] - t[0]) + 0.5))
    # grid times in µs: MIDI beat m + j is detected beat j; the pickup spans 0..t0
    target = np.concatenate([[0.0] if m else [], t * 1e6])
    index = np.concatenate([[0] if m else [], m + np.arange(len(t))]).astype(np.int64)
    if not m:
        target[0] = 0.0
    changes: list[tuple[int, int]] = []
    a, actual = 0, 0.0
    while a < len(target) - 1:
        b, us = a + 1, max(1, int(round((target[a + 1] - actual) / (index[a + 1] - index[a]))))
        while b + 1 < len(target) and tolerance > 0:
            k = (index[a + 1:b + 2] - index[a]).astype(np.float64)
            y = target[a + 1:b + 2] - actual
            ibi = float(k @ y / (k @ k))     # least squares through the segment's start
            if np.abs(k * ibi - y).max() > tolerance * ibi:
                break
            b, us = b + 1, max(1, int(round(ibi)))
        if not changes or changes[-1][1] != us:
            changes.append((int(index[a]), us))
        actual += us * (index[b] - index[a])
        a = b
    signatures: list[tuple[int, int]] = []
    if meter > 0:
        downs = np.flatnonzero(pos == 1)
        partial = (m + int(downs[0])) % meter if len(downs) else m % meter
        if partial:
            signatures.append((0, partial))
        signatures.append((partial, meter))
    return changes, m, meter, signatures


def _set_tempo_map(pm, changes: list[tuple[int, int]]) -> None:
    """Install integer-µs tempi in pretty_midi so that it writes exactly these tempi
    (pretty_midi writes ``int(1e6 * tick_scale * resolution)``: nudge against truncation)."""
    res = pm.resolution
    scales = []
    for beat, us in changes:
        ts = us * 1e-6 / res
        while int(6e7 / (60.0 / (ts * res))) < us:
            ts = float(np.nextafter(ts, np.inf))
        scales.append((beat * res, ts))
    pm._tick_scales = scales
    pm._update_tick_to_time(scales[-1][0] + 1)


# ---------------------------------------------------------------------------------- writing

def _channels(on: np.ndarray, off: np.ndarray, pitch: np.ndarray, need: np.ndarray) -> np.ndarray:
    """Channel slot per note: a bent note (``need``) gets a slot where no other note sounds
    during it; a plain note a slot where no bent note and no note of the same pitch sounds
    (MIDI cannot tell overlapping notes of one pitch on one channel apart). Greedy in onset
    order; beyond 15 slots, the slot that frees first is shared (with a warning)."""
    n = len(on)
    slot = np.zeros(n, dtype=np.int64)
    ends: list[float] = []  # end of the last note on each slot
    bent_end: list[float] = []  # end of the last bent note on each slot
    pitch_end: list[dict[int, float]] = []  # end of the last note of each pitch on each slot
    warned = False
    for i in np.argsort(on, kind="stable"):
        p = int(pitch[i])
        if need[i]:
            ok = [k for k in range(len(ends)) if ends[k] <= on[i]]
        else:
            ok = [k for k in range(len(ends))
                  if bent_end[k] <= on[i] and pitch_end[k].get(p, -np.inf) <= on[i]]
        chosen = ok[0] if ok else None
        if chosen is None and len(ends) < _MAX_CHANNELS:
            ends.append(-np.inf)
            bent_end.append(-np.inf)
            pitch_end.append({})
            chosen = len(ends) - 1
        if chosen is None:
            chosen = int(np.argmin(ends))
            if not warned:
                log.warning("more than %d overlapping notes need their own MIDI channel "
                            "(pitch bends or repeated pitches): some will share one",
                            _MAX_CHANNELS)
                warned = True
        slot[i] = chosen
        ends[chosen] = max(ends[chosen], off[i])
        pitch_end[chosen][p] = max(pitch_end[chosen].get(p, -np.inf), off[i])
        if need[i]:
            bent_end[chosen] = max(bent_end[chosen], off[i])
    return slot


def _snap(pm, on: np.ndarray, off: np.ndarray, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Onsets and offsets (s) [shape=(n,)] moved to the nearest multiple of ``step`` ticks of
    ``pm``'s tempo map, each note at least one step long -> (onsets, offsets) in s."""
    def ticks(t):
        return np.array([pm.time_to_tick(max(0.0, float(x))) for x in t], dtype=np.int64)
    a = np.round(ticks(on) / step).astype(np.int64) * step
    b = np.maximum(np.round(ticks(off) / step).astype(np.int64) * step, a + step)
    back = np.vectorize(pm.tick_to_time, otypes=[np.float64])
    return (back(a), back(b)) if len(a) else (on, off)


def _cut_same_pitch_overlaps(on: np.ndarray, off: np.ndarray, pitch: np.ndarray) -> np.ndarray:
    """Offsets [shape=(n,)] s with each note ending no later than the next onset of its pitch."""
    off = off.copy()
    for p in np.unique(pitch):
        idx = np.flatnonzero(pitch == p)
        idx = idx[np.argsort(on[idx], kind="stable")]
        if len(idx) > 1:
            off[idx[:-1]] = np.minimum(off[idx[:-1]], np.maximum(on[idx[1:]], on[idx[:-1]]))
    return off


#: Text event written at the first detected beat; ``read_midi_beats`` drops the pickup's beats
#: before it (they are bar filling, not detected beats).
FIRST_BEAT_TEXT = "workstation: first detected beat"


#: Local key segments shorter than this (s) change no key signature in the MIDI file.
MIN_KEY_SEGMENT_S = 8.0


def key_signatures(key: Key | None, beats: Beats | None = None) -> list[tuple[float, int]]:
    """The key signatures of a key layer: [(time in s, pretty_midi key number: tonic pc,
    +12 for minor)]. The key at 0 s is the first local segment's (the global key when there
    are no segments); each later segment in another key changes it at its start, moved to the
    nearest downbeat when the beats have bar positions (a notation program puts key changes
    at bar lines). Consecutive segments in the same key make one signature, and a segment
    shorter than ``MIN_KEY_SEGMENT_S`` changes nothing (a passing tonicisation, or a local
    estimate that wavers, would clutter the score)."""
    if key is None:
        return []

    def number(pc, mode) -> int | None:
        return int(pc) + (12 if str(mode) == "minor" else 0) if 0 <= int(pc) < 12 else None

    starts = np.asarray(key.local_start_s, dtype=np.float64)
    lengths = np.asarray(key.local_end_s, dtype=np.float64) - starts
    if not len(starts):
        n = number(key.tonic_pc, key.mode)
        return [] if n is None else [(0.0, n)]
    down = np.asarray(beats.downbeats_s, dtype=np.float64) if beats is not None else np.zeros(0)
    out: list[tuple[float, int]] = []
    for i in np.argsort(starts, kind="stable"):
        n = number(key.local_tonic_pc[i], key.local_mode[i])
        if n is None or (out and (out[-1][1] == n or lengths[i] < MIN_KEY_SEGMENT_S)):
            continue
        t = 0.0 if not out else float(starts[i])
        if out and len(down):
            t = float(down[np.argmin(np.abs(down - t))])
            if t <= out[-1][0]:
                continue     # no downbeat between the two changes: keep the earlier key
        out.append((t, n))
    return out


def write_midi(path: str | Path, notes: Notes, *, beats: Beats | None = None,
               key: Key | None = None, program: int = 0, performance: bool = False,
               tempo_tolerance: float | None = None, resolution: int = DEFAULT_RESOLUTION,
               name: str = "", provenance: str = "", grid: int = 0) -> Path:
    """Write notes as a standard MIDI file (see the module docstring for the tempo map).

    notes: onsets/offsets in seconds, pitch_midi 0..127, velocity 1..127. beats: optional;
    its times become the MIDI beat grid (``_tempo_map``). key: optional; its local keys become
    the key signatures (``key_signatures``). program: General MIDI program 0..127; the track is named ``name`` or
    the program's GM name. ``performance=False`` (for notation): one track on one channel, no
    pitch bends, a tempo event only where the beats drift more than ``tempo_tolerance``
    (default 0.1) beats from the current tempo; overlapping notes of one pitch are cut where
    the next one starts (one channel cannot hold both). ``performance=True`` (for playback and
    DAWs): pitch bends, spread over channels so that no two overlapping notes share one, and
    by default a tempo on every detected beat. ``provenance`` (e.g. method and model) is
    written as a text event at time 0. ``grid`` > 0 (for notation): onsets and offsets snap to
    the nearest 1/``grid`` of a MIDI beat (4: sixteenth notes in 4/4), each note at least one
    step long; ``resolution`` must be a multiple of it. ValueError for a bad ``grid``.
    Raises ``AnnotationError`` naming the file when it cannot be written."""
    pretty_midi = _pm()
    path = Path(path)
    grid = int(grid)
    if grid < 0 or (grid and int(resolution) % grid):
        raise ValueError(f"grid {grid}: the beat ({resolution} ticks) cannot be divided into it; "
                         "use 0 (off) or one of 1, 2, 3, 4, 6, 8, 12, 16, 24, 32")
    tol = (0.0 if performance else 0.1) if tempo_tolerance is None else float(tempo_tolerance)
    changes, first_beat, meter, signatures = _tempo_map(beats, tolerance=tol)
    pm = pretty_midi.PrettyMIDI(resolution=int(resolution))
    _set_tempo_map(pm, changes)
    res = pm.resolution
    for beat, numerator in signatures:
        pm.time_signature_changes.append(
            pretty_midi.TimeSignature(int(numerator), 4, pm.tick_to_time(beat * res)))
    for t_s, number in key_signatures(key, beats):
        pm.key_signature_changes.append(pretty_midi.KeySignature(number, t_s))
    if provenance:
        pm.text_events.append(pretty_midi.Text(provenance, 0.0))
    if beats is not None and len(beats.times_s) >= 2:
        pm.text_events.append(pretty_midi.Text(FIRST_BEAT_TEXT, pm.tick_to_time(first_beat * res)))

    on = np.asarray(notes.onsets_s, dtype=np.float64)
    off = np.asarray(notes.offsets_s, dtype=np.float64)
    pitch = np.clip(np.asarray(notes.pitch_midi, dtype=np.int64), 0, 127)
    vel = np.asarray(notes.velocity, dtype=np.int64)
    vel = np.clip(vel if len(vel) == len(on) else np.full(len(on), 100), 1, 127)
    bend_note = np.asarray(notes.bend_note, dtype=np.int64)
    bend_t = np.asarray(notes.bend_times_s, dtype=np.float64)
    bend_c = np.asarray(notes.bend_cents, dtype=np.float64)
    has_bends = performance and len(bend_note) > 0
    need = np.zeros(len(on), dtype=bool)
    if has_bends:
        need[bend_note[(bend_note >= 0) & (bend_note < len(on))]] = True
    if grid:
        on, off = _snap(pm, on, off, res // grid)
    if performance:
        slot = _channels(on, off, pitch, need)
    else:
        slot = np.zeros(len(on), dtype=np.int64)
        off = _cut_same_pitch_overlaps(on, off, pitch)
    n_slots = int(slot.max()) + 1 if len(slot) else 1
    label = name or pretty_midi.program_to_instrument_name(int(program))
    insts = [pretty_midi.Instrument(program=int(program), name=label if n_slots == 1 else f"{label} {k + 1}")
             for k in range(n_slots)]
    for i in range(len(on)):
        start = max(0.0, float(on[i]))
        end = max(start, float(off[i]))
        insts[slot[i]].notes.append(pretty_midi.Note(int(vel[i]), int(pitch[i]), start, end))
    if has_bends:
        t_tick1, t_tick2 = pm.tick_to_time(1), pm.tick_to_time(2)
        scale = 8192.0 / (100.0 * BEND_RANGE_SEMITONES)
        for inst in insts:
            # RPN 0 (pitch-bend sensitivity) = 2 semitones; pretty_midi sorts controllers of
            # one tick by number, so the data entry goes one tick after the RPN select.
            inst.control_changes += [pretty_midi.ControlChange(101, 0, 0.0),
                                     pretty_midi.ControlChange(100, 0, 0.0),
                                     pretty_midi.ControlChange(6, int(BEND_RANGE_SEMITONES), t_tick1),
                                     pretty_midi.ControlChange(38, 0, t_tick1),
                                     pretty_midi.ControlChange(101, 127, t_tick2),
                                     pretty_midi.ControlChange(100, 127, t_tick2)]
        order = np.lexsort((bend_t, bend_note))
        for k in order:
            i = int(bend_note[k])
            if not 0 <= i < len(on):
                continue
            value = int(np.clip(round(bend_c[k] * scale), -8192, 8191))
            t = float(np.clip(bend_t[k], on[i], max(on[i], off[i])))
            insts[slot[i]].pitch_bends.append(pretty_midi.PitchBend(value, t))
        for i in np.flatnonzero(need):  # reset the channel at the end of each bent note
            insts[slot[i]].pitch_bends.append(pretty_midi.PitchBend(0, float(max(on[i], off[i]))))
    pm.instruments.extend(insts)
    with atomic_write(path, "write MIDI") as tmp:
        pm.write(str(tmp))
    return path


# ---------------------------------------------------------------------------------- reading

def _load(path: str | Path):
    pretty_midi = _pm()
    path = Path(path)
    if not path.is_file():
        raise AnnotationError(path, "file not found")
    try:
        head = path.read_bytes()[:14]
    except OSError as exc:
        raise AnnotationError(path, f"cannot read: {exc}") from exc
    if len(head) == 14 and head[:4] == b"MThd" and int.from_bytes(head[12:14], "big") == 0:
        raise AnnotationError(path, "not a readable MIDI file: its header gives 0 ticks per beat")
    try:
        return pretty_midi.PrettyMIDI(str(path))
    except ZeroDivisionError:
        raise AnnotationError(path, "not a readable MIDI file: a tempo of 0 (or 0 ticks per "
                                    "beat) makes its times undefined") from None
    except (OSError, EOFError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise AnnotationError(path, f"not a readable MIDI file: {exc!r}") from exc


def _bend_range(inst) -> float:
    """Pitch-bend range in semitones set by RPN 0 on this instrument's channel (default 2)."""
    rpn = [None, None]
    for cc in sorted(inst.control_changes, key=lambda c: c.time):
        if cc.number == 101:
            rpn[0] = cc.value
        elif cc.number == 100:
            rpn[1] = cc.value
        elif cc.number == 6 and rpn == [0, 0]:
            return float(cc.value)
    return BEND_RANGE_SEMITONES


def read_midi(path: str | Path) -> Notes:
    """Notes of every non-drum instrument of a MIDI file, merged and sorted by onset.

    Pitch bends sounding during a note become its bend points (in cents); confidence is empty
    (MIDI has none). Raises ``AnnotationError`` naming the file when it cannot be read."""
    pm = _load(path)
    on, off, pitch, vel, bn, bt, bc = [], [], [], [], [], [], []
    for inst in pm.instruments:
        if inst.is_drum:
            continue
        cents_per_unit = 100.0 * _bend_range(inst) / 8192.0
        pb = sorted(inst.pitch_bends, key=lambda b: b.time)
        pb_t = np.array([b.time for b in pb], dtype=np.float64)
        pb_v = np.array([b.pitch for b in pb], dtype=np.float64) * cents_per_unit
        for note in inst.notes:
            idx = len(on)
            on.append(note.start)
            off.append(note.end)
            pitch.append(note.pitch)
            vel.append(note.velocity)
            if not len(pb):
                continue
            tol = 1e-9
            inside = np.flatnonzero((pb_t >= note.start - tol) & (pb_t < note.end - tol))
            before = np.flatnonzero(pb_t < note.start - tol)
            pts_t, pts_c = list(pb_t[inside]), list(pb_v[inside])
            if len(before) and pb_v[before[-1]] != 0 and not (
                    len(inside) and abs(pb_t[inside[0]] - note.start) <= tol):
                pts_t.insert(0, note.start)
                pts_c.insert(0, pb_v[before[-1]])
            if pts_c and any(c != 0 for c in pts_c):
                bn += [idx] * len(pts_t)
                bt += pts_t
                bc += pts_c
    order = np.lexsort((np.array(pitch), np.array(on))) if on else np.zeros(0, dtype=np.int64)
    inverse = np.empty(len(on), dtype=np.int64)
    inverse[order] = np.arange(len(on))
    bn_arr = inverse[np.array(bn, dtype=np.int64)] if bn else np.zeros(0, dtype=np.int64)
    border = np.lexsort((np.array(bt), bn_arr)) if bn else np.zeros(0, dtype=np.int64)
    return Notes(onsets_s=np.array(on, dtype=np.float64)[order],
                 offsets_s=np.array(off, dtype=np.float64)[order],
                 pitch_midi=np.array(pitch, dtype=np.int64)[order],
                 velocity=np.array(vel, dtype=np.int64)[order],
                 confidence=np.zeros(0),
                 bend_note=bn_arr[border], bend_times_s=np.array(bt, dtype=np.float64)[border],
                 bend_cents=np.array(bc, dtype=np.float64)[border])


def read_midi_beats(path: str | Path) -> Beats:
    """The beat grid of a MIDI file: beat times from its tempo map (up to its last event),
    positions in the bar from its time signatures (1 = downbeat), the median tempo and the
    meter of the longest-lasting time signature.

    Raises ``AnnotationError`` naming the file when it cannot be read."""
    pm = _load(path)
    times = np.asarray(pm.get_beats(), dtype=np.float64)
    marks = [e.time for e in getattr(pm, "text_events", []) if e.text == FIRST_BEAT_TEXT]
    if marks:   # our own export: the pickup's beats before the first detected beat are filling
        times = times[times >= marks[0] - 1e-6]
    down = np.asarray(pm.get_downbeats(), dtype=np.float64)
    positions = np.zeros(len(times), dtype=np.int64)
    if len(down) and pm.time_signature_changes:
        j = np.clip(np.searchsorted(down, times), 0, len(down) - 1)
        is_down = np.abs(down[j] - times) < 1e-6
        count = 0
        for i in range(len(times)):
            count = 1 if is_down[i] else (count + 1 if count else 0)
            positions[i] = count
    sigs = pm.time_signature_changes
    if (len(sigs) >= 2 and sigs[0].time == 0 and sigs[0].numerator < sigs[1].numerator
            and sigs[0].denominator == sigs[1].denominator):
        # a first bar shorter than the next ones is a pickup (anacrusis): its beats are the
        # last ones of a bar of the next meter
        pick = np.flatnonzero(times < sigs[1].time - 1e-6)
        if 0 < len(pick) <= sigs[0].numerator:
            positions[pick] = sigs[1].numerator - len(pick) + 1 + np.arange(len(pick))
    meter = 0
    if sigs:   # the time signature that lasts longest (not a pickup bar's)
        ends = [x.time for x in sigs[1:]] + [max(pm.get_end_time(), sigs[-1].time)]
        meter = int(sigs[int(np.argmax([e - x.time for x, e in zip(sigs, ends)]))].numerator)
    _, tempi = pm.get_tempo_changes()
    tempo = float(60.0 / np.median(np.diff(times))) if len(times) > 1 else (
        float(tempi[0]) if len(tempi) else 120.0)
    return Beats(times_s=times, positions=positions, tempo_bpm=tempo, meter=meter)


def has_tempo_map(path: str | Path) -> bool:
    """Whether a MIDI file states a tempo map worth reading as beats: several tempi, or one
    tempo that is not the 120 BPM every sequencer writes by default. (A constant 120 BPM map,
    with or without a 4/4 time signature, says nothing about the music: reading it gave a
    fake beat layer on a 0.5-s grid.)"""
    pm = _load(path)
    if any(e.text == FIRST_BEAT_TEXT for e in getattr(pm, "text_events", [])):
        return True     # ours: the beats are detected ones, whatever the tempo
    _, tempi = pm.get_tempo_changes()
    return len(tempi) > 1 or (len(tempi) == 1 and abs(float(tempi[0]) - 120.0) > 1e-3)
