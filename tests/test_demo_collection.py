"""The bundled demo collection (resources/demo) and the composer/renderer that builds it."""

from __future__ import annotations

from pathlib import Path

import jams
import mutagen
import numpy as np
import pytest
import soundfile as sf

from workstation.core.constants import HOP_LENGTH, SAMPLE_RATE
from workstation.core.units import midi_to_hz, parse_key_label
from workstation.training import demo, demo_compose, demo_piece, demo_render, demo_theory

DEMO = Path(__file__).resolve().parents[1] / "resources" / "demo"
NAMESPACES = {"note_midi", "pitch_contour", "key_mode", "beat_position", "beat", "tempo", "tag_open"}
# Intervals (semitones) at which harmonics 1..6 of a lower note land on a 12-TET pitch.
HARMONIC_INTERVALS = (0, 12, 19, 24, 28, 31)
# jams validates through an older jsonschema API
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _collection():
    """(spec, piece, stem) for every bundled piece; skips when the files were not built."""
    out = []
    for spec in demo.DEMO_SPECS:
        piece = spec.compose()
        stem = demo.demo_name(spec, piece)
        if not (DEMO / f"{stem}.{spec.fmt}").is_file():
            pytest.skip(f"{DEMO}/{stem}.{spec.fmt} missing: run python -m workstation.training.demo")
        out.append((spec, piece, stem))
    return out


@pytest.fixture(scope="module")
def collection():
    return _collection()


@pytest.fixture(scope="module")
def decoded(collection):
    return {stem: sf.read(str(DEMO / f"{stem}.{spec.fmt}"), always_2d=True, dtype="float32")
            for spec, _, stem in collection}


# -- files ------------------------------------------------------------------------------------


def test_collection_is_complete_and_small(collection):
    audio = sorted(p for p in DEMO.iterdir() if p.suffix in (".flac", ".ogg"))
    assert len(audio) == 10
    assert {p.suffix for p in audio} == {".flac", ".ogg"}
    for _, _, stem in collection:
        assert (DEMO / f"{stem}.jams").is_file() and (DEMO / f"{stem}.mid").is_file()
    total = sum(p.stat().st_size for p in DEMO.rglob("*") if p.is_file())
    assert total < 10_000_000, f"demo collection is {total / 1e6:.2f} MB"
    readme = (DEMO / "README.md").read_text()
    for p in audio:
        assert p.name in readme


def test_audio_decodes_with_declared_format(collection, decoded):
    for spec, piece, stem in collection:
        path = DEMO / f"{stem}.{spec.fmt}"
        info = sf.info(str(path))
        y, sr = decoded[stem]
        assert info.format == ("FLAC" if spec.fmt == "flac" else "OGG")
        assert sr == spec.sr and y.shape[1] == spec.channels, stem
        if spec.fmt == "ogg":
            assert info.subtype == "VORBIS" and sr == 44100 and spec.channels == 2
        else:
            assert sr in (22050, 44100)
        dur = len(y) / sr
        assert 20.0 <= dur <= 40.0
        assert abs(dur - piece.duration_s) < 0.05, stem
        rms = float(np.sqrt(np.mean(y.astype(np.float64) ** 2)))
        assert 0.02 < rms < 0.5 and np.abs(y).max() <= 1.0, (stem, rms)
        # sound throughout: no second of the music (before the final release) is silent
        hop = sr
        music_end = int(piece.melody.offsets_s.max() * sr)
        per_s = [np.sqrt(np.mean(y[i:i + hop] ** 2)) for i in range(0, music_end - hop, hop)]
        assert min(per_s) > 0.003, stem


def test_audio_tags(collection):
    for spec, piece, stem in collection:
        tags = mutagen.File(str(DEMO / f"{stem}.{spec.fmt}"))
        assert tags is not None, stem
        assert tags["artist"] == ["Workstation Demo"]
        assert tags["album"] == ["Demo Collection"]
        assert tags["title"] == [piece.title]
        assert tags["genre"] == [piece.genre]
        assert tags["date"][0].isdigit()


def test_jams_validate_and_match_the_composition(collection, decoded):
    for spec, piece, stem in collection:
        jam = jams.load(str(DEMO / f"{stem}.jams"), validate=True, strict=True)
        y, sr = decoded[stem]
        assert abs(jam.file_metadata.duration - len(y) / sr) < 0.05
        assert {a.namespace for a in jam.annotations} >= NAMESPACES, stem
        for ann in jam.annotations:
            assert ann.duration == pytest.approx(jam.file_metadata.duration)
        assert jam.sandbox.sample_rate == spec.sr and jam.sandbox.channels == spec.channels
        # notes: one annotation per pitched instrument, named, plus the melody alone
        notes = jam.search(namespace="note_midi")
        names = sorted(a.annotation_metadata.annotator.instrument for a in notes if not a.sandbox.melody)
        assert names == sorted(p.name for p in piece.pitched_parts)
        melody = [a for a in notes if a.sandbox.melody]
        assert len(melody) == 1
        t, v = melody[0].to_interval_values()
        assert np.allclose(t[:, 0], piece.melody.onsets_s, atol=1e-6)
        assert np.array_equal(np.asarray(v), piece.melody.pitch_midi)
        for a in notes:
            part = next(p for p in piece.pitched_parts if p.name == a.annotation_metadata.annotator.instrument)
            assert len(a.data) == len(part)
        # melody contour: voiced frames lie within a semitone of the sounding note
        contour = jam.search(namespace="pitch_contour")[0]
        times = np.array([o.time for o in contour.data])
        freqs = np.array([o.value["frequency"] for o in contour.data])
        voiced = np.array([o.value["voiced"] for o in contour.data])
        assert voiced.mean() > 0.3 and np.all(freqs[~voiced] == 0)
        ref, ref_v = piece.f0_at(times)
        assert np.array_equal(ref_v, voiced)
        assert np.allclose(freqs[voiced], ref[voiced], rtol=1e-4)
        # key, tempo, beats, instruments
        assert jam.search(namespace="key_mode")[0].data[0].value == piece.key_label
        assert jam.search(namespace="tempo")[0].data[0].value == pytest.approx(piece.tempo_bpm)
        pos = jam.search(namespace="beat_position")[0].data
        assert [o.value["position"] for o in pos] == list(piece.beat_positions)
        assert all(o.value["num_beats"] == piece.beats_per_bar for o in pos)
        assert np.allclose(np.diff([o.time for o in pos]), 60.0 / piece.tempo_bpm, atol=1e-5)
        tags = {o.value for o in jam.search(namespace="tag_open")[0].data}
        assert tags == set(piece.instrument_names)


def test_collection_covers_keys_modes_meters_soundfonts(collection):
    keys = [parse_key_label(p.key_label) for _, p, _ in collection]
    assert {m for _, m in keys} == {"major", "minor"}
    assert len({pc for pc, _ in keys}) >= 6
    assert {p.beats_per_bar for _, p, _ in collection} == {3, 4}
    tempos = [p.tempo_bpm for _, p, _ in collection]
    assert min(tempos) >= 70 and max(tempos) <= 160 and max(tempos) - min(tempos) > 50
    assert {s.soundfont for s, _, _ in collection} == {"system", "bundled"}
    assert sum(s.vibrato for s, _, _ in collection) >= 2
    assert len({p.melody.program for _, p, _ in collection}) >= 6


# -- the melody is audible where the labels say ------------------------------------------------


def _melody_note_ratios(y, sr, piece, *, shift_semitones=0.0, warp=True, max_notes=8, bent=None):
    """Spectral peak at the labelled melody pitch over quarter-tone neighbours, in dB, for
    sustained melody notes that no other part shares (unison, octave or a low harmonic).

    With ``warp`` the segment is time-warped by the labelled f0 (bends included), so a
    vibrato that matches the labels becomes a steady partial. ``bent``: only notes with
    (True) or without (False) pitch bends; None: both.
    """
    mono = y.mean(axis=1).astype(np.float64)
    m = piece.melody
    others = [p for p in piece.pitched_parts if p.role != "melody"]
    out = []
    for on, off, pitch in zip(m.onsets_s, m.offsets_s, m.pitch_midi):
        if off - on < 0.3:
            continue
        has_bend = bool(np.any((m.bend_times_s >= on) & (m.bend_times_s < off) & (m.bend_values != 0)))
        if bent is not None and has_bend != bent:
            continue
        if any(np.any(np.isin(pitch - p.pitch_midi[(p.onsets_s < off) & (p.offsets_s + 0.3 > on)],
                              HARMONIC_INTERVALS)) for p in others):
            continue
        a, b = int(np.ceil((on + 0.04) * sr)), int((off - 0.02) * sr)
        seg = mono[a:b]
        fref = float(midi_to_hz(pitch + shift_semitones))
        if warp:
            f0, _ = piece.f0_at(np.arange(a, b) / sr)
            phase = np.cumsum(f0 / midi_to_hz(pitch)) / sr
            seg = np.interp(np.linspace(phase[0], phase[-1], len(seg)), phase, seg)
        seg = seg * np.hanning(len(seg))
        nfft = 8 * 2 ** int(np.ceil(np.log2(len(seg))))
        power = np.abs(np.fft.rfft(seg, nfft)) ** 2
        cents = 1200 * np.log2(np.maximum(np.fft.rfftfreq(nfft, 1 / sr), 1e-3) / fref)
        peak = power[np.abs(cents) <= 15].max()
        side = power[(np.abs(cents) >= 40) & (np.abs(cents) <= 60)].max()
        out.append(10 * np.log10(peak / side))
        if len(out) >= max_notes:
            break
    return np.asarray(out)


def test_rendered_melody_is_present(collection, decoded):
    for spec, piece, stem in collection:
        y, sr = decoded[stem]
        ratios = _melody_note_ratios(y, sr, piece)
        assert len(ratios) >= 2, f"{stem}: too few isolated sustained melody notes to check"
        assert np.mean(ratios > 6.0) >= 0.8, (stem, np.round(ratios, 1))
        # control: a quarter tone off the labels, the same measure finds no peak
        wrong = _melody_note_ratios(y, sr, piece, shift_semitones=0.5)
        assert np.median(wrong) < np.median(ratios) - 10, (stem, np.round(wrong, 1))


def test_vibrato_labels_follow_the_audio(collection, decoded):
    """Warping by the labelled (bent) f0 sharpens the melody partial of vibrato notes."""
    gains = []
    for spec, piece, stem in collection:
        if not spec.vibrato:
            continue
        y, sr = decoded[stem]
        warped = _melody_note_ratios(y, sr, piece, warp=True, bent=True)
        plain = _melody_note_ratios(y, sr, piece, warp=False, bent=True)
        gains.extend(warped - plain)
    assert len(gains) >= 4
    assert np.median(gains) > 3.0, np.round(gains, 1)


# -- compose() and render() --------------------------------------------------------------------


def test_compose_is_deterministic_and_seeds_differ():
    a, b = demo_compose.compose(7), demo_compose.compose(7)
    assert a.fingerprint() == b.fingerprint()
    for k, v in a.label_arrays().items():
        assert np.array_equal(v, b.label_arrays()[k]), k
    assert demo_compose.compose(8).fingerprint() != a.fingerprint()
    prints = {demo_compose.compose(s, style="pop", key="C:major", tempo_bpm=100).fingerprint() for s in range(5)}
    assert len(prints) == 5
    # overriding one parameter leaves the other draws alone
    c = demo_compose.compose(7, tempo_bpm=a.tempo_bpm)
    assert c.fingerprint() == a.fingerprint()


@pytest.mark.parametrize("seed", range(12))
def test_compose_is_coherent(seed):
    p = demo_compose.compose(seed)
    assert 20 <= p.duration_s <= 40 and 70 <= p.tempo_bpm <= 160 and p.beats_per_bar in (3, 4)
    assert [q.role for q in p.parts] == list(demo_piece.ROLES) and p.parts[3].is_drum
    scale = set(demo_theory._scale(p.tonic_pc, p.mode)) | ({(p.tonic_pc + 11) % 12} if p.mode == "minor" else set())
    for part in p.pitched_parts:
        assert len(part) > 0
        assert np.all(part.offsets_s > part.onsets_s) and part.offsets_s.max() <= p.duration_s - 1.0
        assert np.all((part.velocity >= 1) & (part.velocity <= 127))
        # chord tones and melody notes come from the key's scale (harmonic minor's leading tone allowed)
        if part.role in ("chords", "melody"):
            assert set(int(x) % 12 for x in part.pitch_midi) <= scale, part.role
    m = p.melody
    assert np.all(m.onsets_s[1:] >= m.offsets_s[:-1] - 1e-9), "melody must be monophonic"
    # chords sound the labelled chord: each comping note is a tone of the chord in effect
    for c in p.chords:
        pcs = {(c.root_pc + i) % 12 for i in demo_theory._QUALITIES[c.quality]}
        comp = p.parts[1]
        inside = (comp.onsets_s >= c.start_s - 1e-9) & (comp.onsets_s < c.end_s)
        assert set(int(x) % 12 for x in comp.pitch_midi[inside]) <= pcs
    # the piece ends on the tonic chord
    assert p.chords[-1].root_pc == p.tonic_pc
    assert m.pitch_midi[-1] % 12 == p.tonic_pc
    # beats: regular, positions cycle 1..meter
    assert np.allclose(np.diff(p.beat_times_s), 60.0 / p.tempo_bpm)
    assert np.array_equal(p.beat_positions, np.arange(len(p.beat_positions)) % p.beats_per_bar + 1)
    assert np.all(p.beat_times_s < p.duration_s)


def test_f0_frames_follow_bends():
    p = demo_compose.compose(3, vibrato=True, programs={"melody": 73}, style="ballad")
    m = p.melody
    assert len(m.bend_values) > 50 and np.abs(m.bend_values).max() > 300
    track = p.f0_frames(sr=SAMPLE_RATE, hop_length=HOP_LENGTH)
    n = p.n_frames()
    assert track.times_s.shape == track.freqs_hz.shape == track.voiced.shape == (n,)
    assert np.allclose(np.diff(track.times_s), HOP_LENGTH / SAMPLE_RATE)
    # deviation of the labelled f0 from the nominal note pitch
    idx = np.searchsorted(m.onsets_s, track.times_s, side="right") - 1
    nominal = midi_to_hz(m.pitch_midi[np.clip(idx, 0, None)])
    dev = 1200 * np.log2(track.freqs_hz[track.voiced] / nominal[track.voiced])
    assert 20 < np.abs(dev).max() < 50  # vibrato depth 25-45 cents
    assert np.mean(np.abs(dev) < 1e-6) > 0.2  # plain attacks and short notes stay unbent
    # bends reset to zero at the end of each bent note
    assert m.bend_values[-1] == 0
    plain = demo_compose.compose(3, vibrato=False, programs={"melody": 73}, style="ballad")
    assert len(plain.melody.bend_values) == 0
    f = plain.f0_frames().freqs_hz
    assert np.allclose(f[f > 0], midi_to_hz(np.round(69 + 12 * np.log2(f[f > 0] / 440))))
    # the MIDI carries the same bends
    assert len(p.midi.instruments[0].pitch_bends) == len(m.bend_values)
    # core types
    notes = m.to_notes()
    assert len(notes) == len(m) and len(notes.bend_cents) > 0 and np.abs(notes.bend_cents).max() < 50
    assert p.beats().meter == p.beats_per_bar and p.key().label == p.key_label
    roll = p.piano_roll()
    assert roll.shape == (128, n) and roll[m.pitch_midi[0], track.voiced.argmax()]
    times, mf0 = p.multif0_frames()
    k = int(track.voiced.argmax())
    assert np.any(np.isclose(mf0[k], track.freqs_hz[k]))


def test_render_is_pure_and_normalised():
    p = demo_compose.compose(11, duration_s=20.0, style="pop", key="G:major")
    before = p.fingerprint()
    y = demo_render.render(p, sr=SAMPLE_RATE, sf2_path=demo_render.BUNDLED_SF2)
    assert p.fingerprint() == before
    assert y.dtype == np.float32 and y.shape == (int(20.0 * SAMPLE_RATE),)
    rms = float(np.sqrt(np.mean(y.astype(np.float64) ** 2)))
    assert np.abs(y).max() <= 10 ** (-1 / 20) + 1e-6 and 0.03 < rms < 0.2
    y2 = demo_render.render(p, sr=SAMPLE_RATE, sf2_path=demo_render.BUNDLED_SF2, stereo=True)
    assert y2.shape == (2, y.size)
    # the same piece renders (nearly) the same twice
    y3 = demo_render.render(p, sr=SAMPLE_RATE, sf2_path=demo_render.BUNDLED_SF2)
    assert np.corrcoef(y, y3)[0, 1] > 0.99
    # a missing soundfont falls back to the bundled one
    y4 = demo_render.render(p, sr=SAMPLE_RATE, sf2_path="/nonexistent/font.sf2")
    assert np.corrcoef(y, y4)[0, 1] > 0.99


def test_jams_roundtrip_of_a_fresh_piece(tmp_path):
    p = demo_compose.compose(21, duration_s=22.0)
    path = tmp_path / "x.jams"
    demo.save_jams(demo.to_jams(p), path)
    jam = jams.load(str(path), validate=True)
    assert {a.namespace for a in jam.annotations} >= NAMESPACES
    n_pitched = sum(len(q) for q in p.pitched_parts)
    per_inst = [a for a in jam.search(namespace="note_midi") if not a.sandbox.melody]
    assert sum(len(a.data) for a in per_inst) == n_pitched
    assert jam.file_metadata.duration == 22.0
    # a labelled piece is the same after reloading its MIDI: notes survive the .mid
    mid = tmp_path / "x.mid"
    p.midi.write(str(mid))
    import pretty_midi
    back = pretty_midi.PrettyMIDI(str(mid))
    assert [len(i.notes) for i in back.instruments] == [len(q) for q in p.parts]
    on = np.array(sorted(n.start for n in back.instruments[0].notes))
    assert np.allclose(on, p.melody.onsets_s, atol=2e-3)


def test_demo_specs_are_consistent():
    names = [demo.demo_name(s, s.compose()) for s in demo.DEMO_SPECS]
    assert len(set(names)) == 10 and names[0] == "01_waltz_in_a_minor"
    for s in demo.DEMO_SPECS:
        p = s.compose()
        assert p.key_label == s.key
        assert p.tempo_bpm == s.tempo_bpm and p.duration_s == s.duration_s

