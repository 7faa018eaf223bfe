"""Real scores for the training corpus's ``score`` items: Bach from music21's corpus.

An excerpt of a Bach chorale or other Bach work, transposed, at a random tempo, on a random
ensemble, with its key (from the key signature and the final bass note) and beats (from the
measures). music21 is optional: :func:`music21_available` tells whether it is installed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pretty_midi

from workstation.training.corpus_compose import _ENSEMBLES, Track, _Score
from workstation.training.corpus_spec import CorpusError

_M21_PATHS: list[str] | None = None


def music21_available() -> bool:
    try:
        import music21  # noqa: F401
    except ImportError:
        return False
    return True


def _m21_paths() -> list[str]:
    global _M21_PATHS
    if _M21_PATHS is None:
        from music21 import corpus as m21corpus

        root = Path(m21corpus.__file__).resolve().parent
        _M21_PATHS = sorted(str(Path(p).resolve().relative_to(root)) for p in m21corpus.getComposer("bach")
                            if str(p).endswith((".mxl", ".xml", ".musicxml")))
    return _M21_PATHS


def _score_key(score) -> tuple[int, str]:
    """Key from the key signature, major or relative minor chosen by the final bass note
    (chorales end on the tonic); music21's key analysis where that does not decide."""
    from music21 import key as m21key

    sigs = list(score.recurse().getElementsByClass(m21key.KeySignature))
    parts = list(score.parts)
    last = list(parts[-1].recurse().notes) if parts else []
    if sigs and last:
        bass = last[-1]
        final_pc = min(bass.pitches, key=lambda q: q.midi).pitchClass if bass.isChord else bass.pitch.pitchClass
        ks = sigs[0]
        for mode in ("major", "minor"):
            if ks.asKey(mode).tonic.pitchClass == final_pc:
                return int(final_pc), mode
    k = score.analyze("key")
    return int(k.tonic.pitchClass), str(k.mode) if k.mode in ("major", "minor") else "major"


def _compose_score(rng: np.random.Generator, duration_s: float) -> _Score:
    """An excerpt of a Bach work from music21's corpus on a random ensemble."""
    from music21 import corpus as m21corpus
    from music21 import meter as m21meter

    paths = _m21_paths()
    start_idx = int(rng.integers(len(paths)))
    tempo_q = float(np.round(rng.uniform(56.0, 110.0)))
    transpose = int(rng.integers(-4, 5))
    ens_names = sorted(_ENSEMBLES)
    ensemble = ens_names[int(rng.integers(len(ens_names)))]
    u_start = float(rng.random())
    prog_draws = rng.random(8)
    for attempt in range(20):
        rel = paths[(start_idx + attempt) % len(paths)]
        score = m21corpus.parse(rel)
        parts = list(score.parts)[:4]
        if len(parts) >= 2 and all(len(p.recurse().notes) for p in parts):
            break
    else:  # pragma: no cover - the corpus has plenty of 4-part works
        raise CorpusError(f"no usable score near music21 corpus item {paths[start_idx]}")
    sec_per_q = 60.0 / tempo_q
    tonic, mode = _score_key(score)
    # beats from the measures of the first part (pickup bars count from the end of the bar)
    beats_q, pos, bars = [], [], []
    ts = None
    for mi, m in enumerate(parts[0].getElementsByClass("Measure")):
        ts = m.timeSignature or ts or m21meter.TimeSignature("4/4")
        bar_q = float(ts.barDuration.quarterLength)
        beat_q = float(ts.beatDuration.quarterLength)
        dur = float(m.duration.quarterLength)
        pad = bar_q - dur if mi == 0 and dur < bar_q - 1e-6 else 0.0
        for k in range(int(ts.beatCount)):
            qpos = float(m.offset) + k * beat_q - pad
            if float(m.offset) - 1e-6 <= qpos < float(m.offset) + dur - 1e-6:
                beats_q.append(qpos)
                pos.append(k + 1)
                bars.append(mi + 1)  # bars counted from the first (pickup) bar of the work
    ts = ts or m21meter.TimeSignature("4/4")
    meter = int(ts.beatCount)
    beat_q = float(ts.beatDuration.quarterLength)
    beats_q = np.asarray(beats_q)
    total_q = float(score.highestTime)
    # excerpt start on a beat so that the excerpt fits (or from 0 for short works)
    max_start_q = max(0.0, total_q - (duration_s - 0.5) / sec_per_q)
    cands = beats_q[beats_q <= max_start_q] if len(beats_q) else np.zeros(1)
    start_q = float(cands[int(u_start * len(cands))]) if len(cands) else 0.0
    t0 = start_q * sec_per_q
    end_s = duration_s - 0.3
    tracks = []
    roles = ("melody", "alto", "tenor", "bass")
    for vi, part in enumerate(parts):
        choices = _ENSEMBLES[ensemble][min(vi, 3)]
        program = int(choices[int(prog_draws[vi] * len(choices))])
        on, off, pitch = [], [], []
        for n in part.stripTies().flatten().notes:
            ql = float(n.quarterLength)
            if ql <= 0:
                continue  # grace notes
            a = float(n.offset) * sec_per_q - t0
            b = a + ql * sec_per_q * 0.97
            if b <= 0.02 or a >= end_s - 0.05:
                continue
            for q in n.pitches:
                on.append(max(a, 0.0))
                off.append(min(b, end_s))
                pitch.append(int(q.midi) + transpose)
        order = np.lexsort((np.asarray(pitch), np.asarray(on))) if on else np.zeros(0, int)
        tracks.append(Track(name=pretty_midi.program_to_instrument_name(program), role=roles[min(vi, 3)],
                            program=program, is_drum=False, onsets_s=np.asarray(on, dtype=np.float64)[order],
                            offsets_s=np.asarray(off, dtype=np.float64)[order],
                            pitch_midi=np.asarray(pitch, dtype=np.int64)[order],
                            velocity=np.full(len(on), 80, dtype=np.int64)))
    bt = beats_q * sec_per_q - t0
    keep = (bt >= -1e-9) & (bt < duration_s)
    return _Score(tracks=tracks, melody_index=0, duration_s=duration_s, tonic_pc=(tonic + transpose) % 12,
                  mode=mode, tempo_bpm=tempo_q / beat_q, meter=meter, beat_times_s=np.maximum(bt[keep], 0.0),
                  beat_positions=np.asarray(pos, dtype=np.int64)[keep],
                  beat_measures=np.asarray(bars, dtype=np.int64)[keep], style="chorale" if len(parts) == 4 else "baroque",
                  genre="Classical", source=f"music21:{rel} transpose={transpose:+d} ensemble={ensemble}")
