"""Analyzers, the per-track pipeline, the job scheduler and the worker process."""

from .base import Analyzer, FeatureChunk, ResultKey, TrackInfo, get_analyzer, register, registry

__all__ = ["Analyzer", "FeatureChunk", "ResultKey", "TrackInfo", "get_analyzer", "register", "registry"]
