"""Render the main window on a demo track offscreen and save docs/screenshot.png.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshot.py [--track NAME] [--out PATH]

Builds a temporary library on one file of resources/demo, analyses it with the real worker
(every registered analyzer), opens the window, selects the track and grabs the window;
``--reference`` also loads the track's ground-truth JAMS as reference layers; ``--edited``
corrects the notes by hand first (through the window's note tool, as a person would: the
short notes of the shown span deleted, the longest one moved up a semitone), so the picture
shows the corrected layer (orange) over the analysis it corrects (grey outlines).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--track", default="02_pop_song_in_c_major")
    ap.add_argument("--out", default=str(REPO / "docs" / "screenshot.png"))
    ap.add_argument("--mode", default="spectrogram",
                    choices=("spectrogram", "linear", "mel", "hcqt", "salience"))
    ap.add_argument("--reference", action="store_true",
                    help="load the track's ground-truth .jams as a reference layer and show the Compare tab")
    ap.add_argument("--span", type=float, default=20.0, help="seconds shown")
    ap.add_argument("--edited", action="store_true",
                    help="correct some notes by hand (Edit notes) before the picture")
    ap.add_argument("--similar", action="store_true",
                    help="analyse the whole demo collection and show the Similar tab; prints the "
                         "time of a similarity query for every track")
    args = ap.parse_args()

    from PySide6.QtCore import QEventLoop, QTimer

    from workstation.gui.app import make_app
    from workstation.gui.main_window import MainWindow
    from workstation.gui.settings import Settings

    demo = sorted((REPO / "resources" / "demo").glob(args.track + ".*"))
    audio = [p for p in demo if p.suffix in (".flac", ".ogg", ".wav", ".mp3")]
    if not audio:
        print(f"no demo audio named {args.track} in resources/demo", file=sys.stderr)
        return 1
    app = make_app()
    with tempfile.TemporaryDirectory() as tmp:
        music = Path(tmp) / "music"
        music.mkdir()
        for p in sorted((REPO / "resources" / "demo").glob("*.*")):
            if p.suffix in (".flac", ".ogg"):
                shutil.copy(p, music / p.name)
        win = MainWindow(Path(tmp) / "library", settings=Settings(Path(tmp) / "settings.ini"),
                         device="cpu", auto_analyse=False, playback=False)
        win.resize(1600, 940)
        win.show()

        def wait(cond, timeout):
            t0 = time.monotonic()
            while not cond() and time.monotonic() - t0 < timeout:
                app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
                time.sleep(0.01)
            return cond()

        win.open_paths([music])
        wait(lambda: win.model.rowCount() >= len(list(music.iterdir())), 120)
        target = win.library.track_by_path(music / audio[0].name)
        done = []
        win.bridge.finished.connect(lambda c: done.append(c))
        win.analyse(None if args.similar else [target.id])
        if not wait(lambda: bool(done), 600):
            print("analysis did not finish", file=sys.stderr)
        win.bridge.wait(30)
        win.refresh()
        wait(lambda: win.tasks.idle, 30)
        app.processEvents()
        win.select_track(target.id)
        wait(lambda: win.view.data is not None and win.view.data.track.id == target.id, 120)
        win.view.set_image_mode(args.mode)
        if args.mode not in ("spectrogram", "salience"):
            wait(lambda: bool(win.view._images), 120)
        if args.reference:
            ref = audio[0].with_suffix(".jams")
            win.open_annotation(ref)
            wait(lambda: bool(win.compare.figures), 60)
            win.side_tabs.setCurrentWidget(win.compare)
        if args.similar:
            from workstation.analysis.similarity import SimilaritySearch
            times = []
            for row in list(win.model.rows()):
                win.select_track(row.track_id)
                t0 = time.perf_counter()
                wait(lambda: win.similar_panel.results and win._similar_for == row.track_id
                     and win.tasks.idle, 30)
                times.append(time.perf_counter() - t0)
            print("click -> similar list shown, per track (s): "
                  + ", ".join(f"{t:.2f}" for t in times))
            win.select_track(target.id)
            wait(lambda: win.view.data is not None and win.view.data.track.id == target.id
                 and win.tasks.idle and bool(win.similar_panel.results), 60)
            wait(lambda: len(win.map.track_ids) > 0, 60)
            win.side_tabs.setCurrentWidget(win.similar_panel)
        win.view.set_x_range(1.0, 1.0 + args.span)
        if args.edited:
            import numpy as np
            ec = win.edit_control
            ec.set_editing(True, "notes")
            tool = ec.tools["notes"]
            n = tool.notes
            shown = (n.onsets_s >= 1.0) & (n.offsets_s <= 1.0 + args.span)
            dur = n.offsets_s - n.onsets_s
            tool.select(np.flatnonzero(shown & (dur < 0.15)))
            tool.delete_selected()
            n = tool.notes
            shown = np.flatnonzero((n.onsets_s >= 1.0) & (n.offsets_s <= 1.0 + args.span))
            if len(shown):
                tool.select([shown[np.argmax((n.offsets_s - n.onsets_s)[shown])]])
                tool.move_selected(0.0, 1.0)
            ec.flush()
            wait(lambda: win.tasks.idle and "revision" in win.view.legend.text(), 30)
            print(f"notes corrected by hand: {win.view.legend.text()}")
        win.view.set_cursor(6.0)
        QTimer.singleShot(0, lambda: None)
        for _ in range(20):
            app.processEvents()
            time.sleep(0.02)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        ok = win.grab().save(args.out)
        print(f"saved {args.out}: {ok}; timings {win.view.data.timings}")
        win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
