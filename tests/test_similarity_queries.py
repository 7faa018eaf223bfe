"""Similarity queries on a small synthetic library analysed with the real pipeline: seeds
never in their own results, duplicates, regions, several seeds, filters, explanations,
playlists (length, no repeats, A and B at the ends), the 2-D map, playlist export."""

from __future__ import annotations

import json
from pathlib import Path

import jams
import numpy as np
import pytest
from sim_library import DRUMS, TONES, sim_collection  # noqa: F401  (session fixture)

from workstation.analysis.similarity import SimilaritySearch
from workstation.analysis.similarity_types import (Filters, Region, SimilarityError, TrackMeta, key_relation,
                                                   tempo_closeness)
from workstation.export.playlist import (read_m3u8, read_playlist_jams, write_m3u8,
                                         write_playlist_jams)
from workstation.library import Library


@pytest.fixture(scope="module")
def search(sim_collection):
    root, _ = sim_collection
    lib = Library.open(root)
    yield SimilaritySearch(lib)
    lib.close()


@pytest.fixture(scope="module")
def ids(search):
    return {Path(t.path).stem: t.id for t in search.library.tracks()}


def names(results):
    return [Path(r.path).stem for r in results]


def test_index_holds_every_analysed_track(search, ids):
    assert len(search.index) == 8  # 7 files + the duplicate
    assert search.index.content_hash(ids["tones_a"]) == search.index.content_hash(ids["tones_a_copy"])


def test_seed_and_its_duplicates_are_never_results(search, ids):
    for seed in ("tones_a", "tones_a_copy", "drums_b"):
        res = search.similar(ids[seed], k=10)
        got = names(res)
        assert seed not in got
        if seed.startswith("tones_a"):
            assert "tones_a" not in got and "tones_a_copy" not in got
        # every other content exactly once, best first
        assert len(res) == 6 and len(set(got)) == len(got)
        assert all(a.score >= b.score - 1e-6 for a, b in zip(res, res[1:]))


def test_same_family_ranks_first(search, ids):
    for fam in (TONES, DRUMS):
        for seed in fam:
            top = names(search.similar(ids[seed], k=2))
            assert set(top) <= set(fam) | {"tones_a_copy"}, (seed, top)


def test_region_query_follows_the_region(search, ids):
    first = names(search.similar(Region(ids["mixed"], 0.0, 8.0), k=3))
    second = names(search.similar(Region(ids["mixed"], 8.0, 16.0), k=3))
    assert "mixed" not in first + second
    assert all(n.startswith("tones") for n in first), first
    assert all(n.startswith("drums") for n in second), second
    emb = search.embedding(ids["mixed"])
    assert emb.segment_vectors.shape == (2, len(emb.vector))
    np.testing.assert_allclose(emb.segment_times_s[-1, 1], 16.0, atol=0.05)


def test_several_seeds(search, ids):
    res = search.similar([ids["tones_a"], ids["drums_a"]], k=10)
    got = names(res)
    assert not {"tones_a", "tones_a_copy", "drums_a"} & set(got)
    assert len(got) == 5
    # ranked by the mean cosine over the seeds
    qa, qd = search.index.vector(ids["tones_a"]), search.index.vector(ids["drums_a"])
    for r in res:
        v = search.index.vector(r.track_id)
        assert r.score == pytest.approx(0.5 * (v @ qa + v @ qd), abs=1e-4)
    assert all(a.score >= b.score - 1e-6 for a, b in zip(res, res[1:]))
    # two seeds of one family: the third member first
    assert names(search.similar([ids["drums_a"], ids["drums_b"]], k=1)) == ["drums_c"]


def test_filters(search, ids):
    tempo = search.meta(ids["drums_b"]).tempo_bpm
    assert tempo is not None
    res = search.similar(ids["tones_a"], k=10, filters=Filters(tempo_bpm=(tempo - 1, tempo + 1)))
    assert res and all(abs(search.meta(r.track_id).tempo_bpm - tempo) <= 1 for r in res)
    key = search.meta(ids["tones_b"]).key
    res = search.similar(ids["drums_a"], k=10, filters=Filters(key=key))
    assert res and all(search.meta(r.track_id).key == key for r in res)
    res = search.similar(ids["tones_b"], k=10, filters=Filters(duration_s=(12, 30)))
    assert names(res) == ["mixed"]
    folder = str(Path(search.library.track(ids["tones_a_copy"]).path).parent)
    res = search.similar(ids["tones_b"], k=10, filters=Filters(folder=folder))
    assert names(res) == ["tones_a_copy"]
    assert search.similar(ids["tones_b"], k=10, filters=Filters(tags=("jazz",))) == []
    f = Filters.parse(["tempo=90-110", "key=A major,D:major", "tag=rock", "duration=-20",
                       "folder=/x"])
    assert f.tempo_bpm == (90.0, 110.0) and f.key == ["A major", "D:major"]
    assert f.tags == ("rock",) and f.duration_s == (0.0, 20.0) and f.folder == "/x"
    with pytest.raises(SimilarityError):
        Filters.parse(["colour=red"])


def test_tag_filter_and_explanation_use_catalogue_genre(sim_collection, tmp_path):
    import shutil
    root, _ = sim_collection
    shutil.copytree(root, tmp_path / "lib")
    with Library.open(tmp_path / "lib") as lib:
        ids = {Path(t.path).stem: t.id for t in lib.tracks()}
        lib.set_tags(ids["drums_a"], genre="Rock; Electronic")
        lib.set_tags(ids["drums_c"], genre="rock")
        s = SimilaritySearch(lib)
        res = s.similar(ids["drums_a"], k=10, filters=Filters(tags=("Rock",)))
        assert names(res) == ["drums_c"]
        assert res[0].explanation["tags"] == pytest.approx(0.5)
        assert res[0].explanation["shared_tags"] == ["rock"]


def test_explanations(search, ids):
    res = search.similar(ids["drums_a"], k=6)
    for r in res:
        e = r.explanation
        assert e["overall"] == pytest.approx(r.score, abs=1e-3)
        for g in ("timbre", "spectral", "harmony", "rhythm", "loudness"):
            assert -1.0 - 1e-6 <= e[g] <= 1.0 + 1e-6
        assert 0.0 <= e["tempo_closeness"] <= 1.0 and 0.0 <= e["key_closeness"] <= 1.0
        assert isinstance(e["summary"], str) and e["summary"]
    by = {Path(r.path).stem: r.explanation for r in res}
    # drums are closer to drums than to tones in timbre and rhythm
    assert by["drums_b"]["timbre"] > by["tones_b"]["timbre"]
    assert by["drums_b"]["rhythm"] > by["tones_b"]["rhythm"]


def test_key_and_tempo_relations():
    def m(pc, mode):
        return TrackMeta(0, "", "", "", "", None, None, pc, mode, None)
    assert key_relation(m(0, "major"), m(0, "major")) == ("same", 1.0)
    assert key_relation(m(0, "major"), m(9, "minor"))[0] == "relative"
    assert key_relation(m(0, "major"), m(0, "minor"))[0] == "parallel"
    assert key_relation(m(0, "major"), m(7, "major"))[0] == "dominant"
    assert key_relation(m(0, "major"), m(5, "major"))[0] == "subdominant"
    assert key_relation(m(0, "major"), m(6, "major")) == ("other", 0.0)
    assert tempo_closeness(120, 120) == 1.0
    assert tempo_closeness(120, 60) == pytest.approx(0.8)
    assert tempo_closeness(120, 90) == 0.0
    assert tempo_closeness(None, 90) is None


def _check_playlist(search, items, length):
    """Length, no track twice, no content twice; returns the track ids."""
    assert len(items) == length
    tids = [i.track_id for i in items]
    hashes = [search.index.content_hash(t) for t in tids]
    assert len(set(tids)) == len(tids) and len(set(hashes)) == len(hashes)
    return tids


def test_playlists(search, ids):
    for mode in ("nearest", "walk"):
        items = search.playlist([ids["tones_b"]], 5, mode=mode)
        tids = _check_playlist(search, items, 5)
        assert tids[0] == ids["tones_b"]
    # more than the collection holds: every distinct content once
    items = search.playlist([ids["drums_a"]], 50, mode="walk")
    _check_playlist(search, items, 7)
    # several seeds lead the list
    items = search.playlist([ids["tones_c"], ids["drums_c"]], 4)
    assert [i.track_id for i in items[:2]] == [ids["tones_c"], ids["drums_c"]] and len(items) == 4
    with pytest.raises(SimilarityError):
        search.playlist([ids["tones_c"]], 4, mode="shuffle")


def test_path_from_a_to_b(search, ids):
    for length in (2, 4, 7):
        items = search.path(ids["tones_a"], ids["drums_a"], length)
        tids = _check_playlist(search, items, length)
        assert tids[0] == ids["tones_a"] and tids[-1] == ids["drums_a"]
        assert ids["tones_a_copy"] not in tids
    items = search.path(ids["tones_a"], ids["drums_a"], 7)
    got = names(items)
    # tones near A, drums near B, the mixed track between
    assert got[1].startswith("tones") and got[-2].startswith("drums")
    assert 1 < got.index("mixed") < 5, got
    with pytest.raises(SimilarityError):
        search.path(ids["tones_a"], ids["drums_a"], 1)


def test_map_2d(search, ids):
    tids, xy = search.map_2d()
    assert xy.shape == (8, 2) and np.all(np.isfinite(xy)) and np.abs(xy[:, 0]).max() == pytest.approx(1.0)
    pos = {int(t): p for t, p in zip(tids, xy)}
    tones = np.array([pos[ids[n]] for n in TONES])
    drums = np.array([pos[ids[n]] for n in DRUMS])
    within = max(np.ptp(tones, axis=0).max(), np.ptp(drums, axis=0).max())
    between = np.linalg.norm(tones.mean(axis=0) - drums.mean(axis=0))
    assert between > within
    np.testing.assert_allclose(pos[ids["tones_a"]], pos[ids["tones_a_copy"]], atol=1e-6)


def test_unanalysed_track_is_a_clear_error(sim_collection, tmp_path):
    import shutil

    import soundfile as sf
    root, _ = sim_collection
    shutil.copytree(root, tmp_path / "lib")
    sf.write(tmp_path / "new.wav", np.zeros(22050, np.float32), 22050)
    with Library.open(tmp_path / "lib") as lib:
        t = lib.add_file(tmp_path / "new.wav")
        s = SimilaritySearch(lib)
        with pytest.raises(SimilarityError, match="new.wav"):
            s.similar(t.id)


def test_playlist_export_round_trips(search, ids, tmp_path):
    items = search.path(ids["tones_a"], ids["drums_a"], 5)
    (tmp_path / "out").mkdir()
    for relative in (True, False):
        p = write_m3u8(tmp_path / "out" / f"list{relative}.m3u8", items, relative=relative)
        lines = [ln for ln in p.read_text(encoding="utf-8").splitlines() if not ln.startswith("#")]
        assert all(Path(ln).is_absolute() != relative for ln in lines)
        back = read_m3u8(p)
        assert [str(b.path) for b in back] == [str(Path(i.path).resolve()) for i in items]
        j = write_playlist_jams(tmp_path / "out" / f"list{relative}.json", items, relative=relative,
                                mode="path", seeds=[items[0].path])
        jam = jams.load(str(j))  # validates against the JAMS schema
        ann = jam.annotations[0]
        assert ann.namespace == "tag_open" and len(ann.data) == 5
        starts = [o.time for o in ann.data]
        assert starts[0] == 0 and np.all(np.diff(starts) > 0)
        back = read_playlist_jams(j)
        assert [b.path for b in back] == [str(Path(i.path).resolve()) for i in items]
        assert [b.track_id for b in back] == [i.track_id for i in items]
        assert back[1].score == pytest.approx(items[1].score)
        assert json.loads(j.read_text())["sandbox"]["playlist"]["mode"] == "path"
