"""The library table's Key and Tempo columns show a layer corrected by hand (a user halved
the tempo and the column still said the analysis's)."""

from __future__ import annotations

import numpy as np

from synth_audio import write_arpeggio
from workstation.core.types import Beats, Key
from workstation.gui.library_model import load_rows
from workstation.library import Library


def test_key_and_tempo_columns_follow_corrections(tmp_path):
    music = tmp_path / "music"
    music.mkdir()
    write_arpeggio(music / "arp.wav", seconds=4.0)
    keys = [("key", 1, "k"), ("beats", 1, "b")]
    with Library.open(tmp_path / "lib") as lib:
        lib.scan(music)
        (t,) = lib.tracks()
        h = t.content_hash
        lib.store.save(h, *keys[0], Key(tonic_pc=0, mode="major", confidence=0.9))
        lib.store.save(h, *keys[1], Beats(times_s=np.arange(8) * 0.5, positions=np.zeros(8, np.int64),
                                          tempo_bpm=120.0))
        for k in keys:
            lib.set_analysis(h, *k, status="done")
        (row,) = load_rows(lib, keys)
        assert (row.key_label, row.tempo_bpm) == ("C major", 120.0)
        lib.set_edit(t.id, "beats", Beats(times_s=np.arange(4) * 1.0, positions=np.zeros(4, np.int64),
                                          tempo_bpm=60.0))
        lib.set_edit(t.id, "key", Key(tonic_pc=7, mode="major", confidence=1.0))
        (row,) = load_rows(lib, keys)
        assert (row.key_label, row.tempo_bpm) == ("G major", 60.0) and set(row.edited) == {"beats", "key"}
        lib.revert_edit(t.id, "key")
        (row,) = load_rows(lib, keys)
        assert (row.key_label, row.tempo_bpm) == ("C major", 60.0)
