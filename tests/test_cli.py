"""The command line end to end: analyse real files, export, read the exports back."""

import shutil
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile as sf

from badfiles import make_bad_corpus
from conftest import DEMO
from workstation.analysis.jobs import specs_for
from workstation.analysis.results import load_results
from workstation.cli.main import main
from workstation.library import Library


def _demo_files(n):
    files = sorted(p for p in DEMO.iterdir() if p.suffix in (".flac", ".ogg"))
    assert len(files) >= 8, "the bundled demo collection is missing"
    return files[:n]


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    """Two demo pieces analysed once by the CLI with every analyzer and every format."""
    tmp = tmp_path_factory.mktemp("cli")
    music = tmp / "music"
    music.mkdir()
    for f in _demo_files(2):
        shutil.copy(f, music / f.name)
    out = tmp / "out"
    rc = main(["--library", str(tmp / "lib"), "analyze", str(music), "--out", str(out),
               "--device", "cpu", "--quiet"])
    return rc, tmp, music, out


def test_analyze_writes_every_format(analysed):
    rc, tmp, music, out = analysed
    assert rc == 0
    for f in music.iterdir():
        stem = f.stem
        assert (out / f"{stem}.jams").stat().st_size > 1000
        assert (out / f"{stem}.mid").stat().st_size > 50
        csvs = sorted(p.name for p in out.glob(f"{stem}*.csv"))
        assert any("notes" in c for c in csvs) and any("f0" in c for c in csvs), csvs


def test_exports_read_back_equal_to_the_stored_results(analysed):
    from workstation.export import read_csv_layer, read_jams, read_midi

    _, tmp, music, out = analysed
    lib = Library.open(tmp / "lib")
    specs = specs_for(None)
    for t in lib.tracks(status="ok"):
        stored = load_results(lib, t, specs)
        assert {"pitch.f0", "pitch.salience", "notes", "key", "beats", "embedding"} <= set(stored)
        stem = Path(t.path).stem
        back = read_jams(out / f"{stem}.jams")
        n, nb = stored["notes"], back["notes"]
        assert len(n) == len(nb) > 0
        np.testing.assert_allclose(np.sort(n.onsets_s), np.sort(nb.onsets_s), atol=1e-6)
        assert back["key"].tonic_pc == stored["key"].tonic_pc and back["key"].mode == stored["key"].mode
        np.testing.assert_allclose(back["beats"].times_s, stored["beats"].times_s, atol=1e-6)
        f0, fb = stored["pitch.f0"], back["pitch.f0"]
        np.testing.assert_allclose(fb.freqs_hz[fb.voiced], f0.freqs_hz[f0.voiced], rtol=1e-6)
        np.testing.assert_allclose(back["embedding"].vector, stored["embedding"].vector, atol=1e-6)
        m = read_midi(out / f"{stem}.mid")
        assert len(m) == len(n)
        np.testing.assert_allclose(np.sort(m.onsets_s), np.sort(n.onsets_s), atol=2e-3)
        assert sorted(m.pitch_midi.tolist()) == sorted(np.asarray(n.pitch_midi).tolist())
        notes_csv = out / f"{stem}.notes.csv"
        nc = read_csv_layer(notes_csv)
        np.testing.assert_allclose(np.sort(nc.onsets_s), np.sort(n.onsets_s), atol=1e-5)


def test_second_run_is_cached_and_export_command_works(analysed, capsys):
    _, tmp, music, out = analysed
    lib = Library.open(tmp / "lib")
    before = {(a.analyzer_id, a.content_hash): a.updated_at for t in lib.tracks()
              for a in lib.analyses_for(t.content_hash)}
    assert main(["--library", str(tmp / "lib"), "analyze", str(music), "--quiet"]) == 0
    after = {(a.analyzer_id, a.content_hash): a.updated_at for t in lib.tracks()
             for a in lib.analyses_for(t.content_hash)}
    assert before == after, "cached results were recomputed"
    out2 = tmp / "out2"
    assert main(["--library", str(tmp / "lib"), "export", str(music), "--out", str(out2),
                 "--format", "midi"]) == 0
    assert len(list(out2.glob("*.mid"))) == 2
    # --midi-grid 4: every note of the notation export on a sixteenth of the beat grid
    out3 = tmp / "out3"
    assert main(["--library", str(tmp / "lib"), "export", str(music), "--out", str(out3),
                 "--format", "midi", "--midi-grid", "4"]) == 0
    for mid in out3.glob("*.mid"):
        mf = mido.MidiFile(mid)
        ticks = [sum(m.time for m in tr[:i + 1]) for tr in mf.tracks for i, m in enumerate(tr)
                 if m.type in ("note_on", "note_off")]
        assert ticks and all(t % (mf.ticks_per_beat // 4) == 0 for t in ticks)
    assert main(["--library", str(tmp / "lib"), "library", "status"]) == 0
    text = capsys.readouterr().out
    assert "notes" in text and "done 2" in text


def test_bad_input_corpus_fails_alone(tmp_path, capsys):
    music = tmp_path / "music"
    music.mkdir()
    expected = make_bad_corpus(music)
    shutil.copy(_demo_files(1)[0], music / "good_demo.flac" if _demo_files(1)[0].suffix == ".flac"
                else music / "good_demo.ogg")
    out = tmp_path / "out"
    rc = main(["--library", str(tmp_path / "lib"), "analyze", str(music), "--out", str(out),
               "--device", "cpu", "--quiet", "--format", "jams",
               "--analyzers", "pitch.f0,key,beats"])
    err = capsys.readouterr().err
    assert rc == 1  # some files failed
    lib = Library.open(tmp_path / "lib")
    for name, kind in expected.items():
        if kind == "ok":
            assert (out / f"{Path(name).stem}.jams").exists(), f"good file {name} was not analysed"
        else:
            assert name in err, f"bad file {name} was not reported:\n{err}"
    assert (out / "good_demo.jams").exists()
    bad = [t for t in lib.tracks() if t.status == "error"]
    assert all(t.error for t in bad)


def test_method_option_runs_and_exports_another_method(analysed, capsys):
    from workstation.analysis.jobs import AnalyzerSpec
    _, tmp, music, _ = analysed
    lib = Library.open(tmp / "lib")
    assert main(["--library", str(tmp / "lib"), "analyze", str(music), "--analyzers", "pitch.f0",
                 "--method", "pitch.f0=pesto", "--device", "cpu", "--quiet"]) == 0
    pesto = AnalyzerSpec("pitch.f0", (("method", "pesto"),))
    default = AnalyzerSpec("pitch.f0")
    for t in lib.tracks():
        a, b = load_results(lib, t, [pesto])["pitch.f0"], load_results(lib, t, [default])["pitch.f0"]
        assert len(a.times_s) == len(b.times_s) and not np.array_equal(a.freqs_hz, b.freqs_hz)
    out = tmp / "out_pesto"
    assert main(["--library", str(tmp / "lib"), "export", str(music), "--out", str(out), "--format",
                 "csv", "--analyzers", "pitch.f0", "--method", "pitch.f0=pesto"]) == 0
    assert list(out.glob("*.csv"))
    assert main(["--library", str(tmp / "lib"), "analyze", str(music), "--method", "pitch.f0=nope",
                 "--quiet"]) == 2
    assert "pitch.f0=pyin|pesto" in capsys.readouterr().err


def test_exports_say_what_made_each_layer(analysed):
    """Provenance: method, model and the sha256 prefix of its weights in the JAMS annotation
    metadata, in a CSV comment line and in a MIDI text event (a pesto f0 nowhere said pesto)."""
    import json

    import pretty_midi

    from workstation.inference.manifest import manifest_entry

    _, tmp, music, out = analysed
    sha = manifest_entry("pitch.f0.crepe-tiny-kd")["sha256"][:12]    # the default method's
    stem = sorted(music.iterdir())[0].stem
    doc = json.loads((out / f"{stem}.jams").read_text())
    f0 = [a for a in doc["annotations"] if a["sandbox"].get("analyzer") == "pitch.f0"][0]
    tools = f0["annotation_metadata"]["annotation_tools"]
    from workstation.analysis.base import get_analyzer
    version = get_analyzer("pitch.f0").version
    assert f"pitch.f0 v{version}" in tools and "method crepe-kd" in tools and sha in tools
    assert f0["sandbox"]["provenance"]["models"][0]["sha256"] == sha
    first = (out / f"{stem}.f0.csv").read_text().splitlines()[0]
    assert first.startswith("# Workstation") and "method crepe-kd" in first and sha in first
    texts = [e.text for e in pretty_midi.PrettyMIDI(str(out / f"{stem}.mid")).text_events]
    notes_v = get_analyzer("notes").version
    assert any(f"notes v{notes_v}; method auto (salience)" in t and "from pitch.salience: basic-pitch" in t
               for t in texts), texts


def test_gui_command_takes_the_global_options_before_it():
    """``workstation --library D gui`` opens the window on D, as ``workstation gui --library
    D`` does (it failed with 'open the window with the `workstation gui` command')."""
    from workstation.__main__ import _gui_args
    assert _gui_args(["gui", "music"]) == ["music"]
    assert _gui_args(["--library", "/l", "gui", "music"]) == ["--library", "/l", "music"]
    assert _gui_args(["-v", "--library=/l", "gui"]) == ["-v", "--library=/l"]
    assert _gui_args(["--library", "/l", "analyze", "gui"]) is None   # a folder named gui
    assert _gui_args(["analyze", "x"]) is None and _gui_args([]) is None
