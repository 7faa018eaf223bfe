"""Editing notes by hand, the model without Qt (``gui.note_edit``): every operation keeps the
notes in order of onset, pitches whole, bends with their notes, and selects what it touched."""

from __future__ import annotations

import numpy as np
import pytest

from workstation.core.types import Notes
from workstation.gui import note_edit as E


def _notes() -> Notes:
    """Three notes: C4 0.0-0.5, E4 0.5-1.0, G4 1.0-1.5 s; a bend on the E."""
    on = np.array([0.0, 0.5, 1.0])
    return Notes(onsets_s=on, offsets_s=on + 0.5, pitch_midi=np.array([60, 64, 67]),
                 velocity=np.array([70, 80, 90]), confidence=np.array([0.9, 0.8, 0.7]),
                 bend_note=np.array([1, 1]), bend_times_s=np.array([0.6, 0.9]),
                 bend_cents=np.array([10.0, -20.0]))


def _sorted(n: Notes) -> bool:
    return bool(np.all(np.diff(n.onsets_s) >= 0))


def test_move_snaps_pitch_keeps_order_and_bends():
    n, sel = E.move(_notes(), [1], 0.7, 2.4)           # E4 at 0.5 -> 1.2 s, 64 -> 66 (snapped)
    assert _sorted(n)
    assert list(n.pitch_midi) == [60, 67, 66] and sel == [2]
    assert n.onsets_s[2] == pytest.approx(1.2) and n.offsets_s[2] == pytest.approx(1.7)
    assert n.pitch_midi.dtype.kind == "i"
    assert list(n.bend_note) == [2, 2]                  # the bend follows its note
    np.testing.assert_allclose(n.bend_times_s, [1.3, 1.6])
    assert n.velocity[2] == 80 and n.confidence[2] == pytest.approx(0.8)


def test_move_stops_at_zero_and_the_midi_range():
    n, sel = E.move(_notes(), [0, 1], -3.0, 100)
    assert n.onsets_s.min() == 0.0 and n.pitch_midi.max() == 127
    assert sorted(n.pitch_midi[sel]) == [123, 127]      # the group keeps its shape


def test_resize_keeps_a_minimum_length_and_drops_bends_past_the_end():
    n, sel = E.resize(_notes(), [1], -0.35)             # E4 ends at 0.65 s
    assert n.offsets_s[1] == pytest.approx(0.65) and sel == [1]
    np.testing.assert_allclose(n.bend_times_s, [0.6])   # the bend at 0.9 s is gone
    n2, _ = E.resize(_notes(), [0], -5.0)
    assert n2.offsets_s[0] - n2.onsets_s[0] == pytest.approx(E.MIN_DURATION_S)


def test_add_and_delete():
    n, sel = E.add(_notes(), 0.75, 71.6)
    assert len(n) == 4 and _sorted(n) and n.pitch_midi[sel[0]] == 72
    assert n.onsets_s[sel[0]] == pytest.approx(0.75)
    assert n.offsets_s[sel[0]] == pytest.approx(0.75 + E.DEFAULT_DURATION_S)
    assert n.velocity[sel[0]] == 80 and n.confidence[sel[0]] == 1.0
    assert list(n.bend_note) == [1, 1]                  # E4 is still index 1
    d, sel = E.delete(n, [1])                           # drop E4 and its bends
    assert list(d.pitch_midi) == [60, 72, 67] and sel == [] and len(d.bend_note) == 0
    d2, _ = E.delete(_notes(), [0])
    assert list(d2.bend_note) == [0, 0]                 # bends re-indexed


def test_split_and_merge_round_trip():
    n, sel = E.split(_notes(), [1], 0.8)
    assert len(n) == 4 and _sorted(n) and len(sel) == 2
    np.testing.assert_allclose(n.onsets_s[sel], [0.5, 0.8])
    np.testing.assert_allclose(n.offsets_s[sel], [0.8, 1.0])
    assert list(n.bend_note) == [1, 2]                  # each bend goes with its half
    m, msel = E.merge(n, sel)
    assert len(m) == 3 and msel == [1]
    np.testing.assert_allclose(m.onsets_s, _notes().onsets_s)
    np.testing.assert_allclose(m.offsets_s, _notes().offsets_s)
    assert list(m.bend_note) == [1, 1]
    # a split outside every note changes nothing; merging different pitches neither
    same, _ = E.split(_notes(), [0], 0.9)
    assert len(same) == 3
    other, _ = E.merge(_notes(), [0, 1])
    assert len(other) == 3


def test_merge_across_an_unselected_note_of_the_same_pitch_takes_it_in():
    """G4 at 0.0, 0.5 and 1.0 s; merging the first and last must not leave the middle one
    under the merged note (a user found that overlap)."""
    on = np.array([0.0, 0.5, 0.6, 1.0])
    n = Notes(onsets_s=on, offsets_s=on + 0.3, pitch_midi=np.array([67, 67, 60, 67]),
              velocity=np.array([50, 90, 70, 60]))
    m, sel = E.merge(n, [0, 3])
    g = m.pitch_midi == 67
    assert g.sum() == 1 and m.onsets_s[g][0] == 0.0 and m.offsets_s[g][0] == pytest.approx(1.3)
    assert m.velocity[g][0] == 90                       # the loudest, the middle one's
    assert (m.pitch_midi == 60).sum() == 1 and len(sel) == 1


def test_hit_and_rubber_band():
    n = _notes()
    assert E.hit(n, 0.7, 64.3) == 1 and E.hit(n, 0.7, 62.0) is None
    assert E.in_rect(n, 0.4, 1.2, 63, 70) == [1, 2]
    assert E.in_rect(n, 1.2, 0.4, 70, 63) == [1, 2]     # corners in any order


def test_note_edits_keeps_the_selection():
    ed = E.NoteEdits(_notes())
    ed.apply(E.move, [0], 2.0, 0)
    assert ed.selected == [2] and ed.notes.onsets_s[2] == pytest.approx(2.0)
    ed.set_state(_notes(), [0, 5])
    assert ed.selected == [0]
    assert len(E.NoteEdits(None).notes) == 0


# ------------------------------------------------------------------------------ snapping

def test_snap_times_quarter_beats_follow_the_local_period_and_stop_outside():
    beats = [1.0, 2.0, 2.4]        # a period of 1 s, then of 0.4 s
    t = [0.3, 1.0, 1.1, 1.13, 1.4, 1.9, 2.05, 2.12, 2.41, 3.0]
    got = E.snap_times(t, beats)
    want = [0.3,                   # before the first beat: as it is
            1.0, 1.0, 1.25, 1.5, 2.0,
            2.0, 2.1,              # quarters of 0.4 s: 2.0, 2.1, 2.2, 2.3, 2.4
            2.41, 3.0]             # after the last beat: as it is
    np.testing.assert_allclose(got, want)
    np.testing.assert_allclose(E.snap_times([2.24], beats, division=2), [2.2])
    np.testing.assert_allclose(E.snap_times(t, [1.0]), t)        # one beat: no grid
    np.testing.assert_allclose(E.snap_times([1.6], [2.0, 1.0, 1.0]), [1.5])  # unsorted, repeated
    assert E.snap_one(1.13, None) == 1.13 and E.snap_one(1.13, beats) == pytest.approx(1.25)


def test_selection_alone_and_its_span_keep_bends():
    sub, t0, t1 = E.selection(_notes(), [2, 1, 7])   # out of range ignored
    assert list(sub.pitch_midi) == [64, 67] and (t0, t1) == (0.5, 1.5)
    assert list(sub.bend_note) == [0, 0] and list(sub.bend_cents) == [10.0, -20.0]
    empty, t0, t1 = E.selection(_notes(), [])
    assert len(empty) == 0 and (t0, t1) == (0.0, 0.0)
