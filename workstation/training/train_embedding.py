"""Recipe of the learned track embedding ``embedding`` (a short-chunk CNN trained with the
NT-Xent contrastive loss plus a multi-task tag loss, see ``workstation.inference.models.embedding``).

    python -m workstation.training embedding [--items N] [--steps N] [--batch N] [--seed S]
        [--pooling stats|meanmax] [--tag-weight W] [--crop-frames N] [--extra ITEMS:SEED,...|none]

Data: the standard synthetic training corpus (``workstation.training.corpus``
``CorpusSpec(n_items=360, seed=0, duration_s=(10, 16))``, shared with the salience, beats,
key and tags recipes) and, for more variety, the corpora of ``extra`` (default: 400 more
items of seed 2, rendered on the first run: about 12 min on one core; seed 1 is avoided, its
item 89 fails to compose); never the evaluation recordings. The mel spectrogram of every
item (``FrontEnd.mel``), band-pooled as the network does and in dB, is computed once and
cached as float16 under ``<user cache>/workstation/training/embedding/`` (not in the repo),
with the tag labels of the tags recipe (``train_tags.item_labels``: per-frame instrument
family / voice activity, per-item solo and style).

Training (SimCLR-style, multi-task as MT2): a batch holds ``batch`` different items, two
views of each. A view is a random crop of ``crop_frames`` frames (4 s) of the item,
time-stretched by a factor in ``stretch`` (frames resampled), pitch-shifted by up to
``shift_bands`` pooled mel bands (bands resampled), equalised (a random dB tilt and a bump,
mild: timbre is what identifies a recording or a singer), with added noise of a random colour
and level, then level-referenced as the network does and SpecAugment-masked (time and band
stripes). Loss: NT-Xent (temperature ``temperature``) on the projection head's output, every
other view in the batch a negative, plus ``tag_weight`` x the binary cross-entropy of the tag
head against the view's tag targets (instrument share of the crop's frames / 0.2, clipped to
1, as the tags recipe; item tags). AdamW with a cosine decay; fixed seed.

Validation: the last ``val_items`` items of the standard corpus are held out; each is cut in
two halves, the embedding of the first half queries the second halves of all held-out items:
top-1 accuracy and the mean rank, stored in the manifest.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from workstation.core import constants as C
from workstation.inference.models.embedding import MIN_FRAMES, POOLINGS, EmbeddingNet, window_bounds
from workstation.inference.weights import MODELS_DIR, save_model
from workstation.training.common import LICENCE, cache_dir, recipe_parser, start_run, timing_metrics

log = logging.getLogger(__name__)

MODEL_NAME = "embedding"
MODEL_VERSION = 2
MODEL_FILE = "embedding.pt"
#: bump when the cached features change (part of the cache file name).
DATA_VERSION = 1
#: band pooling of the cached features (must equal the network's ``band_pool``).
BAND_POOL = 2
#: bump when the cached labels change (part of the label cache file name).
LABELS_VERSION = 1


@dataclasses.dataclass
class EmbeddingConfig:
    items: int = 360
    duration_s: tuple[float, float] = (10.0, 16.0)
    corpus_seed: int = 0
    #: more corpora, (n_items, seed) each, same durations
    extra: tuple[tuple[int, int], ...] = ((400, 2),)
    steps: int = 1200
    batch: int = 32
    crop_frames: int = 344
    pooling: str = "stats"
    #: weight of the multi-task tag loss (0: NT-Xent only, as model v1)
    tag_weight: float = 1.0
    stretch: tuple[float, float] = (0.8, 1.25)
    shift_bands: float = 1.0
    tilt_db: float = 4.0
    bump_db: float = 4.0
    noise_snr_db: tuple[float, float] = (20.0, 60.0)
    p_noise: float = 0.5
    time_masks: int = 2
    time_mask_frames: int = 24
    band_masks: int = 2
    band_mask_bands: int = 6
    temperature: float = 0.1
    lr: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 0
    val_items: int = 24
    threads: int = 1
    workers: int = 1


def _cache_dir() -> Path:
    return cache_dir("embedding")


def corpus_specs(cfg: EmbeddingConfig) -> list:
    """The corpora trained on: the standard one (``items``, ``corpus_seed``), then ``extra``."""
    from workstation.training.corpus_spec import CorpusSpec

    return [CorpusSpec(n_items=n, seed=sd, duration_s=tuple(cfg.duration_s))
            for n, sd in [(cfg.items, cfg.corpus_seed), *cfg.extra]]


def prepare_data(cfg: EmbeddingConfig) -> dict:
    """Build (or reuse) every corpus of ``corpus_specs(cfg)`` and the cached features (and,
    with ``tag_weight`` > 0, labels) of every item, concatenated in that order.

    Returns dict(x [N_MELS // BAND_POOL, total] float16 dB, starts, lengths, audio_s[, act,
    item_tags])."""
    parts = []
    for spec in corpus_specs(cfg):
        d = _prepare_corpus(spec, cfg.workers)
        if cfg.tag_weight > 0:
            d = {**d, **prepare_labels(spec, d)}
        parts.append(d)
    if len(parts) == 1:
        return parts[0]
    lengths = np.concatenate([d["lengths"] for d in parts])
    out = dict(x=np.concatenate([d["x"] for d in parts], axis=1), lengths=lengths,
               starts=np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64),
               audio_s=np.asarray(sum(float(d["audio_s"]) for d in parts)))
    if cfg.tag_weight > 0:
        out["act"] = np.concatenate([d["act"] for d in parts], axis=1)
        out["item_tags"] = np.concatenate([d["item_tags"] for d in parts])
    return out


def _prepare_corpus(spec, workers: int) -> dict:
    """Build (or reuse) one corpus and the cached band-pooled dB mel of every item.

    Returns dict(x [N_MELS // BAND_POOL, total] float16 dB, starts, lengths, audio_s)."""
    from workstation.inference.frontend import FrontEnd
    from workstation.training.corpus import Corpus, build_corpus
    from workstation.training.corpus_spec import default_dir

    cdir = default_dir(spec)
    path = _cache_dir() / f"data_v{DATA_VERSION}_{spec.spec_hash()}_p{BAND_POOL}.npz"
    if path.is_file():
        log.info("features from cache %s", path)
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    t0 = time.perf_counter()
    build_corpus(cdir, spec, workers=workers)
    log.info("corpus %s ready (%.0f s)", cdir, time.perf_counter() - t0)
    corpus = Corpus(cdir)
    fe = FrontEnd("cpu")
    net = EmbeddingNet(band_pool=BAND_POOL)
    lengths = [corpus[i].n_frames for i in range(len(corpus))]
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    x = np.empty((C.N_MELS // BAND_POOL, int(sum(lengths))), np.float16)
    audio_s = 0.0
    t1 = time.perf_counter()
    for i in range(len(corpus)):
        item = corpus[i]
        audio_s += len(item.audio) / item.sr
        m = fe.mel(item.audio)[:, :lengths[i]]
        with torch.no_grad():
            p = net.pool_bands(torch.from_numpy(np.ascontiguousarray(m))[None])[0].numpy()
        s = int(starts[i])
        x[:, s:s + lengths[i]] = np.maximum(10.0 * np.log10(p + 1e-10), -100.0)
    log.info("mel of %d items (%.0f s of audio) in %.0f s", len(corpus), audio_s, time.perf_counter() - t1)
    data = dict(x=x, starts=starts, lengths=np.asarray(lengths, np.int64), audio_s=np.asarray(audio_s))
    from workstation.core.atomic import save_npz
    save_npz(path, **data)
    return data


def prepare_labels(spec, data: dict) -> dict:
    """The corpus's tag labels (``train_tags.item_labels``: per-frame instrument-family /
    voice activity and per-item solo / style tags), cached beside the features.

    Returns dict(act [len(INSTRUMENT_TAGS), total] bool, item_tags [n_items, len(ITEM_TAGS)])."""
    from workstation.training.corpus import Corpus
    from workstation.training.corpus_spec import default_dir
    from workstation.training.train_tags import INSTRUMENT_TAGS, ITEM_TAGS, item_labels

    path = _cache_dir() / f"labels_v{LABELS_VERSION}_{spec.spec_hash()}.npz"
    if path.is_file():
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    corpus = Corpus(default_dir(spec))
    total = int(data["lengths"].sum())
    act = np.zeros((len(INSTRUMENT_TAGS), total), bool)
    item_tags = np.zeros((len(corpus), len(ITEM_TAGS)), np.float32)
    for i in range(len(corpus)):
        a, t = item_labels(corpus[i])
        s, n = int(data["starts"][i]), int(data["lengths"][i])
        act[:, s:s + n] = a[:, :n]
        item_tags[i] = t
    labels = dict(act=act, item_tags=item_tags)
    from workstation.core.atomic import save_npz
    save_npz(path, **labels)
    return labels


def view_targets(data: dict, i: int, o: float, src: float) -> np.ndarray:
    """Tag targets [shape=(n_tags,), float32] of the source frames [o, o + src) of item i:
    instrument tags as the share of frames in which the family sounds (/ ``FULL_SHARE``,
    clipped to 1, as the tags recipe), then the item tags."""
    from workstation.training.train_tags import FULL_SHARE

    s = int(data["starts"][i])
    n = int(data["lengths"][i])
    a, b = int(np.floor(o)), int(min(n, np.ceil(o + src)))
    share = data["act"][:, s + a:s + max(b, a + 1)].mean(axis=1)
    return np.concatenate([np.clip(share / FULL_SHARE, 0.0, 1.0), data["item_tags"][i]]).astype(np.float32)


def _resample(a: np.ndarray, pos: np.ndarray, axis: int) -> np.ndarray:
    """Linear interpolation of ``a`` at fractional positions ``pos`` along ``axis`` (clamped)."""
    n = a.shape[axis]
    pos = np.clip(pos, 0.0, n - 1.0)
    i0 = np.floor(pos).astype(np.int64)
    i1 = np.minimum(i0 + 1, n - 1)
    fr = (pos - i0).astype(np.float32)
    a0, a1 = np.take(a, i0, axis=axis), np.take(a, i1, axis=axis)
    shape = [1] * a.ndim
    shape[axis] = len(pos)
    fr = fr.reshape(shape)
    return a0 * (1 - fr) + a1 * fr


def make_view(seg: np.ndarray, rng: np.random.Generator, cfg: EmbeddingConfig,
              where: list | None = None) -> np.ndarray:
    """One augmented view [shape=(bands, crop_frames), float32 dB] of an item's pooled dB mel
    ``seg`` [shape=(bands, n)]: crop + time stretch, band shift, EQ, noise. ``where``
    (a list) receives (first source frame, source frames) of the crop."""
    bands, n = seg.shape
    L = cfg.crop_frames
    r = float(np.exp(rng.uniform(np.log(cfg.stretch[0]), np.log(cfg.stretch[1]))))
    src = L * r
    o = float(rng.uniform(0, max(0.0, n - src)))
    if where is not None:
        where[:] = [o, src]
    v = _resample(seg.astype(np.float32), o + np.arange(L) * r, axis=1)
    if o + src > n:  # item shorter than the stretched crop: silence after its end
        v[:, o + np.arange(L) * r > n - 1] = -100.0
    shift = rng.uniform(-cfg.shift_bands, cfg.shift_bands)
    v = _resample(v, np.arange(bands) - shift, axis=0)
    u = np.linspace(-0.5, 0.5, bands, dtype=np.float32)[:, None]
    eq = rng.uniform(-cfg.tilt_db, cfg.tilt_db) * u
    c, w = rng.uniform(0, bands), rng.uniform(3, 12)
    eq = eq + rng.uniform(-cfg.bump_db, cfg.bump_db) * np.exp(-0.5 * ((np.arange(bands)[:, None] - c) / w) ** 2)
    v = v + eq.astype(np.float32)
    if rng.random() < cfg.p_noise:
        level = v.max() - rng.uniform(*cfg.noise_snr_db)
        colour = rng.uniform(-20, 10) * u                       # dB tilt of the noise
        noise_db = level + colour + rng.normal(0, 3, size=(bands, L)).astype(np.float32)
        v = 10.0 * np.log10(10.0 ** (v / 10.0) + 10.0 ** (noise_db / 10.0))
    return v.astype(np.float32)


def _spec_augment(x: torch.Tensor, rng: np.random.Generator, cfg: EmbeddingConfig) -> torch.Tensor:
    """Zero random time and band stripes of normalised inputs [batch, 1, bands, L] (in place)."""
    b, _, bands, L = x.shape
    for i in range(b):
        for _ in range(int(rng.integers(0, cfg.time_masks + 1))):
            w = int(rng.integers(1, cfg.time_mask_frames + 1))
            s = int(rng.integers(0, max(1, L - w)))
            x[i, :, :, s:s + w] = 0.0
        for _ in range(int(rng.integers(0, cfg.band_masks + 1))):
            w = int(rng.integers(1, cfg.band_mask_bands + 1))
            s = int(rng.integers(0, max(1, bands - w)))
            x[i, :, s:s + w, :] = 0.0
    return x


def _batch(model: EmbeddingNet, data: dict, items: np.ndarray, rng: np.random.Generator,
           cfg: EmbeddingConfig) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Network inputs [2 * batch, 1, bands, crop_frames] (view 1 of each item, then view 2)
    and their tag targets [2 * batch, n_tags] (None without labels in ``data``)."""
    chosen = rng.choice(items, size=min(cfg.batch, len(items)), replace=False)
    views, targets = [[], []], [[], []]
    where: list = []
    for i in chosen:
        s, n = int(data["starts"][i]), int(data["lengths"][i])
        seg = data["x"][:, s:s + n]
        for k in range(2):
            views[k].append(make_view(seg, rng, cfg, where))
            if "act" in data:
                targets[k].append(view_targets(data, int(i), *where))
    db = torch.from_numpy(np.stack(views[0] + views[1]))
    x = model.level_db(db)[:, None]
    y = torch.from_numpy(np.stack(targets[0] + targets[1])) if "act" in data else None
    return _spec_augment(x, rng, cfg), y


def nt_xent(z: torch.Tensor, temperature: float) -> torch.Tensor:
    """NT-Xent loss of projections [2n, d] where rows i and i + n are the two views of one item."""
    z = F.normalize(z, dim=1)
    n2 = z.shape[0]
    n = n2 // 2
    sim = z @ z.T / temperature
    sim = sim.masked_fill(torch.eye(n2, dtype=torch.bool, device=z.device), float("-inf"))
    target = torch.cat([torch.arange(n, n2), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(sim, target)


def embed_frames(model: EmbeddingNet, db: np.ndarray) -> np.ndarray:
    """Track vector [shape=(dim,)] of a pooled dB mel [shape=(bands, n)] (windows and
    summaries as at inference)."""
    b = window_bounds(db.shape[1], model.window_frames)
    total = np.zeros(model.summary_size)
    with torch.inference_mode():
        for s, e in b:
            x = model.level_db(torch.from_numpy(db[None, :, s:e].astype(np.float32)))[:, None]
            if x.shape[-1] < MIN_FRAMES:
                x = F.pad(x, (0, MIN_FRAMES - x.shape[-1]))
            total += model.summarise(x, int(e - s))[0].double().numpy()
    return model.vector_from_summary(total)


def validate(model: EmbeddingNet, data: dict, items) -> dict:
    """Held-out same-item retrieval: first halves query second halves (top-1, mean rank)."""
    model.eval()
    a, b = [], []
    for i in items:
        s, n = int(data["starts"][i]), int(data["lengths"][i])
        seg = data["x"][:, s:s + n]
        a.append(embed_frames(model, seg[:, :n // 2]))
        b.append(embed_frames(model, seg[:, n // 2:]))
    a, b = np.stack(a), np.stack(b)
    sim = a @ b.T
    ranks = (sim > np.diag(sim)[:, None]).sum(axis=1)
    return {"val_top1": float(np.mean(ranks == 0)), "val_mean_rank": float(np.mean(ranks) + 1),
            "val_n_items": int(len(items))}


def train(cfg: EmbeddingConfig, *, device: str = "cpu") -> tuple[EmbeddingNet, dict]:
    from workstation.training.train_tags import VOCABULARY

    rng = np.random.default_rng(cfg.seed)
    data = prepare_data(cfg)
    torch.manual_seed(cfg.seed)  # after the data: building a cold cache draws from torch's RNG
    n_tags = len(VOCABULARY) if cfg.tag_weight > 0 else 0
    model = EmbeddingNet(band_pool=BAND_POOL, window_frames=cfg.crop_frames, pooling=cfg.pooling,
                         n_tags=n_tags).to(device)
    n_items = len(data["lengths"])
    # the last val_items items of the standard corpus are held out (the extra corpora follow it)
    val_items = np.arange(max(2, cfg.items - cfg.val_items), cfg.items)
    train_items = np.setdiff1d(np.arange(n_items), val_items)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / 50) *
        (0.5 * (1 + math.cos(math.pi * min(1.0, s / max(1, cfg.steps)))) * 0.97 + 0.03))
    hist: list[dict] = []
    t0 = time.perf_counter()
    model.train()
    for step in range(1, cfg.steps + 1):
        x, y = _batch(model, data, train_items, rng, cfg)
        h = model.backbone(x.to(device))
        contrast = nt_xent(model.project(h), cfg.temperature)
        loss = contrast
        if y is not None:
            tag_loss = F.binary_cross_entropy_with_logits(model.tag_logits(h), y.to(device))
            loss = contrast + cfg.tag_weight * tag_loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % 50 == 0 or step == cfg.steps:
            rec = {"step": step, "loss": round(float(loss.detach()), 4),
                   "nt_xent": round(float(contrast.detach()), 4),
                   **({"tags": round(float(tag_loss.detach()), 4)} if y is not None else {}),
                   "elapsed_s": round(time.perf_counter() - t0, 1)}
            if step % 250 == 0 or step == cfg.steps:
                model.cpu()
                rec.update(validate(model, data, val_items))
                model.to(device).train()
            hist.append(rec)
            log.info("%s", rec)
    secs = time.perf_counter() - t0
    model = model.cpu().eval()
    info = {"train_seconds": secs, "history": hist, "audio_s": float(data["audio_s"]),
            "n_items": int(n_items), "val": validate(model, data, val_items)}
    return model, info


def main(argv=None) -> int:
    d = EmbeddingConfig()
    p = recipe_parser("embedding", "Train the contrastive track embedding and write it to models/.",
                      d, MODELS_DIR)
    p.add_argument("--pooling", default=d.pooling, choices=POOLINGS,
                   help="track pooling: stats (mean + std of the features over the track) or meanmax (v1)")
    p.add_argument("--tag-weight", type=float, default=d.tag_weight,
                   help="weight of the multi-task tag loss (0: NT-Xent only)")
    p.add_argument("--crop-frames", type=int, default=d.crop_frames, help="frames of a training view")
    p.add_argument("--extra", default=",".join(f"{n}:{sd}" for n, sd in d.extra) or "none",
                   help="more corpora to train on, ITEMS:SEED[,ITEMS:SEED...] or none")
    args = p.parse_args(argv)
    extra = () if args.extra in ("", "none") else tuple(
        (int(a), int(b)) for a, b in (e.split(":") for e in args.extra.split(",")))
    device = start_run(args)
    cfg = EmbeddingConfig(items=args.items, steps=args.steps, batch=args.batch, seed=args.seed,
                          threads=args.threads, pooling=args.pooling, tag_weight=args.tag_weight,
                          crop_frames=args.crop_frames, extra=extra)
    t0 = time.perf_counter()
    model, info = train(cfg, device=device)
    log.info("held-out: %s", info["val"])
    entry = save_model(
        model, name=MODEL_NAME, version=MODEL_VERSION, file=MODEL_FILE, models_dir=args.out,
        sample_rate=C.SAMPLE_RATE, hop_length=C.HOP_LENGTH,
        input={"feature": "mel", "n_mels": C.N_MELS, "n_fft": C.N_FFT,
               "scale": "FrontEnd.mel power (Slaney mel)",
               "frames": f"windows of {model.window_frames} frames on a fixed grid (shorter ones zero-padded to {MIN_FRAMES})"},
        outputs={"shape": f"({model.dim},) unit L2 norm; track = "
                          + ("fc(mean, std of the per-step features over all windows)"
                             if model.pooling == "stats" else "normalised mean of the window vectors"),
                 "space": "cosine / inner product"},
        recipe=f"python -m workstation.training embedding --items {cfg.items} --steps {cfg.steps}"
               f" --batch {cfg.batch} --seed {cfg.seed} --threads {cfg.threads} --pooling {cfg.pooling}"
               f" --tag-weight {cfg.tag_weight:g} --crop-frames {cfg.crop_frames}"
               f" --extra {','.join(f'{n}:{sd}' for n, sd in cfg.extra) or 'none'}",
        data=(" + ".join(f"workstation.training.corpus CorpusSpec(n_items={sp.n_items}, seed={sp.seed}, "
                         f"duration_s={tuple(sp.duration_s)})" for sp in corpus_specs(cfg))
              + f" ({info['audio_s'] / 3600:.2f} h of FluidSynth renderings); NT-Xent over two augmented "
              f"{cfg.crop_frames * C.HOP_LENGTH / C.SAMPLE_RATE:.1f} s views of each item (crop, "
              f"time stretch x{cfg.stretch[0]:g}..{cfg.stretch[1]:g}, band shift, EQ, noise, "
              f"SpecAugment)"
              + (f" + {cfg.tag_weight:g} x BCE on the corpus's tag labels (train_tags.item_labels: "
                 "instrument families, voice, solo, styles)" if cfg.tag_weight > 0 else ", no labels")
              + f"; last {cfg.val_items} items of the first corpus held out; no evaluation recordings"),
        licence=LICENCE,
        parameters=int(sum(p.numel() for p in model.parameters())),
        metrics={**{k: round(v, 4) for k, v in info["val"].items()},
                 **timing_metrics(info, t0, device),
                 "final_loss": info["history"][-1]["loss"] if info["history"] else None})
    log.info("wrote %s (sha256 %s)", Path(args.out) / MODEL_FILE, entry["sha256"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
