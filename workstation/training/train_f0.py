"""Recipe of the learned f0 model ``pitch.f0.pesto`` (PESTO-style, see
``workstation.inference.models.pesto``).

    python -m workstation.training f0 [--device cpu|cuda] [--steps N] [--seed S] [--out models/]

Data (``train_f0_data.training_data``): audio this machine makes, never the evaluation
recordings; a batch draws 40 % / 35 % / 25 % of its frames from three sources
(``F0Config.p_sources``):

* synthetic sung-like tones: harmonic tones with random spectral envelopes (tilt and
  formant-like bumps), note sequences with portamento, vibrato, jitter, breathy noise, gaps
  of silence or noise (unvoiced), additive noise at random SNR; exact f0 labels
  (``--synth-version 3``: more moving pitch: slow glides of 50-300 ms, scoops into notes,
  leaps, vibrato of 4-8 Hz with a drifting rate up to 100 cents with a delayed onset per
  note); plus the
  melody stems of procedurally composed demo pieces (``demo.compose`` +
  ``demo.render_parts``, FluidSynth, GM soundfont), labelled by ``Piece.f0_frames``;
* the ``mono`` items of the training corpus (``workstation.training.corpus``, the same spec as
  the salience recipe's: 360 items of 10-16 s; one GM instrument line, voice-like programs
  included, vibrato/glissandi/bends, reverb/EQ/noise), labelled by their exact melody f0;
* the corpus items with accompaniment (``poly``/``full``/``score``): the melody's f0 as the
  label (robustness to accompaniment, as in full mixes).

Input: the model's own CQT (``PestoNet.input_cqt`` with ``filter_scale = 0.25``: the HCQT's
``h = 1`` bins with a quarter of its window lengths, 107 ms at 200 Hz; ``--filter-scale 1``
trains on the HCQT channel itself, as version 1 did, ``0.4`` gave version 2). Version 3's
shorter windows follow the first and last frames of sung phrases and fast pitch motion
better: with the Viterbi decoder, MIR-1K voice (10 clips) RPA 0.973 vs 0.966 for version 2,
clips 11-30 0.966 vs 0.951. Compared in the same session (``benchmarks/accuracy.py
--f0-checkpoints``): filter scale 0.2 (worse: 0.955 / 0.941 frame by frame), 3000 steps
(same RPA, OA +2 points on MIR-1K, -2 on vocadito), another seed (0.973 / 0.963),
synthetic clips with consonant-like noise bursts at note edges (no change in RPA; dropped),
and a smaller network (``--channels 16,16,16,8``: 1.5x faster, 0.971 / 0.960).

The audio is rendered once, turned into the model's input frames, and cached under
the user cache directory (``platformdirs``), never under the repository.

Temporal context (``--temporal-layers 2``, an experiment, not shipped): the per-frame encoder
+ two residual (time x pitch) convolutions (context +-3 frames, see ``PestoNet``); an example
is then a run of ``seq_frames`` (16) consecutive frames of one clip, a batch of 160 frames is
10 such runs (shift and augmentation drawn per run). Measured (``--temporal-layers 2
--synth-version 3 --steps 3000 --threads 1``, 1983 s): MIR-1K voice (10 clips) RPA 0.957 vs
0.962 for the shipped frame-by-frame model, vocadito 0.978 vs 0.982, MIR-1K mix 0.642 vs
0.612 (OA on MIR-1K voice 0.929 vs 0.911): better in mixes and at voicing, worse in pitch
on solo voice, so version 2 stayed (measured at filter scale 0.4).

Training (PESTO's objectives, on the dB CQT frames; every view is a shifted crop of the same
frame, shifts by whole bins with the floor value filled in):

* equivariance: ``phi(y) = sum_i alpha^i y_i`` with ``alpha = 2^(1/bins_per_octave)``; for two
  views shifted by ``k`` bins, Huber(phi(y_b) / phi(y_a) - alpha^k) (both directions);
* shift cross-entropy: CE(shift(y_a, k), y_b) and CE(shift(y_b, -k), y_a);
* invariance: CE between two timbre augmentations (random EQ curve, noise floor, gain) of
  the same shifted frame;
* supervised (our addition, the synthetic labels): CE to a Gaussian (sigma 1 bin) around the
  labelled bin, and BCE of the voicing head on the voiced/unvoiced labels (the supervised
  term weighs 3, the labels being exact; invariance is off by default, ``w_inv = 0``, which
  saves a third view per step);

then the absolute-pitch offset is calibrated on steady synthetic tones of known pitch
(median of predicted minus true bin), as PESTO does. Fixed seed; deterministic on CPU for a
given thread count (the recipe sets 2 threads unless told otherwise).
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
from workstation.inference.models.pesto import FLOOR_DB, Audio2F0, PestoNet, n_parameters
from workstation.inference.weights import MODELS_DIR, save_model
from workstation.training.common import LICENCE, recipe_parser, start_run
from workstation.training.train_f0_data import synth_tone_clip, training_data

log = logging.getLogger(__name__)

MODEL_NAME = "pitch.f0.pesto"
MODEL_VERSION = 3
MODEL_FILE = "pitch_f0_pesto.pt"


@dataclasses.dataclass
class F0Config:
    steps: int = 1000
    batch: int = 160
    lr: float = 2e-3
    seed: int = 0
    max_shift: int = 24          # bins (4.8 semitones) for the equivariance pairs
    n_tone_clips: int = 360
    tone_clip_s: float = 3.0
    n_demo_pieces: int = 12
    #: training corpus (``workstation.training.corpus``): items, seed, item lengths; 0 items: none
    corpus_items: int = 360
    corpus_seed: int = 0
    corpus_duration_s: tuple[float, float] = (10.0, 16.0)
    corpus_workers: int = 2
    #: window length of the model's CQT relative to the shared HCQT's (1: the HCQT's h=1
    #: channel itself; 0.25: 107 ms at 200 Hz instead of 430 ms, see ``pesto.own_cqt``;
    #: version 2 used 0.4)
    filter_scale: float = 0.25
    #: share of each batch drawn from each source: synthetic sung-like clips + demo stems,
    #: corpus ``mono`` items, corpus items with accompaniment (``poly``/``full``/``score``)
    p_sources: tuple[float, float, float] = (0.4, 0.35, 0.25)
    w_equiv: float = 1.0
    w_shift_ce: float = 0.5
    w_inv: float = 0.0
    w_sup: float = 3.0
    w_voicing: float = 1.0
    threads: int = 2
    #: temporal context: residual (time x pitch) convolutions after the per-frame encoder
    #: (0: frame by frame, as shipped); a batch is then ``batch // seq_frames``
    #: runs of ``seq_frames`` consecutive frames of one clip (an experiment that measured
    #: worse, see the module docstring)
    temporal_layers: int = 0
    #: channels of the per-frame convolutions (kernels 25, 11, 1, 1 over frequency)
    channels: tuple[int, ...] = (24, 24, 16, 8)
    seq_frames: int = 16
    #: synthetic clips: 2 (shipped) or 3 (``synth_tone_clip(moving=True)``)
    synth_version: int = 2


# ------------------------------------------------------------------------------ augmentation
def shift_frames(db: torch.Tensor, k: torch.Tensor, *, max_shift: int) -> torch.Tensor:
    """Shift each frame up by k[i] bins (content at bin b moves to b + k), floor filled in.
    db [shape=(B, F)], k [shape=(B,)] ints in [-max_shift, max_shift]."""
    b, f = db.shape
    padded = F.pad(db, (max_shift, max_shift), value=FLOOR_DB)
    idx = torch.arange(f, device=db.device)[None] + max_shift - k[:, None]
    return padded.gather(1, idx)


def augment(db: torch.Tensor, g: torch.Generator, *, group: int = 1) -> torch.Tensor:
    """Timbre / level augmentation of dB frames [shape=(B, F)]: a random smooth EQ curve,
    a random noise floor, a random gain; the same curve, gain and noise level for each
    ``group`` consecutive frames (a run of frames of one clip)."""
    b, f = db.shape
    nb = b // group

    def r():
        return torch.rand(nb, 1, generator=g).repeat_interleave(group, dim=0)

    x = torch.linspace(0, 1, f, device=db.device)[None]
    eq = torch.zeros(b, f, device=db.device)
    for order in (1, 2, 3):
        a = (r() * 2 - 1) * 6.0 / order
        ph = r() * 2 * math.pi
        eq = eq + a * torch.cos(math.pi * order * x + ph)
    tilt = (r() * 2 - 1) * 8.0 * (x - 0.5)
    gain = (r() * 2 - 1) * 6.0
    out = db + eq + tilt + gain
    level = out.amax(dim=1, keepdim=True)
    if group > 1:        # the noise floor follows the run's loudest frame
        level = level.reshape(nb, group).amax(dim=1).repeat_interleave(group)[:, None]
    noise_db = level - 15.0 - 35.0 * r()
    noise = torch.rand(b, f, generator=g).clamp_min(1e-3) * 10 ** (noise_db / 20)
    amp = 10 ** (out / 20) + noise * (r() < 0.7)
    return (20 * torch.log10(amp.clamp_min(10 ** (FLOOR_DB / 20)))).clamp_min(FLOOR_DB)


# ------------------------------------------------------------------------------ losses
def _ce(p_target: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    return -(p_target * F.log_softmax(logits, dim=-1)).sum(-1)


def _shift_probs(p: torch.Tensor, k: torch.Tensor, max_shift: int) -> torch.Tensor:
    padded = F.pad(p, (max_shift, max_shift), value=0.0)
    idx = torch.arange(p.shape[1], device=p.device)[None] + max_shift - k[:, None]
    return padded.gather(1, idx)


def ssl_losses(la: torch.Tensor, lb: torch.Tensor, k: torch.Tensor, *, max_shift: int,
               bins_per_octave: int = C.BINS_PER_OCTAVE) -> tuple[torch.Tensor, torch.Tensor]:
    """PESTO's equivariance (Huber on projection ratios) and shift cross-entropy for logits of
    view a and view b = view a shifted up by k bins [shapes=(B, F), (B, F), (B,)]."""
    pa, pb = torch.softmax(la, -1), torch.softmax(lb, -1)
    f = la.shape[1]
    alpha = 2.0 ** (1.0 / bins_per_octave)
    w = alpha ** torch.arange(f, device=la.device, dtype=torch.float32) / alpha ** (f / 2)
    za, zb = pa @ w, pb @ w
    kf = k.float()
    equiv = (F.huber_loss(zb / za, alpha ** kf, reduction="none", delta=0.5)
             + F.huber_loss(za / zb, alpha ** -kf, reduction="none", delta=0.5))
    sce = _ce(_shift_probs(pa, k, max_shift).detach(), lb) + _ce(_shift_probs(pb, -k, max_shift).detach(), la)
    return equiv, sce


def gaussian_target(bin_pos: torch.Tensor, n_bins: int, sigma: float = 1.0) -> torch.Tensor:
    b = torch.arange(n_bins, device=bin_pos.device, dtype=torch.float32)[None]
    t = torch.exp(-0.5 * ((b - bin_pos[:, None]) / sigma) ** 2)
    return t / t.sum(-1, keepdim=True).clamp_min(1e-12)


# ------------------------------------------------------------------------------ train
def train(cfg: F0Config, *, device: str = "cpu", data: dict | None = None) -> tuple[PestoNet, dict]:
    """Train a ``PestoNet`` with the recipe's losses; returns (model, log dict)."""
    if device == "cpu":
        torch.use_deterministic_algorithms(True)
    data = data if data is not None else training_data(cfg.seed, cfg)
    torch.manual_seed(cfg.seed)  # after the data: building a cold cache draws from torch's RNG
    db_all = torch.from_numpy(np.ascontiguousarray(data["db"]))          # float16, cast per batch
    midi_all = torch.from_numpy(data["midi"])
    voiced_all = torch.from_numpy(data["voiced"])
    n = len(db_all)
    source = np.asarray(data.get("source", np.zeros(n, np.int8)))
    model = PestoNet(filter_scale=cfg.filter_scale, temporal_layers=cfg.temporal_layers,
                     channels=cfg.channels).to(device)
    # a run of ``seq`` consecutive frames (one clip) per example when the model reads context
    seq = max(1, int(cfg.seq_frames)) if model.context_frames else 1
    clip = np.asarray(data.get("clip", np.zeros(n, np.int32)))
    ok = np.zeros(n, bool)                      # a run may start here: it stays in one clip
    if n >= seq:
        ok[: n - seq + 1] = clip[: n - seq + 1] == clip[seq - 1:]
    pools = [torch.from_numpy(np.flatnonzero((source == s) & ok)) for s in range(len(cfg.p_sources))]
    p_src = torch.tensor([p if len(pool) else 0.0 for p, pool in zip(cfg.p_sources, pools)])
    n_seq = max(1, cfg.batch // seq)
    nb = n_seq * seq                            # frames per view
    offs = torch.arange(seq)
    bps = model.bins_per_semitone
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.steps, pct_start=0.1)
    g = torch.Generator().manual_seed(cfg.seed)
    ms = cfg.max_shift
    use_inv = cfg.w_inv > 0
    log.info("training %s: %d params (context +-%d frames), %d frames (%.0f%% voiced; per source %s), "
             "%d steps of %d runs x %d frames on %s", MODEL_NAME, n_parameters(model), model.context_frames,
             n, 100 * float(voiced_all.float().mean()), [len(p) for p in pools], cfg.steps, n_seq, seq, device)
    t0 = time.perf_counter()
    hist = []

    def per_frame(t: torch.Tensor) -> torch.Tensor:
        return t.repeat_interleave(seq)

    for step in range(cfg.steps):
        # each run: a source drawn by ``p_sources``, then a start frame of that source
        src = torch.multinomial(p_src, n_seq, replacement=True, generator=g)
        start = torch.empty(n_seq, dtype=torch.long)
        for s_i, pool in enumerate(pools):
            sel = src == s_i
            if int(sel.sum()) and len(pool):
                start[sel] = pool[torch.randint(0, len(pool), (int(sel.sum()),), generator=g)]
        idx = (start[:, None] + offs[None]).reshape(-1)
        db = db_all[idx].float()
        midi = midi_all[idx]
        v = voiced_all[idx]
        k1 = torch.randint(-ms // 2, ms // 2 + 1, (n_seq,), generator=g)
        k = torch.randint(1, ms + 1, (n_seq,), generator=g) * (torch.randint(0, 2, (n_seq,), generator=g) * 2 - 1)
        k2 = (k1 + k).clamp(-ms, ms)
        k1, k2 = per_frame(k1), per_frame(k2)
        k = k2 - k1
        xa = augment(shift_frames(db, k1, max_shift=ms), g, group=seq)
        xb = augment(shift_frames(db, k2, max_shift=ms), g, group=seq)
        if use_inv:
            xa2 = augment(shift_frames(db, k1, max_shift=ms), g, group=seq)
            views = [(xa, k1), (xa2, k1), (xb, k2)]
        else:
            views = [(xa, k1), (xb, k2)]
        x = torch.cat([xv for xv, _ in views]).to(device)
        if model.context_frames:
            x = x.reshape(-1, seq, x.shape[-1])                   # runs of consecutive frames
        logits, vlog = model.forward_db(x)
        logits, vlog = logits.reshape(-1, logits.shape[-1]), vlog.reshape(-1)
        lv = logits.split(nb)
        la, lb = lv[0], lv[-1]
        vd = v.to(device)
        vf = vd.float()
        nv = vf.sum().clamp_min(1.0)
        equiv, sce = ssl_losses(la, lb, k.to(device), max_shift=ms)
        if use_inv:
            la2 = lv[1]
            inv = 0.5 * (_ce(torch.softmax(la, -1).detach(), la2) + _ce(torch.softmax(la2, -1).detach(), la))
        else:
            inv = torch.zeros_like(equiv)
        # supervised: label bin of each view
        lab = ((midi - C.FMIN_MIDI) * bps).to(device)
        sup = sum(_ce(gaussian_target(lab + kk.to(device), model.n_bins), ll)
                  for ll, (_, kk) in zip(lv, views))
        l_equiv = (equiv * vf).sum() / nv
        l_sce = (sce * vf).sum() / nv
        l_inv = (inv * vf).sum() / nv
        l_sup = (sup * vf).sum() / nv / len(views)
        l_voi = F.binary_cross_entropy_with_logits(vlog, vf.repeat(len(views)))
        loss = (cfg.w_equiv * l_equiv + cfg.w_shift_ce * l_sce + cfg.w_inv * l_inv
                + cfg.w_sup * l_sup + cfg.w_voicing * l_voi)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 50 == 0 or step == cfg.steps - 1:
            rec = {"step": step, "loss": round(float(loss.detach()), 4), "equiv": round(float(l_equiv.detach()), 4), "shift_ce": round(float(l_sce.detach()), 4),
                   "inv": round(float(l_inv.detach()), 4), "sup": round(float(l_sup.detach()), 4), "voicing": round(float(l_voi.detach()), 4),
                   "s": round(time.perf_counter() - t0, 1)}
            hist.append(rec)
            log.info("%s", rec)
    model.eval()
    return model, {"history": hist, "train_seconds": time.perf_counter() - t0, "n_frames": n}


def steady_tone(midi: float, *, duration_s: float = 1.0, sr: int = C.SAMPLE_RATE,
                n_harmonics: int = 8, rolloff_db: float = -6.0) -> np.ndarray:
    """A steady harmonic tone at MIDI pitch ``midi`` [shape=(n,)] float32 (calibration, tests)."""
    f0 = 440.0 * 2 ** ((midi - 69) / 12)
    t = np.arange(int(duration_s * sr)) / sr
    y = sum(10 ** (rolloff_db * np.log2(h) / 20) * np.sin(2 * np.pi * h * f0 * t)
            for h in range(1, n_harmonics + 1) if h * f0 < sr / 2 * 0.9)
    return (0.3 * y / np.abs(y).max()).astype(np.float32)


def calibrate(model: PestoNet, *, seed: int = 0, n_tones: int = 48) -> dict:
    """Set ``model.offset_bins`` from steady synthetic tones of known pitch (PESTO's absolute
    pitch step): the median over tones of (true bin - predicted bin), added to the current
    offset. Returns the residual error statistics (cents) after calibration."""
    rng = np.random.default_rng(seed + 7)
    model = model.cpu()
    run = Audio2F0(model)
    pitches = rng.uniform(40, 84, n_tones)
    preds = []
    for m in pitches:
        with torch.inference_mode():
            mag = model.input_cqt(steady_tone(float(m))).numpy()
        out = run(mag[:, 20:-20])
        preds.append(float(np.median(out["pitch_midi"])))
    err_semitones = np.asarray(preds) - pitches
    model.offset_bins -= float(np.median(err_semitones)) * model.bins_per_semitone
    resid_cents = (err_semitones - np.median(err_semitones)) * 100
    return {"calibration_shift_bins": float(-np.median(err_semitones) * model.bins_per_semitone),
            "calibration_resid_cents_median_abs": float(np.median(np.abs(resid_cents)))}


def synthetic_eval(model: PestoNet, *, seed: int = 12345, n_clips: int = 20) -> dict:
    """RPA (50 cents) and voicing accuracy on held-out synthetic clips (another seed)."""
    rng = np.random.default_rng(seed)
    run = Audio2F0(model.cpu())
    hits, nv, vacc, nf = 0, 0, 0, 0
    for _ in range(n_clips):
        y, f0, v = synth_tone_clip(rng)
        with torch.inference_mode():
            mag = model.input_cqt(y).numpy()
        out = run(mag)
        m = min(len(f0), len(out["freqs_hz"]))
        cents = 1200 * np.abs(np.log2(out["freqs_hz"][:m] / f0[:m]))
        hits += int(np.sum((cents < 50) & v[:m]))
        nv += int(v[:m].sum())
        vacc += int(np.sum((out["voicing"][:m] > 0.5) == v[:m]))
        nf += m
    return {"synthetic_rpa": hits / max(1, nv), "synthetic_voicing_acc": vacc / max(1, nf)}


def main(argv=None) -> int:
    p = recipe_parser("f0", "Train the PESTO-style f0 model and write it to models/.", F0Config,
                      MODELS_DIR, items=False)
    p.add_argument("--corpus-items", type=int, default=F0Config.corpus_items,
                   help="items of the training corpus (10-16 s each; 0: synthetic clips only)")
    p.add_argument("--filter-scale", type=float, default=F0Config.filter_scale,
                   help="CQT window length relative to the HCQT's (1: use the HCQT h=1 channel)")
    p.add_argument("--w-sup", type=float, default=F0Config.w_sup, help="weight of the supervised pitch term")
    p.add_argument("--no-supervised", action="store_true", help="self-supervised losses only (ablation)")
    p.add_argument("--temporal-layers", type=int, default=F0Config.temporal_layers,
                   help="residual (time x pitch) convolutions after the per-frame encoder (0: frame by frame)")
    p.add_argument("--synth-version", type=int, choices=(2, 3), default=F0Config.synth_version,
                   help="synthetic clips: 2 (shipped) or 3 (more glides, scoops, fast/deep vibrato)")
    p.add_argument("--channels", type=lambda v: tuple(int(c) for c in v.split(",")),
                   default=F0Config.channels, help="channels of the four per-frame convolutions, e.g. 24,24,16,8")
    p.add_argument("--seq-frames", type=int, default=F0Config.seq_frames,
                   help="consecutive frames per training run (models with temporal layers)")
    args = p.parse_args(argv)
    device = start_run(args)
    cfg = F0Config(steps=args.steps, seed=args.seed, batch=args.batch, threads=args.threads,
                   corpus_items=args.corpus_items, w_sup=args.w_sup, filter_scale=args.filter_scale,
                   temporal_layers=args.temporal_layers, seq_frames=args.seq_frames,
                   synth_version=args.synth_version, channels=tuple(args.channels))
    if args.no_supervised:
        cfg.w_sup = 0.0
    model, info = train(cfg, device=device)
    model = model.cpu()
    cal = calibrate(model, seed=cfg.seed)
    syn = synthetic_eval(model)
    log.info("calibration %s; held-out synthetic %s", cal, syn)
    frames = (f"runs of consecutive frames (context +-{model.context_frames} frames)" if model.context_frames
              else "one frame at a time")
    entry = save_model(
        model, name=MODEL_NAME, version=MODEL_VERSION, file=MODEL_FILE, models_dir=args.out,
        extra={"offset_bins": float(model.offset_bins)},
        sample_rate=C.SAMPLE_RATE, hop_length=C.HOP_LENGTH,
        input=({"feature": "hcqt", "harmonic": 1.0, "n_bins": C.N_BINS, "fmin_hz": C.FMIN_HZ,
                "bins_per_octave": C.BINS_PER_OCTAVE, "scale": "FrontEnd.hcqt (reference) magnitude",
                "frames": frames} if model.uses_hcqt else
               {"feature": "audio", "transform": "PestoNet.input_cqt (own CQT: the HCQT h=1 bins, "
                f"filter_scale {cfg.filter_scale:g})", "n_bins": C.N_BINS, "fmin_hz": C.FMIN_HZ,
                "bins_per_octave": C.BINS_PER_OCTAVE, "filter_scale": cfg.filter_scale,
                "frames": frames}),
        recipe=f"python -m workstation.training f0 --steps {cfg.steps} --seed {cfg.seed}"
               f" --batch {cfg.batch} --threads {cfg.threads} --corpus-items {cfg.corpus_items}"
               f" --w-sup {cfg.w_sup:g} --filter-scale {cfg.filter_scale:g}"
               + (f" --temporal-layers {cfg.temporal_layers} --seq-frames {cfg.seq_frames}"
                  if cfg.temporal_layers else "")
               + (f" --synth-version {cfg.synth_version}" if cfg.synth_version != 2 else "")
               + (f" --channels {','.join(map(str, cfg.channels))}" if tuple(cfg.channels) != F0Config.channels else "")
               + (" --no-supervised" if args.no_supervised else ""),
        data=(f"{cfg.n_tone_clips} synthetic sung-like harmonic clips of {cfg.tone_clip_s:g} s (random spectra, "
              + ("portamento 0-300 ms, onset scoops, vibrato 4-8 Hz up to 100 cents with delayed onset, "
                 if cfg.synth_version >= 3 else "portamento, vibrato, ")
              + "breath, noise)"
              f" + melody stems of {cfg.n_demo_pieces} demo.compose pieces "
              f"rendered with FluidSynth (FluidR3_GM)"
              + (f" + workstation.training.corpus CorpusSpec(n_items={cfg.corpus_items}, seed={cfg.corpus_seed}, "
                 f"duration_s={tuple(cfg.corpus_duration_s)}) melody labels (mono lines and melodies over "
                 f"accompaniment; batch shares synthetic/mono/accompanied {cfg.p_sources})"
                 if cfg.corpus_items else "")
              + f"; info: {info['n_frames']} frames; no evaluation recordings"),
        licence=LICENCE,
        parameters=n_parameters(model),
        metrics={**{k: round(v, 4) for k, v in {**cal, **syn}.items()},
                 "train_seconds": round(info["train_seconds"], 1), "train_device": device,
                 "train_frames": info["n_frames"],
                 "final_losses": info["history"][-1]})
    log.info("wrote %s (sha256 %s)", Path(args.out) / MODEL_FILE, entry["sha256"])
    return 0
