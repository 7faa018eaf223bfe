"""A stored result that is deleted, truncated or damaged is never trusted: the next `analyze`
recomputes it (no --force needed), and an export meanwhile names the missing layer and
exits non-zero instead of quietly writing files without it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import soundfile as sf

from badfiles import tone
from workstation.analysis.jobs import specs_for
from workstation.library import Library


def _cli(tmp_path, *args):
    env = {**os.environ, "WORKSTATION_LIBRARY": str(tmp_path / "lib")}
    return subprocess.run([sys.executable, "-m", "workstation", *args], capture_output=True,
                          text=True, env=env, timeout=300)


def _result_file(tmp_path, wav):
    with Library.open(tmp_path / "lib") as lib:
        t = lib.track_by_path(wav)
        a = specs_for(["key"])[0].build()
        return lib.store.path_for(t.content_hash, a.id, a.version, a.params_hash())


@pytest.mark.timeout(600)
@pytest.mark.parametrize("damage", ["deleted", "truncated", "garbled inside"])
def test_damaged_result_is_recomputed_and_export_says_so(tmp_path, damage):
    wav = tmp_path / "a.wav"
    sf.write(wav, tone(2.0, 22050, (261.6, 329.6, 392.0)), 22050)
    assert _cli(tmp_path, "analyze", str(wav), "--analyzers", "key", "--quiet").returncode == 0
    res = _result_file(tmp_path, wav)
    good = res.read_bytes()
    if damage == "deleted":
        res.unlink()
    elif damage == "truncated":
        res.write_bytes(good[: len(good) // 2])
    else:                                   # the zip's directory is whole, a member is not
        res.write_bytes(good[:60] + bytes(b ^ 0xFF for b in good[60:90]) + good[90:])
    exp = _cli(tmp_path, "export", str(wav), "--analyzers", "key", "--out", str(tmp_path / "out"),
               "--format", "jams")
    assert exp.returncode == 1 and "Traceback" not in exp.stderr, exp.stderr
    assert "no key layer exported" in exp.stderr
    again = _cli(tmp_path, "analyze", str(wav), "--analyzers", "key", "--quiet")
    assert again.returncode == 0, again.stderr
    assert res.read_bytes() != b"" and res.stat().st_size > 22
    with Library.open(tmp_path / "lib") as lib:
        from workstation.analysis.results import load_results
        assert "key" in load_results(lib, lib.track_by_path(wav), specs_for(["key"]))
    assert _cli(tmp_path, "export", str(wav), "--analyzers", "key", "--out", str(tmp_path / "out"),
                "--format", "jams").returncode == 0
