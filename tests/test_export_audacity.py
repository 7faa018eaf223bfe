"""Audacity label tracks: written in Audacity's own label format and read back by our reader
as the same layers (beats with their bar positions, notes with their pitches, local keys)."""

import numpy as np

from workstation.core.types import Beats, Key, Notes
from workstation.export import read_annotation_file
from workstation.export.batch import write_results


def test_label_tracks_round_trip(tmp_path):
    beats = Beats(times_s=np.array([0.4, 0.9, 1.4, 1.9, 2.4]), positions=np.array([3, 1, 2, 3, 1]),
                  tempo_bpm=120.0, meter=3)
    notes = Notes(onsets_s=np.array([0.5, 1.0]), offsets_s=np.array([0.9, 1.8]),
                  pitch_midi=np.array([60, 69]), velocity=np.array([90, 90]))
    key = Key(tonic_pc=9, mode="minor", confidence=0.8, local_start_s=np.array([0.0, 1.5]),
              local_end_s=np.array([1.5, 3.0]), local_tonic_pc=np.array([9, 0]),
              local_mode=["minor", "major"], local_confidence=np.ones(2))
    paths = write_results(tmp_path, "song", {"beats": beats, "notes": notes, "key": key},
                          ["audacity"], duration_s=3.0)
    assert sorted(p.name for p in paths) == ["song.beats.txt", "song.key.txt", "song.notes.txt"]
    lines = (tmp_path / "song.beats.txt").read_text().splitlines()
    assert lines[0] == "0.400000\t0.400000\t0.3" and lines[1] == "0.900000\t0.900000\t1.1"
    b = read_annotation_file(tmp_path / "song.beats.txt")["beats"]
    np.testing.assert_allclose(b.times_s, beats.times_s)
    assert b.positions.tolist() == beats.positions.tolist()
    n = read_annotation_file(tmp_path / "song.notes.txt")["notes"]
    assert n.pitch_midi.tolist() == [60, 69]
    np.testing.assert_allclose(n.offsets_s, [0.9, 1.8])
    k = read_annotation_file(tmp_path / "song.key.txt")["key"]
    assert k.local_tonic_pc.tolist() == [9, 0] and k.local_mode == ["minor", "major"]
