"""Everything the track view shows for one track, prepared off the GUI thread.

``load_track_data(library, track_id, specs)`` reads the stored results and the display
features (waveform envelope and log-frequency spectrogram, see ``analysis.display``), decoding
the file only when the display cache misses (the worker writes it while it analyses the
track, so only a track not analysed yet is decoded here). It runs on a
``TaskRunner`` thread; the GUI receives the finished ``TrackViewData`` and only draws.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from workstation.analysis.display import (STFT_CHUNK_FRAMES, DisplayFeatures, cache_path,
                                          cpu_frontend, display_features_from_audio, read_cache,
                                          to_uint8_db, write_cache)
from workstation.core import constants as C
from workstation.core.errors import AudioError, WorkstationError

log = logging.getLogger(__name__)

@dataclass
class TrackViewData:
    """A track, its results by analyzer id (a layer corrected by hand in place of the
    analysis: ``edits``, layer -> ``LayerEdit``; the analysis alone: ``analysis``), failure
    reasons by analyzer id, display features (None with ``display_error`` when the file
    cannot be decoded) and load timings."""

    track: object
    results: dict = field(default_factory=dict)
    analysis: dict = field(default_factory=dict)
    edits: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)
    display: DisplayFeatures | None = None
    display_error: str = ""
    timings: dict = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        if self.display is not None:
            return self.display.duration_s
        return float(getattr(self.track, "duration_s", 0.0) or 0.0)


def same_track(a: TrackViewData | None, b: TrackViewData) -> bool:
    """Whether ``b`` shows the same audio as ``a`` (same track id and content hash, both
    with display features): the view then keeps its place."""
    if a is None or a.display is None or b.display is None:
        return False
    ta, tb = a.track, b.track
    return (getattr(ta, "id", None) == getattr(tb, "id", None)
            and getattr(ta, "content_hash", None) == getattr(tb, "content_hash", None))


def failure_text(data: TrackViewData) -> str:
    """What the track view says in place of its panes for a track without display
    features: the file's name, why it cannot be shown (``display_error``, else the track's
    error), each analyzer's failure reason, and the full path."""
    path = str(getattr(data.track, "path", "") or "")
    name = Path(path).name if path else f"track {getattr(data.track, 'id', '?')}"
    reason = (data.display_error or str(getattr(data.track, "error", "") or "")
              or "the audio cannot be read").strip()
    if reason.split(" ", 1)[0] in ("is", "has", "was", "cannot"):  # the catalogue's short form
        reason = f"the file {reason}"
    lines = [f"Cannot show {name}", "", reason[:1].upper() + reason[1:]]
    lines += [f"{analyzer}: {err}" for analyzer, err in sorted((data.errors or {}).items())]
    if path:
        lines += ["", path]
    return "\n".join(lines)


#: Image modes of the main pane besides the log-frequency spectrogram (computed on request)
#: and the y unit each is drawn in.
EXTRA_IMAGE_MODES = {"linear": "hz", "mel": "mel", "hcqt": "midi"}
_LINEAR_POOL = 2  # STFT bins averaged per displayed row (1025 -> 512 rows up to sr/2)


@dataclass
class DisplayImage:
    """A display image at the analysis hop: values [shape=(n_rows, n_frames), uint8]
    (0 = ``SPEC_DB_RANGE`` dB under the peak, 255 = peak), row centres ``y_centres``
    [shape=(n_rows,)] evenly spaced in ``y_unit`` ('midi', 'hz' or 'mel')."""

    mode: str
    values: np.ndarray
    y_centres: np.ndarray
    y_unit: str
    hop_s: float = C.HOP_LENGTH / C.SAMPLE_RATE
    harmonic: float | None = None

    @property
    def n_frames(self) -> int:
        return self.values.shape[1]


def display_image_from_audio(audio: np.ndarray, mode: str, *, harmonic: float = 1.0,
                             sr: int = C.SAMPLE_RATE) -> DisplayImage:
    """The main pane's image for ``mode`` ('linear': STFT magnitude up to sr/2 in Hz; 'mel':
    the analysis mel spectrogram in mels; 'hcqt': one harmonic of the HCQT, bins placed at the
    fundamental they belong to, in MIDI) of a mono signal at ``sr`` (``C.SAMPLE_RATE``),
    chunk by chunk with discarded borders so memory stays bounded."""
    from workstation.core.units import hz_to_mel
    from workstation.inference.frontend import mel_filterbank

    if mode not in EXTRA_IMAGE_MODES:
        raise ValueError(f"image mode {mode!r}; one of {sorted(EXTRA_IMAGE_MODES)}")
    hop = C.HOP_LENGTH
    audio = np.ascontiguousarray(audio, dtype=np.float32)
    n_frames = C.n_frames_for(len(audio), hop_length=hop)
    fe = cpu_frontend()
    if mode == "hcqt":
        if harmonic not in C.HARMONICS:
            raise ValueError(f"harmonic {harmonic}; one of {C.HARMONICS}")
        n_rows = C.N_BINS
        ctx = int(np.ceil(C.CHUNK_BORDER_SECONDS * sr / hop))
        chunk = int(C.CHUNK_SECONDS * sr / hop)
        y = C.FMIN_MIDI + np.arange(n_rows) * 12.0 / C.BINS_PER_OCTAVE

        def part(seg):
            return fe.hcqt(seg, harmonics=(harmonic,))[0] ** 2
    else:
        ctx = (C.N_FFT // 2 + hop - 1) // hop
        chunk = STFT_CHUNK_FRAMES
        if mode == "linear":
            n_rows = (C.N_FFT // 2) // _LINEAR_POOL
            y = (np.arange(n_rows) * _LINEAR_POOL + (_LINEAR_POOL - 1) / 2) * sr / C.N_FFT

            def part(seg):
                m = fe.stft_mag(seg)[: n_rows * _LINEAR_POOL] ** 2
                return m.reshape(n_rows, _LINEAR_POOL, -1).mean(axis=1)
        else:
            w = mel_filterbank(sr=sr)
            n_rows = w.shape[0]
            top = hz_to_mel(sr / 2)
            y = np.linspace(0.0, top, n_rows + 2)[1:-1]

            def part(seg):
                return fe.mel(seg)
    out = np.empty((n_rows, n_frames), dtype=np.float32)
    for f0 in range(0, n_frames, chunk):
        f1 = min(n_frames, f0 + chunk)
        a = max(0, f0 - ctx)
        b = min(n_frames, f1 + ctx)
        seg = audio[a * hop:(b - 1) * hop + 1]
        p = part(seg)
        out[:, f0:f1] = 10.0 * np.log10(np.maximum(p[:, f0 - a:f1 - a], 1e-12))
    return DisplayImage(mode, to_uint8_db(out), np.asarray(y, dtype=np.float64),
                        EXTRA_IMAGE_MODES[mode], hop / sr, harmonic if mode == "hcqt" else None)


def display_image(library, track, mode: str, *, harmonic: float = 1.0) -> DisplayImage:
    """``display_image_from_audio`` of a catalogued track (loader thread; decodes the file).
    Raises AudioError naming the file when it cannot be decoded."""
    from workstation.core.audio import stream
    audio = np.concatenate(list(stream(track.path)) or [np.zeros(0, np.float32)])
    return display_image_from_audio(audio, mode, harmonic=harmonic)


def display_features(library, track, *, use_cache: bool = True) -> DisplayFeatures:
    """Display features of a catalogued track (cache, else decode + compute + cache).
    Raises AudioError naming the file when it cannot be decoded."""
    path = cache_path(library.root, track.content_hash) if track.content_hash else None
    if use_cache and path is not None:
        d = read_cache(path)
        if d is not None:
            return d
    from workstation.core.audio import stream
    audio = np.concatenate(list(stream(track.path)) or [np.zeros(0, np.float32)])
    d = display_features_from_audio(audio)
    if path is not None:
        write_cache(path, d)
    return d


def load_track_data(library, track_id: int, specs, *, with_display: bool = True) -> TrackViewData:
    """Results, failure reasons and display features of one track (loader thread)."""
    from workstation.analysis.results import analysis_errors, load_results

    t0 = time.perf_counter()
    track = library.track(track_id)
    data = TrackViewData(track)
    if track.status != "ok" or not track.content_hash:
        data.display_error = track.error or f"the file is {track.status}"
        return data
    data.analysis = load_results(library, track, specs)
    data.edits = library.edits(track.id)
    data.results = {**data.analysis, **{k: e.result for k, e in data.edits.items()}}
    data.errors = analysis_errors(library, track, specs)
    t1 = time.perf_counter()
    data.timings["results_s"] = t1 - t0
    if with_display:
        try:
            data.display = display_features(library, track)
        except AudioError as e:
            data.display_error = str(e)
        except WorkstationError as e:
            data.display_error = str(e)
        data.timings["display_s"] = time.perf_counter() - t1
    data.timings["total_s"] = time.perf_counter() - t0
    return data
