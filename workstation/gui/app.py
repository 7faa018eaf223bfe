"""``workstation gui [PATH] [--library DIR]``: start the desktop application.

PATH (optional): a music folder or audio file to open (catalogued and analysed in the
background). The library folder comes from ``--library``, ``$WORKSTATION_LIBRARY`` or the
platform user data directory (as for the CLI).
"""

from __future__ import annotations

import argparse
import logging
import sys

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from .settings import APPLICATION, ORGANISATION

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
    apply_dark_theme(app)
    return app


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="workstation gui", description=__doc__.splitlines()[0])
    ap.add_argument("path", nargs="*", help="music folders or audio files to open")
    ap.add_argument("--library", help="library folder (default: $WORKSTATION_LIBRARY or the "
                                      "user data directory)")
    ap.add_argument("--device", default=None, help="analysis device: auto, cpu, cuda")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    app = make_app()
    from .main_window import MainWindow
    from .settings import Settings
    win = MainWindow(args.library, settings=Settings(), device=args.device)
    win.show()
    if args.path:
        win.open_paths(args.path)
    return int(app.exec())
