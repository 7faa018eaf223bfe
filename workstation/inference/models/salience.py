"""DeepSalience-style multi-f0 salience network (after Bittner et al. 2017, "Deep Salience
Representations for F0 Estimation in Polyphonic Music", ISMIR; heads as in Basic Pitch,
Bittner et al. 2022) and its ``Audio2Salience`` callable.

Input: the 6-channel harmonic CQT of ``FrontEnd.hcqt`` [shape=(6, C.N_BINS, n_frames)]
(harmonics ``C.HARMONICS``, 20-cent bins from C1, linear magnitude, ``scale='reference'``).
The network divides by ``cqt.hcqt_amplitude_scale`` (partial amplitudes), takes dB and
references every frame to the loudest partial within about +-0.5 s (a running max over time),
so that the output does not depend on the recording level; the range is 80 dB.

Body: a few small time-frequency convolutions (5x5, 5x5, 3x3), then one tall convolution
across an octave and a bit of bins (13 taps dilated by a semitone: 61 bins x 3 frames), then
1x1 heads. Fully convolutional: any number of frames; the output keeps the input's grid.

Outputs (logits; ``sigmoid`` gives [0, 1]), each [shape=(batch, C.N_BINS, n_frames)]:

* ``salience``: every sounding pitch (multi-f0), trained against the multi-hot pitch roll
  blurred by a Gaussian of about one bin (as DeepSalience);
* ``melody``: the dominant (melody) f0 only;
* ``onset``: note onsets (a few frames around each onset), as Basic Pitch's onset head.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from workstation.core import constants as C
from workstation.inference.blocked import blocked_predict
from workstation.inference.weights import register_architecture

#: Heads in output order.
HEADS: tuple[str, ...] = ("salience", "melody", "onset")


@register_architecture("salience")
class SalienceNet(nn.Module):
    """Multi-f0 salience, melody and onset heads over the HCQT.

    ``forward(hcqt)``: hcqt [shape=(batch, 6, n_bins, n_frames)] linear HCQT magnitude ->
    logits [shape=(batch, 3, n_bins, n_frames)] (heads in ``HEADS`` order).
    ``forward_features(x)`` takes the normalised input (``normalise(hcqt)``, training on
    cached features).
    """

    def __init__(self, *, n_harmonics: int = len(C.HARMONICS), n_bins: int = C.N_BINS,
                 bins_per_semitone: int = C.BINS_PER_SEMITONE,
                 channels: tuple[int, ...] | list[int] = (8, 8, 8), tall_channels: int = 8,
                 tall_taps: int = 13, range_db: float = 80.0, ref_window_frames: int = 87,
                 floor_dbfs: float = -70.0):
        super().__init__()
        self.hparams: dict[str, Any] = dict(
            n_harmonics=int(n_harmonics), n_bins=int(n_bins), bins_per_semitone=int(bins_per_semitone),
            channels=[int(c) for c in channels], tall_channels=int(tall_channels),
            tall_taps=int(tall_taps), range_db=float(range_db),
            ref_window_frames=int(ref_window_frames), floor_dbfs=float(floor_dbfs))
        c1, c2, c3 = (int(c) for c in channels)
        self.range_db = float(range_db)
        self.ref_window_frames = int(ref_window_frames) | 1
        self.floor_dbfs = float(floor_dbfs)
        self.conv1 = nn.Conv2d(n_harmonics, c1, (5, 5), padding=(2, 2))
        self.bn1 = nn.BatchNorm2d(c1)
        self.conv2 = nn.Conv2d(c1, c2, (5, 5), padding=(2, 2))
        self.bn2 = nn.BatchNorm2d(c2)
        self.conv3 = nn.Conv2d(c2, c3, (3, 3), padding=(1, 1))
        self.bn3 = nn.BatchNorm2d(c3)
        dil = int(bins_per_semitone)
        self.tall = nn.Conv2d(c3, tall_channels, (tall_taps, 3), dilation=(dil, 1),
                              padding=(dil * (tall_taps // 2), 1))
        self.bn4 = nn.BatchNorm2d(tall_channels)
        self.head = nn.Conv2d(tall_channels + c3, len(HEADS), (1, 1))
        # partial-amplitude scale of the HCQT (what a full-scale cosine reads), not a parameter
        from workstation.inference.cqt import hcqt_amplitude_scale
        scale = hcqt_amplitude_scale(n_bins=n_bins)[:n_harmonics]
        self.register_buffer("amp_scale", torch.from_numpy(np.ascontiguousarray(scale))[None, :, :, None],
                             persistent=False)
        with torch.no_grad():  # start near "nothing sounds": the targets are sparse
            self.head.bias.fill_(-4.0)

    # -- input ----------------------------------------------------------------------------------

    def normalise(self, hcqt: torch.Tensor) -> torch.Tensor:
        """Linear HCQT [shape=(batch, 6, n_bins, n_frames)] -> level-referenced dB in [0, 1]:
        1.0 = the loudest partial within ~+-0.5 s, 0.0 = ``range_db`` below it (or silence)."""
        db = 20.0 * torch.log10(hcqt / self.amp_scale + 1e-7)
        frame_max = db.amax(dim=(1, 2))  # [batch, n_frames]
        w = self.ref_window_frames
        ref = F.max_pool1d(frame_max[:, None], w, stride=1, padding=w // 2)[:, 0]
        ref = torch.clamp(ref, min=self.floor_dbfs)
        return torch.clamp((db - ref[:, None, None, :]) / self.range_db + 1.0, 0.0, 1.0)

    # -- network --------------------------------------------------------------------------------

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.bn1(self.conv1(x)))
        h = F.relu(self.bn2(self.conv2(h)))
        h = F.relu(self.bn3(self.conv3(h)))
        t = F.relu(self.bn4(self.tall(h)))
        return self.head(torch.cat([h, t], dim=1))

    def forward(self, hcqt: torch.Tensor) -> torch.Tensor:
        return self.forward_features(self.normalise(hcqt))

    def for_inference(self) -> "SalienceNet":
        """A copy for inference: each batch norm folded into the convolution before it and the
        weights in channels-last layout (oneDNN's fast path for these small-channel convolutions:
        the network runs ~1.4x faster on 2 CPU cores; outputs equal to float rounding)."""
        import copy

        from torch.nn.utils.fusion import fuse_conv_bn_eval
        net = copy.deepcopy(self).eval()
        for conv, bn in (("conv1", "bn1"), ("conv2", "bn2"), ("conv3", "bn3"), ("tall", "bn4")):
            if isinstance(getattr(net, bn), nn.BatchNorm2d):
                setattr(net, conv, fuse_conv_bn_eval(getattr(net, conv), getattr(net, bn)))
                setattr(net, bn, nn.Identity())
        return net.to(memory_format=torch.channels_last)


class Audio2Salience:
    """HCQT chunk -> sigmoid salience / melody / onset maps, chunked and batched.

    ``__call__(hcqt)``: hcqt [shape=(6, C.N_BINS, n_frames)] (or a batch with a leading axis)
    -> float32 [shape=(3, C.N_BINS, n_frames)] (``HEADS`` order) in [0, 1]. Long inputs are
    cut into blocks of at most ``block_frames`` with ``border_frames`` of context on each side
    (discarded; ``inference.blocked``), the blocks run as batches of ``batch_size`` under
    ``torch.inference_mode``, with autocast (bfloat16) on CUDA.
    """

    def __init__(self, model: SalienceNet, *, device: str | torch.device = "cpu",
                 block_frames: int = 2048, border_frames: int = 64, batch_size: int = 4):
        self.device = torch.device(device)
        self.model = model.to(self.device).eval().for_inference()
        self.block_frames = int(block_frames)
        self.border_frames = int(border_frames)
        self.batch_size = int(batch_size)

    def __call__(self, hcqt: np.ndarray) -> np.ndarray:
        x = np.asarray(hcqt, dtype=np.float32)
        if x.ndim == 4:
            return np.stack([self(xi) for xi in x])
        if x.ndim != 3:
            raise ValueError(f"hcqt must be (harmonics, bins, frames), got shape {x.shape}")
        n = x.shape[-1]
        if n == 0:
            return np.zeros((len(HEADS), x.shape[1], 0), np.float32)
        cuda = self.device.type == "cuda"

        def predict(batch: np.ndarray) -> np.ndarray:
            xb = torch.from_numpy(batch).to(self.device).contiguous(memory_format=torch.channels_last)
            return torch.sigmoid(self.model(xb).float()).cpu().numpy()

        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
            return blocked_predict(x, predict, block_frames=self.block_frames,
                                   border_frames=self.border_frames, batch_size=self.batch_size)


def gaussian_blur_bins(roll: np.ndarray, *, sigma_bins: float = 1.0) -> np.ndarray:
    """Target blurred along frequency [shape=(n_bins, n_frames)], peak 1 kept at the true bin
    (DeepSalience's soft labels): max over notes of exp(-d^2 / 2 sigma^2)."""
    roll = np.asarray(roll, dtype=np.float32)
    out = roll.copy()
    r = int(math.ceil(2 * sigma_bins))
    for d in range(1, r + 1):
        w = np.float32(math.exp(-d * d / (2 * sigma_bins ** 2)))
        out[d:] = np.maximum(out[d:], w * roll[:-d])
        out[:-d] = np.maximum(out[:-d], w * roll[d:])
    return out
