"""What a training corpus holds: :class:`CorpusSpec`, its hash and cache folder, item seeds.

Equal specs render equal corpora; ``spec_hash`` (which includes ``CORPUS_VERSION``) names
the default cache folder (:func:`default_dir`). Also the kinds of item (``KINDS``), the
soundfonts by short name (``SOUNDFONTS``) and :class:`CorpusError`. The corpus as a whole is
described in :mod:`workstation.training.corpus`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

from workstation.core import constants as C
from workstation.core.errors import WorkstationError
from workstation.training import demo_render
from workstation.training.augment import AugmentProbs

#: Bump when a change alters what a given spec renders (it is part of the spec hash).
CORPUS_VERSION: int = 1

KINDS: tuple[str, ...] = ("mono", "poly", "full", "score")

#: Soundfonts by short name: candidate paths, first existing wins.
SOUNDFONTS: dict[str, tuple[Path, ...]] = {
    "timgm6mb": (demo_render.BUNDLED_SF2,),
    "fluidr3": (demo_render.SYSTEM_SF2,),
    "musescore": (Path("/usr/share/sounds/sf3/MuseScore_General.sf3"),
                  Path("/usr/share/sounds/sf3/MuseScore_General_Lite.sf3"),
                  Path("/usr/share/sounds/sf2/MuseScore_General.sf2")),
}


class CorpusError(WorkstationError):
    """A corpus folder cannot be built or read (another spec, corrupt item, ...)."""

@dataclass(frozen=True)
class CorpusSpec:
    """What a corpus holds. Equal specs render equal corpora; ``spec_hash`` names the cache folder.

    kinds: (kind, weight) pairs over KINDS; soundfonts: short names of SOUNDFONTS or paths;
    duration_s: item length range in seconds; p_vibrato / p_glissando / p_bends: per-item
    probabilities of each melodic expression; p_mono_drums: share of mono items with drums;
    melody_programs: GM programs the mono line / band melody is drawn from (empty: all of
    _LINE_PROGRAMS; unknown programs get the range 48-84).
    """

    n_items: int = 200
    seed: int = 0
    duration_s: tuple[float, float] = (10.0, 20.0)
    kinds: tuple[tuple[str, float], ...] = (("mono", 0.3), ("poly", 0.25), ("full", 0.3), ("score", 0.15))
    soundfonts: tuple[str, ...] = ("timgm6mb", "fluidr3", "musescore")
    p_vibrato: float = 0.5
    p_glissando: float = 0.35
    p_bends: float = 0.4
    p_mono_drums: float = 0.2
    melody_programs: tuple[int, ...] = ()
    augment: AugmentProbs = AugmentProbs()
    sr: int = C.SAMPLE_RATE
    hop_length: int = C.HOP_LENGTH

    def __post_init__(self):
        for k, w in self.kinds:
            if k not in KINDS:
                raise ValueError(f"unknown corpus kind {k!r}; choose from {KINDS}")
            if w < 0:
                raise ValueError(f"kind weight must be >= 0, got {k}={w}")
        if not self.kinds or sum(w for _, w in self.kinds) <= 0:
            raise ValueError("at least one kind needs a positive weight")
        if not self.soundfonts:
            raise ValueError("name at least one soundfont")
        lo, hi = self.duration_s
        if not 6.0 <= lo <= hi:
            raise ValueError(f"duration range must satisfy 6 <= min <= max, got {self.duration_s}")

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["version"] = CORPUS_VERSION
        return d

    @classmethod
    def from_dict(cls, d: Mapping) -> "CorpusSpec":
        d = dict(d)
        d.pop("version", None)
        aug = d.pop("augment", {}) or {}
        aug = AugmentProbs(**{k: tuple(v) if isinstance(v, list) else v for k, v in aug.items()})
        d["duration_s"] = tuple(d.get("duration_s", (10.0, 20.0)))
        d["kinds"] = tuple((str(k), float(w)) for k, w in d.get("kinds", ()))
        d["soundfonts"] = tuple(d.get("soundfonts", ()))
        d["melody_programs"] = tuple(int(p) for p in d.get("melody_programs", ()))
        return cls(augment=aug, **d)

    def spec_hash(self) -> str:
        """12 hex digits naming this spec (and CORPUS_VERSION)."""
        blob = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:12]


def item_seed(corpus_seed: int, index: int) -> int:
    """The seed of item ``index`` of a corpus seeded with ``corpus_seed`` (independent streams)."""
    return int(np.random.SeedSequence([int(corpus_seed), int(index)]).generate_state(1)[0])


def default_dir(spec: CorpusSpec) -> Path:
    """``<user cache>/workstation/corpus/<spec-hash>`` (platformdirs)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("workstation")) / "corpus" / spec.spec_hash()
