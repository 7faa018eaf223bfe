"""How the default notes method (``auto``) reads each recording: the foreign-note share of
``notes_mono.foreign_note_share`` per recording of the development set, and of any other
folders of real music given with ``--folder`` (e.g. Debian's game soundtracks), with the
choice it makes (monophonic: one note at a time from the f0 track; else polyphonic), and how
much of each set it reads monophonic when a track that is not monophonic as a whole is read
in passages (``monophonic_passages``); and on how many recordings of each set the default f0
(``pitch.f0``'s ``crepe_pyin_fusion``) reads a solo line and averages CREPE with pYIN.

    .venv/bin/python benchmarks/monophony.py [--folder DIR --seconds 60]

Prints one table of sets (median and range of the share, how many read as monophonic) and
the recordings read against their set's kind.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import DEMO, frontend, ours, table  # noqa: E402  (benchmarks/accuracy.py)

from workstation.analysis.analyzers.notes_mono import (PASSAGE_S, foreign_note_share, monophonic_passages,  # noqa: E402
                                                       reads_as_monophonic)
from workstation.analysis.base import get_analyzer  # noqa: E402
from workstation.analysis.pipeline import analyze_array  # noqa: E402
from workstation.core import constants as C  # noqa: E402
from workstation.training import evaldata as ed  # noqa: E402

AUDIO = {".wav", ".flac", ".ogg", ".opus", ".mp3"}


def _files(folder: Path) -> list[ed.Item]:
    return [ed.Item(p.stem, p) for p in sorted(folder.rglob("*")) if p.suffix.lower() in AUDIO]


def sets(folders: list[Path]) -> dict[str, tuple[str, list[ed.Item]]]:
    """name -> (expected kind "mono" | "poly", items)."""
    tags = ed.DEFAULT_ROOT / "tags_genre" / "mirdata_small"
    tag_files = _files(tags) if tags.is_dir() else []
    out = {
        "sung notes (sight-singing, vocadito)": ("mono", list(ed.sung_notes())),
        "MIR-1K solo voice": ("mono", list(ed.mir1k(channel="voice"))),
        "isolated notes, sax phrases, solo flute": ("mono", [
            *ed.isolated_notes(), *[i for i in ed.key_sets() if "sax" in str(i.audio)],
            *[i for i in tag_files if "medley" in i.name]]),
        "real piano": ("poly", list(ed.piano_notes())),
        "MIR-1K mixes": ("poly", list(ed.mir1k(channel="mix"))),
        "demo collection": ("poly", list(ed.demo_collection(DEMO))),
        "GTZAN, beat excerpts, tag clips, similarity pair": ("poly", [
            *ed.gtzan(), *ed.beat_sets(), *[i for i in tag_files if "medley" not in i.name],
            *(_files(ed.DEFAULT_ROOT / "similarity") if (ed.DEFAULT_ROOT / "similarity").is_dir() else [])]),
    }
    for f in folders:
        out[f"{f.parent.name}/{f.name} (--folder)"] = ("poly", _files(f))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--folder", type=Path, action="append", default=[],
                   help="more real (polyphonic) music, every audio file under it")
    p.add_argument("--seconds", type=float, default=60.0,
                   help="of each --folder file, this many seconds from its middle")
    args = p.parse_args()
    rows, odd, mixed = [], [], []
    for name, (kind, items) in sets(args.folder).items():
        shares, mono, mono_s, total_s, split, fused = [], 0, 0.0, 0.0, 0, 0
        for it in items:
            x = ed.load_audio(it)
            if "(--folder)" in name:
                half = int(args.seconds / 2 * C.SAMPLE_RATE)
                x = x[max(0, len(x) // 2 - half): len(x) // 2 + half]
            r = ours(x, ["pitch.f0", "pitch.salience"])
            alone = analyze_array(x, [get_analyzer("pitch.f0", crepe_pyin_fusion=False)],
                                  frontend=frontend()).results["pitch.f0"]
            fused += not np.array_equal(alone.freqs_hz, r["pitch.f0"].freqs_hz)
            got = foreign_note_share(r["pitch.f0"], r["pitch.salience"])
            m = reads_as_monophonic(got)
            mono += m
            passages = monophonic_passages(r["pitch.f0"], r["pitch.salience"])
            mono_s += sum(b - a for a, b, mm in passages if mm)
            total_s += len(x) / C.SAMPLE_RATE
            if len({mm for *_, mm in passages}) > 1:
                split += 1
                mixed.append((name, it.name[:40], ", ".join(
                    f"{a:.0f}-{b:.0f} s {'mono' if mm else 'poly'}" for a, b, mm in passages)))
            shares.append(got[0] if got else np.nan)
            if m != (kind == "mono"):
                odd.append((name, it.name[:40], f"{shares[-1]:.3f}", f"{got[1] if got else 0:.1f} s",
                        f"{got[2] if got else 0:.2f}", "monophonic" if m else "polyphonic"))
        if not items:
            rows.append((name, kind, 0, "absent", "", "", "", ""))
            continue
        v = np.array(shares)
        rows.append((name, kind, len(items), f"{np.nanmedian(v):.2f} ({np.nanmin(v):.2f}-{np.nanmax(v):.2f})",
                     f"{mono} of {len(items)}", f"{split} of {len(items)}",
                     f"{100 * mono_s / max(total_s, 1e-9):.0f} %", f"{fused} of {len(items)}"))
    table("Foreign-note share per set (notes=auto reads a track as monophonic where under 0.1 of its "
          "note frames hold a foreign note and notes sound in 1 s and a tenth of its frames or more)",
          ("set", "kind", "files", "share: median (range)", "read as monophonic",
           f"read in {PASSAGE_S:.0f}-s passages, both kinds", "time read monophonic",
           "f0 fused with pYIN (a solo line)"), rows)
    table("Recordings read against their set's kind",
          ("set", "recording", "share", "note time", "of the frames", "read as"), odd)
    table("Recordings read in passages of both kinds", ("set", "recording", "passages"), mixed)


if __name__ == "__main__":
    main()
