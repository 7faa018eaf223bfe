"""Keeping the similarity index in line with the catalogue: ``SimilarityIndex.sync``.

``sync(library, analyzer_id, version, params_hash)`` brings the index in line with the
catalogue (tracks with status 'ok' whose content has that embedding analysis 'done'),
reading only the results that are new or changed; it is cheap when nothing changed (one
SQL query), so callers run it on open and after each analysis run.

:class:`CatalogueSync` holds it: a base class of
:class:`workstation.library.index.SimilarityIndex`. :class:`SyncReport` says what a sync changed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

log = logging.getLogger(__name__)


@dataclass
class SyncReport:
    """What ``SimilarityIndex.sync`` changed (track ids)."""

    added: list[int] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    rebuilt: bool = False
    reason: str = ""

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.updated or self.rebuilt)


class CatalogueSync:
    """The catalogue side of :class:`~workstation.library.index.SimilarityIndex`, one of its
    base classes: ``sync`` reads and changes the index through its rows (``_ids``,
    ``_hashes``, ``_stamps``, ``_row``) and its ``add``, ``remove``, ``clear`` and ``save``."""

    # ------------------------------------------------------------------ catalogue sync

    def sync(self, library, analyzer_id: str, version: int, params_hash: str) -> SyncReport:
        """Bring the index in line with the catalogue: every track with status 'ok' whose
        content has the (analyzer_id, version, params_hash) analysis 'done'. Reads only new or
        changed results; a different key or vector space empties the index first (rebuild).
        Saves the index when it was loaded from / saved to a folder and something changed."""
        rep = SyncReport()
        key = f"{analyzer_id}/v{int(version)}/{params_hash}"
        if key != self.key:
            if len(self):
                rep.rebuilt, rep.reason = True, f"embedding changed from {self.key or '?'} to {key}"
                log.info("similarity index: %s; rebuilding", rep.reason)
            self.clear()
            self.key = key
        rows = library._conn().execute(
            "SELECT t.id, t.content_hash, a.updated_at FROM tracks t JOIN analyses a "
            "ON a.content_hash = t.content_hash WHERE t.status = 'ok' AND a.analyzer_id = ? "
            "AND a.version = ? AND a.params_hash = ? AND a.status = 'done'",
            (analyzer_id, int(version), params_hash)).fetchall()
        want = {int(r[0]): (str(r[1]), float(r[2])) for r in rows}
        gone = [int(i) for i in self._ids if int(i) not in want]
        new, changed = [], []
        for tid, (h, stamp) in want.items():
            r = self._row.get(tid)
            if r is None:
                new.append(tid)
            elif self._hashes[r] != h or self._stamps[r] != stamp:
                changed.append(tid)
        if gone:
            self.remove(gone)
        add_ids, add_vecs, add_hashes, add_stamps = [], [], [], []
        cache: dict[str, np.ndarray | None] = {}
        for tid in new + changed:
            h, stamp = want[tid]
            if self._skipped.get(tid) == (h, stamp):
                continue
            if h not in cache:
                res = library.store.load(h, analyzer_id, int(version), params_hash)
                vec = None
                if res is None or not hasattr(res, "vector"):
                    log.warning("similarity index: the %s result of %s is unreadable; skipped", key, h)
                else:
                    vec = np.asarray(res.vector, np.float32).reshape(-1)
                    space = str(getattr(res, "space", ""))
                    mismatch = (self.space and space != self.space) or vec.shape[0] != self.dim
                    newer = len(self) == 0 or stamp > float(self._stamps.max())
                    if mismatch and (self._resetting or not newer):
                        # a stray older result of another space (or already reset once in
                        # this sync): the newest results define the space
                        log.warning("similarity index: result %s is in space %s (%d dims), the "
                                    "index in %s (%d dims); skipped", h, space, vec.shape[0],
                                    self.space, self.dim)
                        vec = None
                        self._skipped[tid] = (h, stamp)
                    elif mismatch:
                        had = len(self) > 0 or rep.rebuilt
                        why = (f"vector space changed from {self.space or '?'} ({self.dim} dims) "
                               f"to {space} ({vec.shape[0]} dims)")
                        self._reset(vec.shape[0], space)
                        self._resetting = True
                        try:
                            out = self.sync(library, analyzer_id, version, params_hash)
                        finally:
                            self._resetting = False
                        out.rebuilt = out.rebuilt or had
                        out.reason = "; ".join(r for r in (rep.reason, why) if r)
                        return out
                    else:
                        self.space = space
                cache[h] = vec
            if cache[h] is None:
                continue
            add_ids.append(tid)
            add_vecs.append(cache[h])
            add_hashes.append(h)
            add_stamps.append(stamp)
        if add_ids:
            self.add(add_ids, np.stack(add_vecs), add_hashes, add_stamps)
        rep.removed = gone
        rep.added = [i for i in add_ids if i in set(new)]
        rep.updated = [i for i in add_ids if i in set(changed)]
        if rep.changed and self.path is not None:
            self.save()
        return rep

    def _reset(self, dim: int, space: str) -> None:
        self.dim = int(dim)
        self.space = space
        self._ids = np.zeros(0, np.int64)
        self._raw = np.zeros((0, self.dim), np.float32)
        self._hashes, self._stamps, self._row = [], np.zeros(0), {}
        self._mean = np.zeros(self.dim, np.float32)
        self._index = None
        self._n_built = 0
