"""Contrastive track-embedding network (a compact short-chunk CNN on the log-mel spectrogram,
trained with NT-Xent over views of the same track, after SimCLR / CLMR and the short-chunk
CNNs of Won et al., "Evaluation of CNN-based automatic music tagging models", SMC 2020) and
its ``Audio2Embedding`` callable.

Input: the shared mel power spectrogram of ``FrontEnd.mel`` [shape=(C.N_MELS, n_frames)]
(Slaney mel, ``C.SAMPLE_RATE`` / ``C.HOP_LENGTH``). The network averages the power over
groups of ``band_pool`` mel bands (64 bands), takes dB and references it to the loudest
band-frame of the window (so the output does not depend on the recording level):
``clamp((dB - max) / range_db + 1, 0, 1)``.

Body: the input averaged over ``time_pool`` frames (43 frames per second), then
``len(channels)`` blocks of (3x3 convolution, batch norm, ReLU, 2x2 max pooling) over
(band, time), the mean over the remaining bands, then the mean and the max over time
(concatenated) into a linear layer: the ``dim``-d backbone output, L2-normalised, is the
embedding of a window. During training a projection head (``project``: an MLP) maps it to
the space where the NT-Xent loss is taken; the head is not used at inference.
Fully convolutional with global pooling: any window length of at least ``MIN_FRAMES`` frames works.

A track is cut into windows of ``window_frames`` frames on a fixed grid from frame 0 (3 s);
the track vector is the normalised, length-weighted mean of the window vectors
(``pool_windows``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from workstation.core import constants as C
from workstation.inference.weights import register_architecture

#: The shortest window (frames) the network is run on; shorter inputs are zero-padded.
MIN_FRAMES = 64


@register_architecture("embedding_cnn")
class EmbeddingNet(nn.Module):
    """Window embedding from the mel spectrogram.

    ``forward(mel)``: mel power [shape=(batch, n_mels, n_frames)] -> unit-norm embeddings
    [shape=(batch, dim)]. ``normalise(mel)`` gives the network input
    [shape=(batch, 1, n_mels // band_pool, n_frames)] in [0, 1]; ``backbone(x)`` takes it and
    gives the un-normalised ``dim``-d vectors; ``project(h)`` is the training-only head.
    """

    def __init__(self, *, n_mels: int = C.N_MELS, band_pool: int = 2,
                 channels: tuple[int, ...] | list[int] = (16, 32, 64, 128), dim: int = 128,
                 proj_dim: int = 128, range_db: float = 80.0, floor_db: float = -100.0,
                 window_frames: int = 258, time_pool: int = 2):
        super().__init__()
        channels = [int(c) for c in channels]
        self.hparams: dict[str, Any] = dict(
            n_mels=int(n_mels), band_pool=int(band_pool), channels=channels, dim=int(dim),
            proj_dim=int(proj_dim), range_db=float(range_db), floor_db=float(floor_db),
            window_frames=int(window_frames), time_pool=int(time_pool))
        self.band_pool = int(band_pool)
        self.range_db = float(range_db)
        self.floor_db = float(floor_db)
        self.window_frames = int(window_frames)
        self.time_pool = int(time_pool)
        blocks = []
        c_in = 1
        for c in channels:
            blocks += [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c),
                       nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            c_in = c
        self.convs = nn.Sequential(*blocks)
        self.fc = nn.Linear(2 * c_in, int(dim))
        self.head = nn.Sequential(nn.Linear(int(dim), 2 * int(dim)), nn.ReLU(inplace=True),
                                  nn.Linear(2 * int(dim), int(proj_dim)))

    @property
    def dim(self) -> int:
        return self.hparams["dim"]

    # -- input ----------------------------------------------------------------------------------

    def pool_bands(self, mel: torch.Tensor) -> torch.Tensor:
        """Mean power over groups of ``band_pool`` bands: [batch, n_mels, n] -> [batch, n_mels // p, n]."""
        b, m, n = mel.shape
        p = self.band_pool
        return mel[:, :m // p * p].reshape(b, m // p, p, n).mean(dim=2)

    def level_db(self, db: torch.Tensor) -> torch.Tensor:
        """dB [shape=(batch, bands, n)] -> [0, 1] referenced to each window's maximum."""
        ref = torch.clamp(db.amax(dim=(1, 2), keepdim=True), min=self.floor_db)
        return torch.clamp((db - ref) / self.range_db + 1.0, 0.0, 1.0)

    def normalise(self, mel: torch.Tensor) -> torch.Tensor:
        """Mel power [shape=(batch, n_mels, n_frames)] -> network input
        [shape=(batch, 1, n_mels // band_pool, n_frames)] in [0, 1]."""
        db = 10.0 * torch.log10(self.pool_bands(mel) + 1e-10)
        return self.level_db(db)[:, None]

    # -- network --------------------------------------------------------------------------------

    def backbone(self, x: torch.Tensor) -> torch.Tensor:
        """Network input [shape=(batch, 1, bands, n_frames)] -> [shape=(batch, dim)] (not normalised)."""
        if self.time_pool > 1:
            x = F.avg_pool2d(x, (1, self.time_pool), ceil_mode=True)
        h = self.convs(x).mean(dim=2)                     # [batch, c, n_frames / 16 / time_pool]
        h = torch.cat([h.mean(dim=-1), h.amax(dim=-1)], dim=1)
        return self.fc(h)

    def project(self, h: torch.Tensor) -> torch.Tensor:
        """Training-only projection head: [batch, dim] -> [batch, proj_dim]."""
        return self.head(h)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.backbone(self.normalise(mel)), dim=1)


def window_bounds(n_frames: int, window_frames: int) -> np.ndarray:
    """Windows on the fixed grid ``k * window_frames`` covering ``n_frames`` frames
    [shape=(n_windows, 2)] (start, end) frames; the last one may be shorter. A short last
    remainder (under a quarter window) is left out unless it is the only window."""
    starts = np.arange(0, max(1, n_frames), window_frames)
    ends = np.minimum(starts + window_frames, n_frames)
    b = np.column_stack([starts, ends]).astype(np.int64)
    if len(b) > 1 and b[-1, 1] - b[-1, 0] < window_frames // 4:
        b = b[:-1]
    return b


def pool_windows(vectors: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """The unit-norm weighted mean of window vectors [shape=(n, dim)] -> [shape=(dim,), float32]."""
    v = np.asarray(vectors, np.float64)
    w = np.ones(len(v)) if weights is None else np.asarray(weights, np.float64)
    m = (w[:, None] * v).sum(axis=0)
    n = np.linalg.norm(m)
    return (m / n if n > 0 else m).astype(np.float32)


class Audio2Embedding:
    """Mel spectrogram -> window embeddings, batched.

    ``__call__(mel)``: mel power [shape=(C.N_MELS, n_frames)] -> (vectors [shape=(n_windows,
    dim), float32, unit norm], bounds [shape=(n_windows, 2)] start/end frames relative to the
    input), windows of ``model.window_frames`` on the grid from the input's first frame
    (``window_bounds``). ``windows(mel, bounds)`` embeds given windows. Runs under
    ``torch.inference_mode`` in batches of ``batch_size`` equal-length windows, with autocast
    (bfloat16) on CUDA.
    """

    def __init__(self, model: EmbeddingNet, *, device: str | torch.device = "cpu",
                 batch_size: int = 16):
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.window_frames = int(model.window_frames)
        self.batch_size = int(batch_size)

    @property
    def dim(self) -> int:
        return self.model.dim

    def windows(self, mel: np.ndarray, bounds: np.ndarray) -> np.ndarray:
        """Embeddings [shape=(len(bounds), dim), float32] of the windows ``mel[:, s:e]``."""
        x = np.asarray(mel, dtype=np.float32)
        if x.ndim != 2:
            raise ValueError(f"mel must be (n_mels, frames), got shape {x.shape}")
        bounds = np.asarray(bounds, np.int64).reshape(-1, 2)
        out = np.empty((len(bounds), self.dim), np.float32)
        # group windows of equal length so that each batch is one tensor
        lengths = bounds[:, 1] - bounds[:, 0]
        cuda = self.device.type == "cuda"
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
            for n in np.unique(lengths):
                idx = np.flatnonzero(lengths == n)
                width = max(int(n), MIN_FRAMES)
                for i in range(0, len(idx), self.batch_size):
                    group = idx[i:i + self.batch_size]
                    batch = np.zeros((len(group), x.shape[0], width), np.float32)
                    for j, k in enumerate(group):
                        s, e = bounds[k]
                        batch[j, :, :e - s] = x[:, s:e]
                    y = self.model(torch.from_numpy(batch).to(self.device)).float().cpu().numpy()
                    out[group] = y
        return out

    def __call__(self, mel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.asarray(mel, dtype=np.float32)
        if x.ndim != 2:
            raise ValueError(f"mel must be (n_mels, frames), got shape {x.shape}")
        bounds = window_bounds(x.shape[1], self.window_frames)
        return self.windows(x, bounds), bounds
