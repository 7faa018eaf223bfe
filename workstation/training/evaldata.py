"""Loaders for the real recordings in ``../shared/evaldata`` (evaluation only, never training)
and for the demo collection's ground truth.

Every loader yields ``Item``s: an audio path, how to read it (channel), and the
reference in ``core`` units. Nothing here copies evaluation data anywhere.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from workstation.core import constants as C
from workstation.core.units import midi_to_hz, note_name_to_midi

#: ``../shared/evaldata``, or the folder named by ``WORKSTATION_EVALDATA``: other recordings laid
#: out the same way (a held-out set) measured by the same benchmarks, unchanged.
DEFAULT_ROOT = Path(os.environ.get("WORKSTATION_EVALDATA")
                    or Path(__file__).resolve().parents[2].parent / "shared" / "evaldata")

# GTZAN (Lerch) key index: 0-11 major A..G#, 12-23 minor a..g#, -1 none.
_A_BASED = ("A", "A#", "B", "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#")


@dataclass
class Item:
    """One evaluation recording. ``channel``: None = mix all channels, else that channel index."""

    name: str
    audio: Path
    channel: int | None = None
    ref: dict = field(default_factory=dict)


def load_audio(item: Item, *, sr: int = C.SAMPLE_RATE) -> np.ndarray:
    """Mono float32 audio at ``sr`` [shape=(n,)] (the chosen channel or the mix)."""
    import soundfile as sf
    import soxr

    x, native = sf.read(str(item.audio), dtype="float32", always_2d=True)
    x = x[:, item.channel] if item.channel is not None else x.mean(axis=1)
    if native != sr:
        x = soxr.resample(x, native, sr, quality="HQ")
    return np.ascontiguousarray(x, dtype=np.float32)


def _two_cols(path: Path, delimiter=None) -> np.ndarray:
    rows = []
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = re.split(r"[,\s;]+", line) if delimiter is None else line.split(delimiter)
        try:
            rows.append([float(p) for p in parts if p != ""])
        except ValueError:
            continue  # a header
    width = max((len(r) for r in rows), default=0)
    return np.array([r + [np.nan] * (width - len(r)) for r in rows], dtype=np.float64)


def mir1k(root: Path = DEFAULT_ROOT, *, channel: str = "voice") -> Iterator[Item]:
    """MIR-1K clips: ref f0 from ``.pv`` (MIDI per 20 ms frame, first frame centred at 20 ms).
    channel 'voice' = right channel alone, 'mix' = both channels mixed."""
    base = root / "mono_f0" / "mir1k"
    for wav in sorted((base / "Wavfile").glob("*.wav")):
        pv = base / "PitchLabel" / (wav.stem + ".pv")
        if not pv.exists():
            continue
        midi = np.array([float(v) for v in pv.read_text().split()])
        times = 0.02 * (np.arange(len(midi)) + 1)
        freqs = np.where(midi > 0, midi_to_hz(np.where(midi > 0, midi, 69)), 0.0)
        yield Item(wav.stem, wav, 1 if channel == "voice" else None,
                   {"f0_times_s": times, "f0_hz": freqs})


def vocadito(root: Path = DEFAULT_ROOT) -> Iterator[Item]:
    """Vocadito solo singing with its f0 CSV (time, Hz; 0 = unvoiced)."""
    base = root / "mono_f0" / "vocadito"
    for wav in sorted(base.glob("vocadito_*.wav")):
        ref = base / f"{wav.stem}_f0.csv"
        if ref.exists():
            a = _two_cols(ref)
            yield Item(wav.stem, wav, None, {"f0_times_s": a[:, 0], "f0_hz": a[:, 1]})


#: pitch in an isolated-note file name: ``sms_organ-C3.wav``, ``tinysol_Fl-ord-C4-mf-N-T14d.wav``
_NOTE_IN_NAME = re.compile(r"[-_]([A-G][#b]?-?\d)(?=[-_.])")


def isolated_notes(root: Path = DEFAULT_ROOT) -> Iterator[Item]:
    """Single sustained instrument notes (``mono_f0/isolated_notes``) with the pitch their file
    name gives (``ref["midi"]``, e.g. ``A4`` -> 69.0); files without a pitch in the name are left
    out."""
    for wav in sorted((root / "mono_f0" / "isolated_notes").glob("*.wav")):
        m = _NOTE_IN_NAME.search(wav.stem + ".")
        midi = note_name_to_midi(m.group(1)) if m else None
        if midi is not None:
            yield Item(wav.stem, wav, None, {"midi": float(midi)})


def sung_notes(root: Path = DEFAULT_ROOT) -> Iterator[Item]:
    """Sung notes: SSVD sight-singing (``.txt`` onset, offset, MIDI pitch, possibly
    fractional) and vocadito's first annotator (``*_notesA1.csv`` onset, Hz, duration)."""
    for txt in sorted((root / "mono_f0" / "ssvd_notes").glob("*.txt")):
        audio = txt.with_suffix(".flac")
        a = _two_cols(txt)
        if audio.exists() and a.size:
            yield Item(f"ssvd {txt.stem}", audio, None, {
                "intervals_s": a[:, :2], "pitch_midi": a[:, 2]})
    base = root / "mono_f0" / "vocadito"
    for wav in sorted(base.glob("vocadito_*.wav")):
        ref = base / f"{wav.stem}_notesA1.csv"
        a = _two_cols(ref) if ref.exists() else np.zeros((0, 3))
        if a.size:
            yield Item(f"{wav.stem} notes", wav, None, {
                "intervals_s": np.stack([a[:, 0], a[:, 0] + a[:, 2]], axis=1),
                "pitch_midi": 69.0 + 12.0 * np.log2(a[:, 1] / 440.0)})


def piano_notes(root: Path = DEFAULT_ROOT) -> Iterator[Item]:
    """Real piano recordings with the MIDI captured from the same take (notes reference)."""
    import pretty_midi

    base = root / "poly_notes"
    pairs = [(w, w.with_suffix(".mid")) for w in sorted((base / "fmp_audiolabs_piano").glob("*.wav"))]
    pairs.append((base / "madmom_stereo_sample" / "stereo_sample.wav",
                  base / "madmom_stereo_sample" / "stereo_sample.mid"))
    for wav, mid in pairs:
        if not (wav.exists() and mid.exists()):
            continue
        pm = pretty_midi.PrettyMIDI(str(mid))
        notes = [n for inst in pm.instruments if not inst.is_drum for n in inst.notes]
        notes.sort(key=lambda n: (n.start, n.pitch))
        yield Item(wav.stem, wav, None, {
            "intervals_s": np.array([[n.start, n.end] for n in notes]).reshape(-1, 2),
            "pitch_midi": np.array([n.pitch for n in notes], dtype=float)})


def gtzan(root: Path = DEFAULT_ROOT) -> Iterator[Item]:
    """GTZAN clips with beats (time, position), tempo (BPM) and key (tonic_pc, mode) where known."""
    from workstation.core.units import pitch_class_from_name

    base = root / "gtzan"
    for wav in sorted((base / "audio").rglob("*.wav")):
        genre, num = wav.stem.split(".")
        ref: dict = {}
        beats = base / "beats" / f"gtzan_{genre}_{num}.beats"
        if beats.exists():
            a = _two_cols(beats)
            ref["beats_s"] = a[:, 0]
            ref["beat_positions"] = a[:, 1] if a.shape[1] > 1 else np.zeros(len(a))
        tempo = base / "tempo" / f"gtzan_{genre}_{num}.bpm"
        if tempo.exists() and tempo.read_text().strip():
            ref["tempo_bpm"] = float(tempo.read_text().split()[0])
        key = base / "key" / f"{genre}.{num}.lerch.txt"
        if key.exists():
            k = int(key.read_text().split()[0])
            if k >= 0:
                ref["key"] = (pitch_class_from_name(_A_BASED[k % 12]), "major" if k < 12 else "minor")
        yield Item(wav.stem, wav, None, ref)


def beat_sets(root: Path = DEFAULT_ROOT) -> Iterator[Item]:
    """Beat-annotated excerpts besides GTZAN: FMP C6, the madmom sample, the jazz trio."""
    fmp = root / "beats" / "fmp_c6"
    choice = {"Audio_Borodin-sec39_RWC": "_quarter", "Audio_Chopin": "",
              "Audio_HappyBirthday": "_tactus", "Audio_PorUnaCabeza": "_quarter",
              "Audio_Queen_AnotherOneBitesTheDust-Beginning": "_beat"}
    for stem, suffix in choice.items():
        wav, ref = fmp / f"{stem}.wav", fmp / f"{stem}{suffix}.csv"
        if wav.exists() and ref.exists():
            yield Item(stem, wav, None, {"beats_s": _two_cols(ref)[:, 0]})
    mm = root / "beats" / "madmom_sample"
    if (mm / "sample.wav").exists():
        a = _two_cols(mm / "sample.beats")
        yield Item("madmom_sample", mm / "sample.wav", None,
                   {"beats_s": a[:, 0], "beat_positions": a[:, 1]})
    jtd = root / "beats" / "jtd_excerpt"
    wavs = sorted(jtd.glob("*.wav"))
    if wavs and (jtd / "beats.csv").exists():
        with open(jtd / "beats.csv") as f:
            rows = list(csv.DictReader(f))
        yield Item("jtd_excerpt", wavs[0], None, {
            "beats_s": np.array([float(r["beats"]) for r in rows]),
            "beat_positions": np.array([float(r["metre_auto"] or 0) for r in rows])})


def key_sets(root: Path = DEFAULT_ROOT) -> Iterator[Item]:
    """Key-labelled recordings: GTZAN clips with a key, and the tenor-sax phrases."""
    from workstation.core.units import pitch_class_from_name

    for it in gtzan(root):
        if "key" in it.ref:
            yield it
    for wav in sorted((root / "key" / "essentia_sax").glob("*.wav")):
        m = re.search(r"-([a-g](?:-?sharp|b|#)?)-(major|minor)", wav.stem.lower())
        if m:
            tonic = m.group(1).replace("-sharp", "#").replace("sharp", "#")
            yield Item(wav.stem, wav, None, {"key": (pitch_class_from_name(tonic), m.group(2))})


def demo_collection(demo_dir: Path) -> Iterator[Item]:
    """The bundled demo pieces with their JAMS ground truth (f0, notes, key, beats, tempo)."""
    import jams

    from workstation.core.units import parse_key_label

    for jf in sorted(Path(demo_dir).glob("*.jams")):
        audio = [p for p in jf.parent.glob(jf.stem + ".*") if p.suffix.lower() in (".flac", ".ogg", ".wav")]
        if not audio:
            continue
        jam = jams.load(str(jf), validate=False)
        ref: dict = {}
        for ann in jam.annotations:
            ns = ann.namespace
            obs = list(ann.data)
            name = (ann.annotation_metadata.annotator.name or "") if ann.annotation_metadata.annotator else ""
            if ns == "pitch_contour" and "f0_hz" not in ref:
                ref["f0_times_s"] = np.array([o.time for o in obs])
                ref["f0_hz"] = np.array([o.value["frequency"] * (1 if o.value.get("voiced", True) else -1)
                                         for o in obs])
            elif ns == "note_midi" and name.lower() != "melody":  # the melody alone is a duplicate
                iv = np.array([[o.time, o.time + o.duration] for o in obs]).reshape(-1, 2)
                p = np.array([o.value for o in obs], dtype=float)
                if "intervals_s" in ref:
                    ref["intervals_s"] = np.vstack([ref["intervals_s"], iv])
                    ref["pitch_midi"] = np.concatenate([ref["pitch_midi"], p])
                else:
                    ref["intervals_s"], ref["pitch_midi"] = iv, p
            elif ns == "key_mode" and "key" not in ref and obs:
                ref["key"] = parse_key_label(str(obs[0].value))
            elif ns == "beat_position" and obs:
                ref["beats_s"] = np.array([o.time for o in obs])
                ref["beat_positions"] = np.array([o.value["position"] for o in obs], dtype=float)
            elif ns == "beat" and "beats_s" not in ref and obs:
                ref["beats_s"] = np.array([o.time for o in obs])
            elif ns == "tempo" and obs:
                ref["tempo_bpm"] = float(obs[0].value)
        yield Item(jf.stem, audio[0], None, ref)
