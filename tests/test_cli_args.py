"""Bad command-line arguments are an error that names the argument (exit 2), before any
work and without a traceback; the help lists every command, `gui` included."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def _run(tmp_path, *args):
    env = {**os.environ, "WORKSTATION_LIBRARY": str(tmp_path / "lib")}
    return subprocess.run([sys.executable, "-m", "workstation", *args], capture_output=True,
                          text=True, env=env, timeout=120, cwd=tmp_path)


@pytest.mark.parametrize("args, says", [
    (["analyze", "a.wav", "--analyzers", "bogus"], "--analyzers bogus: unknown analyzer 'bogus'; known: beats"),
    (["analyze", "a.wav", "--device", "foo"], "argument --device: 'foo' is not a device"),
    (["analyze", "a.wav", "--out", "afile"], "argument --out: afile: exists and is not a folder"),
    (["analyze", "a.wav", "--workers", "0"], "argument --workers: '0': give a number of worker processes"),
    (["--library", "afile", "library", "status"], "--library afile: exists and is not a folder"),
    (["export", "a.wav", "--out", "/dev/null/x"], "argument --out: /dev/null/x: cannot create the folder"),
    (["similar", "1", "-k", "0"], "argument -k: 0 must be 1 or more"),
    (["similar", "1", "-k", "-5"], "argument -k: -5 must be 1 or more"),
    (["similar", "1", "--region", "5-2"], "argument --region: '5-2': START must be before END"),
    (["similar", "1", "--region", "nan-3"], "expected START-END in seconds"),
    (["playlist", "1", "--length", "0", "-o", "x.m3u8"], "argument --length: 0 must be 1 or more"),
    (["tag", "suggest", "--min-score", "5"], "argument --min-score: 5 must lie in [0, 1]"),
])
def test_bad_argument_is_named_before_any_work(tmp_path, args, says):
    (tmp_path / "afile").write_text("not a folder")
    (tmp_path / "a.wav").write_bytes(b"")
    proc = _run(tmp_path, *args)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert says in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert not (tmp_path / "lib").exists() or args[0] == "--library" or args[0] == "analyze"


def test_help_lists_every_command(tmp_path):
    out = _run(tmp_path, "--help").stdout
    for cmd in ("gui", "analyze", "demo", "library", "export", "similar", "playlist", "tag"):
        assert cmd in out
