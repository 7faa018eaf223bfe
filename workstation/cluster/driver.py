"""The cluster driver: runs analysis jobs as Ray tasks and writes their results locally.

Each track is one Ray task that decodes the file and runs the analyzers the track still
needs, with the same pipeline as the local worker (``analysis.worker.analyze_file``). The
task only computes: it returns its results, errors and display features, and this driver,
in the process that submitted the run, writes them into the library (``store.save`` and
``set_analysis`` under each analyzer's ``result_key``) as tasks finish. The cache keys are
therefore the local run's, a re-run skips what is done, and no cluster process ever opens
the library's SQLite. Files are read by path: every node must see the same paths (a
shared filesystem).

Faults: a task whose worker process or node dies is retried by Ray (``retries`` times);
after that the track fails with "worker died on the cluster after N attempts". A bad file
or a failing analyzer fails as it does locally, with the same reasons. A
``KeyboardInterrupt`` in the driver cancels the outstanding tasks (``ray.cancel``) and
marks their unfinished analyses 'cancelled'.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from workstation.analysis.jobs import AnalyzerSpec, Event, Job
from workstation.analysis.worker import needs_display, plan_job, write_display
from workstation.core.errors import WorkstationError

from .gpus import gpu_share as _gpu_share, task_device, unusable_gpu

log = logging.getLogger(__name__)

EventFn = Callable[[Event], None]

INSTALL_HINT = "install the cluster extra: pip install -e .[cluster]"


@dataclass(frozen=True)
class ClusterAddress:
    """Where to run: ``local`` (start a Ray head here with ``cpus`` CPUs) or ``connect`` to
    ``address`` (``auto``, ``ray://host:port`` or ``host:port``)."""

    kind: str
    address: str | None = None
    cpus: int | None = None


def parse_address(text: str) -> ClusterAddress:
    """``local:N`` | ``auto`` | ``ray://HOST:PORT`` | ``HOST:PORT`` -> a ClusterAddress;
    anything else is a WorkstationError naming the forms."""
    t = (text or "").strip()
    m = re.fullmatch(r"local:(\d+)", t)
    if m:
        n = int(m.group(1))
        if n < 1:
            raise WorkstationError(f"--cluster {text}: local:N needs N >= 1 CPUs")
        return ClusterAddress("local", None, n)
    if t == "auto" or re.fullmatch(r"ray://[\w.\-\[\]:]+:\d+", t) or re.fullmatch(r"[\w.\-]+:\d+", t):
        return ClusterAddress("connect", t)
    raise WorkstationError(f"--cluster {text!r}: expected local:N (start a local Ray cluster "
                           "with N CPUs), auto (the running cluster), ray://HOST:PORT or HOST:PORT")


def import_ray():
    """The ``ray`` module, or a WorkstationError saying how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise WorkstationError(f"analysis on a cluster needs Ray ({exc}); {INSTALL_HINT}") from None
    return ray


# ---- the task (runs in a Ray worker process) --------------------------------------------

_FRONTENDS: dict[str, Any] = {}


def _node() -> tuple[str, str | None, list | None]:
    """(the node's address, Ray's node id, the GPU ids Ray gave the task) of the process
    running the task; outside Ray (a direct call in a test): (the host name, None, None)."""
    try:
        import ray
        return (ray.util.get_node_ip_address(), ray.get_runtime_context().get_node_id(),
                list(ray.get_gpu_ids()))
    except Exception:
        return os.uname().nodename, None, None


def analyze_task(path: str, specs: tuple[AnalyzerSpec, ...], todo_ids: list[str],
                 known: dict[str, Any], device: str, display: bool,
                 store: tuple[str, str, dict] | None = None) -> dict:
    """One track on a cluster worker: run the analyzers ``todo_ids`` (in this order) of
    ``specs`` on the file at ``path``; ``known``: the cached results they require. Returns
    {'results': {id: (result, elapsed_s)}, 'errors': {id: reason}, 'track_error': reason or
    None, 'display': DisplayFeatures or None, 'node' (its address), 'node_id' (Ray's),
    'pid', 'device' (``gpus.task_device``: cuda where Ray gave the task a GPU), 'elapsed_s'}. Never raises for
    a bad file or a failing analyzer: those come back as reasons, worded as locally.
    ``store``: (shared result store folder, content hash, {id: result key}): each result is
    written there by this task (atomically) and comes back as (None, elapsed_s, path)
    instead of the arrays (``--store``)."""
    from workstation.analysis.worker import (analyze_file, analyzer_error, make_frontend,
                                             trim_heap, unexpected_error)

    t0 = time.perf_counter()
    node, node_id, gpu_ids = _node()
    out: dict[str, Any] = {"results": {}, "errors": {}, "track_error": None, "display": None,
                           "node": node, "node_id": node_id, "pid": os.getpid(), "device": None}
    try:
        device = out["device"] = task_device(device, gpu_ids)
        built = {}
        for s in specs:
            a = s.build()
            built[a.id] = a
        todo = [built[i] for i in todo_ids]
        if device not in _FRONTENDS:
            try:
                _FRONTENDS[device] = make_frontend(device)
            except WorkstationError:
                if gpu_ids:
                    raise WorkstationError(unusable_gpu(node, gpu_ids)) from None
                raise
        frontend = _FRONTENDS[device]

        shared = None
        if store is not None:
            from workstation.library.store import ResultStore
            shared = ResultStore(store[0])

        def on_result(a, result, elapsed: float) -> None:
            if shared is None:
                out["results"][a.id] = (result, elapsed)
            else:
                path_ = shared.save(store[1], *store[2][a.id], result)
                out["results"][a.id] = (None, elapsed, str(path_))

        def on_error(a, exc: BaseException) -> None:
            out["errors"][a.id] = analyzer_error(a, path, exc)

        out["display"] = analyze_file(path, todo, frontend, known=known, on_result=on_result,
                                      on_error=on_error, display=display, threads=1)
    except WorkstationError as exc:
        out["track_error"] = str(exc)
    except Exception as exc:   # unexpected: reported with the file name, as locally
        log.exception("unexpected error on %s", path)
        out["track_error"] = unexpected_error(path, exc)
    out["elapsed_s"] = time.perf_counter() - t0
    trim_heap()
    return out


# ---- the driver -------------------------------------------------------------------------

_DIED = ("WorkerCrashedError", "NodeDiedError", "LocalRayletDiedError", "OutOfMemoryError",
         "ActorDiedError", "OwnerDiedError")


def connect(address: str | ClusterAddress):
    """Connect this process to Ray as ``address`` says -> (the ray module, whether this call
    started it, so that the caller shuts it down). An existing connection (a notebook, a
    test) is used as it is."""
    import sys
    where = address if isinstance(address, ClusterAddress) else parse_address(address)
    if where.kind == "local" and "ray" not in sys.modules:
        # Ray makes its node address the machine's network address; with its clusters switched
        # off (Ray's switch for laptops) a local head uses 127.0.0.1, reachable from here only.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    ray = import_ray()
    if ray.is_initialized():
        return ray, False
    common = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    try:
        if where.kind == "local":
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            ray.init(address=None, num_cpus=where.cpus, **common)
        else:
            ray.init(address=where.address, **common)
    except Exception as exc:
        what = (f"start a local Ray cluster with {where.cpus} CPUs" if where.kind == "local"
                else f"connect to the Ray cluster at {where.address}")
        raise WorkstationError(f"cannot {what}: {type(exc).__name__}: {exc}") from None
    return ray, True


def run_on_cluster(library, jobs: Iterable[Job], address: str | ClusterAddress, *,
                   on_event: EventFn | None = None, retries: int = 2, device: str = "auto",
                   max_in_flight: int | None = None, store: str | None = None,
                   gpu_share: float | None = None,
                   should_stop: Callable[[], bool] | None = None,
                   paused: Callable[[], bool] | None = None) -> dict[str, int]:
    """Run ``jobs`` on the Ray cluster at ``address`` (see ``parse_address``), one task per
    track, writing results into ``library`` as tasks finish; blocks until every job is done,
    failed or cancelled. Emits the local worker's ``Event`` kinds (track events carry
    ``data['node']``, the node that ran it). Returns counts of tracks {'done', 'failed',
    'cancelled'}, 'crashes' (tracks whose worker died ``retries`` + 1 times),
    'analyzers_failed' and 'submitted' (tasks sent to the cluster: 0 when all was cached).
    Each task takes one CPU and, where the run may use GPUs, a share of one
    (``gpus.gpu_share``: ``gpu_share`` or the cluster's GPUs divided by its CPUs; Ray hides
    the GPUs from a task that asks for none); 'gpu_share' in the counts says which.
    ``max_in_flight``: tasks submitted at once (default twice the cluster's CPUs), so an
    archive's cached inputs are not all in the object store at once. ``store``: a shared
    folder (seen by every node at the same path) that becomes the library's result store
    (``Library.use_store``); when the library's store is such a folder (given here or
    earlier), the tasks write their results into it themselves and only the catalogue's
    records pass through this driver. ``should_stop()`` (polled twice a second)
    cancels the run like Ctrl+C, but returns the counts instead of raising (the window's
    Cancel); while ``paused()`` no new task is submitted (those running finish)."""
    emit = on_event or (lambda e: None)
    where = address if isinstance(address, ClusterAddress) else parse_address(address)
    pending = deque(jobs)
    counts = {"done": 0, "failed": 0, "cancelled": 0, "crashes": 0, "analyzers_failed": 0,
              "submitted": 0, "gpu_share": 0.0}
    if not pending:
        emit(Event("all_done", data=dict(counts)))
        return counts
    if store:
        library.use_store(store)
    shared = str(library.shared_store) if library.shared_store else None
    ray, started = connect(where)
    try:
        resources = ray.cluster_resources()
        share = _gpu_share(device, resources, gpu_share)
        counts["gpu_share"] = share
        task = ray.remote(num_cpus=1, num_gpus=share, max_retries=int(retries))(analyze_task)
        if max_in_flight is None:
            max_in_flight = max(2, 2 * int(resources.get("CPU", 1)))
        library.reset_running()
        in_flight: dict[Any, tuple[Job, dict, list, list[str]]] = {}
        try:
            while pending or in_flight:
                if should_stop is not None and should_stop():
                    raise _Stop
                holding = paused is not None and paused()
                while pending and len(in_flight) < max_in_flight and not holding:
                    _submit(pending[0], library, task, device, in_flight, counts, emit, shared)
                    pending.popleft()   # only now: a Ctrl+C inside _submit leaves it pending
                if not in_flight:
                    if holding:
                        time.sleep(0.2)
                    continue
                ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=0.5)
                for ref in ready:
                    job, key, todo, cached = in_flight.pop(ref)
                    try:
                        out = ray.get(ref)
                    except ray.exceptions.TaskCancelledError:
                        _unfinished(library, job, key, todo, (), "cancelled", None)
                        emit(Event("track_cancelled", job.track_id, message=job.path))
                        counts["cancelled"] += 1
                        continue
                    except ray.exceptions.RayError as exc:
                        name = type(exc).__name__
                        if any(n in name for n in _DIED):
                            n = int(retries) + 1
                            msg = (f"worker died on the cluster after {n} attempt{'s' * (n != 1)} "
                                   f"while analysing {job.path} ({name})")
                            counts["crashes"] += 1
                            emit(Event("worker_crashed", job.track_id, message=msg))
                        else:   # e.g. the Workstation is not installed on a node
                            lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
                            msg = (f"{job.path}: the cluster task failed: {name}: "
                                   f"{lines[-1] if lines else ''}")
                        _unfinished(library, job, key, todo, (), "failed", msg)
                        emit(Event("track_failed", job.track_id, message=msg))
                        counts["failed"] += 1
                        continue
                    _store(library, job, key, todo, cached, out, counts, emit)
        except BaseException:       # Ctrl+C or an error here: cancel what the cluster still runs
            for ref in in_flight:
                try:
                    ray.cancel(ref)
                except Exception as exc:  # already finished, or the cluster is gone
                    log.debug("cannot cancel a task: %s", exc)
            for job, key, todo, _ in in_flight.values():
                _unfinished(library, job, key, todo, (), "cancelled", None)
                emit(Event("track_cancelled", job.track_id, message=job.path))
                counts["cancelled"] += 1
            if pending:   # the job being submitted when it stopped
                _cancel_running(library, pending[0])
            for job in pending:
                emit(Event("track_cancelled", job.track_id, message=job.path))
                counts["cancelled"] += 1
            raise
    except _Stop:
        pass
    finally:
        if started:
            ray.shutdown()
    emit(Event("all_done", data=dict(counts)))
    return counts


class _Stop(Exception):
    """``should_stop`` said so: cancel like Ctrl+C, then return the counts."""


def _submit(job: Job, library, task, device: str, in_flight: dict, counts: dict,
            emit: EventFn, shared: str | None = None) -> None:
    emit(Event("track_started", job.track_id, message=job.path))
    try:
        analyzers, todo, known, cached = plan_job(job, library)
    except Exception as exc:
        emit(Event("track_failed", job.track_id, message=f"cannot build analyzers: {exc}"))
        counts["failed"] += 1
        return
    if not todo:
        emit(Event("track_done", job.track_id, progress=1.0, message="cached",
                   data={"ok": [], "failed": [], "cached": list(cached)}))
        counts["done"] += 1
        return
    key = {a.id: a.result_key for a in analyzers}
    for a in todo:
        library.set_analysis(job.content_hash, *key[a.id], status="running", progress=0.0)
    store = None if shared is None else (shared, job.content_hash, {a.id: key[a.id] for a in todo})
    ref = task.remote(job.path, tuple(job.specs), [a.id for a in todo], known, device,
                      needs_display(library, job.content_hash), store)
    in_flight[ref] = (job, key, [a.id for a in todo], cached)
    counts["submitted"] += 1


def _cancel_running(library, job: Job) -> None:
    """The job's analyses this run marked 'running' (it was stopped while being submitted)
    become 'cancelled'."""
    for spec in job.specs:
        try:
            k = spec.build().result_key
        except Exception:
            continue
        rec = library.get_analysis(job.content_hash, *k)
        if rec is not None and rec.status == "running":
            library.set_analysis(job.content_hash, *k, status="cancelled")


def _unfinished(library, job: Job, key: dict, todo: list[str], finished: Iterable[str],
                status: str, error: str | None) -> None:
    done = set(finished)
    for aid in todo:
        if aid not in done:
            library.set_analysis(job.content_hash, *key[aid], status=status, error=error)


def _store(library, job: Job, key: dict, todo: list[str], cached: list[str], out: dict,
           counts: dict, emit: EventFn) -> None:
    """Write a finished task's results and reasons into the library, as the local worker
    would have written them."""
    h = job.content_hash
    ok, failed = [], []
    node = out.get("node")
    for aid in todo:
        if aid in out["results"]:
            result, elapsed, *written = out["results"][aid]
            path = written[0] if written else library.store.save(h, *key[aid], result)
            library.set_analysis(h, *key[aid], status="done", result_path=str(path), progress=1.0,
                                 elapsed_s=elapsed, error=None)
            ok.append(aid)
            emit(Event("analyzer_done", job.track_id, aid, None, data={"elapsed_s": elapsed}))
        elif aid in out["errors"]:
            library.set_analysis(h, *key[aid], status="failed", error=out["errors"][aid])
            failed.append(aid)
            counts["analyzers_failed"] += 1
            emit(Event("analyzer_failed", job.track_id, aid, None, message=out["errors"][aid]))
    if out["track_error"] is not None:
        _unfinished(library, job, key, todo, ok + failed, "failed", out["track_error"])
        emit(Event("track_failed", job.track_id, message=out["track_error"], data={"node": node}))
        counts["failed"] += 1
        return
    _unfinished(library, job, key, todo, ok + failed, "failed",
                f"{job.path}: the cluster task returned no result for this analyzer")
    write_display(library, h, out.get("display"))
    counts["done"] += 1
    emit(Event("track_done", job.track_id, progress=1.0,
               data={"ok": ok, "failed": failed, "cached": list(cached), "node": node,
                     "node_id": out.get("node_id"), "task_s": out.get("elapsed_s"),
                     "device": out.get("device")}))
