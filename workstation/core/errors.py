"""The Workstation's error family: messages a user can act on.

Every error that reaches a user names the file (where there is one) and the
reason in plain words.
"""

from __future__ import annotations

from pathlib import Path


class WorkstationError(Exception):
    """Base of every error the Workstation raises on purpose."""


class AudioError(WorkstationError):
    """An audio file cannot be analysed: unreadable, corrupt, empty, silent, not audio..."""

    def __init__(self, path: str | Path | None, reason: str):
        self.path = str(path) if path is not None else None
        self.reason = reason
        where = f"{self.path}: " if self.path else ""
        super().__init__(f"{where}{reason}")


class AnnotationError(WorkstationError):
    """An annotation file cannot be read or written.

    ``readings``: when the file is ambiguous (it fits several formats), each plausible
    reading by a label a user can choose from (``"notes: onset, pitch, duration"``) -> its
    results by analyzer id; empty otherwise. ``read_annotation_file(path, reading=label)``
    reads the file the chosen way."""

    def __init__(self, path: str | Path | None, reason: str, readings: dict | None = None):
        self.path = str(path) if path is not None else None
        self.reason = reason
        self.readings = dict(readings or {})
        where = f"{self.path}: " if self.path else ""
        super().__init__(f"{where}{reason}")


class LibraryError(WorkstationError):
    """The catalogue or the result store is missing, locked or inconsistent."""


class ModelError(WorkstationError):
    """Model weights are missing, corrupt (sha256 mismatch) or incompatible."""


class AnalysisError(WorkstationError):
    """An analyzer failed on a track."""


class Cancelled(WorkstationError):
    """The user cancelled the work in progress."""
