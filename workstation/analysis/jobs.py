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
#: Whole pipeline on 2 CPU cores (benchmarks/throughput.py, 10 min of audio):
#: ``default``: every default (CREPE tiny f0, basic-pitch salience), 24x realtime;
#: ``fast``: pYIN for f0 (as good on solo voice, poor in accompaniment: MIR-1K mixes RPA 0.32
#: vs 0.81), 38x; ``best``: CREPE full for f0 (MIR-1K mixes 0.85), 2x on 2 CPU cores, 89x on a GPU.
PRESETS: dict[str, dict[str, str]] = {
    "default": {},
    "fast": {"pitch.f0": "pyin"},
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


def with_methods(specs: list[AnalyzerSpec], chosen: dict[str, str]) -> list[AnalyzerSpec]:
    """``specs`` with the methods ``chosen`` ({analyzer id: method}; the CLI's ``--preset`` and
    ``--method``, the window's *Analysis ▸ Methods*) and what those methods require added
    before the analyzer that needs it (``notes`` with ``method="f0"`` requires ``pitch.f0``,
    which ``specs_for`` cannot know from the id alone), each with its default parameters. A
    spec that does not build is left as it is (the run reports it)."""
    out = [AnalyzerSpec(s.id, (("method", chosen[s.id]),)) if s.id in chosen else s for s in specs]
    for spec in list(out):
        try:
            requires = spec.build().requires
        except Exception:   # a plug-in that does not build: its run reports why, per track
            continue
        have = {s.id for s in out}
        at = out.index(spec)
        out[at:at] = [AnalyzerSpec(r) for r in requires if r not in have]
    return out


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
