"""What a user adds to the tracks of a library, kept in the catalogue apart from the
analysis: hand-given tags, the reference annotation file of a track, and layers corrected
by hand.

``UserData`` is a mixin of ``Library`` (it uses the library's ``_conn``, ``_write`` and
``track``). An edited layer is stored whole, as the current revision of that layer of the
recording (``layer_edits``, keyed like the analyses by the file's content hash: the result as
an ``.npz`` archive in a BLOB, its revision number, what it was made over and from): never
over the analysis, so a re-analysis leaves it, removing the track from the library keeps it
(scanning the file again brings it back), and reverting drops it.
"""

from __future__ import annotations

import io
import logging
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workstation.core.errors import LibraryError
from workstation.core.types import Result, result_from_arrays

from .paths import normalize_path

log = logging.getLogger(__name__)

#: The layers a user may correct (analyzer ids).
EDITABLE_LAYERS = ("notes", "beats", "pitch.f0", "key")


@dataclass(frozen=True)
class LayerEdit:
    """The current hand-corrected revision of one layer of a track: ``result`` (the whole
    layer), ``revision`` (1 for the first save, +1 for each later one), ``based_on`` (what
    the analysis layer underneath was when it was last saved: its provenance text),
    ``source`` (where it came from: 'window', or the file given to ``layer set``) and
    ``edited_at`` (seconds since the epoch)."""

    track_id: int
    layer: str
    revision: int
    result: Result
    based_on: str = ""
    source: str = ""
    edited_at: float = 0.0


def _to_blob(result: Result) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **result.to_arrays())
    return buf.getvalue()


def _from_blob(blob: bytes) -> Result:
    with np.load(io.BytesIO(blob), allow_pickle=False) as z:
        return result_from_arrays({k: z[k] for k in z.files})


class UserData:
    """Hand-given tags, reference files and edited layers of a library's tracks (mixin)."""

    # -- user tags ---------------------------------------------------------------------

    @staticmethod
    def normalize_tag(tag: str) -> str:
        """The stored form of a user tag: stripped, inner whitespace collapsed, lower case;
        LibraryError when empty."""
        t = " ".join(str(tag).split()).lower()
        if not t:
            raise LibraryError(f"a tag needs at least one visible character, got {tag!r}")
        return t

    def add_user_tag(self, track_id: int, tag: str) -> bool:
        """Tag a track by hand; True if the tag is new on it, False if it was there already.
        LibraryError when there is no such track."""
        t = self.normalize_tag(tag)
        self.track(track_id)  # a clear error for an unknown id
        with self._write() as c:
            cur = c.execute("INSERT OR IGNORE INTO user_tags (track_id, tag, added_at) VALUES (?, ?, ?)",
                            (int(track_id), t, time.time()))
            return cur.rowcount > 0

    def remove_user_tag(self, track_id: int, tag: str) -> bool:
        """Remove a hand-given tag; True if it was there."""
        t = self.normalize_tag(tag)
        with self._write() as c:
            cur = c.execute("DELETE FROM user_tags WHERE track_id = ? AND tag = ?", (int(track_id), t))
            return cur.rowcount > 0

    def user_tags(self, track_id: int | None = None) -> list[tuple[int, str]]:
        """(track id, tag) pairs given by hand, of one track or of all, by track then tag."""
        if track_id is None:
            rows = self._conn().execute("SELECT track_id, tag FROM user_tags ORDER BY track_id, tag")
        else:
            rows = self._conn().execute(
                "SELECT track_id, tag FROM user_tags WHERE track_id = ? ORDER BY tag", (int(track_id),))
        return [(int(r[0]), str(r[1])) for r in rows]

    def user_tag_counts(self) -> dict[str, int]:
        """Every hand-given tag and how many tracks carry it, by tag."""
        rows = self._conn().execute("SELECT tag, COUNT(*) FROM user_tags GROUP BY tag ORDER BY tag")
        return {str(r[0]): int(r[1]) for r in rows}

    def tracks_with_user_tag(self, tag: str) -> list[int]:
        """Ids of the tracks carrying a hand-given tag, by id."""
        rows = self._conn().execute("SELECT track_id FROM user_tags WHERE tag = ? ORDER BY track_id",
                                    (self.normalize_tag(tag),))
        return [int(r[0]) for r in rows]

    # -- reference annotations -----------------------------------------------------------

    def set_reference_path(self, track_id: int, path: str | Path, reading: str | None = None
                           ) -> None:
        """Remember the reference annotation file loaded for a track (absolute path; one per
        track, a new one replaces the old) and, for a file that fits several formats, the
        ``reading`` the user chose. LibraryError when there is no such track."""
        self.track(track_id)  # a clear error for an unknown id
        with self._write() as c:
            c.execute("INSERT OR REPLACE INTO track_references (track_id, path, added_at, reading) "
                      "VALUES (?, ?, ?, ?)",
                      (int(track_id), normalize_path(path), time.time(), reading))

    def reference(self, track_id: int) -> tuple[str, str | None] | None:
        """(path, reading or None) of the reference annotation file remembered for a track,
        or None."""
        row = self._conn().execute("SELECT path, reading FROM track_references WHERE track_id = ?",
                                   (int(track_id),)).fetchone()
        return (str(row[0]), row[1]) if row else None

    def forget_reference_path(self, track_id: int) -> bool:
        """Forget a track's reference annotation file (the file is not touched); True if one
        was remembered."""
        with self._write() as c:
            return c.execute("DELETE FROM track_references WHERE track_id = ?",
                             (int(track_id),)).rowcount > 0

    # -- layers corrected by hand -----------------------------------------------------------

    def _recording(self, track_id: int) -> str:
        """The content hash a track's corrections are stored under; LibraryError for an
        unknown track or one not hashed yet (unreadable)."""
        t = self.track(track_id)  # a clear error for an unknown id
        if not t.content_hash:
            raise LibraryError(f"{t.path}: the file has not been read yet ({t.status}); "
                               "it has no layers to correct")
        return t.content_hash

    def set_edit(self, track_id: int, layer: str, result: Result, *, based_on: str = "",
                 source: str = "") -> int:
        """Store ``result`` as the edited ``layer`` of a track (replacing the previous
        revision); returns its revision number. Corrections belong to the recording (the
        track's content hash, like its analyses): a copy of the same file shares them, and
        they stay when the track is removed from the library. LibraryError for an unknown
        track or a layer that cannot be edited."""
        if layer not in EDITABLE_LAYERS:
            raise LibraryError(f"layer {layer!r} cannot be edited; one of {', '.join(EDITABLE_LAYERS)}")
        h = self._recording(track_id)
        blob = _to_blob(result)
        with self._write() as c:
            row = c.execute("SELECT revision FROM layer_edits WHERE content_hash = ? AND layer = ?",
                            (h, layer)).fetchone()
            revision = (int(row[0]) if row else 0) + 1
            c.execute("INSERT OR REPLACE INTO layer_edits (content_hash, layer, revision, result, "
                      "based_on, source, edited_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                      (h, layer, revision, blob, based_on, source, time.time()))
        return revision

    def edits(self, track_id: int) -> dict[str, LayerEdit]:
        """The edited layers of a track by layer id. A stored layer that no longer reads is
        left out with a warning (it stays stored until reverted or saved again)."""
        rows = self._conn().execute(
            "SELECT e.layer, e.revision, e.result, e.based_on, e.source, e.edited_at "
            "FROM layer_edits e JOIN tracks t ON t.content_hash = e.content_hash "
            "WHERE t.id = ? ORDER BY e.layer", (int(track_id),)).fetchall()
        out = {}
        for layer, revision, blob, based_on, source, edited_at in rows:
            try:
                result = _from_blob(blob)
            except (OSError, ValueError, KeyError, zipfile.BadZipFile) as e:
                log.warning("track %s: the edited %s layer cannot be read (%s)", track_id, layer, e)
                continue
            out[layer] = LayerEdit(int(track_id), layer, int(revision), result, based_on,
                                   source, float(edited_at))
        return out

    def revert_edit(self, track_id: int, layer: str) -> bool:
        """Drop the edited ``layer`` of a track (back to the analysis); True if there was one."""
        try:
            h = self._recording(track_id)
        except LibraryError:
            return False
        with self._write() as c:
            return c.execute("DELETE FROM layer_edits WHERE content_hash = ? AND layer = ?",
                             (h, layer)).rowcount > 0

    def edited_layers(self) -> dict[int, list[str]]:
        """Track id -> its edited layers, for every track that has one (the library's marks)."""
        out: dict[int, list[str]] = {}
        for tid, layer in self._conn().execute(
                "SELECT t.id, e.layer FROM layer_edits e JOIN tracks t "
                "ON t.content_hash = e.content_hash ORDER BY t.id, e.layer"):
            out.setdefault(int(tid), []).append(str(layer))
        return out
