"""``key``: global key and a local-key timeline: DSP (tuned, whitened peak chroma and key
profiles) or a learned ChromaNet-style model (``method="learned"``).

``method="dsp"``:

Per chunk: spectral-peak fine pitch-class histogram of the STFT magnitude
(``core.tonal.peak_pitch_histogram``), summed into blocks of ``tonal.BLOCK_FRAMES``
frames (186 ms; 60 x 19k floats for an hour). At the end: tuning from the whole
histogram, 12-bin chroma per block, per-block normalisation with a temporal
median (drops transients), global key from the summed chroma, local key from a
sliding window smoothed by an HMM over 24 keys.

Why the STFT and not ``hcqt()[1]``: the nnAudio reference HCQT runs at about 6x
real time on two cores, while this chroma runs at about 500x real time on top of
an STFT the front end shares (measured on a 60-min file); an HCQT chroma would
only pay off once the HCQT is fast and already computed for the salience analyzer.

``method="learned"``: the model ``key`` from ``models/`` (sha256-checked; see
``workstation.inference.models.key``). Per chunk: the whitened STFT peaks on a 20-cent
log-frequency grid over six octaves (``block_map``), summed into the same 186-ms blocks
(366 floats per block, 28 MB for an hour). At the end: tuning from the folded map, the
network's pitch-class features once over the whole map, averaged over windows of
``window_s`` every ``hop_s``; each window's 24 key probabilities are the emissions of the
same HMM as the DSP path (Viterbi segments, forward-backward confidence); the global key is
the product of the windows' probabilities (mean log-probability), its confidence the
resulting probability of the best key.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import median_filter

from workstation.analysis.base import Analyzer, register
from workstation.core import constants as C
from workstation.core import tonal
from workstation.core.types import Key

METHODS = ("dsp", "learned")
#: the default method: the learned model, which beats the DSP path on real recordings
#: (benchmarks/accuracy.py --tasks key, GTZAN 10 clips + sax: MIREX weighted 0.573 vs 0.473,
#: best essentia KeyExtractor profile 0.509) and on held-out corpus items (0.74 vs 0.59); the
#: DSP path is about twice as fast.
DEFAULT_METHOD = "learned"


@register
class KeyAnalyzer(Analyzer):
    id = "key"
    methods = METHODS
    version = 1
    result_type = Key
    features = ("stft_mag",)
    default_params = {
        "method": DEFAULT_METHOD,
        "model": "key",
        "profile": "bgate",          # krumhansl | temperley | edma | bgate (best measured, see report)
        "fmin_hz": 80.0,
        "fmax_hz": 5000.0,
        "median_blocks": 5,          # temporal median over blocks (5 x 186 ms)
        "window_s": 12.0,            # local-key window
        "hop_s": 1.0,
        "p_change": 0.005,           # HMM key-change probability per hop
        "temperature": 0.05,
    }
    description = ("Global key and local-key segments (dsp: peak chroma, key profiles, HMM; "
                   "learned: ChromaNet-style key network, same HMM)")

    def __init__(self, **params):
        super().__init__(**params)
        if self.params["method"] not in METHODS:
            raise ValueError(f"{self.id}: method must be one of {METHODS}, got {self.params['method']!r}")

    def run(self, chunks, track):
        p = self.params
        if p["method"] == "learned":
            return (yield from self._run_learned(chunks, track))
        blocks: list[np.ndarray] = []
        carry = np.zeros((tonal.N_FINE, 0), dtype=np.float32)
        for chunk in chunks:
            fine = tonal.peak_pitch_histogram(chunk.stft_mag(), fmin_hz=p["fmin_hz"],
                                              fmax_hz=p["fmax_hz"])
            fine = np.concatenate([carry, fine], axis=1) if carry.shape[1] else fine
            n_full = (fine.shape[1] // tonal.BLOCK_FRAMES) * tonal.BLOCK_FRAMES
            if n_full:
                blocks.append(tonal.block_sum(fine[:, :n_full]))
            carry = fine[:, n_full:]
            yield chunk.progress
        if carry.shape[1]:
            blocks.append(tonal.block_sum(carry))
        fine = np.concatenate(blocks, axis=1) if blocks else np.zeros((tonal.N_FINE, 0), np.float32)
        return decode_key(fine, duration_s=track.duration_s, **{k: p[k] for k in (
            "profile", "median_blocks", "window_s", "hop_s", "p_change", "temperature")})


    def _run_learned(self, chunks, track):
        from workstation.inference.models.key import BLOCK_FRAMES, block_map
        from workstation.inference.weights import load_model

        p = self.params
        model = load_model(p["model"], device=track.device or "cpu")
        blocks: list[np.ndarray] = []
        carry = None
        for chunk in chunks:
            m = chunk.stft_mag()
            if carry is not None and carry.shape[1]:
                m = np.concatenate([carry, m], axis=1)
            n_full = (m.shape[1] // BLOCK_FRAMES) * BLOCK_FRAMES
            if n_full:
                blocks.append(block_map(m[:, :n_full]))
            carry = m[:, n_full:]
            yield chunk.progress
        if carry is not None and carry.shape[1]:
            blocks.append(block_map(carry))
        if not blocks:
            return Key(tonic_pc=0, mode="major", confidence=0.0)
        return decode_key_learned(np.concatenate(blocks, axis=1), model, duration_s=track.duration_s,
                                  device=track.device or "cpu", window_s=p["window_s"],
                                  hop_s=p["hop_s"], p_change=p["p_change"])


def decode_key_learned(block_maps: np.ndarray, model, *, duration_s: float, device: str = "cpu",
                       window_s: float = 12.0, hop_s: float = 1.0, p_change: float = 0.005) -> Key:
    """Key result from the key maps of a whole track [shape=(MAP_BINS + 2 * TUNING_MARGIN,
    n_blocks)] (``inference.models.key.block_map``) and a ``KeyNet``."""
    from workstation.inference.models.key import BLOCK_S, Audio2Key, tune_map

    if block_maps.shape[1] == 0 or not np.any(block_maps):
        return Key(tonic_pc=0, mode="major", confidence=0.0)
    x, _cents = tune_map(block_maps)
    win = max(1, int(round(window_s / BLOCK_S)))
    hop = max(1, int(round(hop_s / BLOCK_S)))
    logp, centres = Audio2Key(model, device=device)(x, window_blocks=win, hop_blocks=hop)
    g = logp.mean(axis=1)
    g = np.exp(g - g.max())
    g /= g.sum()
    k = int(np.argmax(g))
    em = np.exp(logp.astype(np.float64))
    A = tonal.key_transition_matrix(p_change)
    path = tonal.viterbi(np.log(em + 1e-12), np.log(A))
    post = tonal.forward_backward(em, A)
    change = np.flatnonzero(np.diff(path)) + 1
    starts_i = np.concatenate([[0], change])
    ends_i = np.concatenate([change, [len(path)]])
    t_c = (centres + 0.5) * BLOCK_S
    start_s = np.concatenate([[0.0], 0.5 * (t_c[change - 1] + t_c[change])])
    end_s = np.concatenate([start_s[1:], [duration_s]])
    keys = path[starts_i]
    conf = np.array([post[keys[i], starts_i[i]:ends_i[i]].mean() for i in range(len(keys))])
    return Key(tonic_pc=k % 12, mode=tonal.MODES[k // 12], confidence=float(g[k]),
               local_start_s=start_s, local_end_s=end_s, local_tonic_pc=(keys % 12).astype(np.int64),
               local_mode=[tonal.MODES[int(q) // 12] for q in keys],
               local_confidence=np.clip(conf, 0.0, 1.0))


def decode_key(fine_blocks: np.ndarray, *, duration_s: float, profile: str = "temperley",
               median_blocks: int = 5, window_s: float = 12.0, hop_s: float = 1.0,
               p_change: float = 0.005, temperature: float = 0.05) -> Key:
    """Key result from block fine histograms [shape=(tonal.N_FINE, n_blocks)]."""
    block_s = tonal.BLOCK_FRAMES * C.HOP_LENGTH / C.SAMPLE_RATE
    chroma, _tuning = tonal.chroma_from_fine(fine_blocks)
    peak = chroma.max(axis=0, keepdims=True)
    norm = np.divide(chroma, peak, out=np.zeros_like(chroma), where=peak > 1e-9)
    if median_blocks > 1 and norm.shape[1] >= median_blocks:
        norm = median_filter(norm, size=(1, median_blocks), mode="nearest")
    if norm.shape[1] == 0 or not np.any(norm):
        return Key(tonic_pc=0, mode="major", confidence=0.0)
    g = tonal.estimate_key(norm.sum(axis=1), profile=profile, temperature=temperature)
    loc = tonal.local_keys(norm, block_s=block_s, duration_s=duration_s, profile=profile,
                           window_s=window_s, hop_s=hop_s, p_change=p_change,
                           temperature=temperature)
    return Key(tonic_pc=g.tonic_pc, mode=g.mode, confidence=g.confidence,
               local_start_s=loc.start_s, local_end_s=loc.end_s,
               local_tonic_pc=loc.key % 12,
               local_mode=[tonal.MODES[k // 12] for k in loc.key],
               local_confidence=loc.confidence)
