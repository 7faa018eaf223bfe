"""Device choice: CUDA when present (unless told otherwise), else CPU."""

from __future__ import annotations

import logging

import torch

log = logging.getLogger(__name__)


def choose_device(requested: str = "auto") -> torch.device:
    """``auto`` -> cuda if available else cpu; ``cpu``; ``cuda`` (error if absent)."""
    requested = (requested or "auto").lower()
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        from workstation.core.errors import WorkstationError
        raise WorkstationError("--device cuda was asked for, but no CUDA device is available "
                               "(torch reports none); use --device cpu or auto")
    return torch.device(requested)


def configure_threads() -> int:
    """Set torch's intra-op threads from $WORKSTATION_THREADS (default: torch's choice)."""
    import os
    n = int(os.environ.get("WORKSTATION_THREADS", "0") or 0)
    if n > 0:
        torch.set_num_threads(n)
    return torch.get_num_threads()
