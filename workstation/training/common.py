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
