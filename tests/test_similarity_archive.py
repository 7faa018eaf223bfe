"""The archive kind of the similarity index: re-ranked IVF-PQ past ``pq_min`` vectors, the raw
vectors kept in ``raw.npy`` and read back as a memory map, and the streamed helpers of
``library.ann`` (exact top-k over blocks)."""

from __future__ import annotations

import numpy as np

from workstation.library import ann
from workstation.library.index import SimilarityIndex


def clustered(n, d=32, *, per_cluster=60, spread=1.0, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(1, n // per_cluster), d))
    lab = rng.integers(0, len(centres), n)
    return (centres[lab] + spread * rng.normal(size=(n, d))).astype(np.float32)


def test_exact_top_over_blocks_equals_one_matrix_product():
    x = clustered(1000, 8, seed=1)
    q = clustered(7, 8, seed=2)
    ids = np.arange(1000) * 2 + 5
    got_i, got_s = ann.exact_top(q, ann.row_blocks(ids, x, lambda v: v, block=97), 12)
    s = q @ x.T
    want = np.argsort(-s, axis=1, kind="stable")[:, :12]
    np.testing.assert_array_equal(got_i, ids[want])
    np.testing.assert_allclose(got_s, np.take_along_axis(s, want, 1), rtol=1e-6)
    assert ann.pq_subquantizers(100) == 25 and ann.pq_subquantizers(128) == 32


def test_ivfpq_kind_is_reranked_exactly_and_reaches_the_recall_target():
    n = 12_000
    x = clustered(n, seed=3)
    flat = SimilarityIndex(32, exact_max=n)
    pq = SimilarityIndex(32, exact_max=1000, pq_min=5000)
    for idx in (flat, pq):
        idx.add(np.arange(n), x)
        idx.build()
    assert flat.kind == "flat" and pq.kind == "ivfpq"
    assert pq.measured_recall >= pq.target_recall, pq.measured_recall
    q = clustered(100, seed=3) + 0.3 * np.random.default_rng(4).normal(size=(100, 32)).astype(np.float32)
    a, sa = flat.search(q, 10)
    b, sb = pq.search(q, 10)
    recall = np.mean([len(set(r) & set(s)) / 10 for r, s in zip(a, b)])
    assert recall >= 0.95, recall
    # scores are exact cosines of the raw vectors (re-ranked), not PQ approximations
    for r in range(5):
        np.testing.assert_allclose(sb[r], pq.similarity(q[r], b[r]), rtol=1e-5, atol=1e-6)
    # the PQ codes are much smaller than the IVF-Flat lists would be
    import faiss
    assert len(faiss.serialize_index(pq._index)) < 0.5 * n * 32 * 4


def test_archive_index_saves_raw_vectors_beside_and_reloads_them_as_a_memory_map(tmp_path):
    n = 8000
    x = clustered(n, seed=5)
    idx = SimilarityIndex(32, exact_max=1000, pq_min=4000, key="embedding/v2/k")
    idx.add(np.arange(n) + 10, x, hashes=[f"h{i}" for i in range(n)])
    before = idx.search(x[:20], 10)
    idx.save(tmp_path / "sim")
    assert (tmp_path / "sim" / "raw.npy").is_file()
    again = SimilarityIndex.load(tmp_path / "sim")
    assert isinstance(again._raw, np.memmap) and again.kind == "ivfpq"
    assert again.nprobe == idx.nprobe
    np.testing.assert_array_equal(again.search(x[:20], 10)[0], before[0])
    np.testing.assert_array_equal(again.raw_vector(15), x[5])
    # changes after loading: the memory map becomes an in-memory array, saved again
    again.add([5], x[:1] + 0.01, hashes=["new"])
    again.remove([10, 11])
    assert not isinstance(again._raw, np.memmap) and len(again) == n - 1
    again.save()
    third = SimilarityIndex.load(tmp_path / "sim")
    assert len(third) == n - 1 and third.content_hash(5) == "new"
    ids, _ = third.search(x[0] + 0.01, 3)
    assert ids[0] == 5


def test_index_saved_before_raw_npy_existed_still_loads(tmp_path):
    import json
    x = clustered(300, seed=6)
    idx = SimilarityIndex(32, key="embedding/v2/old")
    idx.add(np.arange(300), x)
    idx.save(tmp_path / "sim")
    # rewrite the sidecar the way earlier versions did (raw vectors inside the npz)
    meta = {"key": idx.key, "space": "", "dim": 32, "centre": True, "kind": idx.kind,
            "nlist": 0, "nprobe": 0, "n_built": 300, "exact_max": idx.exact_max,
            "measured_recall": None}
    with open(tmp_path / "sim" / "index.npz", "wb") as f:
        np.savez(f, ids=np.arange(300), raw=x, hashes=np.asarray([""] * 300, dtype=str),
                 stamps=np.zeros(300), mean=idx.mean, meta=np.asarray(json.dumps(meta)))
    (tmp_path / "sim" / "raw.npy").unlink()
    again = SimilarityIndex.load(tmp_path / "sim")
    assert len(again) == 300
    np.testing.assert_array_equal(again.raw_vector(7), x[7])
    # a raw.npy that does not match the ids is refused (the caller rebuilds from the catalogue)
    idx.save(tmp_path / "bad")
    np.save(tmp_path / "bad" / "raw.npy", x[:10])
    assert SimilarityIndex.load(tmp_path / "bad") is None
