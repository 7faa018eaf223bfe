"""Write one track's results in several formats at once (the CLI's ``export``/``analyze
--out`` and the GUI's export both call this, so they write the same files)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

from workstation.core.types import Result

from .atomic import remove_stale_temps

#: Formats ``write_results`` knows; PNG views are the GUI's own.
FORMATS = ("jams", "midi", "csv", "sv", "audacity")


#: Longest stem (UTF-8 bytes) of an exported file name, so that the stem with the longest
#: suffix (".pitch.salience.csv") stays within the usual 255-byte limit.
MAX_STEM_BYTES = 200


def _clean(text: str, fallback: str) -> str:
    stem = re.sub(r"[^\w.\-]+", "_", text).strip("_")
    stem = stem.encode("utf-8", "replace")[:MAX_STEM_BYTES].decode("utf-8", "ignore")
    return stem or fallback


def safe_stem(path: str | Path, fallback: str = "track") -> str:
    """A file-name stem from an audio path, with anything odd replaced by '_', at most
    ``MAX_STEM_BYTES`` long."""
    return _clean(Path(path).stem, fallback)


def export_stems(paths: Sequence[str], fallbacks: Sequence[str]) -> list[str]:
    """Distinct stems for tracks exported into one folder: each path's ``safe_stem``; where
    several share one (``cd1/take1.wav``, ``cd2/take1.wav``, ``cd2/take1.flac``), those get
    the fewest trailing parent folders that tell them apart (``cd1_take1``, ``cd2_take1``),
    those in the same folder their audio extension (``cd2_take1_wav``, ``cd2_take1_flac``),
    and any still alike their fallback (e.g. ``track17``, unique per track): no export
    overwrites another's. Compared case-insensitively (such file systems are common)."""
    names = [safe_stem(p, f) for p, f in zip(paths, fallbacks)]

    def clashes(names: list[str]) -> list[list[int]]:
        groups: dict[str, list[int]] = {}
        for i, n in enumerate(names):
            groups.setdefault(n.casefold(), []).append(i)
        return [g for g in groups.values() if len(g) > 1]

    for group in clashes(names):
        parents = {i: [q for q in Path(paths[i]).parent.parts if q.strip("/\\")] for i in group}
        depth = max(len(v) for v in parents.values())
        for k in range(1, depth + 1):
            keys = {i: "_".join(parents[i][-k:]) for i in group}
            if len(set(keys.values())) > 1:
                names_k = {i: _clean(f"{keys[i]}_{names[i]}", fallbacks[i]) for i in group}
                break
        else:
            names_k = {i: names[i] for i in group}
        for i in group:
            names[i] = names_k[i]
    for group in clashes(names):
        for i in group:
            names[i] = _clean(f"{names[i]}_{Path(paths[i]).suffix.lstrip('.')}", fallbacks[i])
    for group in clashes(names):
        for i in group:
            names[i] = _clean(f"{names[i]}_{fallbacks[i]}", fallbacks[i])
    return names


def write_results(out_dir: str | Path, stem: str, results: dict[str, Result], formats, *,
                  duration_s: float, title: str | None = None, artist: str | None = None,
                  audio_path: str | None = None, provenance: dict[str, dict] | None = None,
                  midi_grid: int = 0) -> list[Path]:
    """Write ``results`` as ``<out_dir>/<stem>.jams``, ``<stem>.mid`` (when there are notes;
    with the beats' tempo map and the key signature) and ``<stem>.<layer>.csv`` per layer;
    returns the paths. ``provenance`` (``analysis.results.provenance``) is written into each:
    JAMS annotation metadata, a CSV comment line, a MIDI text event. ``midi_grid``: notes
    snapped to 1/N of a beat in the MIDI file (0: as played; ``write_midi``'s ``grid``)."""
    from .csv_io import write_csv
    from .jams_io import write_jams

    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise ValueError(f"unknown export format(s) {', '.join(bad)}; choose from {', '.join(FORMATS)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(out_dir)
    written: list[Path] = []
    if not results:
        return written
    if "jams" in formats:
        p = out_dir / f"{stem}.jams"
        write_jams(p, results, duration_s=duration_s, title=title, artist=artist, audio_path=audio_path,
                   provenance=provenance)
        written.append(p)
    if "midi" in formats and "notes" in results:
        written.append(write_notes_midi(out_dir / f"{stem}.mid", results, provenance,
                                        grid=midi_grid))
    if "csv" in formats:
        written += write_csv(out_dir / stem, results, provenance=provenance)
    if "sv" in formats:   # Sonic Visualiser: <stem>.<layer>.svl and the session <stem>.sv
        from .sonic_visualiser import write_sv
        written += write_sv(out_dir, stem, results, audio_path=audio_path, duration_s=duration_s,
                            provenance=provenance)
    if "audacity" in formats:   # Audacity label tracks: <stem>.<layer>.txt
        from .audacity import write_audacity_labels
        written += write_audacity_labels(out_dir, stem, results, duration_s=duration_s)
    return written


def write_notes_midi(path: str | Path, results: dict[str, Result],
                     provenance: dict[str, dict] | None = None, *, grid: int = 0) -> Path:
    """The notes layer of ``results`` as a MIDI file at ``path``, with the beats' tempo map,
    the key signature and the notes' provenance (``write_midi``; ``grid``: snap the notes to
    1/``grid`` of a beat). Raises ``KeyError`` when there are no notes."""
    from workstation import __version__

    from .midi import write_midi
    made = (provenance or {}).get("notes", {}).get("text", f"notes by the Workstation {__version__}")
    return write_midi(path, results["notes"], beats=results.get("beats"), key=results.get("key"),
                      provenance=made, grid=grid)
