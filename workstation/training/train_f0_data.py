"""The f0 recipe's training data (:mod:`workstation.training.train_f0`): dB CQT frames, labels.

Synthetic sung-like clips (:func:`synth_tone_clip`) and demo melody stems, and the melody
labels of the training corpus's items, each turned into the model's input frames
(``PestoNet.input_cqt`` in dB) and cached under the user cache directory (``platformdirs``),
never under the repository. :func:`training_data` joins them (``db`` [shape=(n, n_bins)],
``midi``, ``voiced``, ``source``, ``clip`` [shape=(n,)]).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from workstation.core import constants as C
from workstation.inference.models.pesto import PestoNet
from workstation.training.common import cache_dir

if TYPE_CHECKING:
    from workstation.training.train_f0 import F0Config

log = logging.getLogger(__name__)

#: cache-file versions: synthetic clips per ``F0Config.synth_version`` (2: the shipped model's
#: data, cached as ``data_v1``; 3: more moving pitch, ``synth_tone_clip(moving=True)``), and
#: the corpus frames.
SYNTH_CACHE_VERSION = {2: 1, 3: 3}
CORPUS_DATA_VERSION = 2


def _cache_dir() -> Path:
    return cache_dir("f0")


def synth_tone_clip(rng: np.random.Generator, *, duration_s: float = 3.0, sr: int = C.SAMPLE_RATE,
                    hop_length: int = C.HOP_LENGTH, midi_range=(38.0, 84.0), moving: bool = False
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A sung-like monophonic clip with exact labels. ``moving=True`` (data version 3): more
    moving pitch (slow glides of 50-300 ms, onset scoops, leaps, vibrato 4-8 Hz up to 100 cents
    with a drifting rate and a delayed onset per note); ``False``: the shipped model's data.

    Returns audio [shape=(n,)] float32, f0_hz [shape=(n_frames,)] and voiced
    [shape=(n_frames,), bool] on the frame grid (frame j at j * hop_length)."""
    n = int(duration_s * sr)
    t = np.arange(n) / sr
    if not moving:
        # --- note sequence with portamento (pitch in MIDI, per sample) ---
        centre = rng.uniform(*midi_range)
        pitch = np.empty(n)
        gate = np.zeros(n)
        pos, prev = 0, centre
        while pos < n:
            dur = int(rng.uniform(0.15, 0.9) * sr)
            note = float(np.clip(prev + rng.normal(0, 3.0), midi_range[0] - 2, midi_range[1] + 2))
            glide = int(rng.uniform(0.0, 0.12) * sr)
            seg = np.full(dur, note)
            g = min(glide, dur)
            if g > 0:
                seg[:g] = prev + (note - prev) * (0.5 - 0.5 * np.cos(np.pi * np.arange(g) / g))
            pitch[pos:pos + dur] = seg[: n - pos]
            voiced_note = rng.random() > 0.15
            gap = int(rng.uniform(0.0, 0.15) * sr) if rng.random() < 0.5 else 0
            gate[pos:min(n, pos + dur - gap)] = 1.0 if voiced_note else 0.0
            pos += dur
            prev = note
        # vibrato and slow drift
        vib_rate = rng.uniform(4.0, 7.5)
        vib_depth = rng.uniform(0.0, 0.9) if rng.random() < 0.7 else 0.0  # semitones
        pitch = pitch + vib_depth * np.sin(2 * np.pi * vib_rate * t + rng.uniform(0, 2 * np.pi))
        pitch = pitch + np.cumsum(rng.normal(0, 0.0008, n))  # drift (random walk)
    else:
        # --- note sequence with portamento and onset scoops (pitch in MIDI, per sample) ---
        centre = rng.uniform(*midi_range)
        pitch = np.empty(n)
        gate = np.zeros(n)
        vib_env = np.zeros(n)          # per-note vibrato depth (semitones), delayed onset
        pos, prev = 0, centre
        while pos < n:
            dur = int(rng.uniform(0.15, 0.9) * sr)
            step = rng.normal(0, 3.0) if rng.random() < 0.85 else rng.choice([-1, 1]) * rng.uniform(5, 12)
            note = float(np.clip(prev + step, midi_range[0] - 2, midi_range[1] + 2))
            # portamento from the previous note: short (0-50 ms) or a slow glide (50-300 ms)
            glide = int((rng.uniform(0.05, 0.3) if rng.random() < 0.45 else rng.uniform(0.0, 0.05)) * sr)
            seg = np.full(dur, note)
            g = min(glide, dur)
            if g > 0:
                seg[:g] = prev + (note - prev) * (0.5 - 0.5 * np.cos(np.pi * np.arange(g) / g))
            elif rng.random() < 0.35:                 # a scoop into the note (mostly from below)
                sc = min(dur, int(rng.uniform(0.04, 0.15) * sr))
                depth = rng.uniform(0.3, 2.0) * (1 if rng.random() < 0.8 else -1)
                seg[:sc] = note - depth * (1 - np.arange(sc) / sc) ** 2
            pitch[pos:pos + dur] = seg[: n - pos]
            depth_v = rng.uniform(0.0, 1.0) if rng.random() < 0.7 else 0.0      # semitones
            delay = int(rng.uniform(0.0, 0.3) * sr)
            ramp_v = np.clip((np.arange(dur) - delay) / (0.15 * sr), 0.0, 1.0)
            vib_env[pos:pos + dur] = (depth_v * ramp_v)[: n - pos]
            voiced_note = rng.random() > 0.15
            gap = int(rng.uniform(0.0, 0.15) * sr) if rng.random() < 0.5 else 0
            gate[pos:min(n, pos + dur - gap)] = 1.0 if voiced_note else 0.0
            pos += dur
            prev = note
        # vibrato (rate 4-8 Hz, drifting) and slow drift
        vib_env = np.convolve(vib_env, np.hanning(2001) / np.hanning(2001).sum(), mode="same")
        rate = rng.uniform(4.0, 8.0) + np.cumsum(rng.normal(0, 0.002, n))
        pitch = pitch + vib_env * np.sin(2 * np.pi * np.cumsum(np.clip(rate, 3.5, 9.0)) / sr
                                         + rng.uniform(0, 2 * np.pi))
        pitch = pitch + np.cumsum(rng.normal(0, 0.0008, n))  # drift (random walk)
    f0 = 440.0 * 2 ** ((pitch - 69) / 12)
    # --- harmonic amplitudes: tilt + formant bumps + per-harmonic jitter ---
    n_h = int(min(40, (sr / 2 * 0.9) // f0.max()))
    h = np.arange(1, n_h + 1)
    tilt = rng.uniform(-14.0, -2.0)                               # dB / octave
    formants = rng.uniform(300, 3500, size=rng.integers(1, 4))
    fh = h[:, None] * f0[None, ::256]                             # [n_h, n_ctl] control rate
    env = tilt * np.log2(h)[:, None] + sum(
        rng.uniform(3, 18) * np.exp(-0.5 * (np.log2(fh / fc) / rng.uniform(0.15, 0.5)) ** 2)
        for fc in formants)
    env = env + rng.normal(0, 3.0, size=(n_h, 1))
    if rng.random() < 0.2:
        env[0] -= rng.uniform(6, 20)                              # weak fundamental
    amp_ctl = 10 ** (env / 20)
    ctl_t = np.arange(amp_ctl.shape[1]) * 256
    phase = 2 * np.pi * np.cumsum(f0) / sr
    y = np.zeros(n)
    for i in range(n_h):
        a = np.interp(np.arange(n), ctl_t, amp_ctl[i])
        a = np.where(h[i] * f0 < sr / 2 * 0.95, a, 0.0)
        y += a * np.sin(h[i] * phase + rng.uniform(0, 2 * np.pi))
    # --- gate envelope (attack/release), shimmer, breath ---
    ramp = int(0.02 * sr)
    kernel = np.hanning(2 * ramp + 1)
    env_g = np.convolve(gate, kernel / kernel.sum(), mode="same")
    shimmer = 1.0 + 0.1 * np.convolve(rng.normal(0, 1, n), np.ones(200) / 200, mode="same") * 5
    y = y * env_g * shimmer
    y /= max(1e-9, np.abs(y).max())
    breath = rng.uniform(0.0, 0.08)
    noise = rng.normal(0, 1, n)
    noise = np.convolve(noise, rng.normal(0, 1, 16) * np.hanning(16), mode="same")
    noise /= max(1e-9, np.abs(noise).max())
    y = y + breath * noise * np.maximum(env_g, rng.random() < 0.3)
    y *= 10 ** (rng.uniform(-30, -3) / 20)
    frames = np.arange(C.n_frames_for(n, hop_length=hop_length)) * hop_length
    frames = np.minimum(frames, n - 1)
    voiced = env_g[frames] > 0.5
    return y.astype(np.float32), f0[frames].astype(np.float32), voiced


def _cqt_frames(audio: np.ndarray, model: PestoNet) -> np.ndarray:
    """dB input frames [shape=(n_frames, n_bins), float16] of one clip (``model.input_cqt``)."""
    with torch.inference_mode():
        mag = model.input_cqt(torch.from_numpy(audio)).T            # [T, F]
        return model.to_db(mag).numpy().astype(np.float16)


def training_data(seed: int, cfg: F0Config) -> dict[str, np.ndarray]:
    """The frames the recipe trains on: ``db`` [shape=(n, n_bins), float16], ``midi``
    [shape=(n,)] (0 where unvoiced), ``voiced`` [shape=(n,), bool], ``source`` [shape=(n,),
    int8]: 0 synthetic clips and demo stems, 1 corpus ``mono`` items, 2 corpus items with
    accompaniment (the label is the melody), ``clip`` [shape=(n,), int32]: the clip (item) each
    frame belongs to (runs of consecutive frames never cross clips). Each part is cached per
    seed/config."""
    parts = [_synth_data(seed, cfg)]
    parts[0]["source"] = np.zeros(len(parts[0]["midi"]), np.int8)
    if cfg.corpus_items:
        parts.append(_corpus_data(cfg))
        parts[1]["clip"] = parts[1]["clip"] + int(parts[0]["clip"].max()) + 1
    return {k: np.concatenate([p[k] for p in parts]) for k in ("db", "midi", "voiced", "source", "clip")}


def _fs_tag(cfg: F0Config) -> str:
    return "" if cfg.filter_scale == 1.0 else f"_fs{cfg.filter_scale:g}"


def corpus_spec(cfg: F0Config):
    from workstation.training.corpus_spec import CorpusSpec
    return CorpusSpec(n_items=cfg.corpus_items, seed=cfg.corpus_seed,
                      duration_s=tuple(cfg.corpus_duration_s))


def _corpus_data(cfg: F0Config) -> dict[str, np.ndarray]:
    """dB CQT frames + melody labels of every item of the training corpus (built first if
    needed; the same spec as the salience recipe's, so one build serves both)."""
    from workstation.training.corpus import Corpus, build_corpus
    from workstation.training.corpus_spec import default_dir

    spec = corpus_spec(cfg)
    path = _cache_dir() / f"corpus_v{CORPUS_DATA_VERSION}_{spec.spec_hash()}{_fs_tag(cfg)}.npz"
    if path.exists():
        with np.load(path) as z:
            log.info("corpus frames from cache %s", path)
            data = {k: z[k] for k in z.files}
        if "clip" not in data:       # a cache written before clip ids: item lengths from labels
            lengths = [len(Corpus(default_dir(spec))[i].melody_f0_hz) for i in range(spec.n_items)]
            if sum(lengths) != len(data["db"]):
                raise RuntimeError(f"{path}: {len(data['db'])} frames, items have {sum(lengths)}")
            data["clip"] = np.repeat(np.arange(len(lengths), dtype=np.int32), lengths)
        return data
    t0 = time.perf_counter()
    cdir = default_dir(spec)
    build_corpus(cdir, spec, workers=cfg.corpus_workers)
    corpus = Corpus(cdir)
    ref = PestoNet(filter_scale=cfg.filter_scale)
    dbs, midis, voiced, source, clip = [], [], [], [], []
    for i in range(len(corpus)):
        item = corpus[i]
        db = _cqt_frames(item.audio.astype(np.float32), ref)
        m = min(len(db), len(item.melody_f0_hz))
        f = item.melody_f0_hz[:m].astype(np.float64)
        v = item.melody_voiced[:m] & (f > 0)
        dbs.append(db[:m])
        midis.append(np.where(v, 69 + 12 * np.log2(np.maximum(f, 1e-3) / 440.0), 0.0))
        voiced.append(v)
        source.append(np.full(m, 1 if item.kind == "mono" else 2, np.int8))
        clip.append(np.full(m, i, np.int32))
    data = {"db": np.concatenate(dbs), "midi": np.concatenate(midis).astype(np.float32),
            "voiced": np.concatenate(voiced).astype(bool), "source": np.concatenate(source),
            "clip": np.concatenate(clip)}
    log.info("corpus %s: %d items, %d frames in %.0f s", cdir, len(corpus), len(data["db"]),
             time.perf_counter() - t0)
    from workstation.core.atomic import save_npz
    save_npz(path, **data)
    return data


def _synth_data(seed: int, cfg: F0Config) -> dict[str, np.ndarray]:
    """Synthetic sung-like clips + demo melody stems (see the module docstring)."""
    key = (f"data_v{SYNTH_CACHE_VERSION[cfg.synth_version]}_s{seed}_t{cfg.n_tone_clips}x{cfg.tone_clip_s:g}"
           f"_d{cfg.n_demo_pieces}{_fs_tag(cfg)}.npz")
    path = _cache_dir() / key
    if path.exists():
        with np.load(path) as z:
            log.info("training data from cache %s", path)
            data = {k: z[k] for k in z.files}
        if "clip" not in data:    # a cache written before clip ids (fine frame by frame)
            data["clip"] = np.zeros(len(data["db"]), np.int32)
        return data
    ref = PestoNet(filter_scale=cfg.filter_scale)
    rng = np.random.default_rng(seed)
    dbs, midis, voiced = [], [], []
    t0 = time.perf_counter()
    for i in range(cfg.n_tone_clips):
        y, f0, v = synth_tone_clip(rng, duration_s=cfg.tone_clip_s, moving=cfg.synth_version >= 3)
        if rng.random() < 0.5:                                    # additive noise, random SNR
            rms = np.sqrt(np.mean(y ** 2)) + 1e-9
            y = y + rng.normal(0, rms * 10 ** (-rng.uniform(10, 40) / 20), len(y)).astype(np.float32)
        dbs.append(_cqt_frames(y, ref))
        midis.append(np.where(v, 69 + 12 * np.log2(f0 / 440.0), 0.0))
        voiced.append(v)
    log.info("%d synthetic clips in %.1f s", cfg.n_tone_clips, time.perf_counter() - t0)
    if cfg.n_demo_pieces:
        from workstation.training import demo_compose, demo_render
        for k in range(cfg.n_demo_pieces):
            piece = demo_compose.compose(10_000 + seed * 1000 + k)
            y = demo_render.render_parts(piece)["melody"].astype(np.float32)
            y = y / max(1e-9, np.abs(y).max()) * 10 ** (rng.uniform(-20, -3) / 20)
            tr = piece.f0_frames()
            db = _cqt_frames(y, ref)
            m = min(len(db), len(tr.freqs_hz))
            v = tr.voiced[:m] & (tr.freqs_hz[:m] > 0)
            dbs.append(db[:m])
            midis.append(np.where(v, 69 + 12 * np.log2(np.maximum(tr.freqs_hz[:m], 1e-3) / 440.0), 0.0))
            voiced.append(v)
        log.info("+ %d demo melody stems, %.1f s in all", cfg.n_demo_pieces, time.perf_counter() - t0)
    data = {"db": np.concatenate(dbs), "midi": np.concatenate(midis).astype(np.float32),
            "voiced": np.concatenate(voiced).astype(bool),
            "clip": np.repeat(np.arange(len(dbs), dtype=np.int32), [len(d) for d in dbs])}
    from workstation.core.atomic import save_npz
    save_npz(path, **data)
    return data
