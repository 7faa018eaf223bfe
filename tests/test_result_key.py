"""One result key per analyzer (``Analyzer.result_key``) and a manifest parsed again only
when it changes."""

from __future__ import annotations

import json
import os

from workstation.analysis import ResultKey, get_analyzer
from workstation.inference import manifest as mf


def test_result_key_is_computed_once_and_is_the_tuple_the_library_takes(monkeypatch):
    a = get_analyzer("key", method="learned")
    calls = []
    real = type(a).params_hash
    monkeypatch.setattr(type(a), "params_hash", lambda self: calls.append(1) or real(self))
    k = a.result_key
    assert isinstance(k, ResultKey) and k == (a.id, a.version, real(a))
    assert a.result_key is k and len(calls) == 1
    assert get_analyzer("key", method="dsp").result_key != k   # parameters are in the key


def test_manifest_is_parsed_again_only_when_it_changes(tmp_path, monkeypatch):
    path = tmp_path / mf.MANIFEST_NAME
    path.write_text(json.dumps([{"name": "m", "sha256": "a" * 64}]))
    reads = []
    real = json.loads
    monkeypatch.setattr(mf.json, "loads", lambda text: reads.append(1) or real(text))
    assert mf.weights_digest("m", tmp_path) == "a" * 64
    entries = mf.read_manifest(tmp_path)
    entries[0]["sha256"] = "changed by the caller"     # a copy: the cache is not touched
    assert mf.weights_digest("m", tmp_path) == "a" * 64 and len(reads) == 1
    path.write_text(json.dumps([{"name": "m", "sha256": "b" * 64}]))   # retrained weights
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert mf.weights_digest("m", tmp_path) == "b" * 64 and len(reads) == 2
    path.unlink()
    assert mf.read_manifest(tmp_path) == [] and mf.weights_digest("m", tmp_path) == "absent"
