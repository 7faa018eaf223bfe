"""The FAISS side of the similarity index: index kinds, streamed building, exact top-k over
blocks, re-ranking and ``nprobe`` tuning (``library.index.SimilarityIndex`` is the one user;
``benchmarks/similarity.py`` drives these directly for the 10-million-vector scale run).

Kinds, by collection size (vectors are centred and L2-normalised before they get here, so
inner product is cosine):

- ``flat``: exact ``IndexFlatIP`` in an ``IndexIDMap2``;
- ``ivf``: ``IndexIVFFlat``, ``nlist`` about ``2 sqrt(n)`` (a power of two): the lists hold a
  second full copy of the vectors (400 MB per million 100-d vectors);
- ``ivfpq``: ``IndexIVFPQ`` (``pq_subquantizers(dim)`` codes of 8 bits: 25 bytes per 100-d
  vector instead of 400), the candidates (``RERANK`` times k) re-ranked by the exact cosine
  of the raw vectors, which the caller may keep on disk (a memory map): the archive kind.
"""

from __future__ import annotations

import math
from typing import Callable, Iterable, Iterator

import faiss
import numpy as np

#: Candidates per wanted neighbour that IVF-PQ returns for exact re-ranking (measured on 2M
#: spectrum-like vectors, benchmarks/similarity.py: 10 per neighbour caps recall@10 at 0.98,
#: 30 reaches 0.993 at nprobe 64; at 10M, 10 capped it at 0.96, so 50).
RERANK: int = 50
#: Rows per block when vectors are streamed (adding, exact search).
BLOCK_ROWS: int = 131_072
NPROBES: tuple[int, ...] = (1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768,
                            1024, 1536, 2048, 3072, 4096, 8192, 16384)


def ivf_nlist(n: int) -> int:
    """Inverted lists for ``n`` vectors: about 2 sqrt(n), a power of two, at least 39 training
    vectors per list."""
    nlist = int(2 ** round(math.log2(max(16.0, 2.0 * math.sqrt(max(n, 1))))))
    return max(1, min(nlist, n // 39 if n >= 39 else 1))


def pq_subquantizers(dim: int) -> int:
    """Sub-quantizers of the PQ codes: the largest divisor of ``dim`` that is at most
    ``dim / 4`` (4 dimensions per byte: 25 for the 100-d DSP embedding, 32 for 128-d)."""
    return max(m for m in range(1, max(1, dim // 4) + 1) if dim % m == 0)


def new_index(kind: str, dim: int, n: int):
    """An empty FAISS index of ``kind`` for about ``n`` vectors (ids given at add time)."""
    if kind == "flat":
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    quantizer = faiss.IndexFlatIP(dim)
    if kind == "ivf":
        index = faiss.IndexIVFFlat(quantizer, dim, ivf_nlist(n), faiss.METRIC_INNER_PRODUCT)
    elif kind == "ivfpq":
        index = faiss.IndexIVFPQ(quantizer, dim, ivf_nlist(n), pq_subquantizers(dim), 8,
                                 faiss.METRIC_INNER_PRODUCT)
    else:
        raise ValueError(f"unknown similarity index kind {kind!r} (flat, ivf or ivfpq)")
    index.cp.niter = 10       # (faiss's Python wrapper keeps the quantizer alive with the index)
    return index


def training_rows(n: int, nlist: int, rng) -> np.ndarray | None:
    """Rows to train an IVF index on: 40 per list (sorted), or None for all ``n``."""
    n_train = min(n, 40 * nlist)
    return np.sort(rng.choice(n, n_train, replace=False)) if n_train < n else None


def fill(index, blocks: Iterable[tuple[np.ndarray, np.ndarray]], sample: np.ndarray | None = None):
    """Train ``index`` on ``sample`` [shape=(m, dim)] float32 (IVF kinds) and add ``blocks`` of
    (ids [shape=(b,)] int64, vectors [shape=(b, dim)] float32)."""
    if sample is not None and not index.is_trained:
        index.train(np.ascontiguousarray(sample, dtype=np.float32))
    for ids, x in blocks:
        index.add_with_ids(np.ascontiguousarray(x, dtype=np.float32), np.asarray(ids, np.int64))
    return index


def exact_top(q: np.ndarray, blocks: Iterable[tuple[np.ndarray, np.ndarray]], k: int
              ) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` by inner product of queries ``q`` [shape=(m, dim)] over streamed
    (ids, vectors) blocks -> (ids [shape=(m, k)] int64, scores [shape=(m, k)]), best first, -1
    padded; memory is one block, not the collection."""
    m = len(q)
    best_s = np.full((m, k), -np.inf, np.float32)
    best_i = np.full((m, k), -1, np.int64)
    for ids, x in blocks:
        s = q @ np.asarray(x, np.float32).T
        s_all = np.concatenate([best_s, s], axis=1)
        i_all = np.concatenate([best_i, np.broadcast_to(np.asarray(ids, np.int64), s.shape)], axis=1)
        kk = min(k, s_all.shape[1])
        part = np.argpartition(-s_all, kk - 1, axis=1)[:, :kk]     # the k best, unordered
        order = np.argsort(-np.take_along_axis(s_all, part, 1), axis=1, kind="stable")
        top = np.take_along_axis(part, order, 1)
        best_s = np.take_along_axis(s_all, top, 1)
        best_i = np.take_along_axis(i_all, top, 1)
    return best_i, best_s


def search(index, kind: str, q: np.ndarray, k: int,
           vectors_of: Callable[[np.ndarray], np.ndarray] | None = None
           ) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` of queries ``q`` [shape=(m, dim)] -> (scores [shape=(m, k)], ids [shape=(m, k)])
    as FAISS returns them (-1 padded). ``ivfpq``: ``RERANK * k`` candidates re-scored exactly
    with ``vectors_of(ids [shape=(c,)]) -> searched vectors [shape=(c, dim)]``."""
    q = np.ascontiguousarray(q, dtype=np.float32)
    if kind != "ivfpq" or vectors_of is None:
        return index.search(q, k)
    _, cand = index.search(q, RERANK * k)
    scores = np.full((len(q), k), -np.inf, np.float32)
    ids = np.full((len(q), k), -1, np.int64)
    for r in range(len(q)):
        c = cand[r][cand[r] >= 0]
        if not len(c):
            continue
        s = vectors_of(c) @ q[r]
        top = np.argsort(-s, kind="stable")[:k]
        scores[r, :len(top)], ids[r, :len(top)] = s[top], c[top]
    return scores, ids


def tune_nprobe(index, kind: str, q: np.ndarray, truth: list[set], k: int, target: float,
                vectors_of=None, exclude: np.ndarray | None = None) -> tuple[int, float]:
    """The smallest ``nprobe`` whose recall@k (after re-ranking, for ``ivfpq``) against the
    exact neighbours ``truth`` (one set of ids per query) reaches ``target`` -> (nprobe,
    recall). ``exclude``: one id per query left out of its results (the query itself)."""
    best = (index.nlist, 0.0)
    for nprobe in [p for p in NPROBES if p < index.nlist] + [index.nlist]:
        index.nprobe = nprobe
        _, got = search(index, kind, q, k + 1, vectors_of)
        rec = []
        for r, (t, g) in enumerate(zip(truth, got)):
            g = g[g >= 0] if exclude is None else g[(g >= 0) & (g != exclude[r])]
            rec.append(len(t & set(g[:k].tolist())) / max(len(t), 1))
        best = (nprobe, float(np.mean(rec)))
        if best[1] >= target:
            break
    index.nprobe = best[0]
    return best


def row_blocks(ids: np.ndarray, rows: np.ndarray, transform: Callable[[np.ndarray], np.ndarray],
               block: int = BLOCK_ROWS) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(ids, transform(rows)) in blocks of ``block`` rows: ``rows`` may be a memory map."""
    for a in range(0, len(ids), block):
        yield ids[a:a + block], transform(np.asarray(rows[a:a + block]))


__all__ = ["RERANK", "exact_top", "fill", "ivf_nlist", "new_index", "pq_subquantizers",
           "row_blocks", "search", "training_rows", "tune_nprobe"]
