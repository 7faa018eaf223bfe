"""Reading stored results back for a track (used by the CLI, exports and the GUI)."""

from __future__ import annotations

from workstation.analysis.jobs import AnalyzerSpec
from workstation.core.types import Result


#: The reason a 'done' analysis goes back to 'pending' when its result file cannot be read.
UNREADABLE = "its stored result was unreadable (deleted, truncated or damaged); it is redone by the next analysis"


def load_results(library, track, specs: list[AnalyzerSpec]) -> dict[str, Result]:
    """The stored results of ``track`` for ``specs`` that are done and readable, by analyzer id.
    A 'done' record whose file cannot be read back goes back to 'pending' (with the reason
    ``UNREADABLE``), so that the next analysis recomputes it instead of trusting it."""
    out: dict[str, Result] = {}
    for spec in specs:
        a = spec.build()
        key = (a.id, a.version, a.params_hash())
        rec = library.get_analysis(track.content_hash, *key)
        if rec is None or rec.status != "done":
            continue
        res = library.store.load(track.content_hash, *key)
        if res is not None:
            out[a.id] = res
        else:
            library.set_analysis(track.content_hash, *key, status="pending", error=UNREADABLE)
    return out


def analysis_errors(library, track, specs: list[AnalyzerSpec]) -> dict[str, str]:
    """Reasons of the failed analyses of ``track``, by analyzer id."""
    out: dict[str, str] = {}
    for spec in specs:
        a = spec.build()
        rec = library.get_analysis(track.content_hash, a.id, a.version, a.params_hash())
        if rec is not None and rec.status == "failed":
            out[a.id] = rec.error or "failed"
    return out
