"""CSV export and import, one file per layer, and a reader for other tools' annotation files.

Files written by ``write_csv`` (comma separated, one header row, floats in Python's shortest
round-trip form so that reading gives back exactly the same numbers). The plain layer files
are laid out so that Sonic Visualiser 4.5 imports them with its defaults (checked there:
``time_s,label`` gives a Time Instants layer with bar.beat labels, two numeric columns a
Time Values curve, ``start,end,label`` a Regions layer; SV drops a row whose time is exactly
0, so a first key segment starting at 0 is written at 1 ms); the ``*_full`` companions keep
every frame and confidence for spreadsheets and for reading back exactly:

================  ================================================  ==========================
file              columns                                           rows
================  ================================================  ==========================
f0.csv            time_s,frequency_hz                               one per *voiced* frame
f0_full.csv       time_s,frequency_hz,voiced,confidence             one per frame
multif0.csv       time_s,frequency_hz,salience                      one per salience peak
notes.csv         onset_s,offset_s,pitch_midi,velocity,confidence,  one per note (SV: import
                  note_name                                         the .svl of --format sv)
notes_bends.csv   note_index,time_s,cents                           one per bend point
                                                                    (only when there are bends)
key.csv           start_s,end_s,key                                 one per local segment
key_full.csv      scope,start_s,end_s,key,confidence                ``global`` row first, then
                                                                    one ``local`` row per
                                                                    segment
beats.csv         time_s,label                                      one per beat; label
                                                                    ``bar.beat`` (``b<n>``
                                                                    when the position is
                                                                    unknown)
tempo.csv         quantity,value,confidence                         ``tempo_bpm`` (main),
                                                                    ``alternative_tempo_bpm``,
                                                                    ``meter``
tags.csv          label,score                                       one per tag
embedding.csv     index,value,space                                 one per dimension
================  ================================================  ==========================

Files of the earlier layouts (beats ``time_s,position,tempo_bpm``) are still read.

``write_csv('out/')`` writes ``out/f0.csv`` ...; ``write_csv('out/song')`` writes
``out/song.f0.csv`` .... ``read_csv_layer`` recognises a file by its header (and reads the
``*_bends`` / ``tempo`` / ``*_full`` companion beside notes / beats / f0 and key files).

``read_annotation_file`` reads any annotation file: ``.jams``, ``.mid``/``.midi``, ``.csv``
with our headers, dataset formats known by name and other tables recognised by their
columns with plausibility checks (``workstation.export.guess``), refusing what is ambiguous.
"""

from __future__ import annotations

import csv
import logging
import math
import re
from pathlib import Path

import numpy as np

from workstation.core.errors import AnnotationError
from workstation.core.types import (Beats, Embedding, Key, Notes, PitchTrack, Result, Salience,
                                    Tags)
from workstation.core.units import key_label, midi_to_note_name, parse_key_label

from .atomic import atomic_write
from .tables import float_column as _floats
from .tables import read_rows as _rows

log = logging.getLogger(__name__)

HEADERS: dict[str, list[str]] = {
    "f0": ["time_s", "frequency_hz"],
    "f0_full": ["time_s", "frequency_hz", "voiced", "confidence"],
    "multif0": ["time_s", "frequency_hz", "salience"],
    "notes": ["onset_s", "offset_s", "pitch_midi", "velocity", "confidence", "note_name"],
    "notes_bends": ["note_index", "time_s", "cents"],
    "key": ["start_s", "end_s", "key"],
    "key_full": ["scope", "start_s", "end_s", "key", "confidence"],
    "beats": ["time_s", "label"],
    "tempo": ["quantity", "value", "confidence"],
    "tags": ["label", "score"],
    "embedding": ["index", "value", "space"],
}
#: Headers of earlier layouts, still read: their layer.
OLD_HEADERS: dict[str, list[str]] = {"beats_v1": ["time_s", "position", "tempo_bpm"]}
#: Analyzer id given to each layer when reading.
LAYER_IDS = {"f0": "pitch.f0", "f0_full": "pitch.f0", "key_full": "key", "beats_v1": "beats", "multif0": "pitch.salience", "notes": "notes", "key": "key",
             "beats": "beats", "tags": "tags", "embedding": "embedding"}
DEFAULT_VELOCITY = 100
#: Where key.csv starts a first segment that starts at 0 s (Sonic Visualiser drops rows at 0).
SV_FIRST_S = 0.001


def beat_labels(positions: np.ndarray, unknown: str | None = None) -> list[str]:
    """``bar.beat`` labels of beats with positions (1 = downbeat; bars counted from the first
    downbeat, a pickup is bar 0), as every export writes them; where the position is unknown
    (0): ``unknown``, or ``b<n>`` (n from 1) when None (the CSV's, read back by position)."""
    out, bar = [], 0
    for i, p in enumerate(np.asarray(positions, dtype=np.int64)):
        if p <= 0:
            out.append(f"b{i + 1}" if unknown is None else unknown)
            continue
        if p == 1:
            bar += 1
        out.append(f"{bar}.{int(p)}")
    return out


def _positions_of(path: Path, labels: list[str]) -> np.ndarray:
    """Beat positions from ``beat_labels`` (``b<n>`` or '' = 0)."""
    pos = np.zeros(len(labels), dtype=np.int64)
    for i, lab in enumerate(labels):
        lab = lab.strip()
        m = re.fullmatch(r"-?\d+\.(\d+)", lab)
        if m:
            pos[i] = int(m.group(1))
        elif lab and not re.fullmatch(r"b\d+", lab):
            raise AnnotationError(path, f"row {i + 2}: beat label {lab!r} is neither bar.beat "
                                  "nor b<n>")
    return pos


def _f(x) -> str:
    """Shortest repr that reads back to the same float64; '' for None/nan."""
    if x is None:
        return ""
    x = float(x)
    return "" if math.isnan(x) else repr(x)


def _layer_path(base: Path, as_dir: bool, layer: str) -> Path:
    return base / f"{layer}.csv" if as_dir else base.with_name(f"{base.name}.{layer}.csv")


def _write(path: Path, layer: str, rows, comment: str = "") -> Path:
    with atomic_write(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        if comment:
            fh.write("# " + comment.replace("\n", " ").replace("\r", " ") + "\n")
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(HEADERS[layer])
        w.writerows(rows)
    return path


def _layer_rows(r: Result) -> list[tuple[str, list]]:
    """(layer name, rows) for one result."""
    if isinstance(r, PitchTrack):
        c = np.asarray(r.confidence, dtype=np.float64)
        c = c if len(c) == len(r.times_s) else np.full(len(r.times_s), np.nan)
        voiced = np.asarray(r.voiced, dtype=bool)
        return [("f0", [(_f(t), _f(f)) for t, f, v in zip(r.times_s, r.freqs_hz, voiced) if v]),
                ("f0_full", [(_f(t), _f(f), int(v), _f(ci)) for t, f, v, ci in
                             zip(r.times_s, r.freqs_hz, voiced, c)])]
    if isinstance(r, Salience):
        t = np.asarray(r.times_s, dtype=np.float64)[np.asarray(r.peak_frame, dtype=np.int64)]
        order = np.lexsort((-np.asarray(r.peak_salience), t))
        return [("multif0", [(_f(t[i]), _f(r.peak_freq_hz[i]), _f(r.peak_salience[i]))
                             for i in order])]
    if isinstance(r, Notes):
        from workstation.core.postprocess import sort_notes
        r = sort_notes(r)
        c = np.asarray(r.confidence, dtype=np.float64)
        c = c if len(c) == len(r) else np.full(len(r), np.nan)
        out = [("notes", [(_f(a), _f(b), int(p), int(v), _f(ci), midi_to_note_name(p))
                          for a, b, p, v, ci in zip(r.onsets_s, r.offsets_s, r.pitch_midi,
                                                    r.velocity, c)])]
        if len(r.bend_note):
            out.append(("notes_bends", [(int(i), _f(t), _f(c)) for i, t, c in
                                        zip(r.bend_note, r.bend_times_s, r.bend_cents)]))
        return out
    if isinstance(r, Key):
        rows = [("global", "", "", key_label(r.tonic_pc, r.mode), _f(r.confidence))]
        plain = []
        lc = np.asarray(r.local_confidence, dtype=np.float64)
        for i, (s, e, pc, m) in enumerate(zip(r.local_start_s, r.local_end_s, r.local_tonic_pc,
                                              r.local_mode)):
            label = key_label(int(pc), str(m))
            rows.append(("local", _f(s), _f(e), label, _f(lc[i]) if i < len(lc) else ""))
            plain.append((_f(SV_FIRST_S if i == 0 and s == 0 else s), _f(e), label))
        return [("key", plain), ("key_full", rows)]
    if isinstance(r, Beats):
        t = np.asarray(r.times_s, dtype=np.float64)
        pos = np.asarray(r.positions, dtype=np.int64)
        pos = pos if len(pos) == len(t) else np.zeros(len(t), dtype=np.int64)
        tempo = [("tempo_bpm", _f(r.tempo_bpm), _f(r.tempo_confidence))]
        tempo += [("alternative_tempo_bpm", _f(a), "") for a in r.tempo_alternatives_bpm]
        tempo += [("meter", str(int(r.meter)), "")]
        return [("beats", [(_f(a), lab) for a, lab in zip(t, beat_labels(pos))]),
                ("tempo", tempo)]
    if isinstance(r, Tags):
        return [("tags", [(str(lab), _f(s)) for lab, s in zip(r.labels, r.scores)])]
    if isinstance(r, Embedding):
        return [("embedding", [(i, _f(v), r.space) for i, v in
                               enumerate(np.asarray(r.vector).ravel())])]
    return []


def write_csv(dir_or_prefix: str | Path, results: dict[str, Result], *,
              provenance: dict[str, dict] | None = None) -> list[Path]:
    """Write one CSV per layer (see the module docstring); returns the paths written.

    dir_or_prefix: an existing directory (or a path ending with a separator) gets
    ``<dir>/<layer>.csv``; anything else is a prefix: ``<prefix>.<layer>.csv``.
    provenance (``analysis.results.provenance``, by analyzer id): its text becomes a first
    ``# ...`` comment line (method, model, sha256 prefix); readers here skip '#' lines."""
    s = str(dir_or_prefix)
    base = Path(dir_or_prefix)
    as_dir = base.is_dir() or s.endswith(("/", "\\"))
    if as_dir:
        base.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    seen: set[str] = set()
    for aid, r in results.items():
        layers = _layer_rows(r)
        if not layers:
            log.warning("CSV export: no layer for %s (%s), skipped", aid, type(r).__name__)
        for layer, rows in layers:
            if layer in seen:
                log.warning("CSV export: a second %s layer (%s) overwrites the first", layer, aid)
            seen.add(layer)
            text = (provenance or {}).get(aid, {}).get("text", "")
            written.append(_write(_layer_path(base, as_dir, layer), layer, rows, text))
    return written


# ---------------------------------------------------------------------------------- reading

def _companion(path: Path, layer: str, companion: str) -> Path | None:
    """``<dir>/<companion>.csv`` beside ``<dir>/<layer>.csv``, ``x.<companion>.csv`` beside
    ``x.<layer>.csv``; None when there is none."""
    name = path.name
    suffix = f"{layer}.csv"
    if name == suffix or name.endswith("." + suffix):
        p = path.with_name(name[: -len(suffix)] + f"{companion}.csv")
        return p if p.is_file() else None
    return None


def _layer_of_header(header: list[str]) -> str | None:
    h = [c.strip().lower() for c in header]
    for layer, cols in {**HEADERS, **OLD_HEADERS}.items():
        if h == cols:
            return layer
    return None


def _full_companion(path: Path, layer: str) -> Result | None:
    """The ``<layer>_full.csv`` beside a plain f0 or key file, read; None when absent."""
    comp = _companion(path, layer, f"{layer}_full")
    if comp is None:
        return None
    rows = _rows(comp)
    if _layer_of_header(rows[0]) != f"{layer}_full":
        return None
    return _read_layer(comp, f"{layer}_full", rows[1:])


def pitch_track_from_hz(times_s: np.ndarray, freqs_hz: np.ndarray) -> PitchTrack:
    """f0 from a time column (s) and a Hz column (<= 0: unvoiced; a negative value keeps its
    magnitude as the pitch guess). Tools that write only the voiced frames (Sonic Visualiser,
    Tony, our f0.csv) leave gaps: where two frames are more than 1.5 hops apart (hop = median
    spacing), an unvoiced frame goes one hop after the first and one hop before the second,
    so that resampling (Compare, mir_eval) never bridges a gap as voiced."""
    t = np.asarray(times_s, dtype=np.float64)
    f = np.asarray(freqs_hz, dtype=np.float64)
    if len(t) > 2:
        d = np.diff(t)
        hop = float(np.median(d))
        gaps = np.flatnonzero(d > 1.5 * hop) if hop > 0 else np.zeros(0, dtype=np.int64)
        if len(gaps):
            extra = np.unique(np.r_[t[gaps] + hop, t[gaps + 1] - hop])
            order = np.argsort(np.r_[t, extra], kind="stable")
            t, f = np.r_[t, extra][order], np.r_[f, np.zeros(len(extra))][order]
    voiced = f > 0
    return PitchTrack(times_s=t, freqs_hz=np.abs(f), voiced=voiced,
                      confidence=voiced.astype(np.float64))


def read_csv_layer(path: str | Path) -> Result:
    """Read one CSV written by ``write_csv`` (recognised by its header row) back into its core
    result. Raises ``AnnotationError`` naming the file and the reason."""
    path = Path(path)
    rows = _rows(path)
    layer = _layer_of_header(rows[0])
    if layer is None:
        raise AnnotationError(path, f"unknown CSV header {rows[0]!r} (expected one of: "
                              + "; ".join(",".join(h) for h in HEADERS.values()) + ")")
    return _read_layer(path, layer, rows[1:])


def _check_width(path: Path, rows: list[list[str]], n: int) -> None:
    for i, row in enumerate(rows):
        if len(row) < n:
            raise AnnotationError(path, f"row {i + 2} has {len(row)} columns, expected {n}")


def _read_layer(path: Path, layer: str, rows: list[list[str]]) -> Result:
    header = {**HEADERS, **OLD_HEADERS}[layer]
    _check_width(path, rows, len(header) - (1 if layer in ("notes", "embedding", "beats") else 0))
    if layer in ("f0", "key"):
        full = _full_companion(path, layer)
        if full is not None:
            return full
    if layer == "f0":
        return pitch_track_from_hz(_floats(path, rows, 0), _floats(path, rows, 1))
    if layer == "f0_full":
        conf = _floats(path, rows, 3, allow_empty=True)
        return PitchTrack(times_s=_floats(path, rows, 0), freqs_hz=_floats(path, rows, 1),
                          voiced=_floats(path, rows, 2).astype(bool), confidence=conf)
    if layer == "multif0":
        t = _floats(path, rows, 0)
        times, frame = np.unique(t, return_inverse=True)
        return Salience(times_s=times, freqs_hz=np.zeros(0),
                        values=np.zeros((0, len(times)), dtype=np.float32),
                        peak_frame=frame.astype(np.int64), peak_freq_hz=_floats(path, rows, 1),
                        peak_salience=_floats(path, rows, 2))
    if layer == "notes":
        conf = _floats(path, rows, 4, allow_empty=True)
        notes = Notes(onsets_s=_floats(path, rows, 0), offsets_s=_floats(path, rows, 1),
                      pitch_midi=_floats(path, rows, 2).astype(np.int64),
                      velocity=_floats(path, rows, 3).astype(np.int64),
                      confidence=np.zeros(0) if np.all(np.isnan(conf)) else conf)
        comp = _companion(path, "notes", "notes_bends")
        if comp is not None:
            b = _rows(comp)
            if _layer_of_header(b[0]) == "notes_bends":
                b = b[1:]
                _check_width(comp, b, 3)
                notes.bend_note = _floats(comp, b, 0).astype(np.int64)
                notes.bend_times_s = _floats(comp, b, 1)
                notes.bend_cents = _floats(comp, b, 2)
        return notes
    if layer == "notes_bends":
        raise AnnotationError(path, "a bends file alone has no notes; read the notes.csv beside it")
    if layer == "key":
        try:
            lk = [parse_key_label(r[2]) for r in rows]
        except ValueError as exc:
            raise AnnotationError(path, f"bad key label: {exc}") from None
        if not lk:
            raise AnnotationError(path, "no key segments")
        ls, le = _floats(path, rows, 0), _floats(path, rows, 1)
        gk = _dominant(ls, le, lk)
        return Key(tonic_pc=gk[0], mode=gk[1], confidence=1.0, local_start_s=ls, local_end_s=le,
                   local_tonic_pc=np.array([k[0] for k in lk], dtype=np.int64),
                   local_mode=[k[1] for k in lk], local_confidence=np.ones(len(lk)))
    if layer == "key_full":
        glob = [r for r in rows if r[0].strip().lower() == "global"]
        loc = [r for r in rows if r[0].strip().lower() == "local"]
        try:
            lk = [parse_key_label(r[3]) for r in loc]
            gk = parse_key_label(glob[0][3]) if glob else None
        except ValueError as exc:
            raise AnnotationError(path, f"bad key label: {exc}") from None
        lconf = _floats(path, loc, 4, allow_empty=True)
        ls, le = _floats(path, loc, 1), _floats(path, loc, 2)
        if gk is None:
            if not lk:
                raise AnnotationError(path, "no global or local key rows")
            gk = _dominant(ls, le, lk)
        gconf = _floats(path, glob, 4, allow_empty=True)[0] if glob else 1.0
        return Key(tonic_pc=gk[0], mode=gk[1], confidence=float(gconf), local_start_s=ls,
                   local_end_s=le, local_tonic_pc=np.array([k[0] for k in lk], dtype=np.int64),
                   local_mode=[k[1] for k in lk], local_confidence=lconf)
    if layer in ("beats", "beats_v1", "tempo"):
        if layer == "tempo":
            comp = _companion(path, "tempo", "beats")
            if comp is None:
                raise AnnotationError(path, "a tempo file alone has no beats; read beats.csv")
            return read_csv_layer(comp)
        t = _floats(path, rows, 0)
        if layer == "beats":
            pos = _positions_of(path, [r[1] if len(r) > 1 else "" for r in rows])
        else:
            pos = _floats(path, rows, 1).astype(np.int64)
        beats = Beats(times_s=t, positions=pos, tempo_bpm=0.0)
        comp = _companion(path, "beats", "tempo")
        if comp is not None:
            trows = _rows(comp)
            if _layer_of_header(trows[0]) == "tempo":
                alts = []
                for r in trows[1:]:
                    q = r[0].strip()
                    if q == "tempo_bpm":
                        beats.tempo_bpm = float(r[1])
                        beats.tempo_confidence = float(r[2]) if len(r) > 2 and r[2] else 0.0
                    elif q == "alternative_tempo_bpm":
                        alts.append(float(r[1]))
                    elif q == "meter":
                        beats.meter = int(float(r[1]))
                beats.tempo_alternatives_bpm = np.array(alts, dtype=np.float64)
        elif len(t) > 1:
            beats.tempo_bpm = float(60.0 / np.median(np.diff(t)))
            beats.meter = int(pos.max()) if np.any(pos > 0) else 0
        return beats
    if layer == "tags":
        return Tags(labels=[r[0] for r in rows], scores=_floats(path, rows, 1))
    if layer == "embedding":
        idx = _floats(path, rows, 0).astype(np.int64)
        vals = _floats(path, rows, 1)
        vec = np.zeros(int(idx.max()) + 1 if len(idx) else 0, dtype=np.float64)
        vec[idx] = vals
        space = rows[0][2] if rows and len(rows[0]) > 2 else ""
        return Embedding(vector=vec.astype(np.float32), space=space)
    raise AnnotationError(path, f"unknown layer {layer!r}")  # pragma: no cover


def _dominant(starts, ends, keys) -> tuple[int, str]:
    cover: dict[tuple[int, str], float] = {}
    for s, e, k in zip(starts, ends, keys):
        cover[k] = cover.get(k, 0.0) + max(0.0, e - s)
    return max(cover.items(), key=lambda kv: kv[1])[0]


def read_annotation_file(path: str | Path, reading: str | None = None) -> dict[str, Result]:
    """Read any annotation file into core results keyed by analyzer id, by extension:

    ``.jams`` (``read_jams``), ``.mid``/``.midi`` (notes, and beats when the file has a tempo
    map), ``.csv`` (ours by header, else headerless Sonic Visualiser style), ``.lab``, ``.txt``,
    ``.tsv``, ``.notes``, ``.beats``, ``.f0`` (columns guessed, see ``guess_layer``). What
    is read must make sense (``checks.checked``: finite, non-negative, ordered times, notes
    that end after they start). Raises ``AnnotationError`` naming the file and the reason;
    when the file fits several formats its ``readings`` name them, and ``reading`` (one of
    those labels, chosen by the user) reads the file that way."""
    from .checks import checked
    path = Path(path)
    try:
        return checked(path, _read_any(path))
    except AnnotationError as e:
        if reading is None or not e.readings:
            raise
        if reading not in e.readings:
            raise AnnotationError(path, f"it no longer reads as {reading} ({e.reason})",
                                  readings=e.readings) from e
        return checked(path, e.readings[reading])


def _read_any(path: Path) -> dict[str, Result]:
    ext = path.suffix.lower()
    if not path.is_file():
        raise AnnotationError(path, "file not found")
    from .guess import guess_layer, read_named
    named = read_named(path)
    if named is not None:
        return named
    if ext in (".jams", ".jamz"):
        from .jams_read import read_jams
        return read_jams(path)
    if ext in (".mid", ".midi", ".smf", ".kar"):
        from .midi import has_tempo_map, read_midi, read_midi_beats
        out: dict[str, Result] = {"notes": read_midi(path)}
        if has_tempo_map(path):
            out["beats"] = read_midi_beats(path)
        return out
    if ext in (".csv", ".lab", ".txt", ".tsv", ".notes", ".beats", ".f0", ".onsets", ".tempo"):
        rows = _rows(path)
        layer = _layer_of_header(rows[0])
        if layer is not None:
            if len(rows) == 1:
                raise AnnotationError(path, f"a {layer} table with a header but no data rows")
            r = _read_layer(path, layer, rows[1:])
            return {LAYER_IDS.get(layer, "beats" if layer == "tempo" else layer): r}
        return guess_layer(path, rows)
    raise AnnotationError(path, f"unknown annotation format {ext or '(no extension)'!r}; "
                          "expected .jams, .mid, .csv, .lab or .txt")
