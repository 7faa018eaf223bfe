"""Recipe of the learned beat / downbeat model ``beats`` (a small TCN, see
``workstation.inference.models.beats``).

    python -m workstation.training beats [--items N] [--steps N] [--seed S] [--out models/]

Data: the synthetic training corpus (``workstation.training.corpus``, the same spec as the
salience recipe, so one build serves both: melodic lines with and without drums, bands with
and without GM drum patterns of demo.compose's styles (rock, pop, ballad, swing, bossa,
waltz), Bach scores on random ensembles; tempi about 50-190 BPM, meters 2, 3, 4, exact beat
and downbeat labels), built once under the user cache; never the evaluation recordings. The
mel spectrogram of every item (``FrontEnd.mel``) is computed once, normalised by the
network's own level reference and cached as uint8 under
``<user cache>/workstation/training/beats/`` (not in the repo).

Training: random crops of ``crop_frames`` frames, time-stretched by a random factor in
``stretch`` (the normalised, band-pooled mel resampled in time, beat times scaled alike: tempo
augmentation), the flux channel recomputed after stretching. Targets: 1 at the frame
nearest each beat (downbeat), 0.5 on the frames on either side (widened by +-1 frame as
Böck et al.); loss: binary cross-entropy with ``pos_weight`` per head; Adam with a cosine
decay; fixed seed, 2 torch threads. The last ``val_items`` items are held out: beat
F-measure (mir_eval, 70 ms) of the decoded beats, stored in the manifest.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

import numpy as np
import torch

from workstation.core import constants as C
from workstation.inference.models.beats import HEADS, BeatNet
from workstation.inference.weights import MODELS_DIR, save_model
from workstation.training.common import LICENCE, cache_dir, corpus_features, recipe_parser, start_run, timing_metrics, train_heads

log = logging.getLogger(__name__)

MODEL_NAME = "beats"
MODEL_VERSION = 1
MODEL_FILE = "beats.pt"
#: bump when the cached features change (part of the cache file name).
DATA_VERSION = 1


@dataclasses.dataclass
class BeatsConfig:
    items: int = 360
    duration_s: tuple[float, float] = (10.0, 16.0)
    corpus_seed: int = 0
    steps: int = 1200
    batch: int = 8
    crop_frames: int = 768
    stretch: tuple[float, float] = (0.75, 1.33)
    lr: float = 2e-3
    seed: int = 0
    pos_weight_beat: float = 3.0
    pos_weight_downbeat: float = 6.0
    w_downbeat: float = 0.5
    val_items: int = 16
    threads: int = 2
    workers: int = 2


def _cache_dir() -> Path:
    return cache_dir("beats")


def prepare_data(cfg: BeatsConfig) -> dict:
    """Build (or reuse) the corpus and the cached normalised mel + beat labels.

    Returns dict(x [N_MELS, total] uint8 (``BeatNet.level_db``, 0..255), starts, lengths,
    beats_s (concatenated), beat_pos, beat_starts, beat_counts, tempo_bpm, audio_s)."""
    from workstation.inference.frontend import FrontEnd
    from workstation.training.corpus_spec import CorpusSpec

    spec = CorpusSpec(n_items=cfg.items, seed=cfg.corpus_seed, duration_s=tuple(cfg.duration_s))
    path = _cache_dir() / f"data_v{DATA_VERSION}_{spec.spec_hash()}.npz"

    def compute(corpus):
        fe = FrontEnd("cpu")
        norm = BeatNet()
        lengths = [corpus[i].n_frames for i in range(len(corpus))]
        total = int(sum(lengths))
        x = np.empty((C.N_MELS, total), np.uint8)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        beats, pos, counts, tempi = [], [], [], []
        audio_s = 0.0
        t1 = time.perf_counter()
        for i in range(len(corpus)):
            item = corpus[i]
            audio_s += len(item.audio) / item.sr
            m = fe.mel(item.audio)
            with torch.no_grad():
                xn = norm.level_db(torch.from_numpy(m)[None])[0].numpy()
            s, n = int(starts[i]), lengths[i]
            x[:, s:s + n] = np.rint(xn[:, :n] * 255).astype(np.uint8)
            beats.append(np.asarray(item.beats_s, np.float64))
            pos.append(np.asarray(item.beat_positions, np.int64))
            counts.append(len(item.beats_s))
            tempi.append(float(item.tempo_bpm))
        log.info("mel of %d items (%.0f s of audio) in %.0f s", len(corpus), audio_s, time.perf_counter() - t1)
        counts = np.asarray(counts, np.int64)
        data = dict(x=x, starts=starts, lengths=np.asarray(lengths, np.int64),
                    beats_s=np.concatenate(beats), beat_pos=np.concatenate(pos),
                    beat_starts=np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64),
                    beat_counts=counts, tempo_bpm=np.asarray(tempi), audio_s=np.asarray(audio_s))
        return data

    return corpus_features(path, spec, workers=cfg.workers, compute=compute)


def item_beats(data: dict, i: int) -> tuple[np.ndarray, np.ndarray]:
    """(beat times in s, bar positions) of item ``i``."""
    s, n = int(data["beat_starts"][i]), int(data["beat_counts"][i])
    return data["beats_s"][s:s + n], data["beat_pos"][s:s + n]


def _targets(frames: np.ndarray, n: int) -> np.ndarray:
    """Target [shape=(n,)]: 1 at each (fractional) frame's nearest frame, 0.5 beside it."""
    t = np.zeros(n, np.float32)
    f = np.rint(frames).astype(np.int64)
    for d, v in ((-1, 0.5), (1, 0.5), (0, 1.0)):
        g = f + d
        ok = (g >= 0) & (g < n)
        t[g[ok]] = np.maximum(t[g[ok]], v)
    return t


def _batch(data: dict, items: np.ndarray, rng: np.random.Generator, cfg: BeatsConfig):
    """A batch of stretched crops: x [batch, 2, N_MELS, L], y [batch, 2, L]."""
    L = cfg.crop_frames
    xs, ys = [], []
    lo, hi = np.log(cfg.stretch[0]), np.log(cfg.stretch[1])
    for _ in range(cfg.batch):
        i = int(items[int(rng.integers(len(items)))])
        s, n = int(data["starts"][i]), int(data["lengths"][i])
        r = float(np.exp(rng.uniform(lo, hi)))          # source frames per output frame
        src_len = L * r
        o = float(rng.uniform(0, max(0.0, n - src_len)))
        pos_src = o + np.arange(L) * r                   # source frame of each output frame
        i0 = np.floor(pos_src).astype(np.int64)
        fr = (pos_src - i0).astype(np.float32)
        valid = i0 + 1 < n
        i0c = np.clip(i0, 0, n - 2)
        seg = data["xp"][:, s:s + n]
        xi = seg[:, i0c] * (1 - fr) + seg[:, i0c + 1] * fr
        xi[:, ~valid] = 0.0
        bt, bp = item_beats(data, i)
        bf = (bt * C.FRAME_RATE - o) / r
        y = np.stack([_targets(bf, L), _targets(bf[bp == 1], L)])
        y[:, ~valid] = 0.0
        xs.append(xi)
        ys.append(y)
    return BeatNet.with_flux(torch.from_numpy(np.stack(xs))), torch.from_numpy(np.stack(ys))


def validate(model: BeatNet, data: dict, items) -> dict:
    """Held-out figures: mean beat F-measure, CMLt, AMLt (mir_eval) of the decoded beats,
    downbeat F-measure, tempo accuracy 1 (4 %)."""
    import mir_eval

    from workstation.analysis.analyzers.beats import decode_activation

    fs, cm, am, dfs, acc1 = [], [], [], [], []
    model.eval()
    for i in items:
        s, n = int(data["starts"][i]), int(data["lengths"][i])
        x = torch.from_numpy(data["xp"][None, :, s:s + n])
        with torch.inference_mode():
            act = torch.sigmoid(model.forward_features(BeatNet.with_flux(x)))[0].numpy()
        b = decode_activation(act[0], act[1])
        ref, pos = item_beats(data, i)
        ref = ref[ref < n / C.FRAME_RATE]
        fs.append(mir_eval.beat.f_measure(ref, b.times_s))
        _, cmlt, _, amlt = mir_eval.beat.continuity(ref, b.times_s)
        cm.append(cmlt)
        am.append(amlt)
        dfs.append(mir_eval.beat.f_measure(ref[pos[:len(ref)] == 1], b.downbeats_s))
        t = float(data["tempo_bpm"][i])
        acc1.append(abs(b.tempo_bpm - t) / t <= 0.04)
    return {"val_beat_f": float(np.mean(fs)), "val_cmlt": float(np.mean(cm)),
            "val_amlt": float(np.mean(am)), "val_downbeat_f": float(np.mean(dfs)),
            "val_tempo_acc1": float(np.mean(acc1))}


def train(cfg: BeatsConfig, *, device: str = "cpu") -> tuple[BeatNet, dict]:
    rng = np.random.default_rng(cfg.seed)
    data = prepare_data(cfg)
    torch.manual_seed(cfg.seed)  # after the data: building a cold cache draws from torch's RNG
    model = BeatNet().to(device)
    with torch.no_grad():   # the network's band pooling, once for the whole corpus
        data["xp"] = model.pool_bands(torch.from_numpy(data["x"][None]).float() / 255.0)[0].numpy()
    n_items = len(data["lengths"])
    train_items = np.arange(max(1, n_items - cfg.val_items))
    val_items = np.arange(len(train_items), n_items)
    hist, secs = train_heads(model, lambda: _batch(data, train_items, rng, cfg), steps=cfg.steps,
                             lr=cfg.lr, heads=HEADS, device=device, head_weights=(1.0, cfg.w_downbeat),
                             pos_weight=(cfg.pos_weight_beat, cfg.pos_weight_downbeat))
    info = {"train_seconds": secs, "history": hist,
            "n_train_frames": int(data["lengths"][train_items].sum()),
            "audio_s": float(data["audio_s"]), "n_items": int(n_items)}
    model = model.cpu().eval()
    info["val"] = validate(model, data, val_items)
    return model, info


def main(argv=None) -> int:
    d = BeatsConfig()
    p = recipe_parser("beats", "Train the beat / downbeat TCN and write it to models/.", d,
                      MODELS_DIR)
    args = p.parse_args(argv)
    device = start_run(args)
    cfg = BeatsConfig(items=args.items, steps=args.steps, batch=args.batch, seed=args.seed,
                      threads=args.threads)
    t0 = time.perf_counter()
    model, info = train(cfg, device=device)
    log.info("held-out: %s", info["val"])
    entry = save_model(
        model, name=MODEL_NAME, version=MODEL_VERSION, file=MODEL_FILE, models_dir=args.out,
        extra={"heads": list(HEADS)},
        sample_rate=C.SAMPLE_RATE, hop_length=C.HOP_LENGTH,
        input={"feature": "mel", "n_mels": C.N_MELS, "n_fft": C.N_FFT,
               "scale": "FrontEnd.mel power (Slaney mel)", "frames": "any (fully convolutional)"},
        outputs={"heads": list(HEADS), "shape": "(2, n_frames) logits; sigmoid -> [0, 1]"},
        recipe=f"python -m workstation.training beats --items {cfg.items} --steps {cfg.steps}"
               f" --batch {cfg.batch} --seed {cfg.seed} --threads {cfg.threads}",
        data=(f"workstation.training.corpus CorpusSpec(n_items={cfg.items}, seed={cfg.corpus_seed}, "
              f"duration_s={tuple(cfg.duration_s)}) ({info['audio_s'] / 3600:.2f} h of FluidSynth renderings: "
              f"lines, bands with GM drum patterns, Bach scores; exact beats and downbeats), "
              f"time-stretched x{cfg.stretch[0]:g}..{cfg.stretch[1]:g}; last {cfg.val_items} items "
              f"held out; no evaluation recordings"),
        licence=LICENCE,
        parameters=int(sum(p.numel() for p in model.parameters())),
        metrics={**{k: round(v, 4) for k, v in info["val"].items()},
                 **timing_metrics(info, t0, device),
                 "final_losses": info["history"][-1] if info["history"] else {}})
    log.info("wrote %s (sha256 %s)", Path(args.out) / MODEL_FILE, entry["sha256"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
