"""A damaged catalogue page: every command refuses at once with what happened and how to
recover (analyze printed a traceback, export wrote 0 files with exit 0, similar said the
index was empty)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import soundfile as sf

from badfiles import tone
from workstation.core.errors import LibraryError
from workstation.library import Library


def _cli(tmp_path, *args):
    env = {**os.environ, "WORKSTATION_LIBRARY": str(tmp_path / "lib")}
    return subprocess.run([sys.executable, "-m", "workstation", *args], capture_output=True,
                          text=True, env=env, timeout=300)


@pytest.mark.timeout(300)
def test_damaged_catalogue_is_refused_with_the_way_out(tmp_path):
    music = tmp_path / "music"
    music.mkdir()
    for i in range(30):
        sf.write(music / f"t{i:02d}_{'x' * 60}.wav", tone(0.3, 8000, (200.0 + 10 * i,)), 8000)
    assert _cli(tmp_path, "analyze", str(music), "--analyzers", "key", "--quiet").returncode == 0
    db = next((tmp_path / "lib").glob("*.sqlite"))
    data = bytearray(db.read_bytes())
    assert len(data) >= 3 * 4096
    for page in (1, 2, 3):                                    # garble the headers of pages 2-4
        data[page * 4096:page * 4096 + 64] = os.urandom(64)
    db.write_bytes(bytes(data))
    with pytest.raises(LibraryError, match="the library database is damaged"):
        Library.open(tmp_path / "lib")
    for args in (["analyze", str(music), "--analyzers", "key"],
                 ["export", str(music), "--out", str(tmp_path / "out")],
                 ["similar", "1"], ["library", "status"]):
        proc = _cli(tmp_path, *args)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, (args, proc.stderr)
        assert "the library database is damaged" in proc.stderr and "library scan" in proc.stderr
    # the way out works: the catalogue moved aside, a scan finds every finished result again
    db.rename(db.with_suffix(".damaged"))
    for extra in ("-wal", "-shm"):
        p = db.with_name(db.name + extra)
        if p.exists():
            p.unlink()
    again = _cli(tmp_path, "analyze", str(music), "--analyzers", "key", "--quiet")
    assert again.returncode == 0, again.stderr
