"""What every training recipe shares: its data cache folder, the common command-line
options and the run set-up (logging, device, CPU threads)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path


def cache_dir(recipe: str) -> Path:
    """``<user cache>/workstation/training/<recipe>``, created (never inside the repository)."""
    import platformdirs

    d = Path(platformdirs.user_cache_dir("workstation")) / "training" / recipe
    d.mkdir(parents=True, exist_ok=True)
    return d


#: The licence line of every shipped model's manifest entry.
LICENCE = "same as the Workstation source (trained only on audio synthesised by the recipe)"


def timing_metrics(info: dict, t0: float, device: str) -> dict:
    """The manifest metrics every recipe records about its run: training seconds (from
    ``info["train_seconds"]``), total seconds since ``t0`` (``time.perf_counter``), device."""
    import time
    return {"train_seconds": round(info["train_seconds"], 1),
            "total_seconds": round(time.perf_counter() - t0, 1), "train_device": device}


def corpus_features(path: Path, spec, *, workers: int, compute) -> dict:
    """The arrays a recipe derives from a training corpus, cached in ``path`` (.npz, written
    atomically): read from there when present; else the corpus ``spec``
    (``workstation.training.corpus_spec.CorpusSpec``) is built, or reused, in its default folder and
    ``compute(corpus)`` (a ``Corpus``) returns the dict of arrays."""
    import time

    import numpy as np

    from workstation.training.corpus import Corpus, build_corpus
    from workstation.training.corpus_spec import default_dir

    log = logging.getLogger("workstation.training")
    if path.is_file():
        log.info("features from cache %s", path)
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    cdir = default_dir(spec)
    t0 = time.perf_counter()
    build_corpus(cdir, spec, workers=workers)
    log.info("corpus %s ready (%.0f s)", cdir, time.perf_counter() - t0)
    data = compute(Corpus(cdir))
    from workstation.core.atomic import save_npz
    save_npz(path, **data)
    return data


def recipe_parser(recipe: str, description: str, cfg, models_dir, *, items: bool = True
                  ) -> argparse.ArgumentParser:
    """The options every recipe takes (--device, [--items], --steps, --batch, --seed,
    --threads, --out), their defaults from the recipe's config ``cfg``."""
    p = argparse.ArgumentParser(prog=f"python -m workstation.training {recipe}", description=description)
    p.add_argument("--device", default="cpu", help="cpu | cuda | auto")
    if items:
        p.add_argument("--items", type=int, default=cfg.items, help="corpus items (10-16 s each)")
    p.add_argument("--steps", type=int, default=cfg.steps)
    p.add_argument("--batch", type=int, default=cfg.batch)
    p.add_argument("--seed", type=int, default=cfg.seed)
    p.add_argument("--threads", type=int, default=cfg.threads, help="torch CPU threads (0: torch's choice)")
    p.add_argument("--out", default=str(models_dir), help="models folder (weights + manifest.json)")
    return p


def start_run(args) -> str:
    """Log to stderr, set torch's CPU threads (``args.threads`` > 0), return the device name."""
    import torch

    from workstation.inference.device import choose_device
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    return str(choose_device(args.device))


def train_heads(model, next_batch, *, steps: int, lr: float, heads, head_weights, device: str,
                pos_weight=None, log_every: int = 50) -> tuple[list[dict], float]:
    """Train a multi-head sigmoid model: Adam at ``lr`` with a cosine schedule to 3 %, loss =
    per-head weighted binary cross-entropy of ``model.forward_features(x)`` against ``y``
    (``next_batch()`` gives the (x, y) tensors of each step; ``pos_weight`` per head).
    Returns (the logged history, training seconds); leaves the model in train mode."""
    import math
    import time

    import torch
    from torch.nn import functional as F

    log = logging.getLogger("workstation.training")
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(1.0, s / max(1, steps)))) * 0.97 + 0.03)
    w = pw = None
    t0 = time.perf_counter()
    hist: list[dict] = []
    model.train()
    for step in range(1, steps + 1):
        x, y = next_batch()
        x, y = x.to(device), y.to(device)
        logits = model.forward_features(x)
        if w is None:  # per-head weights broadcast over the head axis (1)
            shape = (1, len(heads)) + (1,) * (logits.dim() - 2)
            w = torch.tensor(list(head_weights), device=device).reshape(shape)
            pw = None if pos_weight is None else torch.tensor(list(pos_weight), device=device).reshape(shape)
        loss_map = F.binary_cross_entropy_with_logits(logits, y, pos_weight=pw, reduction="none")
        per_head = loss_map.transpose(0, 1).reshape(len(heads), -1).mean(dim=1)
        loss = (loss_map * w).mean() * len(heads) / float(w.sum())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % log_every == 0 or step == steps:
            rec = {"step": step, "loss": round(float(loss.detach()), 5),
                   **{h: round(float(v), 5) for h, v in zip(heads, per_head.detach())},
                   "elapsed_s": round(time.perf_counter() - t0, 1)}
            hist.append(rec)
            log.info("%s", rec)
    return hist, time.perf_counter() - t0
