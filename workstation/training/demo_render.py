"""Rendering a composed piece with FluidSynth: stems per part and a balanced mix.

``render(piece, sr=..., sf2_path=...)`` synthesises a piece with FluidSynth (via pretty_midi),
one fresh synthesiser per instrument, so it is a pure function of its arguments (FluidSynth
itself may differ in tiny ways between runs). Also the soundfont paths (``SYSTEM_SF2``,
``BUNDLED_SF2``) and :class:`RenderError`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pretty_midi

from workstation.core.constants import SAMPLE_RATE
from workstation.core.errors import WorkstationError
from workstation.training.demo_piece import Piece, to_pretty_midi

log = logging.getLogger(__name__)

#: Debian's fluid-soundfont-gm; used when present.
SYSTEM_SF2 = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
#: The small GM soundfont shipped inside pretty_midi (always present).
BUNDLED_SF2 = Path(pretty_midi.__file__).resolve().parent / "TimGM6mb.sf2"


class RenderError(WorkstationError):
    """A piece cannot be rendered (no FluidSynth, no soundfont)."""


def default_soundfont() -> Path:
    """Debian's FluidR3_GM where installed, else pretty_midi's bundled TimGM6mb."""
    return SYSTEM_SF2 if SYSTEM_SF2.is_file() else BUNDLED_SF2


_ROLE_GAIN = {"melody": 1.0, "chords": 0.45, "bass": 0.6, "drums": 0.5}
_ROLE_PAN = {"melody": 0.05, "chords": -0.35, "bass": 0.0, "drums": 0.25}


def render_parts(piece: Piece, *, sr: int = SAMPLE_RATE,
                 sf2_path: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """Each part synthesised alone, mono, raw FluidSynth level [role -> shape=(n_samples,)].

    n_samples = round(duration_s * sr). One fresh synthesiser per part (no state shared).
    """
    try:
        import fluidsynth  # noqa: F401  (pyfluidsynth; needs libfluidsynth)
    except (ImportError, OSError) as exc:
        raise RenderError(f"FluidSynth is not available: {exc}") from exc
    sf2 = Path(sf2_path) if sf2_path is not None else default_soundfont()
    if not sf2.is_file():
        log.warning("soundfont %s not found; falling back to %s", sf2, BUNDLED_SF2)
        sf2 = BUNDLED_SF2
    n = int(round(piece.duration_s * sr))
    midi = to_pretty_midi(piece)  # a fresh copy: rendering never touches piece.midi
    out: dict[str, np.ndarray] = {}
    for part, inst in zip(piece.parts, midi.instruments):
        y = np.zeros(n, dtype=np.float64)
        if len(inst.notes):
            synth = fluidsynth.Synth(samplerate=float(sr))
            try:
                sfid = synth.sfload(str(sf2))
                if sfid < 0:
                    raise RenderError(f"{sf2}: FluidSynth cannot load this soundfont")
                w = inst.fluidsynth(fs=sr, synthesizer=synth, sfid=sfid)
            finally:
                synth.delete()
            m = min(n, len(w))
            y[:m] = w[:m]
        out[part.role] = y
    return out


def render(piece: Piece, *, sr: int = SAMPLE_RATE, sf2_path: str | os.PathLike | None = None,
           stereo: bool = False, target_rms_db: float = -20.0, peak_db: float = -1.0) -> np.ndarray:
    """Synthesise ``piece`` with FluidSynth; float32 in [-1, 1].

    Parts are balanced (each to a common RMS, then role gains: melody in front), panned
    when ``stereo``, and the mix is scaled to ``target_rms_db`` dBFS RMS without its peak
    exceeding ``peak_db`` dBFS. The last 50 ms fade out.
    Returns [shape=(n_samples,)] mono or [shape=(2, n_samples)] stereo, n_samples = round(duration_s * sr).
    """
    stems = render_parts(piece, sr=sr, sf2_path=sf2_path)
    n = int(round(piece.duration_s * sr))
    mix = np.zeros((2 if stereo else 1, n), dtype=np.float64)
    for role, y in stems.items():
        active = np.abs(y) > 1e-4 * (np.abs(y).max() + 1e-12)
        if not active.any():
            continue
        rms = float(np.sqrt(np.mean(y[active] ** 2)))
        g = _ROLE_GAIN.get(role, 0.5) / max(rms, 1e-9)
        if stereo:
            theta = (_ROLE_PAN.get(role, 0.0) + 1.0) * np.pi / 4
            mix[0] += g * np.cos(theta) * np.sqrt(2) * y
            mix[1] += g * np.sin(theta) * np.sqrt(2) * y
        else:
            mix[0] += g * y
    rms = float(np.sqrt(np.mean(mix ** 2)))
    peak = float(np.abs(mix).max())
    if peak <= 0:
        raise RenderError(f"rendering '{piece.title}' gave silence")
    scale = min(10 ** (target_rms_db / 20) / rms, 10 ** (peak_db / 20) / peak)
    mix *= scale
    fade = min(n, int(0.05 * sr))
    mix[:, n - fade:] *= np.linspace(1.0, 0.0, fade)
    out = mix.astype(np.float32)
    return out if stereo else out[0]
