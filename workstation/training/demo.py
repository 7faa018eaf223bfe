"""The bundled demo collection: pieces with exact ground truth, as audio, JAMS and MIDI.

The procedural composer and renderer behind it live beside this module:
:mod:`~workstation.training.demo_piece` (the :class:`Piece` and its labels),
:mod:`~workstation.training.demo_theory` (scales, chords, progressions),
:mod:`~workstation.training.demo_compose` (``compose``) and
:mod:`~workstation.training.demo_render` (``render``, FluidSynth). This module writes the
ground truth as JAMS (``to_jams``, ``save_jams``) and builds the collection.

``compose(seed, ...)`` writes a short piece (melody, chord comping, bass, drums on
GM channel 10) in a key, meter and tempo, and returns a :class:`Piece` holding the
``pretty_midi.PrettyMIDI`` and exact labels: notes per instrument, the melody
line and its f0 (pitch bends and vibrato included), key and mode, chords, beats
with their position in the bar, tempo and instrument names. ``compose`` is
exactly deterministic from its arguments (one ``numpy.random.Generator`` seeded
with ``seed``, every draw made in a fixed order whatever is overridden).

``render(piece, sr=..., sf2_path=...)`` synthesises a piece with FluidSynth (via
pretty_midi), one fresh synthesiser per instrument, so it is a pure function of
its arguments (FluidSynth itself may differ in tiny ways between runs).

``python -m workstation.training.demo --out resources/demo`` (re)builds the bundled
demo collection: ten pieces as FLAC/OGG with tags, each with ``.jams`` ground
truth and the ``.mid`` beside it, and a README table.

Musical time is exact: beat ``i`` sounds at ``i * 60 / tempo_bpm`` seconds.
Pitch bends use the General MIDI default range of +-2 semitones.
"""

from __future__ import annotations

import argparse
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from workstation.core.constants import HOP_LENGTH, SAMPLE_RATE
from workstation.training.demo_compose import compose
from workstation.training.demo_piece import Piece
from workstation.training.demo_render import BUNDLED_SF2, SYSTEM_SF2, render

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# Ground truth as JAMS


def _r(t) -> float:
    """Times in the JAMS files are rounded to the microsecond (keeps the files small)."""
    return round(float(t), 6)


def save_jams(jam, path: str | os.PathLike) -> None:
    """Validate ``jam`` and write it as compact JSON (``jams.save`` indents, which triples the size)."""
    import json

    jam.validate(strict=True)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(jam.__json__, fh, separators=(",", ":"))


def to_jams(piece: Piece, *, hop_s: float = HOP_LENGTH / SAMPLE_RATE, artist: str = "Workstation Demo",
            release: str = "Demo Collection"):
    """The piece's labels as a ``jams.JAMS`` (note_midi per instrument and for the melody,
    pitch_contour, key_mode, chord, beat, beat_position, tempo, tag_open)."""
    import jams

    d = float(piece.duration_s)
    jam = jams.JAMS()
    jam.file_metadata = jams.FileMetadata(title=piece.title, artist=artist, release=release, duration=d)
    src = f"workstation.training.demo.compose(seed={piece.seed})"

    def meta(annotator: dict):
        return jams.AnnotationMetadata(annotator=jams.Sandbox(**annotator), data_source=src,
                                       annotation_tools="workstation.training.demo",
                                       annotation_rules="exact: generated from the score")

    for part in piece.pitched_parts:
        who = {"name": part.name, "instrument": part.name, "program": part.program, "role": part.role}
        ann = jams.Annotation("note_midi", duration=d, annotation_metadata=meta(who),
                              sandbox=jams.Sandbox(**who, melody=False))
        for on, off, p, v in zip(part.onsets_s, part.offsets_s, part.pitch_midi, part.velocity):
            ann.append(time=_r(on), duration=_r(off - on), value=float(p), confidence=1.0)
        jam.annotations.append(ann)
    m = piece.melody
    who = {"name": "melody", "instrument": m.name, "program": m.program, "role": "melody"}
    ann = jams.Annotation("note_midi", duration=d, annotation_metadata=meta(who),
                          sandbox=jams.Sandbox(**who, melody=True))
    for on, off, p in zip(m.onsets_s, m.offsets_s, m.pitch_midi):
        ann.append(time=_r(on), duration=_r(off - on), value=float(p), confidence=1.0)
    jam.annotations.append(ann)

    times = np.arange(int(np.floor(d / hop_s)) + 1) * hop_s
    times = times[times < d]
    freqs, voiced = piece.f0_at(times)
    who = {"name": "melody", "instrument": m.name, "hop_s": hop_s}
    ann = jams.Annotation("pitch_contour", duration=d, annotation_metadata=meta(who),
                          sandbox=jams.Sandbox(**who))
    for t, f, v in zip(times, freqs, voiced):
        ann.append(time=_r(t), duration=0.0,
                   value={"index": 0, "frequency": round(float(f), 2), "voiced": bool(v)}, confidence=1.0)
    jam.annotations.append(ann)

    ann = jams.Annotation("key_mode", duration=d, annotation_metadata=meta({"name": "score"}))
    ann.append(time=0.0, duration=d, value=piece.key_label, confidence=1.0)
    jam.annotations.append(ann)

    ann = jams.Annotation("chord", duration=d, annotation_metadata=meta({"name": "score"}))
    for c in piece.chords:
        ann.append(time=_r(c.start_s), duration=_r(c.end_s - c.start_s), value=c.label, confidence=1.0)
    jam.annotations.append(ann)

    ann_b = jams.Annotation("beat", duration=d, annotation_metadata=meta({"name": "score"}))
    ann_p = jams.Annotation("beat_position", duration=d, annotation_metadata=meta({"name": "score"}))
    for t, pos, bar in zip(piece.beat_times_s, piece.beat_positions, piece.beat_measures):
        ann_b.append(time=_r(t), duration=0.0, value=int(pos), confidence=1.0)
        ann_p.append(time=_r(t), duration=0.0, confidence=1.0,
                     value={"position": int(pos), "measure": int(bar),
                            "num_beats": int(piece.beats_per_bar), "beat_units": 4})
    jam.annotations.extend([ann_b, ann_p])

    ann = jams.Annotation("tempo", duration=d, annotation_metadata=meta({"name": "score"}))
    ann.append(time=0.0, duration=d, value=float(piece.tempo_bpm), confidence=1.0)
    jam.annotations.append(ann)

    ann = jams.Annotation("tag_open", duration=d, annotation_metadata=meta({"name": "instruments"}))
    for name in piece.instrument_names:
        ann.append(time=0.0, duration=d, value=name, confidence=1.0)
    jam.annotations.append(ann)
    jam.sandbox.update(seed=piece.seed, style=piece.style, genre=piece.genre,
                       meter=f"{piece.beats_per_bar}/4", melody_instrument=m.name)
    return jam


# ---------------------------------------------------------------------------------------------
# The bundled collection


@dataclass(frozen=True)
class DemoSpec:
    """One piece of the bundled collection and how it is stored."""

    number: int
    seed: int
    style: str
    key: str
    tempo_bpm: float
    duration_s: float
    programs: tuple[tuple[str, int], ...]
    vibrato: bool
    fmt: str  # 'flac' or 'ogg'
    sr: int
    channels: int
    soundfont: str  # 'system' (FluidR3_GM) or 'bundled' (TimGM6mb)

    def compose(self) -> Piece:
        return compose(self.seed, duration_s=self.duration_s, key=self.key, tempo_bpm=self.tempo_bpm,
                       style=self.style, programs=dict(self.programs), vibrato=self.vibrato)

    def sf2(self) -> Path:
        return SYSTEM_SF2 if self.soundfont == "system" and SYSTEM_SF2.is_file() else BUNDLED_SF2


def _P(**kw) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(kw.items()))


DEMO_SPECS: tuple[DemoSpec, ...] = (
    DemoSpec(1, 101, "waltz", "A:minor", 138, 32.0, _P(melody=40, chords=0, bass=32), True, "ogg", 44100, 2, "system"),
    DemoSpec(2, 202, "pop", "C:major", 112, 24.0, _P(melody=73, chords=25, bass=33), False, "flac", 22050, 1, "bundled"),
    DemoSpec(3, 303, "ballad", "Eb:major", 76, 36.0, _P(melody=65, chords=4, bass=32), True, "ogg", 44100, 2, "system"),
    DemoSpec(4, 404, "swing", "F:major", 150, 24.0, _P(melody=11, chords=26, bass=32), False, "flac", 44100, 1, "bundled"),
    DemoSpec(5, 505, "bossa", "D:minor", 128, 30.0, _P(melody=71, chords=24, bass=32), False, "ogg", 44100, 2, "system"),
    DemoSpec(6, 606, "rock", "E:minor", 124, 22.0, _P(melody=80, chords=16, bass=34), False, "flac", 22050, 2, "bundled"),
    DemoSpec(7, 707, "waltz", "G:major", 96, 22.0, _P(melody=68, chords=46, bass=32), False, "ogg", 44100, 2, "system"),
    DemoSpec(8, 808, "ballad", "B:minor", 72, 34.0, _P(melody=0, chords=48, bass=32), False, "flac", 22050, 1, "bundled"),
    DemoSpec(9, 909, "pop", "Bb:major", 100, 30.0, _P(melody=56, chords=48, bass=33), True, "ogg", 44100, 2, "system"),
    DemoSpec(10, 1010, "swing", "F#:minor", 160, 38.0, _P(melody=66, chords=16, bass=32), True, "ogg", 44100, 2, "bundled"),
)

DEMO_YEAR = "2025"


def demo_name(spec: DemoSpec, piece: Piece) -> str:
    """File stem, e.g. '01_waltz_in_a_minor'."""
    slug = piece.title.lower().replace("-", "_").replace(" ", "_")
    return f"{spec.number:02d}_{slug}"


def _write_audio(path: Path, y: np.ndarray, spec: DemoSpec, piece: Piece) -> None:
    import soundfile as sf

    data = y.T if y.ndim == 2 else y
    if spec.fmt == "flac":
        sf.write(str(path), data, spec.sr, format="FLAC", subtype="PCM_16")
        from mutagen.flac import FLAC as Tagged
    else:
        sf.write(str(path), data, spec.sr, format="OGG", subtype="VORBIS", compression_level=0.6)
        from mutagen.oggvorbis import OggVorbis as Tagged
    f = Tagged(str(path))
    f["title"] = piece.title
    f["artist"] = "Workstation Demo"
    f["album"] = "Demo Collection"
    f["date"] = DEMO_YEAR
    f["genre"] = piece.genre
    f["tracknumber"] = str(spec.number)
    f["comment"] = f"Synthesised by workstation.training.demo (seed {piece.seed}); ground truth in the .jams"
    f.save()


def build_collection(out_dir: str | os.PathLike, *, specs: Sequence[DemoSpec] = DEMO_SPECS) -> list[dict]:
    """Compose, render and write every piece (audio + .jams + .mid) and the README table.

    Returns one row per piece (name, key, tempo, meter, instruments, duration, format, file).
    """
    import jams  # noqa: F401

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for spec in specs:
        piece = spec.compose()
        name = demo_name(spec, piece)
        y = render(piece, sr=spec.sr, sf2_path=spec.sf2(), stereo=spec.channels == 2)
        audio = out / f"{name}.{spec.fmt}"
        _write_audio(audio, y, spec, piece)
        jam = to_jams(piece)
        jam.file_metadata.identifiers = {"file": audio.name}
        jam.sandbox.update(soundfont=spec.sf2().name, sample_rate=spec.sr, channels=spec.channels)
        save_jams(jam, out / f"{name}.jams")
        piece.midi.write(str(out / f"{name}.mid"))
        fmt = (f"FLAC {spec.sr / 1000:g} kHz" if spec.fmt == "flac" else f"OGG Vorbis {spec.sr / 1000:g} kHz")
        fmt += " stereo" if spec.channels == 2 else " mono"
        rows.append(dict(name=name, file=audio.name, title=piece.title, key=piece.key_label,
                         tempo=piece.tempo_bpm, meter=f"{piece.beats_per_bar}/4",
                         instruments=", ".join(piece.instrument_names), duration=piece.duration_s,
                         format=fmt, soundfont=spec.sf2().name, vibrato=spec.vibrato))
        log.info("wrote %s (%s)", audio, fmt)
    _write_readme(out, rows)
    return rows


def _write_readme(out: Path, rows: list[dict]) -> None:
    lines = [
        "# Demo collection",
        "",
        "Ten short pieces composed and rendered by `workstation.training.demo` (rebuild with",
        "`python -m workstation.training.demo --out resources/demo`). Each audio file has its exact",
        "ground truth beside it: `<name>.jams` (note_midi per instrument and for the melody, melody",
        "pitch_contour with vibrato bends, key_mode, chord, beat, beat_position, tempo, tag_open) and",
        "the `<name>.mid` it was rendered from. Tags: artist \"Workstation Demo\", album \"Demo",
        "Collection\". Rendered with FluidSynth and the soundfont named in the table (FluidR3_GM from",
        "Debian's fluid-soundfont-gm, MIT licence; TimGM6mb from pretty_midi, GPL-2).",
        "",
        "| file | key | tempo (BPM) | meter | instruments | duration (s) | format | soundfont |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        inst = r["instruments"] + (" (melody with vibrato)" if r["vibrato"] else "")
        lines.append(f"| {r['file']} | {r['key']} | {r['tempo']:g} | {r['meter']} | {inst} | "
                     f"{r['duration']:g} | {r['format']} | {r['soundfont']} |")
    (out / "README.md").write_text("\n".join(lines) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m workstation.training.demo",
                                 description="Build the bundled demo collection (audio, .jams, .mid, README).")
    ap.add_argument("--out", default="resources/demo", help="output folder (default resources/demo)")
    ap.add_argument("--only", type=int, nargs="*", help="piece numbers to build (default all)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    specs = [s for s in DEMO_SPECS if not args.only or s.number in args.only]
    rows = build_collection(args.out, specs=specs)
    total = sum(f.stat().st_size for f in Path(args.out).iterdir() if f.is_file())
    print(f"{len(rows)} pieces written to {args.out}; folder size {total / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
