"""MIDI written for notation (issue: MuseScore showed an empty first bar at 15,504 BPM, a tempo
text on almost every beat, 8 staves of "Grand Piano" and no key signature; reading the file
back gave the fake pickup beats)."""

from __future__ import annotations

import mido
import numpy as np
import pytest

from workstation.core.types import Beats, Key, Notes
from workstation.export import read_midi, read_midi_beats, write_midi


def _beats(first_s: float, n: int = 40, ibi: float = 0.5, jitter_s: float = 0.008,
           first_position: int = 1, meter: int = 4) -> Beats:
    rng = np.random.default_rng(3)
    t = first_s + ibi * np.arange(n) + rng.normal(0.0, jitter_s, n)
    t[0] = first_s
    pos = (np.arange(n) + first_position - 1) % meter + 1
    return Beats(times_s=t, positions=pos, tempo_bpm=60.0 / ibi, meter=meter)


def _notes_with_bends() -> Notes:
    on = np.arange(0.02, 22.0, 0.25)     # past the last beat (a MIDI file ends with its last event)
    return Notes(onsets_s=on, offsets_s=on + 0.6, pitch_midi=60 + (np.arange(len(on)) * 5) % 19,
                 velocity=np.full(len(on), 90), bend_note=np.arange(0, len(on), 3),
                 bend_times_s=on[::3] + 0.1, bend_cents=np.full(len(on[::3]), 30.0))


def _meta(path):
    mf = mido.MidiFile(path)
    tempos = [(t, 60e6 / m.tempo) for t, m in _abs(mf) if m.type == "set_tempo"]
    sigs = [(m.numerator, m.denominator) for _, m in _abs(mf) if m.type == "time_signature"]
    keys = [m.key for _, m in _abs(mf) if m.type == "key_signature"]
    note_tracks = [tr for tr in mf.tracks if any(m.type == "note_on" for m in tr)]
    bends = [m for tr in mf.tracks for m in tr if m.type == "pitchwheel"]
    names = [m.name for tr in note_tracks for m in tr if m.type == "track_name"]
    return tempos, sigs, keys, note_tracks, bends, names


def _abs(mf):
    for tr in mf.tracks:
        tick = 0
        for m in tr:
            tick += m.time
            yield tick, m


@pytest.mark.parametrize("first_s, first_position, want_sigs", [
    (0.0116, 3, [(2, 4), (4, 4)]),   # 11.6 ms before the first beat, which is beat 3 of its bar
    (1.3, 1, [(3, 4), (4, 4)]),      # 1.3 s (2.6 beats) of intro before a downbeat
    (0.5, 1, [(1, 4), (4, 4)]),
])
def test_notation_tempo_map_pickup_and_bars(tmp_path, first_s, first_position, want_sigs):
    beats = _beats(first_s, first_position=first_position)
    notes = _notes_with_bends()
    path = write_midi(tmp_path / "n.mid", notes, beats=beats, key=Key(tonic_pc=7, mode="major", confidence=0.9))
    tempos, sigs, keys, note_tracks, bends, names = _meta(path)
    # no absurd tempo: the pickup runs at the local tempo (within 2x), few tempo events
    assert all(60.0 <= bpm <= 240.0 for _, bpm in tempos), tempos
    assert len(tempos) <= 4, tempos
    assert sigs == want_sigs
    assert read_midi_beats(path).meter == 4
    assert keys == ["G"]
    assert len(note_tracks) == 1 and not bends and names == ["Acoustic Grand Piano"]
    # the notes sound where they were (the tempo map maps them back exactly)
    back = read_midi(path)
    assert len(back) == len(notes)
    assert np.abs(back.onsets_s - notes.onsets_s).max() < 1e-3
    # reading the beats back gives the detected beats, not the pickup's filling
    mb = read_midi_beats(path)
    assert len(mb.times_s) >= len(beats.times_s)
    got = mb.times_s[:len(beats.times_s)]
    err = np.abs(got - beats.times_s)
    tol = 0.1 * 0.5 + 1e-3
    assert err[1:].max() <= tol and err[0] <= max(tol, first_s + 1e-3)
    downs = got[mb.positions[:len(beats.times_s)] == 1]
    want_downs = beats.times_s[beats.positions == 1]
    assert np.abs(downs[:len(want_downs)] - want_downs).max() <= tol


def test_performance_export_keeps_bends_and_every_beat(tmp_path):
    beats, notes = _beats(1.3), _notes_with_bends()
    path = write_midi(tmp_path / "p.mid", notes, beats=beats, performance=True)
    tempos, sigs, keys, note_tracks, bends, _ = _meta(path)
    assert bends and len(note_tracks) > 1
    assert all(60.0 <= bpm <= 240.0 for _, bpm in tempos)
    mb = read_midi_beats(path)
    assert np.abs(mb.times_s[:len(beats.times_s)] - beats.times_s).max() < 1e-3
    back = read_midi(path)
    assert np.abs(back.bend_cents - 30.0).max() < 0.03


def test_tempo_changes_only_where_the_music_changes(tmp_path):
    """A steady 120 BPM then a steady 90 BPM: two tempi (plus the pickup's at most)."""
    t = np.concatenate([0.5 * np.arange(20), 9.5 + (2 / 3) * np.arange(1, 20)])
    beats = Beats(times_s=t, positions=np.arange(len(t)) % 4 + 1, tempo_bpm=120.0, meter=4)
    tempos, *_ = _meta(write_midi(tmp_path / "c.mid", _notes_with_bends(), beats=beats))
    bpms = [round(b) for _, b in tempos]
    assert bpms == [120, 90], tempos


def test_default_tempo_map_gives_no_beats(tmp_path):
    """A reference MIDI with the sequencer default (constant 120 BPM, 4/4) has no beat layer;
    a real tempo, or our own export (even at exactly 120 BPM), has one."""
    import pretty_midi

    from workstation.export import read_annotation_file
    for name, bpm, sig in (("default.mid", 120.0, True), ("slow.mid", 96.0, False)):
        pm = pretty_midi.PrettyMIDI(initial_tempo=bpm)
        inst = pretty_midi.Instrument(0)
        inst.notes.append(pretty_midi.Note(80, 60, 0.5, 1.5))
        pm.instruments.append(inst)
        if sig:
            pm.time_signature_changes.append(pretty_midi.TimeSignature(4, 4, 0.0))
        pm.write(str(tmp_path / name))
    assert set(read_annotation_file(tmp_path / "default.mid")) == {"notes"}
    assert set(read_annotation_file(tmp_path / "slow.mid")) == {"notes", "beats"}
    beats = Beats(times_s=0.5 * np.arange(1, 12), positions=np.arange(11) % 4 + 1, tempo_bpm=120.0, meter=4)
    ours = write_midi(tmp_path / "ours.mid", _notes_with_bends(), beats=beats)
    back = read_annotation_file(ours)
    assert "beats" in back and np.abs(back["beats"].times_s[:11] - beats.times_s).max() < 0.06


def test_grid_snaps_notes_to_subdivisions_of_the_beat(tmp_path):
    """grid=4: every note on and off lies on a sixteenth of the MIDI beat grid (which follows
    the detected beats), within half a step of where it was played, at least a step long;
    without a grid the played times stay."""
    beats = _beats(0.5)
    rng = np.random.default_rng(5)
    steps = np.sort(rng.choice(np.arange(4, 140), 40, replace=False))
    on = np.interp(steps / 4, np.arange(len(beats.times_s)), beats.times_s) + rng.normal(0, 0.012, 40)
    notes = Notes(onsets_s=on, offsets_s=on + rng.uniform(0.02, 0.6, 40),
                  pitch_midi=60 + (np.arange(40) * 7) % 12, velocity=np.full(40, 80))

    def note_ticks(path):
        mf = mido.MidiFile(path)
        return mf.ticks_per_beat, [t for t, m in _abs(mf) if m.type in ("note_on", "note_off")]

    played = write_midi(tmp_path / "played.mid", notes, beats=beats)
    res, ticks = note_ticks(played)
    assert any(t % (res // 4) for t in ticks)                  # as played: off the grid
    snapped = write_midi(tmp_path / "grid.mid", notes, beats=beats, grid=4)
    res, ticks = note_ticks(snapped)
    assert all(t % (res // 4) == 0 for t in ticks)
    back = read_midi(snapped)
    order = np.argsort(notes.onsets_s, kind="stable")
    step_s = 0.5 / 4
    assert np.all(np.abs(back.onsets_s - notes.onsets_s[order]) <= step_s / 2 + 0.02)
    assert np.all(back.offsets_s - back.onsets_s >= step_s - 0.02)
    with pytest.raises(ValueError, match="cannot be divided"):
        write_midi(tmp_path / "bad.mid", notes, beats=beats, grid=7)


def test_cli_midi_grid_is_checked():
    from workstation.cli.parser import midi_grid
    assert midi_grid("16") == 16 and midi_grid("0") == 0
    import argparse
    for bad in ("5", "-4", "x"):
        with pytest.raises(argparse.ArgumentTypeError):
            midi_grid(bad)


def test_local_key_changes_become_key_signatures_at_downbeats(tmp_path):
    """A key corrected to C major, then G major from 9.39 s: the MIDI file carries both, the
    change at the downbeat nearest 9.39 s; a short passing segment changes nothing."""
    beats = _beats(0.5, first_position=1)
    down = beats.downbeats_s
    key = Key(tonic_pc=0, mode="major", confidence=1.0,
              local_start_s=np.array([0.0, 9.39, 19.0]), local_end_s=np.array([9.39, 19.0, 21.0]),
              local_tonic_pc=np.array([0, 7, 2]), local_mode=["major", "major", "minor"],
              local_confidence=np.ones(3))
    want = float(down[np.argmin(np.abs(down - 9.39))])
    from workstation.export.midi import key_signatures
    assert key_signatures(key, beats) == [(0.0, 0), (want, 7)]   # D minor lasts 2 s: ignored
    path = write_midi(tmp_path / "k.mid", _notes_with_bends(), beats=beats, key=key)
    _, _, keys, *_ = _meta(path)
    assert keys == ["C", "G"]
    pm = __import__("pretty_midi").PrettyMIDI(str(path))
    assert abs(pm.key_signature_changes[1].time - want) < 1e-3
    # without segments the global key; without beats the change stays where it is
    assert key_signatures(Key(tonic_pc=9, mode="minor", confidence=1.0)) == [(0.0, 21)]
    assert key_signatures(key, None) == [(0.0, 0), (9.39, 7)]
