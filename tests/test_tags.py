"""The ``tags`` analyzer (short-chunk CNN), its model and recipe pieces, hand-given tags in the
catalogue, few-shot proposals, and the ``workstation tag`` command."""

from __future__ import annotations

import json
import shutil
import sqlite3

import numpy as np
import pytest
import torch
from sim_library import DRUMS, TONES, sim_collection  # noqa: F401  (session fixture)

from workstation.analysis.base import get_analyzer
from workstation.analysis.pipeline import analyze_array
from workstation.core import constants as C
from workstation.core.errors import LibraryError, ModelError
from workstation.core.types import Tags
from workstation.inference.frontend import FrontEnd
from workstation.inference.models.tags import (MIN_FRAMES, Audio2Tags, TagNet, pool_scores,
                                               window_starts)
from workstation.inference.weights import MODELS_DIR, load_model, manifest_entry
from workstation.training.train_tags import (INSTRUMENT_TAGS, VOCABULARY, item_labels, roc_auc,
                                             window_targets)

SR = C.SAMPLE_RATE


@pytest.fixture(scope="module")
def fe():
    return FrontEnd("cpu")


def _phrase(program: int, *, drums: bool = False, seconds: float = 8.0, seed: int = 0) -> np.ndarray:
    """A short phrase rendered with FluidSynth (the bundled TimGM6mb soundfont)."""
    from workstation.training import demo_render
    from workstation.training.corpus_compose import Track
    from workstation.training.corpus_render import render_track

    rng = np.random.default_rng(seed)
    if drums:  # a rock beat: kick, hi-hat, snare, hi-hat in eighths
        t = np.arange(0.0, seconds - 0.5, 0.25)
        p = np.array([36, 42, 38, 42])[np.arange(len(t)) % 4]
        off = t + 0.1
    else:      # a melody in quarter notes
        t = np.arange(0.0, seconds - 0.5, 0.5)
        p = 60 + rng.choice([0, 2, 4, 5, 7, 9, 11, 12], len(t))
        off = t + 0.45
    tr = Track(name="x", role="melody", program=program, is_drum=drums, onsets_s=t, offsets_s=off,
               pitch_midi=p.astype(np.int64), velocity=np.full(len(t), 90, np.int64))
    try:
        y = render_track(tr, int(seconds * SR), sf2=demo_render.BUNDLED_SF2)
    except demo_render.RenderError as exc:
        pytest.skip(f"FluidSynth cannot render here: {exc}")
    return (0.5 * y / np.abs(y).max()).astype(np.float32)


def _tags(x, **params) -> Tags:
    return analyze_array(x, [get_analyzer("tags", **params)]).results["tags"]


def _score(t: Tags, label: str) -> float:
    return float(t.scores[t.labels.index(label)])


# --------------------------------------------------------------------------- model and windows

def test_network_shapes_and_level_invariance():
    torch.manual_seed(0)
    net = TagNet(labels=("a", "b", "c")).eval()
    mel = torch.rand(2, C.N_MELS, 256) ** 4
    with torch.no_grad():
        y = net(mel)
        assert y.shape == (2, 3)
        assert net.normalise(mel).shape == (2, C.N_MELS // 2, 256)
        assert net(mel[..., :MIN_FRAMES]).shape == (2, 3)       # any length >= MIN_FRAMES
        assert torch.allclose(net(mel * 1000.0), y, atol=1e-4)  # level does not matter
    a2t = Audio2Tags(net)
    p = a2t(mel.numpy()[:, :, :10])                             # too short: padded
    assert p.shape == (2, 3) and np.all((p >= 0) & (p <= 1))


def test_window_starts_and_pooling():
    assert window_starts(100, 256, 256) == [0]
    assert window_starts(256, 256, 256) == [0]
    assert window_starts(600, 256, 256) == [0, 256, 344]        # the last ends at the last frame
    assert window_starts(768, 256, 128) == [0, 128, 256, 384, 512]
    p = np.array([[0.1, 0.9], [0.3, 0.1]])
    assert np.allclose(pool_scores(p, pool="mean"), [0.2, 0.5])
    assert np.allclose(pool_scores(p, pool="max"), [0.3, 0.9])
    assert np.allclose(pool_scores(p), [0.25, 0.7])
    with pytest.raises(ValueError):
        pool_scores(p, pool="median")


def test_roc_auc_known_answers():
    assert roc_auc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 1.0
    assert roc_auc([1, 1, 0, 0], [0.1, 0.2, 0.3, 0.4]) == 0.0
    assert roc_auc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]) == 0.5
    assert np.isnan(roc_auc([1, 1], [0.2, 0.3]))


def test_labels_of_a_corpus_item():
    """Family activity follows the notes; solo / style come from the item."""
    from workstation.training.corpus_item import make_item
    from workstation.training.corpus_spec import CorpusSpec

    item = make_item(7, CorpusSpec(n_items=1, duration_s=(8.0, 8.0), kinds=(("full", 1.0),)))
    act, tags = item_labels(item)
    assert act.shape == (len(INSTRUMENT_TAGS), item.n_frames)
    fams = [("drums" if d else str(item.instruments[k]["family"]).lower())
            for k, d in enumerate(item.track_is_drum)]
    assert "drums" in fams and "bass" in fams                   # a band with a kit and a bass
    fr = item.sr / item.hop_length
    for on, k in zip(item.note_onset_s, item.note_track):       # every note's family sounds
        assert act[INSTRUMENT_TAGS.index(fams[k]), int(on * fr)]
    absent = [i for i, t in enumerate(INSTRUMENT_TAGS) if t not in fams and t != "voice"]
    assert not act[absent].any()                                # nothing else does
    assert tags[0] == 0.0                                       # not solo
    assert tags.sum() == 1.0                                    # one style
    d = INSTRUMENT_TAGS.index("drums")
    first = int(np.argmax(act[d]))
    data = {"starts": np.array([0]), "act": act, "item_tags": tags[None]}
    y = window_targets(data, 0, first, 256)
    assert y.shape == (len(VOCABULARY),) and y[VOCABULARY.index("drums")] == 1.0


# --------------------------------------------------------------------------- shipped weights

def test_weights_sha256_checked_and_corrupt_copy_refused(tmp_path):
    entry = manifest_entry("tags")
    assert entry["sha256"] and entry["file"] == "tags.pt"
    model = load_model("tags")
    assert list(model.labels) == list(VOCABULARY)
    (tmp_path / "manifest.json").write_text(json.dumps([entry]))
    raw = bytearray((MODELS_DIR / entry["file"]).read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    (tmp_path / entry["file"]).write_bytes(bytes(raw))
    with pytest.raises(ModelError, match="sha256"):
        load_model("tags", models_dir=tmp_path)
    (tmp_path / entry["file"]).unlink()
    with pytest.raises(ModelError, match="missing"):
        load_model("tags", models_dir=tmp_path)


# --------------------------------------------------------------------------- the analyzer

def test_analyzer_result_is_sorted_complete_and_deterministic():
    x = _phrase(0, seconds=7.0)
    a, b = _tags(x), _tags(x)
    assert isinstance(a, Tags)
    assert sorted(a.labels) == sorted(VOCABULARY)
    s = np.asarray(a.scores)
    assert np.all((s >= 0) & (s <= 1)) and np.all(np.diff(s) <= 0)
    assert a.labels == b.labels and np.array_equal(a.scores, b.scores)
    floor = _tags(x, floor=0.3)
    assert set(floor.labels) == {lab for lab, v in zip(a.labels, s) if v >= 0.3}
    with pytest.raises(ValueError):
        get_analyzer("tags", pool="median")


def test_streaming_windows_match_the_whole_track_and_ignore_chunking(fe):
    """Across analysis chunks the analyzer cuts the same windows as ``window_starts`` on the
    whole track, so the scores do not depend on where the chunks are cut."""
    rng = np.random.default_rng(3)
    x = np.concatenate([_phrase(0, seconds=6.0), _phrase(0, drums=True, seconds=6.0),
                        0.05 * rng.standard_normal(SR * 2).astype(np.float32)])
    whole = analyze_array(x, [get_analyzer("tags")], frontend=fe).results["tags"]
    chunked = analyze_array(x, [get_analyzer("tags")], frontend=fe, chunk_s=2.5).results["tags"]
    assert whole.labels == chunked.labels
    assert np.allclose(whole.scores, chunked.scores, atol=1e-4)
    net = Audio2Tags(load_model("tags"))
    mel = fe.mel(x)[:, :C.n_frames_for(len(x))]
    L = net.window_frames
    wins = np.stack([mel[:, s:s + L] for s in window_starts(mel.shape[1], L, L)])
    ref = pool_scores(net(wins))
    got = dict(zip(whole.labels, whole.scores))
    assert np.allclose([got[lab] for lab in net.labels], ref, atol=1e-4)
    short = analyze_array(x[:SR], [get_analyzer("tags")], frontend=fe).results["tags"]  # < 1 window
    assert len(short.labels) == len(VOCABULARY)


def test_known_answers_piano_phrase_and_drum_pattern(fe):
    piano = analyze_array(_phrase(0), [get_analyzer("tags")], frontend=fe).results["tags"]
    drums = analyze_array(_phrase(0, drums=True), [get_analyzer("tags")], frontend=fe).results["tags"]
    assert _score(piano, "piano") > _score(piano, "drums")
    assert _score(piano, "drums") < 0.2 and _score(piano, "solo") > 0.5
    assert _score(drums, "drums") > 0.5
    assert _score(drums, "drums") > _score(drums, "piano")


# --------------------------------------------------------------------------- catalogue

def test_user_tags_in_the_catalogue(tmp_path):
    from workstation.library import Library

    with Library.open(tmp_path / "lib") as lib:
        a = lib.insert_track(tmp_path / "a.wav", content_hash="h1")
        b = lib.insert_track(tmp_path / "b.wav", content_hash="h2")
        assert lib.add_user_tag(a.id, "  Field   Recording ") is True
        assert lib.add_user_tag(a.id, "field recording") is False     # same tag
        assert lib.add_user_tag(b.id, "field recording") is True
        assert lib.add_user_tag(b.id, "live") is True
        assert lib.user_tags(a.id) == [(a.id, "field recording")]
        assert lib.user_tags() == [(a.id, "field recording"), (b.id, "field recording"), (b.id, "live")]
        assert lib.user_tag_counts() == {"field recording": 2, "live": 1}
        assert lib.tracks_with_user_tag("FIELD recording") == [a.id, b.id]
        assert lib.remove_user_tag(b.id, "live") is True
        assert lib.remove_user_tag(b.id, "live") is False
        with pytest.raises(LibraryError, match="no track"):
            lib.add_user_tag(9999, "x")
        with pytest.raises(LibraryError):
            lib.add_user_tag(a.id, "   ")


def test_an_old_library_file_gains_the_user_tags_table(tmp_path):
    """A library written before user tags (schema 2) opens, keeps its tracks and takes tags."""
    from workstation.library import Library
    from workstation.library.catalog import DB_NAME
    from workstation.library.schema import SCHEMA_VERSION, connect, migrate

    root = tmp_path / "old"
    root.mkdir()
    conn = connect(root / DB_NAME)
    migrate(conn, target=2)
    conn.execute("INSERT INTO tracks (path, status, added_at, updated_at) VALUES (?, 'ok', 0, 0)",
                 (str(tmp_path / "x.wav"),))
    conn.close()
    with Library.open(root) as lib:
        assert lib.schema_version() == SCHEMA_VERSION >= 3
        (t,) = lib.tracks()
        assert lib.add_user_tag(t.id, "old") and lib.user_tags(t.id) == [(t.id, "old")]
    with sqlite3.connect(root / DB_NAME) as c:  # the table and its foreign key are in place
        assert c.execute("SELECT COUNT(*) FROM user_tags").fetchone()[0] == 1


# --------------------------------------------------------------------------- few-shot proposals

@pytest.fixture
def lib_copy(sim_collection, tmp_path):
    root, paths = sim_collection
    shutil.copytree(root, tmp_path / "lib")
    return tmp_path / "lib", paths


def test_few_shot_proposals_on_a_small_real_catalogue(lib_copy):
    from workstation.analysis.tagging import TagProposal, propose_tags
    from workstation.library import Library

    root, paths = lib_copy
    with Library.open(root) as lib:
        tid = {name: lib.track_by_path(p).id for name, p in paths.items()}
        assert propose_tags(lib) == []                        # no hand-given tags yet
        lib.add_user_tag(tid["drums_a"], "percussive")
        lib.add_user_tag(tid["drums_b"], "percussive")
        lib.add_user_tag(tid["tones_a"], "melodic")
        props = propose_tags(lib)
        assert all(isinstance(p, TagProposal) and 0.5 <= p.score <= 1.0 for p in props)
        assert [p.score for p in props] == sorted((p.score for p in props), reverse=True)
        got = {(p.track_id, p.tag): p.score for p in props}
        assert (tid["drums_c"], "percussive") in got
        assert not any((tid[n], "percussive") in got for n in TONES)
        assert (tid["tones_b"], "melodic") in got and (tid["tones_c"], "melodic") in got
        assert not any((tid[n], "melodic") in got for n in DRUMS)
        assert not any(p.track_id in (tid["drums_a"], tid["drums_b"]) and p.tag == "percussive"
                       for p in props)                       # already tagged: not proposed
        melodic = {t: v for (t, g), v in got.items() if g == "melodic"}
        assert max(melodic, key=melodic.get) == tid["dup"]  # the same audio as the example
        # thresholds and selections
        assert propose_tags(lib, min_examples=2, tags=["melodic"]) == []
        assert {p.tag for p in propose_tags(lib, tags=["Percussive"])} == {"percussive"}
        assert len(propose_tags(lib, limit_per_tag=1)) == 2
        strict = propose_tags(lib, min_score=0.99)
        assert len(strict) < len(props)


def test_tag_command(lib_copy, capsys):
    from workstation.cli.main import main

    root, paths = lib_copy
    lib = ["--library", str(root)]
    assert main(lib + ["tag", "suggest"]) == 0
    assert "no proposals" in capsys.readouterr().out
    assert main(lib + ["tag", "add", str(paths["drums_a"]), "Percussive", "loud"]) == 0
    assert main(lib + ["tag", "add", str(paths["drums_b"]), "percussive"]) == 0
    assert "added: 'percussive'" in capsys.readouterr().out
    assert main(lib + ["tag", "list"]) == 0
    out = capsys.readouterr().out
    assert "percussive\t2 tracks" in out and "loud\t1 track" in out
    assert main(lib + ["tag", "remove", str(paths["drums_a"]), "loud"]) == 0
    assert main(lib + ["tag", "list", str(paths["drums_a"])]) == 0
    assert capsys.readouterr().out.strip().endswith(": percussive")
    assert main(lib + ["tag", "suggest", "--json", "--tag", "percussive"]) == 0
    res = json.loads(capsys.readouterr().out)
    names = {r["path"].rsplit("/", 1)[-1] for r in res}
    assert "drums_c.wav" in names and not names & {"tones_a.wav", "tones_b.wav", "tones_c.wav"}
    assert all(r["tag"] == "percussive" and r["score"] >= 0.5 for r in res)
    assert main(lib + ["tag", "add", "/no/such.wav", "x"]) == 2
    assert "not in the library" in capsys.readouterr().err
    assert main(lib + ["tag", "add", str(paths["drums_a"])]) == 2   # no tag given


# --------------------------------------------------------------------------- real recordings

def test_real_piano_recordings_are_tagged_piano(evaldata, fe):
    """The FMP AudioLabs piano recordings (real, never trained on): 'piano' among the top
    three instrument tags of most of them."""
    from workstation.training.evaldata import load_audio
    from workstation.training.train_tags_eval import eval_items

    items = [it for it in eval_items(evaldata) if it.audio.parent.name == "fmp_audiolabs_piano"]
    if not items:
        pytest.skip("the FMP piano recordings are absent")
    hits = []
    for it in items:
        t = analyze_array(load_audio(it), [get_analyzer("tags")], frontend=fe).results["tags"]
        inst = [lab for lab in t.labels if lab in INSTRUMENT_TAGS]
        hits.append("piano" in inst[:3])
    assert np.mean(hits) >= 0.5, hits
