"""Recipe of the learned multi-f0 salience model ``salience`` (DeepSalience-style, see
``workstation.inference.models.salience``).

    python -m workstation.training salience [--items N] [--steps N] [--seed S] [--out models/]

Data: the synthetic training corpus (``workstation.training.corpus``: FluidSynth renderings
of random lines, bands, Bach scores on random ensembles, with exact labels and bends),
built once under the user cache; never the evaluation recordings. The HCQT of every item
(``FrontEnd.hcqt``) is computed once, normalised by the network's own ``normalise`` and
cached as uint8 under ``<user cache>/workstation/training/salience/`` (not in the repo).

Targets per frame: the multi-hot pitch roll with bends (``corpus.pitch_roll``) blurred by a
Gaussian of ``sigma_bins`` (DeepSalience), the melody f0 bin (``item.melody_f0_hz``) blurred
likewise, and onsets (the first ``onset_frames`` frames of every pitched note). Loss: binary
cross-entropy per head (weights ``w_*``), Adam with a cosine learning-rate decay, random
crops of ``crop_frames`` frames, fixed seed, 2 torch threads. The last ``val_items`` items are
held out for the figures stored in the manifest.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

import numpy as np
import torch

from workstation.core import constants as C
from workstation.inference.models.salience import HEADS, SalienceNet, gaussian_blur_bins
from workstation.inference.weights import MODELS_DIR, save_model
from workstation.training.common import LICENCE, cache_dir, corpus_features, recipe_parser, start_run, timing_metrics, train_heads

log = logging.getLogger(__name__)

MODEL_NAME = "salience"
MODEL_VERSION = 1
MODEL_FILE = "salience.pt"
#: bump when the cached features / targets change (part of the cache file name).
DATA_VERSION = 1


@dataclasses.dataclass
class SalienceConfig:
    items: int = 360
    duration_s: tuple[float, float] = (10.0, 16.0)
    corpus_seed: int = 0
    steps: int = 700
    batch: int = 8
    crop_frames: int = 128
    lr: float = 3e-3
    seed: int = 0
    sigma_bins: float = 1.0
    onset_frames: int = 2
    w_salience: float = 1.0
    w_melody: float = 0.5
    w_onset: float = 0.5
    val_items: int = 16
    threads: int = 2
    workers: int = 2


def _cache_dir() -> Path:
    return cache_dir("salience")


def _targets(item, *, sigma_bins: float, onset_frames: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(salience, melody, onset) targets, uint8 0..255 [shape=(C.N_BINS, n_frames)] each."""
    from workstation.core.units import hz_to_midi
    from workstation.training.corpus_item import pitch_roll

    n = item.n_frames
    sal = gaussian_blur_bins(pitch_roll(item), sigma_bins=sigma_bins)
    mel = np.zeros((C.N_BINS, n), np.float32)
    f0 = np.asarray(item.melody_f0_hz, np.float64)[:n]
    voiced = np.asarray(item.melody_voiced, bool)[:n] & (f0 > 0)
    fr = np.flatnonzero(voiced)
    b = np.rint((hz_to_midi(f0[fr]) - C.FMIN_MIDI) * C.BINS_PER_SEMITONE).astype(np.int64)
    ok = (b >= 0) & (b < C.N_BINS)
    mel[b[ok], fr[ok]] = 1.0
    mel = gaussian_blur_bins(mel, sigma_bins=sigma_bins)
    ons = np.zeros((C.N_BINS, n), np.float32)
    pitched = ~np.asarray(item.track_is_drum, bool)[np.asarray(item.note_track, np.int64)]
    frame_rate = item.sr / item.hop_length
    for on, p in zip(np.asarray(item.note_onset_s)[pitched], np.asarray(item.note_pitch_midi)[pitched]):
        k = int(round((p - C.FMIN_MIDI) * C.BINS_PER_SEMITONE))
        f = int(round(on * frame_rate))
        if 0 <= k < C.N_BINS and f < n:
            ons[k, f:f + onset_frames] = 1.0
    ons = gaussian_blur_bins(ons, sigma_bins=sigma_bins)
    q = (lambda a: np.rint(np.clip(a, 0, 1) * 255).astype(np.uint8))
    return q(sal), q(mel), q(ons)


def prepare_data(cfg: SalienceConfig) -> dict:
    """Build (or reuse) the corpus and the cached normalised HCQT + targets.

    Returns dict(x [6, N_BINS, total] uint8, y [3, N_BINS, total] uint8, starts, lengths,
    corpus_dir, audio_s)."""
    from workstation.inference.frontend import FrontEnd
    from workstation.training.corpus_spec import CorpusSpec, default_dir

    spec = CorpusSpec(n_items=cfg.items, seed=cfg.corpus_seed, duration_s=tuple(cfg.duration_s))
    cdir = default_dir(spec)
    path = _cache_dir() / f"data_v{DATA_VERSION}_{spec.spec_hash()}_s{cfg.sigma_bins:g}_o{cfg.onset_frames}.npz"

    def compute(corpus):
        fe = FrontEnd("cpu")
        norm = SalienceNet()
        lengths = [corpus[i].n_frames for i in range(len(corpus))]
        total = int(sum(lengths))
        x = np.empty((len(C.HARMONICS), C.N_BINS, total), np.uint8)
        y = np.empty((len(HEADS), C.N_BINS, total), np.uint8)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        audio_s = 0.0
        t1 = time.perf_counter()
        for i in range(len(corpus)):
            item = corpus[i]
            audio_s += len(item.audio) / item.sr
            h = fe.hcqt(item.audio)
            with torch.no_grad():
                xn = norm.normalise(torch.from_numpy(h)[None])[0].numpy()
            s, n = int(starts[i]), lengths[i]
            x[..., s:s + n] = np.rint(xn[..., :n] * 255).astype(np.uint8)
            for j, t in enumerate(_targets(item, sigma_bins=cfg.sigma_bins, onset_frames=cfg.onset_frames)):
                y[j, :, s:s + n] = t
        log.info("HCQT + targets of %d items (%.0f s of audio) in %.0f s", len(corpus), audio_s,
                 time.perf_counter() - t1)
        data = dict(x=x, y=y, starts=starts, lengths=np.asarray(lengths, np.int64),
                    audio_s=np.asarray(audio_s))
        return data

    data = corpus_features(path, spec, workers=cfg.workers, compute=compute)
    return data | {"corpus_dir": str(cdir)}


def _batch(data: dict, items: np.ndarray, rng: np.random.Generator, cfg: SalienceConfig):
    xs, ys = [], []
    for _ in range(cfg.batch):
        i = int(items[int(rng.integers(len(items)))])
        s, n = int(data["starts"][i]), int(data["lengths"][i])
        o = s + int(rng.integers(max(1, n - cfg.crop_frames + 1)))
        xs.append(data["x"][..., o:o + cfg.crop_frames])
        ys.append(data["y"][..., o:o + cfg.crop_frames])
    x = torch.from_numpy(np.stack(xs)).float() / 255.0
    y = torch.from_numpy(np.stack(ys)).float() / 255.0
    return x, y


def frame_scores(model: SalienceNet, data: dict, items, *, threshold: float = 0.5) -> dict:
    """Held-out figures: frame-level multi-pitch precision / recall / accuracy at the semitone
    (a peak counts when its semitone sounds), melody raw-pitch accuracy on voiced frames."""
    from workstation.core import postprocess as pp

    tp = fp = fn = 0
    mel_ok = mel_n = 0
    model.eval()
    for i in items:
        s, n = int(data["starts"][i]), int(data["lengths"][i])
        x = torch.from_numpy(data["x"][..., s:s + n][None]).float() / 255.0
        with torch.inference_mode():
            out = torch.sigmoid(model.forward_features(x))[0].numpy()
        truth = data["y"][0, :, s:s + n] >= 255
        pk = pp.pick_peaks(out[0], threshold=threshold, max_peaks=12)
        est = np.zeros((C.N_BINS // C.BINS_PER_SEMITONE, n), bool)
        est[np.clip(np.rint(pk.bin / C.BINS_PER_SEMITONE).astype(int), 0, est.shape[0] - 1), pk.frame] = True
        ref = np.zeros_like(est)
        b, f = np.nonzero(truth)
        ref[np.clip(np.rint(b / C.BINS_PER_SEMITONE).astype(int), 0, ref.shape[0] - 1), f] = True
        tp += int((est & ref).sum())
        fp += int((est & ~ref).sum())
        fn += int((~est & ref).sum())
        mtruth = data["y"][1, :, s:s + n] >= 255
        voiced = mtruth.any(axis=0)
        if voiced.any():
            mb = np.argmax(out[1][:, voiced], axis=0)
            tb = np.argmax(mtruth[:, voiced], axis=0)
            mel_ok += int((np.abs(mb - tb) <= C.BINS_PER_SEMITONE / 2).sum())
            mel_n += int(voiced.sum())
    return {"val_precision": tp / max(1, tp + fp), "val_recall": tp / max(1, tp + fn),
            "val_accuracy": tp / max(1, tp + fp + fn), "val_melody_rpa": mel_ok / max(1, mel_n)}


def train(cfg: SalienceConfig, *, device: str = "cpu") -> tuple[SalienceNet, dict]:
    rng = np.random.default_rng(cfg.seed)
    data = prepare_data(cfg)
    torch.manual_seed(cfg.seed)  # after the data: building a cold cache draws from torch's RNG
    n_items = len(data["lengths"])
    train_items = np.arange(max(1, n_items - cfg.val_items))
    val_items = np.arange(len(train_items), n_items)
    model = SalienceNet().to(device)
    hist, secs = train_heads(model, lambda: _batch(data, train_items, rng, cfg), steps=cfg.steps,
                             lr=cfg.lr, heads=HEADS, device=device,
                             head_weights=(cfg.w_salience, cfg.w_melody, cfg.w_onset))
    info = {"train_seconds": secs, "history": hist,
            "n_train_frames": int(data["lengths"][train_items].sum()),
            "audio_s": float(data["audio_s"]), "n_items": int(n_items)}
    model = model.cpu().eval()
    info["val"] = frame_scores(model, data, val_items)
    return model, info


def main(argv=None) -> int:
    d = SalienceConfig()
    p = recipe_parser("salience", "Train the DeepSalience-style multi-f0 model and write it to models/.",
                      d, MODELS_DIR)
    args = p.parse_args(argv)
    device = start_run(args)
    cfg = SalienceConfig(items=args.items, steps=args.steps, batch=args.batch, seed=args.seed,
                         threads=args.threads)
    t0 = time.perf_counter()
    model, info = train(cfg, device=device)
    log.info("held-out: %s", info["val"])
    entry = save_model(
        model, name=MODEL_NAME, version=MODEL_VERSION, file=MODEL_FILE, models_dir=args.out,
        extra={"heads": list(HEADS)},
        sample_rate=C.SAMPLE_RATE, hop_length=C.HOP_LENGTH,
        input={"feature": "hcqt", "harmonics": list(C.HARMONICS), "n_bins": C.N_BINS,
               "fmin_hz": C.FMIN_HZ, "bins_per_octave": C.BINS_PER_OCTAVE,
               "scale": "FrontEnd.hcqt (reference) magnitude", "frames": "any (fully convolutional)"},
        outputs={"heads": list(HEADS), "shape": "(3, n_bins, n_frames) logits; sigmoid -> [0, 1]"},
        recipe=f"python -m workstation.training salience --items {cfg.items} --steps {cfg.steps}"
               f" --batch {cfg.batch} --seed {cfg.seed} --threads {cfg.threads}",
        data=(f"workstation.training.corpus CorpusSpec(n_items={cfg.items}, seed={cfg.corpus_seed}, "
              f"duration_s={tuple(cfg.duration_s)}) ({info['audio_s'] / 3600:.2f} h of FluidSynth renderings: "
              f"lines, bands, Bach scores; exact labels); last {cfg.val_items} items held out; "
              f"no evaluation recordings"),
        licence=LICENCE,
        parameters=int(sum(p.numel() for p in model.parameters())),
        metrics={**{k: round(v, 4) for k, v in info["val"].items()},
                 **timing_metrics(info, t0, device),
                 "final_losses": info["history"][-1] if info["history"] else {}})
    log.info("wrote %s (sha256 %s)", Path(args.out) / MODEL_FILE, entry["sha256"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
