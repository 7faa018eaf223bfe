"""Export layer: JAMS, MIDI, CSV, M3U writers and readers round-trip every core type."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from workstation.core.errors import AnnotationError
from workstation.core.types import (Beats, Embedding, Key, Notes, PitchTrack, Salience, Tags)
from workstation.export import (read_annotation_file, read_csv_layer, read_jams, read_m3u,
                                read_midi, read_midi_beats, write_csv, write_jams, write_m3u,
                                write_midi)
from workstation.core.postprocess import sort_notes

EVAL = Path(__file__).resolve().parents[2] / "shared" / "evaldata"
needs_eval = pytest.mark.skipif(not EVAL.is_dir(), reason=f"evaldata not found at {EVAL}")
DUR = 30.0


@pytest.fixture(scope="module")
def results():
    rng = np.random.default_rng(7)
    n = 400
    t = np.arange(n) * 256 / 22050
    f0 = PitchTrack(times_s=t, freqs_hz=(220 + 20 * rng.random(n)).astype(np.float32),
                    voiced=rng.random(n) > 0.3, confidence=rng.random(n).astype(np.float32))
    frames = np.repeat(np.arange(0, n, 3), 3)
    sal = Salience(times_s=t, freqs_hz=np.geomspace(32.7, 2000, 360),
                   values=np.zeros((360, n), np.float16), peak_frame=frames,
                   peak_freq_hz=100 + 900 * rng.random(len(frames)),
                   peak_salience=rng.random(len(frames)))
    k = 30
    on = np.sort(rng.uniform(0, 28, k))
    notes = Notes(onsets_s=on, offsets_s=on + rng.uniform(0.05, 1.5, k),
                  pitch_midi=rng.integers(36, 90, k), velocity=rng.integers(1, 128, k),
                  confidence=rng.random(k),
                  bend_note=np.array([2, 2, 2, 9, 9]),
                  bend_times_s=np.array([on[2], on[2] + 0.02, on[2] + 0.04, on[9] + 0.01,
                                         on[9] + 0.03]),
                  bend_cents=np.array([0.0, 40.0, -25.0, 12.0, 30.0]))
    key = Key(tonic_pc=9, mode="minor", confidence=0.8,
              local_start_s=np.array([0.0, 10.0, 20.0]), local_end_s=np.array([10.0, 20.0, DUR]),
              local_tonic_pc=np.array([9, 4, 9]), local_mode=["minor", "major", "minor"],
              local_confidence=np.array([0.9, 0.5, 0.7]))
    bt = 0.37 + np.cumsum(rng.uniform(0.48, 0.52, 50))
    beats = Beats(times_s=bt, positions=(np.arange(50) + 3) % 4 + 1, tempo_bpm=120.5,
                  tempo_alternatives_bpm=np.array([60.25, 241.0]), tempo_confidence=0.7, meter=4)
    tags = Tags(labels=["piano", "calm", "jazz"], scores=np.array([0.9, 0.4, 0.1]))
    emb = Embedding(vector=rng.standard_normal(96).astype(np.float32), space="dsp-stats-v1")
    return {"pitch.f0": f0, "pitch.salience": sal, "notes": notes, "key": key, "beats": beats,
            "tags": tags, "embedding": emb}


def peak_triples(s: Salience) -> np.ndarray:
    t = np.asarray(s.times_s)[s.peak_frame]
    a = np.stack([t, s.peak_freq_hz, s.peak_salience], axis=1)
    return a[np.lexsort((a[:, 1], a[:, 0]))]


def assert_same(a, b, *, tol=0.0):
    """Compare two results of one type field by field (salience by its peaks)."""
    assert type(a) is type(b)
    if isinstance(a, Salience):
        np.testing.assert_allclose(peak_triples(a), peak_triples(b), rtol=0, atol=tol)
        return
    if isinstance(a, Notes):
        a, b = sort_notes(a), sort_notes(b)
    for name in a.__dataclass_fields__:
        x, y = getattr(a, name), getattr(b, name)
        if isinstance(x, str):
            assert x == y, name
        elif isinstance(x, list):
            assert list(x) == list(y), name
        else:
            np.testing.assert_allclose(np.asarray(x, dtype=np.float64),
                                       np.asarray(y, dtype=np.float64), rtol=0, atol=tol,
                                       err_msg=name)


# ------------------------------------------------------------------------------------- JAMS

def test_jams_round_trip_every_layer(results, tmp_path):
    path = write_jams(tmp_path / "t.jams", results, duration_s=DUR, title="T", artist="A",
                      audio_path="/music/t.flac", validate="full")
    back = read_jams(path)
    assert set(back) == set(results)
    for k in results:
        assert_same(results[k], back[k], tol=1e-12)


def test_jams_validates_with_jams_library(results, tmp_path):
    import jams
    path = write_jams(tmp_path / "t.jams", results, duration_s=DUR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        jam = jams.load(str(path), validate=True, strict=True)
        jam.validate(strict=True)
    ns = [a.namespace for a in jam.annotations]
    for want in ("pitch_contour", "note_midi", "key_mode", "beat", "beat_position", "tempo",
                 "tag_open", "vector"):
        assert want in ns
    assert ns.count("key_mode") == 2 and ns.count("pitch_contour") == 2
    names = {a.annotation_metadata.annotator.name for a in jam.annotations
             if a.namespace == "pitch_contour"}
    assert names == {"f0", "multif0"}
    # MIREX tempo: two observations (T1, T2), saliences summing to 1; jams.eval.tempo reads it
    tempo = jam.search(namespace="tempo")[0]
    assert [o.value for o in tempo.data] == [120.5, 60.25]
    assert abs(sum(o.confidence for o in tempo.data) - 1.0) < 1e-9
    assert jams.eval.tempo(tempo, tempo)["P-score"] == 1.0
    mf0 = [a for a in jam.annotations if a.annotation_metadata.annotator.name == "multif0"][0]
    first = [o for o in mf0.data if o.time == mf0.data[0].time]
    assert [o.value["index"] for o in first] == [0, 1, 2]
    assert first[0].confidence >= first[1].confidence >= first[2].confidence
    # the same results as a jams object: jams' own save (which validates) and our reader agree
    from workstation.export.jams_io import to_jams
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        to_jams(results, duration_s=DUR, title="T").save(str(tmp_path / "j.jams"))
    back = read_jams(tmp_path / "j.jams")
    for k in results:
        assert_same(results[k], back[k], tol=1e-12)


def test_jams_from_other_tools(tmp_path):
    doc = {"annotations": [
        {"namespace": "note_midi", "annotation_metadata": {}, "sandbox": {}, "time": 0,
         "duration": 2.0, "data": [{"time": 0.5, "duration": 0.5, "value": 60.25,
                                     "confidence": None}]},
        {"namespace": "note_midi", "annotation_metadata": {}, "sandbox": {}, "time": 0,
         "duration": 2.0, "data": [{"time": 0.1, "duration": 0.2, "value": 40.0,
                                     "confidence": None}]},
        {"namespace": "pitch_contour", "annotation_metadata": {}, "sandbox": {}, "time": 0,
         "duration": 2.0, "data": {"time": [0.1, 0.2], "duration": [0, 0],
                                   "value": [{"index": 0, "frequency": 440.0, "voiced": True},
                                             {"index": 0, "frequency": 441.0, "voiced": False}],
                                   "confidence": [None, None]}},
    ], "file_metadata": {"duration": 2.0}, "sandbox": {}}
    p = tmp_path / "other.jams"
    p.write_text(json.dumps(doc))
    r = read_jams(p)
    assert list(r["notes"].pitch_midi) == [40, 60]  # merged and sorted
    np.testing.assert_allclose(r["notes"].onsets_s, [0.1, 0.5])
    assert r["notes"].bend_note.tolist() == [1] and abs(r["notes"].bend_cents[0] - 25) < 1e-9
    assert r["pitch.f0"].voiced.tolist() == [True, False]
    np.testing.assert_allclose(r["pitch.f0"].freqs_hz, [440.0, 441.0])


@needs_eval
@pytest.mark.evaldata
def test_jams_guitarset():
    r = read_jams(EVAL / "poly_notes/guitarset_excerpt/03_BN3-119-G_solo.jams")
    n = r["notes"]
    assert len(n) >= 3 and np.all(n.offsets_s > n.onsets_s) and np.all(n.onsets_s >= 0)
    assert np.all((n.pitch_midi >= 0) & (n.pitch_midi <= 127))
    assert 67 in n.pitch_midi.tolist() and 71 in n.pitch_midi.tolist()  # G4, B4 of string 5
    assert r["key"].label == "G:major"
    assert r["beats"].meter == 4 and abs(r["beats"].tempo_bpm - 119) < 1e-9
    assert r["pitch.f0"].freqs_hz.min() > 300


# ------------------------------------------------------------------------------------- MIDI

def test_midi_round_trip(results, tmp_path):
    notes, beats = results["notes"], results["beats"]
    path = write_midi(tmp_path / "t.mid", notes, beats=beats, program=0, performance=True)
    back = read_midi(path)
    ref = sort_notes(notes)
    assert len(back) == len(ref)
    np.testing.assert_array_equal(back.pitch_midi, ref.pitch_midi)
    np.testing.assert_array_equal(back.velocity, ref.velocity)
    assert np.abs(back.onsets_s - ref.onsets_s).max() < 1e-3
    assert np.abs(back.offsets_s - ref.offsets_s).max() < 1e-3
    # bends: same notes, times within a tick, cents within the 14-bit step (0.025 cents)
    assert back.bend_note.tolist() == ref.bend_note.tolist()
    assert np.abs(back.bend_times_s - ref.bend_times_s).max() < 1e-3
    assert np.abs(back.bend_cents - ref.bend_cents).max() < 0.03
    # the tempo map puts a MIDI beat on every detected beat, downbeats on bar lines
    mb = read_midi_beats(path)
    j = np.abs(mb.times_s[:, None] - beats.times_s[None]).argmin(axis=0)
    assert np.abs(mb.times_s[j] - beats.times_s).max() < 1e-3
    assert mb.positions[j].tolist() == beats.positions.tolist()
    assert mb.meter == 4


def test_midi_overlapping_same_pitch_and_no_beats(tmp_path):
    notes = Notes(onsets_s=np.array([0.0, 0.5, 0.6]), offsets_s=np.array([2.0, 1.0, 0.9]),
                  pitch_midi=np.array([60, 60, 64]), velocity=np.array([10, 20, 30]))
    back = read_midi(write_midi(tmp_path / "p.mid", notes, performance=True))
    assert back.pitch_midi.tolist() == [60, 60, 64]
    np.testing.assert_allclose(back.offsets_s, [2.0, 1.0, 0.9], atol=1e-3)
    # for notation one channel holds every note: the first C4 ends where the second starts
    back = read_midi(write_midi(tmp_path / "o.mid", notes))
    assert back.pitch_midi.tolist() == [60, 60, 64]
    np.testing.assert_allclose(back.offsets_s, [0.5, 1.0, 0.9], atol=1e-3)
    mb = read_midi_beats(tmp_path / "o.mid")
    np.testing.assert_allclose(np.diff(mb.times_s), 0.5, atol=1e-6)  # 120 BPM default


@needs_eval
@pytest.mark.evaldata
@pytest.mark.parametrize("rel", [
    "poly_notes/maestro_excerpt/MIDI-Unprocessed_Chamber3_MID--AUDIO_10_R3_2018_wav--1.midi",
    "poly_notes/madmom_stereo_sample/stereo_sample.mid",
    "poly_notes/fmp_audiolabs_piano/FMP_C5_F05a_C-Major-Triad_AudioLabs.mid",
    "poly_notes/fmp_audiolabs_piano/FMP_C5_F01_Beatles_LetItBe-mm1-4_AudioLabs.mid",
])
def test_midi_real_files(rel):
    n = read_midi(EVAL / rel)
    assert len(n) > 0
    assert np.all(n.offsets_s >= n.onsets_s) and np.all(np.diff(n.onsets_s) >= 0)
    assert np.all((n.pitch_midi >= 21) & (n.pitch_midi <= 108))  # piano range
    assert np.all((n.velocity >= 1) & (n.velocity <= 127))
    if "stereo_sample" in rel:  # agrees with the .notes list beside it
        ref = np.loadtxt(EVAL / "poly_notes/madmom_stereo_sample/stereo_sample.notes")
        ref = ref[np.lexsort((ref[:, 1], ref[:, 0]))]
        np.testing.assert_allclose(n.onsets_s, ref[:, 0], atol=2e-3)
        assert n.pitch_midi.tolist() == ref[:, 1].astype(int).tolist()
    if "C-Major-Triad" in rel:
        assert {p % 12 for p in n.pitch_midi} == {0, 4, 7}


# ------------------------------------------------------------------------------------- CSV

def test_csv_round_trip_every_layer(results, tmp_path):
    paths = write_csv(tmp_path / "song", results)
    names = sorted(p.name for p in paths)
    assert "song.f0.csv" in names and "song.notes_bends.csv" in names
    assert "song.tempo.csv" in names
    by_layer = {p.name.split(".")[1]: p for p in paths}
    for aid, layer in [("pitch.f0", "f0"), ("pitch.salience", "multif0"), ("notes", "notes"),
                       ("key", "key"), ("beats", "beats"), ("tags", "tags"),
                       ("embedding", "embedding")]:
        back = read_csv_layer(by_layer[layer])
        assert_same(results[aid], back, tol=0.0)  # exact: shortest round-trip float format
    # the header rows
    assert by_layer["notes"].read_text().splitlines()[0] == \
        "onset_s,offset_s,pitch_midi,velocity,confidence,note_name"
    assert by_layer["key_full"].read_text().splitlines()[1].startswith("global,")
    # into a directory, read through the generic dispatcher
    d = tmp_path / "out"
    d.mkdir()
    write_csv(d, {"key": results["key"]})
    assert read_annotation_file(d / "key.csv")["key"].label == "A:minor"


def test_csv_layouts_sonic_visualiser_imports(results, tmp_path):
    """The plain layer files in the layouts Sonic Visualiser 4.5 imports with its defaults:
    beats as time instants labelled bar.beat, f0 as a time,Hz curve of the voiced frames
    only, keys as regions with the time columns first and no row at exactly 0 s."""
    paths = {p.name.split(".")[1]: p for p in write_csv(tmp_path / "song", results)}
    lines = {k: p.read_text().splitlines() for k, p in paths.items()}
    assert lines["beats"][0] == "time_s,label"
    labels = [ln.split(",")[1] for ln in lines["beats"][1:]]
    pos = results["beats"].positions
    assert labels[:6] == ["0.4", "1.1", "1.2", "1.3", "1.4", "2.1"] and pos[0] == 4
    assert lines["f0"][0] == "time_s,frequency_hz"
    f0 = results["pitch.f0"]
    rows = np.array([[float(x) for x in ln.split(",")] for ln in lines["f0"][1:]])
    assert len(rows) == int(np.sum(f0.voiced)) and np.all(rows[:, 1] > 0)
    np.testing.assert_array_equal(rows[:, 0], f0.times_s[f0.voiced])
    assert lines["key"] == ["start_s,end_s,key", "0.001,10.0,A:minor", "10.0,20.0,E:major",
                            "20.0,30.0,A:minor"]

    # each plain file read alone (its *_full companion gone), as from another tool
    for name in ("f0_full", "key_full", "tempo"):
        paths[name].unlink()
    b = read_csv_layer(paths["beats"])
    np.testing.assert_array_equal(b.times_s, results["beats"].times_s)
    np.testing.assert_array_equal(b.positions, pos)
    assert b.meter == 4 and abs(b.tempo_bpm - 120) < 3
    k = read_csv_layer(paths["key"])
    assert k.label == "A:minor" and k.local_tonic_pc.tolist() == [9, 4, 9]
    p = read_csv_layer(paths["f0"])   # gaps between voiced frames come back unvoiced
    hop = 256 / 22050
    voiced_t = f0.times_s[f0.voiced]
    np.testing.assert_array_equal(p.times_s[p.voiced], voiced_t)
    for a, z in zip(voiced_t[:-1], voiced_t[1:]):
        inside = p.times_s[(p.times_s > a) & (p.times_s < z)]
        if z - a > 1.5 * hop:
            assert len(inside) in (1, 2) and np.allclose(inside[[0, -1]], [a + hop, z - hop])
        else:
            assert len(inside) == 0
    assert not p.voiced[(p.times_s > voiced_t[0]) & ~np.isin(p.times_s, voiced_t)].any()
    # an earlier beats layout is still read
    old = tmp_path / "old.beats.csv"
    old.write_text("time_s,position,tempo_bpm\n0.5,1,120.0\n1.0,2,120.0\n1.5,1,120.0\n")
    assert read_csv_layer(old).positions.tolist() == [1, 2, 1]
    bad = tmp_path / "bad.beats.csv"
    bad.write_text("time_s,label\n0.5,downbeat\n")
    with pytest.raises(AnnotationError, match="neither bar.beat"):
        read_csv_layer(bad)


def test_sonic_visualiser_and_lab_files(tmp_path):
    sv = tmp_path / "sv_notes.csv"  # SV note layer export: time,value,duration,level,label
    sv.write_text("0.5,60,0.25,0.8,\n1.0,64,0.5,0.5,\n")
    r = read_annotation_file(sv)["notes"]
    assert r.pitch_midi.tolist() == [60, 64]
    np.testing.assert_allclose(r.offsets_s, [0.75, 1.5])
    assert r.velocity.tolist() == [round(0.8 * 127), round(0.5 * 127)]

    f0 = tmp_path / "f0.csv"  # time,value in Hz
    f0.write_text("0.00,0\n0.01,220.5\n0.02,221.0\n")
    p = read_annotation_file(f0)["pitch.f0"]
    assert p.voiced.tolist() == [False, True, True]

    inst = tmp_path / "beats.csv"  # time instants
    inst.write_text("0.5\n1.0\n1.5\n2.0\n")
    b = read_annotation_file(inst)["beats"]
    assert abs(b.tempo_bpm - 120) < 1e-9

    lab = tmp_path / "keys.lab"  # Isophonics key lab
    lab.write_text("0.0 2.5 Silence\n2.5 100.0 Key E\n100.0 130.0\tKey C#:minor\n")
    k = read_annotation_file(lab)["key"]
    assert k.label == "E:major" and k.local_tonic_pc.tolist() == [4, 1]
    assert k.local_mode == ["major", "minor"]

    aud = tmp_path / "labels.txt"  # Audacity labels with note names
    aud.write_text("0.100000\t0.400000\tC4\n0.500000\t0.900000\tF#3\n")
    assert read_annotation_file(aud)["notes"].pitch_midi.tolist() == [60, 54]

    ss = tmp_path / "sung.txt"  # onset offset MIDI (ssvd style)
    ss.write_text("0.1 0.5 60.3\n0.6 0.9 62\n")
    n = read_annotation_file(ss)["notes"]
    assert n.pitch_midi.tolist() == [60, 62] and abs(n.bend_cents[0] - 30) < 1e-6

    mirex = tmp_path / "m.txt"  # onset offset Hz
    mirex.write_text("0.1\t0.5\t440.0\n")
    assert read_annotation_file(mirex)["notes"].pitch_midi.tolist() == [69]


@pytest.mark.parametrize("name,content,reason", [
    ("bad.jams", "{not json", "not a JSON file"),
    ("bad2.jams", '{"x": 1}', "no 'annotations'"),
    ("bad.mid", "MThd garbage", "not a readable MIDI file"),
    ("bad.csv", "0.1,abc,2\n0.2,1\n", "neither keys"),
    ("bad3.csv", "0.5,-3,-2\n", "that are not notes"),
    ("empty.lab", "\n\n", "empty file"),
    ("labels.lab", "0 1 hello\n1 2 world\n", "neither keys"),
    ("x.xyz", "1", "unknown annotation format"),
    ("hdr.csv", "time_s,position,tempo_bpm\n0.5,x,1\n", "not a number"),
])
def test_unreadable_files_raise_annotation_error(tmp_path, name, content, reason):
    p = tmp_path / name
    p.write_text(content)
    with pytest.raises(AnnotationError) as info:
        read_annotation_file(p)
    assert str(p) in str(info.value) and reason in str(info.value)
    assert info.value.path == str(p)


def test_missing_file_raises(tmp_path):
    with pytest.raises(AnnotationError, match="file not found"):
        read_annotation_file(tmp_path / "nope.jams")


# ------------------------------------------------------------------------------------- M3U

def test_m3u_round_trip(tmp_path):
    (tmp_path / "music").mkdir()
    a, b = tmp_path / "music" / "a b.flac", tmp_path / "élan.wav"
    pl = tmp_path / "lists" / "p.m3u8"
    pl.parent.mkdir()
    write_m3u(pl, [(a, 61.4, "Track A"), (b, None, None)])
    text = pl.read_text(encoding="utf-8")
    assert text.startswith("#EXTM3U\n") and "#EXTINF:61,Track A" in text
    assert "../music/a b.flac" in text  # relative to the playlist
    back = read_m3u(pl)
    assert [e.path for e in back] == [a.resolve(), b.resolve()]
    assert back[0].duration_s == 61 and back[0].title == "Track A"
    assert back[1].duration_s is None and back[1].title == "élan"


def test_m3u_names_starting_with_a_hash_are_not_comments(tmp_path):
    """'#1 Étude, op. 10.ogg' written bare was a comment line to players and to our reader."""
    a = tmp_path / "#1 Étude, op. 10.ogg"
    pl = write_m3u(tmp_path / "p.m3u8", [(a, 90.0, "Étude")])
    assert "./#1 Étude, op. 10.ogg" in pl.read_text(encoding="utf-8")
    assert [e.path for e in read_m3u(pl)] == [a.resolve()]
