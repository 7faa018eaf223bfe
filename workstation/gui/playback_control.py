"""Listening in the window: *Playback ▸ Play / pause* (Space), the loop over the visible
range (L, Shift+L, its edges dragged over the waveform), the play cursor following the
audio, and *Hear the notes with the audio* (N): the track with its notes synthesised over
it, rendered to a WAV on the library task thread (``notes_mix``). *Edit ▸ Play selected
notes* (A) plays the selected notes alone over the audio under them the same way
(``selection_mix``, ``play_notes``), then goes back to what played before.

``PlaybackController`` joins the window's ``Playback`` and its track view.
"""

from __future__ import annotations

import weakref
from pathlib import Path

from .playback import show_no_audio_dialog


def notes_mix(library, track, notes) -> tuple[int, str]:
    """Render the track with its notes synthesised over it to a WAV in the library's cache
    (task thread); (track id, path)."""
    from workstation.export.sonify import write_notes_mix
    out = Path(library.root) / "cache" / "playback" / f"{track.content_hash}-notes.wav"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_notes_mix(out, track.path, notes)
    return track.id, str(out)


#: *Play selected notes*: the audio under the notes this much quieter than in *Hear the
#: notes* (the notes stand out), and the time after the last offset (the release), s.
AUDITION_AUDIO_DB = -15.0
AUDITION_TAIL_S = 0.15


def selection_mix(library, track, notes, start_s: float, end_s: float):
    """Render ``notes`` over the track's audio from ``start_s`` to ``end_s`` (plus the
    release) to a WAV in the library's cache (task thread); (track id, path, start_s)."""
    from workstation.export.sonify import write_notes_mix
    out = Path(library.root) / "cache" / "playback" / f"{track.content_hash}-selection.wav"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_notes_mix(out, track.path, notes, start_s=start_s, end_s=end_s + AUDITION_TAIL_S,
                    audio_gain_db=AUDITION_AUDIO_DB)
    return track.id, str(out), float(start_s)


class PlaybackController:
    """Playback, loop and *Hear the notes* of ``window`` (a ``MainWindow``, whose
    ``act_hear_notes`` is the checkable N action). ``last_notice``: the last "nothing will
    play" dialog."""

    def __init__(self, window):
        self._window = weakref.ref(window)  # no Python cycle through the window
        self.last_notice = None
        self._audition = None   # the source override to go back to after *Play selected notes*
        playback, view = window.playback, window.view
        playback.state_changed.connect(self._state_changed)
        playback.position_changed.connect(lambda t: view.set_cursor(t, follow=True))
        playback.unavailable.connect(window.status)
        playback.unavailable.connect(self._silent)
        playback.loop_changed.connect(view.show_loop)
        view.cursor_moved.connect(playback.seek)
        view.loop_region.sigRegionChangeFinished.connect(self._loop_dragged)

    @property
    def window(self):
        return self._window()

    def toggle_playback(self) -> None:
        """Play from the view's cursor, or pause (Space)."""
        w = self.window
        if not w.playback.available:
            w.status(w.playback.reason)
            return
        w.playback.toggle(from_s=w.view.cursor_s())

    def loop_visible(self) -> None:
        """Loop playback over the visible time range (L); drag its edges over the waveform."""
        w = self.window
        if w.view.data is None:
            return
        x0, x1 = w.view.x_range()
        x0, x1 = max(0.0, x0), min(w.view.duration_s, x1)
        try:
            a, b = w.playback.set_loop(x0, x1)
        except ValueError as e:
            w.status(str(e))
            return
        w.status(f"Looping {a:.2f}–{b:.2f} s")

    def clear_loop(self) -> None:
        w = self.window
        w.playback.clear_loop()
        w.status("Loop cleared")

    def _loop_dragged(self) -> None:
        w = self.window
        a, b = w.view.loop_region.getRegion()
        if w.playback.loop is not None and (a, b) != w.playback.loop:
            try:
                w.playback.set_loop(a, b)
            except ValueError as e:
                w.status(str(e))

    def track_shown(self, data) -> None:
        """A track's ``TrackViewData`` is shown: load its audio, show the loop, and render
        its notes when *Hear the notes* is on."""
        w = self.window
        self._audition = None
        w.playback.load(data.track.path if data.track.status == "ok" else None)
        w.view.show_loop(w.playback.loop)
        if w.act_hear_notes.isChecked():
            self.set_hear_notes(True)

    def set_hear_notes(self, on: bool) -> None:
        """Play the track with its notes synthesised over it (N), or the track alone."""
        w = self.window
        on = bool(on)
        if w.act_hear_notes.isChecked() != on:
            w.act_hear_notes.setChecked(on)
        data = w.view.data
        self._audition = None
        if not on:
            w.playback.set_source_override(None)
            return
        if self._silent():
            return
        if data is None or "notes" not in data.results:
            w.status("No notes to hear for this track yet")
            w.act_hear_notes.setChecked(False)
            return
        w.tasks.submit("notes_mix", notes_mix, w.library, data.track, data.results["notes"],
                       on_done=self._mixed, key="notes_mix")
        w.status("Rendering the notes over the audio…")

    def _mixed(self, result) -> None:
        w = self.window
        track_id, path = result
        if self._silent():
            return
        if track_id == w.current_track_id and w.act_hear_notes.isChecked():
            self._audition = None
            w.playback.set_source_override(path)
            w.status("Playing the audio with the notes synthesised over it")

    def _silent(self, failure: str = "") -> bool:
        """With *Hear the notes* on and no audio output (or playback failing: ``failure``
        says how): uncheck it, go back to the track and say in a dialog that nothing will
        play. True if so."""
        w = self.window
        if not w.act_hear_notes.isChecked() or (w.playback.audible and not failure):
            return False
        w.act_hear_notes.setChecked(False)
        w.playback.set_source_override(None)
        reason = failure or w.playback.silent_reason
        w.status(f"Nothing will play: {reason}")
        self.last_notice = show_no_audio_dialog(w, "The notes synthesised over the audio", reason)
        return True

    # ------------------------------------------------------------------ Play selected notes
    def play_notes(self, notes, start_s: float, end_s: float) -> bool:
        """Play ``notes`` (the selection alone) synthesised over the audio under them, from
        ``start_s`` to ``end_s`` (rendered on the task thread); without sound, say so in a
        dialog (``last_notice``). False when nothing is going to play."""
        w = self.window
        data = w.view.data
        if not w.playback.audible:
            reason = w.playback.silent_reason
            w.status(f"Nothing will play: {reason}")
            self.last_notice = show_no_audio_dialog(w, "The selected notes", reason)
            return False
        if data is None or not len(notes):
            return False
        w.tasks.submit("selection_mix", selection_mix, w.library, data.track, notes, start_s, end_s,
                       on_done=self._selection_mixed, key="selection_mix")
        w.status(f"Rendering {len(notes)} selected note(s)…")
        return True

    def _selection_mixed(self, result) -> None:
        w = self.window
        track_id, path, start_s = result
        if track_id != w.current_track_id or not w.playback.audible:
            return
        before = w.playback.source_override if self._audition is None else self._audition[0]
        self._audition = None
        w.playback.stop()
        w.playback.set_source_override(path, offset_s=start_s)
        self._audition = [before, False]   # (what to go back to, started playing)
        w.playback.play(from_s=start_s)
        w.status("Playing the selected notes")

    def _state_changed(self, playing: bool) -> None:
        """Once *Play selected notes* has played and stops, the track (or its notes mix)
        plays again."""
        if self._audition is None:
            return
        if playing:
            self._audition[1] = True
            return
        if not self._audition[1]:
            return
        before, self._audition = self._audition[0], None
        w = self.window
        if before is None:
            w.playback.set_source_override(None)
        else:
            w.playback.set_source_override(before[0], offset_s=before[1])
