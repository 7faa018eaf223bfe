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
(band, time). Two poolings (hyper-parameter ``pooling``):

- ``"meanmax"`` (model v1): the mean over the remaining bands, then the mean and the max over
  time (concatenated) into a linear layer; the track vector is the normalised,
  length-weighted mean of the window vectors (``pool_windows``).
- ``"stats"`` (model v2, x-vector-style statistics pooling): the last block's channels x
  remaining bands are the per-step features; their mean and standard deviation over *all
  the steps of the track* (sufficient statistics summed window by window, so memory stays
  bounded and the result does not depend on the chunking) go through batch norm and a
  linear layer. Statistics of the whole track are what makes a DSP statistics vector strong
  for recording identity; here the statistics are of learned features.

The ``dim``-d backbone output, L2-normalised, is the embedding. During training a projection
head (``project``: an MLP) maps it to the space where the NT-Xent loss is taken and a tag
head (``tag_logits``, ``n_tags`` > 0: multi-task as in MT2) predicts the corpus's
instrument-family and style labels; neither head is used at inference.
Fully convolutional with global pooling: any window length of at least ``MIN_FRAMES`` frames works.

A track is cut into windows of ``window_frames`` frames on a fixed grid from frame 0; each
window gives an additive summary (``EmbeddingNet.summarise``: for ``meanmax`` its length
times its unit vector, for ``stats`` the step count, sum and sum of squares of the
features); the sum of the summaries of a track (or a segment) gives its vector
(``EmbeddingNet.vector_from_summary``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from workstation.core import constants as C
from workstation.inference.weights import register_architecture

#: The shortest window (frames) the network is run on; shorter inputs are zero-padded.
MIN_FRAMES = 64
#: Track poolings (hyper-parameter ``pooling``).
POOLINGS = ("meanmax", "stats")


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
                 window_frames: int = 258, time_pool: int = 2, pooling: str = "meanmax",
                 n_tags: int = 0):
        super().__init__()
        channels = [int(c) for c in channels]
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        self.hparams: dict[str, Any] = dict(
            n_mels=int(n_mels), band_pool=int(band_pool), channels=channels, dim=int(dim),
            proj_dim=int(proj_dim), range_db=float(range_db), floor_db=float(floor_db),
            window_frames=int(window_frames), time_pool=int(time_pool))
        if pooling != "meanmax" or n_tags:   # v1 checkpoints keep their hparams as they were
            self.hparams.update(pooling=str(pooling), n_tags=int(n_tags))
        self.pooling = str(pooling)
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
        if self.pooling == "stats":
            #: per-step features: last channels x bands left after the poolings
            self.n_features = c_in * max(1, (int(n_mels) // int(band_pool)) >> len(channels))
            self.stats_norm = nn.BatchNorm1d(2 * self.n_features)
            self.fc = nn.Linear(2 * self.n_features, int(dim))
        else:
            self.n_features = c_in
            self.fc = nn.Linear(2 * c_in, int(dim))
        self.head = nn.Sequential(nn.Linear(int(dim), 2 * int(dim)), nn.ReLU(inplace=True),
                                  nn.Linear(2 * int(dim), int(proj_dim)))
        self.tag_head = nn.Linear(int(dim), int(n_tags)) if n_tags else None

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

    def step_features(self, x: torch.Tensor) -> torch.Tensor:
        """Network input [shape=(batch, 1, bands, n_frames)] -> per-step features
        [shape=(batch, n_features, n_steps)] (n_steps = n_frames / time_pool / 2 ** len(channels))."""
        if self.time_pool > 1:
            x = F.avg_pool2d(x, (1, self.time_pool), ceil_mode=True)
        h = self.convs(x)                                 # [batch, c, bands', steps]
        if self.pooling == "stats":
            return h.flatten(1, 2)
        return h.mean(dim=2)

    def from_moments(self, mean: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
        """``stats`` pooling: feature mean and variance [shape=(batch, n_features)] ->
        [shape=(batch, dim)] (not normalised)."""
        std = torch.sqrt(torch.clamp(var, min=0.0) + 1e-5)
        return self.fc(self.stats_norm(torch.cat([mean, std], dim=1)))

    def backbone(self, x: torch.Tensor) -> torch.Tensor:
        """Network input [shape=(batch, 1, bands, n_frames)] -> [shape=(batch, dim)] (not
        normalised), pooled over the window."""
        h = self.step_features(x)
        if self.pooling == "stats":
            return self.from_moments(h.mean(dim=-1), h.var(dim=-1, unbiased=False))
        return self.fc(torch.cat([h.mean(dim=-1), h.amax(dim=-1)], dim=1))

    def project(self, h: torch.Tensor) -> torch.Tensor:
        """Training-only projection head: [batch, dim] -> [batch, proj_dim]."""
        return self.head(h)

    def tag_logits(self, h: torch.Tensor) -> torch.Tensor:
        """Training-only tag head (multi-task): [batch, dim] -> [batch, n_tags] logits."""
        if self.tag_head is None:
            raise ValueError("this network has no tag head (n_tags=0)")
        return self.tag_head(h)

    # -- track pooling --------------------------------------------------------------------------

    @property
    def summary_size(self) -> int:
        """Length of a window summary (``summarise``)."""
        return 1 + 2 * self.n_features if self.pooling == "stats" else self.dim

    def summarise(self, x: torch.Tensor, n_valid: int | None = None) -> torch.Tensor:
        """Additive window summaries [shape=(batch, summary_size)] of network inputs
        [shape=(batch, 1, bands, n_frames)]; ``n_valid``: frames of real input (the rest is
        zero padding, left out of the statistics). ``meanmax``: the window's length (frames)
        times its unit vector; ``stats``: (number of steps, sum of the features, sum of
        their squares)."""
        n = x.shape[-1] if n_valid is None else int(n_valid)
        if self.pooling == "stats":
            h = self.step_features(x)
            k = max(1, min(h.shape[-1], math.ceil(n * h.shape[-1] / x.shape[-1])))
            h = h[..., :k]
            count = torch.full((h.shape[0], 1), float(h.shape[-1]), dtype=h.dtype, device=h.device)
            return torch.cat([count, h.sum(dim=-1), (h * h).sum(dim=-1)], dim=1)
        return float(n) * F.normalize(self.backbone(x), dim=1)

    def vector_from_summary(self, summary: np.ndarray) -> np.ndarray:
        """Unit-norm vector [shape=(dim,), float32] of a summed window summary
        [shape=(summary_size,)] (zeros for an empty summary)."""
        s = np.asarray(summary, np.float64)
        if self.pooling == "stats":
            count = s[0]
            if count <= 0:
                return np.zeros(self.dim, np.float32)
            f = self.n_features
            mean = s[1:1 + f] / count
            var = s[1 + f:] / count - mean ** 2
            dev = next(self.parameters()).device
            with torch.inference_mode():
                v = self.from_moments(torch.as_tensor(mean, dtype=torch.float32, device=dev)[None],
                                      torch.as_tensor(var, dtype=torch.float32, device=dev)[None])
                return F.normalize(v.float(), dim=1)[0].cpu().numpy().astype(np.float32)
        return pool_windows(s[None])

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

    def _window_batches(self, mel: np.ndarray, bounds: np.ndarray):
        """The windows ``mel[:, s:e]`` in batches of equal length: yields (window indices,
        their length n in frames, tensor [shape=(batch, n_mels, max(n, MIN_FRAMES))] on the
        device, zero-padded), under ``torch.inference_mode`` (autocast on CUDA)."""
        x = np.asarray(mel, dtype=np.float32)
        if x.ndim != 2:
            raise ValueError(f"mel must be (n_mels, frames), got shape {x.shape}")
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
                    yield group, int(n), torch.from_numpy(batch).to(self.device)

    def windows(self, mel: np.ndarray, bounds: np.ndarray) -> np.ndarray:
        """Embeddings [shape=(len(bounds), dim), float32] of the windows ``mel[:, s:e]``."""
        bounds = np.asarray(bounds, np.int64).reshape(-1, 2)
        out = np.empty((len(bounds), self.dim), np.float32)
        for group, _, xb in self._window_batches(mel, bounds):
            out[group] = self.model(xb).float().cpu().numpy()
        return out

    def summaries(self, mel: np.ndarray, bounds: np.ndarray) -> np.ndarray:
        """Additive summaries [shape=(len(bounds), model.summary_size), float64] of the windows
        ``mel[:, s:e]`` (see ``EmbeddingNet.summarise``); sum them over a track or a segment and
        pass the sum to ``model.vector_from_summary``."""
        bounds = np.asarray(bounds, np.int64).reshape(-1, 2)
        out = np.empty((len(bounds), self.model.summary_size), np.float64)
        for group, n, xb in self._window_batches(mel, bounds):
            out[group] = self.model.summarise(self.model.normalise(xb), n).double().cpu().numpy()
        return out

    def track_vector(self, mel: np.ndarray) -> np.ndarray:
        """The track vector [shape=(dim,), float32, unit norm] of a whole mel spectrogram."""
        x = np.asarray(mel, dtype=np.float32)
        if x.ndim != 2:
            raise ValueError(f"mel must be (n_mels, frames), got shape {x.shape}")
        return self.model.vector_from_summary(
            self.summaries(x, window_bounds(x.shape[1], self.window_frames)).sum(axis=0))

    def __call__(self, mel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.asarray(mel, dtype=np.float32)
        if x.ndim != 2:
            raise ValueError(f"mel must be (n_mels, frames), got shape {x.shape}")
        bounds = window_bounds(x.shape[1], self.window_frames)
        return self.windows(x, bounds), bounds
