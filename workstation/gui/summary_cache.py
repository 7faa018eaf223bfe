"""What the library table shows of each track's results without reading them: the key label,
the tempo and the top tags per result file, cached in ``<library>/gui_summary.json`` (Qt-free;
``library_model.load_rows`` reads it on a loader thread)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from workstation.core.units import key_label

log = logging.getLogger(__name__)

AnalyzerKey = tuple[str, int, str]  # (analyzer id, version, params hash)
SUMMARY_FILE = "gui_summary.json"


class SummaryCache:
    """Key label and tempo per result file, cached in ``<library>/gui_summary.json`` so that
    opening a large collection does not read thousands of result files again."""

    def __init__(self, library_root: Path):
        self.path = Path(library_root) / SUMMARY_FILE
        self.data: dict[str, object] = {}
        self.dirty = False
        try:
            self.data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as e:
            log.warning("%s: unreadable GUI summary cache (%s); rebuilding it", self.path, e)

    def get(self, library, content_hash: str, key: AnalyzerKey, field: str):
        ck = f"{content_hash}/{key[0]}/{key[1]}/{key[2]}"
        if ck in self.data:
            return self.data[ck]
        res = library.store.load(content_hash, *key)
        value = None
        if res is not None:
            if field == "key" and hasattr(res, "tonic_pc"):
                value = key_text(res)
            elif field == "tempo" and hasattr(res, "tempo_bpm"):
                value = float(res.tempo_bpm)
            elif field == "tags" and hasattr(res, "labels"):
                order = np.argsort(-np.asarray(res.scores, dtype=np.float64))[:3]
                value = ", ".join(str(res.labels[i]) for i in order if float(res.scores[i]) >= 0.5)
        self.data[ck] = value
        self.dirty = True
        return value

    def save(self) -> None:
        if not self.dirty:
            return
        from workstation.core.atomic import atomic_write
        try:
            with atomic_write(self.path) as tmp, open(tmp, "w", encoding="utf-8") as f:
                json.dump(self.data, f)
            self.dirty = False
        except OSError as e:
            log.warning("%s: cannot write the GUI summary cache: %s", self.path, e)


def key_text(key) -> str:
    """A key result as the Key column shows it ('A minor')."""
    return key_label(int(key.tonic_pc), str(key.mode)).replace(":", " ")
