"""Evaluating the tag model: the DSP nearest-centroid baseline and the real recordings' tags.

:class:`CentroidBaseline` (fitted by :func:`fit_centroid_baseline` on the recipe's corpus)
scores the vocabulary of :mod:`workstation.training.train_tags` from the DSP embedding
statistics (:func:`dsp_statistics`). ``eval_items()`` maps the real recordings in
``../shared/evaldata`` to the vocabulary (for ``benchmarks/accuracy.py --tasks tags``; never
for training).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from workstation.core import constants as C
from workstation.training.train_tags import (DATA_VERSION, INSTRUMENT_TAGS, VOCABULARY, TagsConfig, _cache_dir,
                                             item_labels)


# ---------------------------------------------------------------------------------------------
# Baseline: nearest centroids of the DSP embedding statistics, fitted on the same corpus


def dsp_statistics(audio: np.ndarray, fe) -> np.ndarray:
    """The DSP embedding statistics (``core.features.TrackStatistics.vector``) of a mono signal
    at ``C.SAMPLE_RATE`` [shape=(feats.DIM,), float32]."""
    from workstation.core import features as feats

    st = feats.TrackStatistics()
    step = 60 * C.SAMPLE_RATE
    for a in range(0, max(1, len(audio)), step):   # a minute at a time (bounded memory)
        seg = audio[a:a + step]
        st.update(fe.mel(seg), fe.stft_mag(seg))
    return st.vector()


class CentroidBaseline:
    """Multi-label nearest-centroid tagger on the DSP statistics: per tag, the score of x is
    ``(cos(x, c_pos) - cos(x, c_neg) + 2) / 4`` in [0, 1], with the centroids of the training
    items that have / lack the tag (features z-scored on the training items)."""

    def __init__(self, x: np.ndarray, y: np.ndarray, labels=VOCABULARY):
        self.labels = list(labels)
        self.mu = x.mean(axis=0)
        self.sd = x.std(axis=0) + 1e-6
        z = self._z(x)
        pos = y >= 0.5
        self.c_pos = np.stack([self._unit(z[pos[:, k]].mean(axis=0)) if pos[:, k].any()
                               else np.zeros(z.shape[1]) for k in range(y.shape[1])])
        self.c_neg = np.stack([self._unit(z[~pos[:, k]].mean(axis=0)) if (~pos[:, k]).any()
                               else np.zeros(z.shape[1]) for k in range(y.shape[1])])

    @staticmethod
    def _unit(v):
        return v / max(float(np.linalg.norm(v)), 1e-12)

    def _z(self, x):
        z = (np.atleast_2d(x) - self.mu) / self.sd
        return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)

    def scores(self, x: np.ndarray) -> np.ndarray:
        """Scores [shape=(n_tags,)] of one statistics vector."""
        z = self._z(x)[0]
        return (self.c_pos @ z - self.c_neg @ z + 2.0) / 4.0


def fit_centroid_baseline(cfg: TagsConfig | None = None) -> CentroidBaseline:
    """The baseline fitted on the training items of the recipe's corpus (the held-out items
    excluded), item labels: an instrument tag when the family sounds in at least 5 % of the
    frames. Statistics cached under the recipe's cache folder."""
    from workstation.inference.frontend import FrontEnd
    from workstation.training.corpus import Corpus, build_corpus
    from workstation.training.corpus_spec import CorpusSpec, default_dir

    cfg = cfg or TagsConfig()
    spec = CorpusSpec(n_items=cfg.items, seed=cfg.corpus_seed, duration_s=tuple(cfg.duration_s))
    path = _cache_dir() / f"dsp_stats_v{DATA_VERSION}_{spec.spec_hash()}.npz"
    if path.is_file():
        with np.load(path) as z:
            x, y = z["x"], z["y"]
    else:
        cdir = default_dir(spec)
        build_corpus(cdir, spec, workers=cfg.workers)
        corpus, fe = Corpus(cdir), FrontEnd("cpu")
        xs, ys = [], []
        for i in range(len(corpus)):
            item = corpus[i]
            xs.append(dsp_statistics(item.audio, fe))
            act, tags = item_labels(item)
            ys.append(np.concatenate([(act.mean(axis=1) >= 0.05).astype(np.float32), tags]))
        x, y = np.stack(xs), np.stack(ys)
        from workstation.core.atomic import save_npz
        save_npz(path, x=x, y=y)
    n_train = max(1, len(x) - cfg.val_items)
    return CentroidBaseline(x[:n_train], y[:n_train])


# ---------------------------------------------------------------------------------------------
# Evaluation recordings (../shared/evaldata): what each one is, in the vocabulary


@dataclasses.dataclass
class TagItem:
    """One real recording for the tags table: ``positive`` tags it has, ``known`` tags whose
    presence or absence is known (the rest is not scored), ``group`` for the table rows."""

    name: str
    audio: Path
    group: str
    positive: frozenset
    known: frozenset
    channel: int | None = None


_ISOLATED = {"sms_flute": "pipe", "sms_oboe": "reed", "sms_trumpet": "brass",
             "sms_violin": "strings", "sms_soprano": "voice", "sms_organ": "organ",
             "sms_vibraphone": "chromatic percussion", "tinysol_Cb": "strings",
             "tinysol_Fl": "pipe"}
_GTZAN_DRUMS = {"disco": True, "hiphop": True, "metal": True, "pop": True, "reggae": True,
                "rock": True, "classical": False}
_GTZAN_GENRE = {"classical": "classical", "pop": "pop", "rock": "rock", "jazz": "jazz"}


def eval_items(root: Path | None = None) -> list[TagItem]:
    """The real recordings with instrument (and a few genre) labels mapped to ``VOCABULARY``
    (empty when the folder is absent). A one-instrument recording knows every instrument
    tag (its family positive, the others negative) and ``solo``."""
    from workstation.training.evaldata import DEFAULT_ROOT

    root = Path(root or DEFAULT_ROOT)
    inst = frozenset(INSTRUMENT_TAGS)
    out: list[TagItem] = []

    def solo(name, path, group, tag, channel=None):
        if path.is_file():
            out.append(TagItem(name, path, group, frozenset({tag, "solo"}), inst | {"solo"}, channel))

    iso = root / "mono_f0" / "isolated_notes"
    for p in sorted(iso.glob("*.wav")) if iso.is_dir() else ():
        for prefix, tag in _ISOLATED.items():
            if p.name.startswith(prefix):
                solo(p.stem, p, "isolated notes (TinySOL, SMS)", tag)
    mds = root / "tags_genre" / "mirdata_small"
    irmas = mds / "irmas_train_cla_0189__2.wav"
    if irmas.is_file():  # predominant clarinet over an unknown accompaniment
        out.append(TagItem("irmas clarinet", irmas, "IRMAS, Medley-solos, OpenMIC", frozenset({"reed"}),
                           frozenset({"reed"})))
    solo("medley-solos flute", mds / "medley_solos_db_validation-3_d07b1fc0.wav",
         "IRMAS, Medley-solos, OpenMIC", "pipe")
    om = mds / "openmic_000046_3840.ogg"
    if om.is_file():  # OpenMIC: clarinet relevance 0.17, flute 0, trumpet 0 (aggregated labels)
        out.append(TagItem("openmic 000046_3840", om, "IRMAS, Medley-solos, OpenMIC", frozenset(),
                           frozenset({"reed", "pipe", "brass"})))
    for p in sorted((root / "poly_notes" / "fmp_audiolabs_piano").glob("*.wav")):
        solo(p.stem[:40], p, "piano (FMP, madmom, MAESTRO, FMP C6 Chopin)", "piano")
    solo("madmom stereo_sample", root / "poly_notes" / "madmom_stereo_sample" / "stereo_sample.wav",
         "piano (FMP, madmom, MAESTRO, FMP C6 Chopin)", "piano")
    for p in sorted((root / "poly_notes" / "maestro_excerpt").glob("*.wav")):
        solo("maestro excerpt", p, "piano (FMP, madmom, MAESTRO, FMP C6 Chopin)", "piano")
    solo("fmp c6 chopin", root / "beats" / "fmp_c6" / "Audio_Chopin.wav",
         "piano (FMP, madmom, MAESTRO, FMP C6 Chopin)", "piano")
    for p in sorted((root / "poly_notes" / "guitarset_excerpt").glob("*.wav")):
        solo("guitarset excerpt", p, "guitar, sax (GuitarSet, essentia)", "guitar")
    for p in sorted((root / "key" / "essentia_sax").glob("*.wav")):
        solo(p.stem[:30], p, "guitar, sax (GuitarSet, essentia)", "reed")
    for p in sorted((root / "mono_f0" / "vocadito").glob("*.wav")):
        solo(p.stem, p, "voice (vocadito, SSVD, MIR-1K voice)", "voice")
    for p in sorted((root / "mono_f0" / "ssvd_notes").glob("*.flac")):
        solo("ssvd " + p.stem, p, "voice (vocadito, SSVD, MIR-1K voice)", "voice")
    singers = {}
    for p in sorted((root / "mono_f0" / "mir1k" / "Wavfile").glob("*.wav")):
        singers.setdefault(p.stem.split("_")[0], p)   # one clip per singer
    for s, p in sorted(singers.items()):
        solo(f"mir1k {p.stem} voice", p, "voice (vocadito, SSVD, MIR-1K voice)", "voice", channel=1)
        out.append(TagItem(f"mir1k {p.stem} accomp.", p, "MIR-1K accompaniment (no voice)",
                           frozenset(), frozenset({"voice"}), channel=0))
    jtd = sorted((root / "beats" / "jtd_excerpt").glob("*.wav"))
    for p in jtd:  # a jazz piano trio: piano, double bass, drums
        out.append(TagItem("jtd jazz trio", p, "bands (JTD trio, Queen, GTZAN)",
                           frozenset({"piano", "bass", "drums"}), frozenset({"piano", "bass", "drums", "solo"})))
    q = root / "beats" / "fmp_c6" / "Audio_Queen_AnotherOneBitesTheDust-Beginning.wav"
    if q.is_file():  # drums and bass guitar
        out.append(TagItem("queen (beginning)", q, "bands (JTD trio, Queen, GTZAN)",
                           frozenset({"drums", "bass"}), frozenset({"drums", "bass", "solo"})))
    for genre, drums in sorted(_GTZAN_DRUMS.items()):
        for p in sorted((root / "gtzan" / "audio" / genre).glob("*.wav"))[:1]:
            pos = {"drums"} if drums else set()
            known = {"drums"}
            if genre in _GTZAN_GENRE:
                pos.add(_GTZAN_GENRE[genre])
                known |= set(_GTZAN_GENRE.values())
            out.append(TagItem(f"gtzan {genre}", p, "bands (JTD trio, Queen, GTZAN)",
                               frozenset(pos), frozenset(known)))
    for genre in ("jazz",):
        for p in sorted((root / "gtzan" / "audio" / genre).glob("*.wav"))[:1]:
            out.append(TagItem(f"gtzan {genre}", p, "bands (JTD trio, Queen, GTZAN)",
                               frozenset({"jazz"}), frozenset(_GTZAN_GENRE.values())))
    return out
