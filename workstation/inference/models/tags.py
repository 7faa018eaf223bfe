"""Short-chunk CNN tagger (after Won et al., "Evaluation of CNN-based automatic music tagging
models", SMC 2020, and Pons & Serra's musicnn) and its ``Audio2Tags`` callable.

Input: the shared mel power spectrogram of ``FrontEnd.mel`` [shape=(C.N_MELS, n_frames)]
(Slaney mel, ``C.SAMPLE_RATE`` / ``C.HOP_LENGTH``) cut into windows of ``window_frames``
(about 3 s). The power is averaged over groups of ``band_pool`` mel bands (64 bands: half the
compute: 264x instead of 126x realtime on one core), turned into dB referenced to the window's own
loudest bin (so the output does not depend on the recording level) and mapped to [0, 1] over
``range_db``.

Body (small for speed on 2 CPU cores): five 3x3 convolution blocks (batch norm, ReLU, 2x2
max pooling; ``channels`` 16-32-64-64-128 by default), then the mean and the max over the
remaining frequency x time cells (so any window length of at least 32 frames works), a
hidden layer and one logit per tag. Multi-label: ``sigmoid`` gives an independent
probability per tag.

The tag vocabulary travels inside the checkpoint (``hparams["labels"]``).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from workstation.core import constants as C
from workstation.inference.weights import register_architecture

#: Default window (frames) of one tagging chunk: 256 frames = 2.97 s.
WINDOW_FRAMES = 256
#: Shortest window the network accepts (five 2x2 poolings).
MIN_FRAMES = 32


class _Block(nn.Module):
    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(F.relu(self.bn(self.conv(x))), 2, ceil_mode=True)


@register_architecture("tags_cnn")
class TagNet(nn.Module):
    """Tag logits from mel windows.

    ``forward(mel)``: mel power [shape=(batch, n_mels, n_frames)] -> logits
    [shape=(batch, n_tags)] (``labels`` order). ``normalise(mel)`` = ``window_norm(to_db(mel))``
    gives the network input [shape=(batch, n_mels // band_pool, n_frames)] in [0, 1]
    (``forward_features`` takes it: training caches ``to_db`` and crops it).
    ``embed(x)`` gives the pooled hidden features [shape=(batch, hidden)].
    """

    def __init__(self, *, labels: Sequence[str] = ("tag",), n_mels: int = C.N_MELS,
                 channels: Sequence[int] = (16, 32, 64, 64, 128), hidden: int = 128,
                 dropout: float = 0.3, range_db: float = 80.0, window_frames: int = WINDOW_FRAMES,
                 band_pool: int = 2):
        super().__init__()
        self.hparams: dict[str, Any] = dict(
            labels=[str(x) for x in labels], n_mels=int(n_mels), channels=[int(c) for c in channels],
            hidden=int(hidden), dropout=float(dropout), range_db=float(range_db),
            window_frames=int(window_frames), band_pool=int(band_pool))
        self.band_pool = int(band_pool)
        self.labels: list[str] = list(self.hparams["labels"])
        self.range_db = float(range_db)
        self.window_frames = int(window_frames)
        chans = [1] + list(self.hparams["channels"])
        self.blocks = nn.Sequential(*[_Block(a, b) for a, b in zip(chans[:-1], chans[1:])])
        self.fc = nn.Linear(2 * chans[-1], int(hidden))
        self.drop = nn.Dropout(float(dropout))
        self.out = nn.Linear(int(hidden), len(self.labels))

    # -- input ----------------------------------------------------------------------------------

    def to_db(self, mel: torch.Tensor) -> torch.Tensor:
        """Mel power [shape=(batch, n_mels, n_frames)] -> dB of the band-pooled power
        [shape=(batch, n_mels // band_pool, n_frames)] (floor -100 dB)."""
        b, m, n = mel.shape
        p = self.band_pool
        pooled = mel.float()[:, :m // p * p].reshape(b, m // p, p, n).mean(dim=2)
        return 10.0 * torch.log10(pooled + 1e-10)

    def window_norm(self, db: torch.Tensor) -> torch.Tensor:
        """dB [shape=(batch, n_bands, n_frames)] -> [0, 1] referenced to each window's loudest
        bin (1 = that bin, 0 = ``range_db`` below it or less)."""
        ref = db.amax(dim=(1, 2), keepdim=True)
        return torch.clamp((db - ref) / self.range_db + 1.0, 0.0, 1.0)

    def normalise(self, mel: torch.Tensor) -> torch.Tensor:
        """Mel power [shape=(batch, n_mels, n_frames)] -> network input
        [shape=(batch, n_mels // band_pool, n_frames)] in [0, 1]."""
        return self.window_norm(self.to_db(mel))

    # -- network --------------------------------------------------------------------------------

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised windows [shape=(batch, n_bands, n_frames)] -> pooled features [batch, hidden]."""
        h = self.blocks(x[:, None])
        h = torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1)
        return F.relu(self.fc(h))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.drop(self.embed(x)))

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.forward_features(self.normalise(mel))


def window_starts(n_frames: int, window: int, hop: int) -> list[int]:
    """Start frames of the tagging windows of a track of ``n_frames``: every ``hop`` frames
    while a whole window fits, plus one window ending at the last frame (so the end is
    covered); a track shorter than a window is one window (the whole track)."""
    if n_frames <= window:
        return [0]
    starts = list(range(0, n_frames - window + 1, hop))
    if starts[-1] + window < n_frames:
        starts.append(n_frames - window)
    return starts


def pool_scores(probs: np.ndarray, *, pool: str = "meanmax") -> np.ndarray:
    """Track scores [shape=(n_tags,)] from window probabilities [shape=(n_windows, n_tags)]:
    ``mean``, ``max``, or ``meanmax`` (their average: a tag heard in part of a track still
    scores, one loud window alone does not decide)."""
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or len(p) == 0:
        raise ValueError(f"window probabilities must be (n_windows >= 1, n_tags), got {p.shape}")
    if pool == "mean":
        return p.mean(axis=0)
    if pool == "max":
        return p.max(axis=0)
    if pool == "meanmax":
        return 0.5 * (p.mean(axis=0) + p.max(axis=0))
    raise ValueError(f"unknown pooling {pool!r} (mean, max, meanmax)")


class Audio2Tags:
    """Mel windows -> sigmoid tag probabilities, batched.

    ``__call__(windows)``: mel power windows [shape=(n_windows, C.N_MELS, n_frames)] (equal
    lengths) -> float32 [shape=(n_windows, n_tags)] in [0, 1], run in batches of
    ``batch_size`` under ``torch.inference_mode`` (autocast bfloat16 on CUDA).
    ``labels``: the model's vocabulary.
    """

    def __init__(self, model: TagNet, *, device: str | torch.device = "cpu", batch_size: int = 32):
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.batch_size = int(batch_size)
        self.labels: list[str] = list(model.labels)
        self.window_frames: int = int(model.window_frames)

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        x = np.asarray(windows, dtype=np.float32)
        if x.ndim == 2:
            x = x[None]
        if x.ndim != 3:
            raise ValueError(f"windows must be (n_windows, n_mels, n_frames), got shape {x.shape}")
        if x.shape[-1] < MIN_FRAMES:  # too short for five poolings: pad with silence
            x = np.pad(x, ((0, 0), (0, 0), (0, MIN_FRAMES - x.shape[-1])))
        out = np.empty((len(x), len(self.labels)), np.float32)
        cuda = self.device.type == "cuda"
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
            for i in range(0, len(x), self.batch_size):
                b = torch.from_numpy(x[i:i + self.batch_size]).to(self.device)
                out[i:i + len(b)] = torch.sigmoid(self.model(b).float()).cpu().numpy()
        return out
