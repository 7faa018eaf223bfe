"""The summary table ``workstation analyze`` prints: one row per track with its headline
results (key, tempo, beats, notes, voiced share) and status. The notes cell says "(f0)" where
the notes were read one at a time from the f0 track (``notes`` method ``auto`` on a solo
line, or ``f0``), "(f0+salience)" where ``auto`` read the track in passages of both kinds."""

from __future__ import annotations

from pathlib import Path


def summary_row(lib, specs, t, results: dict | None = None) -> tuple:
    """One track's row of the summary table; ``results``: its results already read (else
    they are read here)."""
    from workstation.analysis.results import analysis_errors, load_results
    from workstation.core.units import key_label

    if t.status != "ok":
        return (Path(t.path).name, "-", "-", "-", "-", "-", "-", "-", f"error: {t.error}")
    r = load_results(lib, t, specs) if results is None else results
    errs = analysis_errors(lib, t, specs)
    key, beats, notes, f0 = r.get("key"), r.get("beats"), r.get("notes"), r.get("pitch.f0")
    status = "ok" if len(r) == len(specs) else (
        "failed: " + "; ".join(f"{k}" for k in errs) if errs else f"{len(r)}/{len(specs)} done")
    return (Path(t.path).name[:40], f"{t.duration_s:.1f}" if t.duration_s else "-",
            key_label(key.tonic_pc, key.mode) if key else "-",
            f"{key.confidence:.2f}" if key else "-",
            f"{beats.tempo_bpm:.1f}" if beats else "-",
            str(len(beats.times_s)) if beats else "-",
            (f"{len(notes)}" + (f" ({notes.method})" if "f0" in notes.method else "")
             if notes is not None else "-"),
            f"{100 * float(f0.voiced.mean()):.0f}" if f0 is not None and len(f0.voiced) else "-",
            status)


def summary_table(lib, specs, tracks, rows_by_id: dict | None = None) -> str:
    """A plain-text table: one row per track with the headline results. ``rows_by_id``: rows
    already made (``summary_row``, while exporting), so no result file is read twice."""
    rows = [("track", "dur s", "key", "conf", "tempo", "beats", "notes", "voiced %", "status")]
    rows += [(rows_by_id or {}).get(t.id) or summary_row(lib, specs, t) for t in tracks]
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
