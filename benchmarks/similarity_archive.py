"""The archive kind of the similarity index at archive scale (``similarity.py archive``).

Simulates the index of an archive of ``size`` tracks (10 million by default) without
analysing them: 100-d vectors with the variance spectrum of real DSP embeddings (no
clusters; see ``similarity.py``), written block by block into a saved index folder exactly as
``SimilarityIndex.save`` lays it out (``raw.npy`` + ``index.npz``, no FAISS file yet), then
loaded as the workstation loads it (raw vectors memory-mapped) and built on the first search
(re-ranked IVF-PQ, ``nprobe`` tuned to recall@10 >= 0.97). Reports build time, the FAISS
part's size, query latency (one query at a time, as the GUI asks), recall@10 of held-out
queries against exact search (streamed over the memory map), and peak resident memory
(the memory map's pages are counted in it while they are cached; they are file-backed and
the kernel can drop them).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from workstation.library import ann
from workstation.library.index import SimilarityIndex


def current_rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def write_archive(folder: Path, n: int, n_queries: int, d: int = 100, seed: int = 0,
                  block: int = 200_000) -> np.ndarray:
    """A saved index folder of ``n`` simulated vectors; returns ``n_queries`` held-out queries
    of the same distribution [shape=(n_queries, d)] float32."""
    rng = np.random.default_rng(seed)
    lam = 0.84 ** np.arange(d) + 1e-3
    rot, _ = np.linalg.qr(rng.normal(size=(d, d)))

    def draw(m):
        return ((rng.normal(size=(m, d)) * np.sqrt(lam)) @ rot).astype(np.float32)

    folder.mkdir(parents=True, exist_ok=True)
    raw = np.lib.format.open_memmap(folder / "raw.npy", mode="w+", dtype=np.float32, shape=(n, d))
    for a in range(0, n, block):
        raw[a:a + block] = draw(min(block, n - a))
    raw.flush()
    del raw
    meta = {"key": "embedding/simulated", "space": "simulated", "dim": d, "centre": True,
            "kind": "ivfpq", "nlist": 0, "nprobe": 0, "n_built": 0, "exact_max": 50_000,
            "measured_recall": None}
    with open(folder / "index.npz", "wb") as f:
        np.savez(f, ids=np.arange(n, dtype=np.int64), hashes=np.asarray([""] * n, dtype=str),
                 stamps=np.zeros(n), mean=np.zeros(d, np.float32), meta=np.asarray(json.dumps(meta)))
    return draw(n_queries)


def bench_archive(n: int, n_queries: int, work_dir: str = "") -> None:
    from similarity import print_table, rss_mb

    tmp = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="archive-index-"))
    folder = tmp / "sim"
    try:
        t0 = time.perf_counter()
        queries = write_archive(folder, n, n_queries)
        write_s = time.perf_counter() - t0
        rss0 = current_rss_mb()
        t0 = time.perf_counter()
        idx = SimilarityIndex.load(folder)
        load_s = time.perf_counter() - t0
        rss_loaded = current_rss_mb()
        t0 = time.perf_counter()
        idx.search(queries[0], 10)                      # builds: mean, train, add, tune
        build_s = time.perf_counter() - t0
        rss_built = current_rss_mb()
        import faiss
        index_mb = len(faiss.serialize_index(idx._index)) / 2 ** 20
        qt = idx.transform(queries)
        truth, _ = ann.exact_top(qt, ann.row_blocks(idx._ids, idx._raw, idx._transform), 10)
        lat, got = [], np.zeros((n_queries, 10), np.int64)
        for i in range(n_queries):
            t1 = time.perf_counter()
            got[i], _ = idx.search(qt[i], 10, transformed=True)
            lat.append(time.perf_counter() - t1)
        recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(truth, got)])
        lat_ms = np.array(lat) * 1e3
        t0 = time.perf_counter()
        idx.save()
        save_s = time.perf_counter() - t0
        disk_mb = sum(p.stat().st_size for p in folder.iterdir()) / 2 ** 20
        print_table(("vectors", "index", "nlist/nprobe", "write data s", "load s", "build s",
                     "FAISS part MB", "on disk MB", "query ms p50", "p95", "recall@10",
                     "RSS MB after load / build", "peak RSS MB", "save s"),
                    [(f"{n:,}", idx.kind, f"{idx.nlist}/{idx.nprobe}", f"{write_s:.0f}",
                      f"{load_s:.1f}", f"{build_s:.0f}", f"{index_mb:.0f}", f"{disk_mb:.0f}",
                      f"{np.median(lat_ms):.2f}", f"{np.percentile(lat_ms, 95):.2f}",
                      f"{recall:.3f}", f"{rss_loaded - rss0:.0f} / {rss_built - rss0:.0f}",
                      f"{rss_mb():.0f}", f"{save_s:.0f}")])
        tuned = (f"tuning recall@10 on collection queries: {idx.measured_recall:.3f}; "
                 if idx.measured_recall is not None else "")
        print(f"({tuned}RSS before loading {rss0:.0f} MB)")
    finally:
        if not work_dir:
            shutil.rmtree(tmp, ignore_errors=True)
