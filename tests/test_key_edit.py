"""Editing a key layer by hand, the model without Qt (``gui.key_edit``): segments stay in
order and at least ``MIN_SEGMENT_S`` long, hand-set keys have confidence 1."""

from __future__ import annotations

import numpy as np
import pytest

from workstation.core.types import Key
from workstation.gui import key_edit as K


def _key() -> Key:
    """C major over 0-4 s, A minor 4-6 s, G major 6-10 s; global C major."""
    return Key(tonic_pc=0, mode="major", confidence=0.6,
               local_start_s=np.array([0.0, 4.0, 6.0]), local_end_s=np.array([4.0, 6.0, 10.0]),
               local_tonic_pc=np.array([0, 9, 7]), local_mode=["major", "minor", "major"],
               local_confidence=np.array([0.7, 0.5, 0.6]))


def test_labels_are_the_24_keys_as_the_window_writes_them():
    assert len(K.KEYS) == 24 and len({lab for lab, _, _ in K.KEYS}) == 24
    assert K.label(9, "minor") == "A minor" and K.parse("A minor") == (9, "minor")
    assert K.parse("Bb:major") == (10, "major")
    with pytest.raises(ValueError):
        K.parse("C dorian")


def test_set_segment_key_is_hand_set():
    k, sel = K.set_segment_key(_key(), 1, 4, "minor")
    assert sel == [1] and k.local_tonic_pc.tolist() == [0, 4, 7]
    assert k.local_mode == ["major", "minor", "major"] and k.local_confidence[1] == 1.0
    assert k.local_confidence[0] == 0.7 and _key().local_tonic_pc[1] == 9   # the rest stays
    same, sel = K.set_segment_key(k, 1, 4, "minor")
    assert same is k and sel == [1]
    assert K.set_segment_key(_key(), 5, 0, "major")[1] == []
    with pytest.raises(ValueError):
        K.set_segment_key(_key(), 0, 0, "lydian")


def test_move_boundary_is_clamped():
    k, sel = K.move_boundary(_key(), 1, 3.0)
    assert sel == [1] and k.local_end_s[0] == 3.0 and k.local_start_s[1] == 3.0
    k, _ = K.move_boundary(_key(), 1, 9.0)            # no further than 0.5 s before 6 s
    assert k.local_start_s[1] == pytest.approx(5.5) and k.local_end_s[0] == pytest.approx(5.5)
    k, _ = K.move_boundary(_key(), 2, 1.0)            # no earlier than 4.5 s
    assert k.local_start_s[2] == pytest.approx(4.5)
    assert K.move_boundary(_key(), 0, 1.0)[0] is not None
    assert K.move_boundary(_key(), 0, 1.0)[1] == []   # segment 0 has no boundary before it


def test_split_and_merge():
    k, sel = K.split(_key(), 2.0)
    assert sel == [0, 1] and k.local_start_s.tolist() == [0.0, 2.0, 4.0, 6.0]
    assert k.local_end_s.tolist() == [2.0, 4.0, 6.0, 10.0] and k.local_tonic_pc.tolist() == [0, 0, 9, 7]
    assert len(k.local_mode) == len(k.local_confidence) == 4
    same, _ = K.split(_key(), 4.3)                     # a half would be under 0.5 s
    assert same is _key() or K.same(same, _key())
    m, sel = K.merge(k, 0)
    assert sel == [0] and K.same(m, _key())
    m, sel = K.merge(_key(), 1)                        # A minor takes G major's time
    assert m.local_end_s.tolist() == [4.0, 10.0] and m.local_tonic_pc.tolist() == [0, 9]
    assert m.local_mode == ["major", "minor"]
    assert K.merge(_key(), 2)[1] == []                 # the last has no next


def test_set_global_and_a_key_without_segments():
    k, sel = K.set_global(_key(), 7, "major", [2])
    assert (k.tonic_pc, k.mode, k.confidence) == (7, "major", 1.0) and sel == [2]
    assert K.same(K.with_segments(k, 10.0), k)         # segments kept
    bare = Key(tonic_pc=2, mode="minor", confidence=0.4)
    one = K.with_segments(bare, 8.0)
    assert one.local_start_s.tolist() == [0.0] and one.local_end_s.tolist() == [8.0]
    assert one.local_tonic_pc.tolist() == [2] and one.local_mode == ["minor"]


def test_hits():
    k = _key()
    assert K.segment_at(k, 5.0) == 1 and K.segment_at(k, 4.0) == 1 and K.segment_at(k, 11.0) is None
    assert K.boundary_at(k, 6.05, 0.1) == 2 and K.boundary_at(k, 5.0, 0.1) is None
    assert K.boundary_at(k, 0.0, 0.1) is None
