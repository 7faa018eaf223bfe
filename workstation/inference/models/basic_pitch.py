"""Spotify's Basic Pitch (ICASSP 2022 "NMP" model, basic-pitch 0.4.0) as a torch module, and
its ``Audio2BasicPitch`` callable.

The model: Bittner, Bosch, Rubinstein, Meseguer-Brocal, Ewert (2022), "A Lightweight
Instrument-Agnostic Model for Polyphonic Note Transcription and Multipitch Estimation",
ICASSP. A CQT (9 octaves x 36 bins from 27.5 Hz, as in nnAudio's CQT2010v2), log-power
normalised per window, harmonic stacking, and a few 2-D convolutions, giving three sigmoid
posteriorgrams per 2 s window.

Source and licence: the weights are ``basic_pitch/saved_models/icassp_2022/nmp.onnx`` of the
basic-pitch 0.4.0 wheel (https://github.com/spotify/basic-pitch), Copyright 2022 Spotify AB,
Apache License 2.0; vendored as ``models/basic_pitch_nmp.onnx`` with the licence and NOTICE
in ``models/LICENCE.basic-pitch.txt``. This module does not translate the network by hand:
``workstation.inference.onnx_graph`` runs the ONNX graph node by node with torch ops (no
TensorFlow, no onnxruntime; CPU or CUDA), matching onnxruntime to about 1e-6.

I/O of the network (``BasicPitchNet``):

* input: float32 audio windows [shape=(batch, 43844, 1)] (or (batch, 43844)) at 22050 Hz
  (43844 = 2 s * 22050 - 256 samples); ``batch`` may vary;
* output: {"contour": [shape=(batch, 172, 264)], "note": [shape=(batch, 172, 88)],
  "onset": [shape=(batch, 172, 88)]}, probabilities in [0, 1]. ONNX output
  ``StatefulPartitionedCall:0`` is the contour, ``:1`` the note and ``:2`` the onset
  posteriorgram (the mapping of ``basic_pitch.inference.Model.predict``; also the graph:
  ``:0`` is the 264-bin sigmoid, ``:1`` the 88-bin sigmoid computed from it, ``:2`` the
  88-bin sigmoid computed from ``:1`` and the audio features).
* Frequency axes: note / onset bin ``i`` is MIDI ``21 + i`` (A0..C8); contour bin ``b`` is MIDI
  ``20 2/3 + b / 3`` (3 bins per semitone, 264 bins; MIDI 21 = 27.5 Hz is bin 1). That is
  the convention ``basic_pitch.constants`` states in words ("base frequency of the CENTRAL
  bin of the first semitone (i.e., the second bin ...)") and the one the model follows: a
  pure tone at MIDI ``p`` peaks at contour bin ``3 (p - 21) + 1.04`` (measured for p = 40,
  60, 69, 84), while the network's internal CQT bin ``b`` is ``21 + b / 3`` exactly. (The
  array ``FREQ_BINS_CONTOURS`` and ``note_creation.midi_pitch_to_contour_bin`` of
  basic-pitch put MIDI 21 at bin 0, one bin = 33 cents off the model's output.)
* Time axis: window frame ``j`` is centred on window sample ``256 j`` (the CQT reflect-pads
  128 samples on each side and hops 256 samples; the kernels of every octave are centred
  there to within one sample).

``Audio2BasicPitch`` puts these on the Workstation's frame grid (frame ``k`` centred on
sample ``256 k``, ``n_frames = 1 + n_samples // 256``); see its docstring for the windowing
and for the time offset of ``basic_pitch.inference.run_inference``'s own output.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from workstation.core import constants as C
from workstation.core.errors import ModelError
from workstation.inference.device import cpu_bf16
from workstation.inference.onnx_graph import OnnxGraph, load_onnx_graph
from workstation.inference.weights import register_format

#: Sample rate the model was trained at, Hz (also the Workstation's analysis rate).
SAMPLE_RATE: int = 22050
#: Model hop, in samples (also the Workstation's hop).
HOP: int = 256
#: Samples in one model window: 2 s * 22050 - 256 (``basic_pitch.constants.AUDIO_N_SAMPLES``).
WINDOW_SAMPLES: int = 43844
#: Output frames per model window (1 + 43844 // 256).
WINDOW_FRAMES: int = 172
#: Frames discarded at the start of every window (half of basic-pitch's 30-frame overlap).
LEAD_FRAMES: int = 15
#: Frames kept from every window on our grid; the window hop is KEEP_FRAMES * HOP samples.
KEEP_FRAMES: int = 141
#: basic-pitch's own overlap (``run_inference``: ``n_overlapping_frames = 30``).
BP_OVERLAP_FRAMES: int = 30
#: basic-pitch's window hop in samples: 43844 - 30 * 256 (not a multiple of 256).
BP_HOP_SAMPLES: int = WINDOW_SAMPLES - BP_OVERLAP_FRAMES * HOP
#: basic-pitch's frame rate as it trims the output (``ANNOTATIONS_FPS = 22050 // 256``).
BP_FPS: int = SAMPLE_RATE // HOP

#: MIDI pitch of note / onset bin 0 (A0); bins are semitones.
NOTE_MIDI_MIN: int = 21
N_NOTES: int = 88
#: MIDI pitch of contour bin 0 (MIDI 21 = 27.5 Hz is bin 1, see the module docstring);
#: bins are thirds of a semitone.
CONTOUR_MIDI_MIN: float = 21.0 - 1.0 / 3.0
CONTOUR_BINS_PER_SEMITONE: int = 3
N_CONTOUR_BINS: int = 264

#: Graph input name and output names of ``nmp.onnx``.
INPUT_NAME: str = "serving_default_input_2:0"
OUTPUT_NAMES: dict[str, str] = {"contour": "StatefulPartitionedCall:0",
                                "note": "StatefulPartitionedCall:1",
                                "onset": "StatefulPartitionedCall:2"}
#: Number of bins of each output.
N_BINS: dict[str, int] = {"contour": N_CONTOUR_BINS, "note": N_NOTES, "onset": N_NOTES}

assert SAMPLE_RATE == C.SAMPLE_RATE and HOP == C.HOP_LENGTH
assert WINDOW_FRAMES == 1 + WINDOW_SAMPLES // HOP
assert LEAD_FRAMES + KEEP_FRAMES <= WINDOW_FRAMES - LEAD_FRAMES


class BasicPitchNet(nn.Module):
    """The basic-pitch network (its ONNX graph run by ``OnnxGraph``).

    ``forward(audio)``: float32 audio [shape=(batch, 43844, 1)] or [shape=(batch, 43844)] at
    22050 Hz -> {"contour": [shape=(batch, 172, 264)], "note": [shape=(batch, 172, 88)],
    "onset": [shape=(batch, 172, 88)]}, probabilities; window frame ``j`` is centred on
    window sample ``256 j``. ``lowp_dtype`` (e.g. ``torch.bfloat16``): the learned 2-D
    convolutions run in it (``OnnxGraph``); None: float32 throughout.
    """

    def __init__(self, graph: OnnxGraph):
        super().__init__()
        if graph.input_names != [INPUT_NAME] or set(graph.output_names) != set(OUTPUT_NAMES.values()):
            raise ModelError(f"not the basic-pitch nmp graph: inputs {graph.input_names}, "
                             f"outputs {graph.output_names}")
        self.graph = graph

    def forward(self, audio: torch.Tensor, lowp_dtype: torch.dtype | None = None
                ) -> dict[str, torch.Tensor]:
        if audio.dim() == 2:
            audio = audio.unsqueeze(-1)
        if audio.shape[1:] != (WINDOW_SAMPLES, 1):
            raise ValueError(f"expected audio windows (batch, {WINDOW_SAMPLES}, 1), got {tuple(audio.shape)}")
        if not audio.is_cuda:
            out = self.graph(audio, lowp_dtype=lowp_dtype)
        else:   # no TF32 convolutions: the per-window min-max dB normalisation amplifies it
            tf32, torch.backends.cudnn.allow_tf32 = torch.backends.cudnn.allow_tf32, False
            try:
                out = self.graph(audio, lowp_dtype=lowp_dtype)
            finally:
                torch.backends.cudnn.allow_tf32 = tf32
        return {key: out[name] for key, name in OUTPUT_NAMES.items()}


@register_format("basic-pitch-onnx")
def _load_from_manifest(path, entry: dict) -> BasicPitchNet:
    """Manifest loader of ``models/basic_pitch_nmp.onnx`` (after the sha256 check)."""
    return load_basic_pitch(path)


def load_basic_pitch(path: str | Path) -> BasicPitchNet:
    """Load ``nmp.onnx`` (e.g. ``models/basic_pitch_nmp.onnx``) -> ``BasicPitchNet`` on the
    CPU, in eval mode, without gradients. Raises ``ModelError`` if the file cannot be read
    or is not the basic-pitch graph."""
    net = BasicPitchNet(load_onnx_graph(path)).eval()
    net.requires_grad_(False)
    return net


def _frame_windows(audio: np.ndarray, lead: int, hop: int, n_windows: int) -> torch.Tensor:
    """Cut ``audio`` [shape=(n_samples,)] into ``n_windows`` windows of WINDOW_SAMPLES
    starting at samples ``w * hop - lead`` (zeros outside the signal) -> a strided view
    [shape=(n_windows, WINDOW_SAMPLES)] float32."""
    total = (n_windows - 1) * hop + WINDOW_SAMPLES
    padded = np.zeros(max(total, lead + len(audio)), np.float32)
    padded[lead:lead + len(audio)] = audio
    return torch.from_numpy(padded[:total]).unfold(0, WINDOW_SAMPLES, hop)


class Audio2BasicPitch:
    """Mono audio at 22050 Hz -> basic-pitch note / onset / contour posteriorgrams on the
    Workstation's frame grid.

    ``__call__(audio)``: float32 [shape=(n_samples,)] at 22050 Hz, any length ->
    {"note": [shape=(88, n_frames)], "onset": [shape=(88, n_frames)],
    "contour": [shape=(264, n_frames)]}, float32 probabilities in [0, 1], time on the last
    axis, ``n_frames = 1 + n_samples // 256``; frame ``k`` is centred on sample ``256 k``
    (time ``256 k / 22050`` s). Note / onset row ``i`` is MIDI ``21 + i``; contour row ``b``
    is MIDI ``CONTOUR_MIDI_MIN + b / 3`` = ``20 2/3 + b / 3``.

    Windowing: as ``basic_pitch.inference`` (2 s windows starting 15 frames = 3840 samples
    before the signal, zero-padded at the ends, 15 frames of each window's start discarded),
    except for the hop. basic-pitch hops 43844 - 30 * 256 = 36164 samples = 141.27 frames
    and keeps 142 frames per window, so its unwrapped frame ``k`` (window ``w = k // 142``)
    is centred on sample ``256 k - 188 w``: read on a 256-sample grid, its frames fall 188
    samples (0.73 frame, 8.5 ms) further behind with every window, so an event at 16 s
    shows about 7 frames (80 ms) late, and its output has ``floor(n_samples * 86 / 22050)``
    frames (86 instead of 86.13 frames per second). Here the hop is 141 frames = 36096 samples
    and every window keeps its frames 15..155 (16 discarded at its end), so window frame
    ``j`` of window ``w`` is our frame ``141 w + j - 15``, centred on sample ``256 k``:
    time offset 0, no drift. For the first 141 frames the two agree exactly. Measured: the
    CQT energy of an impulse is centred within 0.2 frame of it, and the onset posterior of
    a synthetic piano tone peaks 0.3 +- 0.1 frame (3.5 ms) before the tone's first sample,
    wherever it falls in the file (basic-pitch's own output: 0.3 frame early in the first
    window, then 0.73 frame later with each window).

    Windows run in batches of ``batch_size`` per forward under ``torch.inference_mode`` on
    ``device``, in ``precision``: "auto" runs the network's spatial 2-D convolutions (the
    learned layers after the CQT, about two thirds of its time) in bfloat16 on a CPU whose
    oneDNN runs it natively (AVX-512), everything else in float32; "float32" forces full
    precision (always the case on CUDA, where the float32 network is not the bottleneck).
    """

    def __init__(self, model: nn.Module | str | Path, *, device: str | torch.device = "cpu",
                 batch_size: int = 8, precision: str = "auto"):
        if precision not in ("auto", "float32"):
            raise ValueError(f"precision must be 'auto' or 'float32', got {precision!r}")
        if isinstance(model, (str, Path)):
            model = load_basic_pitch(model)
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.batch_size = max(1, int(batch_size))
        lowp = precision == "auto" and self.device.type == "cpu" and cpu_bf16()
        self.lowp_dtype = torch.bfloat16 if lowp else None

    def run_windows(self, windows: torch.Tensor) -> dict[str, np.ndarray]:
        """Model outputs for audio windows [shape=(n_windows, 43844)] (CPU, float32) ->
        {key: [shape=(n_windows, 172, n_bins)]} float32 numpy, ``batch_size`` per forward."""
        out = {k: np.empty((len(windows), WINDOW_FRAMES, n), np.float32) for k, n in N_BINS.items()}
        with torch.inference_mode():
            for i in range(0, len(windows), self.batch_size):
                x = windows[i:i + self.batch_size].to(self.device, torch.float32)
                for key, y in self.model(x.unsqueeze(-1), lowp_dtype=self.lowp_dtype).items():
                    out[key][i:i + len(x)] = y.float().cpu().numpy()
        return out

    def __call__(self, audio: np.ndarray) -> dict[str, np.ndarray]:
        audio = _as_mono(audio)
        return self.frames_on_grid(audio, 0, 0, 1 + len(audio) // HOP)

    def frames_on_grid(self, audio: np.ndarray, first_sample: int, frame_lo: int,
                       frame_hi: int) -> dict[str, np.ndarray]:
        """The posteriorgrams of frames ``frame_lo .. frame_hi - 1`` of a track from a segment of
        it: ``audio`` [shape=(n,)] is the track's samples from ``first_sample`` on (zero where
        it has none). The windows lie on the track's grid (window ``w`` starts at track sample
        ``(141 w - 15) * 256`` and gives frames ``141 w .. 141 w + 140``), so a track analysed in
        chunks gets what ``__call__`` gives for the whole track wherever each chunk's segment
        holds the windows of its frames (156 frames of audio before ``frame_lo`` and after
        ``frame_hi``), and no window is computed for frames outside the range. -> {"note":
        [shape=(88, frame_hi - frame_lo)], "onset": likewise, "contour": [shape=(264, ...)]}."""
        audio = _as_mono(audio)
        w0, w1 = frame_lo // KEEP_FRAMES, max(frame_lo, frame_hi - 1) // KEEP_FRAMES + 1
        lead = first_sample - (w0 * KEEP_FRAMES - LEAD_FRAMES) * HOP   # samples before audio[0]
        if lead < 0:
            audio = audio[-lead:]
        out = self.run_windows(_frame_windows(audio, max(lead, 0), KEEP_FRAMES * HOP, w1 - w0))
        a = frame_lo - w0 * KEEP_FRAMES
        result = {}
        for key in ("note", "onset", "contour"):
            kept = out[key][:, LEAD_FRAMES:LEAD_FRAMES + KEEP_FRAMES]   # (n_windows, 141, bins)
            frames = kept.reshape(-1, kept.shape[-1])[a:a + frame_hi - frame_lo]
            result[key] = np.ascontiguousarray(frames.T)
        return result

    def basic_pitch_unwrapped(self, audio: np.ndarray) -> dict[str, np.ndarray]:
        """``basic_pitch.inference.run_inference`` 's output, reproduced (for parity checks):
        its windowing (hop 36164 samples), unwrapping and trimming -> {"note":
        [shape=(n_bp, 88)], "onset": [shape=(n_bp, 88)], "contour": [shape=(n_bp, 264)]},
        time FIRST as basic-pitch returns it, ``n_bp = floor(n_samples * 86 / 22050)``,
        frame ``k`` centred on sample ``256 k - 188 (k // 142)`` (not our grid)."""
        audio = _as_mono(audio)
        lead = BP_OVERLAP_FRAMES // 2 * HOP
        n_windows = max(1, math.ceil((len(audio) + lead) / BP_HOP_SAMPLES))
        out = self.run_windows(_frame_windows(audio, lead, BP_HOP_SAMPLES, n_windows))
        n_keep = int(np.floor(len(audio) * (BP_FPS / SAMPLE_RATE)))
        half = BP_OVERLAP_FRAMES // 2
        return {k: np.ascontiguousarray(v[:, half:-half].reshape(-1, v.shape[-1])[:n_keep])
                for k, v in out.items()}


def _as_mono(audio: np.ndarray) -> np.ndarray:
    """Check and convert to float32 [shape=(n_samples,)]."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"audio must be mono (n_samples,), got shape {audio.shape}")
    return audio
