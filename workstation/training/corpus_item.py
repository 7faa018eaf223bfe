"""One item of the training corpus: :class:`CorpusItem`, its labels, and ``make_item``.

``make_item(seed, spec)`` composes, renders, mixes, augments and labels one item, a pure
function of its arguments (FluidSynth output may differ in tiny ways; the labels are exact).
A :class:`CorpusItem` holds the audio and every label as flat arrays (saved as ``.npz``, no
pickles) with views as core types; :func:`pitch_roll` builds the multi-hot salience target
[shape=(n_bins, n_frames)] on the HCQT grid with the bends.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import zipfile
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from workstation.core import constants as C
from workstation.core.types import Beats, Key, Notes
from workstation.core.units import midi_to_hz, pitch_class_name
from workstation.training import demo_piece, demo_render
from workstation.training.augment import Augmentation, apply_augmentation, draw_augmentation
from workstation.training.corpus_compose import (_BENDY, _SUSTAINED, _beat_grid, _bend_at, _compose_band,
                                                 _compose_line, _drum_track, _dynamics, _express,
                                                 _Score, gm_family)
from workstation.training.corpus_render import _soundfont_for, render_track
from workstation.training.corpus_scores import _compose_score, music21_available
from workstation.training.corpus_spec import CorpusError, CorpusSpec

log = logging.getLogger(__name__)

_ARRAY_FIELDS = ("audio", "melody_f0_hz", "melody_voiced", "note_onset_s", "note_offset_s", "note_pitch_midi",
                 "note_velocity", "note_track", "track_program", "track_is_drum", "bend_track", "bend_times_s",
                 "bend_semitones", "beats_s", "beat_positions", "beat_measures", "chord_start_s", "chord_end_s",
                 "chord_root_pc")
_STR_LIST_FIELDS = ("track_name", "track_role", "track_family", "chord_quality")
_SCALAR_FIELDS = ("seed", "index", "kind", "sr", "hop_length", "duration_s", "melody_track", "tonic_pc", "mode",
                  "tempo_bpm", "meter", "style", "genre", "soundfont", "source", "spec_hash")


@dataclass
class CorpusItem:
    """One rendered item and its labels.

    audio [shape=(n_samples,), float32] at ``sr``; melody_f0_hz [shape=(n_frames,), float32]
    (0 where unvoiced), melody_voiced [shape=(n_frames,), bool] on frames centred at
    ``i * hop_length / sr``. Notes (all tracks, drums included) as flat arrays
    note_onset_s, note_offset_s [shape=(n_notes,)] s, note_pitch_midi, note_velocity,
    note_track [int] (index into the track_* arrays). Tracks: track_name, track_role
    ('melody', 'chords', 'bass', 'drums', 'alto', ...), track_family (GM family or 'Drums'),
    track_program [int, 0-based GM], track_is_drum [bool]. Pitch bends: bend_track [int],
    bend_times_s, bend_semitones (held until the next event of the same track).
    Key: tonic_pc 0..11, mode; beats_s, beat_positions (1 = downbeat), beat_measures
    (1-based bar); tempo_bpm (beats per minute), meter (beats per bar); chords (procedural
    items): chord_start_s, chord_end_s, chord_root_pc, chord_quality. ``augment``: the drawn
    augmentation (dict).
    """

    seed: int
    index: int
    kind: str
    sr: int
    hop_length: int
    duration_s: float
    audio: np.ndarray
    melody_f0_hz: np.ndarray
    melody_voiced: np.ndarray
    melody_track: int
    note_onset_s: np.ndarray
    note_offset_s: np.ndarray
    note_pitch_midi: np.ndarray
    note_velocity: np.ndarray
    note_track: np.ndarray
    track_name: list
    track_role: list
    track_family: list
    track_program: np.ndarray
    track_is_drum: np.ndarray
    bend_track: np.ndarray
    bend_times_s: np.ndarray
    bend_semitones: np.ndarray
    tonic_pc: int
    mode: str
    tempo_bpm: float
    meter: int
    beats_s: np.ndarray
    beat_positions: np.ndarray
    beat_measures: np.ndarray
    chord_start_s: np.ndarray
    chord_end_s: np.ndarray
    chord_root_pc: np.ndarray
    chord_quality: list
    style: str
    genre: str
    soundfont: str
    source: str
    augment: dict
    spec_hash: str = ""

    # -- derived views ------------------------------------------------------------------------

    @property
    def n_frames(self) -> int:
        return C.n_frames_for(len(self.audio), hop_length=self.hop_length)

    def frame_times(self) -> np.ndarray:
        """Frame centre times in seconds [shape=(n_frames,)]."""
        return np.arange(self.n_frames) * self.hop_length / self.sr

    @property
    def downbeats_s(self) -> np.ndarray:
        return self.beats_s[self.beat_positions == 1]

    @property
    def instruments(self) -> list[dict]:
        return [dict(name=n, role=r, family=f, program=int(p), is_drum=bool(d))
                for n, r, f, p, d in zip(self.track_name, self.track_role, self.track_family,
                                         self.track_program, self.track_is_drum)]

    def bend_at(self, track: int, times_s) -> np.ndarray:
        """Bend in semitones of ``track`` at ``times_s``."""
        sel = self.bend_track == track
        return _bend_at(self.bend_times_s[sel], self.bend_semitones[sel], times_s)

    def notes(self, track: int | None = None, *, pitched_only: bool = True) -> Notes:
        """The notes of one track (or all pitched tracks) as core :class:`Notes` (bends in cents)."""
        sel = np.ones(len(self.note_onset_s), bool) if track is None else self.note_track == track
        if pitched_only:
            sel &= ~self.track_is_drum[self.note_track]
        idx = np.flatnonzero(sel)
        order = idx[np.lexsort((self.note_pitch_midi[idx], self.note_onset_s[idx]))]
        bn, bt, bc = [], [], []
        for j, i in enumerate(order):
            k = self.note_track[i]
            m = (self.bend_track == k) & (self.bend_times_s >= self.note_onset_s[i]) & \
                (self.bend_times_s < self.note_offset_s[i])
            bn += [j] * int(m.sum())
            bt += list(self.bend_times_s[m])
            bc += list(self.bend_semitones[m] * 100.0)
        return Notes(onsets_s=self.note_onset_s[order], offsets_s=self.note_offset_s[order],
                     pitch_midi=self.note_pitch_midi[order], velocity=self.note_velocity[order],
                     confidence=np.ones(len(order)), bend_note=np.asarray(bn, dtype=np.int64),
                     bend_times_s=np.asarray(bt, dtype=np.float64), bend_cents=np.asarray(bc, dtype=np.float64))

    def key(self) -> Key:
        return Key(tonic_pc=int(self.tonic_pc), mode=self.mode, confidence=1.0,
                   local_start_s=np.array([0.0]), local_end_s=np.array([self.duration_s]),
                   local_tonic_pc=np.array([int(self.tonic_pc)]), local_mode=[self.mode],
                   local_confidence=np.array([1.0]))

    def beats(self) -> Beats:
        return Beats(times_s=self.beats_s.copy(), positions=self.beat_positions.copy(),
                     tempo_bpm=float(self.tempo_bpm), tempo_confidence=1.0, meter=int(self.meter),
                     tempo_alternatives_bpm=np.array([self.tempo_bpm / 2, self.tempo_bpm * 2]))

    def pitch_roll(self, **kwargs) -> np.ndarray:
        """See :func:`pitch_roll`."""
        return pitch_roll(self, **kwargs)

    def multif0(self) -> tuple[np.ndarray, list[np.ndarray]]:
        """All sounding pitched notes per frame in Hz, bends included (mir_eval multipitch format)."""
        times = self.frame_times()
        per: list[list[float]] = [[] for _ in times]
        for t_i, frames, pitch in _note_frames(self):
            for k, p in zip(frames, pitch):
                per[k].append(float(midi_to_hz(p)))
        return times, [np.asarray(sorted(f)) for f in per]

    def label_fingerprint(self) -> str:
        """sha256 of every label (audio excluded): equal for equal compositions."""
        h = hashlib.sha256()
        arrays = self.to_arrays()
        for k in sorted(arrays):
            if k in ("audio",):
                continue
            a = np.ascontiguousarray(arrays[k])
            h.update(k.encode() + str(a.dtype).encode() + str(a.shape).encode() + a.tobytes())
        return h.hexdigest()

    # -- serialisation ------------------------------------------------------------------------

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Flat numpy arrays (no objects): audio as int16 (peak < 1), strings as unicode arrays."""
        out: dict[str, np.ndarray] = {}
        for f in _ARRAY_FIELDS:
            out[f] = np.asarray(getattr(self, f))
        out["audio"] = np.clip(np.rint(np.asarray(self.audio, np.float64) * 32767.0), -32768, 32767).astype(np.int16)
        for f in _STR_LIST_FIELDS:
            out[f] = np.asarray([str(x) for x in getattr(self, f)], dtype=str)
        for f in _SCALAR_FIELDS:
            out[f] = np.asarray(getattr(self, f))
        out["augment_json"] = np.asarray(json.dumps(self.augment, sort_keys=True))
        out["summary_json"] = np.asarray(json.dumps(self.summary(), sort_keys=True))
        return out

    @classmethod
    def from_arrays(cls, a: Mapping[str, np.ndarray]) -> "CorpusItem":
        kw: dict = {}
        for f in _ARRAY_FIELDS:
            kw[f] = np.asarray(a[f])
        kw["audio"] = np.asarray(a["audio"]).astype(np.float32) / 32767.0
        for f in _STR_LIST_FIELDS:
            kw[f] = [str(x) for x in np.asarray(a[f]).tolist()]
        for f in _SCALAR_FIELDS:
            kw[f] = np.asarray(a[f]).item()
        kw["augment"] = json.loads(str(np.asarray(a["augment_json"])))
        return cls(**kw)

    def save(self, path: str | os.PathLike) -> None:
        """Write atomically (temp file, fsync, rename) as a compressed ``.npz``."""
        from workstation.core.atomic import atomic_write
        with atomic_write(path, durable=True) as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, **self.to_arrays())

    @classmethod
    def load(cls, path: str | os.PathLike) -> "CorpusItem":
        try:
            with np.load(path, allow_pickle=False) as z:
                return cls.from_arrays(z)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            raise CorpusError(f"{path}: not a readable corpus item ({exc})") from exc

    def summary(self) -> dict:
        """A short JSON-able description (manifest row)."""
        return dict(index=int(self.index), seed=int(self.seed), kind=self.kind, style=self.style,
                    genre=self.genre, key=f"{pitch_class_name(int(self.tonic_pc))}:{self.mode}",
                    tempo_bpm=round(float(self.tempo_bpm), 3), meter=int(self.meter),
                    duration_s=float(self.duration_s), soundfont=self.soundfont,
                    n_notes=int(len(self.note_onset_s)),
                    programs=[int(p) if not d else -1 for p, d in zip(self.track_program, self.track_is_drum)],
                    source=self.source)


def _note_frames(item: CorpusItem):
    """For each pitched note: (track, frame indices, bent pitch in MIDI per frame)."""
    fr = item.sr / item.hop_length
    n = item.n_frames
    times = item.frame_times()
    bend_cache: dict[int, np.ndarray] = {}
    for i in range(len(item.note_onset_s)):
        k = int(item.note_track[i])
        if item.track_is_drum[k]:
            continue
        a = max(int(np.ceil(item.note_onset_s[i] * fr - 1e-9)), 0)
        b = min(int(np.ceil(item.note_offset_s[i] * fr - 1e-9)), n)
        if b <= a:
            continue
        if k not in bend_cache:
            bend_cache[k] = item.bend_at(k, times)
        frames = np.arange(a, b)
        yield k, frames, item.note_pitch_midi[i] + bend_cache[k][a:b]


def pitch_roll(item: CorpusItem, *, bins_per_semitone: int = C.BINS_PER_SEMITONE,
               fmin_midi: float = C.FMIN_MIDI, n_bins: int = C.N_BINS,
               roles: Sequence[str] | None = None) -> np.ndarray:
    """Multi-hot target of every sounding pitched note [shape=(n_bins, n_frames), bool].

    Bin ``k`` is centred on MIDI ``fmin_midi + k / bins_per_semitone`` (defaults: the HCQT grid,
    C1 and 20-cent bins); each note sets the bin nearest its pitch *with the bend in effect* on
    every frame on which it sounds (frame t with onset <= t < offset). Pitches outside the grid
    are dropped. ``roles`` keeps only tracks of those roles (e.g. ('melody',)).
    """
    roll = np.zeros((n_bins, item.n_frames), dtype=bool)
    for k, frames, pitch in _note_frames(item):
        if roles is not None and item.track_role[k] not in roles:
            continue
        b = np.rint((pitch - fmin_midi) * bins_per_semitone).astype(np.int64)
        ok = (b >= 0) & (b < n_bins)
        roll[b[ok], frames[ok]] = True
    return roll


def _draw_kind(rng: np.random.Generator, spec: CorpusSpec) -> str:
    names = [k for k, _ in spec.kinds]
    w = np.asarray([w for _, w in spec.kinds], dtype=np.float64)
    return names[int(rng.choice(len(names), p=w / w.sum()))]


def make_item(seed: int, spec: CorpusSpec = CorpusSpec(), *, index: int = -1) -> CorpusItem:
    """Compose, render, augment and label one item; a pure function of (seed, spec).

    Independent random streams (composition, expression, mix, augmentation) come from
    ``seed`` so that a change in one part of the recipe leaves the others' draws alone.
    """
    sr, hop = spec.sr, spec.hop_length
    top = np.random.default_rng([seed, 0])
    kind = _draw_kind(top, spec)
    sf_name = spec.soundfonts[int(top.integers(len(spec.soundfonts)))]
    duration = float(np.round(top.uniform(*spec.duration_s), 1))
    u_vib, u_gl, u_bend, u_drums = top.random(4)
    comp = np.random.default_rng([seed, 1])
    if kind == "score" and not music21_available():
        log.warning("music21 is not installed: item %d (seed %d) is a 'poly' item instead of 'score'", index, seed)
        kind = "poly"
    if kind == "mono":
        line, meta = _compose_line(comp, duration, spec.melody_programs)
        bt, bp, bm = _beat_grid(meta["tempo_bpm"], meta["meter"], duration)
        score = _Score(tracks=[line], melody_index=0, duration_s=duration, tonic_pc=meta["tonic_pc"],
                       mode=meta["mode"], tempo_bpm=meta["tempo_bpm"], meter=meta["meter"], beat_times_s=bt,
                       beat_positions=bp, beat_measures=bm, style="solo", genre="Solo", source="line")
        if u_drums < spec.p_mono_drums:
            drums, style, genre = _drum_track(comp, meta["tempo_bpm"], meta["meter"], duration)
            score.tracks.append(drums)
            score.style, score.genre = f"solo+{style}", genre
    elif kind in ("poly", "full"):
        score = _compose_band(comp, duration, drums=kind == "full", programs=spec.melody_programs)
    else:
        score = _compose_score(comp, duration)
    # expression and dynamics
    expr = np.random.default_rng([seed, 2])
    mel = score.tracks[score.melody_index]
    sustained = mel.program in _SUSTAINED
    bendy = mel.program in _BENDY
    bend_range = 12.0 if kind == "mono" else demo_piece.BEND_RANGE_SEMITONES
    score.tracks[score.melody_index] = _express(
        mel, expr, vibrato=bool(u_vib < spec.p_vibrato and sustained),
        glissando=bool(u_gl < spec.p_glissando and (sustained or bendy) and kind != "score"),
        bends=bool(u_bend < spec.p_bends and bendy), bend_range=bend_range)
    score.tracks = [_dynamics(t, expr, duration) for t in score.tracks]
    # render and mix
    n = int(round(duration * sr))
    sf2, _, _ = _soundfont_for(sf_name, sr)
    mix_rng = np.random.default_rng([seed, 3])
    mix = np.zeros(n)
    for t in score.tracks:
        gain_db = {"melody": mix_rng.uniform(0.0, 2.0), "chords": mix_rng.uniform(-12.0, -3.0),
                   "bass": mix_rng.uniform(-10.0, -2.0), "drums": mix_rng.uniform(-12.0, -1.0)}.get(
            t.role, mix_rng.uniform(-5.0, -1.0))
        if not len(t.onsets_s):
            continue
        y = render_track(t, n, sf2=sf2, sr=sr)
        active = np.abs(y) > 1e-4 * (np.abs(y).max() + 1e-12)
        if not active.any():
            log.warning("item %d: track %s (program %d) rendered silent with %s", index, t.name, t.program,
                        sf2.name)
            continue
        mix += y * 10.0 ** (gain_db / 20.0) / float(np.sqrt(np.mean(y[active] ** 2)))
    if not np.any(mix):
        raise demo_render.RenderError(f"item {index} (seed {seed}) rendered silence with {sf2}")
    fade = int(0.05 * sr)
    mix[n - fade:] *= np.linspace(1.0, 0.0, fade)
    aug = draw_augmentation(np.random.default_rng([seed, 4]), spec.augment)
    audio = apply_augmentation(mix, aug, sr=sr)
    return _labels(score, audio, seed=seed, index=index, kind=kind, spec=spec, soundfont=sf2.name, aug=aug)


def _labels(score: _Score, audio: np.ndarray, *, seed: int, index: int, kind: str, spec: CorpusSpec,
            soundfont: str, aug: Augmentation) -> CorpusItem:
    sr, hop = spec.sr, spec.hop_length
    n_frames = C.n_frames_for(len(audio), hop_length=hop)
    times = np.arange(n_frames) * hop / sr
    mel = score.tracks[score.melody_index]
    idx = np.searchsorted(mel.onsets_s, times, side="right") - 1
    safe = np.clip(idx, 0, None)
    voiced = (idx >= 0) & (times < mel.offsets_s[safe]) if len(mel.onsets_s) else np.zeros(n_frames, bool)
    if len(mel.onsets_s) > 1 and np.any(mel.onsets_s[1:] < mel.offsets_s[:-1] - 1e-9):
        # overlapping melody notes (chords in a top voice): the highest sounding pitch is the melody
        f0_midi = np.full(n_frames, -np.inf)
        for i in range(len(mel.onsets_s)):
            sel = (times >= mel.onsets_s[i]) & (times < mel.offsets_s[i])
            f0_midi[sel] = np.maximum(f0_midi[sel], mel.pitch_midi[i])
        voiced = np.isfinite(f0_midi)
        f0_midi = np.where(voiced, f0_midi, 0.0)
    else:
        f0_midi = mel.pitch_midi[safe].astype(np.float64) if len(mel.onsets_s) else np.zeros(n_frames)
    f0 = np.where(voiced, midi_to_hz(f0_midi + mel.bend_at(times)), 0.0).astype(np.float32)
    cat = lambda f, dt: np.concatenate([np.asarray(getattr(t, f), dtype=dt) for t in score.tracks])  # noqa: E731
    note_track = np.concatenate([np.full(len(t.onsets_s), i, dtype=np.int64) for i, t in enumerate(score.tracks)])
    bend_track = np.concatenate([np.full(len(t.bend_times_s), i, dtype=np.int64)
                                 for i, t in enumerate(score.tracks)])
    ch = score.chords
    return CorpusItem(
        seed=int(seed), index=int(index), kind=kind, sr=sr, hop_length=hop, duration_s=float(score.duration_s),
        audio=audio, melody_f0_hz=f0, melody_voiced=voiced.astype(bool), melody_track=int(score.melody_index),
        note_onset_s=cat("onsets_s", np.float64), note_offset_s=cat("offsets_s", np.float64),
        note_pitch_midi=cat("pitch_midi", np.int64), note_velocity=cat("velocity", np.int64), note_track=note_track,
        track_name=[t.name for t in score.tracks], track_role=[t.role for t in score.tracks],
        track_family=[gm_family(t.program, t.is_drum) for t in score.tracks],
        track_program=np.asarray([t.program for t in score.tracks], dtype=np.int64),
        track_is_drum=np.asarray([t.is_drum for t in score.tracks], dtype=bool),
        bend_track=bend_track, bend_times_s=cat("bend_times_s", np.float64),
        bend_semitones=cat("bend_semitones", np.float64),
        tonic_pc=int(score.tonic_pc), mode=score.mode, tempo_bpm=float(score.tempo_bpm), meter=int(score.meter),
        beats_s=np.asarray(score.beat_times_s, np.float64), beat_positions=np.asarray(score.beat_positions, np.int64),
        beat_measures=np.asarray(score.beat_measures, np.int64),
        chord_start_s=np.asarray([c[0] for c in ch], np.float64), chord_end_s=np.asarray([c[1] for c in ch], np.float64),
        chord_root_pc=np.asarray([c[2] for c in ch], np.int64), chord_quality=[c[3] for c in ch],
        style=score.style, genre=score.genre, soundfont=soundfont, source=score.source, augment=aug.as_dict(),
        spec_hash=spec.spec_hash())
