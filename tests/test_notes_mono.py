"""Monophonic notes from the f0 track (``notes`` method ``f0``): known answers on a made-up
pitch track (vibrato and a scoop stay inside a note, a step to another note splits it, a
short unvoiced gap is bridged, a rest separates a repeated note, a blip is dropped), the
same through the pipeline with CREPE on sung-like tones, and the sung-notes figure on the
development set beside basic-pitch's. The default ``auto`` method's test of monophony
(``foreign_note_share``) on made-up posteriorgrams, on tones through the pipeline (a sung
line is read one note at a time, chords are not), and its choice on the development set; its
reading in passages (``monophonic_passages``: a solo intro before chords) and the merge of the
two methods' notes by passage, on made-up posteriorgrams and through the pipeline."""

from __future__ import annotations

from pathlib import Path

import mir_eval
import numpy as np
import pytest

from synth_tones import SR, render
from workstation.analysis.analyzers.notes_mono import (PASSAGE_S, foreign_note_share, merge_passages,
                                                       monophonic_passages, notes_from_pitch_track,
                                                       reads_as_monophonic)
from workstation.analysis.base import get_analyzer
from workstation.analysis.jobs import AnalyzerSpec
from workstation.analysis.pipeline import analyze_array
from workstation.core import constants as C
from workstation.core.types import Notes, PitchTrack, Salience
from workstation.core.units import midi_to_hz

FRAME_S = C.HOP_LENGTH / C.SAMPLE_RATE


def _track(segments, total_s: float) -> PitchTrack:
    """A PitchTrack from (start_s, end_s, midi(t) callable) segments; unvoiced elsewhere."""
    t = np.arange(int(total_s / FRAME_S)) * FRAME_S
    midi = np.zeros_like(t)
    voiced = np.zeros(len(t), bool)
    for a, b, fn in segments:
        m = (t >= a) & (t < b)
        midi[m], voiced[m] = fn(t[m] - a), True
    return PitchTrack(times_s=t, freqs_hz=np.where(voiced, midi_to_hz(midi), 0.0).astype(np.float32),
                      voiced=voiced, confidence=np.where(voiced, 0.9, 0.1).astype(np.float32))


def test_known_answer_on_a_pitch_track():
    vib = lambda t: 60 + 0.35 * np.sin(2 * np.pi * 5.5 * t)               # noqa: E731  +-35 cents
    scoop = lambda t: 62 - 0.8 * np.exp(-t / 0.03)                          # noqa: E731  up into D4
    f0 = _track([(0.2, 0.8, vib), (0.8, 1.2, scoop), (1.2, 1.22, lambda t: 0 * t + 62),  # 1.2-1.24: a gap
                 (1.24, 1.5, lambda t: 0 * t + 62),
                 (1.8, 2.3, lambda t: 0 * t + 62),                          # after a rest: repeated
                 (2.6, 2.64, lambda t: 0 * t + 70)], 3.0)                   # a 40-ms blip
    f0.voiced[(f0.times_s >= 1.22) & (f0.times_s < 1.24)] = False
    n = notes_from_pitch_track(f0)
    assert n.pitch_midi.tolist() == [60, 62, 62]
    np.testing.assert_allclose(n.onsets_s, [0.2, 0.8, 1.8], atol=2 * FRAME_S)
    np.testing.assert_allclose(n.offsets_s, [0.8, 1.5, 2.3], atol=2 * FRAME_S)
    assert np.allclose(n.confidence[[0, 2]], 0.9) and 0.85 < n.confidence[1] < 0.9  # the gap's 0.1 counts
    assert n.velocity.tolist() == np.round(127 * n.confidence).astype(int).tolist()
    bend = n.bend_cents[n.bend_note == 0]
    assert 25 < bend.max() <= 36 and -36 <= bend.min() < -25              # the vibrato, in cents
    assert len(notes_from_pitch_track(_track([], 1.0))) == 0


def test_method_f0_requires_the_f0_track_and_runs_in_the_pipeline():
    notes = get_analyzer("notes", method="f0")
    assert notes.requires == ("pitch.f0",) and get_analyzer("notes", method="salience").requires == ("pitch.salience",)
    assert get_analyzer("notes").requires == ("pitch.f0", "pitch.salience")     # auto, the default
    with pytest.raises(ValueError, match="method"):
        get_analyzer("notes", method="chords")
    ref = [(0.3, 0.9, 64), (0.9, 1.5, 67), (1.8, 2.4, 67), (2.4, 3.0, 62)]
    x = render(ref, 3.4, vibrato_cents=30, vibrato_hz=5.5, ramp_s=0.005)
    out = analyze_array(x, [get_analyzer("pitch.f0"), notes])
    assert not out.errors, out.errors
    est = out.results["notes"]
    assert est.pitch_midi.tolist() == [64, 67, 67, 62] and est.method == "f0"
    ri = np.array([[a, b] for a, b, _ in ref])
    f = mir_eval.transcription.precision_recall_f1_overlap(
        ri, midi_to_hz(np.array([p for *_, p in ref])), np.stack([est.onsets_s, est.offsets_s], 1),
        midi_to_hz(est.pitch_midi))[2]
    assert f == 1.0                                            # onsets and offsets within tolerance
    assert len(x) / SR == pytest.approx(3.4)


def test_cli_method_adds_the_analyzer_it_requires():
    from workstation.cli.main import _specs, _with_methods
    specs = _with_methods([AnalyzerSpec("pitch.salience"), AnalyzerSpec("notes")], ["notes=f0"])
    assert [s.id for s in specs] == ["pitch.salience", "pitch.f0", "notes"]
    assert [s.id for s in _specs("notes")] == ["pitch.f0", "pitch.salience", "notes"]  # auto needs both
    assert specs[-1] == AnalyzerSpec("notes", (("method", "f0"),))


def _posteriorgram(keys_per_frame, n_frames: int, f0_midi) -> tuple[PitchTrack, Salience]:
    """An f0 track at ``f0_midi`` (0 = none) and a note posteriorgram [shape=(88, n_frames)]
    with 0.9 at the MIDI keys of ``keys_per_frame`` (a list of keys for every frame)."""
    t = np.arange(n_frames) * FRAME_S
    nv = np.zeros((88, n_frames), np.float32)
    for k in keys_per_frame:
        nv[k - 21] = 0.9
    hz = np.where(np.asarray(f0_midi) > 0, midi_to_hz(np.asarray(f0_midi, float)), 0.0)
    f0 = PitchTrack(times_s=t, freqs_hz=hz, voiced=hz > 0, confidence=np.full(n_frames, 0.9))
    sal = Salience(times_s=t, freqs_hz=np.zeros(0), values=np.zeros((0, n_frames)), method="basic-pitch",
                   note_values=nv, onset_values=np.zeros_like(nv))
    return f0, sal


def is_monophonic(f0: PitchTrack, sal: Salience) -> bool:
    """The per-track rule of ``auto``."""
    return reads_as_monophonic(foreign_note_share(f0, sal))


def test_foreign_note_share_known_answers():
    n = int(2.0 / FRAME_S)                                     # 2 s of frames
    # a line at A4 heard with its octave and twelfth, 20 cents off: nothing foreign
    f0, sal = _posteriorgram([69, 81, 88], n, np.full(n, 69.2))
    assert foreign_note_share(f0, sal) == (0.0, pytest.approx(n * FRAME_S), 1.0) and is_monophonic(f0, sal)
    # a major third beside it in a quarter of the frames: foreign there
    sal.note_values[73 - 21, : n // 4] = 0.9
    assert foreign_note_share(f0, sal)[0] == pytest.approx(0.25, abs=1 / n) and not is_monophonic(f0, sal)
    # notes where the f0 track has no pitch at all are foreign too
    f0, sal = _posteriorgram([60], n, np.where(np.arange(n) < n // 2, 60, 0))
    assert foreign_note_share(f0, sal)[0] == pytest.approx(0.5, abs=1 / n)
    # under a second of notes: too little to decide on, so not monophonic
    f0, sal = _posteriorgram([60], int(0.5 / FRAME_S), np.full(int(0.5 / FRAME_S), 60))
    assert foreign_note_share(f0, sal)[0] == 0.0 and not is_monophonic(f0, sal)
    # 2 s of a clean line in 30 s (under a tenth of the frames): the same
    f0, sal = _posteriorgram([60], int(30 / FRAME_S), np.full(int(30 / FRAME_S), 60))
    sal.note_values[:, int(2 / FRAME_S):] = 0.0
    assert foreign_note_share(f0, sal)[2] == pytest.approx(2 / 30, abs=0.001) and not is_monophonic(f0, sal)
    # a salience without a note posteriorgram (DSP, learned): no answer, so not monophonic
    sal.note_values = np.zeros((0, 0), np.float32)
    assert foreign_note_share(f0, sal) is None and not is_monophonic(f0, sal)


def test_auto_reads_a_sung_line_one_note_at_a_time_and_chords_as_chords():
    line = [(0.3, 0.9, 64), (0.9, 1.5, 67), (1.8, 2.4, 67), (2.4, 3.0, 62)]
    chords = [(a, b, p + d) for a, b, p in line for d in (0, 4, 7)]        # each note a major triad
    specs = [get_analyzer("pitch.f0"), get_analyzer("pitch.salience"), get_analyzer("notes")]
    sung = analyze_array(render(line, 3.4, vibrato_cents=30, vibrato_hz=5.5, ramp_s=0.005), specs)
    assert not sung.errors and sung.results["notes"].method == "f0"
    assert sung.results["notes"].pitch_midi.tolist() == [64, 67, 67, 62]
    poly = analyze_array(render(chords, 3.4), specs)
    assert not poly.errors and poly.results["notes"].method == "salience"
    assert {64, 68, 71, 67, 62, 66, 69} <= set(poly.results["notes"].pitch_midi.tolist())


def test_passages_known_answers():
    n = int(25.0 / FRAME_S)                                    # 25 s: blocks 0-10, 10-20, 20-25 s
    t = np.arange(n) * FRAME_S
    # a clean line for 12 s, then chords (a major third beside the line) to the end
    f0, sal = _posteriorgram([60], n, np.full(n, 60))
    sal.note_values[64 - 21, t >= 12.0] = 0.9
    got = monophonic_passages(f0, sal)
    assert [(m, round(a, 1)) for a, _, m in got] == [(True, 0.0), (False, PASSAGE_S)]
    assert got[-1][1] == pytest.approx(n * FRAME_S)
    # a block is read more strictly than a track: a third in 8 % of the first block's frames
    # (monophonic by the track rule) or notes in a fifth of them (2 s of 10) leave it polyphonic
    third = sal.note_values[64 - 21].copy()
    sal.note_values[64 - 21, t < 0.8] = 0.9
    assert [m for *_, m in monophonic_passages(f0, sal)] == [False]
    sal.note_values[64 - 21] = third
    sal.note_values[60 - 21, (t >= 2.0) & (t < 10.0)] = 0.0
    assert [m for *_, m in monophonic_passages(f0, sal)] == [False]
    sal.note_values[60 - 21] = 0.9
    # silence from 10 to 20 s (nothing to decide on) takes the reading before it
    sal.note_values[:, (t >= 10.0) & (t < 20.0)] = 0.0
    assert [m for *_, m in monophonic_passages(f0, sal)] == [True, False]
    # the chords from the start of the track: one polyphonic passage, as the whole track is read
    sal.note_values[64 - 21] = 0.9
    assert monophonic_passages(f0, sal) == [(0.0, pytest.approx(n * FRAME_S), False)]
    # a track monophonic as a whole is one monophonic passage, even where one block is not
    f0, sal = _posteriorgram([60], n, np.full(n, 60))
    sal.note_values[64 - 21, (t >= 20.0) & (t < 21.0)] = 0.9   # 1 s of a third in the last 5 s
    assert is_monophonic(f0, sal) and [m for *_, m in monophonic_passages(f0, sal)] == [True]
    # too little sound in the whole track, or no note posteriorgram: polyphonic, as before
    sal.note_values[:, t >= 1.0] = 0.0
    assert [m for *_, m in monophonic_passages(f0, sal)] == [False]
    sal.note_values = np.zeros((0, 0), np.float32)
    assert [m for *_, m in monophonic_passages(f0, sal)] == [False]


def _notes(onsets, pitch, method):
    on = np.asarray(onsets, float)
    return Notes(onsets_s=on, offsets_s=on + 0.5, pitch_midi=np.asarray(pitch), velocity=np.full(len(on), 80),
                 confidence=np.full(len(on), 0.5), bend_note=np.arange(len(on)), bend_times_s=on + 0.1,
                 bend_cents=np.asarray(pitch, float), method=method)


def test_merge_keeps_each_methods_notes_in_its_passages():
    mono = _notes([1.0, 4.0, 6.0], [60, 62, 64], "f0")
    poly = _notes([0.5, 2.0, 3.5, 5.5, 7.0, 7.0], [48, 52, 50, 55, 59, 62], "salience")
    passages = [(0.0, 3.0, True), (3.0, 5.0, False), (5.0, 9.0, True)]
    got = merge_passages(mono, poly, passages)
    assert got.method == "f0+salience"
    assert got.onsets_s.tolist() == [1.0, 3.5, 6.0] and got.pitch_midi.tolist() == [60, 50, 64]
    passages = [(0.0, 3.0, False), (3.0, 5.0, True), (5.0, 9.0, False)]
    got = merge_passages(mono, poly, passages)
    assert got.onsets_s.tolist() == [0.5, 2.0, 4.0, 5.5, 7.0, 7.0]
    assert got.pitch_midi.tolist() == [48, 52, 62, 55, 59, 62]
    # each bend stays with its note (its cents were set to the note's pitch above)
    assert got.bend_cents.tolist() == got.pitch_midi[got.bend_note].astype(float).tolist()
    # a note that sounds on into the next note of its pitch (across a border) ends where it starts
    poly = _notes([2.95, 2.95], [57, 62], "salience")
    poly.offsets_s[1] = 4.0                                    # the salience's D sounds on to 4 s
    mono = _notes([3.2, 3.7], [60, 62], "f0")
    got = merge_passages(mono, poly, [(0.0, 3.0, False), (3.0, 9.0, True)])
    assert got.onsets_s.tolist() == [2.95, 2.95, 3.2, 3.7] and got.pitch_midi.tolist() == [57, 62, 60, 62]
    assert got.offsets_s.tolist() == [3.45, 3.7, 3.7, 4.2]
    assert got.bend_note.tolist() == [0, 1, 2, 3]              # its bend at 3.05 s stays, ...
    mono.onsets_s[1] = 3.02                                    # ... unless its note now ends first
    assert merge_passages(mono, poly, [(0.0, 3.0, False), (3.0, 9.0, True)]).bend_note.tolist() == [0, 2, 3]
    assert merge_passages(mono, poly, [(0.0, 9.0, True)]) is mono
    assert merge_passages(mono, poly, [(0.0, 9.0, False)]) is poly


def test_auto_reads_a_solo_intro_one_note_at_a_time_and_the_chords_after_it_as_chords():
    line = [(0.3 + 0.6 * i, 0.8 + 0.6 * i, p) for i, p in enumerate([64, 67, 69, 67, 64, 62, 60, 62,
                                                                       64, 67, 69, 67, 64, 62, 60, 62])]
    chords = [(10.3 + a, 10.3 + b, p + d) for a, b, p in line for d in (0, 4, 7)]
    x = render(line + chords, 20.5, vibrato_cents=30, vibrato_hz=5.5, ramp_s=0.005)
    specs = [get_analyzer("pitch.f0"), get_analyzer("pitch.salience"), get_analyzer("notes")]
    out = analyze_array(x, specs)
    assert not out.errors, out.errors
    n = out.results["notes"]
    assert n.method == "f0+salience"
    solo = n.onsets_s < PASSAGE_S
    assert n.pitch_midi[solo].tolist() == [p for a, _, p in line if a < PASSAGE_S]     # one at a time
    assert {66, 68, 71, 73, 74, 76} <= set(n.pitch_midi[~solo].tolist())               # the chords' thirds, fifths


def test_default_notes_choose_by_track_and_beat_basic_pitch_on_sung_notes(evaldata: Path):
    """The default (auto) reads every sung file of the development set (sight-singing, vocadito)
    one note at a time and every piano file as polyphony; on the sung notes its onset and
    onset-offset F1 are above basic-pitch 0.4's own notes (0.508 / 0.359 in the README's
    table); measured 0.608 / 0.553 when written."""
    from workstation.training import evaldata as ed
    specs = lambda: [get_analyzer("pitch.f0"), get_analyzer("pitch.salience"), get_analyzer("notes")]  # noqa: E731
    piano = [analyze_array(ed.load_audio(it), specs()).results["notes"].method for it in ed.piano_notes(evaldata)]
    assert piano and set(piano) == {"salience"}, piano
    scores = []
    for it in ed.sung_notes(evaldata):
        if "intervals_s" not in it.ref:
            continue
        n = analyze_array(ed.load_audio(it), specs()).results["notes"]
        assert n.method == "f0", it.name
        ref, est = it.ref["intervals_s"], np.stack([n.onsets_s, n.offsets_s], 1)
        rp, ep = midi_to_hz(it.ref["pitch_midi"]), midi_to_hz(n.pitch_midi)
        scores.append((mir_eval.transcription.precision_recall_f1_overlap(ref, rp, est, ep, offset_ratio=None)[2],
                       mir_eval.transcription.precision_recall_f1_overlap(ref, rp, est, ep)[2]))
    if not scores:
        pytest.skip("no sung notes in the evaluation data")
    on, onoff = np.mean(scores, axis=0)
    assert on > 0.508 and onoff > 0.359, (on, onoff)


def test_cli_summary_says_a_solo_line_was_read_one_note_at_a_time(tmp_path: Path, capsys):
    import soundfile as sf

    from workstation.cli.main import main
    line = [(0.3, 0.9, 64), (0.9, 1.5, 67), (1.8, 2.4, 67), (2.4, 3.0, 62)]
    sf.write(tmp_path / "solo.wav", render(line, 3.4, vibrato_cents=30, vibrato_hz=5.5, ramp_s=0.005), SR)
    assert main(["--library", str(tmp_path / "lib"), "analyze", str(tmp_path / "solo.wav"),
                 "--analyzers", "notes", "--device", "cpu"]) == 0
    row = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("solo.wav")]
    assert row and " 4 (f0) " in row[0], row


def test_cli_summary_says_a_track_was_read_in_passages(tmp_path: Path, capsys):
    import soundfile as sf

    from workstation.cli.main import main
    line = [(0.3 + 0.6 * i, 0.8 + 0.6 * i, p) for i, p in enumerate([64, 67, 69, 67, 64, 62, 60, 62] * 2)]
    chords = [(10.3 + a, 10.3 + b, p + d) for a, b, p in line for d in (0, 4, 7)]
    sf.write(tmp_path / "intro.wav", render(line + chords, 20.5, vibrato_cents=30, vibrato_hz=5.5, ramp_s=0.005), SR)
    assert main(["--library", str(tmp_path / "lib"), "analyze", str(tmp_path / "intro.wav"),
                 "--analyzers", "notes", "--device", "cpu"]) == 0
    row = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("intro.wav")]
    assert row and " (f0+salience) " in row[0], row
