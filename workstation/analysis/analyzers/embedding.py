"""``embedding``: a fixed-length DSP track vector from timbre, harmony and rhythm statistics.

The statistics (``workstation.core.features``) are accumulated chunk by chunk from the shared
mel and STFT front end, so memory is O(1) in the track's length and the vector does not
depend on the chunking. The vector has ``feats.DIM`` dimensions, unit L2 norm, and lives
in the space ``'dsp-stats-v1'``: compare two vectors by their inner product (cosine
similarity), e.g. in a FAISS ``IndexFlatIP``.
"""

from __future__ import annotations

from workstation.analysis.base import Analyzer, register
from workstation.core import features as feats
from workstation.core.types import Embedding


@register
class DspEmbedding(Analyzer):
    id = "embedding"
    version = 1
    result_type = Embedding
    features = ("mel", "stft_mag")
    description = ("Track vector from MFCC/spectral/chroma-interval/onset-rhythm/loudness "
                   f"statistics ({feats.DIM} dims, cosine similarity)")

    def run(self, chunks, track):
        stats = feats.TrackStatistics(sr=track.sr)
        for chunk in chunks:
            stats.update(chunk.mel(), chunk.stft_mag())
            yield chunk.progress
        return Embedding(vector=stats.vector(), space=feats.SPACE)
