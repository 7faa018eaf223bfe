"""The FAISS similarity index: add / remove / update / persist / reload, sync with the
catalogue (incremental, rebuild on a new embedding version), exact vs approximate."""

from __future__ import annotations

import numpy as np
import pytest

from workstation.core.types import Embedding
from workstation.library import Library
from workstation.library.index import SimilarityIndex, open_index

D = 16


def clustered(n, d=D, *, per_cluster=50, spread=0.6, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(1, n // per_cluster), d))
    lab = rng.integers(0, len(centres), n)
    return (centres[lab] + spread * rng.normal(size=(n, d))).astype(np.float32)


def brute_top(idx, q, k, exclude=()):
    ids, x = idx.vectors()
    s = x @ idx.transform(q)
    order = [int(ids[j]) for j in np.argsort(-s) if int(ids[j]) not in set(exclude)]
    return order[:k]


def test_add_search_remove_update():
    x = clustered(300)
    idx = SimilarityIndex(D)
    idx.add(np.arange(100, 400), x, hashes=[f"h{i}" for i in range(300)])
    assert len(idx) == 300 and 150 in idx
    ids, scores = idx.search(x[5], 10)
    assert ids[0] == 105 and scores[0] == pytest.approx(1.0, abs=1e-5)  # a vector finds itself
    assert np.all(np.diff(scores) <= 1e-6)
    assert ids.tolist() == brute_top(idx, x[5], 10)
    # exclusion: never the excluded ids
    ids2, _ = idx.search(x[5], 10, exclude_ids=[105, int(ids[1])])
    assert 105 not in ids2 and int(ids[1]) not in ids2 and ids2.tolist() == ids[2:].tolist() + ids2[-2:].tolist()
    # remove
    assert idx.remove([105, 106, 9999]) == 2
    assert 105 not in idx and len(idx) == 298
    ids3, _ = idx.search(x[5], 298)
    assert 105 not in ids3 and 106 not in ids3 and -1 not in ids3
    # update: a track gets a new vector (the one of track 300)
    idx.add([110], x[200][None, :], hashes=["new"])
    assert len(idx) == 298 and idx.content_hash(110) == "new"
    ids4, s4 = idx.search(x[200], 2)
    assert set(ids4.tolist()) == {110, 300} and s4[1] == pytest.approx(1.0, abs=1e-5)
    # k larger than the collection: padded
    ids5, s5 = idx.search(x[0], 400)
    assert (ids5 >= 0).sum() == 298 and np.all(ids5[298:] == -1) and np.all(np.isinf(s5[298:]))


def test_centring_spreads_compressed_vectors():
    rng = np.random.default_rng(1)
    common = rng.normal(size=D) * 5
    x = (common + rng.normal(size=(200, D))).astype(np.float32)  # all cosines high
    raw = SimilarityIndex(D, centre=False)
    cen = SimilarityIndex(D, centre=True)
    for idx in (raw, cen):
        idx.add(np.arange(200), x)
        idx.build()
    _, xr = raw.vectors()
    _, xc = cen.vectors()
    off = ~np.eye(200, dtype=bool)
    assert (xr @ xr.T)[off].mean() > 0.8
    assert abs((xc @ xc.T)[off].mean()) < 0.1
    np.testing.assert_allclose(cen.mean, x.mean(axis=0), atol=1e-4)


def test_exact_and_approximate_agree():
    n = 20_000
    x = clustered(n, 32, per_cluster=100, spread=1.0, seed=2)
    flat = SimilarityIndex(32, exact_max=n)
    ivf = SimilarityIndex(32, exact_max=1000)
    for idx in (flat, ivf):
        idx.add(np.arange(n), x)
        idx.build()
    assert flat.kind == "flat" and ivf.kind == "ivf" and ivf.nprobe >= 1
    assert ivf.measured_recall >= ivf.target_recall
    q = clustered(100, 32, per_cluster=100, spread=1.0, seed=2)  # same centres, new draws
    q = q + 0.3 * np.random.default_rng(3).normal(size=q.shape).astype(np.float32)
    a, _ = flat.search(q, 10)
    b, sb = ivf.search(q, 10)
    recall = np.mean([len(set(r) & set(s)) / 10 for r, s in zip(a, b)])
    assert recall >= 0.95, recall
    # the approximate index also follows removals
    ivf.remove(a[:, 0].tolist())
    b2, _ = ivf.search(q, 10)
    assert not set(b2.ravel().tolist()) & set(a[:, 0].tolist())


def test_kind_follows_size_with_incremental_adds():
    x = clustered(3000, seed=4)
    idx = SimilarityIndex(D, exact_max=1000)
    idx.add(np.arange(800), x[:800])
    idx.search(x[0], 5)
    assert idx.kind == "flat"
    idx.add(np.arange(800, 3000), x[800:])
    ids, _ = idx.search(x[2500], 5)
    assert idx.kind == "ivf" and ids[0] == 2500
    idx.remove(np.arange(500, 3000))
    ids, _ = idx.search(x[10], 5)
    assert idx.kind == "flat" and ids[0] == 10 and len(idx) == 500


def test_persist_and_reload(tmp_path):
    x = clustered(500, seed=5)
    idx = SimilarityIndex(D, key="embedding/v2/abc", space="test-space")
    idx.add(np.arange(500) * 3, x, hashes=[f"{i:04x}" for i in range(500)])
    before = idx.search(x[:20], 10)
    idx.save(tmp_path / "sim")
    assert not list((tmp_path / "sim").glob(".tmp-*"))
    again = SimilarityIndex.load(tmp_path / "sim")
    assert again.key == "embedding/v2/abc" and again.space == "test-space" and len(again) == 500
    assert again.content_hash(30) == f"{10:04x}"
    np.testing.assert_array_equal(again.search(x[:20], 10)[0], before[0])
    np.testing.assert_allclose(again.mean, idx.mean)
    # a damaged FAISS file is rebuilt from the sidecar
    (tmp_path / "sim" / "index.faiss").write_bytes(b"garbage")
    again = SimilarityIndex.load(tmp_path / "sim")
    np.testing.assert_array_equal(again.search(x[:20], 10)[0], before[0])
    # no sidecar: nothing (the caller syncs from the catalogue)
    assert SimilarityIndex.load(tmp_path / "nothing") is None


# ---------------------------------------------------------------- sync with a catalogue

def _fake_track(lib, tmp_path, name, h, vec, version=2, ph="p0", space="test-space"):
    """A catalogue row with a stored embedding result (no audio needed for index tests)."""
    t = lib.track_by_path(tmp_path / name) or lib.insert_track(tmp_path / name, content_hash=h,
                                                               status="ok")
    lib.store.save(h, "embedding", version, ph, Embedding(vector=vec, space=space))
    lib.set_analysis(h, "embedding", version, ph, status="done")
    return t


def test_sync_is_incremental_and_rebuilds_on_a_new_version(tmp_path):
    rng = np.random.default_rng(6)
    vecs = rng.normal(size=(6, D)).astype(np.float32)
    with Library.open(tmp_path / "lib") as lib:
        tracks = [_fake_track(lib, tmp_path, f"t{i}.wav", f"{i:02x}" * 8, vecs[i]) for i in range(5)]
        idx, rep = open_index(lib, "embedding", 2, "p0", dim=D)
        assert sorted(rep.added) == [t.id for t in tracks] and not rep.rebuilt
        assert (tmp_path / "lib" / "similarity" / "index.npz").is_file()
        # nothing changed: nothing read
        idx2, rep2 = open_index(lib, "embedding", 2, "p0", dim=D)
        assert not rep2.changed and len(idx2) == 5
        # a new analysed track, a removed one, a changed one
        new = _fake_track(lib, tmp_path, "t5.wav", "55" * 8, vecs[5])
        lib.update_track(tracks[0].id, status="missing")
        lib.update_track(tracks[1].id, content_hash="ab" * 8)
        lib.store.save("ab" * 8, "embedding", 2, "p0", Embedding(vector=vecs[5], space="test-space"))
        lib.set_analysis("ab" * 8, "embedding", 2, "p0", status="done")
        rep3 = idx2.sync(lib, "embedding", 2, "p0")
        assert rep3.added == [new.id] and rep3.removed == [tracks[0].id]
        assert rep3.updated == [tracks[1].id] and not rep3.rebuilt
        assert tracks[0].id not in idx2 and idx2.content_hash(tracks[1].id) == "ab" * 8
        np.testing.assert_allclose(idx2.raw_vector(tracks[1].id), vecs[5])
        # a re-run analysis (same hash, newer record) is picked up too
        h2 = tracks[2].content_hash
        lib.store.save(h2, "embedding", 2, "p0", Embedding(vector=vecs[0], space="test-space"))
        lib.set_analysis(h2, "embedding", 2, "p0", status="done")
        assert idx2.sync(lib, "embedding", 2, "p0").updated == [tracks[2].id]
        # the saved index reloads with the same contents
        idx3, rep4 = open_index(lib, "embedding", 2, "p0", dim=D)
        assert not rep4.changed and sorted(idx3.ids) == sorted(idx2.ids)
        # a new embedding version: rebuilt from the new results only
        for t in lib.tracks("ok")[:3]:
            lib.store.save(t.content_hash, "embedding", 3, "p0",
                           Embedding(vector=np.ones(D + 4, np.float32), space="v3-space"))
            lib.set_analysis(t.content_hash, "embedding", 3, "p0", status="done")
        idx4, rep5 = open_index(lib, "embedding", 3, "p0", dim=D)
        assert rep5.rebuilt and "v3" in rep5.reason
        assert len(idx4) == 3 and idx4.dim == D + 4 and idx4.space == "v3-space"
        assert idx4.key == "embedding/v3/p0"
        # a stray older result of yet another space is skipped, not a rebuild loop
        t4 = lib.tracks("ok")[3]
        lib.store.save(t4.content_hash, "embedding", 3, "p0",
                       Embedding(vector=np.ones(D + 8, np.float32), space="stray"))
        lib.set_analysis(t4.content_hash, "embedding", 3, "p0", status="done")
        lib._conn().execute("UPDATE analyses SET updated_at = 0 WHERE content_hash = ? AND "
                            "version = 3", (t4.content_hash,))
        rep6 = idx4.sync(lib, "embedding", 3, "p0")
        assert not rep6.changed and len(idx4) == 3 and idx4.dim == D + 4
        assert not idx4.sync(lib, "embedding", 3, "p0").changed
