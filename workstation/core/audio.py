"""Audio decoding: probe a file, stream it as mono float32 at the analysis rate.

Every decoded file is mixed to mono (mean of its channels) and resampled to
``C.SAMPLE_RATE`` with soxr (HQ) block by block, so memory stays bounded
whatever the file length, channel count or native rate. Anything that makes a
file unusable (missing, empty, not audio, truncated, NaN samples, silent)
raises one :class:`~workstation.core.errors.AudioError` naming the file and the
reason.

What soundfile 0.14 / libsndfile 1.2.2 does with awkward input (checked):

- a zero-byte or text file: ``sf.info`` raises "Format not recognised" -> we say
  "is empty (0 bytes)" / "is not an audio file soundfile can read".
- random bytes named ``.mp3``: libsndfile's MP3 probe says "File does not exist or
  is not a regular file"; we check existence first, so the reason stays "not an
  audio file".
- a FLAC cut short: ``sf.info`` succeeds (frame count from STREAMINFO), reading
  raises mid-file ("flac decoder lost sync" / "Internal psf_fseek() failed")
  -> "is truncated or corrupt".
- an MP3 cut short: reading returns fewer frames than announced, silently ->
  we compare with the announced count and say "is truncated or corrupt".
- a WAV cut short: libsndfile shrinks the frame count to the data present (no error;
  the decoded part is used).
- MP3, AIFF, OGG Vorbis and OGG Opus read fine (MP3 keeps the encoder padding).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf
import soxr

from . import constants as C
from .containers import truncation
from .errors import AudioError

log = logging.getLogger(__name__)

#: Peak amplitude (after mixing to mono) under which a file counts as silent.
SILENCE_PEAK: float = 1e-6
#: Upper bound on samples (frames x channels) read from the file in one block (16 MB of float32).
MAX_BLOCK_SAMPLES: int = 1 << 22
#: Sample rates (Hz) a header may state: telephony's lowest to studio's highest. Outside this a
#: header is taken as corrupt (a rate of 1 Hz would make an 8 KB file last an hour).
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 1000, 768_000
#: Largest sample magnitude a decoded file may have (float files may exceed 1.0 a little;
#: +80 dB over full scale is corruption, and squaring 1e30 overflows every feature to NaN).
MAX_SAMPLE_MAGNITUDE: float = 1e4

_READ_ERRORS = (RuntimeError, ValueError, TypeError, OSError)  # LibsndfileError is a RuntimeError


@dataclass(frozen=True)
class AudioInfo:
    """What the file header says: ``sr``, ``channels`` and ``n_frames`` are native
    (before mixing and resampling); ``duration_s = n_frames / sr``."""

    path: str
    format: str
    subtype: str
    sr: int
    channels: int
    n_frames: int
    duration_s: float


def _sf_reason(err: BaseException) -> str:
    """The libsndfile reason without the "Error opening '<path>':" prefix."""
    msg = getattr(err, "error_string", None) or str(err)
    return str(msg).strip() or type(err).__name__


def probe(path: str | Path) -> AudioInfo:
    """Read the header of an audio file.

    Raises AudioError (naming the file) when it is missing, not a regular file,
    empty, not audio that soundfile can read, or announces no frames.
    """
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise AudioError(p, "does not exist") from None
    except OSError as e:
        raise AudioError(p, f"cannot be read: {e.strerror or e}") from None
    if not p.is_file():
        raise AudioError(p, "is not a regular file")
    if st.st_size == 0:
        raise AudioError(p, "is empty (0 bytes)")
    try:
        info = sf.info(os.fsencode(p))   # bytes: file names that are not UTF-8 too
    except _READ_ERRORS as e:
        raise AudioError(p, f"is not an audio file soundfile can read: {_sf_reason(e)}") from None
    if info.samplerate <= 0 or info.channels <= 0:
        raise AudioError(p, f"has an invalid header (sample rate {info.samplerate}, "
                            f"{info.channels} channels)")
    if not MIN_SAMPLE_RATE <= info.samplerate <= MAX_SAMPLE_RATE:
        raise AudioError(p, f"states an implausible sample rate of {info.samplerate} Hz (expected "
                            f"{MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE} Hz): the header is probably corrupt")
    if info.frames <= 0:
        raise AudioError(p, "contains no audio frames")
    if info.frames >= 1 << 62:        # libsndfile's "unknown": SF_COUNT_MAX
        raise AudioError(p, "does not state its length (e.g. a FLAC stream written live, with "
                            "total samples 0), and libsndfile cannot decode such a file to its "
                            "end; re-encode it (flac, ffmpeg) to analyse it")
    cut = truncation(p, str(info.format))
    if cut:
        raise AudioError(p, cut)
    return AudioInfo(path=str(p), format=str(info.format), subtype=str(info.subtype),
                     sr=int(info.samplerate), channels=int(info.channels),
                     n_frames=int(info.frames), duration_s=info.frames / info.samplerate)


def expected_samples(info: AudioInfo, sr: int = C.SAMPLE_RATE) -> int:
    """Length in samples of ``stream(info.path, sr=sr)`` as soxr produces it:
    ``round(n_frames * sr / info.sr)`` with halves rounded up (exact for lossless formats;
    for MP3 the header's frame count is itself an estimate)."""
    if info.sr == sr:
        return info.n_frames
    return (2 * info.n_frames * sr + info.sr) // (2 * info.sr)


def _truncation_tolerance(n_frames: int) -> int:
    # A few MP3 frames (1152 samples each) or 0.5 % of the length: header estimates of
    # compressed formats may be that far off without the file being damaged.
    return max(4 * 1152, n_frames // 200)


def stream(path: str | Path, *, sr: int = C.SAMPLE_RATE, block_s: float = 30.0,
           info: AudioInfo | None = None) -> Iterator[np.ndarray]:
    """Decode a file block by block as mono float32 at ``sr``.

    Yields blocks [shape=(n,), float32] of about ``block_s`` seconds (fewer for files with
    many channels at high rates: at most ``MAX_BLOCK_SAMPLES`` native samples are held),
    whose concatenation is the whole signal (``expected_samples(info, sr)`` samples).

    Raises AudioError naming the file: from ``probe``; "is truncated or corrupt" when
    decoding fails mid-file or ends early; "contains NaN or infinite samples" as soon as one
    is met, "has samples of magnitude ..." for one beyond ``MAX_SAMPLE_MAGNITUDE``; "is
    silent" at the end when the mono peak stays below ``SILENCE_PEAK``.
    """
    p = Path(path)
    if info is None:
        info = probe(p)
    native_sr, channels = info.sr, info.channels
    block_frames = max(1024, min(int(block_s * native_sr), MAX_BLOCK_SAMPLES // channels))
    resampler = (None if native_sr == sr else
                 soxr.ResampleStream(native_sr, sr, 1, dtype="float32", quality="HQ"))
    try:
        f = sf.SoundFile(os.fsencode(p))
    except _READ_ERRORS as e:
        raise AudioError(p, f"cannot be opened for decoding: {_sf_reason(e)}") from None
    n_read = 0
    peak = 0.0
    with f:
        while True:
            try:
                x = f.read(block_frames, dtype="float32", always_2d=True)
            except _READ_ERRORS as e:
                raise AudioError(p, f"is truncated or corrupt: {_sf_reason(e)} "
                                    f"(decoding failed after {n_read / native_sr:.2f} s of "
                                    f"{info.duration_s:.2f} s)") from None
            if len(x) == 0:
                break
            mono = (np.ascontiguousarray(x[:, 0]) if channels == 1
                    else x.mean(axis=1, dtype=np.float32))
            del x
            finite = np.isfinite(mono)
            if not finite.all():
                at = (n_read + int(np.argmin(finite))) / native_sr
                raise AudioError(p, f"contains NaN or infinite samples (first at {at:.3f} s)")
            block_peak = float(np.max(np.abs(mono)))
            if block_peak > MAX_SAMPLE_MAGNITUDE:
                at = (n_read + int(np.argmax(np.abs(mono) > MAX_SAMPLE_MAGNITUDE))) / native_sr
                raise AudioError(p, f"has samples of magnitude {block_peak:.3g} (first at {at:.3f} s), "
                                    f"far outside the float range +-1: the file is corrupt or mis-scaled")
            peak = max(peak, block_peak)
            n_read += len(mono)
            out = resampler.resample_chunk(mono, last=False) if resampler is not None else mono
            if len(out):
                yield out
    if n_read == 0:
        raise AudioError(p, "contains no audio (0 frames decoded)")
    short = info.n_frames - n_read
    if short > _truncation_tolerance(info.n_frames):
        raise AudioError(p, f"is truncated or corrupt: decoded {n_read / native_sr:.2f} s of the "
                            f"{info.duration_s:.2f} s its header announces")
    if short > 0:
        log.warning("%s: decoded %d frames, header announced %d", p, n_read, info.n_frames)
    if resampler is not None:
        tail = resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
        if len(tail):
            yield tail
    if peak < SILENCE_PEAK:
        raise AudioError(p, f"is silent (peak amplitude {peak:.2g} after mixing to mono)")


def resample(x: np.ndarray, *, orig_sr: int, sr: int) -> np.ndarray:
    """A mono signal [shape=(n,)] resampled from ``orig_sr`` to ``sr`` Hz (soxr HQ), float32
    [shape=(round(n * sr / orig_sr),)]; an empty signal stays empty."""
    x = np.asarray(x, dtype=np.float32)
    if orig_sr == sr or len(x) == 0:
        return x.copy()
    return np.ascontiguousarray(soxr.resample(x, orig_sr, sr, quality="HQ"), dtype=np.float32)


def load(path: str | Path, *, sr: int = C.SAMPLE_RATE) -> np.ndarray:
    """The whole file as mono float32 at ``sr`` [shape=(n_samples,)] (small files, tests)."""
    blocks = list(stream(path, sr=sr))
    return np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.float32)
