"""Hand-given tags in the window: *Tags ▸ Add / Remove tag* on the selected tracks and
*Tags ▸ Suggest tags* (embedding prototypes of the tags given so far) with its dialog.

The catalogue edits and the proposals run on the library task thread (``edit_user_tags``,
``suggest_tags``, given the library and the similarity search handle); ``TagController``
asks for them and shows their answers (rows, status line, the suggestions dialog).
"""

from __future__ import annotations

import weakref
from pathlib import Path

from PySide6.QtWidgets import QInputDialog

from .similarity_control import SearchHandle


def edit_user_tags(library, handle: SearchHandle, pairs: list[tuple[int, str]], remove: bool):
    """Add (or remove) hand-given tags, (track id, tag) pairs, on the task thread; returns
    (track ids touched, number of changes, remove)."""
    changed = 0
    for tid, tag in pairs:
        changed += bool(library.remove_user_tag(tid, tag) if remove else library.add_user_tag(tid, tag))
    ids = sorted({int(t) for t, _ in pairs})
    search = handle.peek()
    if search is not None:
        search.forget_meta(ids)
    return ids, changed, remove


def suggest_tags(library, handle: SearchHandle):
    """Tag proposals for the collection (task thread): ([(track id, title, tag, score)], error)."""
    from workstation.analysis.tagging import TaggingError, propose_tags
    search = handle.get()
    try:
        search.sync()
        proposals = propose_tags(library, embedding=search.spec)
    except TaggingError as e:
        return [], str(e)
    out = []
    for p in proposals:
        try:
            m = search.meta(p.track_id)
            title = m.title or Path(m.path).stem
        except Exception:  # noqa: BLE001 - a track removed meanwhile
            continue
        out.append((p.track_id, title, p.tag, float(p.score)))
    return out, ""


class TagController:
    """The *Tags* menu's work for ``window`` (a ``MainWindow``). ``dialog`` is the last
    *Suggested tags* dialog (None before the first)."""

    def __init__(self, window, handle: SearchHandle):
        self._window = weakref.ref(window)  # no Python cycle through the window
        self.handle = handle
        self.dialog = None

    @property
    def window(self):
        return self._window()

    def add_tag_dialog(self) -> None:
        """Ask for a tag (one given before, or a new one) to give the selected tracks."""
        w = self.window
        ids = w.selected_track_ids()
        if not ids:
            w.status("Select the tracks to tag first")
            return
        known = sorted(w.library.user_tag_counts())
        tag, ok = QInputDialog.getItem(w, "Add tag", f"Tag for {len(ids)} track(s):", known, 0, True)
        if ok and tag.strip():
            self.tag_tracks(ids, tag)

    def remove_tag_dialog(self) -> None:
        """Ask which of the selected tracks' hand-given tags to take away."""
        w = self.window
        ids = w.selected_track_ids()
        present = sorted({tag for tid in ids for _, tag in w.library.user_tags(tid)})
        if not present:
            w.status("The selected tracks have no tags given by hand")
            return
        tag, ok = QInputDialog.getItem(w, "Remove tag", f"Tag to remove from {len(ids)} track(s):",
                                       present, 0, False)
        if ok and tag:
            self.tag_tracks(ids, tag, remove=True)

    def tag_tracks(self, track_ids, tag: str, *, remove: bool = False) -> int:
        """Give (or take away) a hand-given tag to tracks (task thread; rows refresh); the
        ticket."""
        w = self.window
        tag = w.library.normalize_tag(tag)
        return self._edit([(int(t), tag) for t in track_ids], remove)

    def apply_tag_pairs(self, pairs) -> int:
        """Add hand-given tags, (track id, tag) pairs (the accepted suggestions); the ticket."""
        return self._edit([(int(t), str(g)) for t, g in pairs], False)

    def _edit(self, pairs: list[tuple[int, str]], remove: bool) -> int:
        # every edit counts (not superseded by the next one): no key
        return self.window.tasks.submit("user_tags", edit_user_tags, self.window.library, self.handle,
                                        pairs, remove, on_done=self._edited)

    def _edited(self, result) -> None:
        w = self.window
        ids, changed, remove = result
        w.refresh_rows(ids)
        w.status(f"{'Removed' if remove else 'Added'} {changed} tag(s) on {len(ids)} track(s)")
        if w.current_track_id in ids:
            w.similarity_control.similar_for = None
            w.request_similar()

    def suggest_tags(self) -> int:
        """Propose the hand-given tags for the other tracks (embedding prototypes); the
        *Suggested tags* dialog opens with the result. The ticket."""
        w = self.window
        w.status("Looking for tracks like the ones you tagged…")
        return w.tasks.submit("suggest_tags", suggest_tags, w.library, self.handle,
                              on_done=self._suggested, key="suggest_tags")

    def _suggested(self, result) -> None:
        from .tag_dialog import TagSuggestionsDialog
        w = self.window
        proposals, error = result
        self.dialog = TagSuggestionsDialog(proposals, w, message=error)
        self.dialog.applied.connect(self.apply_tag_pairs)
        self.dialog.open()
        w.status(error or f"{len(proposals)} tag suggestions")
