"""The *Edit* menu's actions that work on one layer being edited (``edit_control``): each
is enabled only in that layer's edit mode.

- notes (E): Split at the mouse over the main pane, else at the cursor (S), Merge (M),
  Play the selected notes (A: synthesised, over the audio under them, from the first onset
  to the last offset);
- beats (B): Double / Halve the tempo, Set downbeat (D), Shift the selection or the whole
  grid by 10 ms (Shift+Left / Shift+Right) or by a typed amount, Tap a beat during
  playback (T);
- f0 (F): Draw by dragging (Shift+F), Unvoice (also Delete), Voice (V), Octave up / down
  (Ctrl+Up / Ctrl+Down), Snap to the nearest salience peak (P), to the next peak up / down
  (Shift+Up / Shift+Down; only when the track has a 'pitch.salience');
- key (K): Set key… of the selected segment (Enter), Set global key… (Ctrl+K).

Always on: *Snap notes to beats* (a toggle, remembered in the settings as
``SNAP_SETTING``) and *Cancel the drag* (Escape, in the panes).

Keys that other widgets use (arrows, Enter, letters one types) are shortcuts of the
panes only (``view.glw``: the focus is there after a click in edit mode).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence

#: How each edited layer (analyzer id) is named in menus and messages.
LABELS = {"notes": "notes", "beats": "beats", "pitch.f0": "f0", "key": "key"}
#: The settings key of *Snap notes to beats*.
SNAP_SETTING = "view/snap_notes"
#: Shift+Left / Shift+Right move beats by this much, s.
NUDGE_S = 0.010


def analysis_hint(prov: dict) -> str:
    """A short name of the analysis that makes a layer now ('notes v2, method x')."""
    text = f"{prov.get('analyzer', '?')} v{prov.get('analyzer_version', '?')}"
    return text + (f", method {prov['method']}" if prov.get("method") else "")


def stale_edits(edits: dict, provenance: dict) -> dict[str, str]:
    """The edits (layer -> ``LayerEdit``) made over another analysis than the current one
    (``analysis.results.provenance``: layer -> {'text', …}): layer -> the current analysis's
    ``analysis_hint``. An edit with no ``based_on`` (unknown) is not counted."""
    out = {}
    for layer, e in edits.items():
        now = provenance.get(layer)
        if now is not None and e.based_on and e.based_on != now.get("text", ""):
            out[layer] = analysis_hint(now)
    return out


def build_layer_actions(ec, w, m) -> list[tuple[QAction, str]]:
    """Add the per-layer actions of ``ec`` (an ``EditController``) to menu ``m`` of window
    ``w`` (also as ``ec.act_*``); (action, layer) pairs for enabling them."""
    view = w.view
    notes, beats, f0, key = (ec.tools[k] for k in ("notes", "beats", "pitch.f0", "key"))
    pairs: list[tuple[QAction, str]] = []

    def add(layer, text, slot, *keys, panes_only=False):
        if not panes_only:
            a = w._action(m, text, slot, keys[0] if keys else None)
        else:
            a = QAction(text, view.glw)
            a.setShortcuts([QKeySequence(k) for k in keys])
            a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            a.triggered.connect(slot)
            view.glw.addAction(a)
            m.addAction(a)
        pairs.append((a, layer))
        return a

    ec.act_split = add("notes", "&Split notes at the mouse (or the cursor)", ec.split_notes, "S")
    ec.act_merge = add("notes", "&Merge notes", notes.merge_selected, "M")
    ec.act_play_selected = add("notes", "&Play selected notes", ec.play_selected, "A")
    m.addSeparator()
    ec.act_double = add("beats", "D&ouble the tempo (selected beats)", beats.double_tempo)
    ec.act_halve = add("beats", "&Halve the tempo (selected beats)", beats.halve_tempo)
    ec.act_downbeat = add("beats", "Set &downbeat (the selected beat)", beats.set_downbeat, "D")
    ec.act_nudge_left = add("beats", "Shift beats 10 ms earlier (selected, or all)",
                            lambda: beats.shift(-NUDGE_S), "Shift+Left", panes_only=True)
    ec.act_nudge_right = add("beats", "Shift beats 10 ms later (selected, or all)",
                             lambda: beats.shift(NUDGE_S), "Shift+Right", panes_only=True)
    ec.act_shift_by = add("beats", "Shift beats &by…", ec.shift_beats_dialog)
    ec.act_tap = add("beats", "&Tap a beat (during playback)", ec.tap, "T")
    m.addSeparator()
    ec.act_draw_f0 = add("pitch.f0", "Dra&w f0 by dragging (else Alt+drag)",
                         lambda on: setattr(f0, "drawing", bool(on)), "Shift+F")
    ec.act_draw_f0.setCheckable(True)
    ec.act_unvoice = add("pitch.f0", "&Unvoice the f0 region (Delete)", f0.unvoice)
    ec.act_voice = add("pitch.f0", "&Voice the f0 region", f0.voice, "V", panes_only=True)
    ec.act_octave_up = add("pitch.f0", "f0 an octave &up", lambda: f0.shift_octave(1),
                           "Ctrl+Up", panes_only=True)
    ec.act_octave_down = add("pitch.f0", "f0 an octave do&wn", lambda: f0.shift_octave(-1),
                             "Ctrl+Down", panes_only=True)
    ec.act_snap = add("pitch.f0", "Sna&p f0 to the nearest salience peak", lambda: f0.snap(0),
                      "P", panes_only=True)
    ec.act_snap_up = add("pitch.f0", "Snap f0 to the next peak up", lambda: f0.snap(1),
                         "Shift+Up", panes_only=True)
    ec.act_snap_down = add("pitch.f0", "Snap f0 to the next peak down", lambda: f0.snap(-1),
                           "Shift+Down", panes_only=True)
    ec.snap_actions = (ec.act_snap, ec.act_snap_up, ec.act_snap_down)
    m.addSeparator()
    ec.act_set_key = add("key", "Set the segment's &key…", key.set_key_dialog, "Return", "Enter",
                         panes_only=True)
    ec.act_set_global_key = add("key", "Set the &global key…", key.set_global_dialog, "Ctrl+K")
    return pairs


def build_extra_actions(ec, w, m) -> None:
    """*Snap notes to beats* (checkable, remembered in ``w.settings``) and *Cancel the
    drag* (Escape, in the panes) of ``ec`` in menu ``m``."""
    notes, view = ec.tools["notes"], w.view

    def set_snap(on: bool) -> None:
        notes.snap = bool(on)
        w.settings.set(SNAP_SETTING, bool(on))
    ec.act_snap_notes = a = w._action(m, "S&nap notes to beats", set_snap)
    a.setCheckable(True)
    a.setChecked(bool(w.settings.get(SNAP_SETTING, False, bool)))
    notes.snap = a.isChecked()
    ec.act_cancel_drag = c = QAction("Cancel the drag", view.glw)
    c.setShortcut(QKeySequence("Escape"))
    c.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
    c.triggered.connect(lambda: ec.active_tool is not None and ec.active_tool.cancel_drag())
    view.glw.addAction(c)
    m.addAction(c)
