"""Plain, picklable job descriptions and events exchanged with the worker process.

The worker and its clients (CLI, GUI) exchange only these, ids and ``core``
types, never Qt objects or tensors.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from workstation.analysis.base import Analyzer, get_analyzer, registry

#: The analyzers run when none are named, in dependency order.
DEFAULT_ANALYZERS: tuple[str, ...] = ("pitch.f0", "pitch.salience", "notes", "key", "beats",
                                      "tags", "embedding")


#: Speed presets: the method each analyzer runs (analyzers not named keep their default).
#: ``fast``: the defaults, chosen to keep the whole pipeline at 30x realtime or more on 2 CPU
#: cores. ``best``: the most accurate methods on the development set whatever they cost
#: (meant for a GPU, or a patient CPU user): CREPE full for f0 (~1x realtime on 2 CPU cores).
PRESETS: dict[str, dict[str, str]] = {
    "fast": {},
    "best": {"pitch.f0": "crepe-full"},
}


@dataclass(frozen=True)
class AnalyzerSpec:
    """An analyzer by id (or ``package.module:Class`` for a plug-in) and its parameters."""

    id: str
    params: tuple[tuple[str, Any], ...] = ()

    def build(self) -> Analyzer:
        if ":" in self.id:
            mod, _, cls = self.id.partition(":")
            return getattr(importlib.import_module(mod), cls)(**dict(self.params))
        return get_analyzer(self.id, **dict(self.params))


def specs_for(ids: list[str] | tuple[str, ...] | None = None) -> list[AnalyzerSpec]:
    """Specs for analyzer ids (default: every built-in), adding the analyzers they require."""
    ids = list(ids or [a for a in DEFAULT_ANALYZERS if a in registry()])
    out: list[str] = []

    def add(i: str) -> None:
        if i in out:
            return
        if ":" not in i:
            for dep in registry()[i].requires if i in registry() else ():
                add(dep)
        out.append(i)

    for i in ids:
        if ":" not in i and i not in registry():
            raise KeyError(f"unknown analyzer {i!r}; known: {', '.join(sorted(registry()))}")
        add(i)
    return [AnalyzerSpec(i) for i in out]


@dataclass(frozen=True)
class Job:
    """Analyse one track with some analyzers."""

    track_id: int
    path: str
    content_hash: str
    specs: tuple[AnalyzerSpec, ...]


@dataclass(frozen=True)
class Event:
    """Something the worker (or the scheduler on its behalf) reports.

    kind: 'ready' | 'track_started' | 'progress' | 'analyzer_done' | 'analyzer_failed' |
    'track_done' | 'track_failed' | 'track_cancelled' | 'worker_crashed' | 'all_done'.
    """

    kind: str
    track_id: int | None = None
    analyzer_id: str | None = None
    progress: float | None = None
    message: str = ""
    data: dict = field(default_factory=dict)
