"""``tags``: instrument-family, ensemble and style tags with scores, from a short-chunk CNN on
the shared mel spectrogram (``workstation.inference.models.tags``, weights ``tags`` in
``models/``, sha256-checked).

The mel frames of the stream are cut into windows of the model's ``window_frames`` (about
3 s) every ``hop_frames`` (default: the window, no overlap), plus one window ending at the
last frame; a track shorter than a window is one window. Windows are gathered across the
analysis chunks (only the frames not yet windowed are kept: bounded memory, and the result
does not depend on where the chunks are cut) and run in batches under
``torch.inference_mode``. Track score per tag = ``pool`` of the window probabilities
(default ``meanmax``: the average of the mean and the max, so a tag heard in part of a track
still scores). The result lists every vocabulary tag whose score is at least ``floor``,
best first.

Vocabulary: see ``workstation.training.train_tags`` (GM instrument families, drums, voice,
solo, corpus styles); it travels inside the checkpoint.
"""

from __future__ import annotations

import numpy as np

from workstation.analysis.base import Analyzer, register
from workstation.core import constants as C
from workstation.core.types import Tags

METHODS = ("learned",)
#: windows run through the network at once.
BATCH_WINDOWS = 32


def make_tags(labels, scores, *, floor: float = 0.0) -> Tags:
    """A Tags result: the labels with score >= ``floor``, sorted by score (best first, ties
    by label)."""
    s = np.asarray(scores, dtype=np.float64)
    order = sorted(range(len(s)), key=lambda i: (-s[i], str(labels[i])))
    keep = [i for i in order if s[i] >= floor]
    return Tags(labels=[str(labels[i]) for i in keep], scores=s[keep].astype(np.float32))


@register
class TagsAnalyzer(Analyzer):
    """Tags result; parameters: ``model`` (manifest name), ``hop_frames`` (0: one window
    length), ``pool`` (mean | max | meanmax), ``floor`` (drop tags scoring below)."""

    id = "tags"
    methods = METHODS
    version = 1
    result_type = Tags
    features = ("mel",)
    default_params = {"method": "learned", "model": "tags", "hop_frames": 0, "pool": "meanmax",
                      "floor": 0.0}
    description = ("Instrument-family, voice, solo and style tags with scores "
                   "(short-chunk CNN on the mel spectrogram, ~3 s windows, pooled over the track)")

    def __init__(self, **params):
        super().__init__(**params)
        if self.params["method"] not in METHODS:
            raise ValueError(f"{self.id}: method must be one of {METHODS}, got {self.params['method']!r}")
        if self.params["pool"] not in ("mean", "max", "meanmax"):
            raise ValueError(f"{self.id}: pool must be mean, max or meanmax, got {self.params['pool']!r}")

    def run(self, chunks, track):
        from workstation.inference.models.tags import Audio2Tags, pool_scores
        from workstation.inference.weights import load_model

        model = load_model(self.params["model"], device=track.device or "cpu")
        net = Audio2Tags(model, device=track.device or "cpu", batch_size=BATCH_WINDOWS)
        L = net.window_frames
        hop = int(self.params["hop_frames"]) or L
        probs: list[np.ndarray] = []
        pending: list[np.ndarray] = []
        buf = np.zeros((C.N_MELS, 0), np.float32)   # frames from global frame `base` on
        base = 0
        next_start = 0                              # next window start (global frame)
        last_start = -1                             # start of the last window run
        for chunk in chunks:
            buf = np.concatenate([buf, chunk.mel().astype(np.float32)], axis=1)
            end = base + buf.shape[1]
            while next_start + L <= end:
                pending.append(buf[:, next_start - base:next_start - base + L])
                last_start = next_start
                next_start += hop
                if len(pending) >= BATCH_WINDOWS:
                    probs.append(net(np.stack(pending)))
                    pending = []
            drop = max(0, min(next_start, end - L) - base)  # keep what a later window needs
            if drop:
                buf = buf[:, drop:].copy()
                base += drop
            yield chunk.progress
        end = base + buf.shape[1]
        if end > 0 and (last_start < 0 or last_start + L < end):
            # the tail (or a track shorter than one window): one window ending at the last frame
            tail = buf[:, max(0, end - L) - base:]
            if tail.shape[1] == L:
                pending.append(tail)
            else:
                probs.append(net(tail[None]))
        if pending:
            probs.append(net(np.stack(pending)))
        if not probs:
            return Tags(labels=[], scores=np.zeros(0, np.float32))
        p = np.concatenate(probs, axis=0)
        return make_tags(net.labels, pool_scores(p, pool=self.params["pool"]),
                         floor=float(self.params["floor"]))
