"""The ``Analyzer`` protocol, the feature chunks analyzers consume, and the registry.

How an analyzer works
---------------------
The pipeline decodes a track once and walks it in chunks (about a minute of
valid frames plus discarded borders). For each chunk it computes the shared
front end lazily and at most once (``FeatureChunk.hcqt()``, ``.stft_mag()``,
``.mel()``), and hands the same chunk to every analyzer. An analyzer's ``run``
is a generator: it loops over the chunks it is given, **yields its progress in
[0, 1] once after each chunk**, and finally ``return``s a ``core`` result::

    class Loudness(Analyzer):
        id = "loudness"; version = 1; result_type = LoudnessCurve
        features = ("stft",)

        def run(self, chunks, track):
            parts = []
            for chunk in chunks:
                parts.append(chunk.stft_mag().mean(axis=0))
                yield chunk.progress
            return LoudnessCurve(...)

An analyzer that needs another analyzer's result lists its id in ``requires``;
it runs after it and reads ``track.results[dep_id]``. If it lists no
``features`` it is given an empty chunk stream.

Adding an analyzer is one file in ``workstation/analysis/analyzers/`` and one
line in ``workstation/analysis/analyzers/__init__.py``.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generator, Iterable, Iterator, NamedTuple

import numpy as np

from workstation.core import constants as C
from workstation.core.types import Result


@dataclass
class TrackInfo:
    """What an analyzer may know about the track besides the chunks.

    n_samples / duration_s of the resampled mono signal at ``sr``; n_frames of the
    analysis frame grid (``C.n_frames_for(n_samples)``); results of the analyzers
    listed in ``requires``; device name the pipeline runs on.
    """

    path: str
    sr: int
    n_samples: int
    n_frames: int
    results: dict[str, Result] = field(default_factory=dict)
    device: str = "cpu"

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.sr

    def times_s(self) -> np.ndarray:
        """Frame centre times of the whole track in seconds [shape=(n_frames,)]."""
        return np.arange(self.n_frames) * (C.HOP_LENGTH / self.sr)


class FeatureChunk:
    """One chunk of a track with its shared features, computed lazily once.

    ``audio`` [shape=(n,)] float32 mono at ``sr`` covers the samples from
    ``frame_start * hop - pad`` to ``(frame_start + n_frames) * hop + pad``
    (zero outside the file). Feature methods return only the ``n_frames`` valid
    frames (borders discarded), time on the last axis.
    """

    def __init__(self, *, index: int, frame_start: int, n_frames: int, audio: np.ndarray,
                 pad: int, progress: float, frontend: Any, sr: int = C.SAMPLE_RATE,
                 is_last: bool = False):
        self.index = index
        self.frame_start = frame_start
        self.n_frames = n_frames
        self.audio = audio
        self.pad = pad
        self.progress = progress
        self.sr = sr
        self.is_last = is_last
        self._frontend = frontend
        self._cache: dict[str, Any] = {}
        self._lock = threading.Lock()  # analyzers may run on parallel threads: compute once

    def _feature(self, name: str):
        with self._lock:
            return self._feature_locked(name)

    def _feature_locked(self, name: str):
        if name not in self._cache:
            full = getattr(self._frontend, name)(self.audio)
            # The front end frames the padded segment with centred frames: frame j of the
            # segment is centred on sample j * hop, i.e. global frame frame_start - pad/hop + j.
            first = self.pad // C.HOP_LENGTH
            self._cache[name] = full[..., first:first + self.n_frames]
        return self._cache[name]

    def hcqt(self) -> np.ndarray:
        """Harmonic CQT magnitude [shape=(6, 360, n_frames), float32]: harmonics ``C.HARMONICS``,
        bins from ``C.FMIN_HZ * h`` at ``C.BINS_PER_OCTAVE`` per octave, linear amplitude."""
        return self._feature("hcqt")

    def stft_mag(self) -> np.ndarray:
        """STFT magnitude [shape=(C.N_FFT // 2 + 1, n_frames), float32], Hann window."""
        return self._feature("stft_mag")

    def mel(self) -> np.ndarray:
        """Mel power spectrogram [shape=(C.N_MELS, n_frames), float32] (Slaney mel scale, 0 Hz..sr/2)."""
        return self._feature("mel")

    def frames(self, frame_length: int) -> np.ndarray:
        """Centred raw-audio frames [shape=(frame_length, n_frames), float32] for the valid frames.
        Needs ``pad >= frame_length // 2``."""
        half = frame_length // 2
        starts = self.pad - half + np.arange(self.n_frames) * C.HOP_LENGTH
        idx = starts[None, :] + np.arange(frame_length)[:, None]
        return self.audio[idx]

    def times_s(self) -> np.ndarray:
        """Centre times in seconds of the valid frames [shape=(n_frames,)]."""
        return (self.frame_start + np.arange(self.n_frames)) * (C.HOP_LENGTH / self.sr)



class ResultKey(NamedTuple):
    """What a stored result is keyed by, with the track's content hash: the analyzer id, its
    code version and the hash of its parameters (which covers the weights' sha256 of the
    models it runs). A tuple, so ``library.get_analysis(content_hash, *key)``."""

    analyzer_id: str
    version: int
    params_hash: str


class Analyzer:
    """Base class of every analyzer (see the module docstring for the contract).

    Class attributes: ``id`` (dotted, e.g. ``pitch.f0``), ``version`` (bump it when the
    output changes), ``result_type`` (a ``core.types`` class), ``features`` (front-end
    features used: any of ``hcqt``, ``stft_mag``, ``mel``, ``audio``), ``requires``
    (ids of analyzers whose results it reads), ``default_params``.
    """

    id: ClassVar[str] = ""
    version: ClassVar[int] = 1
    result_type: ClassVar[type] = Result
    features: ClassVar[tuple[str, ...]] = ()
    requires: ClassVar[tuple[str, ...]] = ()
    default_params: ClassVar[dict[str, Any]] = {}
    description: ClassVar[str] = ""

    def __init__(self, **params: Any):
        unknown = set(params) - set(self.default_params)
        if unknown:
            raise ValueError(f"{self.id}: unknown parameters {sorted(unknown)}")
        self.params: dict[str, Any] = {**self.default_params, **params}

    def models_used(self) -> tuple[str, ...]:
        """Manifest names of the learned models this analyzer runs with its parameters (the
        convention: ``params["model"]`` when ``params["method"] == "learned"``; analyzers with
        other learned methods override this)."""
        if self.params.get("method") == "learned" and "model" in self.params:
            return (str(self.params["model"]),)
        return ()

    @property
    def result_key(self) -> ResultKey:
        """This analyzer's ``ResultKey`` (computed once per instance: parameters do not
        change after construction)."""
        key = self.__dict__.get("_result_key")
        if key is None:
            key = self.__dict__["_result_key"] = ResultKey(self.id, self.version, self.params_hash())
        return key

    def params_hash(self) -> str:
        """Short stable hash of the parameters (part of the result cache key). With a learned
        model it also covers the sha256 of the model's weights in the manifest, so that a
        retrained model never has its results served from an older model's cache."""
        key: dict[str, Any] = dict(self.params)
        used = self.models_used()
        if used:
            from workstation.inference.manifest import weights_digest
            key["_weights_sha256"] = {name: weights_digest(name) for name in used}
        blob = json.dumps(key, sort_keys=True, default=str).encode()
        return hashlib.sha1(blob).hexdigest()[:12]

    def run(self, chunks: Iterable[FeatureChunk], track: TrackInfo) -> Generator[float, None, Result]:
        raise NotImplementedError
        yield 0.0  # pragma: no cover

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id} v{self.version} {self.params}>"


_REGISTRY: dict[str, type[Analyzer]] = {}


def register(cls: type[Analyzer]) -> type[Analyzer]:
    """Class decorator: make an analyzer available by its id."""
    if not cls.id:
        raise ValueError(f"{cls.__name__} has no id")
    if cls.id in _REGISTRY and _REGISTRY[cls.id] is not cls:
        raise ValueError(f"analyzer id {cls.id!r} registered twice")
    _REGISTRY[cls.id] = cls
    return cls


def registry() -> dict[str, type[Analyzer]]:
    """All registered analyzers by id (importing the built-in ones first)."""
    from workstation.analysis import analyzers  # noqa: F401  (registers the built-ins)
    return dict(_REGISTRY)


def get_analyzer(analyzer_id: str, **params: Any) -> Analyzer:
    """An analyzer instance by id; raises ``KeyError`` with the known ids."""
    reg = registry()
    if analyzer_id not in reg:
        raise KeyError(f"unknown analyzer {analyzer_id!r}; known: {', '.join(sorted(reg))}")
    return reg[analyzer_id](**params)
