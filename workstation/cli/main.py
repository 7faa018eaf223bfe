"""``workstation``: the headless command line (analysis, library, export).

    workstation analyze PATH... [--out DIR] [--format jams,midi,csv] [--device auto|cpu|cuda]
                                [--analyzers pitch.f0,notes,...] [--library DIR] [--force]
                                [--cluster local:N|auto|ray://HOST:PORT]
    workstation library scan DIR | status | list
    workstation export [PATH...] --out DIR [--format ...]
    workstation similar TRACK [-k N] [--filter NAME=VALUE ...] [--region START-END] [--json]
    workstation playlist SEED... [--to TRACK] [--length N] [--mode nearest|walk] -o list.m3u8
    workstation tag add|remove TRACK TAG... | list [TRACK] | suggest [--min-score S] [--tag T]
    workstation layer set TRACK FILE --layer L | revert TRACK --layer L | list [TRACK]
    workstation demo            analyse the bundled demo collection and print a summary
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import workstation
from workstation.core.errors import WorkstationError
from workstation.export.batch import FORMATS

from .common import _open_library, _resolve_track
from .layers import cmd_layer
from .parser import build_parser
from .summary import summary_row, summary_table

log = logging.getLogger("workstation")

#: The bundled demo collection (``workstation.DEMO_DIR``: in the repository or the desktop bundle).
DEMO_DIR = workstation.DEMO_DIR


def _formats(text: str) -> list[str]:
    fmts = [f.strip().lower() for f in text.split(",") if f.strip()]
    bad = [f for f in fmts if f not in FORMATS]
    if bad:
        raise WorkstationError(f"unknown export format(s) {', '.join(bad)}; choose from {', '.join(FORMATS)}")
    return fmts


def _add_paths(lib, paths: list[str], quiet: bool) -> tuple[list, int]:
    """Scan folders and add files -> (the tracks (status ok or error) for these paths, how many
    files were skipped without a track: links in a loop, pipes, devices and the like)."""
    tracks, skipped = [], 0
    for p in paths:
        path = Path(p).expanduser()
        if not path.exists():
            raise WorkstationError(f"{path}: no such file or folder")
        if path.is_dir():
            report = lib.scan(path)
            for bad_path, reason in report.failed:
                print(f"skipped {bad_path}: {reason}", file=sys.stderr)
            catalogued = {t.path for t in lib.tracks()}
            skipped += sum(1 for bad_path, _ in report.failed if bad_path not in catalogued)
            root = str(path.resolve())
            tracks += [t for t in lib.tracks() if t.path.startswith(root + os.sep) and t.status != "missing"]
        else:
            try:
                tracks.append(lib.add_file(path))
            except WorkstationError as exc:
                print(f"skipped {exc}", file=sys.stderr)
                t = lib.track_by_path(path.resolve())
                if t is not None:
                    tracks.append(t)
                else:
                    skipped += 1
    seen, out = set(), []
    for t in tracks:
        if t.id not in seen:
            seen.add(t.id)
            out.append(t)
    return out, skipped


def _run_jobs(lib, specs, tracks, *, device: str, force: bool, quiet: bool,
              cluster: str | None = None, workers: int | None = None,
              gpu_share: float | None = None) -> dict:
    from tqdm import tqdm

    from workstation.analysis.scheduler import Scheduler, default_workers, jobs_for

    ok_tracks = [t for t in tracks if t.status == "ok"]
    jobs = jobs_for(lib, specs, [t.id for t in ok_tracks], force=force) if ok_tracks else []
    if not jobs:
        return {"done": 0, "failed": 0, "cancelled": 0, "crashes": 0, "analyzers_failed": 0}
    names = {j.track_id: Path(j.path).name for j in jobs}
    tty = sys.stderr.isatty()
    bar = tqdm(total=len(jobs), unit="track", disable=quiet or not tty, dynamic_ncols=True,
               bar_format="{l_bar}{bar}| {n:.2f}/{total} [{elapsed}<{remaining}]")
    state = {"base": 0.0, "running": {}}   # tracks finished; progress of each track in flight

    def say(line: str) -> None:
        """One line on stderr, in one write, so that a worker's log line never lands inside it."""
        if tty:
            tqdm.write(line, file=sys.stderr)
        else:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()

    def on_event(ev):
        if ev.kind == "analyzer_failed":     # the reason, whatever else the event updates
            say(f"failed: {ev.message}")
        if ev.kind == "track_started":
            bar.set_description(names.get(ev.track_id, "")[:40])
        elif ev.kind in ("progress", "analyzer_done", "analyzer_failed") and ev.progress is not None:
            state["running"][ev.track_id] = min(ev.progress, 1.0)
            bar.n = state["base"] + sum(state["running"].values())
            bar.refresh()
        elif ev.kind in ("track_done", "track_failed", "track_cancelled"):
            state["base"] += 1
            state["running"].pop(ev.track_id, None)
            bar.n = state["base"] + sum(state["running"].values())
            bar.refresh()
            if not tty and not quiet:  # a log, not a bar, when the output is not a terminal
                status = {"track_done": "done", "track_failed": "failed",
                          "track_cancelled": "cancelled"}[ev.kind]
                if ev.kind == "track_done" and (ev.data or {}).get("failed"):
                    status = "done, but failed: " + ", ".join(ev.data["failed"])
                if (ev.data or {}).get("node"):
                    status += f" (on {ev.data['node']})"
                say(f"[{int(state['base'])}/{len(jobs)}] {names.get(ev.track_id, '')}: {status}")
            if ev.kind == "track_failed":
                say(f"failed: {ev.message}")

    if cluster:
        from .cluster import run_on_cluster_cli
        return run_on_cluster_cli(lib, jobs, cluster, on_event, bar, device=device, quiet=quiet,
                                  gpu_share=gpu_share)
    sched = Scheduler(lib, device=device,
                      workers=default_workers(len(jobs)) if workers is None else min(workers, len(jobs)))
    try:
        counts = sched.run(jobs, on_event)
    except KeyboardInterrupt:
        sched.cancel()
        sched.close()
        print("\ncancelled; run the same command again to resume", file=sys.stderr)
        raise SystemExit(130)
    finally:
        bar.close()
    return counts


def _export(lib, specs, tracks, out_dir: Path, fmts: list[str], midi_grid: int = 0,
            on_loaded=None) -> tuple[list[Path], int]:
    """Write each track's results -> (the files written, how many of the tracks' layers had
    no readable result: each is named on stderr with its reason). ``midi_grid``: see
    ``write_results``. ``on_loaded(track, results)``: each track's results as read (once)
    from the store, before corrections (the summary table uses them)."""
    from workstation.analysis.results import load_results, provenance, with_edits
    from workstation.export.batch import export_stems, write_results

    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    missing = 0
    tracks = [t for t in tracks if t.status == "ok"]
    made = provenance(specs)
    stems = export_stems([t.path for t in tracks], [f"track{t.id}" for t in tracks])
    for t, stem in zip(tracks, stems):
        loaded = load_results(lib, t, specs)
        if on_loaded is not None:
            on_loaded(t, loaded)
        results, made_t = with_edits(lib, t, loaded, made)
        for spec in specs:
            if spec.id not in results:
                missing += 1
                a = spec.build()
                rec = lib.get_analysis(t.content_hash, *a.result_key)
                why = (rec.error if rec is not None and rec.error else
                       f"not analysed yet ({rec.status if rec is not None else 'never run'})")
                print(f"{t.path}: no {spec.id} layer exported: {why}", file=sys.stderr)
        written += write_results(out_dir, stem, results, fmts, duration_s=t.duration_s,
                                 title=t.title, artist=t.artist, audio_path=t.path,
                                 provenance=made_t, midi_grid=midi_grid)
    return written, missing


def _specs(analyzers: str | None) -> list:
    """The analyzer specs of ``--analyzers`` (all by default); an unknown id is a
    WorkstationError naming the known ones."""
    from workstation.analysis.jobs import specs_for
    try:
        return specs_for([a.strip() for a in analyzers.split(",") if a.strip()] if analyzers else None)
    except (KeyError, ImportError, AttributeError, ValueError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        raise WorkstationError(f"--analyzers {analyzers}: {msg}") from None


def _with_methods(specs, method_args, preset: str = "default") -> list:
    """Specs with the ``--preset``'s methods, then ``--method ANALYZER=METHOD`` choices applied
    (e.g. pitch.f0=pesto; an explicit --method wins over the preset)."""
    from workstation.analysis.base import registry
    from workstation.analysis.jobs import PRESETS, with_methods
    chosen = dict(PRESETS[preset or "default"])
    for text in method_args or ():
        aid, sep, method = text.partition("=")
        cls = registry().get(aid.strip())
        methods = getattr(cls, "methods", ()) if cls is not None else ()
        if not sep or method.strip() not in methods:
            known = ", ".join(f"{i}={'|'.join(c.methods)}" for i, c in sorted(registry().items())
                              if getattr(c, "methods", None))
            raise WorkstationError(f"--method {text!r}: expected ANALYZER=METHOD, one of {known}")
        chosen[aid.strip()] = method.strip()
    return with_methods(specs, chosen)


def cmd_analyze(args) -> int:
    lib = _open_library(args)
    if getattr(args, "store", None):
        lib.use_store(args.store)
    if getattr(args, "gpu_share", None) is not None and not getattr(args, "cluster", None):
        raise WorkstationError("--gpu-share is a share of a GPU for each task on a Ray "
                               "cluster: give it with --cluster (locally, --device chooses)")
    specs = _with_methods(_specs(args.analyzers),
                          args.method, args.preset)
    tracks, skipped = _add_paths(lib, args.paths, args.quiet)
    if not tracks:
        raise WorkstationError("no audio files found in " + ", ".join(args.paths))
    counts = _run_jobs(lib, specs, tracks, device=args.device, force=args.force, quiet=args.quiet,
                       cluster=getattr(args, "cluster", None), workers=getattr(args, "workers", None),
                       gpu_share=getattr(args, "gpu_share", None))
    tracks = [lib.track(t.id) for t in tracks]
    rows: dict = {}      # summary rows made while exporting: each result file read once

    def summary(t, results):
        if not args.quiet:
            rows[t.id] = summary_row(lib, specs, t, results)
    if args.out:
        written, missing = _export(lib, specs, tracks, Path(args.out), _formats(args.format),
                                   args.midi_grid, on_loaded=summary)
        counts["failed"] += missing
        if not args.quiet:
            print(f"wrote {len(written)} files to {args.out}")
    if not args.quiet:
        print(summary_table(lib, specs, tracks, rows))
    bad = [t for t in tracks if t.status != "ok"]
    failures = bad or skipped or counts["failed"] or counts.get("analyzers_failed", 0)
    return 1 if failures and not args.allow_failures else 0


def cmd_demo(args) -> int:
    if not DEMO_DIR.is_dir():
        raise WorkstationError(f"the demo collection is missing: {DEMO_DIR}")
    args.paths = [str(DEMO_DIR)]
    return cmd_analyze(args)


def cmd_library(args) -> int:
    lib = _open_library(args)
    if args.action == "scan":
        if len(args.dir) != 1:
            raise WorkstationError("library scan needs one folder")
        rep = lib.scan(Path(args.dir[0]))
        print(f"added {len(rep.added)}, changed {len(rep.changed)}, moved {len(rep.moved)}, "
              f"removed {len(rep.removed)}, unchanged {len(rep.unchanged)}, failed {len(rep.failed)}")
        for p, reason in rep.failed:
            print(f"  failed {p}: {reason}")
        return 0
    if args.action == "status":
        s = lib.status_summary()
        print(f"library: {lib.root}")
        for k, v in s.get("tracks", {}).items():
            print(f"tracks {k}: {v}")
        for aid, by_status in sorted(s.get("analyses", {}).items()):
            print(f"{aid}: " + ", ".join(f"{k} {v}" for k, v in sorted(by_status.items())))
        return 0
    if args.action == "remove":
        return _library_remove(lib, args.dir)
    if args.action == "list":
        for t in lib.tracks():
            print(f"{t.id}\t{t.status}\t{t.duration_s or 0:.1f}s\t{t.title or ''}\t{t.path}")
        return 0
    raise WorkstationError(f"unknown library action {args.action}")


def _library_remove(lib, paths: list[str]) -> int:
    """Take the tracks of ``paths`` (files, or every track under a folder) out of the
    catalogue; nothing is removed when one path is not in the library. Files stay on disk."""
    if not paths:
        raise WorkstationError("library remove needs at least one file or folder")
    ids: list[int] = []
    for p in paths:
        path = Path(p).expanduser()
        found = lib.tracks_under(path) if path.is_dir() else [t for t in [lib.track_by_path(path)] if t]
        if not found:
            raise WorkstationError(f"{p}: not in the library (nothing was removed)")
        ids += [t.id for t in found]
    n = lib.remove_tracks(ids)
    print(f"removed {n} tracks from the library (their files stay on disk)")
    return 0


def cmd_export(args) -> int:
    lib = _open_library(args)
    specs = _with_methods(_specs(args.analyzers),
                          args.method, args.preset)
    if args.paths:
        tracks = []
        for p in args.paths:
            path = Path(p).resolve()
            if path.is_dir():
                tracks += [t for t in lib.tracks(status="ok") if t.path.startswith(str(path) + os.sep)]
            else:
                t = lib.track_by_path(path)
                if t is None:
                    raise WorkstationError(f"{p}: not in the library (run 'workstation analyze' first)")
                tracks.append(t)
    else:
        tracks = lib.tracks(status="ok")
    written, missing = _export(lib, specs, tracks, Path(args.out), _formats(args.format),
                                   args.midi_grid)
    print(f"wrote {len(written)} files to {args.out}")
    if missing:
        print(f"{missing} layers had no readable result (named above); "
              "run 'workstation analyze' on these tracks to compute them", file=sys.stderr)
    return 1 if missing else 0


def _fmt(v, spec: str = "+.2f") -> str:
    return "-" if v is None else format(v, spec)


def similar_table(results) -> str:
    """A plain-text table of similarity results with their explanation."""
    rows = [("#", "score", "timbre", "harmony", "rhythm", "key", "tempo", "tags", "track")]
    for i, r in enumerate(results, 1):
        e = r.explanation
        key = e.get("key") or "-"
        rows.append((str(i), f"{r.score:+.3f}", _fmt(e.get("timbre")), _fmt(e.get("harmony")),
                     _fmt(e.get("rhythm")), key, _fmt(e.get("tempo_closeness"), ".2f"),
                     _fmt(e.get("tags"), ".2f"), r.path))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _search(lib):
    from workstation.analysis.similarity import SimilaritySearch
    search = SimilaritySearch(lib)
    if len(search.index) == 0:
        raise WorkstationError("the similarity index is empty: analyse the collection first "
                               "('workstation analyze DIR')")
    return search


def cmd_similar(args) -> int:
    import json

    from workstation.analysis.similarity_types import Filters, Region

    lib = _open_library(args)
    track = _resolve_track(lib, args.track)
    search = _search(lib)
    seed = track.id
    if args.region:
        lo, hi = args.region                 # checked by the parser: 0 <= lo < hi
        try:
            seed = Region(track.id, lo, hi)
        except ValueError as exc:
            raise WorkstationError(f"--region {lo:g}-{hi:g}: {exc}") from None
    results = search.similar(seed, args.k, filters=Filters.parse(args.filter or []))
    if args.json:
        print(json.dumps([r.as_dict() for r in results], indent=1, default=str))
    else:
        print(f"similar to {track.path}:")
        print(similar_table(results) if results else "(no track passes the filters)")
    return 0


def cmd_playlist(args) -> int:
    from workstation.analysis.similarity_types import Filters
    from workstation.export.playlist import write_playlist

    lib = _open_library(args)
    seeds = [_resolve_track(lib, s) for s in args.seeds]
    search = _search(lib)
    filters = Filters.parse(args.filter or [])
    if args.to:
        if len(seeds) != 1:
            raise WorkstationError("--to makes a path from one seed to one track: give one SEED")
        items = search.path(seeds[0].id, _resolve_track(lib, args.to).id, args.length,
                            filters=filters)
        mode = "path"
    else:
        items = search.playlist([t.id for t in seeds], args.length, mode=args.mode, filters=filters)
        mode = args.mode
    out = write_playlist(args.output, items, relative=not args.absolute, mode=mode,
                         seeds=[t.path for t in seeds], title=Path(args.output).stem)
    if not args.quiet:
        for i, it in enumerate(items, 1):
            print(f"{i:3d}  {it.score:+.3f}  {it.path}")
        print(f"wrote {len(items)} tracks to {out}")
    return 0


def cmd_tag(args) -> int:
    """Hand-given tags: add, remove, list; suggest them for other tracks (few-shot)."""
    import json

    lib = _open_library(args)
    if args.action in ("add", "remove"):
        if not args.track or not args.tags:
            raise WorkstationError(f"tag {args.action} needs a TRACK (path or id) and at least one TAG")
        t = _resolve_track(lib, args.track)
        for tag in args.tags:
            if args.action == "add":
                changed = lib.add_user_tag(t.id, tag)
            else:
                changed = lib.remove_user_tag(t.id, tag)
            if not args.quiet:
                verb = ("added" if changed else "already there") if args.action == "add" else (
                    "removed" if changed else "not there")
                print(f"{verb}: {lib.normalize_tag(tag)!r} on {t.path}")
        return 0
    if args.action == "list":
        if args.track:
            t = _resolve_track(lib, args.track)
            print(f"{t.path}: " + ", ".join(tag for _, tag in lib.user_tags(t.id)))
            return 0
        counts = lib.user_tag_counts()
        if not counts:
            print("no hand-given tags yet ('workstation tag add TRACK TAG')")
        for tag, n in counts.items():
            print(f"{tag}\t{n} track{'s' if n != 1 else ''}")
        return 0
    if args.action == "suggest":
        from workstation.analysis.tagging import propose_tags
        if args.track:
            raise WorkstationError("tag suggest takes no TRACK (use --tag to choose tags)")
        props = propose_tags(lib, min_examples=args.min_examples, min_score=args.min_score,
                             tags=args.tag or None, limit_per_tag=args.limit)
        if args.json:
            print(json.dumps([{"track_id": p.track_id, "path": lib.track(p.track_id).path,
                               "tag": p.tag, "score": round(p.score, 4), "n_examples": p.n_examples}
                              for p in props], indent=1))
        elif not props:
            print("no proposals (tag a few tracks with 'workstation tag add TRACK TAG', "
                  "or lower --min-score)")
        else:
            for p in props:
                print(f"{p.score:.3f}\t{p.tag}\t{p.track_id}\t{lib.track(p.track_id).path}")
        return 0
    raise WorkstationError(f"unknown tag action {args.action}")


def cmd_gui(args) -> int:
    """``workstation gui`` is dispatched by ``workstation.__main__`` (the CLI never imports
    the GUI); reaching here means the CLI module was run directly."""
    raise WorkstationError("open the window with the `workstation gui` command "
                           "(or `python -m workstation gui`)")


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):   # file names that are not UTF-8 print as \xNN
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    args = build_parser(__doc__.split("\n\n")[0]).parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    handlers = {"analyze": cmd_analyze, "demo": cmd_demo, "library": cmd_library,
                "export": cmd_export, "similar": cmd_similar, "playlist": cmd_playlist,
                "tag": cmd_tag, "layer": cmd_layer, "gui": cmd_gui}
    try:
        return handlers[args.command](args)
    except WorkstationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
