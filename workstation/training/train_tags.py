"""Recipe of the tag model ``tags`` (a short-chunk CNN on the mel spectrogram, see
``workstation.inference.models.tags``).

    python -m workstation.training tags [--items N] [--steps N] [--seed S] [--threads T] [--out models/]

Vocabulary (``VOCABULARY``), from what the synthetic corpus's labels support honestly:

- instrument families (GM classes of the rendered programs): piano, chromatic percussion,
  organ, guitar, bass, strings, ensemble, brass, reed, pipe, synth lead, synth pad, ethnic,
  and drums (GM channel 10); plus ``voice`` (GM 52-54 choir / voice oohs / synth voice and
  85 voice lead);
- ``solo``: one pitched instrument (with or without drums);
- styles of the procedural items and the Bach scores: classical, pop, rock, jazz (swing),
  ballad, bossa nova, waltz.

Instrument tags are labelled per window from the notes that sound in it (the share of the
window's frames in which the family sounds, a note counting for at least 0.25 s, divided by
0.2 and clipped to 1: soft targets); ``solo`` and the styles per item.

Data: the standard corpus (``CorpusSpec(n_items=360, seed=0, duration_s=(10, 16))``, shared
with the beats and salience recipes; never the evaluation recordings). The mel spectrogram of
every item is computed once (``FrontEnd.mel``), pooled and converted by the network's own
``to_db``, and cached as uint8 (0.5 dB steps below the item's loudest bin) with the
per-frame family activity under ``<user cache>/workstation/training/tags/``.

Training: random crops of ``window_frames`` (3 s) with a random spectral tilt (+-6 dB across
the bands: EQ), a frequency and a time mask (SpecAugment-style); per-tag binary
cross-entropy with ``pos_weight`` = sqrt(negatives / positives) clipped to [1, 8]; Adam with
a cosine decay (``common.train_heads``); fixed seed. The last ``val_items`` items are held
out: window and track ROC-AUC (macro over tags with both classes) go to the manifest.

The DSP baseline and the mapping of the real recordings to the vocabulary (``eval_items``) are
in :mod:`workstation.training.train_tags_eval`.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

import numpy as np
import torch

from workstation.core import constants as C
from workstation.inference.models.tags import WINDOW_FRAMES, TagNet, pool_scores, window_starts
from workstation.inference.weights import MODELS_DIR, save_model
from workstation.training.common import LICENCE, cache_dir, corpus_features, recipe_parser, start_run, timing_metrics, train_heads

log = logging.getLogger(__name__)

MODEL_NAME = "tags"
MODEL_VERSION = 1
MODEL_FILE = "tags.pt"
#: bump when the cached features change (part of the cache file name).
DATA_VERSION = 1

#: GM instrument classes (pretty_midi names, lower-cased) that are tags, in vocabulary order.
FAMILY_TAGS: tuple[str, ...] = (
    "piano", "chromatic percussion", "organ", "guitar", "bass", "strings", "ensemble", "brass",
    "reed", "pipe", "synth lead", "synth pad", "ethnic", "drums")
#: GM programs (0-based) that are singing voices.
VOICE_PROGRAMS: frozenset[int] = frozenset({52, 53, 54, 85})
#: Instrument tags: labelled per window from the notes.
INSTRUMENT_TAGS: tuple[str, ...] = FAMILY_TAGS + ("voice",)
#: corpus genre (lower-cased) -> style tag.
GENRE_TAGS: dict[str, str] = {"classical": "classical", "pop": "pop", "rock": "rock",
                              "jazz": "jazz", "ballad": "ballad", "bossa nova": "bossa nova",
                              "waltz": "waltz"}
#: Item tags: labelled per item.
ITEM_TAGS: tuple[str, ...] = ("solo",) + tuple(GENRE_TAGS.values())
VOCABULARY: tuple[str, ...] = INSTRUMENT_TAGS + ITEM_TAGS

#: a note counts as sounding for at least this long (drum hits, plucks), seconds.
MIN_NOTE_S = 0.25
#: share of a window's frames in which a family sounds for a full (1.0) target.
FULL_SHARE = 0.2


@dataclasses.dataclass
class TagsConfig:
    items: int = 360
    duration_s: tuple[float, float] = (10.0, 16.0)
    corpus_seed: int = 0
    steps: int = 1000
    batch: int = 32
    window_frames: int = WINDOW_FRAMES
    lr: float = 2e-3
    seed: int = 0
    val_items: int = 40
    tilt_db: float = 6.0
    threads: int = 1
    workers: int = 1


def item_labels(item) -> tuple[np.ndarray, np.ndarray]:
    """Labels of a corpus item: per-frame activity of the instrument tags
    [shape=(len(INSTRUMENT_TAGS), n_frames), bool] and the item tags
    [shape=(len(ITEM_TAGS),), float32]."""
    from workstation.training.corpus_compose import gm_family

    n = item.n_frames
    act = np.zeros((len(INSTRUMENT_TAGS), n), bool)
    fam_idx = []
    for prog, drum in zip(item.track_program, item.track_is_drum):
        fam = gm_family(int(prog), bool(drum)).lower()
        rows = [INSTRUMENT_TAGS.index(fam)] if fam in INSTRUMENT_TAGS else []
        if not drum and int(prog) in VOICE_PROGRAMS:
            rows.append(INSTRUMENT_TAGS.index("voice"))
        fam_idx.append(rows)
    fr = item.sr / item.hop_length
    for on, off, k in zip(item.note_onset_s, item.note_offset_s, item.note_track):
        a = int(np.floor(on * fr))
        b = int(np.ceil(max(off, on + MIN_NOTE_S) * fr)) + 1
        for r in fam_idx[int(k)]:
            act[r, max(0, a):min(n, b)] = True
    tags = np.zeros(len(ITEM_TAGS), np.float32)
    if int(np.sum(~np.asarray(item.track_is_drum, bool))) == 1:
        tags[ITEM_TAGS.index("solo")] = 1.0
    g = GENRE_TAGS.get(str(item.genre).lower())
    if g is not None:
        tags[ITEM_TAGS.index(g)] = 1.0
    return act, tags


def _cache_dir() -> Path:
    return cache_dir("tags")


def prepare_data(cfg: TagsConfig) -> dict:
    """Build (or reuse) the corpus and the cached features + labels.

    Returns dict(x [n_bands, total] uint8 (dB of ``TagNet.to_db``: 255 = the item's loudest
    bin, 0.5 dB steps), act [n_instrument_tags, total] bool, item_tags [n_items, n_item_tags],
    starts, lengths, kinds, audio_s)."""
    from workstation.inference.frontend import FrontEnd
    from workstation.training.corpus_spec import CorpusSpec

    spec = CorpusSpec(n_items=cfg.items, seed=cfg.corpus_seed, duration_s=tuple(cfg.duration_s))
    path = _cache_dir() / f"data_v{DATA_VERSION}_{spec.spec_hash()}.npz"

    def compute(corpus):
        fe = FrontEnd("cpu")
        net = TagNet(labels=VOCABULARY)
        lengths = [corpus[i].n_frames for i in range(len(corpus))]
        total = int(sum(lengths))
        n_bands = C.N_MELS // net.band_pool
        x = np.zeros((n_bands, total), np.uint8)
        act = np.zeros((len(INSTRUMENT_TAGS), total), bool)
        item_tags = np.zeros((len(corpus), len(ITEM_TAGS)), np.float32)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        kinds = []
        audio_s = 0.0
        t1 = time.perf_counter()
        for i in range(len(corpus)):
            item = corpus[i]
            audio_s += len(item.audio) / item.sr
            with torch.no_grad():
                db = net.to_db(torch.from_numpy(fe.mel(item.audio))[None])[0].numpy()
            s, n = int(starts[i]), lengths[i]
            db = db[:, :n]
            x[:, s:s + n] = np.clip(np.rint(2.0 * (db - db.max()) + 255.0), 0, 255).astype(np.uint8)
            a, t = item_labels(item)
            act[:, s:s + n] = a[:, :n]
            item_tags[i] = t
            kinds.append(item.kind)
        log.info("features of %d items (%.0f s of audio) in %.0f s", len(corpus), audio_s,
                 time.perf_counter() - t1)
        data = dict(x=x, act=act, item_tags=item_tags, starts=starts,
                    lengths=np.asarray(lengths, np.int64), kinds=np.asarray(kinds),
                    audio_s=np.asarray(audio_s))
        return data

    return corpus_features(path, spec, workers=cfg.workers, compute=compute)


def window_targets(data: dict, i: int, start: int, length: int) -> np.ndarray:
    """Targets [shape=(len(VOCABULARY),), float32] of frames [start, start + length) of item i."""
    s = int(data["starts"][i]) + start
    share = data["act"][:, s:s + length].mean(axis=1)
    inst = np.clip(share / FULL_SHARE, 0.0, 1.0)
    return np.concatenate([inst, data["item_tags"][i]]).astype(np.float32)


def _db_window(data: dict, i: int, start: int, length: int) -> np.ndarray:
    s = int(data["starts"][i]) + start
    return data["x"][:, s:s + length].astype(np.float32) * 0.5  # dB above the item's floor


def _batch(data: dict, items: np.ndarray, rng: np.random.Generator, cfg: TagsConfig, net: TagNet):
    L = cfg.window_frames
    xs, ys = [], []
    for _ in range(cfg.batch):
        i = int(items[int(rng.integers(len(items)))])
        n = int(data["lengths"][i])
        o = int(rng.integers(0, max(1, n - L + 1)))
        m = min(L, n - o)
        db = np.zeros((data["x"].shape[0], L), np.float32)
        db[:, :m] = _db_window(data, i, o, m)
        nb = db.shape[0]
        db += np.linspace(-1.0, 1.0, nb)[:, None] * float(rng.uniform(-cfg.tilt_db, cfg.tilt_db))
        xi = net.window_norm(torch.from_numpy(db)[None])[0].numpy()
        if rng.random() < 0.5:                      # frequency mask
            w = int(rng.integers(1, nb // 8))
            f0 = int(rng.integers(0, nb - w))
            xi[f0:f0 + w] = 0.0
        if rng.random() < 0.5:                      # time mask
            w = int(rng.integers(1, L // 8))
            t0 = int(rng.integers(0, L - w))
            xi[:, t0:t0 + w] = 0.0
        xs.append(xi)
        ys.append(window_targets(data, i, o, m))
    return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys))


def roc_auc(y_true, scores) -> float:
    """ROC-AUC of binary labels (>= 0.5 is positive) against scores (Mann-Whitney, ties
    averaged); NaN when one class is absent."""
    from scipy.stats import rankdata

    y = np.asarray(y_true, dtype=np.float64) >= 0.5
    s = np.asarray(scores, dtype=np.float64)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    r = rankdata(s)
    return float((r[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def predict_item(model: TagNet, data: dict, i: int, *, hop: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(window probabilities [n_windows, n_tags], window targets [n_windows, n_tags]) of item i,
    the windows as the analyzer cuts them."""
    L = model.window_frames
    n = int(data["lengths"][i])
    starts = window_starts(n, L, hop or L)
    x = np.stack([_db_window(data, i, s, min(L, n - s)) for s in starts])
    with torch.inference_mode():
        p = torch.sigmoid(model.forward_features(model.window_norm(torch.from_numpy(x)))).numpy()
    y = np.stack([window_targets(data, i, s, min(L, n - s)) for s in starts])
    return p, y


def validate(model: TagNet, data: dict, items) -> dict:
    """Held-out figures: macro ROC-AUC over tags (windows and tracks), per-tag track AUC, and
    the track-level hit@1 of the instrument tags (the top instrument tag is present)."""
    model.eval()
    wp, wy, tp, ty, hits = [], [], [], [], []
    n_inst = len(INSTRUMENT_TAGS)
    for i in items:
        p, y = predict_item(model, data, int(i))
        wp.append(p)
        wy.append(y)
        tp.append(pool_scores(p))
        ty.append(y.max(axis=0))
        hits.append(float(ty[-1][int(np.argmax(tp[-1][:n_inst]))] >= 0.5))
    wp, wy, tp, ty = np.concatenate(wp), np.concatenate(wy), np.stack(tp), np.stack(ty)
    w_auc = [roc_auc(wy[:, k], wp[:, k]) for k in range(len(VOCABULARY))]
    t_auc = [roc_auc(ty[:, k], tp[:, k]) for k in range(len(VOCABULARY))]
    return {"val_window_auc": float(np.nanmean(w_auc)), "val_track_auc": float(np.nanmean(t_auc)),
            "val_track_hit1": float(np.mean(hits)),
            "val_track_auc_per_tag": {t: round(a, 3) for t, a in zip(VOCABULARY, t_auc) if a == a}}


def train(cfg: TagsConfig, *, device: str = "cpu") -> tuple[TagNet, dict]:
    rng = np.random.default_rng(cfg.seed)
    data = prepare_data(cfg)
    torch.manual_seed(cfg.seed)  # after the data: building a cold cache draws from torch's RNG
    model = TagNet(labels=VOCABULARY, window_frames=cfg.window_frames).to(device)
    n_items = len(data["lengths"])
    train_items = np.arange(max(1, n_items - cfg.val_items))
    val_items = np.arange(len(train_items), n_items)
    # positive share per tag over the training windows (instrument tags: frames; item tags: items)
    tr_frames = np.concatenate([np.arange(data["starts"][i], data["starts"][i] + data["lengths"][i])
                                for i in train_items])
    pos = np.concatenate([data["act"][:, tr_frames].mean(axis=1),
                          data["item_tags"][train_items].mean(axis=0)])
    pos_weight = np.clip(np.sqrt((1 - pos) / np.maximum(pos, 1e-3)), 1.0, 8.0)
    hist, secs = train_heads(model, lambda: _batch(data, train_items, rng, cfg, model),
                             steps=cfg.steps, lr=cfg.lr, heads=VOCABULARY, device=device,
                             head_weights=(1.0,) * len(VOCABULARY), pos_weight=tuple(pos_weight))
    info = {"train_seconds": secs, "history": hist, "audio_s": float(data["audio_s"]),
            "n_items": int(n_items), "positive_share": dict(zip(VOCABULARY, np.round(pos, 3).tolist()))}
    model = model.cpu().eval()
    info["val"] = validate(model, data, val_items)
    return model, info


def main(argv=None) -> int:
    d = TagsConfig()
    p = recipe_parser("tags", "Train the short-chunk CNN tagger and write it to models/.", d, MODELS_DIR)
    args = p.parse_args(argv)
    device = start_run(args)
    cfg = TagsConfig(items=args.items, steps=args.steps, batch=args.batch, seed=args.seed,
                     threads=args.threads)
    t0 = time.perf_counter()
    model, info = train(cfg, device=device)
    log.info("held-out: %s", info["val"])
    entry = save_model(
        model, name=MODEL_NAME, version=MODEL_VERSION, file=MODEL_FILE, models_dir=args.out,
        extra={"labels": list(VOCABULARY)},
        sample_rate=C.SAMPLE_RATE, hop_length=C.HOP_LENGTH,
        input={"feature": "mel", "n_mels": C.N_MELS, "n_fft": C.N_FFT,
               "scale": "FrontEnd.mel power (Slaney mel), pooled to 64 bands, dB below the window max",
               "frames": f"windows of {cfg.window_frames} frames ({cfg.window_frames * C.HOP_LENGTH / C.SAMPLE_RATE:.2f} s)"},
        outputs={"labels": list(VOCABULARY), "shape": "(n_windows, n_tags) logits; sigmoid -> [0, 1]; "
                 "track score = (mean + max) / 2 over windows"},
        recipe=f"python -m workstation.training tags --items {cfg.items} --steps {cfg.steps}"
               f" --batch {cfg.batch} --seed {cfg.seed} --threads {cfg.threads}",
        data=(f"workstation.training.corpus CorpusSpec(n_items={cfg.items}, seed={cfg.corpus_seed}, "
              f"duration_s={tuple(cfg.duration_s)}) ({info['audio_s'] / 3600:.2f} h of FluidSynth renderings; "
              f"instrument families from the rendered programs and notes, styles from the procedural "
              f"items, Bach scores as classical); last {cfg.val_items} items held out; "
              f"no evaluation recordings"),
        licence=LICENCE,
        parameters=int(sum(p.numel() for p in model.parameters())),
        metrics={**{k: (round(v, 4) if isinstance(v, float) else v) for k, v in info["val"].items()},
                 **timing_metrics(info, t0, device),
                 "train_threads": cfg.threads,
                 "final_loss": info["history"][-1]["loss"] if info["history"] else None})
    log.info("wrote %s (sha256 %s)", Path(args.out) / MODEL_FILE, entry["sha256"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
