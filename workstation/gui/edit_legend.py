"""The legend under the track view that names the layers corrected by hand
(``TrackView.show_edits``): one short line, 'Corrected by hand: beats (rev 2), notes (not
saved yet)', with '⚠ analysis changed: notes' when an edit was made over another analysis
than the current one. The label wraps rather than widening the view; its tool tip has the
full text, one layer a line ('notes: corrected by hand (revision 3) — the analysis has
changed since (now …; Edit ▸ Revert to take it)')."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSizePolicy


def legend_texts(revisions: dict, stale: dict | None = None,
                 names: dict | None = None) -> tuple[str, str]:
    """(the legend's short text, its tool tip) for ``revisions`` (layer id -> revision, 0:
    not saved yet) and ``stale`` (layer id -> the analysis now); ``names``: layer id -> the
    name shown (e.g. 'pitch.f0' -> 'f0'). Both empty with no correction."""
    if not revisions:
        return "", ""
    names, stale = names or {}, stale or {}
    items = sorted(revisions.items())
    short = ", ".join(f"{names.get(k, k)} ({f'rev {r}' if r else 'not saved yet'})" for k, r in items)
    text = f"Corrected by hand: {short}"
    changed = [names.get(k, k) for k, _ in items if k in stale]
    if changed:
        text += f"   ⚠ analysis changed: {', '.join(changed)} (hover for details)"
    tip = "\n".join(
        f"{names.get(k, k)}: corrected by hand ({f'revision {r}' if r else 'not saved yet'})"
        + (f" — the analysis has changed since (now {stale[k]}; Edit ▸ Revert to take it)"
           if k in stale else "") for k, r in items)
    return text, tip


class EditLegend(QLabel):
    """The legend label: wraps to the view's width (never widens it), full text in the tool tip."""

    def __init__(self, colour: str, parent=None):
        super().__init__("", parent)
        self.setStyleSheet(f"color: {colour}; padding: 0 6px;")
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setWordWrap(True)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def show_revisions(self, revisions: dict, stale: dict | None = None,
                       names: dict | None = None) -> None:
        text, tip = legend_texts(revisions, stale, names)
        self.setText(text)
        self.setToolTip(tip)
