"""Beat and downbeat activation network (a small TCN after Böck & Davies, "Deconstruct,
Analyse, Reconstruct: how to improve tempo, beat, and downbeat estimation", ISMIR 2020, and
Davies & Böck, "Temporal convolutional networks for musical audio beat tracking", EUSIPCO
2019) and its ``Audio2Beats`` callable.

Input: the shared mel power spectrogram of ``FrontEnd.mel`` [shape=(C.N_MELS, n_frames)]
(Slaney mel, ``C.SAMPLE_RATE`` / ``C.HOP_LENGTH``). The network takes dB, references every
frame to the loudest mel band within about +-1.5 s (a running max over time, so the output
does not depend on the recording level; range ``range_db``), and stacks that with its
half-wave rectified time difference (a spectral-flux channel).

Body (kept small for speed on 2 CPU cores): the input averaged over groups of ``band_pool``
mel bands (32 bands) with its flux, a 1-D convolution over time (kernel 3) with the bands as
channels, a strided convolution to half the frame rate, ``n_tcn`` residual dilated 1-D
convolutions there (kernel 5, dilations 1, 2, 4, ...: about ``8 * (2**n_tcn - 1)`` frames of
context, 12 s), a transposed convolution back to the frame rate, concatenated with the
full-rate features (onset detail) into a kernel-3 head. Fully convolutional in time.

Outputs (logits; ``sigmoid`` gives [0, 1]) [shape=(batch, 2, n_frames)]: ``beat`` and
``downbeat`` activations per analysis frame.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from workstation.core import constants as C
from workstation.inference.blocked import blocked_predict
from workstation.inference.weights import register_architecture

#: Heads in output order.
HEADS: tuple[str, ...] = ("beat", "downbeat")


class _TCNBlock(nn.Module):
    def __init__(self, channels: int, kernel: int, dilation: int, dropout: float):
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, kernel, dilation=dilation,
                              padding=dilation * (kernel // 2))
        self.bn = nn.BatchNorm1d(channels)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.drop(F.elu(self.bn(self.conv(x))))


@register_architecture("beats_tcn")
class BeatNet(nn.Module):
    """Beat / downbeat activations from the mel spectrogram.

    ``forward(mel)``: mel power [shape=(batch, n_mels, n_frames)] -> logits
    [shape=(batch, 2, n_frames)] (``HEADS`` order). ``normalise(mel)`` gives the network input
    [shape=(batch, 2, n_mels // band_pool, n_frames)] in [0, 1]; ``forward_features`` takes it
    (training on cached features: ``level_db`` then ``pool_bands`` then ``with_flux``).
    """

    def __init__(self, *, n_mels: int = C.N_MELS, band_pool: int = 4, channels: int = 32,
                 n_tcn: int = 7, kernel: int = 5, dropout: float = 0.1, range_db: float = 80.0,
                 ref_window_frames: int = 259, floor_db: float = -100.0):
        super().__init__()
        self.hparams: dict[str, Any] = dict(
            n_mels=int(n_mels), band_pool=int(band_pool), channels=int(channels),
            n_tcn=int(n_tcn), kernel=int(kernel), dropout=float(dropout), range_db=float(range_db),
            ref_window_frames=int(ref_window_frames), floor_db=float(floor_db))
        self.range_db = float(range_db)
        self.ref_window_frames = int(ref_window_frames) | 1
        self.floor_db = float(floor_db)
        self.band_pool = int(band_pool)
        c = int(channels)
        n_bands = int(n_mels) // self.band_pool
        self.conv1 = nn.Conv1d(2 * n_bands, c, 3, padding=1)
        self.bn1 = nn.BatchNorm1d(c)
        self.down = nn.Conv1d(c, c, 4, stride=2, padding=1)      # to half the frame rate
        self.bn2 = nn.BatchNorm1d(c)
        self.tcn = nn.Sequential(*[_TCNBlock(c, int(kernel), 2 ** i, float(dropout))
                                   for i in range(int(n_tcn))])
        self.up = nn.ConvTranspose1d(c, c, 4, stride=2, padding=1)  # back to the frame rate
        self.head = nn.Conv1d(2 * c, len(HEADS), 3, padding=1)
        with torch.no_grad():  # beats are sparse: start near "no beat"
            self.head.bias.fill_(-3.0)

    @property
    def receptive_field_frames(self) -> int:
        """Frames of context on both sides together that reach one output frame (about)."""
        return 2 * (self.hparams["kernel"] - 1) * (2 ** self.hparams["n_tcn"] - 1) + 8

    # -- input ----------------------------------------------------------------------------------

    def level_db(self, mel: torch.Tensor) -> torch.Tensor:
        """Mel power [shape=(batch, n_mels, n_frames)] -> level-referenced dB in [0, 1]
        [same shape]: 1.0 = the loudest band within ~+-1.5 s, 0.0 = ``range_db`` below it."""
        db = 10.0 * torch.log10(mel + 1e-10)
        frame_max = db.amax(dim=1)  # [batch, n_frames]
        w = self.ref_window_frames
        ref = F.max_pool1d(frame_max[:, None], w, stride=1, padding=w // 2)[:, 0]
        ref = torch.clamp(ref, min=self.floor_db)
        return torch.clamp((db - ref[:, None, :]) / self.range_db + 1.0, 0.0, 1.0)

    def pool_bands(self, x: torch.Tensor) -> torch.Tensor:
        """Mean over groups of ``band_pool`` bands: [batch, n_mels, n] -> [batch, n_mels // p, n]."""
        b, m, n = x.shape
        p = self.band_pool
        return x[:, :m // p * p].reshape(b, m // p, p, n).mean(dim=2)

    @staticmethod
    def with_flux(x: torch.Tensor) -> torch.Tensor:
        """[batch, n_bands, n] -> [batch, 2, n_bands, n]: x and its half-wave rectified time
        difference (times 4, clipped to [0, 1]): a spectral-flux channel."""
        d = torch.zeros_like(x)
        d[..., 1:] = x[..., 1:] - x[..., :-1]
        return torch.stack([x, torch.clamp(4.0 * d, 0.0, 1.0)], dim=1)

    def normalise(self, mel: torch.Tensor) -> torch.Tensor:
        """Mel power [shape=(batch, n_mels, n_frames)] -> network input
        [shape=(batch, 2, n_mels // band_pool, n_frames)] in [0, 1]."""
        return self.with_flux(self.pool_bands(self.level_db(mel)))

    # -- network --------------------------------------------------------------------------------

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        b, _, _, n = x.shape
        h1 = F.elu(self.bn1(self.conv1(x.reshape(b, -1, n))))
        pad = n % 2
        h = F.elu(self.bn2(self.down(F.pad(h1, (0, pad)))))
        h = self.up(self.tcn(h))[..., :n]
        return self.head(torch.cat([h1, h], dim=1))

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.forward_features(self.normalise(mel))


class Audio2Beats:
    """Mel spectrogram -> sigmoid beat / downbeat activations, in blocks, batched.

    ``__call__(mel)``: mel power [shape=(C.N_MELS, n_frames)] (or a batch with a leading axis)
    -> float32 [shape=(2, n_frames)] (``HEADS`` order) in [0, 1]. Long inputs are cut into
    blocks of at most ``block_frames`` with ``border_frames`` of context on each side
    (zero-padded at the ends, discarded; ``inference.blocked``), run as batches of
    ``batch_size`` under ``torch.inference_mode``, with autocast (bfloat16) on CUDA. The
    network runs at half the frame rate inside, so ``block_frames`` and ``border_frames`` are
    even (the half-rate grid stays on even input frames whatever the blocking) and so is the
    start of every segment a caller streams.
    """

    def __init__(self, model: BeatNet, *, device: str | torch.device = "cpu",
                 block_frames: int = 4096, border_frames: int = 768, batch_size: int = 4):
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.block_frames = int(block_frames) // 2 * 2
        self.border_frames = int(border_frames) // 2 * 2
        self.batch_size = int(batch_size)

    def __call__(self, mel: np.ndarray) -> np.ndarray:
        x = np.asarray(mel, dtype=np.float32)
        if x.ndim == 3:
            return np.stack([self(xi) for xi in x])
        if x.ndim != 2:
            raise ValueError(f"mel must be (n_mels, frames), got shape {x.shape}")
        n = x.shape[-1]
        if n == 0:
            return np.zeros((len(HEADS), 0), np.float32)
        cuda = self.device.type == "cuda"

        def predict(batch: np.ndarray) -> np.ndarray:
            return torch.sigmoid(self.model(torch.from_numpy(batch).to(self.device)).float()).cpu().numpy()

        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
            return blocked_predict(x, predict, block_frames=self.block_frames,
                                   border_frames=self.border_frames, batch_size=self.batch_size,
                                   align=2)
