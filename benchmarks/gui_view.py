"""How fast the track view opens and moves on a long track: printed tables, not timed tests.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/gui_view.py [--minutes 10]

Builds a library on one long file (the demo collection's pieces played one after another,
or ``benchmarks/throughput.test_signal`` when the demo is absent), analyses it with the
real worker, then measures in one window:

1. opening the track: the loader thread's work (stored results + display features) right
   after the analysis (the worker wrote the display cache), with no cache (decode +
   spectrogram, as for a track not analysed yet) and warm, and drawing it (``set_data``);
2. moving: zoom and pan steps, each timed until the panes are repainted (a ``grab`` of the
   plot widget forces the paint offscreen), at several zoom levels; median and worst;
3. switching the image mode (computed on request: linear, mel, HCQT) and back.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from workstation.core import constants as C  # noqa: E402


def long_file(path: Path, minutes: float) -> float:
    """Write ``minutes`` of music (demo pieces back to back) to ``path``; its duration in s."""
    from workstation.core.audio import load
    demo = sorted(p for p in (REPO / "resources" / "demo").glob("*") if p.suffix in (".flac", ".ogg"))
    n = int(minutes * 60 * C.SAMPLE_RATE)
    if demo:
        pieces = [load(p).astype(np.float32) for p in demo]
        out = np.concatenate(pieces * (n // sum(map(len, pieces)) + 1))[:n]
    else:
        from benchmarks.throughput import test_signal
        out = test_signal(minutes * 60)
    sf.write(path, out, C.SAMPLE_RATE, subtype="PCM_16")
    return n / C.SAMPLE_RATE


def table(title, header, rows):
    print(f"\n{title}")
    w = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(header)]
    print("  ".join(str(h).ljust(w[i]) for i, h in enumerate(header)))
    for r in rows:
        print("  ".join(str(c).ljust(w[i]) for i, c in enumerate(r)))


def library_rows(tmp: Path, sizes=(3000, 30000)) -> None:
    """Catalogue rows: read them (task thread), then give, sort and filter them (GUI thread)."""
    from PySide6.QtCore import Qt

    from workstation.gui.library_model import COL_DURATION, LibraryModel, TrackFilterProxy, load_rows
    from workstation.library import Library
    rows_out = []
    for n in sizes:
        with Library.open(tmp / f"rows{n}") as lib:
            for i in range(n):
                lib.insert_track(tmp / f"t{i:06d}.flac", content_hash=f"{i:064x}", duration_s=60.0 + i,
                                 title=f"Track {i}", artist=f"Artist {i % 50}")
            t0 = time.perf_counter()
            rows = load_rows(lib, [("key", 1, "x"), ("beats", 1, "y")])
            t_load = time.perf_counter() - t0
        model, proxy = LibraryModel(), TrackFilterProxy()
        proxy.setSourceModel(model)
        t0 = time.perf_counter()
        model.set_rows(rows)
        t_set = time.perf_counter() - t0
        t0 = time.perf_counter()
        proxy.sort(COL_DURATION, Qt.SortOrder.DescendingOrder)
        t_sort = time.perf_counter() - t0
        t0 = time.perf_counter()
        proxy.set_text('"artist 7"')
        t_filter = time.perf_counter() - t0
        t0 = time.perf_counter()
        proxy.set_text("track tempo:-200")
        t_query = time.perf_counter() - t0
        rows_out.append((n, *(f"{t * 1000:.0f}" for t in (t_load, t_set, t_sort, t_filter, t_query))))
    table("Library panel (ms)", ("rows", "read rows", "set rows", "sort", "filter phrase",
                                 "filter words + tempo"), rows_out)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--steps", type=int, default=30, help="zoom/pan steps per zoom level")
    ap.add_argument("--skip-modes", action="store_true", help="skip the image-mode table")
    ap.add_argument("--rows-only", action="store_true", help="only the library-panel table")
    args = ap.parse_args()

    from PySide6.QtCore import QEventLoop

    from workstation.analysis.display import cache_path
    from workstation.analysis.jobs import specs_for
    from workstation.analysis.scheduler import Scheduler, jobs_for
    from workstation.gui.app import make_app
    from workstation.gui.main_window import MainWindow
    from workstation.gui.settings import Settings
    from workstation.gui.track_loader import display_image, load_track_data
    from workstation.library import Library

    app = make_app()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        library_rows(tmp)
        if args.rows_only:
            return 0
        (tmp / "music").mkdir()
        audio = tmp / "music" / "long.wav"
        dur = long_file(audio, args.minutes)
        t0 = time.perf_counter()
        with Library.open(tmp / "library") as lib:
            lib.scan(tmp / "music")
            counts = Scheduler(lib, device="cpu").run(jobs_for(lib, specs_for()))
        t_an = time.perf_counter() - t0
        print(f"{dur / 60:.1f}-minute file analysed in {t_an:.1f} s ({dur / t_an:.0f}x realtime): {counts}")

        win = MainWindow(tmp / "library", settings=Settings(tmp / "settings.ini"), device="cpu",
                         auto_analyse=False, playback=False)
        win.resize(1600, 940)
        win.show()

        def spin(cond, timeout=120.0):
            t = time.monotonic()
            while not cond() and time.monotonic() - t < timeout:
                app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
            return cond()

        spin(lambda: win.model.rowCount() == 1)
        tid = win.model.row(0).track_id
        track = win.library.track(tid)
        rows = []
        t0 = time.perf_counter()
        first = load_track_data(win.library, tid, win.specs)
        rows.append(("first open after analysis (display cache written by the worker)",
                     f"{(time.perf_counter() - t0) * 1000:.0f}"))
        cache_path(win.library.root, track.content_hash).unlink()
        t0 = time.perf_counter()
        cold = load_track_data(win.library, tid, win.specs)
        rows.append(("load results + display, no cache (a track not analysed yet: decode + spectrogram)",
                     f"{(time.perf_counter() - t0) * 1000:.0f}"))
        t0 = time.perf_counter()
        warm = load_track_data(win.library, tid, win.specs)
        rows.append(("load results + display (cache warm)", f"{(time.perf_counter() - t0) * 1000:.0f}"))
        rows.append(("  of which stored results", f"{warm.timings['results_s'] * 1000:.0f}"))
        t0 = time.perf_counter()
        win.view.set_data(warm)
        win.view.glw.grab()
        t_draw = time.perf_counter() - t0
        rows.append(("draw the track (set_data + first paint)", f"{t_draw * 1000:.0f}"))
        rows.append(("open with a warm cache, total", f"{(warm.timings['total_s'] + t_draw) * 1000:.0f}"))
        del cold, first
        table(f"Opening a {dur / 60:.0f}-minute track (ms)", ("step", "ms"), rows)

        v = win.view
        rows = []
        for span in (10.0, 60.0, dur):
            v.set_x_range(0.0, span)
            v.glw.grab()
            zoom, pan = [], []
            for i in range(args.steps):
                t0 = time.perf_counter()
                v.zoom(1.25 if i % 2 == 0 else 0.8)
                v.glw.grab()
                zoom.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                v.scroll(0.1 if span < dur else 0.0)
                v.glw.grab()
                pan.append(time.perf_counter() - t0)
            label = "whole track" if span == dur else f"{span:.0f} s"
            for name, xs in (("zoom step", zoom), ("pan step", pan)):
                ms = sorted(x * 1000 for x in xs)
                rows.append((label, name, f"{statistics.median(ms):.1f}", f"{ms[-1]:.1f}",
                             f"{1000 / statistics.median(ms):.0f}"))
        table("Zoom and pan, each step until repainted (ms)",
              ("visible span", "step", "median", "worst", "steps/s"), rows)

        rows = []
        for mode in () if args.skip_modes else ("linear", "mel", "hcqt"):
            t0 = time.perf_counter()
            img = display_image(win.library, track, mode)
            t_img = time.perf_counter() - t0
            v.set_image(img)
            t0 = time.perf_counter()
            v.set_image_mode(mode)
            v.glw.grab()
            rows.append((mode, f"{t_img * 1000:.0f}", f"{(time.perf_counter() - t0) * 1000:.0f}",
                         f"{img.values.nbytes / 1e6:.0f}"))
        if rows:
            table("Image modes computed on request (loader thread) and drawn",
                  ("mode", "compute ms", "draw ms", "MB"), rows)
        win.close()
        win.shutdown()
    return 0


if __name__ == "__main__":
    rc = main()
    sys.stdout.flush()
    os._exit(rc)  # skip interpreter teardown of Qt objects (a PySide finaliser crash)
