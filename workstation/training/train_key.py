"""Recipe of the learned key model ``key`` (a ChromaNet-style convnet, see
``workstation.inference.models.key``).

    python -m workstation.training key [--items N] [--steps N] [--seed S] [--out models/]

Data: the synthetic training corpus (``workstation.training.corpus``, the spec the other recipes
use, so one build serves all: lines, bands, Bach scores on random ensembles, exact key labels),
never the evaluation recordings. The tuned key map (``peak_pitch_map`` of the STFT, 186-ms
blocks) of every item is computed once, with a margin of ``max_shift`` semitones on each side,
and cached as float16 under ``<user cache>/workstation/training/key/`` (not in the repo).

Training, on pairs of crops (``crop_blocks`` blocks, two random positions in the same item),
each transposed by its own random number of semitones ``k1``, ``k2`` in
[-max_shift, max_shift] (the window slides along the map's frequency margin: no padding), with
an occasional +-20-cent detune:

- STONE (Kong et al., ISMIR 2024): the 24 probabilities are folded to 12 key signatures on the
  circle of fifths; the cross-power spectral density of the two crops' distributions at the
  first DFT frequency must equal the rotation by ``7 (k1 - k2)`` fifths: loss
  ``1 - Re(z1 conj(z2) exp(-2 pi i 7 (k1 - k2) / 12))`` (pulls both distributions to one
  consistent, confident key signature);
- S-KEY-style mode pretext (Kong et al., ICASSP 2025): the mass of the minor keys is fitted
  (binary cross-entropy) to a pseudo-label from the crop's transposition-invariant chroma
  statistics (best minor-profile correlation minus best major-profile correlation, over all 12
  rotations, Temperley profiles);
- supervision: cross-entropy with the corpus's exact key, transposed by ``k``.

Weights ``w_sup``, ``w_stone``, ``w_mode``; Adam with cosine decay; fixed seed. The last
``val_items`` items are held out: key accuracy and MIREX weighted score of the whole-item
prediction, next to the DSP analyzer's on the same items, stored in the manifest.
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
from workstation.core import tonal
from workstation.inference.models.key import (MAP_BINS, TUNING_MARGIN, Audio2Key, KeyNet, block_map,
                                              tune_map)
from workstation.inference.weights import MODELS_DIR, save_model
from workstation.training.common import LICENCE, cache_dir, corpus_features, recipe_parser, start_run, timing_metrics

log = logging.getLogger(__name__)

MODEL_NAME = "key"
MODEL_VERSION = 1
MODEL_FILE = "key.pt"
#: bump when the cached features change (part of the cache file name).
DATA_VERSION = 1


@dataclasses.dataclass
class KeyConfig:
    items: int = 360
    duration_s: tuple[float, float] = (10.0, 16.0)
    corpus_seed: int = 0
    steps: int = 700
    batch: int = 12
    crop_blocks: int = 32
    max_shift: int = 6
    p_detune: float = 0.3
    lr: float = 3e-3
    seed: int = 0
    w_sup: float = 1.0
    w_stone: float = 1.0
    w_mode: float = 0.2
    val_items: int = 40
    threads: int = 2
    workers: int = 2


def prepare_data(cfg: KeyConfig) -> dict:
    """Build (or reuse) the corpus and the cached tuned key maps.

    Returns dict(x [MAP_BINS + 2 * margin, total blocks] float16 with ``margin = 5 * max_shift``
    bins each side, starts, lengths (blocks), tonic_pc, minor (0/1), tuning_cents, audio_s)."""
    from workstation.inference.frontend import FrontEnd
    from workstation.training.corpus_spec import CorpusSpec

    spec = CorpusSpec(n_items=cfg.items, seed=cfg.corpus_seed, duration_s=tuple(cfg.duration_s))
    margin = cfg.max_shift * C.BINS_PER_SEMITONE
    path = cache_dir("key") / f"data_v{DATA_VERSION}_m{margin}_{spec.spec_hash()}.npz"

    def compute(corpus):
        fe = FrontEnd("cpu")
        maps, tonic, minor, tuning = [], [], [], []
        audio_s = 0.0
        t1 = time.perf_counter()
        for i in range(len(corpus)):
            item = corpus[i]
            audio_s += len(item.audio) / item.sr
            m = block_map(fe.stft_mag(item.audio), margin_bins=margin + TUNING_MARGIN)
            m, cents = tune_map(m, margin_bins=margin + TUNING_MARGIN, out_margin=margin)
            maps.append(m.astype(np.float16))
            tonic.append(int(item.tonic_pc))
            minor.append(int(item.mode == "minor"))
            tuning.append(cents)
        log.info("key maps of %d items (%.0f s of audio) in %.0f s", len(corpus), audio_s,
                 time.perf_counter() - t1)
        lengths = np.array([m.shape[1] for m in maps], np.int64)
        data = dict(x=np.concatenate(maps, axis=1), starts=np.concatenate([[0], np.cumsum(lengths)[:-1]]),
                    lengths=lengths, tonic_pc=np.array(tonic, np.int64), minor=np.array(minor, np.int64),
                    tuning_cents=np.array(tuning), audio_s=np.asarray(audio_s))
        return data

    return corpus_features(path, spec, workers=cfg.workers, compute=compute)


def _crop(data: dict, i: int, k: int, detune: int, s0: int, L: int, margin: int) -> np.ndarray:
    """Crop of item ``i``: blocks [s0, s0 + L), transposed up by ``k`` semitones (+ ``detune`` bins)."""
    lo = margin - k * C.BINS_PER_SEMITONE + detune
    s = int(data["starts"][i])
    return data["x"][lo:lo + MAP_BINS, s + s0:s + s0 + L].astype(np.float32)


def _batch(data: dict, items: np.ndarray, rng: np.random.Generator, cfg: KeyConfig):
    """Pairs of crops: x1, x2 [batch, MAP_BINS, L], shifts k1, k2 [batch], labels y1, y2 [batch]
    (key index after transposition)."""
    L, ms = cfg.crop_blocks, cfg.max_shift
    margin = ms * C.BINS_PER_SEMITONE
    xs = ([], [])
    ks = ([], [])
    ys = ([], [])
    for _ in range(cfg.batch):
        i = int(items[int(rng.integers(len(items)))])
        n = int(data["lengths"][i])
        for v in range(2):
            k = int(rng.integers(-ms, ms + 1))
            det = 0
            if rng.random() < cfg.p_detune:
                det = int(rng.choice([-1, 1]))
                if abs(margin - k * C.BINS_PER_SEMITONE + det - margin) > margin:
                    det = 0
            s0 = int(rng.integers(0, max(1, n - L + 1)))
            c = _crop(data, i, k, det, s0, min(L, n), margin)
            if c.shape[1] < L:
                c = np.pad(c, ((0, 0), (0, L - c.shape[1])))
            xs[v].append(c)
            ks[v].append(k)
            ys[v].append((int(data["tonic_pc"][i]) + k) % 12 + 12 * int(data["minor"][i]))
    t = lambda a: torch.from_numpy(np.stack(a))  # noqa: E731
    return (t(xs[0]), t(xs[1]), torch.tensor(ks[0]), torch.tensor(ks[1]), torch.tensor(ys[0]),
            torch.tensor(ys[1]))


def signature_dft(probs: torch.Tensor) -> torch.Tensor:
    """First DFT coefficient on the circle of fifths of the key-signature distribution:
    probs [batch, 24] -> complex [batch]. Key signature (sharps mod 12) of a major key with tonic
    t is ``7 t mod 12``; a minor key shares its relative major's (tonic + 3)."""
    t = torch.arange(12, device=probs.device)
    sig_major = (7 * t) % 12
    sig_minor = (7 * (t + 3)) % 12
    ang = 2 * math.pi * torch.cat([sig_major, sig_minor]).to(probs.dtype) / 12
    return torch.complex((probs * torch.cos(ang)).sum(-1), (probs * torch.sin(ang)).sum(-1))


def stone_loss(p1: torch.Tensor, p2: torch.Tensor, k1: torch.Tensor, k2: torch.Tensor) -> torch.Tensor:
    """STONE's cross-power spectral density loss of two crops transposed by k1, k2 semitones."""
    z1, z2 = signature_dft(p1), signature_dft(p2)
    rot = 2 * math.pi * 7 * (k1 - k2).to(p1.dtype) / 12
    cpsd = z1 * torch.conj(z2) * torch.complex(torch.cos(rot), -torch.sin(rot))
    return (1.0 - cpsd.real).mean()


_PROFILE = torch.from_numpy(np.stack([np.roll(p, t) for p in (np.array(tonal.KEY_PROFILES["temperley"][0]),
                                                              np.array(tonal.KEY_PROFILES["temperley"][1]))
                                      for t in range(12)])).float()        # [24, 12]
_PROFILE = (_PROFILE - _PROFILE.mean(1, keepdim=True)) / _PROFILE.std(1, keepdim=True)


def mode_pseudo_label(x: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """S-KEY-style pseudo-label P(minor) [batch] of key maps [batch, MAP_BINS, L]: from the crop's
    chroma, the best correlation with the 12 rotations of the minor profile minus that of the
    major profile (invariant to transposition), through a sigmoid."""
    b = x.shape[0]
    m = x / (x.amax(dim=1, keepdim=True) + 1e-6)
    ch = torch.roll(m.sum(-1).reshape(b, -1, C.BINS_PER_OCTAVE).sum(1), C.BINS_PER_SEMITONE // 2, dims=1)
    ch = ch.reshape(b, 12, C.BINS_PER_SEMITONE).sum(-1)
    ch = (ch - ch.mean(1, keepdim=True)) / (ch.std(1, keepdim=True) + 1e-6)
    r = ch @ _PROFILE.T / 12                                                 # [b, 24]
    return torch.sigmoid((r[:, 12:].amax(1) - r[:, :12].amax(1)) / temperature)


def predict_items(model: KeyNet, data: dict, items, *, margin: int) -> np.ndarray:
    """Whole-item key index per item (mean window log-probabilities, as the analyzer)."""
    net = Audio2Key(model)
    out = []
    for i in items:
        s, n = int(data["starts"][i]), int(data["lengths"][i])
        x = data["x"][margin:margin + MAP_BINS, s:s + n].astype(np.float32)
        logp, _ = net(x)
        out.append(int(np.argmax(logp.mean(axis=1))))
    return np.array(out)


def _weighted(ref: int, est: int) -> float:
    import mir_eval

    from workstation.core.units import key_label
    lab = lambda k: key_label(k % 12, tonal.MODES[k // 12]).replace(":", " ")  # noqa: E731
    return float(mir_eval.key.weighted_score(lab(ref), lab(est)))


def validate(model: KeyNet, data: dict, items, *, margin: int) -> dict:
    """Held-out accuracy and MIREX weighted score of the whole-item key."""
    model.eval()
    est = predict_items(model, data, items, margin=margin)
    ref = data["tonic_pc"][items] + 12 * data["minor"][items]
    return {"val_accuracy": float(np.mean(est == ref)),
            "val_weighted": float(np.mean([_weighted(int(r), int(e)) for r, e in zip(ref, est)]))}


def train(cfg: KeyConfig, *, device: str = "cpu") -> tuple[KeyNet, dict]:
    rng = np.random.default_rng(cfg.seed)
    data = prepare_data(cfg)
    torch.manual_seed(cfg.seed)  # after the data: building a cold cache may draw from torch's RNG
    model = KeyNet().to(device)
    margin = cfg.max_shift * C.BINS_PER_SEMITONE
    n_items = len(data["lengths"])
    train_items = np.arange(max(1, n_items - cfg.val_items))
    val_items = np.arange(len(train_items), n_items)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(1.0, s / max(1, cfg.steps)))) * 0.97 + 0.03)
    hist: list[dict] = []
    t0 = time.perf_counter()
    acc = {"loss": 0.0, "sup": 0.0, "stone": 0.0, "mode": 0.0}
    model.train()
    for step in range(1, cfg.steps + 1):
        x1, x2, k1, k2, y1, y2 = (t.to(device) for t in _batch(data, train_items, rng, cfg))
        logits = model(torch.cat([x1, x2]))
        l1, l2 = logits[:cfg.batch], logits[cfg.batch:]
        p1, p2 = F.softmax(l1, -1), F.softmax(l2, -1)
        sup = F.cross_entropy(logits, torch.cat([y1, y2]))
        stone = stone_loss(p1, p2, k1, k2)
        pseudo = mode_pseudo_label(torch.cat([x1, x2]))
        p_minor = torch.cat([p1, p2])[:, 12:].sum(-1).clamp(1e-5, 1 - 1e-5)
        mode = F.binary_cross_entropy(p_minor, pseudo)
        loss = cfg.w_sup * sup + cfg.w_stone * stone + cfg.w_mode * mode
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        for k, v in (("loss", loss), ("sup", sup), ("stone", stone), ("mode", mode)):
            acc[k] += float(v.detach())
        if step % 50 == 0 or step == cfg.steps:
            cnt = 50 if step % 50 == 0 else step % 50
            rec = {"step": step, **{k: round(v / cnt, 4) for k, v in acc.items()},
                   "elapsed_s": round(time.perf_counter() - t0, 1)}
            acc = dict.fromkeys(acc, 0.0)
            if step % 250 == 0 or step == cfg.steps:
                rec.update(validate(model.cpu(), data, val_items, margin=margin))
                model.to(device).train()
            hist.append(rec)
            log.info("%s", rec)
    secs = time.perf_counter() - t0
    model = model.cpu().eval()
    info = {"train_seconds": secs, "history": hist, "audio_s": float(data["audio_s"]),
            "n_items": int(n_items), "val": validate(model, data, val_items, margin=margin),
            "val_items": val_items}
    return model, info


def dsp_validation(cfg: KeyConfig, items) -> dict:
    """The DSP key analyzer on the same held-out items (for the manifest's comparison)."""
    from workstation.analysis.base import get_analyzer
    from workstation.analysis.pipeline import analyze_array
    from workstation.training.corpus import Corpus
    from workstation.training.corpus_spec import CorpusSpec, default_dir

    spec = CorpusSpec(n_items=cfg.items, seed=cfg.corpus_seed, duration_s=tuple(cfg.duration_s))
    corpus = Corpus(default_dir(spec))
    acc, wt = [], []
    for i in items:
        it = corpus[int(i)]
        k = analyze_array(it.audio, [get_analyzer("key", method="dsp")]).results["key"]
        ref = tonal.key_index(it.tonic_pc, it.mode)
        est = tonal.key_index(k.tonic_pc, k.mode)
        acc.append(ref == est)
        wt.append(_weighted(ref, est))
    return {"val_dsp_accuracy": float(np.mean(acc)), "val_dsp_weighted": float(np.mean(wt))}


def main(argv=None) -> int:
    d = KeyConfig()
    p = recipe_parser("key", "Train the ChromaNet-style key model and write it to models/.", d, MODELS_DIR)
    p.add_argument("--w-sup", type=float, default=d.w_sup, help="weight of the supervised CE")
    p.add_argument("--w-stone", type=float, default=d.w_stone, help="weight of the STONE CPSD loss")
    p.add_argument("--w-mode", type=float, default=d.w_mode, help="weight of the S-KEY mode pretext")
    p.add_argument("--no-save", action="store_true", help="train and validate only")
    args = p.parse_args(argv)
    device = start_run(args)
    cfg = KeyConfig(items=args.items, steps=args.steps, batch=args.batch, seed=args.seed,
                    threads=args.threads, w_sup=args.w_sup, w_stone=args.w_stone, w_mode=args.w_mode)
    t0 = time.perf_counter()
    model, info = train(cfg, device=device)
    log.info("held-out: %s", info["val"])
    if args.no_save:
        return 0
    dsp = dsp_validation(cfg, info["val_items"])
    log.info("held-out DSP: %s", dsp)
    entry = save_model(
        model, name=MODEL_NAME, version=MODEL_VERSION, file=MODEL_FILE, models_dir=args.out,
        sample_rate=C.SAMPLE_RATE, hop_length=C.HOP_LENGTH,
        input={"feature": "stft_mag", "transform": "models.key.block_map + tune_map (whitened "
               "STFT peaks on 20-cent bins, C2..B7, blocks of 16 frames)",
               "n_bins": MAP_BINS, "bins_per_octave": C.BINS_PER_OCTAVE, "midi_lo": 36,
               "block_frames": 16, "frames": "any (time-pooled)"},
        outputs={"shape": "(24,) logits per window; key index tonic_pc + 12 * minor"},
        recipe=f"python -m workstation.training key --items {cfg.items} --steps {cfg.steps}"
               f" --batch {cfg.batch} --seed {cfg.seed} --threads {cfg.threads} --w-sup {cfg.w_sup:g}"
               f" --w-stone {cfg.w_stone:g} --w-mode {cfg.w_mode:g}",
        data=(f"workstation.training.corpus CorpusSpec(n_items={cfg.items}, seed={cfg.corpus_seed}, "
              f"duration_s={tuple(cfg.duration_s)}) ({info['audio_s'] / 3600:.2f} h of FluidSynth renderings "
              f"with exact keys), crops transposed by -{cfg.max_shift}..{cfg.max_shift} semitones; last "
              f"{cfg.val_items} items held out; no evaluation recordings"),
        licence=LICENCE,
        parameters=int(sum(p.numel() for p in model.parameters())),
        metrics={**{k: round(v, 4) for k, v in {**info["val"], **dsp}.items()},
                 **timing_metrics(info, t0, device),
                 "final_losses": info["history"][-1] if info["history"] else {}})
    log.info("wrote %s (sha256 %s)", Path(args.out) / MODEL_FILE, entry["sha256"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
