"""Search by similarity: similar tracks with explanations, filters, playlists, a 2-D map.

The FAISS index (``workstation.library.index``) holds one vector per track of the
``embedding`` analyzer's current version; this module adds what needs the other analyses:
filters on key, tempo, duration, tags and folder, an explanation per result (how close in
timbre, harmony/key, rhythm/tempo and tags), region and multi-seed queries, and playlists.

    search = SimilaritySearch(library)            # loads / syncs the index
    results = search.similar(track_id, k=10, filters=Filters(tempo_bpm=(90, 130)))
    results = search.similar(Region(track_id, 30.0, 45.0))
    results = search.similar([id1, id2, id3])      # several seeds
    items = search.playlist([seed], length=20, mode="walk")
    items = search.path(track_a, track_b, length=12)
    ids, xy = search.map_2d()

A query never returns a seed or a duplicate of one (same content hash), and never two
tracks with the same content. Scores are cosines of centred, normalised vectors in [-1, 1].
Call ``sync()`` after an analysis run (cheap when nothing changed) or rely on ``similar``
etc., which sync first when ``auto_sync`` is on (the default).
"""

from __future__ import annotations

import functools
import logging
import math
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from workstation.analysis.jobs import AnalyzerSpec
from workstation.analysis.results import load_results
# Region and SimilarityError are imported from here by the GUI as well
from workstation.analysis.similarity_types import (TAG_THRESHOLD, Filters, Region, Seed, SimilarityError,
                                                   SimilarTrack, TrackMeta, key_relation, tempo_closeness)
from workstation.core import features as feats
from workstation.core.types import Embedding
from workstation.core.units import key_label
from workstation.library.index import (SimilarityIndex,  # noqa: F401 (re-exported for the GUI)
                                       open_index)
from workstation.library.index_sync import SyncReport

log = logging.getLogger(__name__)

#: Weight of the seed in a smooth walk's step score (the rest: the current track).
WALK_SEED_WEIGHT = 0.3


def _locked(fn):
    """Serialise calls on one SimilaritySearch (a GUI may query from a worker thread while
    another syncs after an analysis run)."""
    @functools.wraps(fn)
    def wrapper(self, *args, **kwargs):
        with self._lock:
            return fn(self, *args, **kwargs)
    return wrapper


class SimilaritySearch:
    """Similarity queries over a library (see the module docstring).

    embedding: the analyzer spec whose vectors are indexed (default the built-in
    ``embedding``); centre: subtract the collection mean before normalising. Thread-safe
    (calls on one instance are serialised)."""

    def __init__(self, library, *, embedding: AnalyzerSpec = AnalyzerSpec("embedding"),
                 centre: bool = True, auto_sync: bool = True):
        self.library = library
        self.spec = embedding
        a = embedding.build()
        self.key = a.result_key
        self.auto_sync = auto_sync
        self._lock = threading.RLock()
        self._meta: dict[int, TrackMeta] = {}
        self._meta_specs = [AnalyzerSpec("key"), AnalyzerSpec("beats")]
        try:
            from workstation.analysis.base import registry
            if "tags" in registry():
                self._meta_specs.append(AnalyzerSpec("tags"))
        except KeyError:  # pragma: no cover
            pass
        self.index, self.last_sync = open_index(library, *self.key, dim=feats.DIM, centre=centre)

    # ------------------------------------------------------------------ index upkeep

    @_locked
    def sync(self) -> SyncReport:
        """Bring the index in line with the catalogue (added, removed, changed tracks; a new
        embedding version rebuilds it). Cheap when nothing changed."""
        rep = self.index.sync(self.library, *self.key)
        for tid in rep.added + rep.removed + rep.updated:
            self._meta.pop(tid, None)
        if rep.rebuilt:
            self._meta.clear()
        self.last_sync = rep
        return rep

    @_locked
    def forget_meta(self, track_ids=None) -> None:
        """Drop the cached catalogue fields / key / tempo / tags of some tracks (all with
        None), e.g. after their hand-given tags changed."""
        if track_ids is None:
            self._meta.clear()
        for tid in track_ids or ():
            self._meta.pop(int(tid), None)

    def _auto(self) -> None:
        if self.auto_sync:
            self.sync()

    # ------------------------------------------------------------------ track data

    @_locked
    def meta(self, track_id: int) -> TrackMeta:
        """Catalogue fields and key / tempo / tags of a track (cached)."""
        tid = int(track_id)
        m = self._meta.get(tid)
        if m is None:
            t = self.library.track(tid)
            res = load_results(self.library, t, self._meta_specs) if t.content_hash else {}
            key, beats, tags = res.get("key"), res.get("beats"), res.get("tags")
            labels = set()
            if tags is not None:
                labels = {str(lab).lower() for lab, s in zip(tags.labels, np.asarray(tags.scores))
                          if s >= TAG_THRESHOLD}
            if t.genre:
                labels |= {g.strip().lower() for g in str(t.genre).replace(";", ",").split(",")
                           if g.strip()}
            labels |= {tag for _, tag in self.library.user_tags(tid)}   # hand-given tags
            m = TrackMeta(
                track_id=tid, path=t.path, content_hash=t.content_hash or "",
                title=t.title or Path(t.path).stem, artist=t.artist or "", duration_s=t.duration_s,
                key=key_label(key.tonic_pc, key.mode) if key is not None else None,
                tonic_pc=int(key.tonic_pc) if key is not None else None,
                mode=str(key.mode) if key is not None else None,
                tempo_bpm=float(beats.tempo_bpm) if beats is not None and beats.tempo_bpm > 0 else None,
                tags=frozenset(labels))
            self._meta[tid] = m
        return m

    def embedding(self, track_id: int) -> Embedding:
        """The stored embedding result of a track (with its segment vectors)."""
        t = self.library.track(int(track_id))
        res = self.library.store.load(t.content_hash, *self.key) if t.content_hash else None
        if res is None:
            raise SimilarityError(f"{t.path}: no embedding yet (analyse the track first)")
        return res

    def _seed_vector(self, seed: Seed) -> np.ndarray:
        """The searched-space vector of a seed [shape=(dim,)]."""
        if isinstance(seed, Region):
            emb = self.embedding(seed.track_id)
            return self.index.transform(emb.region_vector(seed.start_s, seed.end_s))
        tid = int(seed)
        if tid in self.index:
            return self.index.vector(tid)
        t = self.library.track(tid)
        raise SimilarityError(f"{t.path}: not in the similarity index (no embedding yet: "
                              "analyse the track first)")

    def _seed_ids(self, seeds: Sequence[Seed]) -> set[int]:
        """Seeds' track ids and every track sharing their content."""
        out: set[int] = set()
        for s in seeds:
            tid = s.track_id if isinstance(s, Region) else int(s)
            out.add(tid)
            h = self.library.track(tid).content_hash
            if h:
                out.update(self.index.ids_with_hash(h))
        return out

    # ------------------------------------------------------------------ queries

    @_locked
    def similar(self, seeds: Seed | Sequence[Seed], k: int = 10, *,
                filters: Filters | None = None, explain: bool = True,
                exclude_ids: Sequence[int] = ()) -> list[SimilarTrack]:
        """The k tracks most similar to a track id, a ``Region``, or several seeds (ranked by
        the mean cosine over the seeds), best first; never a seed, a duplicate of a seed, or
        two tracks with the same content; only tracks passing ``filters``."""
        self._auto()
        seeds = [seeds] if isinstance(seeds, (int, np.integer, Region)) else list(seeds)
        if not seeds:
            raise SimilarityError("a similarity query needs at least one seed")
        qs = np.stack([self._seed_vector(s) for s in seeds])
        exclude = self._seed_ids(seeds) | {int(i) for i in exclude_ids}
        seed_hashes = {self.index.content_hash(i) for i in exclude if i in self.index}
        hits = self._search(qs, k, exclude, seed_hashes, filters)
        out = []
        for tid, score in hits:
            m = self.meta(tid)
            expl = self.explain(seeds, tid, query_vectors=qs) if explain else {}
            out.append(SimilarTrack(tid, m.path, m.title, m.artist, m.duration_s, score, expl))
        return out

    def _search(self, qs: np.ndarray, k: int, exclude: set[int], seen_hashes: set[str],
                filters: Filters | None) -> list[tuple[int, float]]:
        """(track id, mean cosine) of the best k, over-fetching until filters and
        de-duplication leave k (or the collection is exhausted)."""
        q = qs.sum(axis=0)
        q = q / max(float(np.linalg.norm(q)), 1e-12)
        n = len(self.index)
        fetch = min(n, max(4 * k, k + len(exclude) + 8))
        seen = set(seen_hashes)
        while True:
            ids, _ = self.index.search(q, fetch, exclude_ids=exclude, transformed=True)
            ids = [int(i) for i in ids if i >= 0]
            hits: list[int] = []
            seen = set(seen_hashes)
            for tid in ids:
                h = self.index.content_hash(tid)
                if h and h in seen:
                    continue
                if filters and not filters.accepts(self.meta(tid)):
                    continue
                seen.add(h)
                hits.append(tid)
                if len(hits) == k:
                    break
            if len(hits) == k or fetch >= n:
                break
            fetch = min(n, fetch * 4)
        if not hits:
            return []
        sims = np.stack([self.index.vector(t) for t in hits]) @ qs.T  # (n_hits, n_seeds)
        return [(t, float(s)) for t, s in zip(hits, sims.mean(axis=1))]

    @_locked
    def explain(self, seeds: Seed | Sequence[Seed], track_id: int, *,
                query_vectors: np.ndarray | None = None) -> dict:
        """Why ``track_id`` matches the seeds: a dict with

        - ``overall``: cosine of the whole vectors (mean over seeds);
        - ``timbre``, ``spectral``, ``harmony``, ``rhythm``, ``loudness``: cosines of the
          centred feature groups of the DSP embedding (absent for other spaces);
        - ``key``: key relation ('same', 'relative', 'parallel', 'dominant', 'subdominant',
          'other'), ``key_closeness`` in [0, 1], ``keys`` (seed's, result's);
        - ``tempo_closeness`` in [0, 1] (half/double tempo count as close), ``tempi_bpm``;
        - ``tags``: Jaccard overlap in [0, 1] of the tag sets, ``shared_tags``;
        - ``summary``: one line naming the closest aspects.
        None where an analysis is missing. With several seeds, the values are means (key and
        tempo relations are given against the first seed)."""
        seeds = [seeds] if isinstance(seeds, (int, np.integer, Region)) else list(seeds)
        qs = query_vectors if query_vectors is not None else np.stack(
            [self._seed_vector(s) for s in seeds])
        r = self.index.vector(track_id)
        out: dict = {"overall": round(float((qs @ r).mean()), 4)}
        if self.index.space == feats.SPACE and r.shape[0] == feats.DIM:
            start = 0
            for g, dim in feats.GROUPS.items():
                a, b = qs[:, start:start + dim], r[start:start + dim]
                num = a @ b
                den = np.linalg.norm(a, axis=1) * np.linalg.norm(b) + 1e-12
                out[g] = round(float((num / den).mean()), 4)
                start += dim
        first = seeds[0]
        sm = self.meta(first.track_id if isinstance(first, Region) else int(first))
        rm = self.meta(track_id)
        rel, kc = key_relation(sm, rm)
        out.update(key=rel, key_closeness=kc, keys=(sm.key, rm.key),
                   tempo_closeness=tempo_closeness(sm.tempo_bpm, rm.tempo_bpm),
                   tempi_bpm=(sm.tempo_bpm, rm.tempo_bpm))
        if sm.tags and rm.tags:
            out["tags"] = round(len(sm.tags & rm.tags) / len(sm.tags | rm.tags), 3)
            out["shared_tags"] = sorted(sm.tags & rm.tags)
        else:
            out["tags"], out["shared_tags"] = None, []
        out["summary"] = _summary(out)
        return out

    # ------------------------------------------------------------------ playlists

    @_locked
    def playlist(self, seeds: Seed | Sequence[Seed], length: int = 20, *,
                 mode: str = "nearest", filters: Filters | None = None) -> list[SimilarTrack]:
        """A playlist starting with the seed tracks (each once), then:

        - ``nearest``: the most similar tracks, nearest first (several seeds: by mean cosine);
        - ``walk``: a smooth walk: each next track is the most similar unvisited one to the
          current track, pulled back towards the seeds (weight ``WALK_SEED_WEIGHT``), so
          neighbours are close but the list drifts rather than circling.
        No track and no content appears twice; at most ``length`` entries (fewer when the
        collection is smaller). Entries after the seeds carry ``score`` = cosine with the
        seeds (nearest) or with the previous track (walk)."""
        self._auto()
        seeds = [seeds] if isinstance(seeds, (int, np.integer, Region)) else list(seeds)
        head = self._seed_entries(seeds)
        if length <= len(head):
            return head[:length]
        if mode == "nearest":
            return head + self.similar(seeds, length - len(head), filters=filters)
        if mode != "walk":
            raise SimilarityError(f"unknown playlist mode {mode!r} (nearest or walk)")
        qs = np.stack([self._seed_vector(s) for s in seeds])
        seed_q = qs.mean(axis=0)
        used = self._seed_ids(seeds)
        used_hashes = {self.index.content_hash(i) for i in used if i in self.index}
        out = list(head)
        cur = qs[-1]
        while len(out) < length:
            q = (1 - WALK_SEED_WEIGHT) * cur + WALK_SEED_WEIGHT * seed_q
            hits = self._search(q[None, :], 1, used, used_hashes, filters)
            if not hits:
                break
            tid = hits[0][0]
            nxt = self.index.vector(tid)
            m = self.meta(tid)
            out.append(SimilarTrack(tid, m.path, m.title, m.artist, m.duration_s,
                                    float(nxt @ cur), self.explain(seeds, tid, query_vectors=qs)))
            used.add(tid)
            used.update(self.index.ids_with_hash(m.content_hash))
            used_hashes.add(m.content_hash)
            cur = nxt
        return out

    @_locked
    def path(self, track_a: int, track_b: int, length: int = 10, *,
             filters: Filters | None = None) -> list[SimilarTrack]:
        """A path from A to B through the collection: A first, B last, and between them the
        tracks nearest to evenly spaced points on the arc from A's vector to B's (each used
        once, never a duplicate of A, B or another entry), in order of their progress from A
        to B. ``length`` >= 2 counts A and B; fewer when the collection runs out."""
        self._auto()
        if length < 2:
            raise SimilarityError("a path needs a length of at least 2 (A and B)")
        a, b = int(track_a), int(track_b)
        va, vb = self._seed_vector(a), self._seed_vector(b)
        used = self._seed_ids([a, b])
        used_hashes = {self.index.content_hash(i) for i in used if i in self.index}
        start, end = self._seed_entries([a])[0], self._seed_entries([b])[0]
        middle: list[SimilarTrack] = []
        omega = math.acos(float(np.clip(va @ vb, -1.0, 1.0)))
        for i in range(1, length - 1):
            lam = i / (length - 1)
            if omega < 1e-4:
                q = va
            else:  # spherical interpolation
                q = (math.sin((1 - lam) * omega) * va + math.sin(lam * omega) * vb) / math.sin(omega)
            hits = self._search(q[None, :], 1, used, used_hashes, filters)
            if not hits:
                break
            tid = hits[0][0]
            m = self.meta(tid)
            v = self.index.vector(tid)
            middle.append(SimilarTrack(tid, m.path, m.title, m.artist, m.duration_s,
                                       float(v @ q), self.explain([a, b], tid)))
            used.add(tid)
            used.update(self.index.ids_with_hash(m.content_hash))
            used_hashes.add(m.content_hash)
        # order the chosen tracks by their progress from A to B (angle to A over the sum of
        # the angles to A and B), so the list moves steadily even where the greedy picks for
        # neighbouring points came out of order
        def progress(item: SimilarTrack) -> float:
            v = self.index.vector(item.track_id)
            da = math.acos(float(np.clip(v @ va, -1.0, 1.0)))
            db = math.acos(float(np.clip(v @ vb, -1.0, 1.0)))
            return da / (da + db) if da + db > 0 else 0.5

        middle.sort(key=progress)
        end.score = float(vb @ va)
        return [start, *middle, end]

    def _seed_entries(self, seeds: Sequence[Seed]) -> list[SimilarTrack]:
        out, seen = [], set()
        for s in seeds:
            tid = s.track_id if isinstance(s, Region) else int(s)
            m = self.meta(tid)
            if tid in seen or (m.content_hash and m.content_hash in seen):
                continue
            seen.update({tid, m.content_hash})
            out.append(SimilarTrack(tid, m.path, m.title, m.artist, m.duration_s, 1.0,
                                    {"summary": "seed"}))
        return out

    # ------------------------------------------------------------------ map

    @_locked
    def map_2d(self) -> tuple[np.ndarray, np.ndarray]:
        """2-D coordinates of every indexed track for a collection map: (track_ids
        [shape=(n,), int64], xy [shape=(n, 2), float32]): the first two principal components
        of the centred, normalised vectors (the searched space), scaled so the first axis
        spans about [-1, 1]. Duplicates get the same point. Deterministic (the sign of each
        axis is fixed by its largest loading)."""
        self._auto()
        ids, x = self.index.vectors()
        if len(ids) == 0:
            return ids, np.zeros((0, 2), np.float32)
        x = x.astype(np.float64) - x.mean(axis=0)
        if len(ids) < 3:
            xy = np.zeros((len(ids), 2))
            if len(ids) == 2:
                xy[:, 0] = [-1.0, 1.0]
            return ids, xy.astype(np.float32)
        _, _, vt = np.linalg.svd(x, full_matrices=False)
        comps = vt[:2]
        comps *= np.sign(comps[np.arange(len(comps)), np.abs(comps).argmax(axis=1)])[:, None]
        xy = x @ comps.T
        if xy.shape[1] < 2:
            xy = np.column_stack([xy, np.zeros(len(xy))])
        scale = np.abs(xy[:, 0]).max()
        return ids, (xy / (scale if scale > 0 else 1.0)).astype(np.float32)


def _summary(e: dict) -> str:
    """One readable line naming the closest aspects (``similarity_reasons.summary``)."""
    from .similarity_reasons import summary
    return summary(e)
