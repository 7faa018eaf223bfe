"""Work done once per track: the worker probes a file once however many passes its
analyzers need, and builds each analyzer's result key once."""

from __future__ import annotations

import soundfile as sf

from synth_tones import tone_pattern
from workstation.analysis.base import Analyzer
from workstation.analysis.jobs import Job, specs_for
from workstation.analysis.pipeline import stages
from workstation.analysis.worker import process_job
from workstation.core import audio as A
from workstation.core import constants as C
from workstation.inference.frontend import FrontEnd
from workstation.library import Library


def test_one_probe_and_one_key_per_analyzer_for_a_two_pass_job(tmp_path, monkeypatch):
    path = tmp_path / "music" / "tones.wav"
    path.parent.mkdir()
    sf.write(path, tone_pattern(4.0, root=57, bpm=100), C.SAMPLE_RATE, subtype="FLOAT")
    specs = tuple(specs_for(["notes", "key"]))
    assert len(stages([s.build() for s in specs])) >= 2   # notes waits for the salience
    with Library.open(tmp_path / "lib") as lib:
        lib.scan(path.parent)
        (t,) = lib.tracks("ok")
        probes, hashes = [], []
        real_probe, real_hash = A.probe, Analyzer.params_hash
        monkeypatch.setattr(A, "probe", lambda p: probes.append(p) or real_probe(p))
        monkeypatch.setattr(Analyzer, "params_hash", lambda self: hashes.append(self.id) or real_hash(self))
        events = []
        process_job(Job(t.id, t.path, t.content_hash, specs), lib, FrontEnd("cpu"), events.append)
        assert events[-1].kind == "track_done", events[-1]
        assert len(probes) == 1
        assert sorted(hashes) == sorted(s.id for s in specs)      # one key per analyzer
        for s in specs:
            assert lib.get_analysis(t.content_hash, *s.build().result_key).status == "done"


def test_analyze_with_exports_reads_each_result_file_once(tmp_path, monkeypatch, capsys):
    """``analyze --out`` exports and prints the summary from one read of each result."""
    from workstation.cli.main import main
    from workstation.library.store import ResultStore

    music = tmp_path / "music"
    music.mkdir()
    for i, root in enumerate((57, 60)):
        sf.write(music / f"t{i}.wav", tone_pattern(3.0, root=root, bpm=100), C.SAMPLE_RATE,
                 subtype="FLOAT")
    args = ["--library", str(tmp_path / "lib"), "analyze", str(music), "--analyzers", "key,beats",
            "--device", "cpu", "--out", str(tmp_path / "out")]
    assert main(args) == 0                                  # analyse (results written)
    reads = []
    real = ResultStore.load
    monkeypatch.setattr(ResultStore, "load", lambda self, *a, **k: reads.append(a) or real(self, *a, **k))
    capsys.readouterr()
    assert main(args) == 0                                  # all cached: export + summary
    out = capsys.readouterr().out
    assert "t0.wav" in out and "t1.wav" in out and "wrote" in out
    assert len(reads) == 2 * 2, reads                       # 2 tracks x 2 analyzers, once each
