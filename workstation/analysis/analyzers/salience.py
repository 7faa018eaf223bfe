"""``pitch.salience``: multi-f0 salience on the 20-cent HCQT grid by harmonic summation (DSP).

Per chunk: HCQT magnitudes -> partial amplitudes (``hcqt_amplitude_scale``) -> compressed
dB levels above the frame's background -> weighted harmonic sum with a fundamental gate and a
subharmonic penalty (``core.postprocess.harmonic_salience``) -> frame-wise peaks with
parabolic sub-bin refinement. Values are on an absolute scale (dB above the local
background, see ``core.postprocess``), so peaks compare across frames and tracks.
Values are stored as float16 (a 60-minute track: 360 x 310k x 2 B = 223 MB).
"""

from __future__ import annotations

import functools

import numpy as np

from workstation.analysis.base import Analyzer, register
from workstation.core import constants as C
from workstation.core import postprocess as pp
from workstation.core.types import Salience


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
    version = 1
    result_type = Salience
    features = ("hcqt",)
    description = "Multi-f0 salience (HCQT harmonic summation) with frame-wise peaks"
    default_params = {
        "floor_db": -80.0,        # absolute floor of the level scale, dBFS
        "floor_offset_db": 6.0,   # floor = frame median level + this (if above floor_db)
        "range_db": 80.0,         # dB above the floor that read as 1.0
        "penalty": 1.5,           # weight of the subharmonic (octave / twelfth) penalty
        "threshold": 0.1,         # minimum salience of a peak
        "max_peaks": 8,           # peaks per frame
    }

    def run(self, chunks, track):
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
        cat = (lambda xs, dt: np.concatenate(xs).astype(dt) if xs else np.zeros(0, dt))
        return Salience(times_s=track.times_s(),
                        freqs_hz=np.asarray(C.cqt_frequencies(), dtype=np.float64),
                        values=values,
                        peak_frame=cat(pk_frame, np.int64),
                        peak_freq_hz=pp.bin_to_hz(cat(pk_bin, np.float64)),
                        peak_salience=cat(pk_val, np.float32))
