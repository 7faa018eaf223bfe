"""Audacity label tracks: one ``<stem>.<layer>.txt`` per layer, which Audacity imports with
File ▸ Import ▸ Labels (and our reader, ``read_annotation_file``, reads back).

The format is Audacity's own export of a label track: one label per line,
``start<TAB>end<TAB>text``, times in seconds written with 6 decimals (Audacity writes 6),
point labels with ``end == start``, UTF-8:

============  ==========================================================================
file          labels
============  ==========================================================================
beats.txt     a point label per beat, text ``bar.beat`` (bar 0 = before the first detected
              downbeat; just the beat number when the position is unknown: ``?``)
notes.txt     a region label per note, text the note name (``C#4``; pitch bends are not
              kept: Audacity has no place for them)
key.txt       a region label per local key segment (``A minor``); the global key alone
              when there are no local segments
============  ==========================================================================

f0, salience, tags and embeddings have no label form and are not written.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from workstation.core.atomic import atomic_write
from workstation.core.errors import AnnotationError
from workstation.core.types import Beats, Key, Notes, Result
from workstation.core.units import key_label, midi_to_note_name

from .csv_io import beat_labels


def _beat_labels(b: Beats) -> list[tuple[float, float, str]]:
    t = np.asarray(b.times_s, dtype=np.float64)
    pos = np.asarray(b.positions, dtype=np.int64)
    if len(pos) != len(t):
        pos = np.zeros(len(t), dtype=np.int64)
    return [(float(x), float(x), lab) for x, lab in zip(t, beat_labels(pos, unknown="?"))]


def _note_labels(n: Notes) -> list[tuple[float, float, str]]:
    order = np.argsort(np.asarray(n.onsets_s), kind="stable")
    return [(float(n.onsets_s[i]), float(max(n.offsets_s[i], n.onsets_s[i])),
             midi_to_note_name(int(n.pitch_midi[i]))) for i in order]


def _key_labels(k: Key, duration_s: float) -> list[tuple[float, float, str]]:
    def name(tonic, mode):
        return key_label(int(tonic), str(mode)).replace(":", " ")
    if len(k.local_start_s):
        return [(float(s), float(e), name(t, m)) for s, e, t, m in
                zip(k.local_start_s, k.local_end_s, k.local_tonic_pc, k.local_mode)]
    return [(0.0, float(duration_s), name(k.tonic_pc, k.mode))]


def write_audacity_labels(out_dir: str | Path, stem: str, results: dict[str, Result], *,
                          duration_s: float) -> list[Path]:
    """Write ``<out_dir>/<stem>.beats.txt``, ``.notes.txt`` and ``.key.txt`` for the layers
    present in ``results`` (analyzer id -> result); returns the paths written. Raises
    ``AnnotationError`` naming a file that cannot be written."""
    out_dir = Path(out_dir)
    layers = []
    for r in results.values():
        if isinstance(r, Beats) and len(r.times_s):
            layers.append(("beats", _beat_labels(r)))
        elif isinstance(r, Notes) and len(r.onsets_s):
            layers.append(("notes", _note_labels(r)))
        elif isinstance(r, Key):
            layers.append(("key", _key_labels(r, duration_s)))
    written = []
    for layer, labels in layers:
        path = out_dir / f"{stem}.{layer}.txt"
        text = "".join(f"{s:.6f}\t{e:.6f}\t{lab.replace(chr(9), ' ').replace(chr(10), ' ')}\n"
                       for s, e, lab in labels)
        with atomic_write(path, "write Audacity labels", error=AnnotationError) as tmp:
            tmp.write_text(text, encoding="utf-8")
        written.append(path)
    return written
