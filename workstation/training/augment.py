"""Audio augmentations for the training corpus: EQ, reverb, noise, level.

Each function is a pure function of its arguments (randomness comes in through an
explicit ``numpy.random.Generator``). Signals are mono float arrays
[shape=(n_samples,)] at ``sr`` Hz; outputs keep the input length (reverb tails past
the end are cut), so frame labels computed for the dry signal stay aligned.

:func:`draw_augmentation` draws every parameter of one item's chain in a fixed order
(whatever is applied), and :func:`apply_augmentation` applies it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import signal

from workstation.core.constants import SAMPLE_RATE

# ---------------------------------------------------------------------------------------------
# Filters (RBJ audio-EQ cookbook biquads)


def biquad(kind: str, freq_hz: float, gain_db: float, *, sr: int = SAMPLE_RATE, q: float = 0.707) -> np.ndarray:
    """One RBJ biquad as second-order sections [shape=(1, 6)].

    kind: 'lowshelf', 'highshelf' or 'peak'; freq_hz the corner / centre frequency;
    gain_db the shelf or peak gain; q the quality factor (shelves use it as slope-like Q).
    """
    a_lin = 10.0 ** (gain_db / 40.0)
    w0 = 2.0 * math.pi * min(freq_hz, 0.45 * sr) / sr
    cw, sw = math.cos(w0), math.sin(w0)
    alpha = sw / (2.0 * q)
    if kind == "peak":
        b = (1 + alpha * a_lin, -2 * cw, 1 - alpha * a_lin)
        a = (1 + alpha / a_lin, -2 * cw, 1 - alpha / a_lin)
    elif kind in ("lowshelf", "highshelf"):
        sq = 2.0 * math.sqrt(a_lin) * alpha
        s = 1.0 if kind == "lowshelf" else -1.0
        b = (a_lin * ((a_lin + 1) - s * (a_lin - 1) * cw + sq),
             s * 2 * a_lin * ((a_lin - 1) - s * (a_lin + 1) * cw),
             a_lin * ((a_lin + 1) - s * (a_lin - 1) * cw - sq))
        a = ((a_lin + 1) + s * (a_lin - 1) * cw + sq,
             -s * 2 * ((a_lin - 1) + s * (a_lin + 1) * cw),
             (a_lin + 1) + s * (a_lin - 1) * cw - sq)
    else:
        raise ValueError(f"unknown biquad kind {kind!r}")
    b = np.asarray(b) / a[0]
    a = np.asarray(a) / a[0]
    return np.concatenate([b, a])[None, :]


def equalize(y: np.ndarray, bands: list[tuple[str, float, float, float]], *, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Apply a chain of biquads ``bands`` = [(kind, freq_hz, gain_db, q), ...] to ``y`` [shape=(n,)]."""
    if not bands:
        return np.asarray(y, dtype=np.float64).copy()
    sos = np.concatenate([biquad(k, f, g, sr=sr, q=q) for k, f, g, q in bands], axis=0)
    return signal.sosfilt(sos, np.asarray(y, dtype=np.float64))


# ---------------------------------------------------------------------------------------------
# Reverb


def reverb_ir(rt60_s: float, *, sr: int = SAMPLE_RATE, predelay_s: float = 0.01, damping: float = 0.5,
              rng: np.random.Generator) -> np.ndarray:
    """Synthetic room impulse response [shape=(n,)]: exponentially decaying noise.

    rt60_s: time for a 60 dB decay; predelay_s: silence before the tail; damping in [0, 1]:
    high frequencies decay faster (a one-pole low-pass whose cutoff falls along the tail).
    The IR has unit energy.
    """
    n = max(8, int(round(rt60_s * sr)))
    t = np.arange(n) / sr
    noise = rng.standard_normal(n)
    env = np.exp(-6.9078 * t / rt60_s)  # ln(1000): -60 dB at rt60
    tail = noise * env
    if damping > 0:
        # two bands, the upper one decaying faster: crude frequency-dependent absorption
        sos = signal.butter(2, 3000.0, btype="low", fs=sr, output="sos")
        low = signal.sosfilt(sos, tail)
        high = tail - low
        tail = low + high * np.exp(-6.9078 * t * damping * 2.0 / rt60_s)
    ir = np.concatenate([np.zeros(int(round(predelay_s * sr))), tail])
    return ir / (np.sqrt(np.sum(ir ** 2)) + 1e-12)


def add_reverb(y: np.ndarray, ir: np.ndarray, *, wet: float) -> np.ndarray:
    """Mix ``y`` with its convolution by ``ir``; wet in [0, 1] is the wet share of the energy.

    Output [shape=(len(y),)] (the tail past the end is cut).
    """
    y = np.asarray(y, dtype=np.float64)
    w = signal.fftconvolve(y, ir)[: len(y)]
    return math.sqrt(1.0 - wet) * y + math.sqrt(wet) * w


# ---------------------------------------------------------------------------------------------
# Noise and level


def colored_noise(n: int, color: str, *, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS noise [shape=(n,)]: 'white', 'pink' (1/f power) or 'brown' (1/f^2 power)."""
    x = rng.standard_normal(n)
    if color != "white":
        power = {"pink": 1.0, "brown": 2.0}.get(color)
        if power is None:
            raise ValueError(f"unknown noise colour {color!r}")
        spec = np.fft.rfft(x)
        f = np.arange(len(spec), dtype=np.float64)
        f[0] = 1.0
        spec /= f ** (power / 2.0)
        spec[0] = 0.0
        x = np.fft.irfft(spec, n)
    return x / (np.sqrt(np.mean(x ** 2)) + 1e-12)


def add_noise(y: np.ndarray, snr_db: float, color: str, *, rng: np.random.Generator) -> np.ndarray:
    """``y`` plus noise at ``snr_db`` dB below the signal's RMS (measured where it is active)."""
    y = np.asarray(y, dtype=np.float64)
    active = np.abs(y) > 1e-3 * (np.abs(y).max() + 1e-12)
    rms = float(np.sqrt(np.mean(y[active] ** 2))) if active.any() else 0.0
    return y + colored_noise(len(y), color, rng=rng) * rms * 10.0 ** (-snr_db / 20.0)


def set_level(y: np.ndarray, rms_db: float, *, peak_db: float = -0.5) -> np.ndarray:
    """Scale ``y`` to ``rms_db`` dBFS RMS, lowered where needed so the peak stays under ``peak_db``."""
    y = np.asarray(y, dtype=np.float64)
    rms = float(np.sqrt(np.mean(y ** 2)))
    peak = float(np.abs(y).max())
    if peak <= 0:
        return y.copy()
    g = min(10.0 ** (rms_db / 20.0) / max(rms, 1e-12), 10.0 ** (peak_db / 20.0) / peak)
    return y * g


# ---------------------------------------------------------------------------------------------
# The chain


@dataclass(frozen=True)
class AugmentProbs:
    """Probabilities and ranges of the augmentation chain (part of the corpus spec)."""

    p_eq: float = 0.5
    p_reverb: float = 0.5
    p_noise: float = 0.4
    eq_gain_db: tuple[float, float] = (-9.0, 9.0)
    rt60_s: tuple[float, float] = (0.2, 1.6)
    reverb_wet: tuple[float, float] = (0.1, 0.5)
    snr_db: tuple[float, float] = (10.0, 40.0)
    level_db: tuple[float, float] = (-32.0, -14.0)


@dataclass
class Augmentation:
    """The drawn parameters of one item's chain (JSON-serialisable via ``as_dict``)."""

    eq_bands: list = field(default_factory=list)       # [(kind, freq_hz, gain_db, q)]
    rt60_s: float = 0.0                                 # 0 = no reverb
    reverb_wet: float = 0.0
    predelay_s: float = 0.0
    damping: float = 0.0
    reverb_seed: int = 0
    snr_db: float = float("inf")                        # inf = no noise
    noise_color: str = "white"
    noise_seed: int = 0
    level_db: float = -20.0

    def as_dict(self) -> dict:
        d = asdict(self)
        d["eq_bands"] = [list(b) for b in self.eq_bands]
        if math.isinf(self.snr_db):
            d["snr_db"] = None
        return d


def draw_augmentation(rng: np.random.Generator, probs: AugmentProbs) -> Augmentation:
    """Draw one chain; every draw is made (in a fixed order) whether or not it is applied."""
    u_eq, u_rev, u_noise = rng.random(3)
    lo_g, hi_g = probs.eq_gain_db
    bands = [("lowshelf", float(rng.uniform(80, 400)), float(rng.uniform(lo_g, hi_g)), 0.707),
             ("peak", float(np.exp(rng.uniform(np.log(300), np.log(4000)))), float(rng.uniform(lo_g, hi_g)),
              float(rng.uniform(0.5, 3.0))),
             ("highshelf", float(rng.uniform(2500, 8000)), float(rng.uniform(lo_g, hi_g)), 0.707)]
    rt60 = float(rng.uniform(*probs.rt60_s))
    wet = float(rng.uniform(*probs.reverb_wet))
    predelay = float(rng.uniform(0.0, 0.04))
    damping = float(rng.uniform(0.0, 1.0))
    reverb_seed = int(rng.integers(2 ** 31))
    snr = float(rng.uniform(*probs.snr_db))
    color = ("white", "pink", "brown")[int(rng.integers(3))]
    noise_seed = int(rng.integers(2 ** 31))
    level = float(rng.uniform(*probs.level_db))
    return Augmentation(eq_bands=bands if u_eq < probs.p_eq else [],
                        rt60_s=rt60 if u_rev < probs.p_reverb else 0.0,
                        reverb_wet=wet if u_rev < probs.p_reverb else 0.0,
                        predelay_s=predelay, damping=damping, reverb_seed=reverb_seed,
                        snr_db=snr if u_noise < probs.p_noise else float("inf"),
                        noise_color=color, noise_seed=noise_seed, level_db=level)


def apply_augmentation(y: np.ndarray, aug: Augmentation, *, sr: int = SAMPLE_RATE) -> np.ndarray:
    """EQ, then reverb, then noise, then level; float32 [shape=(n_samples,)] peaking under -0.5 dBFS."""
    x = equalize(y, aug.eq_bands, sr=sr)
    if aug.rt60_s > 0 and aug.reverb_wet > 0:
        ir = reverb_ir(aug.rt60_s, sr=sr, predelay_s=aug.predelay_s, damping=aug.damping,
                       rng=np.random.default_rng(aug.reverb_seed))
        x = add_reverb(x, ir, wet=aug.reverb_wet)
    if math.isfinite(aug.snr_db):
        x = add_noise(x, aug.snr_db, aug.noise_color, rng=np.random.default_rng(aug.noise_seed))
    return set_level(x, aug.level_db).astype(np.float32)
