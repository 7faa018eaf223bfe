"""Everything the track view shows for one track, prepared off the GUI thread.

``load_track_data(library, track_id, specs)`` reads the stored results and the display
features (waveform envelope and log-frequency spectrogram), decoding the file only when the
display cache (``<library>/cache/display/<content hash>-v<N>.npz``) misses. It runs on a
``TaskRunner`` thread; the GUI receives the finished ``TrackViewData`` and only draws.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from workstation.core import constants as C
from workstation.core.errors import AudioError, WorkstationError

log = logging.getLogger(__name__)

#: Bump when the display features change (old cache files are then ignored).
DISPLAY_VERSION = 1
#: The spectrogram's pitch range (MIDI, bin centres) and resolution (bins per semitone).
SPEC_MIDI_LO = C.FMIN_MIDI
SPEC_MIDI_HI = 108.0
SPEC_BINS_PER_SEMITONE = 3
#: Dynamic range of the displayed spectrogram in dB (mapped to 0..255).
SPEC_DB_RANGE = 80.0
_STFT_CHUNK_FRAMES = 4096


@dataclass
class DisplayFeatures:
    """Display-only features at the analysis hop.

    env_min, env_max [shape=(n_frames,), float32]: waveform min/max per hop;
    spec [shape=(n_bins, n_frames), uint8]: log-magnitude spectrogram, 0 = -SPEC_DB_RANGE dB
    under the track's peak, 255 = peak; bin k centred on MIDI ``midi_lo + k / bins_per_semitone``.
    """

    env_min: np.ndarray
    env_max: np.ndarray
    spec: np.ndarray
    midi_lo: float = SPEC_MIDI_LO
    bins_per_semitone: int = SPEC_BINS_PER_SEMITONE
    hop_s: float = C.HOP_LENGTH / C.SAMPLE_RATE
    duration_s: float = 0.0

    @property
    def n_frames(self) -> int:
        return self.spec.shape[1]


@dataclass
class TrackViewData:
    """A track, its results by analyzer id, failure reasons by analyzer id, display features
    (None with ``display_error`` when the file cannot be decoded) and load timings."""

    track: object
    results: dict = field(default_factory=dict)
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


def log_frequency_matrix(*, sr: int = C.SAMPLE_RATE, n_fft: int = C.N_FFT,
                         midi_lo: float = SPEC_MIDI_LO, midi_hi: float = SPEC_MIDI_HI,
                         bins_per_semitone: int = SPEC_BINS_PER_SEMITONE) -> np.ndarray:
    """Triangular weights mapping STFT bins to log-frequency bins
    [shape=(n_log_bins, n_fft // 2 + 1)], rows summing to 1. Where the STFT is coarser than
    the log grid (low notes), the triangles widen to the FFT spacing (interpolation)."""
    n = int(round((midi_hi - midi_lo) * bins_per_semitone)) + 1
    centres = midi_lo + np.arange(n) / bins_per_semitone
    fft_hz = np.arange(n_fft // 2 + 1) * sr / n_fft
    with np.errstate(divide="ignore"):
        fft_midi = np.where(fft_hz > 0, 69 + 12 * np.log2(np.maximum(fft_hz, 1e-9) / 440.0), -np.inf)
    centre_hz = 440.0 * 2 ** ((centres - 69) / 12)
    fft_step_midi = 12 * np.log2((centre_hz + sr / n_fft) / centre_hz)
    width = np.maximum(1.0 / bins_per_semitone, fft_step_midi)
    w = np.maximum(0.0, 1.0 - np.abs(fft_midi[None, :] - centres[:, None]) / width[:, None])
    w /= np.maximum(w.sum(axis=1, keepdims=True), 1e-12)
    return w.astype(np.float32)


_FRONTEND = None


def _frontend():
    global _FRONTEND
    if _FRONTEND is None:
        from workstation.inference.frontend import FrontEnd
        _FRONTEND = FrontEnd("cpu")  # the GUI process leaves the accelerator to the worker
    return _FRONTEND


def display_features_from_audio(audio: np.ndarray, *, sr: int = C.SAMPLE_RATE) -> DisplayFeatures:
    """Envelope and log-frequency spectrogram of a mono signal [shape=(n_samples,)] at ``sr``
    (``C.SAMPLE_RATE``), computed chunk by chunk so memory stays bounded."""
    hop = C.HOP_LENGTH
    audio = np.ascontiguousarray(audio, dtype=np.float32)
    n_frames = C.n_frames_for(len(audio), hop_length=hop)
    padded = np.zeros(n_frames * hop, dtype=np.float32)
    padded[:len(audio)] = audio
    blocks = padded.reshape(n_frames, hop)
    env_min, env_max = blocks.min(axis=1), blocks.max(axis=1)
    fe = _frontend()
    W = log_frequency_matrix(sr=sr)
    logspec = np.empty((W.shape[0], n_frames), dtype=np.float32)
    ctx = (C.N_FFT // 2 + hop - 1) // hop  # frames of context on each side of a chunk
    for f0 in range(0, n_frames, _STFT_CHUNK_FRAMES):
        f1 = min(n_frames, f0 + _STFT_CHUNK_FRAMES)
        a = max(0, f0 - ctx)
        b = min(n_frames, f1 + ctx)
        seg = audio[a * hop:(b - 1) * hop + 1]
        mag = fe.stft_mag(seg)  # frames centred on a*hop + j*hop
        part = W @ mag[:, f0 - a:f1 - a]
        logspec[:, f0:f1] = np.log10(np.maximum(part, 1e-10)) * 20.0
    peak = float(logspec.max()) if logspec.size else 0.0
    scaled = (logspec - (peak - SPEC_DB_RANGE)) * (255.0 / SPEC_DB_RANGE)
    spec = np.clip(scaled, 0, 255).astype(np.uint8)
    return DisplayFeatures(env_min, env_max, spec, duration_s=len(audio) / sr)


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


def _to_uint8_db(power_db: np.ndarray) -> np.ndarray:
    peak = float(power_db.max()) if power_db.size else 0.0
    scaled = (power_db - (peak - SPEC_DB_RANGE)) * (255.0 / SPEC_DB_RANGE)
    return np.clip(scaled, 0, 255).astype(np.uint8)


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
    fe = _frontend()
    if mode == "hcqt":
        if harmonic not in C.HARMONICS:
            raise ValueError(f"harmonic {harmonic}; one of {C.HARMONICS}")
        h_index = list(C.HARMONICS).index(harmonic)
        n_rows = C.N_BINS
        ctx = int(np.ceil(C.CHUNK_BORDER_SECONDS * sr / hop))
        chunk = int(C.CHUNK_SECONDS * sr / hop)
        y = C.FMIN_MIDI + np.arange(n_rows) * 12.0 / C.BINS_PER_OCTAVE

        def part(seg):
            return fe.hcqt(seg)[h_index] ** 2
    else:
        ctx = (C.N_FFT // 2 + hop - 1) // hop
        chunk = _STFT_CHUNK_FRAMES
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
    return DisplayImage(mode, _to_uint8_db(out), np.asarray(y, dtype=np.float64),
                        EXTRA_IMAGE_MODES[mode], hop / sr, harmonic if mode == "hcqt" else None)


def display_image(library, track, mode: str, *, harmonic: float = 1.0) -> DisplayImage:
    """``display_image_from_audio`` of a catalogued track (loader thread; decodes the file).
    Raises AudioError naming the file when it cannot be decoded."""
    from workstation.core.audio import stream
    audio = np.concatenate(list(stream(track.path)) or [np.zeros(0, np.float32)])
    return display_image_from_audio(audio, mode, harmonic=harmonic)


def _cache_path(library, content_hash: str) -> Path:
    return Path(library.root) / "cache" / "display" / f"{content_hash}-v{DISPLAY_VERSION}.npz"


def _read_cache(path: Path) -> DisplayFeatures | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            return DisplayFeatures(z["env_min"], z["env_max"], z["spec"],
                                   duration_s=float(z["duration_s"]))
    except (OSError, ValueError, KeyError) as e:
        log.warning("%s: unreadable display cache (%s); recomputing", path, e)
        return None


def _write_cache(path: Path, d: DisplayFeatures) -> None:
    from workstation.core.atomic import save_npz
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_npz(path, env_min=d.env_min, env_max=d.env_max, spec=d.spec,
                 duration_s=np.float64(d.duration_s))
    except OSError as e:
        log.warning("%s: cannot write the display cache: %s", path, e)


def display_features(library, track, *, use_cache: bool = True) -> DisplayFeatures:
    """Display features of a catalogued track (cache, else decode + compute + cache).
    Raises AudioError naming the file when it cannot be decoded."""
    path = _cache_path(library, track.content_hash) if track.content_hash else None
    if use_cache and path is not None:
        d = _read_cache(path)
        if d is not None:
            return d
    from workstation.core.audio import stream
    audio = np.concatenate(list(stream(track.path)) or [np.zeros(0, np.float32)])
    d = display_features_from_audio(audio)
    if path is not None:
        _write_cache(path, d)
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
    data.results = load_results(library, track, specs)
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
