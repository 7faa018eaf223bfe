"""``workstation analyze --cluster ADDRESS``: the jobs as Ray tasks (``workstation.cluster``),
with the CLI's progress and a summary per node."""

from __future__ import annotations

import sys


def run_on_cluster_cli(lib, jobs, address: str, on_event, bar, *, device: str, quiet: bool,
                       gpu_share: float | None = None) -> dict:
    """The jobs as Ray tasks on the cluster at ``address`` (``--cluster``), results written
    here as they arrive (or by the tasks into the library's shared store, ``--store``); a
    summary per node at the end."""
    from collections import Counter

    from workstation.cluster import run_on_cluster

    nodes: Counter = Counter()

    def on_cluster_event(ev):
        if ev.kind in ("track_done", "track_failed") and (ev.data or {}).get("node"):
            nodes[ev.data["node"]] += 1
        on_event(ev)

    try:
        counts = run_on_cluster(lib, jobs, address, on_event=on_cluster_event, device=device,
                                gpu_share=gpu_share)
    except KeyboardInterrupt:
        print("\ncancelled; run the same command again to resume", file=sys.stderr)
        raise SystemExit(130)
    finally:
        bar.close()
    if not quiet:
        per_node = ", ".join(f"{n}: {k}" for n, k in sorted(nodes.items()))
        print(f"cluster {address}: {counts['done']} tracks done, {counts['failed']} failed, "
              f"{counts['submitted']} tasks" + (f" (per node: {per_node})" if per_node else "")
              + (f"; each task had {counts['gpu_share']:g} of a GPU" if counts.get("gpu_share") else ""),
              file=sys.stderr)
    return counts
