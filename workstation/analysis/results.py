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
        key = a.result_key
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
        rec = library.get_analysis(track.content_hash, *a.result_key)
        if rec is not None and rec.status == "failed":
            out[a.id] = rec.error or "failed"
    return out


def provenance(specs: list[AnalyzerSpec]) -> dict[str, dict]:
    """What made each layer, by analyzer id, for the exports: {"tool": "Workstation 0.1.0",
    "analyzer", "analyzer_version", "method", "params_hash", "models": [{"name", "version",
    "sha256" (first 12 hex digits), "licence"}], "inputs": [ids of the layers it was made
    from], "text": one line for people (CSV comments, MIDI text events, JAMS
    ``annotation_tools``)}."""
    from workstation import __version__
    from workstation.core.errors import ModelError
    from workstation.inference.manifest import manifest_entry

    out: dict[str, dict] = {}
    for spec in specs:
        a = spec.build()
        models = []
        for name in a.models_used():
            try:
                e = manifest_entry(name)
            except ModelError:
                e = {}
            models.append({"name": name, "version": e.get("version", ""),
                           "sha256": str(e.get("sha256", "absent"))[:12],
                           "licence": e.get("licence", "")})
        method = str(a.params.get("method", "")) if a.params.get("method") is not None else ""
        out[a.id] = {"tool": f"Workstation {__version__}", "analyzer": a.id,
                     "analyzer_version": a.version, "method": method,
                     "params_hash": a.result_key.params_hash, "models": models,
                     "inputs": list(a.requires)}
    for p in out.values():
        words = [p["tool"], f"{p['analyzer']} v{p['analyzer_version']}"]
        if p["method"]:
            words.append(f"method {p['method']}")
        words += [f"model {m['name']} sha256 {m['sha256']}"
                  + (f" ({m['licence'].split(' (')[0]})" if m["licence"] else "")
                  for m in p["models"]]
        words += [f"from {i}: {out[i]['method'] or 'default'}" for i in p["inputs"] if i in out]
        words.append(f"params {p['params_hash']}")
        p["text"] = "; ".join(words)
    return out


def _as_chosen(results: dict[str, Result], made: dict[str, dict]) -> dict[str, dict]:
    """``made`` with what a per-track method (``auto``) chose for this track, where the
    layer's result records it (``Notes.method``): ``"chosen": "f0"`` and "method auto (f0)"
    in the text."""
    out = dict(made)
    for layer, p in made.items():
        chosen = getattr(results.get(layer), "method", "")
        if p.get("method") == "auto" and isinstance(chosen, str) and chosen:
            out[layer] = {**p, "chosen": chosen,
                          "text": p["text"].replace("method auto", f"method auto ({chosen})", 1)}
    return out


def with_edits(library, track, results: dict[str, Result], made: dict[str, dict]
               ) -> tuple[dict[str, Result], dict[str, dict]]:
    """``results`` with the track's layers corrected by hand in place of the analysis, and
    ``made`` (``provenance``) saying so for those layers: ``"edited": {"revision",
    "edited_at" (ISO 8601, UTC), "source", "based_on"}`` and a text that starts "corrected by
    hand" and names the method and model of the analysis underneath; and, for the layers a
    per-track method made, what it chose (``_as_chosen``). Every export writes these (CLI
    and window)."""
    import datetime as dt

    made = _as_chosen(results, made)
    edits = library.edits(track.id)
    if not edits:
        return results, made
    results, made = dict(results), dict(made)
    for layer, e in edits.items():
        results[layer] = e.result
        p = dict(made.get(layer) or {"tool": "", "analyzer": layer, "analyzer_version": 0,
                                      "method": "", "params_hash": "", "models": [],
                                      "inputs": [], "text": ""})
        when = dt.datetime.fromtimestamp(e.edited_at, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        p["edited"] = {"revision": e.revision, "edited_at": when, "source": e.source,
                       "based_on": e.based_on}
        over = e.based_on or p.get("text") or "no analysis"
        src = f", from {e.source}" if e.source and e.source != "window" else ""
        p["text"] = f"corrected by hand (revision {e.revision}, {when}{src}) over: {over}"
        made[layer] = p
    return results, made
