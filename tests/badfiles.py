"""Build a corpus of awkward audio files for tests (bad ones that must fail clearly, odd
good ones that must decode).

Import from a test module with ``from badfiles import make_bad_corpus, GOOD`` (pytest puts
``tests/`` on ``sys.path``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

#: Expected kind of failure -> a phrase the AudioError reason contains.
REASONS: dict[str, str] = {
    "empty": "is empty (0 bytes)",
    "truncated": "is truncated or corrupt",
    "not_audio": "is not an audio file soundfile can read",
    "nan": "contains NaN or infinite samples",
    "silent": "is silent",
}
#: Kind of the files that must decode.
GOOD = "ok"

#: Durations in seconds of the good files (what decoding must give back).
GOOD_DURATIONS_S: dict[str, float] = {
    "hires_192k_8ch.wav": 3.0,
    "short_mono_8k.wav": 0.5,
    "stereo_44k.aiff": 2.0,
    "vorbis_44k.ogg": 2.0,
    "opus_48k.opus": 2.0,
    "mp3_44k.mp3": 2.0,
}


def tone(duration_s: float, sr: int, freqs_hz=(440.0,), *, amp: float = 0.3,
         seed: int = 0) -> np.ndarray:
    """A sum of sines plus faint noise [shape=(n,), float32]."""
    t = np.arange(int(round(duration_s * sr))) / sr
    x = sum(np.sin(2 * np.pi * f * t) for f in freqs_hz) / max(1, len(freqs_hz))
    rng = np.random.default_rng(seed)
    return (amp * x + 1e-3 * rng.standard_normal(len(t))).astype(np.float32)


def make_bad_corpus(directory: str | Path) -> dict[str, str]:
    """Write the corpus into ``directory``; return file name -> expected kind
    (a key of ``REASONS``, or ``GOOD`` for files that must decode)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    kinds: dict[str, str] = {}

    (d / "zero_bytes.wav").write_bytes(b"")
    kinds["zero_bytes.wav"] = "empty"

    sf.write(d / "whole.flac.tmp", tone(4.0, 44100, (220.0, 330.0)), 44100, format="FLAC")
    data = (d / "whole.flac.tmp").read_bytes()
    (d / "whole.flac.tmp").unlink()
    (d / "truncated.flac").write_bytes(data[:len(data) // 2])
    kinds["truncated.flac"] = "truncated"

    (d / "text_as.wav").write_text("This is a text file, not a WAV file.\n" * 20)
    kinds["text_as.wav"] = "not_audio"

    x = tone(1.0, 22050)
    x[5000:5010] = np.nan
    sf.write(d / "nans.wav", x, 22050, subtype="FLOAT")
    kinds["nans.wav"] = "nan"

    sf.write(d / "silence_1s.wav", np.zeros(44100, dtype=np.float32), 44100, subtype="PCM_16")
    kinds["silence_1s.wav"] = "silent"

    # Good odd ones.
    sr = 192000
    n = int(GOOD_DURATIONS_S["hires_192k_8ch.wav"] * sr)
    chans = np.stack([tone(n / sr, sr, (110.0 * (c + 1),), seed=c) for c in range(8)], axis=1)
    sf.write(d / "hires_192k_8ch.wav", chans, sr, subtype="PCM_24")
    sf.write(d / "short_mono_8k.wav", tone(GOOD_DURATIONS_S["short_mono_8k.wav"], 8000), 8000,
             subtype="PCM_16")
    st = np.stack([tone(2.0, 44100, (440.0,)), tone(2.0, 44100, (660.0,), seed=1)], axis=1)
    sf.write(d / "stereo_44k.aiff", st, 44100, format="AIFF", subtype="PCM_16")
    sf.write(d / "vorbis_44k.ogg", st, 44100, format="OGG", subtype="VORBIS")
    sf.write(d / "opus_48k.opus", tone(2.0, 48000), 48000, format="OGG", subtype="OPUS")
    for name in ("hires_192k_8ch.wav", "short_mono_8k.wav", "stereo_44k.aiff",
                 "vorbis_44k.ogg", "opus_48k.opus"):
        kinds[name] = GOOD
    if "MP3" in sf.available_formats():
        sf.write(d / "mp3_44k.mp3", tone(2.0, 44100), 44100, format="MP3",
                 subtype="MPEG_LAYER_III")
        kinds["mp3_44k.mp3"] = GOOD
    return kinds


def make_long_file(path: str | Path, minutes: float, *, sr: int = 44100,
                   block_s: float = 10.0, subtype: str = "PCM_16") -> int:
    """Write a long mono WAV (tone + noise, one block repeated) without holding it in memory.
    Returns the number of frames written."""
    n_total = int(round(minutes * 60 * sr))
    block = tone(block_s, sr, (220.0, 440.0, 660.0))
    written = 0
    with sf.SoundFile(path, "w", samplerate=sr, channels=1, format="WAV", subtype=subtype) as f:
        while written < n_total:
            part = block[:n_total - written]
            f.write(part)
            written += len(part)
    return written
