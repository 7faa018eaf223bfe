"""The similarity index: FAISS over the track embeddings, a derived cache of the catalogue.

What it holds
-------------
One vector per track (FAISS id = track id; duplicates of one content each get a row, so
folder filters work per file), the content hash of each, and the raw vectors themselves
(the sidecar), so that the FAISS part can always be rebuilt without touching the result
store. Vectors are compared by cosine similarity: each is **centred** (the collection mean,
frozen at the last build, is subtracted: DSP statistics embeddings are compressed, every
cosine high, and centring spreads them; ``benchmarks/similarity.py`` measures that it helps
precision@k) and L2-normalised, then searched by inner product.

Index kinds (chosen by size, see ``EXACT_MAX`` and ``PQ_MIN``; built by ``library.ann``)
-------------------------------------------------------------------------------------
- ``flat``: exact ``IndexFlatIP`` (in an ``IndexIDMap2``) while the collection is small;
- ``ivf``: ``IndexIVFFlat`` (inner product) past ``EXACT_MAX`` vectors, ``nlist`` about
  ``2 sqrt(n)`` (a power of two), trained (10 k-means iterations) on a sample of
  40 vectors per list;
- ``ivfpq``: past ``PQ_MIN`` vectors (archives), ``IndexIVFPQ`` codes (25 bytes per 100-d
  vector instead of 400) whose candidates are re-ranked by the exact cosine of the raw
  vectors, read from the sidecar's memory map (so the vectors live on disk, not twice in RAM).

``nprobe`` is tuned at build time by measurement: the smallest that gives recall@10 of at
least ``TARGET_RECALL`` against exact search on held-out collection vectors.

Both support add, remove and update by id, so the index follows the catalogue
incrementally. It is rebuilt (new mean, new kind, retrained lists) when the number of vectors
has changed by more than ``REBUILD_FRACTION`` since the last build, when it crosses
``EXACT_MAX``, and from scratch when the embedding's analyzer key (id, version, params) or
space changes.

Persistence
-----------
``<library>/similarity/index.faiss`` (``faiss.write_index``), ``index.npz`` (ids, content
hashes, analysis stamps, mean, key, space) and ``raw.npy`` (the raw vectors, opened as a
read-only memory map when loaded), each written to a temporary file, fsynced and renamed. On load, a FAISS file that does not match the sidecar is rebuilt from
the sidecar; an unreadable sidecar means an empty index that ``sync`` refills.

``sync(library, analyzer_id, version, params_hash)`` (from
:class:`workstation.library.index_sync.CatalogueSync`) brings the index in line with the
catalogue; :func:`open_index` loads, syncs and saves the library's index.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Iterable, Sequence

import faiss
import numpy as np

from workstation.core.atomic import atomic_write
from workstation.core.errors import LibraryError
from workstation.library import ann
from workstation.library.index_sync import CatalogueSync, SyncReport

log = logging.getLogger(__name__)

INDEX_DIR = "similarity"
#: Largest collection searched exactly. Measured (benchmarks/similarity.py, 100 dims, one query
#: at a time, 2 busy cores): exact search takes 0.33 ms at 10k, 8 ms at 100k, 47 ms at 1M
#: vectors, so about 4 ms at 50k; up to there exact search is fast enough for a click and needs
#: no training (an IVF build at 100k takes 6 s) and has recall 1.
EXACT_MAX = 50_000
#: recall@10 against exact search that the tuned approximate index must reach.
TARGET_RECALL = 0.97
#: Collections larger than this use ``ivfpq`` (re-ranked IVF-PQ): measured with
#: ``benchmarks/similarity.py scale`` at 1M vectors (see the README's Scale table).
PQ_MIN = 1_000_000
#: Relative change of the collection size that triggers a rebuild (new mean, retrained lists).
REBUILD_FRACTION = 0.25
#: OpenMP threads for a query batch of a few vectors: one (measured: a single query over 100k
#: vectors takes 5.7 ms on one thread and 26 ms on two when the 2 cores are busy, as OpenMP
#: threads spin-wait on each other); builds and large batches use every core.
SMALL_BATCH_THREADS = 1
_DEFAULT_THREADS = faiss.omp_get_max_threads()


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(n, 1e-12)


def _atomic_write(path: Path, write) -> None:
    """``write(tmp_path_str)`` then the one atomic, durable rename (``core.atomic``)."""
    with atomic_write(path, durable=True) as tmp:
        write(str(tmp))


class SimilarityIndex(CatalogueSync):
    """Cosine-similarity index of track vectors [shape=(dim,)], ids = track ids.

    centre: subtract the collection mean before normalising (see the module docstring).
    exact_max: collections up to this size are searched exactly; larger ones with IVF;
    pq_min: collections larger than this with re-ranked IVF-PQ.
    """

    def __init__(self, dim: int, *, centre: bool = True, exact_max: int = EXACT_MAX,
                 pq_min: int = PQ_MIN, target_recall: float = TARGET_RECALL, key: str = "",
                 space: str = ""):
        self.dim = int(dim)
        self.centre = bool(centre)
        self.exact_max = int(exact_max)
        self.pq_min = max(int(pq_min), self.exact_max)
        self.target_recall = float(target_recall)
        self.key = key
        self.space = space
        self.path: Path | None = None
        self._ids = np.zeros(0, np.int64)
        self._raw = np.zeros((0, self.dim), np.float32)
        self._hashes: list[str] = []
        self._stamps = np.zeros(0, np.float64)
        self._row: dict[int, int] = {}
        self._mean = np.zeros(self.dim, np.float32)
        self._index = None
        self.kind = "flat"
        self.nprobe = 0
        self.nlist = 0
        self.measured_recall: float | None = None
        self._n_built = 0
        self.build_s = 0.0
        self._resetting = False
        self._skipped: dict[int, tuple[str, float]] = {}

    # ------------------------------------------------------------------ contents

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, track_id) -> bool:
        return int(track_id) in self._row

    @property
    def ids(self) -> np.ndarray:
        """Track ids in the index [shape=(n,), int64] (row order)."""
        return self._ids.copy()

    @property
    def mean(self) -> np.ndarray:
        """The centre subtracted before normalising [shape=(dim,), float32] (zeros if not centring)."""
        return self._mean.copy()

    def content_hash(self, track_id: int) -> str:
        return self._hashes[self._row[int(track_id)]]

    def ids_with_hash(self, content_hash: str) -> list[int]:
        """Track ids whose content hash is ``content_hash`` (a track and its duplicates)."""
        return [int(i) for i, h in zip(self._ids, self._hashes) if h == content_hash]

    def raw_vector(self, track_id: int) -> np.ndarray:
        """The vector as added [shape=(dim,), float32]; KeyError if the id is not indexed."""
        return self._raw[self._row[int(track_id)]].copy()

    def transform(self, vectors: np.ndarray) -> np.ndarray:
        """Raw vectors [shape=(dim,) or (m, dim)] in the searched space: centred, unit norm
        (builds the index first when a pending rebuild would change the centre)."""
        if len(self._ids) and (self._index is None or self._needs_rebuild()):
            self.build()
        return self._transform(vectors)

    def _transform(self, vectors: np.ndarray) -> np.ndarray:
        v = np.asarray(vectors, dtype=np.float32)
        if v.shape[-1] != self.dim:
            raise LibraryError(f"similarity index: a vector of {v.shape[-1]} dims, the index has {self.dim}")
        return _normalise(v - self._mean)

    def vector(self, track_id: int) -> np.ndarray:
        """The searched (centred, normalised) vector of a track [shape=(dim,), float32]."""
        return self.transform(self.raw_vector(track_id))

    def vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids [shape=(n,)], searched vectors [shape=(n, dim), float32]) of every track."""
        return self._ids.copy(), self.transform(self._raw)

    # ------------------------------------------------------------------ changes

    def add(self, ids: Sequence[int], vectors: np.ndarray, hashes: Sequence[str] | None = None,
            stamps: Sequence[float] | None = None) -> None:
        """Add tracks (an id already present is updated). vectors [shape=(m, dim)]."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        vectors = np.asarray(vectors, dtype=np.float32).reshape(len(ids), -1)
        if vectors.shape[1] != self.dim:
            raise LibraryError(f"similarity index: vectors of {vectors.shape[1]} dims, the index has {self.dim}")
        if not np.all(np.isfinite(vectors)):
            raise LibraryError("similarity index: a vector has NaN or infinite values")
        if len(set(ids.tolist())) != len(ids):
            raise LibraryError("similarity index: the same track id twice in one add")
        hashes = [""] * len(ids) if hashes is None else [str(h or "") for h in hashes]
        stamps = np.zeros(len(ids)) if stamps is None else np.asarray(stamps, dtype=np.float64)
        present = [int(i) for i in ids if int(i) in self._row]
        if present:
            self.remove(present, _rebuild=False)
        start = len(self._ids)
        self._ids = np.concatenate([self._ids, ids])
        self._raw = np.concatenate([self._raw, vectors])
        self._hashes.extend(hashes)
        self._stamps = np.concatenate([self._stamps, stamps])
        for j, i in enumerate(ids.tolist()):
            self._row[i] = start + j
        if self._index is not None and not self._needs_rebuild():
            self._index.add_with_ids(self._transform(vectors), ids)
        else:
            self._index = None  # rebuilt lazily (or by save/search)

    def remove(self, ids: Iterable[int], *, _rebuild: bool = True) -> int:
        """Remove tracks by id (unknown ids are ignored); returns how many were removed."""
        rows = sorted({self._row[int(i)] for i in ids if int(i) in self._row})
        if not rows:
            return 0
        gone = self._ids[rows]
        keep = np.ones(len(self._ids), bool)
        keep[rows] = False
        self._ids = self._ids[keep]
        self._raw = self._raw[keep]
        self._hashes = [h for h, k in zip(self._hashes, keep) if k]
        self._stamps = self._stamps[keep]
        self._row = {int(i): r for r, i in enumerate(self._ids)}
        if self._index is not None:
            self._index.remove_ids(faiss.IDSelectorBatch(gone))
            if _rebuild and self._needs_rebuild():
                self._index = None
        return len(rows)

    def clear(self) -> None:
        self.remove(self._ids.tolist())
        self._index = None

    # ------------------------------------------------------------------ building

    def _wanted_kind(self, n: int) -> str:
        return "flat" if n <= self.exact_max else "ivf" if n <= self.pq_min else "ivfpq"

    def _needs_rebuild(self) -> bool:
        n = len(self._ids)
        if self._wanted_kind(n) != self.kind:
            return True
        if self.centre and abs(n - self._n_built) > REBUILD_FRACTION * max(self._n_built, 8):
            return True
        return False

    def build(self, kind: str | None = None) -> None:
        """(Re)build the FAISS part from the raw vectors: recompute the centre, choose the kind
        (``flat`` / ``ivf`` / ``ivfpq``, or force one), train and tune an IVF index. The raw
        vectors are read in blocks (they may be a memory map); only the training sample is
        held transformed."""
        t0 = time.perf_counter()
        n = len(self._ids)
        self._mean = (self._mean_of_raw() if self.centre and n >= 2
                      else np.zeros(self.dim)).astype(np.float32)
        self.kind = kind or self._wanted_kind(n)
        self.measured_recall = None
        index = ann.new_index(self.kind, self.dim, n)
        blocks = ann.row_blocks(self._ids, self._raw, self._transform)
        if self.kind == "flat":
            self.nlist = self.nprobe = 0
            ann.fill(index, blocks)
        else:
            rng = np.random.default_rng(0)
            rows = ann.training_rows(n, index.nlist, rng)
            ann.fill(index, blocks, self._transform(self._raw if rows is None else self._raw[rows]))
            self.nlist = index.nlist
            self.nprobe, self.measured_recall = self._tune(index, rng)
        self._index = index
        self._n_built = n
        self.build_s = time.perf_counter() - t0
        log.info("similarity index built: %d vectors, %s%s in %.2f s", n, self.kind,
                 f" nlist={self.nlist} nprobe={self.nprobe} recall@10={self.measured_recall:.3f}"
                 if self.kind != "flat" else "", self.build_s)

    def _mean_of_raw(self) -> np.ndarray:
        """Mean of the raw vectors, summed in blocks (float64)."""
        total = np.zeros(self.dim, np.float64)
        for a in range(0, len(self._raw), ann.BLOCK_ROWS):
            total += np.asarray(self._raw[a:a + ann.BLOCK_ROWS], np.float64).sum(axis=0)
        return total / max(len(self._raw), 1)

    def _vectors_of(self, ids: np.ndarray) -> np.ndarray:
        """Searched vectors of track ids [shape=(c,)] -> [shape=(c, dim)] (for re-ranking)."""
        rows = np.fromiter((self._row[int(i)] for i in ids), np.int64, len(ids))
        order = np.argsort(rows)                 # sorted reads from a memory map
        out = np.empty((len(rows), self.dim), np.float32)
        out[order] = self._transform(np.asarray(self._raw[rows[order]]))
        return out

    def _tune(self, index, rng, *, n_queries: int = 200, k: int = 10):
        """The smallest nprobe whose recall@k against exact search reaches the target, on
        queries drawn from the collection (each query's own row excluded from both)."""
        q_rows = np.sort(rng.choice(len(self._ids), min(n_queries, len(self._ids)), replace=False))
        q = self._transform(np.asarray(self._raw[q_rows]))
        q_ids = self._ids[q_rows]
        exact, _ = ann.exact_top(q, ann.row_blocks(self._ids, self._raw, self._transform), k + 1)
        truth = [set(r[(r >= 0) & (r != qi)][:k].tolist()) for r, qi in zip(exact, q_ids)]
        return ann.tune_nprobe(index, self.kind, q, truth, k, self.target_recall,
                               self._vectors_of, exclude=q_ids)

    def _ready(self):
        if self._index is None or self._needs_rebuild():
            self.build()
        return self._index

    # ------------------------------------------------------------------ search

    def search(self, queries: np.ndarray, k: int, *, exclude_ids: Iterable[int] = (),
               transformed: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Top-k tracks by cosine similarity.

        queries [shape=(dim,) or (m, dim)] raw vectors (or already ``transform``ed ones with
        ``transformed=True``). Returns (ids [shape=(m, k), int64], scores [shape=(m, k)],
        cosine in [-1, 1]), best first, padded with id -1 and score -inf; tracks in
        ``exclude_ids`` never appear."""
        q = np.asarray(queries, dtype=np.float32)
        single = q.ndim == 1
        q = q.reshape(-1, self.dim)
        q = q if transformed else self.transform(q)
        exclude = {int(i) for i in exclude_ids}
        m = len(q)
        out_ids = np.full((m, k), -1, np.int64)
        out_sc = np.full((m, k), -np.inf, np.float32)
        n = len(self._ids)
        if n and k > 0:
            index = self._ready()
            kk = min(n, k + sum(1 for i in exclude if i in self._row))
            faiss.omp_set_num_threads(SMALL_BATCH_THREADS if m < 8 else _DEFAULT_THREADS)
            try:
                scores, ids = ann.search(index, self.kind, q, kk, self._vectors_of)
            finally:
                faiss.omp_set_num_threads(_DEFAULT_THREADS)
            for r in range(m):
                sel = [(i, s) for i, s in zip(ids[r], scores[r]) if i >= 0 and int(i) not in exclude][:k]
                for j, (i, s) in enumerate(sel):
                    out_ids[r, j] = i
                    out_sc[r, j] = s
        if single:
            return out_ids[0], out_sc[0]
        return out_ids, out_sc

    def similarity(self, a: np.ndarray, track_ids: Sequence[int]) -> np.ndarray:
        """Cosine of raw vector ``a`` [shape=(dim,)] with each listed track [shape=(len,)]."""
        qa = self.transform(a)
        rows = [self._row[int(i)] for i in track_ids]
        return self.transform(self._raw[rows]) @ qa

    # ------------------------------------------------------------------ persistence

    def save(self, folder: str | Path | None = None) -> Path:
        """Write ``index.faiss`` and ``index.npz`` atomically into ``folder`` (default: where it
        was loaded from)."""
        folder = Path(folder) if folder is not None else self.path
        if folder is None:
            raise LibraryError("similarity index: no folder to save to")
        folder.mkdir(parents=True, exist_ok=True)
        index = self._ready()
        meta = {"key": self.key, "space": self.space, "dim": self.dim, "centre": self.centre,
                "kind": self.kind, "nlist": self.nlist, "nprobe": self.nprobe,
                "n_built": self._n_built, "exact_max": self.exact_max, "pq_min": self.pq_min,
                "measured_recall": self.measured_recall}

        def write_npz(tmp):
            with open(tmp, "wb") as f:
                np.savez(f, ids=self._ids, hashes=np.asarray(self._hashes, dtype=str),
                         stamps=self._stamps, mean=self._mean, meta=np.asarray(json.dumps(meta)))

        def write_raw(tmp):
            with open(tmp, "wb") as f:
                np.save(f, np.ascontiguousarray(self._raw, dtype=np.float32))

        try:
            _atomic_write(folder / "index.faiss", lambda tmp: faiss.write_index(index, tmp))
            _atomic_write(folder / "raw.npy", write_raw)
            _atomic_write(folder / "index.npz", write_npz)
        except (OSError, RuntimeError) as e:
            raise LibraryError(f"{folder}: cannot write the similarity index: {e}") from None
        self.path = folder
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> "SimilarityIndex | None":
        """The index saved in ``folder``; None when there is none or it cannot be read (it is
        a cache: the caller rebuilds it with ``sync``)."""
        folder = Path(folder)
        npz = folder / "index.npz"
        if not npz.is_file():
            return None
        try:
            with np.load(npz, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                ids = z["ids"].astype(np.int64)
                hashes = [str(h) for h in z["hashes"].tolist()]
                stamps, mean = z["stamps"], z["mean"]
                # the raw vectors: a read-only memory map of raw.npy (an index saved before
                # raw.npy existed has them inside the npz)
                raw = (z["raw"].astype(np.float32) if "raw" in z.files
                       else np.load(folder / "raw.npy", mmap_mode="r", allow_pickle=False))
            if (raw.dtype != np.float32 or raw.ndim != 2 or raw.shape[0] != len(ids)
                    or raw.shape[1] != int(meta["dim"])):
                raise ValueError(f"raw vectors {raw.dtype} {raw.shape} for {len(ids)} ids")
        except (OSError, ValueError, KeyError, EOFError) as e:
            log.warning("%s: unreadable similarity index (%s); it will be rebuilt", npz, e)
            return None
        idx = cls(int(meta["dim"]), centre=bool(meta["centre"]),
                  exact_max=int(meta.get("exact_max", EXACT_MAX)),
                  pq_min=int(meta.get("pq_min", PQ_MIN)), key=meta.get("key", ""),
                  space=meta.get("space", ""))
        idx.path = folder
        idx._ids, idx._raw, idx._hashes = ids, raw, hashes
        idx._stamps = np.asarray(stamps, np.float64)
        idx._row = {int(i): r for r, i in enumerate(ids)}
        idx._mean = np.asarray(mean, np.float32)
        idx.kind, idx.nlist, idx.nprobe = meta["kind"], int(meta["nlist"]), int(meta["nprobe"])
        idx._n_built = int(meta["n_built"])
        idx.measured_recall = meta.get("measured_recall")
        try:
            index = faiss.read_index(str(folder / "index.faiss"))
            if index.ntotal != len(ids) or index.d != idx.dim:
                raise ValueError(f"{index.ntotal} vectors of {index.d} dims, sidecar {len(ids)}")
            if idx.kind != "flat":
                faiss.extract_index_ivf(index).nprobe = idx.nprobe
            idx._index = index
        except (RuntimeError, ValueError) as e:
            log.warning("%s: FAISS index unusable (%s); rebuilding from the sidecar", folder, e)
            idx._index = None
        return idx


def open_index(library, analyzer_id: str, version: int, params_hash: str, *,
               dim: int = 100, centre: bool = True) -> tuple[SimilarityIndex, SyncReport]:
    """The library's similarity index (``<library>/similarity``), loaded if saved, synced with
    the catalogue and saved when it changed."""
    folder = Path(library.root) / INDEX_DIR
    idx = SimilarityIndex.load(folder)
    if idx is None or idx.centre != centre:
        idx = SimilarityIndex(dim, centre=centre)
    idx.path = folder
    rep = idx.sync(library, analyzer_id, version, params_hash)
    if not (folder / "index.npz").is_file() and len(idx):
        idx.save()
    return idx, rep
