"""``embedding``: a fixed-length DSP track vector from timbre, harmony and rhythm statistics.

The statistics (``workstation.core.features``) are accumulated chunk by chunk from the shared
mel and STFT front end, so memory is O(1) in the track's length and the vector does not
depend on the chunking. The vector has ``feats.DIM`` dimensions, unit L2 norm, and lives
in the space ``'dsp-stats-v1'``: compare two vectors by their inner product (cosine
similarity), e.g. in a FAISS ``IndexFlatIP``.

Version 2 also keeps the same statistics over segments of about
``C.EMBEDDING_SEGMENT_SECONDS`` (equal lengths, the track split into round(duration / 10 s)
parts, at least one), so that a selected region of a track can be a similarity query
(``Embedding.region_vector``).
"""

from __future__ import annotations

import numpy as np

from workstation.analysis.base import Analyzer, register
from workstation.core import constants as C
from workstation.core import features as feats
from workstation.core.types import Embedding


@register
class DspEmbedding(Analyzer):
    id = "embedding"
    version = 2
    result_type = Embedding
    features = ("mel", "stft_mag")
    description = ("Track vector from MFCC/spectral/chroma-interval/onset-rhythm/loudness "
                   f"statistics ({feats.DIM} dims, cosine similarity), and per ~10 s segment")

    def run(self, chunks, track):
        stats = feats.TrackStatistics(sr=track.sr)
        frame_s = C.HOP_LENGTH / track.sr
        seg_frames = C.EMBEDDING_SEGMENT_SECONDS / frame_s
        n_seg = max(1, int(round(track.n_frames / seg_frames)))
        bounds = np.linspace(0, track.n_frames, n_seg + 1).round().astype(int)
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
