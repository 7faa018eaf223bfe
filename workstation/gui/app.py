"""``workstation gui [PATH] [--library DIR]``: start the desktop application.

PATH (optional): a music folder or audio file to open (catalogued and analysed in the
background). The library folder comes from ``--library``, ``$WORKSTATION_LIBRARY`` or the
platform user data directory (as for the CLI). The first start without a PATH (no settings
yet, no recent collection) opens the demo collection (``workstation.DEMO_DIR``; read-only in
the desktop bundle: everything the analysis writes goes to the library folder).

``--screenshot FILE`` (hidden; packaging/check.sh): once the collection is listed and its
first track shown, save the window to FILE, print the start-up times and quit.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtGui import QColor, QIcon, QPalette
from PySide6.QtWidgets import QApplication

import workstation

from .settings import APPLICATION, ORGANISATION

#: Settings key set after the first start (which opens the demo collection).
STARTED_KEY = "app/started"
#: Seconds ``--screenshot`` waits for the collection and its first track.
SCREENSHOT_TIMEOUT_S = 120.0

STYLE_SHEET = """
QToolTip { color: #e6e6e6; background: #2a2e37; border: 1px solid #444; }
QTableView { gridline-color: #2a2e37; selection-background-color: #2f5d8f; }
QHeaderView::section { background: #232730; color: #c8ccd4; border: 0; padding: 3px 6px;
                       border-right: 1px solid #15171c; }
QStatusBar QLabel { padding: 0 6px; }
QTextBrowser { background: #1c1f26; border: 0; }
"""


def apply_dark_theme(app: QApplication) -> None:
    """Fusion style with a dark palette (readable over the spectrogram colours)."""
    app.setStyle("Fusion")
    p = QPalette()
    roles = {
        QPalette.ColorRole.Window: "#1c1f26", QPalette.ColorRole.WindowText: "#d7dae0",
        QPalette.ColorRole.Base: "#16181d", QPalette.ColorRole.AlternateBase: "#1d2027",
        QPalette.ColorRole.Text: "#d7dae0", QPalette.ColorRole.Button: "#262a33",
        QPalette.ColorRole.ButtonText: "#d7dae0", QPalette.ColorRole.Highlight: "#2f5d8f",
        QPalette.ColorRole.HighlightedText: "#ffffff", QPalette.ColorRole.ToolTipBase: "#2a2e37",
        QPalette.ColorRole.ToolTipText: "#e6e6e6", QPalette.ColorRole.PlaceholderText: "#7a808c",
        QPalette.ColorRole.Link: "#4fa3ff",
    }
    for role, colour in roles.items():
        p.setColor(role, QColor(colour))
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor("#6a6f7a"))
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor("#6a6f7a"))
    app.setPalette(p)
    app.setStyleSheet(STYLE_SHEET)


def make_app(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance() or QApplication(["workstation"] + list(argv or []))
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationVersion(workstation.__version__)
    app.setDesktopFileName("workstation")     # resources/workstation.desktop (Wayland: the icon)
    if workstation.ICON_PNG.is_file():
        app.setWindowIcon(QIcon(str(workstation.ICON_PNG)))
    apply_dark_theme(app)
    return app


def first_start_paths(settings, paths: list[str]) -> list[str]:
    """The paths to open: ``paths``, or on the first start (never started, no recent
    collection) the demo collection. Marks the settings as started."""
    first = not settings.get(STARTED_KEY, False, bool) and not settings.recent()
    settings.set(STARTED_KEY, True)
    if not paths and first and workstation.DEMO_DIR.is_dir():
        return [str(workstation.DEMO_DIR)]
    return list(paths)


def _process_age_s() -> float | None:
    """Seconds since this process started (Linux /proc; None elsewhere)."""
    import os
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return uptime - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def screenshot_when_ready(app, win, out: str, t0: float) -> None:
    """Save ``win`` to ``out`` once its collection is listed and the first track shown (or
    at the timeout: exit status 1), print the start-up times, close the window and quit."""
    marks: dict[str, float] = {}
    age0 = _process_age_s()
    base = (age0 - (time.monotonic() - t0)) if age0 is not None else 0.0  # process start -> t0

    def since_start() -> float:
        return base + time.monotonic() - t0

    def poll() -> None:
        marks.setdefault("window", since_start())
        rows = list(win.model.rows())
        if rows and win.tasks.idle and "rows" not in marks:   # listed, no scan running
            marks["rows"] = since_start()
            win.select_track(rows[0].track_id)
        shown = "rows" in marks and win.view.data is not None
        late = time.monotonic() - t0 > SCREENSHOT_TIMEOUT_S
        if not shown and not late:
            QTimer.singleShot(50, poll)
            return
        marks["track"] = since_start()
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        ok = win.grab().save(out)
        sys.stdout.write(f"screenshot {out}: {'saved' if ok else 'NOT saved'}; {len(rows)} tracks "
                         f"listed; seconds since the process started: first window "
                         f"{marks['window']:.2f}, collection listed "
                         f"{marks.get('rows', float('nan')):.2f}, first track shown "
                         f"{marks['track']:.2f}{' (timed out)' if late else ''}\n")
        sys.stdout.flush()
        win.close()
        app.exit(0 if ok and shown else 1)

    QTimer.singleShot(0, poll)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="workstation gui", description=__doc__.splitlines()[0])
    ap.add_argument("path", nargs="*", help="music folders or audio files to open")
    ap.add_argument("--library", help="library folder (default: $WORKSTATION_LIBRARY or the "
                                      "user data directory)")
    ap.add_argument("--device", default=None, help="analysis device: auto, cpu, cuda")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--screenshot", metavar="FILE", help=argparse.SUPPRESS)
    args = ap.parse_args(sys.argv[1:] if argv is None else argv)
    t0 = time.monotonic()
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    app = make_app()
    from .main_window import MainWindow
    from .settings import Settings
    settings = Settings()
    paths = first_start_paths(settings, args.path)
    win = MainWindow(args.library, settings=settings, device=args.device)
    win.show()
    if paths:
        win.open_paths(paths)
    if args.screenshot:
        screenshot_when_ready(app, win, args.screenshot, t0)
    return int(app.exec())
