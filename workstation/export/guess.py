"""Annotation tables without one of our headers: recognise the format from the file name and
the columns, check that the values make sense for it, and refuse what fits no format or
several, naming the file, the candidates and what would settle it. Never a silent guess.

Known by name (the dataset conventions):

==================  ==========================================================  ==========
file                content                                                     layer
==================  ==========================================================  ==========
``*.lerch.txt``     GTZAN key (Lerch): one integer, 0-11 major A..G#, 12-23     key
                    minor a..g#, -1 unknown / modulating
``*.bpm``           one tempo in BPM (GTZAN)                                    tempo only
``*.tempo``         madmom: ``T1 [T2 [salience of T1]]`` on one line            tempo only
``*.pv``            MIR-1K: one MIDI semitone per line (0 = unvoiced), frame k  f0
                    centred at ``0.02 (k + 1)`` s
``*.notes.mirex``,  onset, offset, frequency (Hz)                               notes
``*.mirex``
==================  ==========================================================  ==========

Known by columns (``guess_layer``): times alone (beats, at least two, increasing); time and
a small integer (beats with their position in the bar); time and Hz (f0, 0 or negative =
unvoiced); onset, offset, pitch (MIDI or Hz); time, pitch, duration[, level] (Sonic
Visualiser notes, madmom); any of these with a label column: key labels ("A:minor", "Key
E"), note names ("C#4"), Sonic Visualiser's MIDI-layer labels ("G4 - vel 59") or bar.beat /
integer beat labels. A pitch must lie in MIDI 12..120 (16 Hz..8.4 kHz), a duration in
0..60 s, times must not decrease.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from workstation.core.errors import AnnotationError
from workstation.core.types import Beats, Key, Notes, PitchTrack, Result
from workstation.core.units import hz_to_midi, note_name_to_midi, parse_key_label

from .csv_io import DEFAULT_VELOCITY, _dominant, pitch_track_from_hz
from .tables import float_column as _floats
from .tables import is_number as _is_num
from .tables import read_rows as _rows

#: Plausible pitch range, MIDI (16.4 Hz .. 8.4 kHz), and longest plausible note, s.
PITCH_RANGE = (12.0, 120.0)
MAX_NOTE_S = 60.0
#: GTZAN / Lerch key index -> tonic pitch class (0 = A, ... 11 = G#).
_LERCH_TONIC = [(9 + i) % 12 for i in range(12)]


def _key_of(label: str) -> tuple[int, str] | None:
    """'A:minor', 'A minor', 'Key E' (Isophonics .lab), 'Bb:maj', 'a' (lower case = minor)."""
    s = label.strip()
    if s.lower().startswith("key"):
        s = s[3:].strip()
    parts = s.replace(":", " ").split()
    if not parts or len(parts) > 2 or not re.match(r"^[A-Ga-g][#b]?$", parts[0]):
        return None
    modes = {"major": "major", "maj": "major", "minor": "minor", "min": "minor"}
    if len(parts) == 2:
        if parts[1].lower() not in modes:
            return None
        mode = modes[parts[1].lower()]
    else:
        mode = "minor" if parts[0][0].islower() else "major"
    try:
        tonic, _ = parse_key_label(parts[0])
    except ValueError:
        return None
    return tonic, mode


def _is_midi_range(x: np.ndarray) -> bool:
    return len(x) > 0 and bool(np.all((x >= 0) & (x <= 127)))


def _looks_integer(x: np.ndarray, tol: float = 1e-6) -> bool:
    return len(x) > 0 and bool(np.all(np.abs(x - np.round(x)) < tol))


def _notes_from(on, off, pitch_midi, vel=None) -> Notes:
    p = np.asarray(pitch_midi, dtype=np.float64)
    pi = np.round(p).astype(np.int64)
    dev = 100.0 * (p - pi)
    has = np.abs(dev) > 1e-6
    if vel is None:
        v = np.full(len(p), DEFAULT_VELOCITY, dtype=np.int64)
    else:
        v = np.asarray(vel, dtype=np.float64)
        v = np.round(v * 127) if len(v) and v.max() <= 1.0 else np.round(v)
        v = np.clip(v, 1, 127).astype(np.int64)
    from workstation.core.postprocess import sort_notes
    return sort_notes(Notes(onsets_s=np.asarray(on, dtype=np.float64),
                            offsets_s=np.asarray(off, dtype=np.float64), pitch_midi=pi, velocity=v,
                            bend_note=np.flatnonzero(has).astype(np.int64),
                            bend_times_s=np.asarray(on, dtype=np.float64)[has],
                            bend_cents=dev[has]))


def read_named(path: Path) -> dict[str, Result] | None:
    """The formats known by their file name (table above); None for any other name."""
    name = path.name.lower()
    if name.endswith(".lerch.txt"):
        return {"key": _lerch_key(path)}
    if name.endswith(".bpm"):
        return {"beats": _tempo_only(path, _numbers(path, 1, 1))}
    if name.endswith(".tempo"):
        return {"beats": _tempo_only(path, _numbers(path, 1, 3))}
    if name.endswith(".pv"):
        return {"pitch.f0": _mir1k_pv(path)}
    if name.endswith(".vocal"):
        raise AnnotationError(path, "MIR-1K voicing labels (0/1 per frame) hold no pitch: open "
                              "the .pv file of the same clip, which has the f0 (0 = unvoiced)")
    if name.endswith(".mirex"):
        rows = _rows(path)
        if min(len(r) for r in rows) < 3:
            raise AnnotationError(path, "a MIREX notes file needs onset, offset and Hz per row")
        a, b, c = (_floats(path, rows, k) for k in range(3))
        return {"notes": _checked_notes(path, a, b, hz_to_midi(np.maximum(c, 1e-9)), None,
                                        "onset, offset, Hz (MIREX)")}
    return None


def _numbers(path: Path, lo: int, hi: int) -> np.ndarray:
    """The numbers of a one-line file, between ``lo`` and ``hi`` of them."""
    rows = _rows(path)
    vals = [v for r in rows for v in r if v != ""]
    if len(rows) != 1 or not lo <= len(vals) <= hi or not all(_is_num(v) for v in vals):
        raise AnnotationError(path, f"expected one line of {lo}-{hi} numbers, found {len(rows)} "
                              f"line(s) starting {' '.join(rows[0])[:40]!r}")
    return np.array([float(v) for v in vals])


def _tempo_only(path: Path, vals: np.ndarray) -> Beats:
    if not np.all(np.isfinite(vals[:2])) or not 10.0 <= vals[0] <= 400.0:
        raise AnnotationError(path, f"tempo {vals[0]:g} BPM is not between 10 and 400")
    alts = vals[1:2] if len(vals) >= 2 and 10.0 <= vals[1] <= 400.0 else np.zeros(0)
    conf = float(np.clip(vals[2], 0.0, 1.0)) if len(vals) >= 3 else 0.0
    return Beats(times_s=np.zeros(0), positions=np.zeros(0, dtype=np.int64),
                 tempo_bpm=float(vals[0]), tempo_alternatives_bpm=alts, tempo_confidence=conf)


def _lerch_key(path: Path) -> Key:
    return _lerch_key_from(path, _numbers(path, 1, 1)[0])


def _lerch_key_from(path: Path, k: float) -> Key:
    if k != int(k) or not -1 <= k <= 23:
        raise AnnotationError(path, f"a GTZAN key index must be an integer in -1..23, not {k:g}")
    if k < 0:
        raise AnnotationError(path, "the GTZAN key file says -1: no single key (modulating or "
                              "unknown), so there is no key to compare with")
    k = int(k)
    return Key(tonic_pc=_LERCH_TONIC[k % 12], mode="minor" if k >= 12 else "major", confidence=1.0)


def _mir1k_pv(path: Path) -> PitchTrack:
    rows = _rows(path)
    if min(len(r) for r in rows) != 1 or max(len(r) for r in rows) != 1:
        raise AnnotationError(path, "a MIR-1K .pv file has one number (MIDI, 0 = unvoiced) per line")
    midi = _floats(path, rows, 0)
    voiced = midi > 0
    if np.any(voiced & ((midi < PITCH_RANGE[0]) | (midi > PITCH_RANGE[1]))):
        raise AnnotationError(path, "pitches outside MIDI 12..120: not a MIR-1K .pv file")
    freqs = np.where(voiced, 440.0 * 2.0 ** ((midi - 69.0) / 12.0), 0.0)
    return PitchTrack(times_s=0.02 * (np.arange(len(midi)) + 1), freqs_hz=freqs, voiced=voiced,
                      confidence=voiced.astype(np.float64))


def _pitch_ok(x: np.ndarray) -> bool:
    """MIDI values in the plausible range (see ``PITCH_RANGE``)."""
    return len(x) > 0 and bool(np.all((x >= PITCH_RANGE[0]) & (x <= PITCH_RANGE[1])))


def _as_midi(x: np.ndarray) -> np.ndarray | None:
    """A pitch column as MIDI: MIDI numbers if all lie in 12..120, Hz if all lie in
    16.4 Hz..8.4 kHz and some exceed 120; None if neither."""
    if _pitch_ok(x):
        return x
    if len(x) and np.all(x > 0):
        m = hz_to_midi(x)
        if _pitch_ok(m) and np.any(x > PITCH_RANGE[1]):
            return m
    return None


def _note_readings(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> dict[str, tuple]:
    """The plausible readings of three numeric columns as notes: {description: (onset, offset,
    MIDI)}."""
    out = {}
    if np.all(b >= a) and np.all(b - a <= MAX_NOTE_S) and (m := _as_midi(c)) is not None:
        out["onset, offset, pitch"] = (a, b, m)
    if np.all((c >= 0) & (c <= MAX_NOTE_S)) and (m := _as_midi(b)) is not None:
        out["onset, pitch, duration"] = (a, a + c, m)
    return out


def _checked_notes(path, on, off, midi, level, what: str) -> Notes:
    if np.any(np.diff(on) < 0) and not np.all(np.isfinite(on)):
        raise AnnotationError(path, f"onsets are not times ({what})")
    if not _pitch_ok(np.asarray(midi)):
        raise AnnotationError(path, f"pitches outside MIDI 12..120 (16 Hz..8.4 kHz) reading {what}")
    return _notes_from(on, off, midi, level)


def _increasing(t: np.ndarray) -> bool:
    return bool(np.all(np.diff(t) >= 0))


def guess_layer(path: str | Path, rows: list[list[str]] | None = None) -> dict[str, Result]:
    """Read an annotation table without one of our headers (see the module docstring).
    Raises ``AnnotationError`` naming the file when no format fits or several do."""
    path = Path(path)
    named = read_named(path)
    if named is not None:
        return named
    rows = _rows(path) if rows is None else rows
    width = min(len(r) for r in rows)
    while width > 1 and all(r[width - 1] == "" for r in rows):  # empty label column (SV)
        width -= 1
    if width == 0:
        raise AnnotationError(path, "empty rows")
    if len(rows) > 1 and not _is_num(rows[0][0]) and all(_is_num(r[0]) for r in rows[1:]):
        return _from_header(path, rows[0], rows[1:])
    numeric = [all(_is_num(r[c]) for r in rows) for c in range(width)]
    if not numeric[0]:
        raise AnnotationError(path, f"first column is not a time in seconds (e.g. {rows[0][0]!r}): "
                              "if the first row names the columns, use one of the Workstation's "
                              "CSV layouts (README, Export)")
    n_num = numeric.index(False) if False in numeric else width
    labels = [r[n_num] for r in rows] if n_num < width else None
    cols = [_floats(path, rows, c) for c in range(n_num)]
    t = cols[0]
    if not _increasing(t):
        raise AnnotationError(path, "the first column is not a time line (its values decrease)")
    if labels is not None:
        return _from_labels(path, cols, labels)
    if n_num == 1:
        if len(t) < 2:
            raise AnnotationError(path, f"a single number ({t[0]:g}) could be a beat time, a tempo "
                                  "or a key index: name the file *.bpm for a tempo or *.lerch.txt "
                                  "for a GTZAN key", readings=_single_number_readings(path, t[0]))
        return {"beats": _beats_from(t, None)}
    if n_num == 2:
        v = cols[1]
        if _looks_integer(v) and np.all((v >= 0) & (v <= 16)):
            return {"beats": _beats_from(t, v.astype(np.int64))}
        hz = np.abs(v[v != 0])
        if len(hz) and not np.all((hz >= 16.0) & (hz <= 8400.0)):
            raise AnnotationError(path, "time and value columns, but the values are neither beat "
                                  "positions (0..16) nor frequencies (16 Hz..8.4 kHz)")
        return {"pitch.f0": pitch_track_from_hz(t, v)}
    if n_num == 3 and np.all(cols[1] == cols[0]):   # point labels (start = end): bar.beat text
        bar_beat = [re.match(r"^\d+\.(\d+)$", r[2].strip()) for r in rows]
        if all(bar_beat) and max(int(m.group(1)) for m in bar_beat) <= 16:
            return {"beats": _beats_from(t, np.array([int(m.group(1)) for m in bar_beat]))}
    return _notes_table(path, cols)


def _notes_table(path: Path, cols: list[np.ndarray], labels: list[str] | None = None
                 ) -> dict[str, Result]:
    """Three or more numeric columns as notes (a fourth is the level / velocity)."""
    a, b, c = cols[0], cols[1], cols[2]
    level = cols[3] if len(cols) >= 4 else None
    readings = _note_readings(a, b, c)
    if labels is not None and len(readings) > 1:   # note-name labels settle it
        named = [_label_midi(s) for s in labels]
        if all(m is not None for m in named):
            readings = {k: v for k, v in readings.items() if np.allclose(np.round(v[2]), named)}
    if len(readings) == 1:
        (what, (on, off, midi)), = readings.items()
        return {"notes": _checked_notes(path, on, off, midi, level, what)}
    if not readings:
        raise AnnotationError(path, f"{len(cols)} numeric columns that are not notes: neither "
                              "onset, offset, pitch nor onset, pitch, duration gives pitches in "
                              "MIDI 12..120 (or 16 Hz..8.4 kHz) and durations of 0..60 s")
    choices = {}
    for what, (on, off, midi) in readings.items():
        try:
            choices[f"notes: {what}"] = {"notes": _checked_notes(path, on, off, midi, level, what)}
        except AnnotationError:
            pass
    raise AnnotationError(path, "could be notes as " + " or as ".join(readings) + ": both give "
                          "plausible notes; write a header (onset_s,offset_s,pitch_midi) or note-"
                          "name labels so the columns are known", readings=choices)


def _single_number_readings(path: Path, x: float) -> dict[str, dict[str, Result]]:
    """The readings of a file holding one number: a tempo (BPM, 20..400) and a GTZAN key index
    (an integer -1..23); a single beat time is no use as a layer."""
    out = {}
    if 20.0 <= x <= 400.0:
        out["tempo in BPM"] = {"beats": _tempo_only(path, np.array([x]))}
    if float(x).is_integer() and -1 <= x <= 23:
        try:
            out["GTZAN key index"] = {"key": _lerch_key_from(path, int(x))}
        except AnnotationError:
            pass
    return out


_SV_MIDI_LABEL = re.compile(r"^\s*([A-Ga-g][#b]?-?\d)\s*-\s*vel\s*\d+\s*$")


def _label_midi(s: str) -> int | None:
    """A note-name label ('C#4') or Sonic Visualiser's MIDI-layer label ('G4 - vel 59')."""
    m = _SV_MIDI_LABEL.match(s)
    return note_name_to_midi(m.group(1) if m else s)


def _beats_from(t: np.ndarray, pos: np.ndarray | None) -> Beats:
    pos = np.zeros(len(t), dtype=np.int64) if pos is None else pos
    tempo = float(60.0 / np.median(np.diff(t))) if len(t) > 1 else 0.0
    return Beats(times_s=t, positions=pos, tempo_bpm=tempo,
                 meter=int(pos.max()) if np.any(pos > 0) else 0)


def _from_labels(path: Path, cols: list[np.ndarray], labels: list[str]) -> dict[str, Result]:
    t = cols[0]
    keys = [_key_of(s) for s in labels]
    skip = [s.strip().lower() in ("silence", "n", "x", "", "none") for s in labels]
    is_key = any(k is not None for k in keys) and all(k is not None or sk for k, sk in zip(keys, skip))
    midi = [_label_midi(s) for s in labels]
    if len(cols) >= 3 and not is_key:   # time, value, duration[, level], label (SV notes)
        return _notes_table(path, cols, labels)
    if len(cols) >= 2 and np.all(cols[1] >= t):
        end = cols[1]
    else:  # instants: each segment lasts until the next one
        end = np.r_[t[1:], t[-1:]]
    if is_key:
        sel = [i for i, k in enumerate(keys) if k is not None]
        ks = [keys[i] for i in sel]
        s, e = t[sel], end[sel]
        tonic, mode = _dominant(s, e, ks)
        total = float(np.sum(e - s))
        cover = float(np.sum([ei - si for si, ei, k in zip(s, e, ks) if k == (tonic, mode)]))
        return {"key": Key(tonic_pc=tonic, mode=mode, confidence=cover / total if total > 0 else 1.0,
                           local_start_s=s, local_end_s=e,
                           local_tonic_pc=np.array([k[0] for k in ks], dtype=np.int64),
                           local_mode=[k[1] for k in ks], local_confidence=np.ones(len(ks)))}
    if all(m is not None for m in midi):
        if len(cols) < 2 or np.all(cols[1] <= t):
            raise AnnotationError(path, "labels name notes but the rows are points in time (no "
                                  "end or duration): notes need one; in Audacity label regions, "
                                  "not points")
        return {"notes": _checked_notes(path, t, end, np.array(midi, dtype=np.float64), None,
                                        "start, end, note name")}
    beat_pos = []
    for s in labels:
        m = re.match(r"^(?:\d+\.)?(\d+)$", s.strip())
        beat_pos.append(int(m.group(1)) if m else None)
    if all(p is not None for p in beat_pos) and max(beat_pos) <= 16:
        return {"beats": _beats_from(t, np.array(beat_pos, dtype=np.int64))}
    raise AnnotationError(path, "labels are neither keys, note names nor beat positions "
                          f"(e.g. {labels[0]!r})")




#: Column names understood in other tools' headed tables, by role.
_ROLES: dict[str, set[str]] = {
    "time": {"time", "time_s", "t", "onset", "onset_s", "onset_time", "start", "start_s",
             "start_time", "timestamp", "seconds", "sec", "beat_time", "beat_times"},
    "end": {"end", "end_s", "end_time", "offset", "offset_s", "offset_time", "stop"},
    "duration": {"duration", "dur", "duration_s", "length"},
    "midi": {"pitch", "midi", "pitch_midi", "midi_pitch", "note", "note_number", "midi_note"},
    "hz": {"frequency", "freq", "hz", "f0", "frequency_hz", "f0_hz", "pitch_hz", "value_hz"},
    "position": {"beat", "position", "beat_position", "beat_number", "pos", "beat_in_bar"},
    "level": {"velocity", "vel", "level", "amplitude", "confidence"},
    "label": {"label", "labels", "key", "chord", "name", "text", "annotation"},
}
_INDEX_NAMES = {"", "index", "unnamed: 0", "#", "id", "idx", "n"}


def _from_header(path: Path, header: list[str], rows: list[list[str]]) -> dict[str, Result]:
    """A table whose first row names its columns (pandas' CSVs with an index column, quoted
    semicolon-separated headers...): the layer follows from the names, not from guessing."""
    names = [h.strip().strip('"').strip("'").strip().lower() for h in header]
    width = min(len(names), min(len(r) for r in rows))
    cols: dict[str, int] = {}
    unknown = []
    for c, n in enumerate(names[:width]):
        role = next((r for r, ns in _ROLES.items() if n in ns), None)
        if role is None and n in _INDEX_NAMES:
            v = _floats(path, rows, c)
            if np.array_equal(v, np.arange(len(v))) or np.array_equal(v, np.arange(1, len(v) + 1)):
                continue                                   # a row index: not data
        if role is None or role in cols:
            unknown.append(header[c])
            continue
        cols[role] = c
    if unknown or "time" not in cols:
        understood = ", ".join(sorted(n for ns in _ROLES.values() for n in ns if len(n) > 3)[:12])
        raise AnnotationError(path, f"a table with the header {', '.join(header)!r}: "
                              + (f"columns {', '.join(map(repr, unknown))} are not understood"
                                 if unknown else "no time column")
                              + f" (names understood include {understood}...)")

    def col(role: str) -> np.ndarray:
        return _floats(path, rows, cols[role])

    t = col("time")
    if not _increasing(t):
        raise AnnotationError(path, f"column {header[cols['time']]!r} is not a time line (its values decrease)")
    if "label" in cols:
        numeric = [t] + [col(r) for r in ("end", "duration") if r in cols][:1]
        if "duration" in cols and "end" not in cols:
            numeric = [t, t + col("duration")]
        return _from_labels(path, numeric, [r[cols["label"]] for r in rows])
    pitch = col("midi") if "midi" in cols else hz_to_midi(np.maximum(col("hz"), 1e-9)) if "hz" in cols else None
    if pitch is not None and ("end" in cols or "duration" in cols):
        end = col("end") if "end" in cols else t + col("duration")
        level = col("level") if "level" in cols else None
        return {"notes": _checked_notes(path, t, end, pitch, level, "the named columns")}
    if "hz" in cols and not ({"end", "duration", "midi"} & set(cols)):
        return {"pitch.f0": pitch_track_from_hz(t, col("hz"))}
    if set(cols) <= {"time", "position", "level"}:
        pos = col("position").astype(np.int64) if "position" in cols else None
        return {"beats": _beats_from(t, pos)}
    raise AnnotationError(path, f"columns {', '.join(header)!r} make no layer (notes need a time, an "
                          "end or duration and a pitch; f0 a time and Hz; beats a time)")
