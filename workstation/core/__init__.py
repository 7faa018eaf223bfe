"""Plain data types, unit conversions, audio decoding, chunking, post-processing, errors.

Imports numpy, scipy and soundfile only.
"""

from .errors import (AnalysisError, AnnotationError, AudioError, Cancelled, LibraryError,
                     ModelError, WorkstationError)
from .types import Beats, Embedding, Key, Notes, PitchTrack, Result, Salience, Tags

__all__ = [
    "AnalysisError", "AnnotationError", "AudioError", "Beats", "Cancelled", "Embedding", "Key",
    "LibraryError", "ModelError", "Notes", "PitchTrack", "Result", "Salience", "Tags",
    "WorkstationError",
]
