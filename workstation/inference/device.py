"""Device choice: CUDA when present (unless told otherwise), else CPU."""

from __future__ import annotations

import logging

import torch

log = logging.getLogger(__name__)


def choose_device(requested: str = "auto") -> torch.device:
    """``auto`` -> cuda if available else cpu; ``cpu``; ``cuda`` or ``cuda:N`` (WorkstationError
    if absent); ``mps``. Anything else is a WorkstationError naming the choices."""
    from workstation.core.errors import WorkstationError
    requested = (requested or "auto").lower()
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(requested)
    except (RuntimeError, ValueError):
        raise WorkstationError(f"--device {requested!r} is not a device: use auto, cpu, cuda, "
                               "cuda:N or mps") from None
    if dev.type == "cuda":
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if n == 0:
            raise WorkstationError(f"--device {requested} was asked for, but no CUDA device is "
                                   "available (torch reports none); use --device cpu or auto")
        if dev.index is not None and dev.index >= n:
            raise WorkstationError(f"--device {requested}: there are only {n} CUDA devices")
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise WorkstationError("--device mps was asked for, but MPS is not available here")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise WorkstationError(f"--device {requested}: use auto, cpu, cuda, cuda:N or mps")
    return dev


def configure_threads(threads: int | None = None) -> int:
    """Set torch's intra-op threads to ``threads``, else $WORKSTATION_THREADS (default: torch's
    choice) -> the number torch uses."""
    import os
    n = int(threads or os.environ.get("WORKSTATION_THREADS", "0") or 0)
    if n > 0:
        torch.set_num_threads(n)
    return torch.get_num_threads()


def cpu_bf16() -> bool:
    """Whether oneDNN runs bfloat16 convolutions natively on this CPU (AVX-512 and newer)."""
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False
