"""Rendering the training corpus's tracks with FluidSynth, one synthesiser per soundfont.

A synthesiser per (soundfont, sample rate) and process, reset between tracks;
:func:`render_track` renders one :class:`~workstation.training.corpus_compose.Track` alone
(notes, pitch bends with the track's bend range); :func:`resolve_soundfont` finds a
soundfont by short name or path.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from workstation.core import constants as C
from workstation.training import demo_render
from workstation.training.corpus_compose import Track
from workstation.training.corpus_spec import SOUNDFONTS

log = logging.getLogger(__name__)

_SYNTHS: dict[tuple[str, int], tuple[object, int]] = {}
_FLUID_BLOCK = 64  # FLUID_BUFSIZE


def _synth(sf2: Path, sr: int):
    """A cached (Synth, sfid) for ``sf2``; raises RenderError if FluidSynth cannot load it."""
    key = (str(sf2), sr)
    if key not in _SYNTHS:
        try:
            import fluidsynth
        except (ImportError, OSError) as exc:
            raise demo_render.RenderError(f"FluidSynth is not available: {exc}") from exc
        synth = fluidsynth.Synth(samplerate=float(sr), gain=0.2,
                                 **{"synth.reverb.active": 0, "synth.chorus.active": 0})
        sfid = synth.sfload(str(sf2))
        if sfid < 0:
            synth.delete()
            raise demo_render.RenderError(f"{sf2}: FluidSynth cannot load this soundfont")
        _SYNTHS[key] = (synth, sfid)
    return _SYNTHS[key]


def resolve_soundfont(name: str) -> Path | None:
    """Path of soundfont ``name`` (a SOUNDFONTS key or a file path), None when absent."""
    for p in SOUNDFONTS.get(name, (Path(name),)):
        if p.is_file():
            return p
    return None


def _soundfont_for(name: str, sr: int) -> tuple[Path, object, int]:
    path = resolve_soundfont(name)
    if path is None:
        log.warning("soundfont %r not found; falling back to %s", name, demo_render.BUNDLED_SF2.name)
    else:
        try:
            return (path, *_synth(path, sr))
        except demo_render.RenderError as exc:
            log.warning("%s; falling back to %s", exc, demo_render.BUNDLED_SF2.name)
    return (demo_render.BUNDLED_SF2, *_synth(demo_render.BUNDLED_SF2, sr))


def render_track(track: Track, n_samples: int, *, sf2: Path, sr: int = C.SAMPLE_RATE) -> np.ndarray:
    """One track synthesised alone with FluidSynth [shape=(n_samples,)] float64, raw level.

    Events land on the nearest sample; note-offs before controllers before note-ons at equal
    times; the channel's pitch-bend range is set (RPN 0) to ``track.bend_range_semitones``.
    """
    synth, sfid = _synth(sf2, sr)
    synth.system_reset()
    synth.get_samples(4 * _FLUID_BLOCK)
    ch = 9 if track.is_drum else 0
    if track.is_drum:
        if synth.program_select(ch, sfid, 128, track.program) != 0:
            synth.program_select(ch, sfid, 128, 0)
    elif synth.program_select(ch, sfid, 0, track.program) != 0:
        log.debug("%s has no GM program %d; using 0", sf2.name, track.program)
        synth.program_select(ch, sfid, 0, 0)
    rng_semi = int(round(track.bend_range_semitones))
    for cc, v in ((101, 0), (100, 0), (6, rng_semi), (38, 0), (101, 127), (100, 127)):
        synth.cc(ch, cc, v)
    ev: list[tuple[int, int, int, int]] = []  # (sample, order, a, b)
    for on, off, p, v in zip(track.onsets_s, track.offsets_s, track.pitch_midi, track.velocity):
        ev.append((int(round(on * sr)), 2, int(p), int(v)))
        ev.append((int(round(off * sr)), 0, int(p), 0))
    for t, s in zip(track.bend_times_s, track.bend_semitones):
        ev.append((int(round(t * sr)), 1, int(round(s / track.bend_range_semitones * 8192.0)), 0))
    ev.sort()
    y = np.zeros(n_samples, dtype=np.float64)
    cur = 0
    for s, kind, a, b in ev:
        s = min(s, n_samples)
        if s > cur:
            y[cur:s] = synth.get_samples(s - cur)[::2]
            cur = s
        if kind == 0:
            synth.noteoff(ch, a)
        elif kind == 1:
            synth.pitch_bend(ch, a)
        else:
            synth.noteon(ch, a, b)
    if cur < n_samples:
        y[cur:] = synth.get_samples(n_samples - cur)[::2]
    synth.all_sounds_off(ch)
    # FluidSynth renders in blocks of 64 samples and applies events at block starts: end on a
    # block boundary so that the next track starts at the phase a fresh synthesiser would have
    if n_samples % _FLUID_BLOCK:
        synth.get_samples(_FLUID_BLOCK - n_samples % _FLUID_BLOCK)
    return y
