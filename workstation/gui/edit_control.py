"""Correcting the shown track's notes, beats, f0 and key by hand: the *Edit* menu, the edit
modes, one undo stack per track, and saving the corrected layers.

- *Edit notes* (E), *Edit beats* (B), *Edit f0* (F) and *Edit key* (K), also toolbar
  buttons ('Notes ✎', …; the one on is drawn in the accent colour, ``MODE_BUTTON_STYLE``),
  hand the main pane's mouse to the ``note_tool.NoteTool``, ``beat_tool.BeatTool``,
  ``f0_tool.F0Tool`` or ``key_tool.KeyTool`` (one at a time; the key tool takes the key
  lane's too); with all off, clicks move the cursor as before. ``tools`` and the saved
  edits are keyed by analyzer id ('notes', 'beats', 'pitch.f0', 'key').
- Undo (Ctrl+Z), Redo (Ctrl+Shift+Z, Ctrl+Y): the shown track's ``QUndoStack`` (one per
  track for both layers, in a ``QUndoGroup``; they live as long as the window).
- Delete / Backspace, Select all (Ctrl+A), Cancel the drag (Escape) with the focus in the
  track view, on the layer being edited (f0: unvoice the region; key: merge the segment with the next); the actions
  of one layer are ``edit_actions``'.
- *Revert notes (beats) to the analysis…* asks first, then drops the stored edit
  (``Library.revert_edit``) and shows the track again.

Saving: ``SAVE_DELAY_MS`` after the last change (and at once when another track is shown
or the window closes) each changed layer goes to ``Library.set_edit(track, layer, result,
based_on=<the analysis's provenance>, source='window')`` on the library task thread;
undoing every change of a track whose layer had no edit drops the edit instead. After
each change the Info panel shows the edited data again (tempo, beats, keys). A failed
save is shown in a dialog (``error_box``). An edit made over another analysis than the
current one (its ``based_on`` differs from the provenance text) is named so in the legend.
"""

from __future__ import annotations

import logging
import weakref

from PySide6.QtCore import QTimer, Qt
from PySide6.QtGui import QAction, QKeySequence, QUndoGroup, QUndoStack
from PySide6.QtWidgets import QMenu, QMessageBox, QToolButton

from workstation.core.errors import WorkstationError

from .beat_tool import BeatTool
from .edit_actions import LABELS, build_extra_actions, build_layer_actions, stale_edits
from .f0_tool import F0Tool
from .key_tool import KeyTool
from .message_box import open_warning
from .note_tool import NoteTool
from .panes import ACCENT

log = logging.getLogger(__name__)

SAVE_DELAY_MS = 500
#: Edit modes: layer -> (menu text, shortcut, the toolbar button's tool tip, its short text).
MODES = {"notes": ("&Edit notes", "E", "select, move, draw and delete notes", "Notes ✎"),
         "beats": ("Edit &beats", "B", "select, move, add, delete and tap beats", "Beats ✎"),
         "pitch.f0": ("Edit &f0", "F", "select a time region and unvoice, voice, shift or "
                      "snap it; Alt+drag draws the f0", "f0 ✎"),
         "key": ("Edit &key", "K", "select, split, merge and set local keys; drag a boundary",
                 "Key ✎")}
#: The edit mode buttons: the one that is on looks pressed (the accent colour).
MODE_BUTTON_STYLE = (f"QToolButton {{ padding: 2px 6px; }} "
                     f"QToolButton:checked {{ background: {ACCENT}; color: #0b0d12; "
                     f"border: 1px solid #9ccaff; border-radius: 3px; font-weight: bold; }}")


def save_layer(library, specs, track_id: int, layer: str, result, drop: bool):
    """Store (or, ``drop``: revert) a corrected layer (task thread); (track id, layer,
    revision: 0 when dropped)."""
    if drop:
        library.revert_edit(track_id, layer)
        return track_id, layer, 0
    from workstation.analysis.results import provenance
    try:
        based_on = provenance(specs).get(layer, {}).get("text", "")
    except WorkstationError as e:   # the analysis's description is a nicety, not a must
        log.warning("no provenance for %s: %s", layer, e)
        based_on = ""
    return track_id, layer, library.set_edit(track_id, layer, result, based_on=based_on,
                                             source="window")


def revert_layer(library, track_id: int, layer: str):
    return track_id, layer, library.revert_edit(track_id, layer)


class EditController:
    """Editing in ``window`` (a ``MainWindow``): builds the *Edit* menu before *Analysis*."""

    def __init__(self, window):
        self._window = weakref.ref(window)
        self.group = QUndoGroup(window)
        self.stacks: dict[int, QUndoStack] = {}
        v = window.view
        self.tools = {"notes": NoteTool(v), "beats": BeatTool(v), "pitch.f0": F0Tool(v),
                      "key": KeyTool(v)}
        for layer, tool in self.tools.items():
            tool.changed.connect(lambda layer=layer: self._changed(layer))
        self.tool = self.tools["notes"]
        self.editing: str | None = None                  # the layer being edited
        self.track_id: int | None = None
        self.stale: dict[int, dict[str, str]] = {}       # track -> layer -> the analysis now
        self._provenance = None                          # (analyzer keys, provenance)
        self._over_analysis: dict[tuple, bool] = {}      # (track, layer) -> no stored edit under it
        self._dirty: dict[tuple, object] = {}            # (track, layer) -> result to save
        self._saving: dict[tuple, object] = {}           # (track, layer) -> result being saved
        self.error_box: QMessageBox | None = None
        self._timer = QTimer(window)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SAVE_DELAY_MS)
        self._timer.timeout.connect(self.flush)
        window.state.edits_changed.connect(self._show_edits)
        self._build_menu(window)

    @property
    def window(self):
        return self._window()

    @property
    def active_tool(self):
        return self.tools.get(self.editing)

    # ------------------------------------------------------------------ menu
    def _build_menu(self, w) -> None:
        m = QMenu("&Edit", w)
        w.menuBar().insertMenu(w.menu_analysis.menuAction(), m)
        self.menu = m
        self.act_undo = self.group.createUndoAction(w, "&Undo")
        self.act_undo.setShortcuts([QKeySequence(QKeySequence.StandardKey.Undo)])
        self.act_redo = self.group.createRedoAction(w, "&Redo")
        self.act_redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        for a in (self.act_undo, self.act_redo):
            a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            m.addAction(a)
            w.addAction(a)
        m.addSeparator()
        self.mode_actions = {}
        for layer, (text, key, tip, short) in MODES.items():
            a = w._action(m, text, lambda on, layer=layer: self.set_editing(on, layer), key)
            a.setCheckable(True)
            a.setIconText(short)   # the toolbar button's text; the menu shows the full one
            a.setToolTip(f"{text.replace('&', '')} ({key}): {tip}")
            self.mode_actions[layer] = a
        self.act_edit_notes, self.act_edit_beats = self.mode_actions["notes"], self.mode_actions["beats"]
        self.act_edit_f0, self.act_edit_key = self.mode_actions["pitch.f0"], self.mode_actions["key"]
        view = w.view

        def in_view(text, slot, *keys):
            a = QAction(text, view)
            a.setShortcuts([QKeySequence(k) for k in keys])
            a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            a.triggered.connect(slot)
            view.addAction(a)
            m.addAction(a)
            return a
        self.act_delete = in_view("&Delete selected (f0: unvoice; key: merge with the next)",
                                  lambda: self.active_tool.delete_selected(),
                                  QKeySequence.StandardKey.Delete, "Backspace")
        self.act_select_all = in_view("Select &all in the layer",
                                      lambda: self.active_tool.select_all(), "Ctrl+A")
        m.addSeparator()
        self.layer_actions = build_layer_actions(self, w, m)
        m.addSeparator()
        build_extra_actions(self, w, m)
        m.addSeparator()
        self.revert_actions = {layer: w._action(m, f"Re&vert {LABELS[layer]} to the analysis…",
                                                lambda _=False, layer=layer: self.revert(layer))
                               for layer in self.tools}
        bar = view.toolbar.layout()
        self.buttons = {}
        for i, (layer, a) in enumerate(self.mode_actions.items()):
            b = QToolButton()
            b.setDefaultAction(a)   # text: the action's iconText; tool tip: its toolTip
            b.setStyleSheet(MODE_BUTTON_STYLE)
            bar.insertWidget(bar.indexOf(view.ref_box) + 1 + i, b)
            self.buttons[layer] = b
        self._enable()

    def _enable(self) -> None:
        e = self.editing
        self.act_delete.setEnabled(e is not None)
        self.act_select_all.setEnabled(e is not None)
        salience = self.tools["pitch.f0"].salience is not None
        for a, layer in self.layer_actions:
            a.setEnabled(e == layer and (salience or a not in self.snap_actions))

    def set_editing(self, on: bool, layer: str = "notes") -> None:
        """Edit mode of ``layer`` on (the others off) or off (E, B, F, K)."""
        on = bool(on) and self.window.view.data is not None
        self.editing = layer if on else (None if self.editing == layer else self.editing)
        for name, tool in self.tools.items():
            if name != self.editing:
                tool.set_active(False)
            a = self.mode_actions[name]
            if a.isChecked() != (name == self.editing):
                a.setChecked(name == self.editing)
        if self.editing is not None:
            self.tools[self.editing].set_active(True)
        self._enable()

    # ------------------------------------------------------------------ the shown track
    def stack(self, track_id: int) -> QUndoStack:
        if track_id not in self.stacks:
            self.stacks[track_id] = QUndoStack(self.group)
        return self.stacks[track_id]

    def track_shown(self, data) -> None:
        """A track is shown (``TrackViewData``): edit its layers (the unsaved ones if any)."""
        w = self.window
        tid = data.track.id
        if tid != self.track_id:
            self.flush()
        self.track_id = tid
        stack = self.stack(tid)
        self.group.setActiveStack(stack)
        revs = {k: e.revision for k, e in data.edits.items()}
        for layer, tool in self.tools.items():
            if stack.count() == 0:
                self._over_analysis[(tid, layer)] = layer not in data.edits
            result = self._dirty.get((tid, layer), self._saving.get((tid, layer)))
            if result is not None:
                w.view.show_layer(layer, result)
                revs[layer] = 0
            else:
                result = data.results.get(tool.result_id)
            tool.begin(result, stack)
        self.stale[tid] = stale_edits(data.edits, self.current_provenance())
        w.state.set_edits(tid, revs)
        self._show_edits(tid, revs)   # the view was just given the stored ones
        if data.display is None:
            self.set_editing(False, self.editing or "notes")
        self._enable()

    def current_provenance(self) -> dict:
        """``analysis.results.provenance`` of the window's analyzers (kept while they stay)."""
        w = self.window
        keys = tuple(w.analyzer_keys)
        if self._provenance is None or self._provenance[0] != keys:
            from workstation.analysis.results import provenance
            try:
                prov = provenance(w.specs)
            except WorkstationError as e:
                log.warning("no provenance: %s", e)
                prov = {}
            self._provenance = (keys, prov)
        return self._provenance[1]

    # ------------------------------------------------------------------ beats extras
    def tap_position(self) -> float | None:
        """Where playback is now, s (None: not playing)."""
        p = self.window.playback
        return p.position_s() if p.playing else None

    def tap(self) -> bool:
        """*Tap a beat* (T): a beat at the playback position, one undo command per tap."""
        t = self.tap_position()
        if t is None:
            self.window.status("Tap along: start playback (Space), then press T on each beat")
            return False
        return self.tools["beats"].tap(t)

    def ask_shift_ms(self) -> float | None:
        """The amount for *Shift beats by…*, ms (None: cancelled); tests replace it."""
        from PySide6.QtWidgets import QInputDialog
        ms, ok = QInputDialog.getDouble(self.window, "Shift beats",
                                        "Move the selected beats (all when none is selected) by, ms:",
                                        0.0, -5000.0, 5000.0, 1)
        return ms if ok else None

    def shift_beats_dialog(self) -> bool:
        ms = self.ask_shift_ms()
        return ms is not None and self.tools["beats"].shift(ms / 1000.0)

    def split_notes(self) -> bool:
        """*Split notes* (S): at the mouse when it is over the main pane, else at the cursor
        (``NoteTool.split_here``); the status bar says what was split, or why nothing was."""
        done, message = self.tools["notes"].split_here()
        self.window.status(message)
        return done

    def play_selected(self) -> bool:
        """*Play selected notes* (A): the selected notes synthesised over the audio under
        them, from the first onset to the last offset (``PlaybackController.play_notes``)."""
        chosen = self.tools["notes"].selected_alone()
        if chosen is None:
            self.window.status("Select notes to play them (Edit notes, E)")
            return False
        return self.window.playback_control.play_notes(*chosen)

    def _changed(self, layer: str) -> None:
        tid = self.track_id
        if tid is None:
            return
        self._dirty[(tid, layer)] = self.tools[layer].result
        self._set_revision(tid, layer, 0)
        self._timer.start()
        w = self.window
        if w.view.data is not None and w.view.data.track.id == tid:
            w.info.refresh(w.view.data)   # the edit is in the shown data: tempo, keys, notes

    # ------------------------------------------------------------------ the state's edits
    def _set_revision(self, tid: int, layer: str, revision: int | None) -> None:
        """Put ``layer``'s revision (0: unsaved; None: no correction) in the session state."""
        state = self.window.state
        revs = state.edits(tid)
        if revision is None:
            revs.pop(layer, None)
        else:
            revs[layer] = revision
        state.set_edits(tid, revs)

    def _show_edits(self, tid: int, revisions: dict) -> None:
        """The view's legend and styles follow the state's edits of the shown track."""
        if tid == self.track_id:
            self.window.view.show_edits(revisions, self.stale.get(tid))

    # ------------------------------------------------------------------ saving
    def flush(self) -> None:
        """Save every unsaved change now (task thread)."""
        self._timer.stop()
        w = self.window
        for (tid, layer), result in list(self._dirty.items()):
            stack = self.stacks.get(tid)
            drop = (bool(self._over_analysis.get((tid, layer))) and stack is not None
                    and stack.index() == 0)
            self._saving[(tid, layer)] = result
            w.tasks.submit("save edit", save_layer, w.library, w.specs, tid, layer, result, drop,
                           on_done=self._saved, on_error=self._save_failed)
        self._dirty.clear()

    def _saved(self, answer) -> None:
        tid, layer, revision = answer
        if (tid, layer) not in self._dirty:
            self._saving.pop((tid, layer), None)
        self.stale.get(tid, {}).pop(layer, None)   # saved over the analysis of now
        pending = (tid, layer) in self._dirty       # changed again since: still unsaved
        self._set_revision(tid, layer, (0 if pending else revision) if revision else None)
        w = self.window
        self._show_edits(tid, w.state.edits(tid))
        w.refresh_rows([tid])
        name = LABELS.get(layer, layer).capitalize()
        w.status(f"{name} saved (revision {revision})" if revision else f"{name} back to the analysis")

    def _save_failed(self, message: str) -> None:
        self.error_box = open_warning(self.window, "Cannot save the correction",
                                      f"The corrected layer was not saved:\n\n{message}")

    def close(self, timeout: float = 10.0) -> None:
        """Save what is unsaved and wait for it (the window closes)."""
        self.flush()
        self.window.tasks.wait_idle(timeout)

    # ------------------------------------------------------------------ revert
    def _confirm(self, text: str) -> bool:
        answer = QMessageBox.question(self.window, "Revert to the analysis", text)
        return answer == QMessageBox.StandardButton.Yes

    def revert(self, layer: str = "notes", *, confirm: bool = True) -> bool:
        """Drop the shown track's corrected ``layer`` (after asking) and show the
        analysis's again. The track's undo history goes with it."""
        w = self.window
        tid = self.track_id
        if tid is None or w.view.data is None:
            return False
        name = LABELS.get(layer, layer)
        if confirm and not self._confirm(f"Drop the {name} corrected by hand for this track and "
                                         f"show the analysis's {name} again?\n\n"
                                         "This cannot be undone."):
            return False
        self._dirty.pop((tid, layer), None)
        self.stack(tid).clear()
        w.tasks.submit("revert edit", revert_layer, w.library, tid, layer,
                       on_done=self._reverted, on_error=self._save_failed)
        return True

    def _reverted(self, answer) -> None:
        tid, layer, _ = answer
        self._saving.pop((tid, layer), None)
        self._set_revision(tid, layer, None)
        w = self.window
        w.refresh_rows([tid])
        if tid == w.current_track_id:
            w.load_track(tid)
