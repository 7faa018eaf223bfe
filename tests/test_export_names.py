"""Exports never overwrite each other and never fail on a long name: tracks with the same
file name in different folders (or the same name with another extension) get distinct
stems; a 240-character file name exports; a failed write leaves no temporary file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from badfiles import tone
from workstation.core.errors import AnnotationError
from workstation.export.atomic import atomic_write
from workstation.export.batch import MAX_STEM_BYTES, export_stems


def test_colliding_names_get_distinct_stems():
    paths = ["/home/u/m/cd1/take1.wav", "/home/u/m/cd2/take1.wav", "/home/u/m/cd2/take1.flac",
             "/home/u/m/other.wav", "/home/u/m/x/Other.wav", "/home/u/m/solo.wav"]
    stems = export_stems(paths, [f"track{i}" for i in range(len(paths))])
    assert stems == ["cd1_take1", "cd2_take1_wav", "cd2_take1_flac", "m_other", "x_Other", "solo"]
    long = export_stems(["/a/" + "é" * 240 + ".wav"], ["track1"])[0]
    assert len(long.encode("utf-8")) <= MAX_STEM_BYTES


def test_failed_write_leaves_the_target_and_no_temporary_file(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old\n")
    with pytest.raises(AnnotationError, match=r"out\.csv: cannot write: boom"):
        with atomic_write(target) as tmp:
            tmp.write_text("half")
            raise ValueError("boom")
    assert target.read_text() == "old\n" and sorted(os.listdir(tmp_path)) == ["out.csv"]


@pytest.mark.timeout(600)
def test_cli_exports_every_track_of_a_folder_with_clashing_and_long_names(tmp_path):
    music = tmp_path / "music"
    long_name = "a" * 236 + ".wav"                     # 240 characters
    files = [music / "cd1" / "take1.wav", music / "cd2" / "take1.wav", music / "cd2" / "take1.flac",
             music / long_name]
    for i, f in enumerate(files):
        f.parent.mkdir(parents=True, exist_ok=True)
        sf.write(f, tone(1.0, 22050, (220.0 * (1 + i / 4),)), 22050)
    out = tmp_path / "exports"
    env = {**os.environ, "WORKSTATION_LIBRARY": str(tmp_path / "lib")}
    proc = subprocess.run([sys.executable, "-m", "workstation", "analyze", str(music), "--analyzers", "key",
                           "--device", "cpu", "--out", str(out), "--format", "jams,csv"],
                          capture_output=True, text=True, env=env, timeout=500)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    jams = sorted(p.name for p in out.glob("*.jams"))
    assert len(jams) == 4, jams
    assert {"cd1_take1.jams", "cd2_take1_wav.jams", "cd2_take1_flac.jams"} <= set(jams)
    written = int(proc.stdout.split("wrote ")[1].split()[0])
    assert written == len(list(out.iterdir()))         # every file said written exists
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_temporary_files_of_killed_writers_are_removed(tmp_path):
    from workstation.export.batch import write_results
    from workstation.core.types import Key
    dead = tmp_path / ".ws-999999999-0badf00d.tmp"           # no such process
    live = tmp_path / f".ws-{os.getpid()}-0badf00d.tmp"      # a writer that still runs
    dead.write_text("half")
    live.write_text("half")
    write_results(tmp_path, "x", {"key": Key(tonic_pc=0, mode="major", confidence=0.5)}, ["csv"],
                  duration_s=1.0)
    assert not dead.exists() and live.exists()
