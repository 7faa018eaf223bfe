"""Files that once stopped or hung a whole scan: a symbolic link loop, a named pipe, a link to
a device that never ends, a dangling link, a file name that is not valid UTF-8. Each fails
alone with its reason (or, for the odd name, is catalogued and analysed like any other)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from badfiles import tone
from workstation.library import Library

ODD_NAME = os.fsdecode(b"caf\xe9 take.wav")          # Latin-1 bytes: not UTF-8


def _folder(tmp_path: Path) -> Path:
    d = tmp_path / "music"
    d.mkdir()
    sf.write(d / "good.wav", tone(1.0, 22050, (220.0, 277.2, 329.6)), 22050)
    sf.write(os.fsencode(d / ODD_NAME), tone(1.0, 22050, (196.0, 246.9, 293.7)), 22050)
    os.symlink(d / "loop_b.wav", d / "loop_a.wav")
    os.symlink(d / "loop_a.wav", d / "loop_b.wav")
    os.mkfifo(d / "pipe.wav")
    os.symlink("/dev/zero", d / "zero.wav")
    os.symlink(d / "gone.wav", d / "dangling.wav")
    return d


@pytest.mark.timeout(60)
def test_scan_reports_each_odd_file_and_keeps_the_rest(tmp_path):
    d = _folder(tmp_path)
    lib = Library.open(tmp_path / "lib")
    rep = lib.scan(d)
    failed = {os.path.basename(p): reason for p, reason in rep.failed}
    assert set(failed) == {"loop_a.wav", "loop_b.wav", "pipe.wav", "zero.wav", "dangling.wav"}
    assert "symbolic link loop" in failed["loop_a.wav"] and "symbolic link loop" in failed["loop_b.wav"]
    assert failed["pipe.wav"] == "not an audio file but a named pipe (FIFO)"
    assert failed["zero.wav"] == "not an audio file but a character device (/dev/zero)"
    assert "No such file" in failed["dangling.wav"]
    assert {os.path.basename(p) for p in rep.added} == {"good.wav", ODD_NAME}
    odd = lib.track_by_path(d / ODD_NAME)
    assert odd is not None and odd.status == "ok" and Path(odd.path).exists()
    assert odd.title == "caf\ufffd take" and odd.duration_s == pytest.approx(1.0)
    assert {t.id for t in lib.tracks_under(d)} == {t.id for t in lib.tracks()}
    rep2 = lib.scan(d)                       # the odd name round-trips: nothing is rehashed
    assert rep2.n_hashed == 0 and os.path.basename(rep2.unchanged[1]) in ("good.wav", ODD_NAME)
    os.unlink(d / ODD_NAME)
    assert [os.path.basename(p) for p in lib.scan(d).removed] == [ODD_NAME]
    lib.close()


@pytest.mark.timeout(600)
def test_cli_analyses_the_good_files_of_such_a_folder(tmp_path):
    d = _folder(tmp_path)
    env = {**os.environ, "WORKSTATION_LIBRARY": str(tmp_path / "lib"), "PYTHONIOENCODING": "utf-8"}
    proc = subprocess.run([sys.executable, "-m", "workstation", "analyze", str(d), "--analyzers", "key",
                           "--quiet", "--device", "cpu"], capture_output=True, env=env, timeout=500)
    out, err = proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8")
    assert "Traceback" not in err, err
    for name in ("loop_a.wav", "pipe.wav", "zero.wav", "dangling.wav"):
        assert f"skipped {d / name}: " in err
    assert err.count("skipped") == 5 and proc.returncode == 1, (out, err)   # files were skipped
    lib = Library.open(tmp_path / "lib")
    tracks = {os.path.basename(t.path): t for t in lib.tracks()}
    assert set(tracks) == {"good.wav", ODD_NAME}
    from workstation.analysis.jobs import specs_for
    from workstation.analysis.results import load_results
    for t in tracks.values():
        assert "key" in load_results(lib, t, specs_for(["key"])), t.path
    lib.close()


@pytest.mark.timeout(300)
def test_two_scans_at_once_agree(tmp_path):
    """Two processes scanning one folder into one library: no 'UNIQUE constraint failed'
    skips, every file catalogued once."""
    d = tmp_path / "many"
    d.mkdir()
    for i in range(40):
        sf.write(d / f"t{i:02d}.wav", tone(0.2, 8000, (200.0 + 10 * i,)), 8000)
    env = {**os.environ, "WORKSTATION_LIBRARY": str(tmp_path / "lib")}
    cmd = [sys.executable, "-m", "workstation", "library", "scan", str(d)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(2)]
    outs = [p.communicate(timeout=200) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0 and "UNIQUE" not in out + err and "Traceback" not in err, (out, err)
    with Library.open(tmp_path / "lib") as lib:
        assert len(lib.tracks()) == 40
