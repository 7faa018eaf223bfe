"""Editing beats by hand, the model without Qt (``gui.beat_edit``): beats stay in order,
positions follow the downbeats, tempo and meter follow the beats."""

from __future__ import annotations

import numpy as np
import pytest

from workstation.core.types import Beats
from workstation.gui import beat_edit as B


def _beats() -> Beats:
    """120 BPM, 4/4, starting on beat 3 of a bar: 0.0 (3), 0.5 (4), 1.0 (1), ... 5.5."""
    t = np.arange(12) * 0.5
    return Beats(times_s=t, positions=np.array([3, 4, 1, 2, 3, 4, 1, 2, 3, 4, 1, 2]),
                 tempo_bpm=120.0, tempo_confidence=0.7, meter=4)


def test_renumber_keeps_the_analysis_numbering():
    b, _ = B.renumber(_beats().times_s, _beats().positions == 1, _beats())
    np.testing.assert_array_equal(b.positions, _beats().positions)
    assert b.meter == 4 and b.tempo_bpm == pytest.approx(120.0) and b.tempo_confidence == 0.7


def test_move_add_delete():
    b, sel = B.move(_beats(), [3], 0.1)
    assert b.times_s[3] == pytest.approx(1.6) and sel == [3]
    same, _ = B.move(_beats(), [3], 0.49)       # would sit on the next beat: refused
    np.testing.assert_allclose(same.times_s, _beats().times_s)
    a, sel = B.add(_beats(), 1.25)
    assert len(a.times_s) == 13 and sel == [3] and a.times_s[3] == pytest.approx(1.25)
    assert list(a.positions[2:6]) == [1, 2, 3, 4] and np.all(np.diff(a.times_s) > 0)
    none, sel = B.add(_beats(), 1.01)           # too close to a beat
    assert len(none.times_s) == 12 and sel == []
    d, _ = B.delete(_beats(), [2])              # drop the first downbeat: the next one counts
    assert len(d.times_s) == 11 and d.positions[5] == 1
    assert list(d.positions[:5]) == [0, 0, 2, 3, 4]   # back from it (1 is no downbeat: 0)
    d2, _ = B.delete(_beats(), [6])             # a later one: its bar joins the one before
    assert list(d2.positions[2:9]) == [1, 2, 3, 4, 5, 6, 7]


def test_double_and_halve_tempo():
    d, sel = B.double_tempo(_beats())
    assert len(d.times_s) == 23 and d.tempo_bpm == pytest.approx(240.0)
    assert d.meter == 8 and len(sel) == 23
    h, sel = B.halve_tempo(d)
    np.testing.assert_allclose(h.times_s, _beats().times_s)
    assert h.tempo_bpm == pytest.approx(120.0) and h.meter == 4
    part, sel = B.double_tempo(_beats(), [4, 5, 6])    # only between the selected beats
    assert len(part.times_s) == 14 and len(sel) == 5
    hh, _ = B.halve_tempo(_beats())
    assert np.all(np.isin(_beats().downbeats_s, hh.downbeats_s))   # downbeats stay


def test_hit_and_range():
    b = _beats()
    assert B.hit(b, 1.03, 0.05) == 2 and B.hit(b, 1.2, 0.05) is None
    assert B.in_range(b, 1.6, 0.9) == [2, 3]


def test_set_downbeat_shifts_the_bar_lines_after_it():
    b, sel = B.set_downbeat(_beats(), [3])           # beat 2 of bar 1 becomes a downbeat
    assert sel == [3]
    np.testing.assert_array_equal(b.positions, [3, 4, 1, 1, 2, 3, 4, 1, 2, 3, 4, 1])
    assert b.meter == 4
    same, sel = B.set_downbeat(_beats(), [2])        # already a downbeat, bars unchanged
    assert same is _beats() or np.array_equal(same.positions, _beats().positions)
    assert sel == [2]
    free = Beats(times_s=np.arange(4) * 0.5, positions=np.zeros(4, np.int64), tempo_bpm=120.0)
    b, _ = B.set_downbeat(free, [1])                 # no meter: only that beat
    np.testing.assert_array_equal(b.positions == 1, [False, True, False, False])
    assert B.set_downbeat(_beats(), [])[1] == []


def test_shift_moves_the_grid_or_the_selection():
    b, sel = B.shift(_beats(), None, 0.01)
    np.testing.assert_allclose(b.times_s, _beats().times_s + 0.01)
    assert sel == list(range(12))
    np.testing.assert_array_equal(b.positions, _beats().positions)
    b, sel = B.shift(_beats(), [4, 5], -0.01)
    np.testing.assert_allclose(b.times_s[[4, 5]], [1.99, 2.49])
    np.testing.assert_allclose(b.times_s[:4], _beats().times_s[:4])
    b, _ = B.shift(_beats(), None, -0.2)             # no earlier than 0 s
    assert b.times_s[0] == 0.0 and b.times_s[1] == pytest.approx(0.5)
