"""Playback with QtMultimedia (QMediaPlayer + QAudioOutput), driving the view's cursor.

Where no audio output exists (offscreen, CI, a machine without sound), ``available`` is
False, ``reason`` says why, and every call is a no-op: nothing else breaks.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, QTimer, QUrl, Signal

log = logging.getLogger(__name__)


class Playback(QObject):
    """Signals: ``position_changed(float s)`` (about 30 times a second while playing),
    ``state_changed(bool playing)``, ``unavailable(str reason)``."""

    position_changed = Signal(float)
    state_changed = Signal(bool)
    unavailable = Signal(str)

    def __init__(self, parent=None, *, enabled: bool = True):
        super().__init__(parent)
        self.player = None
        self.output = None
        self.path: str | None = None
        self.reason = ""
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
        if not QMediaDevices.audioOutputs():
            self.reason = "playback unavailable: no audio output device"
            return
        self.output = QAudioOutput(QMediaDevices.defaultAudioOutput(), self)
        self.player = QMediaPlayer(self)
        self.player.setAudioOutput(self.output)
        self.player.playbackStateChanged.connect(self._on_state)
        self.player.errorOccurred.connect(self._on_error)

    @property
    def available(self) -> bool:
        return self.player is not None

    @property
    def playing(self) -> bool:
        if self.player is None:
            return False
        from PySide6.QtMultimedia import QMediaPlayer
        return self.player.playbackState() == QMediaPlayer.PlaybackState.PlayingState

    def load(self, path: str | None) -> None:
        self.stop()
        self.path = path
        if self.player is not None:
            self.player.setSource(QUrl.fromLocalFile(path) if path else QUrl())

    def toggle(self) -> bool:
        """Play or pause; returns whether it is now playing (False when unavailable)."""
        if self.player is None or not self.path:
            if self.reason:
                self.unavailable.emit(self.reason)
            return False
        if self.playing:
            self.player.pause()
            return False
        self.player.play()
        return True

    def stop(self) -> None:
        if self.player is not None:
            self.player.stop()
        self._timer.stop()

    def seek(self, t_s: float) -> None:
        if self.player is not None:
            self.player.setPosition(int(max(0.0, t_s) * 1000))
        self.position_changed.emit(float(t_s))

    def position_s(self) -> float:
        return self.player.position() / 1000.0 if self.player is not None else 0.0

    def _tick(self) -> None:
        self.position_changed.emit(self.position_s())

    def _on_state(self, _state) -> None:
        playing = self.playing
        if playing:
            self._timer.start()
        else:
            self._timer.stop()
            self._tick()
        self.state_changed.emit(playing)

    def _on_error(self, _err, message: str = "") -> None:
        log.warning("playback error on %s: %s", self.path, message)
        self.unavailable.emit(f"playback error: {message}")
