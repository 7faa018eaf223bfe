"""The window's session state, without Qt: the shown track, the loaded references, the
corrected layers, the analyzer specs (methods) and the analysis run's progress, each with a
change event that views and controllers subscribe to (DESIGN.md, GUI: the ``state`` layer).

Controllers change the state through its methods; what shows it (the status line, the
progress bar, the track view's legend) subscribes to its events, so the text a person reads
is computed from the state (``RunProgress.status_text``), never kept on its own. Nothing here
imports Qt, so the state is tested without a window (tests/test_gui_state.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


class Event:
    """A change event: ``connect(fn)``, ``disconnect(fn)``, ``emit(*args)`` calls every
    connected function in order (a failing subscriber is logged; the others still run)."""

    def __init__(self, name: str = ""):
        self.name = name
        self._subscribers: list[Callable] = []

    def connect(self, fn: Callable) -> None:
        if fn not in self._subscribers:
            self._subscribers.append(fn)

    def disconnect(self, fn: Callable) -> None:
        if fn in self._subscribers:
            self._subscribers.remove(fn)

    def emit(self, *args) -> None:
        for fn in list(self._subscribers):
            try:
                fn(*args)
            except Exception:   # one broken view must not stop the others
                log.exception("subscriber of %s failed", self.name or "an event")


@dataclass
class RunProgress:
    """One analysis run: ``jobs`` tracks to analyse, ``finished`` of them (``failed`` among
    them), ``running``: {track id: its fraction done (0..1)} of the tracks in flight (several
    with several workers or a cluster), the first failure's message; ``active`` from start to
    finish, ``paused`` while paused; the worker's final ``counts``."""

    jobs: int = 0
    finished: int = 0
    failed: int = 0
    running: dict = field(default_factory=dict)
    first_error: str = ""
    active: bool = False
    paused: bool = False
    counts: dict = field(default_factory=dict)
    #: the Ray cluster the run goes to ("" for the local worker) and tracks finished per node
    cluster: str = ""
    nodes: dict = field(default_factory=dict)

    @property
    def done_fraction(self) -> float:
        """How much of the run is done, 0..1."""
        return min(1.0, (self.finished + sum(self.running.values())) / self.jobs) if self.jobs else 0.0

    def status_text(self) -> str:
        """The status line for this run, from its counts."""
        if self.active:
            if not self.jobs:
                return "Starting analysis…"
            where = f" on cluster {self.cluster}" if self.cluster else ""
            text = f"Analysing{where}: {self.finished}/{self.jobs} tracks"
            text += " (paused)" if self.paused else ""
            text += f", {self.failed} failed" if self.failed else ""
            if self.nodes:
                text += " (" + ", ".join(f"{n}: {k}" for n, k in sorted(self.nodes.items())) + ")"
            return text
        c = self.counts
        if not self.jobs and not c.get("done") and not c.get("failed"):
            return "Everything is analysed already"
        text = f"Analysis finished: {c.get('done', 0)} done"
        if c.get("failed"):
            text += f", {c['failed']} failed (first: {self.first_error or 'see the rows'})"
        if c.get("cancelled"):
            text += f", {c['cancelled']} cancelled"
        return text


class SessionState:
    """What the window is showing and doing. Events (arguments):

    - ``track_changed(track_id | None)``: another track is shown;
    - ``references_changed(track_id)``: a reference was loaded or dropped for that track;
    - ``edits_changed(track_id, {layer: revision}})``: the corrected layers of a track
      (revision 0: changed, not saved yet);
    - ``specs_changed(specs)``: the analyzers and their methods;
    - ``progress_changed(RunProgress)``: the analysis run moved on.
    """

    def __init__(self):
        self.track_changed = Event("track_changed")
        self.references_changed = Event("references_changed")
        self.edits_changed = Event("edits_changed")
        self.specs_changed = Event("specs_changed")
        self.progress_changed = Event("progress_changed")
        self._track_id: int | None = None
        #: loaded reference annotations per track id: (results by analyzer id, file path)
        self.references: dict[int, tuple[dict, str]] = {}
        self._edits: dict[int, dict[str, int]] = {}
        self.specs: list = []
        self.run = RunProgress()

    # -- the shown track --------------------------------------------------------------
    @property
    def track_id(self) -> int | None:
        return self._track_id

    def set_track(self, track_id: int | None) -> None:
        if track_id != self._track_id:
            self._track_id = track_id
            self.track_changed.emit(track_id)

    # -- references -------------------------------------------------------------------
    def set_reference(self, track_id: int, results: dict, path: str) -> None:
        self.references[track_id] = (results, str(path))
        self.references_changed.emit(track_id)

    def drop_reference(self, track_id: int) -> bool:
        gone = self.references.pop(track_id, None) is not None
        if gone:
            self.references_changed.emit(track_id)
        return gone

    # -- corrected layers -------------------------------------------------------------
    def edits(self, track_id: int) -> dict[str, int]:
        """Layer -> revision of the track's corrected layers (0: not saved yet)."""
        return dict(self._edits.get(track_id, {}))

    def set_edits(self, track_id: int, revisions: dict[str, int]) -> None:
        revisions = {str(k): int(v) for k, v in revisions.items()}
        if self._edits.get(track_id) != revisions:
            self._edits[track_id] = revisions
            self.edits_changed.emit(track_id, dict(revisions))

    # -- methods ----------------------------------------------------------------------
    def set_specs(self, specs) -> None:
        self.specs = list(specs)
        self.specs_changed.emit(self.specs)

    # -- the analysis run -------------------------------------------------------------
    def run_requested(self, cluster: str | None = None) -> None:
        """A run was asked for (its job count comes with ``run_started``), on the local worker
        or on the Ray ``cluster``."""
        self.run = RunProgress(active=True, cluster=cluster or "")
        self.progress_changed.emit(self.run)

    def run_started(self, n_jobs: int) -> None:
        self.run.jobs = int(n_jobs)
        self.run.active = n_jobs > 0
        if not n_jobs:
            self.run.counts = {}
        self.progress_changed.emit(self.run)

    def run_event(self, kind: str, progress: float | None = None, message: str = "",
                  node: str | None = None, track_id: int | None = None) -> None:
        """A worker event (``kind`` as ``analysis.jobs`` events: progress, analyzer_done,
        track_done, track_failed, track_cancelled) of track ``track_id``; ``node``: the
        cluster node that ran it."""
        r = self.run
        if kind in ("progress", "analyzer_done"):
            r.running[track_id] = min(1.0, float(progress or 0.0))
        elif kind in ("track_done", "track_failed", "track_cancelled"):
            r.finished += 1
            r.running.pop(track_id, None)
            if node:
                r.nodes[node] = r.nodes.get(node, 0) + 1
            if kind == "track_failed":
                r.failed += 1
                r.first_error = r.first_error or message
        else:
            return
        self.progress_changed.emit(r)

    def set_paused(self, paused: bool) -> None:
        if self.run.paused != bool(paused):
            self.run.paused = bool(paused)
            self.progress_changed.emit(self.run)

    def run_finished(self, counts: dict) -> None:
        self.run.active = False
        self.run.paused = False
        self.run.counts = dict(counts)
        self.progress_changed.emit(self.run)
