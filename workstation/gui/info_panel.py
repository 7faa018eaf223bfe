"""The info panel: key (+ confidence, local keys), tempo (+ alternatives, meter), tags,
failed analyses and file details of the selected track (durations in m:ss and seconds, sizes
in MB). Load timings are not shown: they go to the debug log."""

from __future__ import annotations

import html
import logging
from pathlib import Path

import numpy as np
from PySide6.QtWidgets import QTextBrowser, QVBoxLayout, QWidget

from workstation.core.units import key_label

from .library_model import format_duration
from .track_loader import TrackViewData

log = logging.getLogger(__name__)


def _key_name(pc: int, mode: str) -> str:
    return key_label(int(pc), str(mode)).replace(":", " ")


def describe(data: TrackViewData) -> dict[str, str]:
    """Plain-text sections of the panel (title -> text); what the panel shows, testable."""
    t = data.track
    out: dict[str, str] = {}
    r = data.results
    key = r.get("key")
    if key is not None:
        lines = [f"{_key_name(key.tonic_pc, key.mode)} (confidence {key.confidence:.2f})"]
        for s, e, pc, m, c in zip(key.local_start_s, key.local_end_s, key.local_tonic_pc,
                                  key.local_mode, key.local_confidence
                                  if len(key.local_confidence) == len(key.local_start_s)
                                  else np.zeros(len(key.local_start_s))):
            lines.append(f"  {format_duration(s)}–{format_duration(e)}  {_key_name(pc, m)}  ({c:.2f})")
        out["Key"] = "\n".join(lines)
    beats = r.get("beats")
    if beats is not None:
        alts = ", ".join(f"{a:.1f}" for a in np.asarray(beats.tempo_alternatives_bpm).ravel())
        meter = f", {beats.meter}/4" if beats.meter else ""
        out["Tempo"] = (f"{beats.tempo_bpm:.1f} BPM (confidence {beats.tempo_confidence:.2f}{meter})"
                        + (f"\nalternatives: {alts}" if alts else "")
                        + f"\n{len(beats.times_s)} beats, {len(beats.downbeats_s)} downbeats")
    tags = r.get("tags")
    if tags is not None and len(tags.labels):
        order = np.argsort(-np.asarray(tags.scores))[:12]
        out["Tags"] = ", ".join(f"{tags.labels[i]} {float(tags.scores[i]):.2f}" for i in order)
    notes = r.get("notes")
    if notes is not None:
        how = {"f0": " (one at a time, from the f0 track: the track sounds monophonic)",
               "salience": " (polyphonic, from the salience)",
               "f0+salience": (" (one at a time from the f0 track in the passages that sound"
                               " monophonic, polyphonic elsewhere)")}.get(notes.method, "")
        out["Notes"] = f"{len(notes)} notes{how}"
    if data.errors:
        out["Failed"] = "\n".join(f"{k}: {v}" for k, v in sorted(data.errors.items()))
    if data.display_error:
        out["File problem"] = data.display_error
    details = [f"{t.title or Path(t.path).stem}" + (f" — {t.artist}" if t.artist else ""),
               t.path]
    if t.duration_s:
        details.append(f"{format_duration(t.duration_s)} ({t.duration_s:.2f} s), "
                       f"{t.sample_rate} Hz, {t.channels} ch, {t.format or '?'}")
    if t.size:
        details.append(f"{t.size / 1e6:.1f} MB")
    if t.album or t.year or t.genre:
        details.append(" · ".join(str(x) for x in (t.album, t.year, t.genre) if x))
    if data.timings:   # how long loading took is for developers: the log, not the pane
        log.debug("%s: loaded in %s", t.path, ", ".join(f"{k} {v * 1000:.0f} ms"
                                                        for k, v in data.timings.items()))
    out["File"] = "\n".join(details)
    return out


class InfoPanel(QWidget):
    """Read-only details of the selected track (``set_data`` / ``clear``)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.browser = QTextBrowser()
        self.browser.setOpenLinks(False)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.browser)
        self.sections: dict[str, str] = {}
        self.clear()

    def clear(self) -> None:
        self.sections = {}
        self.browser.setHtml("<p style='color:#808590'>Select a track.</p>")

    def set_data(self, data: TrackViewData) -> None:
        self.sections = describe(data)
        parts = []
        for title, text in self.sections.items():
            colour = "#ff6b6b" if title in ("Failed", "File problem") else "#4fa3ff"
            body = html.escape(text).replace("\n", "<br>")
            parts.append(f"<h4 style='color:{colour};margin:6px 0 2px 0'>{html.escape(title)}</h4>"
                         f"<div style='margin-left:4px'>{body}</div>")
        self.browser.setHtml("".join(parts))

    def refresh(self, data: TrackViewData) -> None:
        """``set_data`` again for the same track (after an edit), keeping the scroll position."""
        bar = self.browser.verticalScrollBar()
        at = bar.value()
        self.set_data(data)
        bar.setValue(at)

    def text(self) -> str:
        return self.browser.toPlainText()
