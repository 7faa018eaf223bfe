"""The bad-input corpus: several hundred awkward files made at test time (never committed),
each with what must happen to it.

``make_corpus(folder) -> dict[relative path, expectation]``: an expectation is ``GOOD`` (the
file must be analysed) or a tuple of phrases, one of which the CLI's line naming that file
must contain (the reason it was refused). Covered: good files in every format, rate,
channel count and odd name (spaces, accents, bytes that are not UTF-8, 240 characters,
the same name in several folders); empty files; files that are not audio (text, random
bytes, images, archives, JSON) under audio extensions; files cut short at eleven points in
five formats; NaN, infinite and absurd samples; silence; headers with impossible sample
rates or no frames; a FLAC without its length; named pipes, links to devices, dangling
links, link loops and folders named like audio files.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import soundfile as sf

from badfiles import tone

GOOD = "ok"
TRUNCATED = ("is truncated or corrupt", "is not an audio file", "contains no audio")
NOT_AUDIO = ("is not an audio file", "is truncated or corrupt", "contains no audio", "does not state its length")
FORMATS = {"wav": ("WAV", "PCM_16"), "flac": ("FLAC", "PCM_16"), "ogg": ("OGG", "VORBIS"),
           "aiff": ("AIFF", "PCM_16"), "mp3": ("MP3", "MPEG_LAYER_III")}


def _write(path: Path, x: np.ndarray, sr: int, ext: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt, sub = FORMATS[ext]
    sf.write(os.fsencode(path), x, sr, format=fmt, subtype=sub)


def _wav_header(sr: int, n_bytes: int) -> bytes:
    fmt = struct.pack("<IHHIIHH", 16, 1, 1, sr, (2 * sr) & 0xFFFFFFFF, 2, 16)
    return b"RIFF" + struct.pack("<I", 36 + n_bytes) + b"WAVEfmt " + fmt + b"data" + struct.pack("<I", n_bytes)


def make_corpus(folder: str | Path) -> dict[str, object]:
    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    exp: dict[str, object] = {}
    rng = np.random.default_rng(7)

    # good: 5 formats x 4 rates x 3 shapes
    for ext in FORMATS:
        for sr in (8000, 22050, 44100, 48000):
            for k, (secs, ch) in enumerate(((0.5, 1), (1.0, 2), (1.5, 1))):
                if ext == "mp3" and sr == 8000:
                    sr_ = 16000           # LAME's lowest common rate here
                else:
                    sr_ = sr
                x = tone(secs, sr_, (220.0 * (k + 1), 330.0), seed=k)
                x = np.stack([x, x[::-1]], axis=1) if ch == 2 else x
                name = f"good/{ext}/t_{sr_}_{k}.{ext}"
                _write(d / name, x, sr_, ext)
                exp[name] = GOOD
    for sr, ch in ((96000, 2), (96000, 6), (192000, 2), (192000, 8), (88200, 1), (176400, 2)):
        x = np.stack([tone(1.0, sr, (110.0 * (c + 1),), seed=c) for c in range(ch)], axis=1)
        name = f"good/hires/{sr}_{ch}ch.wav"
        (d / "good" / "hires").mkdir(parents=True, exist_ok=True)
        sf.write(d / name, x, sr, subtype="PCM_24")
        exp[name] = GOOD
    for i, name in enumerate(("with space.wav", "accentué é.wav", "日本語.flac", "emoji 🎵.wav",
                              "a" * 236 + ".wav", "b" * 200 + " long.flac", "semi;colon.wav",
                              "quote'd.wav", "dash -- name.wav", "UPPER.WAV")):
        _write(d / "names" / name, tone(1.0, 22050, (200.0 + 20 * i,)), 22050,
               "flac" if name.endswith(".flac") else "wav")
        exp[f"names/{name}"] = GOOD
    for i in range(5):                      # file names that are not UTF-8
        raw = os.fsdecode(b"latin1 caf\xe9 %d.wav" % i)
        _write(d / "names" / raw, tone(1.0, 22050, (250.0 + 10 * i,)), 22050, "wav")
        exp[f"names/{raw}"] = GOOD
    for cd in ("cd1", "cd2", "cd3"):        # the same names in several folders
        for ext in ("wav", "flac"):
            _write(d / "dupes" / cd / f"take1.{ext}", tone(1.0, 22050, (300.0 + len(cd + ext),)), 22050, ext)
            exp[f"dupes/{cd}/take1.{ext}"] = GOOD

    # empty, under every extension
    for ext in ("wav", "flac", "ogg", "opus", "mp3", "aif", "aiff"):
        (d / "empty").mkdir(exist_ok=True)
        (d / "empty" / f"zero.{ext}").write_bytes(b"")
        exp[f"empty/zero.{ext}"] = ("is empty (0 bytes)",)

    # not audio, under every extension
    junk = {"text": b"This is not audio.\n" * 50, "random": rng.integers(0, 256, 6000, dtype=np.uint8).tobytes(),
            "png": b"\x89PNG\r\n\x1a\n" + bytes(200), "zip": b"PK\x03\x04" + bytes(300),
            "json": b'{"not": "audio", "n": [1, 2, 3]}' * 20, "riff_junk": b"RIFF\x10\x00\x00\x00WAVEjunk" + bytes(64)}
    for kind, data in junk.items():
        for ext in ("wav", "flac", "ogg", "opus", "mp3", "aif", "aiff"):
            (d / "junk").mkdir(exist_ok=True)
            (d / "junk" / f"{kind}.{ext}").write_bytes(data)
            exp[f"junk/{kind}.{ext}"] = NOT_AUDIO

    # cut short: 5 formats x 9 points x 2 rates
    for ext in FORMATS:
        for sr in (22050, 44100):
            whole = d / "cut" / f"whole_{sr}.{ext}"
            _write(whole, tone(4.0, sr, (220.0, 277.2)), sr, ext)
            data = whole.read_bytes()
            whole.unlink()
            for frac in (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95):
                name = f"cut/{ext}_{sr}_{int(frac * 100)}.{ext}"
                (d / name).write_bytes(data[: int(len(data) * frac)])
                # an MP3 a few frames short cannot be told from encoder padding: it is decoded,
                # with a warning that names the shortfall
                exp[name] = TRUNCATED + (("header announced",) if ext == "mp3" else ())

    # NaN, infinite, absurd samples (float WAV)
    for i, at in enumerate(np.linspace(0.05, 0.95, 10)):
        for kind, value, says in (("nan", np.nan, "contains NaN or infinite samples"),
                                  ("inf", np.inf, "contains NaN or infinite samples"),
                                  ("huge", 1e30, "has samples of magnitude")):
            x = tone(1.0, 22050, (440.0,), seed=i)
            x[int(at * len(x))] = value
            name = f"values/{kind}_{i}.wav"
            (d / "values").mkdir(exist_ok=True)
            sf.write(d / name, x, 22050, subtype="FLOAT")
            exp[name] = (says,)

    # silence in every format
    for ext in FORMATS:
        name = f"silent/zeros.{ext}"
        _write(d / name, np.zeros(22050, np.float32), 22050, ext)
        exp[name] = ("is silent",)

    # impossible headers
    pcm = (rng.standard_normal(4000) * 1000).astype("<i2").tobytes()
    (d / "headers").mkdir(exist_ok=True)
    for sr in (1, 7, 999, 800_000, 4_000_000, 1_000_000_000):
        (d / "headers" / f"rate_{sr}.wav").write_bytes(_wav_header(sr, len(pcm)) + pcm)
        exp[f"headers/rate_{sr}.wav"] = ("implausible sample rate",)
    for i in range(3):
        sf.write(d / "headers" / f"no_frames_{i}.wav", np.zeros(0, np.float32), 22050 * (i + 1))
        exp[f"headers/no_frames_{i}.wav"] = ("contains no audio frames",)
    live = d / "headers" / "live.flac"
    sf.write(live, tone(1.0, 44100), 44100)
    b = bytearray(live.read_bytes())
    b[18:26] = (int.from_bytes(b[18:26], "big") & ~((1 << 36) - 1)).to_bytes(8, "big")
    live.write_bytes(bytes(b))
    exp["headers/live.flac"] = ("does not state its length",)

    # things that are not files
    s = d / "special"
    s.mkdir()
    for i in range(3):
        os.mkfifo(s / f"pipe{i}.wav")
        exp[f"special/pipe{i}.wav"] = ("named pipe",)
    for i in range(2):
        os.symlink("/dev/zero", s / f"zero{i}.wav")
        exp[f"special/zero{i}.wav"] = ("character device",)
    for i in range(3):
        os.symlink(s / f"gone{i}.wav", s / f"dangling{i}.wav")
        exp[f"special/dangling{i}.wav"] = ("No such file",)
    for i in range(2):
        os.symlink(s / f"loop{i}b.wav", s / f"loop{i}a.wav")
        os.symlink(s / f"loop{i}a.wav", s / f"loop{i}b.wav")
        exp[f"special/loop{i}a.wav"] = exp[f"special/loop{i}b.wav"] = ("symbolic link loop",)
    return exp
