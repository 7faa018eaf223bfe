"""``pitch.salience``: multi-f0 salience on the 20-cent HCQT grid, by pretrained basic-pitch
(the default, ``method="basic-pitch"``: its contour posteriorgram, with its note and onset
posteriorgrams for ``notes``), by our learned network (``method="learned"``) or by harmonic
summation (``method="dsp"``). The result's ``method`` field says which (a probability or a
level scale: ``notes`` thresholds and tracking follow it).

``method="dsp"``, per chunk: HCQT magnitudes -> partial amplitudes (``hcqt_amplitude_scale``)
-> compressed dB levels above the frame's background -> weighted harmonic sum with a fundamental gate and a
subharmonic penalty (``core.postprocess.harmonic_salience``) -> frame-wise peaks with
parabolic sub-bin refinement. Values are on an absolute scale (dB above the local
background, see ``core.postprocess``), so peaks compare across frames and tracks.
Values are stored as float16 (a 60-minute track: 360 x 310k x 2 B = 223 MB).

``method="learned"``: the DeepSalience-style network of ``inference.models.salience`` (weights
``models/salience.pt``, manifest name ``salience``) replaces the harmonic summation; its
sigmoid output (probability that a pitch sounds) is the salience, times a fundamental gate
(``core.postprocess.fundamental_gate``: the net proposes the missing fundamental an octave
below a fifth, e.g. 49 under 61 + 68; a pitch with no energy at its own f0, 40 dB under its
2nd/3rd partials, is dropped). Chunks are joined with
``context_frames`` of HCQT carried over from the previous chunk, so that the network sees
context across chunk joins (each frame is written once, with context on both sides except at
the ends of the track).
"""

from __future__ import annotations

import functools
import logging

import numpy as np

from workstation.analysis.base import Analyzer, register
from workstation.core import constants as C
from workstation.core import postprocess as pp
from workstation.core.chunking import ContextStream
from workstation.core.types import Salience

log = logging.getLogger(__name__)

#: Methods of ``pitch.salience``: harmonic summation (DSP), our learned network, or pretrained
#: basic-pitch (Spotify, Apache-2.0; ``inference.models.basic_pitch``).
METHODS = ("dsp", "learned", "basic-pitch")
#: The default: pretrained basic-pitch with our note tracking on its posteriorgrams, chosen on
#: the whole development set (benchmarks/accuracy.py --tasks notes; note onset F1 /
#: multipitch accuracy): real piano (7) 0.857 / 0.629 vs our learned net 0.838 / 0.639 and
#: basic-pitch's own notes 0.770 / 0.628; sight-singing (5) 0.540 / 0.617 vs 0.517 / 0.675 and
#: 0.508 / 0.574; demo mixes (3) 0.637 / 0.664 vs 0.577 / 0.677 and 0.543 / 0.672. Our learned
#: net leads on multipitch here but lost to basic-pitch on held-out recordings (onset F1 0.62
#: vs 0.70, multipitch 0.70 vs 0.77): trained on a few soundfonts, it does not reach real
#: instruments as basic-pitch does. basic-pitch is also the faster (salience + notes 64x
#: realtime vs 47x on 2 CPU cores). "learned" and "dsp" stay available.
DEFAULT_METHOD = "basic-pitch"


@functools.lru_cache(maxsize=1)
def _amplitude_scale() -> np.ndarray:
    from workstation.inference.cqt import hcqt_amplitude_scale
    return hcqt_amplitude_scale()[:, :, None]


def salience_from_hcqt(hcqt: np.ndarray, *, floor_db: float = -80.0, floor_offset_db: float = 6.0,
                       range_db: float = 80.0, penalty: float = 1.5) -> np.ndarray:
    """Salience [shape=(C.N_BINS, n_frames), float32 in [0, 1]] from ``FrontEnd.hcqt`` output
    [shape=(len(C.HARMONICS), C.N_BINS, n_frames)]."""
    amp = np.asarray(hcqt, dtype=np.float32) / _amplitude_scale()
    levels = pp.compress_db(amp, floor_db=floor_db, floor_offset_db=floor_offset_db,
                            range_db=range_db, reference_index=C.HARMONICS.index(1.0))
    return pp.harmonic_salience(levels, penalty=penalty)


@register
class SalienceAnalyzer(Analyzer):
    id = "pitch.salience"
    methods = METHODS
    version = 3  # 2: the result carries its method; learned: fundamental gate. 3: basic-pitch on the track's window grid
    result_type = Salience
    features = ("hcqt",)
    description = "Multi-f0 salience (learned network or HCQT harmonic summation) with frame-wise peaks"
    default_params = {
        "floor_db": -80.0,        # absolute floor of the level scale, dBFS
        "floor_offset_db": 6.0,   # floor = frame median level + this (if above floor_db)
        "range_db": 80.0,         # dB above the floor that read as 1.0
        "penalty": 1.5,           # weight of the subharmonic (octave / twelfth) penalty
        "threshold": 0.1,         # minimum salience of a peak (method "dsp")
        "max_peaks": 8,           # peaks per frame
        "method": DEFAULT_METHOD,  # "basic-pitch" | "learned" (DeepSalience-style net) | "dsp"
        "model": "salience",      # manifest name of the learned model
        "learned_threshold": 0.3,  # minimum salience of a peak (method "learned")
        "context_frames": 64,     # HCQT frames of context carried across chunk joins (learned)
        # learned: a pitch whose fundamental lies more than this below its own 2nd/3rd partial
        # is a sub-octave ghost (the net's missing-fundamental guess), 0 disables
        "fundamental_gate_db": 40.0,
        "fundamental_gate_width_db": 10.0,  # soft edge of the gate
        "bp_model": "basic-pitch",  # manifest name of basic-pitch's weights (method "basic-pitch")
        "bp_threshold": 0.3,      # note posterior of a multi-f0 peak (basic-pitch's frame threshold)
    }

    def __init__(self, **params):
        super().__init__(**params)
        if self.params["method"] not in METHODS:
            raise ValueError(f"{self.id}: method must be one of {METHODS}, got {self.params['method']!r}")

    def models_used(self) -> tuple[str, ...]:
        if self.params["method"] == "basic-pitch":
            return (str(self.params["bp_model"]),)
        return super().models_used()

    def run(self, chunks, track):
        if self.params["method"] == "learned":
            return (yield from self._run_learned(chunks, track))
        if self.params["method"] == "basic-pitch":
            return (yield from self._run_basic_pitch(chunks, track))
        return (yield from self._run_dsp(chunks, track))

    def _run_basic_pitch(self, chunks, track):
        """basic-pitch on the windows of the track's grid that hold each chunk's valid frames
        (read from the padded chunk: the same numbers as the whole track at once, no window
        for the borders), posteriorgrams of the valid frames kept: ``values`` is the contour posteriorgram (3 bins a semitone
        from MIDI 21) interpolated onto our 20-cent grid; peaks are the semitones whose note
        posterior reaches ``bp_threshold``, at the contour's peak within +-1/3 semitone."""
        from workstation.inference.models.basic_pitch import Audio2BasicPitch
        from workstation.inference.weights import load_model

        p = self.params
        run = Audio2BasicPitch(load_model(p["bp_model"], device=track.device or "cpu"),
                               device=track.device or "cpu")
        n = track.n_frames
        values = np.zeros((C.N_BINS, n), np.float16)
        note = np.zeros((88, n), np.float16)
        onset = np.zeros((88, n), np.float16)
        # contour row of our bins: row b is MIDI 21 + (b - 1) / 3 (measured: a tone at MIDI m
        # peaks on row 3 (m - 21) + 1, the centre of the semitone's three rows)
        rows = 3.0 * (C.FMIN_MIDI - 21.0) + 1.0 + 0.6 * np.arange(C.N_BINS)
        pk_frame, pk_midi, pk_val = [], [], []
        for chunk in chunks:
            a, b = chunk.frame_start, chunk.frame_start + chunk.n_frames
            out = run.frames_on_grid(chunk.audio, a * C.HOP_LENGTH - chunk.pad, a, b)
            contour = out["contour"]
            r0 = np.floor(rows).astype(int)
            w = (rows - r0)[:, None].astype(np.float32)
            values[:, a:b] = contour[r0] * (1 - w) + contour[np.minimum(r0 + 1, len(contour) - 1)] * w
            note[:, a:b], onset[:, a:b] = out["note"], out["onset"]
            f, m, v = pp.semitone_peaks(out["note"], contour, threshold=p["bp_threshold"])
            pk_frame.append(f + a)
            pk_midi.append(m)
            pk_val.append(v)
            yield chunk.progress
        cat = (lambda xs, dt: np.concatenate(xs).astype(dt) if xs else np.zeros(0, dt))
        midi = cat(pk_midi, np.float64)
        return Salience(times_s=track.times_s(), freqs_hz=np.asarray(C.cqt_frequencies(), np.float64),
                        values=values, peak_frame=cat(pk_frame, np.int64),
                        peak_freq_hz=440.0 * 2.0 ** ((midi - 69.0) / 12.0),
                        peak_salience=cat(pk_val, np.float32), method="basic-pitch",
                        note_values=note, onset_values=onset)

    def _run_learned(self, chunks, track):
        from workstation.inference.models.salience import HEADS, Audio2Salience
        from workstation.inference.weights import load_model

        p = self.params
        model = load_model(p["model"], device=track.device or "cpu")
        net = Audio2Salience(model, device=track.device or "cpu", border_frames=int(p["context_frames"]))
        head = HEADS.index("salience")
        ctx = int(p["context_frames"])
        values = np.zeros((C.N_BINS, track.n_frames), dtype=np.float16)
        pk_frame, pk_bin, pk_val = [], [], []
        stream = ContextStream(ctx, limit=track.n_frames)
        for chunk in chunks:
            win = stream.push(chunk.hcqt(), chunk.is_last)
            w0, w1 = win.lo, win.hi
            if w1 > w0:
                h = win.frames[..., w0 - win.start:w1 - win.start]
                seg = net(win.frames)[head][:, w0 - win.start:w1 - win.start]
                if p["fundamental_gate_db"] > 0:
                    seg = seg * pp.fundamental_gate(h / _amplitude_scale(),
                                                    below_db=p["fundamental_gate_db"],
                                                    width_db=p["fundamental_gate_width_db"])
                values[:, w0:w1] = seg
                peaks = pp.pick_peaks(seg, threshold=p["learned_threshold"], max_peaks=int(p["max_peaks"]))
                pk_frame.append(peaks.frame + w0)
                pk_bin.append(peaks.bin)
                pk_val.append(peaks.value)
            yield chunk.progress
        return self._result(track, values, pk_frame, pk_bin, pk_val, method="learned")

    def _result(self, track, values, pk_frame, pk_bin, pk_val, *, method="dsp"):
        cat = (lambda xs, dt: np.concatenate(xs).astype(dt) if xs else np.zeros(0, dt))
        return Salience(times_s=track.times_s(),
                        freqs_hz=np.asarray(C.cqt_frequencies(), dtype=np.float64),
                        values=values,
                        peak_frame=cat(pk_frame, np.int64),
                        peak_freq_hz=pp.bin_to_hz(cat(pk_bin, np.float64)),
                        peak_salience=cat(pk_val, np.float32),
                        method=method)

    def _run_dsp(self, chunks, track):
        p = self.params
        values = np.zeros((C.N_BINS, track.n_frames), dtype=np.float16)
        pk_frame, pk_bin, pk_val = [], [], []
        for chunk in chunks:
            sal = salience_from_hcqt(chunk.hcqt(), floor_db=p["floor_db"],
                                     floor_offset_db=p["floor_offset_db"],
                                     range_db=p["range_db"], penalty=p["penalty"])
            values[:, chunk.frame_start:chunk.frame_start + chunk.n_frames] = sal
            peaks = pp.pick_peaks(sal, threshold=p["threshold"], max_peaks=int(p["max_peaks"]))
            pk_frame.append(peaks.frame + chunk.frame_start)
            pk_bin.append(peaks.bin)
            pk_val.append(peaks.value)
            yield chunk.progress
        return self._result(track, values, pk_frame, pk_bin, pk_val)
