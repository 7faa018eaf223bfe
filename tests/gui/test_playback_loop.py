"""Playback loop and source override (workstation.gui.playback), offscreen: the pure loop
decision, the loop state on a player without audio, and, where QtMultimedia can run a player
without an audio output, a real player looping and playing a notes-mix override on the track's
time axis."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("pytestqt")

from workstation.core import constants as C  # noqa: E402
from workstation.gui.playback import MIN_LOOP_S, Playback, loop_target  # noqa: E402

SR = C.SAMPLE_RATE


@pytest.fixture
def disabled(qtbot):
    return Playback(enabled=False)


def _wav(path, seconds: float) -> str:
    t = np.arange(int(seconds * SR)) / SR
    sf.write(path, (0.2 * np.sin(2 * np.pi * 330 * t)).astype(np.float32), SR)
    return str(path)


@pytest.mark.parametrize("pos, loop, starting, expect", [
    (1.0, None, False, None),
    (1.0, None, True, None),
    (1.5, (1.0, 2.0), False, None),     # inside: go on
    (1.0, (1.0, 2.0), False, None),     # at the start: go on
    (2.0, (1.0, 2.0), False, 1.0),      # reached the end: back to the start
    (7.3, (1.0, 2.0), False, 1.0),      # past it (seek or late tick): back
    (0.5, (1.0, 2.0), False, None),     # before the loop while playing: plays into it
    (0.5, (1.0, 2.0), True, 1.0),       # starting before the loop: at its start
    (2.5, (1.0, 2.0), True, 1.0),       # starting after it: at its start
    (1.2, (1.0, 2.0), True, None),      # starting inside: where it is
])
def test_loop_target(pos, loop, starting, expect):
    assert loop_target(pos, loop, starting=starting) == expect


def test_disabled_playback_does_nothing_and_says_why(qtbot, disabled):
    pb = disabled
    assert not pb.available and pb.reason == "playback disabled"
    pb.load("/nonexistent/track.wav")
    with qtbot.waitSignal(pb.unavailable, timeout=1000) as sig:
        assert pb.toggle() is False
    assert sig.args == ["playback disabled"]
    assert not pb.playing
    pb.play(3.0)
    pb.stop()
    with qtbot.waitSignal(pb.position_changed, timeout=1000) as sig:
        pb.seek(2.5)
    assert sig.args == [2.5] and pb.position_s() == 2.5  # the cursor still moves
    pb.set_source_override("/tmp/mix.wav", offset_s=1.0)
    assert pb.source_path == "/tmp/mix.wav" and pb.offset_s == 1.0
    assert pb.position_s() == 2.5


def test_default_playback_offscreen_is_consistent(qtbot):
    pb = Playback()
    if pb.available:
        assert pb.reason == ""
    else:
        assert pb.reason.startswith("playback unavailable")
        assert pb.toggle() is False


def test_set_loop_and_clear_loop(qtbot, disabled):
    pb = disabled
    assert pb.loop is None
    with qtbot.waitSignal(pb.loop_changed, timeout=1000) as sig:
        assert pb.set_loop(4.0, 2.5) == (2.5, 4.0)  # either order
    assert sig.args == [(2.5, 4.0)] and pb.loop == (2.5, 4.0)
    assert pb.set_loop(-1.0, 0.5) == (0.0, 0.5)  # clamped at 0
    for bad in [(1.0, 1.0 + MIN_LOOP_S / 2), (float("nan"), 2.0), (0.0, float("inf"))]:
        with pytest.raises(ValueError):
            pb.set_loop(*bad)
    assert pb.loop == (0.0, 0.5)  # a refused loop changes nothing
    with qtbot.waitSignal(pb.loop_changed, timeout=1000) as sig:
        pb.clear_loop()
    assert sig.args == [None] and pb.loop is None
    with qtbot.assertNotEmitted(pb.loop_changed):
        pb.clear_loop()  # already clear: no signal


def test_load_clears_loop_and_override_on_a_new_track_only(qtbot, disabled):
    pb = disabled
    pb.load("/music/a.flac")
    pb.set_loop(1.0, 2.0)
    pb.set_source_override("/tmp/a_mix.wav")
    pb.load("/music/a.flac")  # same track again: keeps both
    assert pb.loop == (1.0, 2.0) and pb.source_path == "/tmp/a_mix.wav"
    with qtbot.waitSignal(pb.loop_changed, timeout=1000) as sig:
        pb.load("/music/b.flac")
    assert sig.args == [None]
    assert pb.loop is None and pb.source_override is None and pb.source_path == "/music/b.flac"
    pb.set_source_override(None)
    assert pb.source_path == "/music/b.flac" and pb.offset_s == 0.0


@pytest.fixture
def headless(qtbot):
    pb = Playback(headless=True)
    if not pb.available:
        pytest.skip(f"QtMultimedia cannot run a player here: {pb.reason}")
    yield pb
    pb.stop()
    pb.load(None)


def _collect(pb: Playback) -> list[float]:
    seen: list[float] = []
    pb.position_changed.connect(seen.append)
    return seen


def test_real_player_loops_the_region(qtbot, headless, tmp_path):
    pb = headless
    pb.load(_wav(tmp_path / "track.wav", 4.0))
    pb.set_loop(0.5, 1.0)
    seen = _collect(pb)
    with qtbot.waitSignal(pb.state_changed, timeout=5000):
        assert pb.toggle(from_s=2.5) is True  # outside the loop: starts at its start
    qtbot.wait(1800)
    pb.stop()
    ticks = [t for t in seen if t > 0.0]
    assert ticks and min(ticks) >= 0.5 - 1e-6, ticks
    assert max(ticks) < 1.0 + 0.25, ticks  # never far past the loop end (ticks are ~33 ms)
    wraps = int(np.sum(np.diff(ticks) < -0.3))
    assert wraps >= 2, ticks  # 1.8 s of a 0.5-s loop comes back to the start 3 times


def test_real_player_override_keeps_the_track_time_axis(qtbot, headless, tmp_path):
    pb = headless
    pb.load(_wav(tmp_path / "track.wav", 4.0))
    region = _wav(tmp_path / "mix.wav", 2.0)  # stands for a notes mix of 1.0..3.0 s
    pb.set_source_override(region, offset_s=1.0)
    with qtbot.waitSignal(pb.state_changed, timeout=5000):
        pb.toggle(from_s=1.5)
    qtbot.wait(500)
    pos = pb.position_s()
    pb.stop()
    assert pb.source_path == region
    assert 1.6 <= pos <= 2.4, pos  # 1.5 s + about 0.5 s, in track seconds
