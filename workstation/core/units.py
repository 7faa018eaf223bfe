"""Unit conversions (Hz, MIDI, cents, note names, key labels)."""

from __future__ import annotations

import re

import numpy as np

PITCH_CLASSES: tuple[str, ...] = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_SHARP = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_ALIASES = {"Db": 1, "D#": 3, "Gb": 6, "G#": 8, "A#": 10, "Cb": 11, "B#": 0, "E#": 5, "Fb": 4}


def hz_to_midi(freqs_hz):
    """Frequency in Hz to fractional MIDI number (A4 = 440 Hz = 69). Non-positive input gives nan."""
    f = np.asarray(freqs_hz, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 69.0 + 12.0 * np.log2(f / 440.0)
    out = np.where(f > 0, out, np.nan)
    return out if out.ndim else float(out)


def midi_to_hz(pitch_midi):
    """Fractional MIDI number to frequency in Hz."""
    m = np.asarray(pitch_midi, dtype=np.float64)
    out = 440.0 * 2.0 ** ((m - 69.0) / 12.0)
    return out if out.ndim else float(out)


def hz_to_mel(freqs_hz):
    """Frequency in Hz to mels on the Slaney scale (linear below 1 kHz, log above; librosa's
    default, and the scale of ``inference.frontend.mel_filterbank``)."""
    f = np.asarray(freqs_hz, dtype=np.float64)
    lin = f / (200.0 / 3)
    log = 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
    out = np.where(f >= 1000.0, log, lin)
    return out if out.ndim else float(out)


def mel_to_hz(mels):
    """Mels on the Slaney scale to frequency in Hz (inverse of ``hz_to_mel``)."""
    m = np.asarray(mels, dtype=np.float64)
    lin = m * (200.0 / 3)
    log = 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0))
    out = np.where(m >= 15.0, log, lin)
    return out if out.ndim else float(out)


def hz_to_cents(freqs_hz, ref_hz: float = 10.0):
    """Frequency in Hz to cents above ``ref_hz`` (mir_eval's convention uses 10 Hz)."""
    f = np.asarray(freqs_hz, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 1200.0 * np.log2(f / ref_hz)
    out = np.where(f > 0, out, np.nan)
    return out if out.ndim else float(out)


def midi_to_note_name(pitch_midi: float) -> str:
    """MIDI number to a note name with octave, e.g. 60 -> 'C4', 61 -> 'C#4'."""
    m = int(round(float(pitch_midi)))
    return f"{_SHARP[m % 12]}{m // 12 - 1}"


def pitch_class_name(pc: int) -> str:
    """Pitch class 0..11 to a name (C, C#, D, Eb, E, F, F#, G, Ab, A, Bb, B)."""
    return PITCH_CLASSES[int(pc) % 12]


def pitch_class_from_name(name: str) -> int:
    """Note name ('C', 'C#', 'Db', 'a', ...) to pitch class 0..11."""
    n = name.strip()
    n = n[:1].upper() + n[1:]
    if n in PITCH_CLASSES:
        return PITCH_CLASSES.index(n)
    if n in _SHARP:
        return _SHARP.index(n)
    if n in _ALIASES:
        return _ALIASES[n]
    raise ValueError(f"not a pitch name: {name!r}")


_NOTE_NAME = re.compile(r"^([A-Ga-g])([#b]?)(-?\d)$")


def note_name_to_midi(name: str) -> int | None:
    """A note name with octave to its MIDI number ('C4' -> 60, 'C#5' -> 73, 'Bb-1' -> 10), the
    inverse of ``midi_to_note_name``; None where ``name`` is not one."""
    m = _NOTE_NAME.match(name.strip())
    if not m:
        return None
    try:
        pc = pitch_class_from_name(m.group(1).upper() + m.group(2))
    except ValueError:
        return None
    return pc + 12 * (int(m.group(3)) + 1)


def key_label(tonic_pc: int, mode: str) -> str:
    """JAMS ``key_mode`` label, e.g. (9, 'minor') -> 'A:minor'."""
    return f"{pitch_class_name(tonic_pc)}:{mode}"


def parse_key_label(label: str) -> tuple[int, str]:
    """Parse 'A:minor', 'A minor', 'Bb major', 'C' (major assumed) into (tonic_pc, mode)."""
    s = label.replace(":", " ").split()
    if not s:
        raise ValueError(f"empty key label: {label!r}")
    mode = s[1].lower() if len(s) > 1 else "major"
    return pitch_class_from_name(s[0]), mode
