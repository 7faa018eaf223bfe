"""Exports write through the one atomic write (``workstation.core.atomic``), with errors as
``AnnotationError`` naming the file."""

from __future__ import annotations

from functools import partial

from workstation.core.atomic import discard, remove_stale_temps, temp_path_beside
from workstation.core.atomic import atomic_write as _atomic_write
from workstation.core.errors import AnnotationError

#: ``with atomic_write(target, what) as tmp:`` -- errors become ``AnnotationError(target, ...)``.
atomic_write = partial(_atomic_write, error=AnnotationError)

__all__ = ["atomic_write", "discard", "remove_stale_temps", "temp_path_beside"]
