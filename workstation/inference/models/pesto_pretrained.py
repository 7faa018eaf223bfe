"""Pretrained PESTO pitch estimator (checkpoint ``mir-1k_g7`` of pesto-pitch 2.0.1), ported.

Port of the inference path of pesto-pitch 2.0.1 (Alain Riou, Stefan Lattner, Gaëtan Hadjeres,
Geoffroy Peeters; Sony CSL Paris; https://github.com/SonyCSLParis/pesto; "PESTO: Pitch
Estimation with Self-supervised Transposition-equivariant Objective", ISMIR 2023), whose CQT is
in turn adapted from nnAudio (K. W. Cheuk et al.). Licence: this module and the checkpoint
``models/pesto_mir-1k_g7.ckpt`` are derived from pesto-pitch 2.0.1 and are distributed under the
GNU Lesser General Public License v3.0 (LGPL-3.0); see ``models/LICENCE.pesto.txt``. It runs
without the ``pesto`` package and without ``torchaudio``.

Inference path (as ``pesto.predict(x, sr, step_size, model_name="mir-1k_g7")``):

1. CQT (nnAudio-style, one harmonic): ``n_bins = 251`` bins at 36 bins per octave (3 per
   semitone) from ``27.5 / 2 ** (2 / 72)`` Hz (bins centred on MIDI semitones), variable-Q with
   ``gamma = 7`` (shorter windows in the bass), periodic Hann windows, L1-normalised kernels
   times ``sqrt(length)`` ("librosa" normalisation); frames centred (reflect padding of half the
   4096-sample kernel width) on sample ``k * hop``. Kernels are built for the audio's rate, so
   pesto needs no resampling: at 22050 Hz with ``hop = 256`` its frame grid is ours.
2. ``dB = 20 log10(max(|cqt|, eps))``; the confidence head sees the power ``10 ** (dB / 10)``,
   the network sees ``dB * ln(10) / 10`` (= natural log of power; pesto scales in place)
   cropped to bins ``[16, 235)`` (219 bins).
3. ``Resnet1d``: LayerNorm over the 219 bins, Conv1d 1->40 (k 39), two residual Conv1d 40->40
   (k 39), 1x1 convs 40->30->30->10->3 (LeakyReLU 0.3), flatten (657), Toeplitz layer
   (a 1040-tap full convolution, 657 -> 384) and softmax: 384 bins, 3 per semitone.
4. Roll the distribution by ``-round(shift * 3)`` (``shift`` = 6.678 semitones, the
   checkpoint's calibration) so that bin ``b`` is MIDI pitch ``b / 3``; f0 = argmax-local
   weighted average over the 5 bins around the argmax ("alwa"), in Hz
   ``440 * 2 ** ((midi - 69) / 12)``.
5. Confidence: pesto's small classifier on the power spectrum (Conv1d k 39 stride 3 + spectral
   flatness -> linear -> sigmoid); it depends on the absolute level, and through the
   ``sqrt(length)`` normalisation on the rate the CQT runs at (pesto on 44.1 kHz audio reads
   about 3 dB more power than on the same audio at 22.05 kHz). ``Audio2PestoPretrained``
   always runs at 22050 Hz (other rates are resampled first, ``core.audio.resample``), i.e. it matches
   ``pesto.predict(x22050, 22050, step_size=1000 * 256 / 22050)`` to float32 rounding.

Speed: the two 40->40 convolutions (about 90 % of the multiply-adds) run as FFT products over
the frequency axis and the Toeplitz layer as a matrix product; ``Resnet1d.forward_reference``
keeps pesto's layer-by-layer path (the tests check both agree).

The Lightning checkpoint pickles two omegaconf containers in its ``hparams``; it is read with
``torch.load(weights_only=True)`` and inert stand-in classes allow-listed under the omegaconf
names (no omegaconf import, no code run), then turned into plain lists / dicts.
"""

from __future__ import annotations

import collections
import math
import typing
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from workstation.core import constants as C
from workstation.inference.weights import register_format

#: Bins per semitone of the CQT and of the output distribution (checked against the checkpoint).
BINS_PER_SEMITONE: int = 3
#: Number of bins of the output pitch distribution (MIDI 0 .. 127 + 2/3).
N_OUT_BINS: int = 128 * BINS_PER_SEMITONE


# ----------------------------------------------------------------------------------------------
# Checkpoint loading (weights_only=True, no omegaconf)

class _Stub:
    """Inert stand-in for an omegaconf class: unpickling only fills ``__dict__``."""


def _stub(module: str, name: str) -> type:
    return type(name, (_Stub,), {"__module__": module, "__qualname__": name})


_STUBS = (_stub("omegaconf.listconfig", "ListConfig"), _stub("omegaconf.dictconfig", "DictConfig"),
          _stub("omegaconf.base", "ContainerMetadata"), _stub("omegaconf.base", "Metadata"),
          _stub("omegaconf.nodes", "AnyNode"))
#: Globals the checkpoint's omegaconf metadata refers to (types only; ``defaultdict(dict)``).
_PLAIN_GLOBALS = (typing.Any, collections.defaultdict, dict, list, int)


def _plain(obj: typing.Any) -> typing.Any:
    """Omegaconf stand-ins -> plain Python values (ListConfig -> list, DictConfig -> dict)."""
    if isinstance(obj, _Stub):
        name, d = type(obj).__qualname__, obj.__dict__
        if name == "AnyNode":
            return _plain(d.get("_val"))
        if name == "ListConfig":
            return [_plain(v) for v in d.get("_content") or []]
        if name == "DictConfig":
            return {k: _plain(v) for k, v in (d.get("_content") or {}).items()}
        raise ValueError(f"unexpected omegaconf object in checkpoint: {name}")
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def read_checkpoint(path: str | Path) -> dict[str, typing.Any]:
    """Read a pesto Lightning checkpoint safely -> ``{"state_dict", "hparams", "hcqt_params"}``.

    ``torch.load(weights_only=True)``; the omegaconf globals are allow-listed as inert stubs for
    this call only, and only the tensors and plain values the model needs are returned.
    """
    with torch.serialization.safe_globals([*_STUBS, *_PLAIN_GLOBALS]):
        ckpt = torch.load(str(path), map_location="cpu", weights_only=True)
    return {"state_dict": dict(ckpt["state_dict"]), "hparams": _plain(ckpt["hparams"]),
            "hcqt_params": _plain(ckpt["hcqt_params"])}


# ----------------------------------------------------------------------------------------------
# CQT front end (pesto.utils.hcqt, itself from nnAudio)

def cqt_kernels(sr: int, fmin: float, n_bins: int, bins_per_octave: int, gamma: float
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """pesto/nnAudio ``create_cqt_kernels`` (periodic Hann, L1 norm).

    Returns (kernels complex64 [shape=(n_bins, width)] with each kernel's time 0 at
    ``width // 2``, lengths in samples [shape=(n_bins,)], centre frequencies Hz [shape=(n_bins,)]).
    """
    q = 1.0 / (2.0 ** (1.0 / bins_per_octave) - 1.0)
    freqs = fmin * 2.0 ** (np.arange(n_bins) / float(bins_per_octave))
    if freqs.max() > sr / 2:
        raise ValueError(f"top CQT bin {freqs.max():.1f} Hz is above Nyquist at {sr} Hz")
    alpha = 2.0 ** (1.0 / bins_per_octave) - 1.0
    lengths = np.ceil(q * sr / (freqs + gamma / alpha))
    width = int(2 ** np.ceil(np.log2(int(lengths.max()))))
    kernels = np.zeros((n_bins, width), dtype=np.complex64)
    for k in range(n_bins):
        n = lengths[k]
        start = int(np.ceil(width / 2.0 - n / 2.0)) - (1 if n % 2 == 1 else 0)
        window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(int(n)) / n)   # scipy hann, fftbins
        sig = window * np.exp(np.r_[-n // 2: n // 2] * 1j * 2 * np.pi * freqs[k] / sr) / n
        kernels[k, start:start + int(n)] = sig / np.linalg.norm(sig, 1)
    return kernels, lengths, freqs


class PestoCQT(nn.Module):
    """pesto's CQT (``harmonics=[1]``, ``center=True``) as a matrix on framed audio.

    ``forward(frames)``: frames [shape=(batch, width)] float32 audio, frame ``k`` =
    reflect-padded samples ``[k*hop - width//2, k*hop + width//2)`` -> log-magnitude in dB
    [shape=(batch, n_bins)] (``20 log10(max(|cqt|, eps))``).
    """

    def __init__(self, *, sr: int, hop_length: int, fmin: float, n_bins: int,
                 bins_per_semitone: int, gamma: float = 0.0, center_bins: bool = True, **unused):
        super().__init__()
        if center_bins:
            fmin = fmin / 2 ** ((bins_per_semitone - 1) / (24 * bins_per_semitone))
        kernels, lengths, freqs = cqt_kernels(sr, fmin, n_bins, 12 * bins_per_semitone, gamma)
        self.sr, self.hop_length, self.n_bins = int(sr), int(hop_length), int(n_bins)
        self.width = kernels.shape[1]
        self.frequencies = freqs
        k = torch.from_numpy(kernels)
        # conv weight of pesto: cat(real, -imag), times sqrt(length) (librosa normalisation)
        w = torch.cat((k.real, -k.imag), 0) * torch.from_numpy(np.sqrt(lengths)).float().repeat(2)[:, None]
        self.register_buffer("weight_t", w.T.contiguous(), persistent=False)   # [width, 2 n_bins]
        self.eps = torch.finfo(torch.float32).eps

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        ri = frames @ self.weight_t                                       # [batch, 2 n_bins]
        mag = torch.hypot(ri[:, :self.n_bins], ri[:, self.n_bins:])
        return mag.clamp_(min=self.eps).log10_().mul_(20.0)


# ----------------------------------------------------------------------------------------------
# Network (pesto.model)

class ToeplitzLinear(nn.Conv1d):
    """pesto's Toeplitz layer: a full 1-D convolution [batch, in] -> [batch, out]."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__(1, 1, kernel_size=in_features + out_features - 1,
                         padding=out_features - 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.unsqueeze(-2)).squeeze(-2)


class Resnet1d(nn.Module):
    """pesto's encoder (inference only; dropout layers kept as identities for the key names).

    ``forward(x)``: x [shape=(batch, 1, n_bins_in)] log power -> pitch distribution
    [shape=(batch, output_dim)] (softmax, before pesto's shift). After ``prepare()`` (done by
    ``load_pesto_pretrained``) the wide convolutions run as FFT products and the Toeplitz layer
    as a matrix product (same maths, float32 rounding only, about twice as fast on CPU);
    ``forward_reference`` is pesto's literal layer-by-layer path.
    """

    def __init__(self, n_chan_input: int = 1, n_chan_layers=(20, 20, 10, 1), n_prefilt_layers: int = 1,
                 prefilt_kernel_size: int = 15, residual: bool = False, n_bins_in: int = 216,
                 output_dim: int = 128, activation_fn: str = "leaky", a_lrelu: float = 0.3,
                 final_norm: str = "softmax", **unused):
        super().__init__()
        act = {"relu": nn.ReLU, "silu": nn.SiLU,
               "leaky": lambda: nn.LeakyReLU(negative_slope=a_lrelu)}[activation_fn]
        if final_norm != "softmax":
            raise ValueError(f"unsupported final_norm {final_norm!r}")
        ch = list(n_chan_layers)
        if len(ch) < 5:
            ch.append(1)
        pad = prefilt_kernel_size // 2
        self.layernorm = nn.LayerNorm(normalized_shape=[n_chan_input, n_bins_in])
        self.conv1 = nn.Sequential(nn.Conv1d(n_chan_input, ch[0], prefilt_kernel_size, padding=pad),
                                   act(), nn.Identity())
        self.n_prefilt_layers, self.residual = n_prefilt_layers, residual
        self.prefilt_layers = nn.ModuleList([
            nn.Sequential(nn.Conv1d(ch[0], ch[0], prefilt_kernel_size, padding=pad), act(), nn.Identity())
            for _ in range(n_prefilt_layers - 1)])
        layers: list[nn.Module] = []
        for i in range(len(n_chan_layers) - 1):
            layers += [nn.Conv1d(ch[i], ch[i + 1], 1), act(), nn.Identity()]
        self.conv_layers = nn.Sequential(*layers)
        self.fc = ToeplitzLinear(n_bins_in * ch[-1], output_dim)
        self.n_bins_in, self.output_dim = n_bins_in, output_dim
        self.n_fft = 0                                                    # 0: not prepared

    def forward_reference(self, x: torch.Tensor) -> torch.Tensor:
        """pesto's ``Resnet1d.forward`` (eval mode)."""
        x = self.conv1(self.layernorm(x))
        for layer in self.prefilt_layers:
            x = layer(x) + x if self.residual else layer(x)
        x = self.conv_layers(x).flatten(1)
        return torch.softmax(self.fc(x), dim=-1)

    @torch.no_grad()
    def prepare(self, n_fft: int = 270) -> None:
        """Precompute the fast path from the loaded weights: FFTs of the flipped prefilter
        kernels [shape=(n_fft // 2 + 1, c_in, c_out)] (``n_fft`` >= n_bins_in + kernel - 1) and the
        Toeplitz matrix [shape=(n_in, output_dim)] with ``T[i, j] = w[i - j + output_dim - 1]``."""
        k = self.prefilt_layers[0][0].kernel_size[0] if len(self.prefilt_layers) else 1
        self.n_fft = max(int(n_fft), self.n_bins_in + k - 1)
        for i, layer in enumerate(self.prefilt_layers):
            w = torch.fft.rfft(layer[0].weight.flip(-1), n=self.n_fft).permute(2, 1, 0).contiguous()
            self.register_buffer(f"_prefilt_fft{i}", w, persistent=False)
        w = self.fc.weight.reshape(-1)
        n_in = w.numel() - self.output_dim + 1
        idx = torch.arange(n_in, device=w.device)[:, None] - torch.arange(self.output_dim, device=w.device)
        self.register_buffer("_toeplitz", w[idx + self.output_dim - 1].contiguous(), persistent=False)

    def _fft_conv(self, x: torch.Tensor, i: int) -> torch.Tensor:
        conv = self.prefilt_layers[i][0]
        xf = torch.fft.rfft(x, n=self.n_fft).permute(2, 0, 1)            # [freq, batch, c_in]
        yf = torch.bmm(xf, getattr(self, f"_prefilt_fft{i}")).permute(1, 2, 0)
        pad, n = conv.padding[0], x.shape[-1]
        return torch.fft.irfft(yf, n=self.n_fft)[..., pad:pad + n] + conv.bias[:, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.n_fft:
            return self.forward_reference(x)
        x = self.conv1(self.layernorm(x))                                 # [batch, c, bins]
        for i, layer in enumerate(self.prefilt_layers):
            y = layer[1](self._fft_conv(x, i))
            x = y + x if self.residual else y
        x = x.transpose(1, 2)                                             # [batch, bins, c]
        for i in range(0, len(self.conv_layers), 3):                      # 1x1 convs as matmuls
            conv = self.conv_layers[i]
            y = torch.addmm(conv.bias, x.reshape(-1, x.shape[-1]), conv.weight[:, :, 0].T)
            x = self.conv_layers[i + 1](y.view(x.shape[0], x.shape[1], -1))
        x = x.transpose(1, 2).reshape(x.shape[0], -1)                     # pesto's flatten order
        return torch.softmax(x @ self._toeplitz, dim=-1)


class ConfidenceClassifier(nn.Module):
    """pesto's voicing classifier: power CQT [shape=(batch, n_bins)] -> confidence [shape=(batch,)]."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(1, 1, 39, stride=3)
        self.linear = nn.Linear(72, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        geometric = x.log().mean(dim=-1, keepdim=True).exp()
        flatness = geometric / x.mean(dim=-1, keepdim=True).clip(min=1e-8)
        h = F.relu(self.conv(x.unsqueeze(1)).squeeze(1))
        return torch.sigmoid(self.linear(torch.cat((h, flatness), dim=-1))).squeeze(-1)


class PestoPretrained(nn.Module):
    """CQT front end + encoder + confidence head of pesto, with the checkpoint's calibration.

    ``forward(frames)``: frames [shape=(batch, cqt.width)] float32 audio windows (see
    ``PestoCQT``) -> (probs [shape=(batch, 384)], bin ``b`` = MIDI ``b / 3``, rows sum to 1;
    confidence [shape=(batch,)] in [0, 1]).
    """

    def __init__(self, hparams: dict, hcqt_params: dict, *, sr: int = C.SAMPLE_RATE,
                 hop_length: int = C.HOP_LENGTH):
        super().__init__()
        if list(hcqt_params.get("harmonics", [1])) != [1] or hcqt_params.get("fmax") is not None \
                or not hcqt_params.get("center", True):
            raise ValueError(f"unsupported pesto CQT parameters: {hcqt_params}")
        self.hparams, self.hcqt_params = hparams, hcqt_params
        self.cqt = PestoCQT(sr=sr, hop_length=hop_length, **hcqt_params)
        self.encoder = Resnet1d(**hparams["encoder"])
        self.confidence = ConfidenceClassifier()
        self.crop = (int(hparams["pitch_shift"]["max_steps"]), int(hparams["pitch_shift"]["min_steps"]))
        self.bins_per_semitone = int(hcqt_params["bins_per_semitone"])
        self.register_buffer("shift", torch.zeros(()), persistent=True)
        if hparams.get("reduction", "alwa") != "alwa" or self.encoder.output_dim != N_OUT_BINS \
                or self.bins_per_semitone != BINS_PER_SEMITONE:
            raise ValueError("only pesto checkpoints with 'alwa' decoding and 384 = 128 x 3 bins are supported")

    @property
    def roll_bins(self) -> int:
        """Bins the raw distribution is rolled down by (pesto: ``round(shift * bins_per_semitone)``)."""
        return round(float(self.shift) * self.bins_per_semitone)

    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        db = self.cqt(frames)                                             # [batch, n_bins]
        x = db.mul(math.log(10) / 10.0)                                   # pesto's in-place mul_
        confidence = self.confidence(x.exp())
        lo, hi = self.crop
        probs = self.encoder(x[:, None, lo:hi])
        return probs.roll(-self.roll_bins, -1), confidence


def alwa(probs: torch.Tensor, bins_per_semitone: int = BINS_PER_SEMITONE) -> torch.Tensor:
    """pesto's "alwa" decoding: probs [shape=(batch, n)] -> MIDI pitch [shape=(batch,)],
    the probability-weighted mean of the ``2 bps - 1`` bins around the argmax (clipped at the edges)."""
    n = probs.shape[-1]
    pitches = torch.arange(n, dtype=torch.float32, device=probs.device) / bins_per_semitone
    window = torch.arange(1, 2 * bins_per_semitone, device=probs.device) - bins_per_semitone
    idx = (probs.argmax(dim=-1, keepdim=True) + window).clip(0, n - 1)
    p = probs.gather(-1, idx)
    return (p * pitches[idx]).sum(-1) / p.sum(-1)


@register_format("pesto-pitch-ckpt")
def _load_from_manifest(path, entry: dict) -> "PestoPretrained":
    """Manifest loader of ``models/pesto_mir-1k_g7.ckpt`` (after the sha256 check)."""
    return load_pesto_pretrained(path)


def load_pesto_pretrained(path: str | Path, *, sr: int = C.SAMPLE_RATE,
                          hop_length: int = C.HOP_LENGTH) -> PestoPretrained:
    """Build ``PestoPretrained`` from a pesto checkpoint (e.g. ``models/pesto_mir-1k_g7.ckpt``):
    CQT kernels for ``sr`` / ``hop_length``, weights loaded strictly, eval mode, no gradients."""
    ckpt = read_checkpoint(path)
    model = PestoPretrained(ckpt["hparams"], ckpt["hcqt_params"], sr=sr, hop_length=hop_length)
    state = {k: v for k, v in ckpt["state_dict"].items() if not k.startswith("preprocessor.")}
    model.load_state_dict(state, strict=True)
    model.encoder.prepare()
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


class Audio2PestoPretrained:
    """Audio -> f0 / confidence / pitch distribution with ``PestoPretrained``, on our frame grid.

    ``__call__(audio, sr=22050)``: mono float audio [shape=(n_samples,)] (any length, resampled
    to 22050 Hz (``core.audio.resample``) if ``sr`` differs) -> dict of numpy arrays, frame ``k`` centred on
    sample ``k * 256`` at 22050 Hz, ``n_frames = 1 + n_samples // 256`` (n_samples at 22050 Hz):

    * ``freqs_hz`` [shape=(n_frames,)] float32: f0 in Hz (pesto "alwa"; given for every frame,
      voiced or not),
    * ``pitch_midi`` [shape=(n_frames,)] float32: the same as fractional MIDI,
    * ``confidence`` [shape=(n_frames,)] float32 in [0, 1]: pesto's voicing confidence,
    * ``probs`` [shape=(384, n_frames)] float32: the pitch distribution (columns sum to 1),
    * ``bin_midi`` [shape=(384,)] float64: MIDI pitch of each distribution bin (``b / 3``).

    Frames go through the model ``batch_frames`` at a time under ``torch.inference_mode``.
    """

    def __init__(self, model: PestoPretrained, *, device: str | torch.device | None = None,
                 batch_frames: int = 512):
        self.device = torch.device(device) if device is not None else next(model.parameters()).device
        self.model = model.to(self.device).eval()
        self.batch_frames = int(batch_frames)
        self.sr, self.hop = model.cqt.sr, model.cqt.hop_length
        self.bin_midi = np.arange(N_OUT_BINS, dtype=np.float64) / model.bins_per_semitone

    def __call__(self, audio: np.ndarray, sr: int = C.SAMPLE_RATE) -> dict[str, np.ndarray]:
        from workstation.core.audio import resample

        y = np.asarray(audio, dtype=np.float32).reshape(-1)
        if sr != self.sr and y.size:
            y = resample(y, orig_sr=sr, sr=self.sr)
        n_frames = 1 + y.size // self.hop
        half = self.model.cqt.width // 2
        # pesto pads with torch's reflect (needs > half samples); numpy also reflects shorter input
        padded = np.pad(y if y.size else np.zeros(1, np.float32), (half, half), mode="reflect")
        x = torch.from_numpy(np.ascontiguousarray(padded)).to(self.device)
        probs, conf, midi = [], [], []
        with torch.inference_mode():
            for a in range(0, n_frames, self.batch_frames):
                b = min(n_frames, a + self.batch_frames)
                seg = x[a * self.hop: (b - 1) * self.hop + 2 * half]
                frames = seg.unfold(0, 2 * half, self.hop)               # [b - a, width]
                p, c = self.model(frames)
                probs.append(p)
                conf.append(c)
                midi.append(alwa(p, self.model.bins_per_semitone))
            p = torch.cat(probs).T.float().cpu().numpy()
            m = torch.cat(midi).float().cpu().numpy()
            c = torch.cat(conf).float().cpu().numpy()
        return {"freqs_hz": (440.0 * 2.0 ** ((m - 69.0) / 12.0)).astype(np.float32), "pitch_midi": m,
                "confidence": c, "probs": np.ascontiguousarray(p), "bin_midi": self.bin_midi.copy()}
