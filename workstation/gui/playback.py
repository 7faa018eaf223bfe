"""Playback with QtMultimedia (QMediaPlayer + QAudioOutput), driving the view's cursor.

Where no audio output exists (offscreen, CI, a machine without sound), ``available`` is
False, ``reason`` says why, and every call is a no-op: nothing else breaks (the loop region
and the cursor position are still kept, so the views can show them).

Loop: ``set_loop(start_s, end_s)`` / ``clear_loop()`` / ``loop``. While playing, the ~33 ms
tick seeks back to ``start_s`` once the position reaches ``end_s`` (and at the end of the
media); starting playback outside the loop starts at ``start_s``. The decision is the pure
function :func:`loop_target`. ``load`` of another track clears the loop.

Source override: ``set_source_override(path, offset_s=...)`` plays another file (e.g. the
notes + audio mix of ``export.sonify.write_notes_mix``) instead of the track, on the same
time axis: the file's sample 0 is ``offset_s`` on the track. Positions, seeks, the loop and
the cursor stay in track seconds; playing state and position carry over the switch.
"""

from __future__ import annotations

import logging
import math

from PySide6.QtCore import QObject, Qt, QTimer, QUrl, Signal

log = logging.getLogger(__name__)

#: Shortest loop accepted, in seconds (shorter selections are a click, not a region).
MIN_LOOP_S: float = 0.05


def loop_target(position_s: float, loop: tuple[float, float] | None, *,
                starting: bool = False) -> float | None:
    """Where playback must jump to under ``loop``, or None to go on.

    position_s: the current position in seconds; loop: (start_s, end_s) or None.
    While playing (``starting`` False) the jump happens once the position reaches ``end_s``
    (whatever came before: a position left of the loop plays into it). When playback starts
    (``starting`` True), any position outside [start_s, end_s) starts at ``start_s``.
    """
    if loop is None:
        return None
    start, end = loop
    if position_s >= end:
        return start
    if starting and position_s < start:
        return start
    return None


class Playback(QObject):
    """Signals: ``position_changed(float s)`` (about 30 times a second while playing, and on
    every seek), ``state_changed(bool playing)``, ``unavailable(str reason)``,
    ``loop_changed(object)`` (the new ``loop``: (start_s, end_s) or None),
    ``source_changed(str path)`` (the file now playing: the track or its override).

    ``headless=True`` drives a player without any audio output (no sound; its clock, the
    cursor and the loop still run): for tests and machines without sound devices where a
    moving cursor is still wanted."""

    position_changed = Signal(float)
    state_changed = Signal(bool)
    unavailable = Signal(str)
    loop_changed = Signal(object)
    source_changed = Signal(str)

    def __init__(self, parent=None, *, enabled: bool = True, headless: bool = False):
        super().__init__(parent)
        self.player = None
        self.output = None
        self.path: str | None = None
        self.reason = ""
        self._loop: tuple[float, float] | None = None
        self._override: tuple[str, float] | None = None
        self._pos_s = 0.0  # last known position (track seconds), also when unavailable
        self._pending: tuple[int, bool] | None = None  # (ms, play) once the media has loaded
        self._timer = QTimer(self)
        self._timer.setInterval(33)
        self._timer.timeout.connect(self._tick)
        if not enabled:
            self.reason = "playback disabled"
            return
        try:
            from PySide6.QtMultimedia import QAudioOutput, QMediaDevices, QMediaPlayer
        except ImportError as e:
            self.reason = f"playback unavailable: QtMultimedia is missing ({e})"
            return
        if not headless:
            if not QMediaDevices.audioOutputs():
                self.reason = "playback unavailable: no audio output device"
                return
            self.output = QAudioOutput(QMediaDevices.defaultAudioOutput(), self)
        self.player = QMediaPlayer(self)
        if self.output is not None:
            self.player.setAudioOutput(self.output)
        self.player.playbackStateChanged.connect(self._on_state)
        self.player.mediaStatusChanged.connect(self._on_media_status)
        self.player.errorOccurred.connect(self._on_error)

    # ------------------------------------------------------------------ state
    @property
    def available(self) -> bool:
        return self.player is not None

    @property
    def audible(self) -> bool:
        """True when the player drives an audio output device that still exists (sound can be
        heard); False unavailable, headless, or once the system has no audio output left."""
        if self.player is None or self.output is None:
            return False
        from PySide6.QtMultimedia import QMediaDevices
        return bool(QMediaDevices.audioOutputs())

    @property
    def silent_reason(self) -> str:
        """Why nothing can be heard ('' when ``audible``)."""
        if self.audible:
            return ""
        if self.reason:
            return self.reason
        return "playback unavailable: no audio output device"

    @property
    def playing(self) -> bool:
        if self.player is None:
            return False
        from PySide6.QtMultimedia import QMediaPlayer
        return self.player.playbackState() == QMediaPlayer.PlaybackState.PlayingState

    @property
    def loop(self) -> tuple[float, float] | None:
        """The loop region (start_s, end_s) in track seconds, or None."""
        return self._loop

    @property
    def source_override(self) -> tuple[str, float] | None:
        """(path, offset_s) of the file played instead of the track, or None."""
        return self._override

    @property
    def source_path(self) -> str | None:
        """The file the player plays: the override when set, else the track."""
        return self._override[0] if self._override else self.path

    @property
    def offset_s(self) -> float:
        """Track time of the played file's sample 0 (0 without an override)."""
        return self._override[1] if self._override else 0.0

    # ------------------------------------------------------------------ track and source
    def load(self, path: str | None) -> None:
        """Play ``path`` (a track; None unloads). Another track clears the loop and the source
        override; reloading the same track keeps both."""
        self.stop()
        if path != self.path:
            self._override = None
            if self._loop is not None:
                self._loop = None
                self.loop_changed.emit(None)
            self._pos_s = 0.0
        self.path = path
        self._set_player_source(self.source_path, 0, False)

    def set_source_override(self, path: str | None, *, offset_s: float = 0.0) -> None:
        """Play ``path`` instead of the track (None goes back to the track). The file's sample 0
        is ``offset_s`` track seconds; the position, playing state and loop carry over."""
        new = (str(path), float(offset_s)) if path else None
        if new == self._override:
            return
        pos, was_playing = self.position_s(), self.playing
        self._override = new
        self._pos_s = pos
        if self.player is not None:
            self._pending = (self._to_ms(pos), was_playing)  # holds the position over stop()
            self.player.stop()
        self._set_player_source(self.source_path, self._to_ms(pos), was_playing)

    def _set_player_source(self, path: str | None, ms: int, play: bool) -> None:
        if self.player is None:
            return
        self._pending = (ms, play) if path else None
        self.player.setSource(QUrl.fromLocalFile(path) if path else QUrl())
        if path:
            self.source_changed.emit(path)

    def _to_ms(self, t_s: float) -> int:
        return int(round(max(0.0, t_s - self.offset_s) * 1000))

    # ------------------------------------------------------------------ loop
    def set_loop(self, start_s: float, end_s: float) -> tuple[float, float]:
        """Loop [start_s, end_s) (track seconds; either order). Returns the loop set.
        Raises ValueError when a bound is not finite or the region is shorter than
        ``MIN_LOOP_S``. While playing outside the new loop, playback jumps to its start at
        the next tick only if it is past the end (a position before the loop plays into it)."""
        a, b = sorted((float(start_s), float(end_s)))
        if not (math.isfinite(a) and math.isfinite(b)):
            raise ValueError(f"loop bounds must be finite, got {start_s}, {end_s}")
        a = max(0.0, a)
        if b - a < MIN_LOOP_S:
            raise ValueError(f"loop {a:.3f}..{b:.3f} s is shorter than {MIN_LOOP_S} s")
        self._loop = (a, b)
        self.loop_changed.emit(self._loop)
        return self._loop

    def clear_loop(self) -> None:
        if self._loop is not None:
            self._loop = None
            self.loop_changed.emit(None)

    # ------------------------------------------------------------------ transport
    def toggle(self, from_s: float | None = None) -> bool:
        """Play or pause; returns whether it is now playing (False when unavailable).

        When it starts, it starts at ``from_s`` (track seconds; default the current
        position), moved to the loop start when that lies outside the loop."""
        if self.player is None or not self.path:
            if self.reason:
                self.unavailable.emit(self.reason)
            return False
        if self.playing:
            self.player.pause()
            return False
        self.play(from_s)
        return True

    def play(self, from_s: float | None = None) -> None:
        """Start playing at ``from_s`` (or the current position), loop-adjusted."""
        if self.player is None or not self.path:
            if self.reason:
                self.unavailable.emit(self.reason)
            return
        t = self.position_s() if from_s is None else float(from_s)
        target = loop_target(t, self._loop, starting=True)
        t = t if target is None else target
        if from_s is not None or target is not None:
            self.seek(t)
        if self._pending is not None:
            self._pending = (self._pending[0], True)
        self.player.play()

    def stop(self) -> None:
        if self.player is not None:
            self.player.stop()
        self._timer.stop()

    def seek(self, t_s: float) -> None:
        """Move to ``t_s`` track seconds (the cursor follows through ``position_changed``)."""
        self._pos_s = max(0.0, float(t_s))
        if self.player is not None:
            if self._pending is not None:
                self._pending = (self._to_ms(self._pos_s), self._pending[1])
            else:
                self.player.setPosition(self._to_ms(self._pos_s))
        self.position_changed.emit(float(t_s))

    def position_s(self) -> float:
        """The position in track seconds (the last seek where no player runs)."""
        if self.player is None or self._pending is not None:
            return self._pos_s
        return self.player.position() / 1000.0 + self.offset_s

    # ------------------------------------------------------------------ player callbacks
    def _tick(self) -> None:
        pos = self.position_s()
        target = loop_target(pos, self._loop) if self.playing else None
        if target is not None:
            self.seek(target)
        else:
            self._pos_s = pos
            self.position_changed.emit(pos)

    def _on_state(self, _state) -> None:
        playing = self.playing
        if playing:
            self._timer.start()
        else:
            self._timer.stop()
            self._tick()
        self.state_changed.emit(playing)

    def _on_media_status(self, status) -> None:
        from PySide6.QtMultimedia import QMediaPlayer
        S = QMediaPlayer.MediaStatus
        if status in (S.LoadedMedia, S.BufferedMedia, S.BufferingMedia) and self._pending:
            ms, play = self._pending
            self._pending = None
            if ms:
                self.player.setPosition(ms)
            if play and not self.playing:
                self.player.play()
        elif status == S.EndOfMedia and self._loop is not None:
            self.seek(self._loop[0])
            self.player.play()

    def _on_error(self, _err, message: str = "") -> None:
        log.warning("playback error on %s: %s", self.source_path, message)
        self.unavailable.emit(f"playback error: {message}")


def show_no_audio_dialog(parent, what: str, reason: str):
    """Tell the user, in a window-modal warning opened without blocking, that ``what`` (e.g.
    'The notes synthesised over the audio') will not be heard and why. Returns the dialog
    (a ``QMessageBox``; tests read its text and close it)."""
    from PySide6.QtWidgets import QMessageBox
    reason = reason.split(": ", 1)[-1] if reason.startswith("playback unavailable: ") else reason
    box = QMessageBox(QMessageBox.Icon.Warning, "No sound", f"{what} cannot be played: {reason}.",
                      QMessageBox.StandardButton.Ok, parent)
    box.setInformativeText("Nothing will play. Connect or enable an audio output device, then "
                           "restart the Workstation to hear it.")
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
    box.open()
    return box
