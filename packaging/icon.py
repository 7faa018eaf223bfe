"""Render resources/workstation.svg to resources/workstation.png (256 x 256, with Qt's SVG
renderer; no display needed).

    .venv/bin/python packaging/icon.py [--size 256] [--out resources/workstation.png]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def render(svg: Path, out: Path, size: int = 256) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication([])  # noqa: F841  (fonts, image IO)
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg}: not a valid SVG")
    img = QImage(size, size, QImage.Format.Format_ARGB32)
    img.fill(Qt.GlobalColor.transparent)
    painter = QPainter(img)
    renderer.render(painter)
    painter.end()
    out.parent.mkdir(parents=True, exist_ok=True)
    if not img.save(str(out)):
        raise SystemExit(f"{out}: cannot write the PNG")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--svg", default=str(REPO / "resources" / "workstation.svg"))
    ap.add_argument("--out", default=str(REPO / "resources" / "workstation.png"))
    ap.add_argument("--size", type=int, default=256)
    args = ap.parse_args()
    render(Path(args.svg), Path(args.out), args.size)
    print(f"wrote {args.out} ({args.size} px)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
