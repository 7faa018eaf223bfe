"""Reference annotations of the shown track: reading a file the user opens (Ctrl+L or a
drop), saying plainly why a file cannot be used, and remembering the file per track in
the catalogue so that it comes back when the track is shown again after a restart.

The reading and the catalogue writes run on the window's library task thread
(``read_reference``, ``restore_reference``, ``forget_reference``, given the library);
``ReferenceController`` turns their answers (to its ``answered``) into reference layers, a
comparison, a status line or a dialog.
"""

from __future__ import annotations

import logging
import re
import weakref
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QMessageBox

from workstation.core.errors import WorkstationError

from .message_box import open_warning

log = logging.getLogger(__name__)

#: Task tags of the reading (only the latest one counts), reloading and forgetting tasks.
TAG_OPEN = "annotation"
TAG_RESTORE = "reference_restore"
TAG_FORGET = "reference_forget"

# a trailing "SomeError(...)" repr some readers append to their reason
_EXC_REPR = re.compile(r"(?::\s*)?\b[A-Z]\w*(?:Error|Exception)\(.*\)\s*$")


@dataclass(frozen=True)
class ReferenceRead:
    """The answer of a reading task: the results by analyzer id, or ``error``, the reason
    in plain words why the file cannot be used, with ``readings``: the ways the user may
    choose to read a file that fits several formats (labels). ``reading``: the way it was
    read when the user chose one. ``restored``: the file was the one remembered for the
    track (not one the user just opened)."""

    track_id: int
    path: str
    results: dict = field(default_factory=dict)
    error: str = ""
    restored: bool = False
    epoch: int = 0
    readings: tuple = ()
    reading: str | None = None


def plain_reason(exc: BaseException) -> str:
    """Why a file cannot be read, as a sentence for the user: the reader's reason without
    the file name (the dialog names it) and without exception class names."""
    reason = str(getattr(exc, "reason", "") or "")
    if not reason:
        reason = str(exc) if isinstance(exc, WorkstationError) else ""
    reason = _EXC_REPR.sub("", reason).strip().rstrip(".")
    if not reason:
        reason = "its content could not be read"
    return reason[0].upper() + reason[1:]


def _read(path: str, reading: str | None = None) -> tuple[dict, str, tuple]:
    """(results, '', ()) or ({}, reason, readings to choose from) for an annotation file."""
    from workstation.export import read_annotation_file
    try:
        return read_annotation_file(path, reading=reading), "", ()
    except WorkstationError as e:
        return {}, plain_reason(e), tuple(getattr(e, "readings", None) or ())
    except Exception as e:  # noqa: BLE001 - a reader's bug must not lose the reason
        log.exception("reading the annotation %s failed", path)
        return {}, plain_reason(e), ()


def read_reference(library, track_id: int, path: str, epoch: int = 0,
                   reading: str | None = None) -> ReferenceRead:
    """Read an annotation file the user opened for a track (task thread), the way the user
    chose (``reading``) when it fits several formats; when it reads, remember it and the
    choice for the track in the catalogue (a file that does not read is not remembered, and
    the one remembered before stays)."""
    results, error, readings = _read(path, reading)
    if not error:
        try:
            library.set_reference_path(track_id, path, reading)
        except WorkstationError as e:  # the track was removed meanwhile
            log.warning("cannot remember the reference of track %s: %s", track_id, e)
    return ReferenceRead(track_id, str(path), results, error, restored=False, epoch=epoch,
                         readings=readings, reading=reading)


def restore_reference(library, track_id: int, epoch: int = 0) -> ReferenceRead | None:
    """Read the annotation file remembered for a track, the way chosen then (task thread);
    None when there is none. A remembered file that is gone or no longer reads is forgotten."""
    remembered = library.reference(track_id)
    if remembered is None:
        return None
    path, reading = remembered
    if not Path(path).is_file():
        results, error = {}, "The file is no longer there"
    else:
        results, error, _ = _read(path, reading)
    if error:
        library.forget_reference_path(track_id)
    return ReferenceRead(track_id, path, results, error, restored=True, epoch=epoch,
                         reading=reading)


def forget_reference(library, track_id: int) -> bool:
    """Forget the reference file remembered for a track (task thread)."""
    return library.forget_reference_path(track_id)


def ask_reading(parent, path: str, reason: str, readings) -> QMessageBox:
    """A window-modal question, opened without blocking: ``path`` fits several formats
    (``reason``); one button per reading (its label) and Cancel. Returns the dialog; the
    caller connects ``buttonClicked`` (a reading button's ``property("reading")`` is its
    label)."""
    name = Path(path).name
    box = QMessageBox(QMessageBox.Icon.Question, "How should this annotation be read?",
                      f"“{name}” can be read in more than one way.", QMessageBox.StandardButton.Cancel,
                      parent)
    box.setInformativeText(f"{reason}.\n\nChoose how to read it (the choice is remembered "
                           f"for this track), or cancel.\n\nFile: {path}")
    for label in readings:
        b = box.addButton(f"Read as {label}", QMessageBox.ButtonRole.AcceptRole)
        b.setProperty("reading", label)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
    box.setWindowModality(Qt.WindowModality.WindowModal)
    box.open()
    return box


def show_reference_error(parent, path: str, reason: str) -> QMessageBox:
    """A window-modal warning, opened without blocking, that ``path`` cannot be used as a
    reference annotation and why. Returns the dialog (tests read its text and close it)."""
    return open_warning(parent, "Cannot open the annotation",
                        f"“{Path(path).name}” cannot be used as a reference annotation.",
                        f"{reason}.\n\nFile: {path}")


class ReferenceController(QObject):
    """The reference annotations of ``window`` (a ``MainWindow``): its ``references`` dict
    (track id -> (results, path)), the track view's reference layers and the comparison.

    ``open`` reads a file for the shown track, ``clear`` drops and forgets it,
    ``track_shown`` reloads the remembered file of a track shown without one, and
    ``answered`` takes the reading tasks' answers. ``error_box`` is the last error dialog.
    """

    def __init__(self, window):
        super().__init__(window)
        self._window = weakref.ref(window)  # no Python cycle through the window
        self.error_box: QMessageBox | None = None
        # bumped per track by each clear and each open: a restore answer from before is stale
        self._epoch: dict[int, int] = {}
        self._clears: dict[int, int] = {}

    @property
    def window(self):
        return self._window()

    def open(self, path: str | Path, reading: str | None = None) -> bool:
        """Read ``path`` (task thread) as the reference of the shown track (``reading``: the
        way chosen for a file that fits several formats)."""
        w = self.window
        tid = w.current_track_id
        if tid is None:
            w.status("Select a track first, then open its annotation")
            return False
        self._epoch[tid] = self._epoch.get(tid, 0) + 1
        w.tasks.submit(TAG_OPEN, read_reference, w.library, tid, str(path),
                       self._clears.get(tid, 0), reading, on_done=self.answered, key=TAG_OPEN)
        w.status(f"Reading {Path(path).name}…")
        return True

    def _chosen(self, track_id: int, path: str, button) -> None:
        """The user chose a reading in the question dialog (or cancelled)."""
        reading = button.property("reading") if button is not None else None
        if reading and track_id == self.window.current_track_id:
            self.open(path, reading)

    def clear(self) -> None:
        """Drop the shown track's reference and forget its file in the catalogue."""
        w = self.window
        tid = w.current_track_id
        if tid is not None:
            w.state.drop_reference(tid)
            self._epoch[tid] = self._epoch.get(tid, 0) + 1
            self._clears[tid] = self._clears.get(tid, 0) + 1
            w.tasks.submit(TAG_FORGET, forget_reference, w.library, tid)
        w.view.set_references({})
        w.compare.clear()

    def track_shown(self, track_id: int) -> None:
        """A track's data is shown: draw its loaded reference, or look for a remembered one."""
        w = self.window
        refs, source = w.references.get(track_id, ({}, ""))
        if refs:
            w.view.set_references(refs, source)
        else:
            w.tasks.submit(TAG_RESTORE, restore_reference, w.library, track_id,
                           self._epoch.get(track_id, 0), on_done=self.answered)

    def answered(self, result: ReferenceRead | None) -> None:
        """A reading task's answer (GUI thread)."""
        if result is None:
            return
        w = self.window
        tid, name = result.track_id, Path(result.path).name
        if result.restored:
            if result.epoch != self._epoch.get(tid, 0) or tid in w.references:
                return  # the user opened or closed a reference meanwhile
            if result.error:
                msg = (f"The reference {name} remembered for this track could not be reloaded "
                       f"({result.error[0].lower() + result.error[1:]}); it is forgotten.")
                w.status(msg)
                if tid == w.current_track_id:
                    w.compare.clear(msg)
                return
        elif result.epoch != self._clears.get(tid, 0):
            return  # closed meanwhile
        elif result.error and result.readings and tid == w.current_track_id:
            w.status(f"{name} can be read in more than one way: choose one")
            self.error_box = ask_reading(w, result.path, result.error, result.readings)
            self.error_box.buttonClicked.connect(
                lambda b, t=tid, p=result.path: self._chosen(t, p, b))
            return
        elif result.error:
            w.status(f"Reading {name} failed: {result.error}")
            self.error_box = show_reference_error(w, result.path, result.error)
            return
        w.state.set_reference(tid, result.results, result.path)
        if tid == w.current_track_id and w.view.data is not None:
            w.view.set_references(result.results, result.path)
            w.track_control.request_compare()
        layers = ", ".join(sorted(result.results)) or "no layer"
        how = f" (read as {result.reading})" if result.reading else ""
        w.status(f"{'Reloaded' if result.restored else 'Loaded'} reference {name}{how}: {layers}")
