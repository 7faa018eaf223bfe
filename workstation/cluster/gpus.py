"""GPUs on a Ray cluster: the share of a GPU each track's task asks for, and its device.

Ray hides every GPU from a task that asks for none (it sets ``CUDA_VISIBLE_DEVICES`` to an
empty string), so a task computes on a GPU only if it asks Ray for a share of one. On a GPU
the pipeline is bound by its CPU side (decoding, the front end's resampling, numpy
decoders: README, Speed), so the default share lets every CPU of the cluster run a task
while the tasks share the GPUs: a node with 16 CPUs and one GPU runs 16 tasks, each with
1/16 of the GPU (the models of one task hold well under 2 GB of GPU memory).
"""

from __future__ import annotations

import math

from workstation.core.errors import WorkstationError

#: Ray's resolution for fractional resources: 1 / _STEPS of one (it rounds finer shares).
_STEPS = 10_000


def gpu_share(device: str, resources: dict, share: float | None = None) -> float:
    """The fraction of one GPU each task asks for (0: none, the task computes on CPUs).

    ``device``: the run's ``--device`` (``auto``, ``cpu``, ``cuda`` or ``cuda:N``; on a cluster
    the index means nothing, Ray picks the GPU); ``resources``: ``ray.cluster_resources()``
    (``{'CPU': n, 'GPU': g, ...}``); ``share``: ``--gpu-share`` (None: the cluster's GPUs
    divided by its CPUs, at most 1). ``cpu`` -> 0; ``auto`` -> the share where the cluster
    has GPUs, else 0; ``cuda`` -> the share, or a WorkstationError where the cluster has no
    GPU. A share outside (0, 1], or one given with ``--device cpu`` or on a cluster without
    GPUs, is a WorkstationError (nothing is submitted)."""
    kind = (device or "auto").lower().split(":")[0]
    gpus = float(resources.get("GPU", 0) or 0)
    cpus = float(resources.get("CPU", 0) or 0)
    if share is not None and not 0.0 < float(share) <= 1.0:
        raise WorkstationError(f"--gpu-share {share}: give a fraction of one GPU in (0, 1], "
                               "e.g. 0.25 for four tasks per GPU")
    if kind == "cpu":
        if share is not None:
            raise WorkstationError("--gpu-share was given with --device cpu: the tasks would "
                                   "hold a GPU they do not use; leave one of them out")
        return 0.0
    if gpus <= 0:
        if kind == "cuda" or share is not None:
            raise WorkstationError(f"{'--device ' + device if kind == 'cuda' else '--gpu-share'}"
                                   f" on a Ray cluster without GPUs (it reports {cpus:g} CPUs "
                                   "and no GPU); use --device cpu or auto")
        return 0.0
    if share is None:
        share = min(1.0, gpus / max(cpus, 1.0))
    return max(1, math.floor(float(share) * _STEPS + 1e-9)) / _STEPS


def task_device(device: str, gpu_ids: list | None) -> str:
    """The device a task computes on: ``cuda`` where Ray gave it a GPU (``gpu_ids``, from
    ``ray.get_gpu_ids()``: Ray made those the only GPUs it sees, so the run's ``cuda:N`` means
    nothing here), ``cpu`` where it gave none (Ray hid the GPUs), ``device`` itself outside
    Ray (``gpu_ids`` None: a direct call)."""
    if gpu_ids is None:
        return device
    return "cuda" if gpu_ids else "cpu"


def unusable_gpu(node: str, gpu_ids: list) -> str:
    """The reason a track fails where Ray gave its task a GPU that torch cannot use (a
    CPU-only torch build on a GPU node, a missing driver): names the node, the GPU, the torch
    build (read from its metadata) and what to do."""
    from importlib.metadata import PackageNotFoundError, version
    try:
        torch = f"torch {version('torch')}"
    except PackageNotFoundError:
        torch = "torch"
    return (f"node {node}: Ray gave this task GPU {', '.join(map(str, gpu_ids))} but {torch} "
            "sees no CUDA device there; install a CUDA build of torch on that node or "
            "run with --device cpu")
