"""The result store: one ``.npz`` file per (content hash, analyzer, version, params hash).

Layout under the store root (``<library>/results``)::

    <hash[:2]>/<hash>/<analyzer_id>-v<version>-<params_hash>.npz

Writes are atomic: the arrays go to a temporary file in the same folder, which is
flushed and fsynced, then renamed over the final name, and the folder is fsynced. A
reader therefore sees either the old file, the new one, or none; a process killed
mid-write leaves at most a ``.tmp-*`` file, which is never read. A file that cannot be
read back completely (truncated, bad CRC, missing fields) counts as missing: ``load``
logs a warning and returns None, so the analysis is redone rather than trusted.
"""

from __future__ import annotations

import logging
import os
import re
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np

from workstation.core.atomic import save_npz
from workstation.core.errors import LibraryError
from workstation.core.types import Result, result_from_arrays

log = logging.getLogger(__name__)

TEMP_PREFIX = ".ws-"   # the temporary files of workstation.core.atomic
_HASH_RE = re.compile(r"^[0-9a-f]{4,128}$")
_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")
_LOAD_ERRORS = (OSError, ValueError, EOFError, KeyError, TypeError, zipfile.BadZipFile, zlib.error)


class ResultStore:
    """Analysis results on disk, keyed like the ``analyses`` table."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path_for(self, content_hash: str, analyzer_id: str, version: int, params_hash: str) -> Path:
        """Where the result for this key lives (whether or not it exists)."""
        if not _HASH_RE.match(content_hash or ""):
            raise LibraryError(f"invalid content hash {content_hash!r} (lower-case hex expected)")
        for what, value in (("analyzer id", analyzer_id), ("params hash", params_hash)):
            if not _NAME_RE.match(value or "") or value.startswith("."):
                raise LibraryError(f"invalid {what} {value!r} for a result file name")
        return (self.root / content_hash[:2] / content_hash /
                f"{analyzer_id}-v{int(version)}-{params_hash}.npz")

    def save(self, content_hash: str, analyzer_id: str, version: int, params_hash: str,
             result: Result) -> Path:
        """Write ``result`` atomically; returns its path."""
        final = self.path_for(content_hash, analyzer_id, version, params_hash)
        final.parent.mkdir(parents=True, exist_ok=True)
        return save_npz(final, durable=True, **result.to_arrays())

    def load(self, content_hash: str, analyzer_id: str, version: int,
             params_hash: str) -> Result | None:
        """The stored result, or None when there is none or it cannot be read back whole."""
        return self.load_path(self.path_for(content_hash, analyzer_id, version, params_hash))

    def load_path(self, path: str | Path) -> Result | None:
        """Read a result file; None (with a warning) when it is missing, partial or corrupt."""
        path = Path(path)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}  # reads every member: CRCs are checked
            return result_from_arrays(arrays)
        except _LOAD_ERRORS as e:
            log.warning("result file %s is unreadable (%s: %s); treating it as missing",
                        path, type(e).__name__, e)
            return None

    def exists(self, content_hash: str, analyzer_id: str, version: int, params_hash: str) -> bool:
        return self.path_for(content_hash, analyzer_id, version, params_hash).is_file()

    def intact(self, content_hash: str, analyzer_id: str, version: int, params_hash: str) -> bool:
        """Whether the result file is there and ends as a whole ``.npz`` does (a zip's
        end-of-central-directory record in its last 22 bytes): one small read, cheap enough
        for every record a run relies on. A deleted or truncated file is not intact; damage
        inside a file shows when it is read (``load`` returns None, and
        ``analysis.results.load_results`` sends the record back to 'pending')."""
        p = self.path_for(content_hash, analyzer_id, version, params_hash)
        try:
            with open(p, "rb") as f:
                f.seek(-22, os.SEEK_END)
                return f.read(4) == b"PK\x05\x06"
        except OSError:   # missing, unreadable, or shorter than 22 bytes
            return False

    def delete(self, content_hash: str, analyzer_id: str, version: int, params_hash: str) -> bool:
        """Remove a stored result; True if there was one."""
        p = self.path_for(content_hash, analyzer_id, version, params_hash)
        try:
            p.unlink()
        except FileNotFoundError:
            return False
        return True

    def remove_stale_temp(self, *, max_age_s: float = 3600.0) -> int:
        """Delete leftover temporary files older than ``max_age_s`` (from killed writers).
        Younger ones may belong to a writer still running and are left alone."""
        now = time.time()
        n = 0
        for p in self.root.glob(f"*/*/{TEMP_PREFIX}*"):
            try:
                if now - p.stat().st_mtime > max_age_s:
                    p.unlink()
                    n += 1
            except FileNotFoundError:
                continue
        return n
