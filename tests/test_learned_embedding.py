"""The learned track embedding ``embedding`` (``workstation.inference.models.embedding``) and the
``embedding`` analyzer's ``method="learned"``: shapes, unit norm, determinism, sha256
checking, chunking invariance, segments, a known answer (two halves of one synthetic piece
are closer to each other than to a different piece) and the FAISS index in the new space."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from synth_tones import drum_bursts, tone_pattern
from workstation.analysis.analyzers.embedding import LEARNED_SPACE_PREFIX, METHODS, DspEmbedding
from workstation.analysis.base import get_analyzer
from workstation.analysis.pipeline import analyze_array
from workstation.core import constants as C
from workstation.core import features as feats
from workstation.core.errors import ModelError
from workstation.inference.models.embedding import (MIN_FRAMES, POOLINGS, Audio2Embedding,
                                                    EmbeddingNet, pool_windows, window_bounds)
from workstation.inference.weights import MODELS_DIR, load_model, manifest_entry, read_manifest

SR = C.SAMPLE_RATE

needs_model = pytest.mark.skipif(
    not any(e.get("name") == "embedding" for e in read_manifest()),
    reason="models/embedding.pt not trained yet (python -m workstation.training embedding)")


@pytest.fixture(scope="module")
def model():
    return load_model("embedding")


@pytest.fixture(scope="module")
def frontend():
    from workstation.inference.frontend import FrontEnd
    return FrontEnd("cpu")


def _learned(x, frontend, **kw):
    return analyze_array(x, [get_analyzer("embedding", method="learned")], frontend=frontend,
                         **kw).results["embedding"]


# -- no weights needed ----------------------------------------------------------------------

def test_window_bounds_and_pooling():
    np.testing.assert_array_equal(window_bounds(700, 258), [[0, 258], [258, 516], [516, 700]])
    # a remainder under a quarter window is dropped, unless it is the only window
    np.testing.assert_array_equal(window_bounds(530, 258), [[0, 258], [258, 516]])
    np.testing.assert_array_equal(window_bounds(20, 258), [[0, 20]])
    v = np.array([[1.0, 0.0], [0.0, 1.0]])
    np.testing.assert_allclose(pool_windows(v, np.array([3.0, 1.0])), np.array([3, 1]) / np.sqrt(10),
                               rtol=1e-6)


def test_untrained_network_shapes():
    net = EmbeddingNet().eval()
    mel = np.abs(np.random.default_rng(0).standard_normal((C.N_MELS, 300))).astype(np.float32) ** 2
    with torch.inference_mode():
        y = net(torch.from_numpy(mel)[None])
        z = net.project(net.backbone(net.normalise(torch.from_numpy(mel)[None])))
    assert y.shape == (1, 128) and z.shape == (1, net.hparams["proj_dim"])
    assert abs(float(y.norm()) - 1.0) < 1e-5
    # level invariance of the input normalisation (referenced to the window's maximum)
    loud = mel + 0.01
    a = net.normalise(torch.from_numpy(loud)[None])
    b = net.normalise(torch.from_numpy(loud * 1e-2)[None])
    assert torch.allclose(a, b, atol=1e-4)


def test_summaries_match_the_window_vector_and_add_up():
    """One window's summary gives the network's own window vector (both poolings); summaries
    of the windows of a track add up to the track vector; v1 checkpoints keep their hparams."""
    torch.manual_seed(0)
    mel = np.abs(np.random.default_rng(2).standard_normal((C.N_MELS, 600))).astype(np.float32) ** 2
    assert "pooling" not in EmbeddingNet().hparams            # v1 checkpoints rebuild as they were
    for pooling in POOLINGS:
        net = EmbeddingNet(pooling=pooling, n_tags=5).eval()
        x = net.normalise(torch.from_numpy(mel[:, :258])[None])
        with torch.inference_mode():
            direct = F.normalize(net.backbone(x), dim=1)[0].numpy()
            summ = net.summarise(x)[0].double().numpy()
            assert net.tag_logits(net.backbone(x)).shape == (1, 5)
        assert summ.shape == (net.summary_size,)
        np.testing.assert_allclose(net.vector_from_summary(summ), direct, atol=1e-5)
        a2e = Audio2Embedding(net)
        b = window_bounds(600, net.window_frames)
        s = a2e.summaries(mel, b)
        v = a2e.track_vector(mel)
        np.testing.assert_allclose(v, net.vector_from_summary(s.sum(axis=0)), atol=1e-6)
        assert v.shape == (128,) and abs(float(np.linalg.norm(v)) - 1.0) < 1e-5
        # the windows' unit vectors still come out of __call__
        w, _ = a2e(mel)
        np.testing.assert_allclose(np.linalg.norm(w, axis=1), 1.0, atol=1e-5)
    net = EmbeddingNet(pooling="stats").eval()
    # stats: a window's count is its number of steps; zero padding is left out of the statistics
    with torch.inference_mode():
        full = net.summarise(net.normalise(torch.from_numpy(mel[:, :256])[None]))[0]
    assert float(full[0]) == 256 / net.time_pool / 16
    short = Audio2Embedding(net).summaries(mel[:, :40], np.array([[0, 40]]))[0]
    assert short[0] == np.ceil(40 / net.time_pool / 16) and np.all(short[1 + net.n_features:] >= 0)
    with pytest.raises(ValueError, match="pooling"):
        EmbeddingNet(pooling="median")
    assert np.all(net.vector_from_summary(np.zeros(net.summary_size)) == 0)


def test_training_views_and_targets():
    """The recipe's views have the crop's shape, their tag targets follow the labelled frames,
    and NT-Xent is lower when the two views agree."""
    from workstation.training.train_embedding import EmbeddingConfig, _batch, nt_xent, view_targets
    from workstation.training.train_tags import INSTRUMENT_TAGS, ITEM_TAGS, VOCABULARY

    rng = np.random.default_rng(0)
    n_items, n = 4, 600
    bands = C.N_MELS // 2
    act = np.zeros((len(INSTRUMENT_TAGS), n_items * n), bool)
    act[0, :n // 2] = True                     # item 0: piano in its first half only
    item_tags = np.zeros((n_items, len(ITEM_TAGS)), np.float32)
    item_tags[1, 0] = 1.0
    data = dict(x=rng.uniform(-80, 0, (bands, n_items * n)).astype(np.float16),
                starts=np.arange(n_items) * n, lengths=np.full(n_items, n), act=act, item_tags=item_tags)
    t = view_targets(data, 0, 0.0, 200.0)
    assert t.shape == (len(VOCABULARY),) and t[0] == 1.0 and t[1:].sum() == 0
    assert view_targets(data, 0, 350.0, 200.0)[0] == 0.0
    assert view_targets(data, 1, 0.0, 200.0)[len(INSTRUMENT_TAGS)] == 1.0
    cfg = EmbeddingConfig(batch=3, crop_frames=128)
    net = EmbeddingNet(pooling="stats", n_tags=len(VOCABULARY), window_frames=128)
    x, y = _batch(net, data, np.arange(n_items), rng, cfg)
    assert x.shape == (6, 1, bands, 128) and y.shape == (6, len(VOCABULARY))
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    z = torch.randn(4, 16)
    assert nt_xent(torch.cat([z, z]), 0.1) < nt_xent(torch.cat([z, torch.randn(4, 16)]), 0.1)


def test_methods_and_default():
    assert DspEmbedding.methods == METHODS == ("dsp", "learned")
    assert get_analyzer("embedding").params["method"] in METHODS
    with pytest.raises(ValueError, match="method"):
        get_analyzer("embedding", method="magic")
    a, b = get_analyzer("embedding", method="learned"), get_analyzer("embedding", method="dsp")
    assert a.params_hash() != b.params_hash()
    assert a.features == ("mel",) and b.features == ("mel", "stft_mag")


def test_dsp_method_unchanged(frontend):
    e = analyze_array(tone_pattern(6.0), [get_analyzer("embedding", method="dsp")],
                      frontend=frontend).results["embedding"]
    assert e.space == feats.SPACE and e.vector.shape == (feats.DIM,)


# -- the trained weights --------------------------------------------------------------------

@needs_model
def test_network_shapes_norm_and_determinism(model):
    assert isinstance(model, EmbeddingNet)
    mel = np.abs(np.random.default_rng(1).standard_normal((C.N_MELS, 700))).astype(np.float32) ** 2
    net = Audio2Embedding(model)
    v, b = net(mel)
    wb = window_bounds(700, model.window_frames)
    assert v.shape == (len(wb), 128) and v.dtype == np.float32
    np.testing.assert_array_equal(b, wb)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    v2, _ = net(mel)
    np.testing.assert_array_equal(v, v2)
    v3, _ = Audio2Embedding(model, batch_size=1)(mel)
    np.testing.assert_allclose(v3, v, atol=1e-5)
    short, bs = net(mel[:, :MIN_FRAMES // 3])
    assert short.shape == (1, 128) and bs.tolist() == [[0, MIN_FRAMES // 3]]
    with pytest.raises(ValueError):
        net(mel[0])


@needs_model
def test_checkpoint_rebuilds_and_hparams_travel(model):
    entry = manifest_entry("embedding")
    assert entry["sample_rate"] == C.SAMPLE_RATE and entry["hop_length"] == C.HOP_LENGTH
    assert entry["input"]["feature"] == "mel"
    ckpt = torch.load(MODELS_DIR / entry["file"], map_location="cpu", weights_only=True)
    assert ckpt["arch"] == "embedding_cnn" and ckpt["hparams"] == model.hparams
    assert model.hparams["n_mels"] == C.N_MELS


@needs_model
def test_sha256_mismatch_is_refused(tmp_path):
    entry = manifest_entry("embedding")
    for sub in ("good", "bad"):
        (tmp_path / sub).mkdir()
        shutil.copy(MODELS_DIR / entry["file"], tmp_path / sub / entry["file"])
        (tmp_path / sub / "manifest.json").write_text(json.dumps([entry]))
    assert isinstance(load_model("embedding", models_dir=tmp_path / "good"), EmbeddingNet)
    bad = tmp_path / "bad" / entry["file"]
    data = bytearray(bad.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="sha256"):
        load_model("embedding", models_dir=tmp_path / "bad")


@needs_model
def test_analyzer_result_segments_and_chunking(frontend):
    x = tone_pattern(24.0) + drum_bursts(24.0, level=0.1)
    e = _learned(x, frontend)
    assert e.vector.shape == (128,) and e.vector.dtype == np.float32
    assert abs(float(np.linalg.norm(e.vector)) - 1.0) < 1e-5
    assert e.space == f"{LEARNED_SPACE_PREFIX}:{manifest_entry('embedding')['sha256'][:12]}"
    # 24 s -> two segments of 12 s, each with a unit vector in the same space
    assert e.segment_times_s.shape == (2, 2) and e.segment_vectors.shape == (2, 128)
    assert abs(e.segment_times_s[-1, 1] - 24.0) < 0.05
    np.testing.assert_allclose(np.linalg.norm(e.segment_vectors, axis=1), 1.0, atol=1e-5)
    assert e.region_vector(0.0, 5.0).shape == (128,)
    # chunking does not change the vectors (windows lie on a fixed grid from frame 0)
    many = _learned(x, frontend, chunk_s=7.0)
    np.testing.assert_allclose(many.vector, e.vector, atol=1e-4)
    np.testing.assert_allclose(many.segment_vectors, e.segment_vectors, atol=1e-4)
    assert many.space == e.space


@needs_model
def test_known_answer_same_piece_is_closer(frontend):
    """Two halves of one piece (a melody of harmonic tones; drum bursts) are closer to each
    other than to the other piece, and the recording level does not matter."""
    tone = tone_pattern(24.0, level=0.3)
    drums = drum_bursts(24.0, level=0.3)
    h = len(tone) // 2
    t1, t2 = _learned(tone[:h], frontend).vector, _learned(tone[h:], frontend).vector
    d1, d2 = _learned(drums[:h], frontend).vector, _learned(drums[h:], frontend).vector
    assert float(t1 @ t2) > float(t1 @ d1) + 0.1, (float(t1 @ t2), float(t1 @ d1))
    assert float(d1 @ d2) > float(d1 @ t2) + 0.1, (float(d1 @ d2), float(d1 @ t2))
    quiet = _learned(tone[:h] * 0.1, frontend).vector
    assert float(quiet @ t1) > 0.99


@needs_model
def test_similarity_index_in_the_learned_space(frontend):
    from workstation.library.index import SimilarityIndex

    signals = [tone_pattern(12.0, seed=0), tone_pattern(12.0, level=0.2, seed=1, noise=0.003),
               drum_bursts(12.0), drum_bursts(12.0, bpm=100.0, seed=4),
               tone_pattern(12.0, root=45, bpm=80.0) + drum_bursts(12.0, level=0.2)]
    embs = [_learned(x, frontend) for x in signals]
    assert len({e.space for e in embs}) == 1
    idx = SimilarityIndex(128, space=embs[0].space)
    idx.add(np.arange(len(embs)), np.stack([e.vector for e in embs]))
    idx.build()
    ids, scores = idx.search(embs[0].vector, 2, exclude_ids=[0])
    assert ids[0] == 1, (ids, scores)
    ids, _ = idx.search(embs[2].vector, 1, exclude_ids=[2])
    assert ids[0] == 3
