"""Container checks libsndfile does not make: whether a WAV, AIFF or Ogg file was cut short.

libsndfile sizes a WAV or AIFF file by the bytes it finds, not by its header, so a WAV whose
header announces 30 s but which was cut at 30 kB decodes as 0.34 s of audio without a word;
an Ogg file cut mid-stream decodes up to the cut. These checks read the container:

- WAV (RIFF) and AIFF/AIFC (FORM): the sound data chunk (``data`` / ``SSND``) must hold the
  bytes its size field announces (a size of 0 or 0xFFFFFFFF, as streaming writers leave
  it, announces nothing);
- Ogg (Vorbis, Opus, FLAC in Ogg): the file's last page must carry the end-of-stream flag
  and hold all the bytes its segment table announces.

``truncation(path, fmt)`` returns the reason (for ``AudioError``) or None.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

_MAX_CHUNKS = 10_000
_OGG_TAIL = 1 << 16


def truncation(path: str | Path, fmt: str) -> str | None:
    """Why the file at ``path`` (libsndfile format name ``fmt``: WAV, AIFF, OGG, ...) is cut
    short, or None when its container is whole or unchecked."""
    fmt = fmt.upper()
    try:
        size = os.path.getsize(path)
        with open(os.fsencode(path), "rb") as f:
            if fmt in ("WAV", "WAVEX"):
                return _chunked(f, size, b"RIFF", (b"WAVE",), b"data", "<I")
            if fmt in ("AIFF", "AIFC"):
                return _chunked(f, size, b"FORM", (b"AIFF", b"AIFC"), b"SSND", ">I")
            if fmt == "OGG":
                return _ogg(f, size)
    except OSError:
        return None          # unreadable here: the decoder will say why
    return None


def _chunked(f, size: int, magic: bytes, kinds: tuple[bytes, ...], data_id: bytes, fmt: str) -> str | None:
    head = f.read(12)
    if len(head) < 12 or head[:4] != magic or head[8:12] not in kinds:
        return None          # RF64, Wave64, ...: not checked
    pos = 12
    for _ in range(_MAX_CHUNKS):
        f.seek(pos)
        hdr = f.read(8)
        if len(hdr) < 8:
            return None
        cid, n = hdr[:4], struct.unpack(fmt, hdr[4:])[0]
        if cid == data_id:
            if n in (0, 0xFFFFFFFF):
                return None
            held = size - pos - 8
            if held < n:
                return (f"is truncated or corrupt: its {data_id.decode()} chunk announces {n} bytes "
                        f"of sound, the file holds {max(held, 0)} ({100 * max(held, 0) / n:.1f} %)")
            return None
        pos += 8 + n + (n & 1)
        if pos >= size:
            return None
    return None


def _ogg(f, size: int) -> str | None:
    f.seek(max(0, size - _OGG_TAIL))
    tail = f.read()
    at = tail.rfind(b"OggS")
    if at < 0 or at + 6 > len(tail):
        return "is truncated or corrupt: no Ogg page in its last 64 KB"
    if not tail[at + 5] & 0x04:
        return "is truncated or corrupt: its last Ogg page does not end the stream (cut short)"
    if at + 27 <= len(tail):
        n_seg = tail[at + 26]
        body = sum(tail[at + 27:at + 27 + n_seg])
        if at + 27 + n_seg > len(tail) or at + 27 + n_seg + body > len(tail):
            return "is truncated or corrupt: its last Ogg page is cut short"
    else:
        return "is truncated or corrupt: its last Ogg page is cut short"
    return None
