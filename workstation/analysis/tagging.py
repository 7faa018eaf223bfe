"""Few-shot tagging: tags a user gives a few tracks by hand, proposed for the rest of the
collection from the track embeddings (prototypical networks, Snell et al. 2017).

The hand-given tags live in the catalogue (``Library.add_user_tag`` / ``remove_user_tag`` /
``user_tags``). The vectors are those the similarity search uses: the ``embedding``
analyzer's (whatever space it has), centred on the collection mean and L2-normalised by the
similarity index (``workstation.library.index``), read without touching the result store
again when the index is in sync.

For each tag with at least ``min_examples`` tagged tracks that have a vector:

- the tag's prototype ``p`` is the mean of its tracks' vectors;
- the background prototype ``b`` is the mean of every other indexed track's vector (the
  collection without the tag's examples: in the centred space, close to the origin);
- a candidate ``x`` (an indexed track not carrying the tag) scores
  ``sigmoid((|x - b|^2 - |x - p|^2) / temperature)``: the probability of the tag against the
  background in a two-class prototypical network (squared Euclidean distances; the vectors are
  unit-norm, so this compares cosines to the prototypes, scaled by their lengths).

A track is proposed when its score is at least ``min_score`` (0.5: closer to the tag's
prototype than to the collection's). Proposals come best first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import NamedTuple, Sequence

import numpy as np

from workstation.analysis.jobs import AnalyzerSpec
from workstation.core.errors import WorkstationError

log = logging.getLogger(__name__)

#: Temperature of the prototype softmax (squared distances between unit vectors lie in [0, 4]).
TEMPERATURE = 0.25
#: Default lowest score of a proposal.
MIN_SCORE = 0.5


class TaggingError(WorkstationError):
    """Tags cannot be proposed (no embeddings yet, ...)."""


class TagProposal(NamedTuple):
    """A tag proposed for a track: ``score`` in [0, 1]; ``n_examples`` tracks carry the tag."""

    track_id: int
    tag: str
    score: float
    n_examples: int = 0


@dataclass
class Prototype:
    """A tag's prototype [shape=(dim,)] (mean of its examples' searched-space vectors) and the
    background prototype it is weighed against."""

    tag: str
    vector: np.ndarray
    background: np.ndarray
    examples: tuple[int, ...]


def prototype_scores(x: np.ndarray, proto: np.ndarray, background: np.ndarray, *,
                     temperature: float = TEMPERATURE) -> np.ndarray:
    """Scores in [0, 1] of vectors x [shape=(n, dim)] for a tag: sigmoid of the difference of
    the squared distances to the background and to the tag's prototype, over ``temperature``
    [shape=(n,)]."""
    x = np.asarray(x, dtype=np.float64)
    d_tag = ((x - proto) ** 2).sum(axis=1)
    d_bg = ((x - background) ** 2).sum(axis=1)
    z = np.clip((d_bg - d_tag) / float(temperature), -60.0, 60.0)
    return 1.0 / (1.0 + np.exp(-z))


def _vectors(library, embedding: AnalyzerSpec) -> tuple[np.ndarray, np.ndarray]:
    """(track ids [n], searched-space vectors [n, dim]) of every indexed track."""
    from workstation.library.index import open_index

    a = embedding.build()
    index, _ = open_index(library, *a.result_key)
    if len(index) == 0:
        raise TaggingError(f"{library.root}: no track has an embedding yet: analyse the collection "
                           "first ('workstation analyze DIR')")
    ids, vecs = index.vectors()
    return np.asarray(ids, dtype=np.int64), np.asarray(vecs, dtype=np.float64)


def prototypes(library, *, embedding: AnalyzerSpec = AnalyzerSpec("embedding"),
               min_examples: int = 1, tags: Sequence[str] | None = None) -> dict[str, Prototype]:
    """The prototype of every hand-given tag (or of ``tags``) with at least ``min_examples``
    tagged tracks that have an embedding."""
    return _prototypes(library, *_vectors(library, embedding), min_examples=min_examples, tags=tags)


def _prototypes(library, ids: np.ndarray, vecs: np.ndarray, *, min_examples: int,
                tags: Sequence[str] | None) -> dict[str, Prototype]:
    row = {int(t): i for i, t in enumerate(ids)}
    wanted = None if tags is None else {library.normalize_tag(t) for t in tags}
    by_tag: dict[str, list[int]] = {}
    for tid, tag in library.user_tags():
        if (wanted is None or tag in wanted) and tid in row:
            by_tag.setdefault(tag, []).append(tid)
    out: dict[str, Prototype] = {}
    for tag, examples in sorted(by_tag.items()):
        if len(examples) < max(1, int(min_examples)):
            continue
        pos = np.zeros(len(ids), bool)
        pos[[row[t] for t in examples]] = True
        bg = vecs[~pos].mean(axis=0) if (~pos).any() else np.zeros(vecs.shape[1])
        out[tag] = Prototype(tag, vecs[pos].mean(axis=0), bg, tuple(sorted(examples)))
    return out


def propose_tags(library, *, embedding: AnalyzerSpec = AnalyzerSpec("embedding"),
                 min_examples: int = 1, min_score: float = MIN_SCORE,
                 temperature: float = TEMPERATURE, tags: Sequence[str] | None = None,
                 limit_per_tag: int | None = None) -> list[TagProposal]:
    """Hand-given tags proposed for the tracks that do not carry them (see the module
    docstring): every (track, tag) scoring at least ``min_score``, best first (``limit_per_tag``
    keeps the best few per tag). Raises ``TaggingError`` when no track has an embedding."""
    ids, vecs = _vectors(library, embedding)
    protos = _prototypes(library, ids, vecs, min_examples=min_examples, tags=tags)
    if not protos:
        return []
    have: dict[str, set[int]] = {}
    for tid, tag in library.user_tags():
        have.setdefault(tag, set()).add(tid)
    out: list[TagProposal] = []
    for tag, p in protos.items():
        s = prototype_scores(vecs, p.vector, p.background, temperature=temperature)
        cand = [(float(sc), int(t)) for t, sc in zip(ids, s)
                if int(t) not in have.get(tag, ()) and sc >= min_score]
        cand.sort(key=lambda c: (-c[0], c[1]))
        if limit_per_tag is not None:
            cand = cand[:int(limit_per_tag)]
        out += [TagProposal(t, tag, sc, len(p.examples)) for sc, t in cand]
    out.sort(key=lambda r: (-r.score, r.tag, r.track_id))
    log.info("proposed %d tags for %d hand-given tags", len(out), len(protos))
    return out
