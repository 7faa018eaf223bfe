"""``workstation similar`` and ``workstation playlist`` on the analysed synthetic library."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jams
import pytest
from sim_library import sim_collection  # noqa: F401  (session fixture)

from workstation.cli.main import main
from workstation.export.m3u import read_m3u


@pytest.fixture
def lib_dir(sim_collection, tmp_path):
    root, paths = sim_collection
    shutil.copytree(root, tmp_path / "lib")  # the CLI writes the index beside the library
    return tmp_path / "lib", paths


def test_similar_prints_a_ranked_table(lib_dir, capsys):
    lib, paths = lib_dir
    assert main(["--library", str(lib), "similar", str(paths["drums_a"]), "-k", "3"]) == 0
    out = capsys.readouterr().out
    lines = [ln for ln in out.splitlines() if ln[:1].isdigit()]
    assert len(lines) == 3
    assert "drums_a.wav" not in "".join(lines)
    assert "drums_b.wav" in out and "drums_c.wav" in out
    assert "timbre" in out and "tempo" in out
    assert (lib / "similarity" / "index.faiss").is_file()


def test_similar_json_filters_and_region(lib_dir, capsys):
    lib, paths = lib_dir
    assert main(["--library", str(lib), "similar", str(paths["tones_b"]), "--json",
                 "--filter", "duration=12-30"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert [Path(r["path"]).name for r in res] == ["mixed.wav"]
    assert {"timbre", "harmony", "rhythm", "key", "tempo_closeness", "summary"} <= set(res[0]["explanation"])
    assert main(["--library", str(lib), "similar", str(paths["mixed"]), "--region", "8-16",
                 "-k", "2", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert all(Path(r["path"]).name.startswith("drums") for r in res)
    # errors are reported, not raised
    assert main(["--library", str(lib), "similar", str(paths["tones_b"]), "--filter", "x=1"]) == 2
    assert main(["--library", str(lib), "similar", "/no/such.wav"]) == 2
    assert "not in the library" in capsys.readouterr().err


def test_playlist_commands(lib_dir, tmp_path, capsys):
    lib, paths = lib_dir
    out = tmp_path / "lists" / "walk.m3u8"
    out.parent.mkdir()
    assert main(["--library", str(lib), "playlist", str(paths["tones_a"]), "--length", "4",
                 "--mode", "walk", "-o", str(out)]) == 0
    entries = read_m3u(out)
    assert len(entries) == 4 and entries[0].path == paths["tones_a"].resolve()
    assert len({e.path for e in entries}) == 4
    assert not any(ln.startswith("/") for ln in out.read_text().splitlines())  # relative
    # path A -> B, absolute, as JAMS
    out2 = tmp_path / "lists" / "path.json"
    assert main(["--library", str(lib), "playlist", str(paths["tones_a"]), "--to",
                 str(paths["drums_a"]), "--length", "5", "--absolute", "-o", str(out2)]) == 0
    jam = jams.load(str(out2))
    vals = [o.value for o in jam.annotations[0].data]
    assert len(vals) == 5 and vals[0] == str(paths["tones_a"].resolve())
    assert vals[-1] == str(paths["drums_a"].resolve())
    # several seeds
    out3 = tmp_path / "lists" / "multi.m3u8"
    assert main(["--library", str(lib), "playlist", str(paths["tones_c"]), str(paths["drums_c"]),
                 "--length", "3", "-o", str(out3), "--quiet"]) == 0
    got = [e.path for e in read_m3u(out3)]
    assert got[:2] == [paths["tones_c"].resolve(), paths["drums_c"].resolve()] and len(got) == 3
    assert main(["--library", str(lib), "playlist", str(paths["tones_c"]), str(paths["drums_c"]),
                 "--to", str(paths["drums_a"]), "-o", str(out3)]) == 2
