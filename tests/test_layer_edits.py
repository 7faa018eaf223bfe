"""Layers corrected by hand are data: stored in the catalogue apart from the analysis, kept
across a restart and a re-analysis, written by every export (which says so), set from a file
and reverted from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from synth_audio import write_arpeggio
from workstation.cli.main import main
from workstation.core.errors import LibraryError
from workstation.core.types import Beats, Notes
from workstation.export import read_jams, read_midi, write_midi
from workstation.library import Library


def _notes(pitches=(60, 64, 67)) -> Notes:
    on = np.arange(len(pitches)) * 0.5 + 0.25
    return Notes(onsets_s=on, offsets_s=on + 0.4, pitch_midi=np.array(pitches),
                 velocity=np.full(len(pitches), 90))


@pytest.fixture
def one_track(tmp_path):
    music = tmp_path / "music"
    music.mkdir()
    write_arpeggio(music / "arp.wav", seconds=6.0)
    return tmp_path, music / "arp.wav"


def test_edits_are_stored_apart_and_survive_a_restart_and_a_reanalysis(one_track):
    tmp, wav = one_track
    with Library.open(tmp / "lib") as lib:
        lib.scan(wav.parent)
        (t,) = lib.tracks()
        assert lib.edits(t.id) == {}
        assert lib.set_edit(t.id, "notes", _notes(), source="window") == 1
        assert lib.set_edit(t.id, "notes", _notes((62, 65)), based_on="notes v2") == 2
        lib.set_edit(t.id, "beats", Beats(times_s=np.array([0.5, 1.0, 1.5]),
                                          positions=np.array([1, 2, 3]), tempo_bpm=120.0))
        with pytest.raises(LibraryError, match="cannot be edited"):
            lib.set_edit(t.id, "embedding", _notes())
        with pytest.raises(LibraryError):
            lib.set_edit(9999, "notes", _notes())
        # a re-analysis stores its result under the analysis key, never over the edit
        lib.set_analysis(t.content_hash, "notes", 2, "abc", status="done")
        lib.store.save(t.content_hash, "notes", 2, "abc", _notes((40,)))
    with Library.open(tmp / "lib") as lib:      # a restart
        e = lib.edits(t.id)
        assert set(e) == {"notes", "beats"}
        assert e["notes"].revision == 2 and e["notes"].based_on == "notes v2"
        assert e["notes"].result.pitch_midi.tolist() == [62, 65]
        assert lib.edited_layers() == {t.id: ["beats", "notes"]}
        assert lib.revert_edit(t.id, "notes") and not lib.revert_edit(t.id, "notes")
        assert set(lib.edits(t.id)) == {"beats"}
        lib.remove_tracks([t.id])                 # removing the track keeps its corrections
        assert lib.edited_layers() == {}
        lib.scan(wav.parent)                      # and scanning the file again brings them back
        (t2,) = lib.tracks()
        assert set(lib.edits(t2.id)) == {"beats"}
        assert lib.edited_layers() == {t2.id: ["beats"]}


def test_a_schema_6_catalogue_keeps_its_corrections(one_track):
    """Corrections stored by track (schema 6) move to their recording's content hash."""
    import sqlite3

    from workstation.library.schema import MIGRATIONS, SCHEMA_VERSION, connect, migrate
    tmp, wav = one_track
    with Library.open(tmp / "lib") as lib:
        lib.scan(wav.parent)
        (t,) = lib.tracks()
        db = lib.root / "library.sqlite"
    assert SCHEMA_VERSION == 7 and db.is_file()
    blob = __import__("workstation.library.user_data", fromlist=["_to_blob"])._to_blob(_notes((61,)))
    conn = connect(db)
    conn.execute("DROP TABLE layer_edits")                 # back to the schema 6 table
    for stmt in MIGRATIONS[5]:
        conn.execute(stmt)
    conn.execute("INSERT INTO layer_edits VALUES (?, 'notes', 3, ?, 'old', 'window', 1.0)",
                 (t.id, sqlite3.Binary(blob)))
    conn.execute("PRAGMA user_version = 6")
    assert migrate(conn) == 7
    conn.close()
    with Library.open(tmp / "lib") as lib:
        e = lib.edits(t.id)["notes"]
        assert e.revision == 3 and e.based_on == "old" and e.result.pitch_midi.tolist() == [61]


def _run(tmp, *args) -> int:
    return main(["--library", str(tmp / "lib"), *map(str, args)])


def test_layer_set_from_a_corrected_midi_file_exports_and_reverts(one_track, capsys):
    tmp, wav = one_track
    assert _run(tmp, "analyze", wav.parent, "--analyzers", "notes,key", "--quiet") == 0
    corrected = write_midi(tmp / "corrected.mid", _notes((60, 62, 64, 65)))
    assert _run(tmp, "layer", "set", wav, corrected, "--layer", "notes") == 0
    assert "revision 1" in capsys.readouterr().out
    assert _run(tmp, "layer", "list") == 0
    listed = capsys.readouterr().out
    assert "arp.wav" in listed and "notes" in listed and "corrected.mid" in listed

    out = tmp / "out"
    assert _run(tmp, "export", wav, "--out", out, "--format", "jams,midi,csv",
                "--analyzers", "notes,key") == 0
    assert read_midi(out / "arp.mid").pitch_midi.tolist() == [60, 62, 64, 65]
    assert read_jams(out / "arp.jams")["notes"].pitch_midi.tolist() == [60, 62, 64, 65]
    doc = json.loads((out / "arp.jams").read_text())
    meta = next(a["annotation_metadata"] for a in doc["annotations"] if a["namespace"] == "note_midi")
    assert meta["data_source"] == "corrected by hand"
    assert meta["annotation_tools"].startswith("corrected by hand (revision 1")
    assert "basic-pitch" in meta["annotation_tools"]      # the analysis underneath, named
    key_meta = next(a["annotation_metadata"] for a in doc["annotations"] if a["namespace"] == "key_mode")
    assert key_meta["data_source"] != "corrected by hand"
    assert (out / "arp.notes.csv").read_text().startswith("# corrected by hand")

    assert _run(tmp, "layer", "revert", wav, "--layer", "notes") == 0
    assert _run(tmp, "export", wav, "--out", tmp / "out2", "--format", "midi",
                "--analyzers", "notes") == 0
    back = read_midi(tmp / "out2" / "arp.mid").pitch_midi.tolist()
    assert back != [60, 62, 64, 65] and len(back) > 0


def test_layer_command_errors_name_the_problem(one_track, capsys):
    tmp, wav = one_track
    with Library.open(tmp / "lib") as lib:
        lib.scan(wav.parent)
    beats_csv = tmp / "beats.csv"
    beats_csv.write_text("0.5\n1.0\n1.5\n2.0\n")
    assert _run(tmp, "layer", "set", wav, beats_csv, "--layer", "notes") == 2
    assert "has no notes layer (it has: beats)" in capsys.readouterr().err
    assert _run(tmp, "layer", "revert", wav, "--layer", "notes") == 2
    assert "was not edited" in capsys.readouterr().err
    assert _run(tmp, "layer", "set", wav, beats_csv) == 2
    assert "needs --layer" in capsys.readouterr().err
    assert _run(tmp, "layer", "set", tmp / "elsewhere.wav", beats_csv, "--layer", "beats") == 2
    assert "not in the library" in capsys.readouterr().err
    assert _run(tmp, "layer", "set", wav, beats_csv, "--layer", "beats") == 0
    with Library.open(tmp / "lib") as lib:
        (t,) = lib.tracks()
        e = lib.edits(t.id)["beats"]
        assert e.result.times_s.tolist() == [0.5, 1.0, 1.5, 2.0]
        assert Path(e.source) == beats_csv.resolve() and e.based_on == ""
