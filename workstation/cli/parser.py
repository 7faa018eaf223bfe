"""The ``workstation`` command line's arguments, each checked when it is parsed: a count must
be positive, a score in [0, 1], a region START-END with START < END, a device one of the
known forms, an output folder a folder (or creatable), so that a bad argument is an
argparse error naming it (exit 2) before any work, never a traceback after it."""

from __future__ import annotations

import argparse
import math
import os
import re
from pathlib import Path

from .layers import add_parser as add_layer_parser


def positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{n} must be 1 or more")
    return n


def unit_float(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= x <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} must lie in [0, 1]")
    return x


def region(text: str) -> tuple[float, float]:
    """START-END in seconds -> (start, end), 0 <= start < end, both finite."""
    m = re.fullmatch(r"\s*([0-9.eE+]+)\s*-\s*([0-9.eE+]+)\s*", text)
    try:
        lo, hi = (float(m.group(1)), float(m.group(2))) if m else (math.nan, math.nan)
    except ValueError:
        lo = hi = math.nan
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise argparse.ArgumentTypeError(f"{text!r}: expected START-END in seconds, e.g. 30-45")
    if lo >= hi:
        raise argparse.ArgumentTypeError(f"{text!r}: START must be before END")
    return lo, hi


#: Subdivisions of a beat ``--midi-grid`` accepts (divisors of the MIDI files' 1920 ticks).
MIDI_GRIDS = (0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32)


def midi_grid(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n not in MIDI_GRIDS:
        raise argparse.ArgumentTypeError(f"{n}: use one of {', '.join(map(str, MIDI_GRIDS))} "
                                         "(subdivisions of a beat; 0 = as played)")
    return n


def device(text: str) -> str:
    """auto, cpu, cuda, cuda:N or mps (whether CUDA is there is the worker's to say)."""
    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?|mps", text.strip().lower()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a device: use auto, cpu, cuda, cuda:N or mps")
    return text.strip().lower()


def workers(text: str) -> int:
    """A worker-process count: 1 to 64."""
    try:
        n = int(text)
    except ValueError:
        n = 0
    if not 1 <= n <= 64:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of worker processes from 1 to 64")
    return n


def gpu_fraction(text: str) -> float:
    """A share of one GPU in (0, 1] (``--gpu-share``)."""
    try:
        f = float(text)
    except ValueError:
        f = -1.0
    if not 0.0 < f <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a fraction of one GPU in (0, 1], "
                                         "e.g. 0.25 for four tasks per GPU")
    return f


def cluster_address(text: str) -> str:
    """local:N, auto, ray://HOST:PORT or HOST:PORT (whether Ray is installed is checked when
    the run starts)."""
    from workstation.cluster import parse_address
    from workstation.core.errors import WorkstationError
    try:
        parse_address(text)
    except WorkstationError as exc:
        raise argparse.ArgumentTypeError(str(exc).replace("--cluster ", "", 1)) from None
    return text.strip()


def out_folder(text: str) -> Path:
    """A folder to write into: existing, or creatable (created now, before the analysis)."""
    p = Path(text).expanduser()
    if p.exists() and not p.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: exists and is not a folder")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"{text}: cannot create the folder ({exc.strerror or exc})") from None
    if not os.access(p, os.W_OK):
        raise argparse.ArgumentTypeError(f"{text}: the folder is not writable")
    return p


def build_parser(description: str = "") -> argparse.ArgumentParser:
    """The ``workstation`` command line; arguments are checked here, before any work."""
    from workstation import __version__
    from workstation.analysis.jobs import PRESETS
    p = argparse.ArgumentParser(prog="workstation", description=description)
    p.add_argument("--version", action="version", version=f"workstation {__version__}")
    p.add_argument("--library", help="library folder (default: $WORKSTATION_LIBRARY or the user data dir)")
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)
    gp = sub.add_parser("gui", help="open the desktop application (on FOLDER, if given)")
    gp.add_argument("path", nargs="?", help="a folder to open")

    def midi_grid_opt(sp):
        sp.add_argument("--midi-grid", type=midi_grid, default=0, metavar="N",
                        help="snap the MIDI file's notes to 1/N of a beat for notation (4: "
                             "sixteenths; one of 1, 2, 3, 4, 6, 8, 12, 16, 24, 32; default 0: as played)")

    def analysis_opts(sp, need_paths: bool):
        if need_paths:
            sp.add_argument("paths", nargs="+", help="audio files or folders")
        sp.add_argument("--out", type=out_folder, help="write exports to this folder")
        sp.add_argument("--format", default="jams,midi,csv", help="comma list of jams,midi,csv,sv,audacity")
        midi_grid_opt(sp)
        sp.add_argument("--device", type=device, default="auto", help="auto | cpu | cuda | cuda:N | mps")
        sp.add_argument("--workers", type=workers, default=None, metavar="N",
                        help="analysis processes, one track in each, the CPU's threads divided "
                             "among them (default: 2 where there are 2 or more CPUs; 2 workers "
                             "on 2 cores analyse a collection about 15 %% faster than 1)")
        sp.add_argument("--analyzers", help="comma list of analyzer ids (default: all)")
        sp.add_argument("--method", action="append", metavar="ANALYZER=METHOD",
                        help="choose an analyzer's method, e.g. pitch.f0=pesto, "
                             "pitch.salience=dsp, beats=learned (repeatable)")
        sp.add_argument("--preset", choices=tuple(PRESETS), default="default",
                        help="default: every default (34x realtime on 2 AVX-512 CPU cores, "
                             "17x on 2 AVX2 ones); fast: pitch.f0=pyin (49x / 44x; poor on "
                             "singing in accompaniment); best: pitch.f0=crepe-full (1-2x on 2 "
                             "CPU cores, 100x on a GPU)")
        sp.add_argument("--force", action="store_true", help="re-run even if results are cached")
        sp.add_argument("--cluster", type=cluster_address, metavar="ADDRESS",
                        help="run the analysis on a Ray cluster (the cluster extra): local:N "
                             "starts one here with N CPUs, auto joins the running one, or "
                             "ray://HOST:PORT / HOST:PORT; files are read by path on the nodes "
                             "(a shared filesystem), results are written into this library")
        sp.add_argument("--gpu-share", type=gpu_fraction, metavar="F",
                        help="with --cluster: each track's task takes F of a GPU (default: "
                             "the cluster's GPUs divided by its CPUs, so that every CPU runs "
                             "a task; Ray hides the GPUs from a task that asks for none)")
        sp.add_argument("--store", metavar="DIR",
                        help="keep this library's results in DIR from now on (a shared folder: "
                             "with --cluster the tasks write their results there directly; "
                             "results are keyed by content, so libraries on other machines "
                             "can name the same DIR)")
        sp.add_argument("--quiet", action="store_true")
        sp.add_argument("--allow-failures", action="store_true",
                        help="exit 0 even when some files failed")

    analysis_opts(sub.add_parser("analyze", help="analyse files or folders"), True)
    analysis_opts(sub.add_parser("demo", help="analyse the bundled demo collection"), False)
    lp = sub.add_parser("library", help="scan, status, list, remove")
    lp.add_argument("action", choices=("scan", "status", "list", "remove"))
    lp.add_argument("dir", nargs="*", metavar="PATH",
                    help="scan: the folder; remove: files or folders to take out of the catalogue "
                         "(the files stay on disk)")
    ep = sub.add_parser("export", help="export cached results")
    ep.add_argument("paths", nargs="*")
    ep.add_argument("--out", type=out_folder, required=True)
    ep.add_argument("--format", default="jams,midi,csv", help="comma list of jams,midi,csv,sv,audacity")
    midi_grid_opt(ep)
    ep.add_argument("--analyzers")
    ep.add_argument("--method", action="append", metavar="ANALYZER=METHOD",
                    help="export the results of this method (as for analyze)")
    ep.add_argument("--preset", choices=tuple(PRESETS), default="default",
                    help="export the results of this preset's methods (as for analyze)")
    filt_help = ("NAME=VALUE: key='A minor' (comma list), tempo=90-120, duration=60-300, "
                 "tag=rock, folder=DIR; repeatable")
    sp = sub.add_parser("similar", help="tracks similar to a track (or a region of it)")
    sp.add_argument("track", help="a track path or id")
    sp.add_argument("-k", type=positive_int, default=10, help="how many (default 10)")
    sp.add_argument("--filter", action="append", help=filt_help)
    sp.add_argument("--region", type=region, help="START-END seconds: query with this region of the track")
    sp.add_argument("--json", action="store_true", help="print JSON with the explanations")
    pp = sub.add_parser("playlist", help="a playlist from seed tracks (or a path to --to)")
    pp.add_argument("seeds", nargs="+", help="seed track paths or ids")
    pp.add_argument("--to", help="make a path from the seed to this track")
    pp.add_argument("--length", type=positive_int, default=20, help="number of tracks (default 20)")
    pp.add_argument("--mode", choices=("nearest", "walk"), default="nearest")
    pp.add_argument("--filter", action="append", help=filt_help)
    pp.add_argument("-o", "--output", required=True, help="list.m3u8, or .json for JAMS")
    pp.add_argument("--absolute", action="store_true", help="absolute paths (default relative)")
    pp.add_argument("--quiet", action="store_true")
    tp = sub.add_parser("tag", help="hand-given tags: add, remove, list, suggest for other tracks")
    tp.add_argument("action", choices=("add", "remove", "list", "suggest"))
    tp.add_argument("track", nargs="?", help="a track path or id (add, remove, list)")
    tp.add_argument("tags", nargs="*", help="tags to add or remove")
    tp.add_argument("--min-score", type=unit_float, default=0.5,
                    help="suggest: lowest score in [0, 1] of a proposal (default 0.5)")
    tp.add_argument("--min-examples", type=positive_int, default=1,
                    help="suggest: tags need at least this many tagged tracks (default 1)")
    tp.add_argument("--tag", action="append", help="suggest: only this tag (repeatable)")
    tp.add_argument("--limit", type=positive_int, help="suggest: at most N proposals per tag")
    tp.add_argument("--json", action="store_true", help="suggest: print JSON")
    tp.add_argument("--quiet", action="store_true")
    add_layer_parser(sub)
    return p
