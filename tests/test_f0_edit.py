"""Editing an f0 track by hand, the model without Qt (``gui.f0_edit``): the frame grid
stays, only the region's frames change, and the frames a person decided say so."""

from __future__ import annotations

import numpy as np
import pytest

from workstation.core.types import PitchTrack, Salience
from workstation.gui import f0_edit as F


def _track() -> PitchTrack:
    """1 s at 100 frames/s: 220 Hz voiced from 0.2 to 0.79 s, unvoiced (guess 110 Hz) else."""
    t = np.arange(100) * 0.01
    v = (t >= 0.2) & (t < 0.795)
    return PitchTrack(times_s=t, freqs_hz=np.where(v, 220.0, 110.0), voiced=v,
                      confidence=np.where(v, 0.8, 0.1))


def test_unvoice_and_voice_a_region():
    tr = _track()
    u, idx = F.unvoice(tr, 0.5, 0.3)                 # the region in either order
    assert idx == list(range(30, 51)) and not u.voiced[30:51].any() and u.voiced[29]
    assert np.all(u.confidence[30:51] == 0.0) and np.all(u.freqs_hz == tr.freqs_hz)
    np.testing.assert_array_equal(u.times_s, tr.times_s)
    assert tr.voiced[30]                             # the input is not changed
    v, idx = F.voice(u, 0.0, 0.4)                    # unvoiced frames with a pitch guess
    assert idx == list(range(0, 20)) + list(range(30, 41)) and v.voiced[:41].all()
    same, idx = F.unvoice(tr, 0.9, 1.0)              # nothing voiced there: no change
    assert same is tr and idx == []


def test_shift_octave_only_voiced_frames_and_inside_the_range():
    tr = _track()
    s, idx = F.shift_octave(tr, 0.0, 0.5, -1)
    assert idx == list(range(20, 51))
    np.testing.assert_allclose(s.freqs_hz[20:51], 110.0)
    np.testing.assert_allclose(s.freqs_hz[:20], 110.0)    # unvoiced guesses untouched
    np.testing.assert_allclose(s.freqs_hz[51:80], 220.0)
    same, idx = F.shift_octave(tr, 0.0, 1.0, -3)          # 27.5 Hz: below the range
    assert same is tr and idx == []
    up, _ = F.shift_octave(tr, 0.0, 1.0, 2)
    np.testing.assert_allclose(up.freqs_hz[20:80], 880.0)


def test_redraw_follows_the_drawn_path_in_log_frequency():
    tr = _track()
    r, idx = F.redraw(tr, [0.9, 0.1], [440.0, 110.0])     # points in any order
    assert idx == list(range(10, 91)) and r.voiced[10:91].all() and not r.voiced[91:].any()
    assert r.freqs_hz[50] == pytest.approx(220.0)          # half way in log frequency
    assert r.freqs_hz[10] == pytest.approx(110.0) and r.freqs_hz[90] == pytest.approx(440.0)
    assert np.all(r.confidence[10:91] == 1.0)
    same, idx = F.redraw(tr, [0.5], [300.0])
    assert same is tr and idx == []


def test_snap_to_salience_peaks():
    tr = _track()
    t = np.arange(50) * 0.02                               # a coarser salience grid
    frames = np.repeat(np.arange(50), 3)
    peaks = np.tile([110.0, 233.0, 330.0], 50)
    sal = Salience(times_s=t, freqs_hz=np.geomspace(30, 2000, 10),
                   values=np.zeros((10, 50), np.float32), peak_frame=frames,
                   peak_freq_hz=peaks, peak_salience=np.ones(len(frames)))
    near, idx = F.snap_to_peaks(tr, 0.2, 0.3, sal)         # 233 Hz is the nearest to 220
    assert idx == list(range(20, 31)) and np.all(near.freqs_hz[20:31] == 233.0)
    up, _ = F.snap_to_peaks(near, 0.2, 0.3, sal, +1)       # from 233: the next one up
    assert np.all(up.freqs_hz[20:31] == 330.0)
    down, _ = F.snap_to_peaks(near, 0.2, 0.3, sal, -1)
    assert np.all(down.freqs_hz[20:31] == 110.0)
    top, idx = F.snap_to_peaks(up, 0.2, 0.3, sal, +1)      # no peak above 330 Hz
    assert top is up and idx == []
