"""Write one track's results in several formats at once (the CLI's ``export``/``analyze
--out`` and the GUI's export both call this, so they write the same files)."""

from __future__ import annotations

import re
from pathlib import Path

from workstation.core.types import Result

#: Formats ``write_results`` knows; PNG views are the GUI's own.
FORMATS = ("jams", "midi", "csv")


def safe_stem(path: str | Path, fallback: str = "track") -> str:
    """A file-name stem from an audio path, with anything odd replaced by '_'."""
    stem = re.sub(r"[^\w.\-]+", "_", Path(path).stem).strip("_")
    return stem or fallback


def write_results(out_dir: str | Path, stem: str, results: dict[str, Result], formats, *,
                  duration_s: float, title: str | None = None, artist: str | None = None,
                  audio_path: str | None = None) -> list[Path]:
    """Write ``results`` as ``<out_dir>/<stem>.jams``, ``<stem>.mid`` (when there are notes;
    with the beats' tempo map) and ``<stem>.<layer>.csv`` per layer; returns the paths."""
    from .csv_io import write_csv
    from .jams_io import write_jams
    from .midi import write_midi

    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise ValueError(f"unknown export format(s) {', '.join(bad)}; choose from {', '.join(FORMATS)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if not results:
        return written
    if "jams" in formats:
        p = out_dir / f"{stem}.jams"
        write_jams(p, results, duration_s=duration_s, title=title, artist=artist, audio_path=audio_path)
        written.append(p)
    if "midi" in formats and "notes" in results:
        p = out_dir / f"{stem}.mid"
        write_midi(p, results["notes"], beats=results.get("beats"))
        written.append(p)
    if "csv" in formats:
        written += write_csv(out_dir / stem, results)
    return written
