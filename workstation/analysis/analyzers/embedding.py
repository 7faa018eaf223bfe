"""``embedding``: a fixed-length, unit-norm track vector for similarity search: DSP statistics
(``method="dsp"``) or a learned contrastive embedding (``method="learned"``).

``method="dsp"``: timbre, harmony and rhythm statistics (``workstation.core.features``)
accumulated chunk by chunk from the shared mel and STFT front end, so memory is O(1) in the
track's length and the vector does not depend on the chunking. The vector has ``feats.DIM``
dimensions and lives in the space ``'dsp-stats-v1'``.

``method="learned"``: the model ``embedding`` from ``models/`` (sha256-checked; a short-chunk
CNN on the mel spectrogram trained with NT-Xent over augmented views of the same track, see
``workstation.inference.models.embedding``) embeds windows of 3 s (v1) or 4 s (v2) on a
fixed grid from the track's start (batched, ``torch.inference_mode``) into a 128-d track
vector in the space
``'embedding-cnn:<first 12 hex digits of the weights' sha256>'``, so a retrained model is a
new space and the similarity index rebuilds. Each window gives an additive summary (model v2,
``pooling="stats"``: the count, sum and sum of squares of the network's per-step features, so
the track vector comes from the mean and standard deviation of the features over the whole
track; model v1: the window's unit vector times its length); the summaries are summed over
the track and over each segment. Only the current partial window's mel is kept between
chunks, and the result does not depend on the chunking.

Both keep vectors over segments of about ``C.EMBEDDING_SEGMENT_SECONDS`` (equal lengths, the
track split into round(duration / 10 s) parts, at least one), so that a selected region of
a track can be a similarity query (``Embedding.region_vector``). Compare two vectors of one
space by their inner product (cosine similarity), e.g. in a FAISS ``IndexFlatIP``.
"""

from __future__ import annotations

import numpy as np

from workstation.analysis.base import Analyzer, register
from workstation.core import constants as C
from workstation.core import features as feats
from workstation.core.types import Embedding

METHODS = ("dsp", "learned")
#: the default method: dsp until the learned model beats it on real recordings
#: (benchmarks/similarity.py quality, centred P@2: MIR-1K same singer dsp 0.850 vs learned v2
#: 0.717 (v1 0.583), GTZAN same clip dsp 0.933 vs learned v2 0.683 (v1 0.633): dsp stays the
#: default).
DEFAULT_METHOD = "dsp"
#: prefix of the learned embedding's space name (``<prefix>:<sha256[:12]>``).
LEARNED_SPACE_PREFIX = "embedding-cnn"


def _segment_bounds(n_frames: int, sr: int) -> np.ndarray:
    """Frame bounds of the ~10 s segments [shape=(n_seg + 1,)]."""
    frame_s = C.HOP_LENGTH / sr
    seg_frames = C.EMBEDDING_SEGMENT_SECONDS / frame_s
    n_seg = max(1, int(round(n_frames / seg_frames)))
    return np.linspace(0, n_frames, n_seg + 1).round().astype(int)


@register
class DspEmbedding(Analyzer):
    """Embedding result; parameters: ``method`` (``dsp`` | ``learned``), ``model`` (manifest
    name of the learned weights)."""

    id = "embedding"
    methods = METHODS
    version = 2
    result_type = Embedding
    features = ("mel", "stft_mag")
    default_params = {"method": DEFAULT_METHOD, "model": "embedding"}
    description = ("Track vector for similarity (dsp: MFCC/spectral/chroma-interval/onset-rhythm/"
                   f"loudness statistics, {feats.DIM} dims; learned: contrastive CNN on the mel, "
                   "128 dims; cosine similarity), and per ~10 s segment")

    def __init__(self, **params):
        super().__init__(**params)
        if self.params["method"] not in METHODS:
            raise ValueError(f"{self.id}: method must be one of {METHODS}, got {self.params['method']!r}")
        self.features = ("mel",) if self.params["method"] == "learned" else ("mel", "stft_mag")

    def run(self, chunks, track):
        if self.params["method"] == "learned":
            return (yield from self._run_learned(chunks, track))
        stats = feats.TrackStatistics(sr=track.sr)
        frame_s = C.HOP_LENGTH / track.sr
        bounds = _segment_bounds(track.n_frames, track.sr)
        n_seg = len(bounds) - 1
        seg_stats = [feats.TrackStatistics(sr=track.sr) for _ in range(n_seg)]
        for chunk in chunks:
            mel, mag = chunk.mel(), chunk.stft_mag()
            stats.update(mel, mag)
            a0, a1 = chunk.frame_start, chunk.frame_start + chunk.n_frames
            for i in range(n_seg):
                lo, hi = max(a0, bounds[i]), min(a1, bounds[i + 1])
                if hi > lo:
                    seg_stats[i].update(mel[:, lo - a0:hi - a0], mag[:, lo - a0:hi - a0])
            yield chunk.progress
        seg_vectors = np.stack([s.vector() for s in seg_stats]).astype(np.float32)
        seg_times = np.column_stack([bounds[:-1], bounds[1:]]) * frame_s
        return Embedding(vector=stats.vector(), space=feats.SPACE, segment_times_s=seg_times,
                         segment_vectors=seg_vectors)

    def _run_learned(self, chunks, track):
        from workstation.inference.models.embedding import Audio2Embedding, window_bounds
        from workstation.inference.weights import load_model

        device = track.device or "cpu"
        model = load_model(self.params["model"], device=device)
        net = Audio2Embedding(model, device=device)
        space = f"{LEARNED_SPACE_PREFIX}:{model.manifest['sha256'][:12]}"
        W = net.window_frames
        sums, wins = [], []           # additive window summaries and their (start, end) frames
        buf = np.zeros((C.N_MELS, 0), np.float32)
        buf_start = 0                 # global frame of buf[:, 0] (always a multiple of W)
        seen = 0
        for chunk in chunks:
            buf = np.concatenate([buf, chunk.mel().astype(np.float32)], axis=1)
            seen = chunk.frame_start + chunk.n_frames
            n_full = buf.shape[1] // W
            if n_full and not chunk.is_last:
                b = np.column_stack([np.arange(n_full) * W, np.arange(1, n_full + 1) * W])
                sums.append(net.summaries(buf, b))
                wins.append(b + buf_start)
                buf, buf_start = buf[:, n_full * W:], buf_start + n_full * W
            yield chunk.progress
        # the rest (full windows of a last chunk and the final partial window)
        n_total = max(track.n_frames, seen)
        b = window_bounds(n_total, W)
        b = b[b[:, 0] >= buf_start]
        if len(b):
            sums.append(net.summaries(buf, b - buf_start))
            wins.append(b)
        if not sums:  # an empty track
            v = np.zeros(net.dim, np.float32)
            return Embedding(vector=v, space=space)
        sums, wins = np.concatenate(sums), np.concatenate(wins)
        vector = model.vector_from_summary(sums.sum(axis=0))
        bounds = _segment_bounds(n_total, track.sr)
        seg = []
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            # each window counts by the share of it inside the segment
            w = np.maximum(0, np.minimum(wins[:, 1], hi) - np.maximum(wins[:, 0], lo))
            w = w / np.maximum(1, wins[:, 1] - wins[:, 0])
            if w.sum() <= 0:   # a segment shorter than the dropped last remainder: nearest window
                w = np.zeros(len(wins))
                w[int(np.argmin(np.abs(wins.mean(axis=1) - 0.5 * (lo + hi))))] = 1.0
            seg.append(model.vector_from_summary(w @ sums))
        frame_s = C.HOP_LENGTH / track.sr
        return Embedding(vector=vector, space=space,
                         segment_times_s=np.column_stack([bounds[:-1], bounds[1:]]) * frame_s,
                         segment_vectors=np.stack(seg).astype(np.float32))
