"""The layer rules of DESIGN.md, checked by walking every module's imports."""

import ast
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "workstation"

# Which workstation layers each layer may import.
LAYERS = {
    "core": {"core"},
    "inference": {"core", "inference"},
    "library": {"core", "library"},
    "analysis": {"core", "inference", "library", "analysis"},
    "export": {"core", "export"},
    "training": {"core", "inference", "library", "analysis", "export", "training"},
    "gui": {"core", "inference", "library", "analysis", "export", "cluster", "gui"},
    "cluster": {"core", "library", "analysis", "cluster"},
    "cli": {"core", "library", "analysis", "export", "cluster", "cli"},
}
# Third-party packages each layer may import (the standard library is always allowed).
THIRD_PARTY = {
    "core": {"numpy", "scipy", "soundfile", "soxr"},
    "inference": {"numpy", "scipy", "torch", "nnAudio"},
    "library": {"numpy", "faiss", "mutagen", "platformdirs"},
    "analysis": {"numpy", "scipy", "mir_eval"},
    "export": {"numpy", "jams", "jsonschema", "pretty_midi", "mir_eval"},
    "training": {"numpy", "scipy", "torch", "jams", "pretty_midi", "mir_eval", "soundfile", "soxr",
                 "mutagen", "fluidsynth", "music21", "platformdirs"},
    "gui": {"numpy", "PySide6", "pyqtgraph", "mir_eval"},
    "cluster": {"numpy", "ray"},
    "cli": {"tqdm"},
}


def _imports(path: Path):
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the module's package
                parts = path.relative_to(PKG.parent).with_suffix("").parts[:-node.level]
                yield ".".join(parts + ((node.module,) if node.module else ())), node.lineno
            elif node.module:
                yield node.module, node.lineno


def test_every_module_respects_its_layer():
    problems = []
    files = sorted(PKG.rglob("*.py"))
    assert len(files) > 20
    for path in files:
        rel = path.relative_to(PKG)
        if len(rel.parts) == 1:
            continue  # workstation/__init__.py, __main__.py: the entry points
        layer = rel.parts[0]
        assert layer in LAYERS, f"{rel}: package {layer} is not in DESIGN.md's layer table"
        for name, line in _imports(path):
            top = name.split(".")[0]
            if top == "workstation":
                sub = name.split(".")[1] if "." in name else ""
                if sub and sub not in LAYERS[layer]:
                    problems.append(f"{rel}:{line} imports workstation.{sub} ({layer} may not)")
            elif top not in sys.stdlib_module_names and top not in THIRD_PARTY[layer]:
                problems.append(f"{rel}:{line} imports {top} ({layer} may not)")
    assert not problems, "layer violations:\n" + "\n".join(problems)


def test_no_print_or_bare_except_in_library_code():
    problems = []
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG)
        if rel.parts[0] in ("cli", "training") or rel.name == "__main__.py":
            continue  # command-line front ends print by design
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print":
                problems.append(f"{rel}:{node.lineno} print()")
            if isinstance(node, ast.ExceptHandler) and node.type is None:
                problems.append(f"{rel}:{node.lineno} bare except")
    assert not problems, "\n".join(problems)


def test_one_atomic_write():
    """Every file the project writes goes through ``workstation.core.atomic.atomic_write``: no
    other module renames temporary files into place or makes its own temporary files."""
    problems = []
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG)
        if rel.as_posix() == "core/atomic.py":
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                owner = getattr(node.func.value, "id", None)
                if (owner, node.func.attr) in {("os", "replace"), ("os", "rename"),
                                               ("tempfile", "mkstemp"),
                                               ("tempfile", "NamedTemporaryFile")}:
                    problems.append(f"{rel}:{node.lineno} {owner}.{node.func.attr}")
                # Path.replace / Path.rename take one argument (str.replace takes two)
                elif node.func.attr in ("replace", "rename") and len(node.args) == 1 and not node.keywords:
                    problems.append(f"{rel}:{node.lineno} .{node.func.attr}(...)")
    assert not problems, "\n".join(problems)
