"""PESTO-style f0 network (after Riou et al. 2023, "PESTO: Pitch Estimation with
Self-supervised Transposition-equivariant Objective", ISMIR) and its ``Audio2F0`` callable.

The network sees one CQT frame at a time (the ``h = 1`` channel of our HCQT: ``C.N_BINS``
bins of ``C.BINS_PER_OCTAVE // 12`` bins per semitone from ``C.FMIN_HZ``) and outputs

* a distribution over ``n_bins`` pitch bins (softmax of ``logits``), translation-equivariant
  by construction: a stack of 1-D convolutions over frequency (same padding), then PESTO's
  Toeplitz layer (one shared kernel of ``2 n_bins - 1`` taps, i.e. a full-width
  convolution), so that shifting the input by ``k`` bins shifts the output by ``k`` bins
  (up to the borders). Bin ``b`` means MIDI pitch
  ``fmin_midi + (b + offset_bins) / bins_per_semitone``, where ``offset_bins`` is calibrated
  on synthetic tones after self-supervised training (as PESTO does);
* a voicing logit (our addition): a small head over the last convolution's features pooled
  over frequency (shift-invariant), the frame's level in dBFS and the peak of the pitch
  distribution.

Temporal context (an experiment, ``temporal_layers > 0``): the per-frame encoder's latent
[shape=(c, n_bins)] of consecutive frames goes through residual 2-D convolutions over
(time, pitch) (kernel ``temporal_kernel`` = (frames, bins), time dilations 1, 2, 4, ...;
the sequence's ends are padded by repeating the edge frame) before the Toeplitz layer, so
that a frame sees its neighbours (glides, vibrato, breathy onsets) while the network stays
translation-equivariant along pitch (the convolutions are shared across bins). Such a model
reads a sequence: ``forward`` takes [shape=(n_frames, n_bins)] as one run of consecutive
frames, or [shape=(n_seq, n_frames, n_bins)]; ``context_frames`` is its reach on each side.

Input frames (``PestoNet.input_cqt``): with ``filter_scale = 1`` the HCQT's ``h = 1`` channel
(``FrontEnd.hcqt`` 's scale, ``scale='reference'``; the model divides by
``cqt.hcqt_amplitude_scale``); with ``filter_scale < 1`` the model's own CQT on the same bins
with shorter windows (``own_cqt``; the HCQT's 20-cent filters are 430 ms long at 200 Hz,
which averages vibrato and neighbouring notes away), scaled so that a partial reads its
amplitude. The model takes dB of partial amplitude and standardises each frame (gain
invariance); the level goes only to the voicing head.
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

#: dB floor of the input (partial amplitude 1e-5 = -100 dBFS).
FLOOR_DB: float = -100.0


@register_architecture("pesto")
class PestoNet(nn.Module):
    """Translation-equivariant pitch network over CQT frames.

    ``forward(mag)``: mag [shape=(batch, n_bins)] CQT magnitude (HCQT h=1 scale) ->
    (logits [shape=(batch, n_bins)], voicing_logit [shape=(batch,)]); with temporal layers
    the ``batch`` frames are one run of consecutive frames (or pass
    [shape=(n_seq, n_frames, n_bins)] -> [shape=(n_seq, n_frames, n_bins)], [shape=(n_seq, n_frames)]).
    ``forward_db(db)`` takes frames already in dB of partial amplitude (training).
    """

    def __init__(self, *, n_bins: int = C.N_BINS, bins_per_semitone: int = C.BINS_PER_SEMITONE,
                 fmin_midi: float = C.FMIN_MIDI, channels: tuple[int, ...] | list[int] = (24, 24, 16, 8),
                 kernels: tuple[int, ...] | list[int] = (25, 11, 1, 1), voicing_hidden: int = 16,
                 harmonic_channel: int = 1, filter_scale: float = 1.0, temporal_layers: int = 0,
                 temporal_kernel: tuple[int, int] | list[int] = (3, 5)):
        super().__init__()
        self.hparams: dict[str, Any] = dict(
            n_bins=int(n_bins), bins_per_semitone=int(bins_per_semitone), fmin_midi=float(fmin_midi),
            channels=[int(c) for c in channels], kernels=[int(k) for k in kernels],
            voicing_hidden=int(voicing_hidden),
            harmonic_channel=int(harmonic_channel), filter_scale=float(filter_scale))
        if temporal_layers:     # (absent from the per-frame checkpoints, versions 1-3)
            self.hparams.update(temporal_layers=int(temporal_layers),
                                temporal_kernel=[int(k) for k in temporal_kernel])
        self.harmonic_channel = int(harmonic_channel)
        self.filter_scale = float(filter_scale)
        self.n_bins = int(n_bins)
        self.bins_per_semitone = int(bins_per_semitone)
        self.fmin_midi = float(fmin_midi)
        layers: list[nn.Module] = []
        c_in = 1
        if len(kernels) != len(channels):
            raise ValueError("one kernel size per convolution layer")
        for c, k in zip(channels, kernels):
            layers += [nn.Conv1d(c_in, c, k, padding=k // 2), nn.LeakyReLU(0.3)]
            c_in = c
        self.convs = nn.Sequential(*layers)
        kt, kf = (int(k) for k in temporal_kernel)
        if kt % 2 == 0 or kf % 2 == 0:
            raise ValueError("temporal_kernel sizes must be odd")
        self.temporal = nn.ModuleList(
            nn.Conv2d(c_in, c_in, (kt, kf), padding=(0, kf // 2), dilation=(2 ** i, 1))
            for i in range(int(temporal_layers)))
        self.temporal_act = nn.LeakyReLU(0.3)
        #: frames of context the network reads on each side of a frame (0: frame by frame).
        self.context_frames = int(sum(2 ** i * (kt // 2) for i in range(int(temporal_layers))))
        self.to_one = nn.Conv1d(c_in, 1, 1)
        # Toeplitz layer: y[j] = sum_i w[j - i + n_bins - 1] x[i].
        self.toeplitz = nn.Conv1d(1, 1, 2 * self.n_bins - 1, padding=self.n_bins - 1, bias=False)
        j = torch.arange(self.n_bins)
        self.register_buffer("_toeplitz_index", (j[:, None] - j[None, :] + self.n_bins - 1),
                             persistent=False)               # [i, j] -> tap of input i, output j
        self.voicing = nn.Sequential(nn.Linear(2 * c_in + 2, voicing_hidden), nn.ReLU(),
                                     nn.Linear(voicing_hidden, 1))
        from workstation.inference.cqt import hcqt_amplitude_scale
        if self.uses_hcqt:
            amp = hcqt_amplitude_scale()[harmonic_channel][: self.n_bins]
        else:                      # own CQT, scaled so that a partial reads its amplitude
            amp = np.ones(self.n_bins)
        self.register_buffer("amp_scale", torch.as_tensor(amp, dtype=torch.float32), persistent=False)
        #: calibrated shift (in bins) from output bin to absolute pitch.
        self.register_buffer("offset_bins", torch.zeros((), dtype=torch.float32))

    # ------------------------------------------------------------------ input
    @property
    def uses_hcqt(self) -> bool:
        """True: the input is the shared HCQT's ``harmonic_channel`` (filter scale 1); False:
        the model's own CQT (``input_cqt``) with shorter windows (``filter_scale`` < 1)."""
        return self.filter_scale == 1.0

    def input_cqt(self, audio) -> torch.Tensor:
        """The model's input from audio at ``C.SAMPLE_RATE`` [shape=(n,)] -> CQT magnitude
        [shape=(n_bins, 1 + n // C.HOP_LENGTH)] (centred frames): the shared HCQT's channel,
        or the model's own CQT (same bins, ``filter_scale`` times the HCQT's window lengths)."""
        x = torch.as_tensor(np.ascontiguousarray(audio) if isinstance(audio, np.ndarray) else audio)
        if self.uses_hcqt:
            from workstation.inference.cqt import harmonic_cqt
            return harmonic_cqt(self.amp_scale.device)(x)[self.harmonic_channel]
        return own_cqt(self.filter_scale, n_bins=self.n_bins, bins_per_semitone=self.bins_per_semitone,
                       fmin_midi=self.fmin_midi, device=self.amp_scale.device)(x)

    # ------------------------------------------------------------------ forward
    def to_db(self, mag: torch.Tensor) -> torch.Tensor:
        """CQT magnitude -> dB of partial amplitude, floored at ``FLOOR_DB`` [same shape]."""
        amp = mag.float() / self.amp_scale
        return 20.0 * torch.log10(amp.clamp_min(10 ** (FLOOR_DB / 20)))

    def forward_db(self, db: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        lead = db.shape[:-1]
        if len(self.temporal) and db.dim() == 2:
            db = db[None]                                         # one run of frames
        seq_shape = db.shape[:-1]
        db = db.reshape(-1, db.shape[-1])
        level = db.amax(dim=-1)                                   # [B] dBFS of the loudest bin
        mu = db.mean(dim=-1, keepdim=True)
        sd = db.std(dim=-1, keepdim=True).clamp_min(1.0)
        x = ((db - mu) / sd)[:, None]                             # [B, 1, F]
        h = self.convs(x)                                         # [B, c, F]
        if len(self.temporal):
            s_, t_ = seq_shape
            h4 = h.reshape(s_, t_, h.shape[1], h.shape[2]).permute(0, 2, 1, 3)  # [S, c, T, F]
            for conv in self.temporal:
                pt = conv.dilation[0] * (conv.kernel_size[0] // 2)
                y = conv(F.pad(h4, (0, 0, pt, pt), mode="replicate"))
                h4 = h4 + self.temporal_act(y)
            h = h4.permute(0, 2, 1, 3).reshape(s_ * t_, h.shape[1], h.shape[2])
        # the Toeplitz layer as one matmul with its (n_bins x n_bins) matrix: much faster on
        # CPU than a conv1d with a 2 n_bins - 1 tap kernel, same result.
        z = self.to_one(h)[:, 0]                                  # [B, F]
        logits = z @ self.toeplitz.weight[0, 0][self._toeplitz_index]  # [B, F]
        peak = torch.softmax(logits.float(), dim=-1).amax(dim=-1)
        v_in = torch.cat([h.amax(dim=-1), h.mean(dim=-1), (level[:, None] / 50.0 + 1.0),
                          peak[:, None]], dim=-1)
        return logits.reshape(*lead, logits.shape[-1]), self.voicing(v_in)[:, 0].reshape(lead)

    def forward(self, mag: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.forward_db(self.to_db(mag))

    def for_inference(self) -> "PestoNet":
        """A copy for inference whose frequency convolutions run as (1 x k) 2-D convolutions on
        channels-last tensors (oneDNN's fast path for these small-channel convolutions: the
        network runs ~1.9x faster on one CPU core; outputs equal to float rounding)."""
        import copy
        net = copy.deepcopy(self).eval()
        if not isinstance(net.convs, _ConvStack2d):
            net.convs = _ConvStack2d(net.convs)
        return net

    # ------------------------------------------------------------------ decoding
    def bins_to_midi(self, bins: torch.Tensor) -> torch.Tensor:
        """Fractional output bin -> MIDI pitch (with the calibrated offset)."""
        return self.fmin_midi + (bins + self.offset_bins) / self.bins_per_semitone

    def load_extra(self, extra: dict[str, Any]) -> None:
        """Restore non-tensor state saved in the checkpoint's ``extra``."""
        if "offset_bins" in extra:
            self.offset_bins.fill_(float(extra["offset_bins"]))


class _ConvStack2d(nn.Module):
    """A stack of ``Conv1d`` (+ activations) over frequency run as ``Conv2d`` with (1 x k)
    kernels on channels-last tensors: [shape=(B, c, F)] in and out, same weights."""

    def __init__(self, seq: nn.Sequential):
        super().__init__()
        layers: list[nn.Module] = []
        for mod in seq:
            if isinstance(mod, nn.Conv1d):
                conv = nn.Conv2d(mod.in_channels, mod.out_channels, (1, mod.kernel_size[0]),
                                 padding=(0, mod.padding[0]), bias=mod.bias is not None,
                                 device=mod.weight.device, dtype=mod.weight.dtype)
                conv.weight.data.copy_(mod.weight.data[:, :, None])
                if mod.bias is not None:
                    conv.bias.data.copy_(mod.bias.data)
                layers.append(conv)
            else:
                layers.append(mod)
        self.seq = nn.Sequential(*layers).to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.seq(x[:, :, None].contiguous(memory_format=torch.channels_last))[:, :, 0]


_OWN_CQT: dict[tuple, Any] = {}


def own_cqt(filter_scale: float, *, n_bins: int = C.N_BINS, bins_per_semitone: int = C.BINS_PER_SEMITONE,
            fmin_midi: float = C.FMIN_MIDI, device: str | torch.device = "cpu"):
    """The CQT of a ``PestoNet`` with ``filter_scale`` < 1 (built once per setting): the HCQT's
    ``h = 1`` bins with ``filter_scale`` times shorter windows (``filter_scale = 0.25``: 107 ms
    at 200 Hz instead of 430 ms, so vibrato and note changes blur less), each bin scaled so
    that a partial of amplitude A at its centre reads A. ``__call__(audio [shape=(n,)])`` ->
    [shape=(n_bins, n_frames)]."""
    from workstation.inference.cqt import ConstantQ
    key = (float(filter_scale), int(n_bins), int(bins_per_semitone), float(fmin_midi), str(torch.device(device)))
    if key not in _OWN_CQT:
        bpo = 12 * bins_per_semitone
        freqs = 440.0 * 2.0 ** ((fmin_midi - 69.0) / 12.0) * 2.0 ** (np.arange(n_bins) / bpo)
        _OWN_CQT[key] = ConstantQ(freqs, bins_per_octave=bpo, filter_scale=float(filter_scale),
                                  scale=np.full(n_bins, 2.0), device=device)
    return _OWN_CQT[key]


def local_average_bin(probs: torch.Tensor, *, half_width: int = 3) -> torch.Tensor:
    """Sub-bin pitch: probability-weighted mean bin in ``argmax +- half_width``
    [probs shape=(batch, n_bins)] -> [shape=(batch,)] fractional bin."""
    n = probs.shape[-1]
    center = probs.argmax(dim=-1, keepdim=True)
    offs = torch.arange(-half_width, half_width + 1, device=probs.device)
    idx = (center + offs).clamp(0, n - 1)
    w = probs.gather(-1, idx)
    return (w * idx.to(w.dtype)).sum(-1) / w.sum(-1).clamp_min(1e-12)


def viterbi_bins(probs: np.ndarray, *, sigma_bins: float = 3.0, max_step: int = 15,
                 jump_prob: float = 1e-3, floor: float = 1e-4, segment: int | None = 256,
                 overlap: int = 128) -> np.ndarray:
    """Most likely bin path through frame-wise pitch distributions (CREPE-style smoothing).

    probs [shape=(n_frames, n_bins)]; the transition from bin ``i`` to ``j`` scores
    ``exp(-0.5 ((j - i) / sigma_bins)^2)`` within ``max_step`` bins, or ``jump_prob`` for any
    jump (a new note); emissions are ``probs + floor``. Returns the path [shape=(n_frames,),
    int].

    ``segment``: the frames are cut into segments of ``segment`` frames, each decoded with
    ``overlap`` frames of context on both sides (the context's path is discarded), all
    segments at once as one vectorised recursion (as ``core.pitch.PitchHMM`` does for pYIN):
    ``segment + 2 overlap`` steps instead of ``n_frames``. A path rarely depends on frames
    more than a second away (the ``jump_prob`` jump resets it), so the stitched path equals
    the exact one almost everywhere (``segment=None``: one exact recursion over all frames).
    O(n_frames * n_bins * max_step) work either way; memory: int16 back-pointers of every
    frame decoded (context included)."""
    probs = np.asarray(probs)
    n, f = probs.shape
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    emit = np.log(probs.astype(np.float32) + np.float32(floor))
    if segment is None or n <= int(segment) + 2 * int(overlap):
        return _viterbi_segments(emit[None], sigma_bins, max_step, jump_prob)[0]
    seg, ov = int(segment), int(overlap)
    starts = np.arange(0, n, seg)
    # every segment padded to one length with log-emission 0 (uniform): it leaves the path
    # over the real frames unchanged (staying in a bin costs nothing)
    padded = np.zeros((n + 2 * ov + seg, f), np.float32)
    padded[ov:ov + n] = emit
    length = seg + 2 * ov
    blocks = np.stack([padded[s:s + length] for s in starts])          # frame s - ov .. s + seg + ov
    paths = _viterbi_segments(blocks, sigma_bins, max_step, jump_prob)
    return np.concatenate([paths[i, ov:ov + min(seg, n - s)] for i, s in enumerate(starts)])


def _viterbi_segments(emit: np.ndarray, sigma_bins: float, max_step: int, jump_prob: float) -> np.ndarray:
    """Exact Viterbi paths of ``S`` independent sequences at once: emit [shape=(S, T, F)]
    log-emissions -> paths [shape=(S, T)] (see ``viterbi_bins``). Runs in torch on the CPU
    (one fused max over the allowed steps per frame)."""
    S, n, f = emit.shape
    log_jump = float(np.log(jump_prob))
    # a step of more than ``reach`` bins scores below a jump (which starts from the best bin
    # of all), so it is never taken: leave those steps out (same path, less work)
    reach = int(min(max_step, math.floor(sigma_bins * math.sqrt(-2.0 * math.log(jump_prob)))))
    log_t = torch.as_tensor(-0.5 * (np.arange(-reach, reach + 1) / sigma_bins) ** 2, dtype=torch.float32)
    e = torch.as_tensor(np.ascontiguousarray(emit, dtype=np.float32))
    back = torch.empty((n, S, f), dtype=torch.int16)
    src = torch.arange(f)[None] - reach          # offset m of bin j reads bin j - reach + m
    seq = torch.arange(S)
    padded = torch.full((S, f + 2 * reach), float("-inf"))
    with torch.inference_mode():
        delta = e[:, 0].clone()
        for t in range(1, n):
            padded[:, reach:reach + f] = delta
            best, arg = (padded.unfold(1, 2 * reach + 1, 1) + log_t).max(dim=2)
            jump, j_best = delta.max(dim=1, keepdim=True)
            jump = jump + log_jump
            use_jump = jump > best
            back[t] = torch.where(use_jump, j_best, src + arg)
            delta = torch.where(use_jump, jump, best) + e[:, t]
        path = torch.empty((S, n), dtype=torch.long)
        path[:, -1] = delta.argmax(dim=1)
        for t in range(n - 1, 0, -1):
            path[:, t - 1] = back[t, seq, path[:, t]]
    return path.numpy()


def local_average_at(probs: torch.Tensor, center: torch.Tensor, *, half_width: int = 3) -> torch.Tensor:
    """Probability-weighted mean bin in ``center +- half_width`` [shape=(batch,)]."""
    n = probs.shape[-1]
    offs = torch.arange(-half_width, half_width + 1, device=probs.device)
    idx = (center[:, None] + offs).clamp(0, n - 1)
    w = probs.gather(-1, idx)
    return (w * idx.to(w.dtype)).sum(-1) / w.sum(-1).clamp_min(1e-12)


class Audio2F0:
    """Batched f0 from CQT frames with a ``PestoNet``.

    ``__call__(cqt)``: cqt [shape=(n_bins, n_frames)] numpy or tensor, CQT magnitude on the
    HCQT ``h = 1`` scale -> dict of numpy arrays [shape=(n_frames,)]: ``pitch_midi``,
    ``freqs_hz``, ``voicing`` (probability in [0, 1]), ``peak`` (max of the pitch
    distribution). A model with temporal context (``context_frames > 0``) reads the frames as one
    run in time: each batch carries ``context_frames`` extra frames on each side, so the
    result does not depend on ``batch_frames``. ``decoder``: ``argmax`` (frame by frame) or ``viterbi`` (a smooth path
    through the distributions of all frames given, see ``viterbi_bins``). Frames go through the network in batches of ``batch_frames`` under
    ``torch.inference_mode()`` (autocast to float16 on CUDA).
    """

    def __init__(self, model: PestoNet, *, batch_frames: int = 8192, decoder: str = "argmax"):
        if decoder not in ("argmax", "viterbi"):
            raise ValueError(f"decoder must be 'argmax' or 'viterbi', got {decoder!r}")
        self.model = model.for_inference()
        self.batch_frames = int(batch_frames)
        self.decoder = decoder

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def __call__(self, cqt) -> dict[str, np.ndarray]:
        x = torch.as_tensor(np.ascontiguousarray(cqt) if isinstance(cqt, np.ndarray) else cqt)
        x = x.to(self.device, torch.float32).T.contiguous()       # [n_frames, n_bins]
        outs = {"pitch_midi": [], "voicing": [], "peak": [], "probs": []}
        cuda = self.device.type == "cuda"
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.float16, enabled=cuda):
            r = int(getattr(self.model, "context_frames", 0))
            for s in range(0, len(x), self.batch_frames):
                e = min(len(x), s + self.batch_frames)
                a, b = max(0, s - r), min(len(x), e + r)          # context frames, dropped after
                logits, v = self.model(x[a:b])
                logits, v = logits[s - a:e - a], v[s - a:e - a]
                probs = torch.softmax(logits.float(), dim=-1)
                if self.decoder == "viterbi":
                    outs["probs"].append(probs)
                else:
                    outs["pitch_midi"].append(self.model.bins_to_midi(local_average_bin(probs)))
                outs["voicing"].append(torch.sigmoid(v.float()))
                outs["peak"].append(probs.amax(dim=-1))
            if self.decoder == "viterbi" and outs["probs"]:
                probs = torch.cat(outs["probs"]).float()
                path = torch.as_tensor(viterbi_bins(probs.cpu().numpy()), device=probs.device)
                outs["pitch_midi"] = [self.model.bins_to_midi(local_average_at(probs, path))]
        del outs["probs"]
        res = {k: (torch.cat(v).cpu().numpy().astype(np.float32) if v else np.zeros(0, np.float32))
               for k, v in outs.items()}
        res["freqs_hz"] = (440.0 * 2.0 ** ((res["pitch_midi"].astype(np.float64) - 69.0) / 12.0)
                           ).astype(np.float32)
        return res


def n_parameters(model: nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters()))


__all__ = ["PestoNet", "Audio2F0", "own_cqt", "local_average_bin", "local_average_at", "viterbi_bins", "n_parameters", "FLOOR_DB"]
