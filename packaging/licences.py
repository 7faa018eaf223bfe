"""The licence texts of everything the desktop bundle ships: ``licences/THIRD_PARTY.txt``
(one paragraph per component: name, version, licence, the files beside it) and one folder
per component with its licence files.

Called from packaging/workstation.spec with what PyInstaller collected: the Python
distributions that own the collected modules and files (their licence files from the
installed wheels' metadata), the system libraries copied from the build machine (their
Debian copyright files), plus the Python runtime, Qt (through PySide6, whose wheels carry
no licence file: the LGPL-3 and GPL-3 texts), the PyInstaller bootloader and the models
(their licences lie in ``models/`` beside the weights, see models/manifest.json).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

LICENCE_NAME = re.compile(r"(^|/)(LICEN[CS]E|COPYING|NOTICE|COPYRIGHT|AUTHORS)[^/]*$", re.I)
COMMON_LICENCES = Path("/usr/share/common-licenses")


def distributions_of(top_names: set[str]) -> dict[str, metadata.Distribution]:
    """The installed distributions providing any of the top-level names (modules or folders
    in the bundle), by canonical name."""
    owners = metadata.packages_distributions()
    out: dict[str, metadata.Distribution] = {}
    for top in sorted(top_names):
        for dist_name in owners.get(top, ()):
            try:
                dist = metadata.distribution(dist_name)
            except metadata.PackageNotFoundError:
                continue
            out[dist.metadata["Name"].lower().replace("_", "-")] = dist
    return out


def _licence_of(dist: metadata.Distribution) -> str:
    md = dist.metadata
    expr = md.get("License-Expression")
    if expr:
        return expr
    text = (md.get("License") or "").strip()
    if text and len(text) < 80 and "\n" not in text:
        return text
    classifiers = [c.split("::")[-1].strip() for c in md.get_all("Classifier") or []
                   if c.startswith("License ::")]
    return "; ".join(classifiers) or ("see the files" if text else "not stated")


def _copy(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)


def _dist_files(dist: metadata.Distribution, dest: Path) -> list[str]:
    """Copy the distribution's licence files (from its metadata, else its package) to
    ``dest``; returns their names there."""
    names = []
    for f in dist.files or []:
        rel = str(f)
        in_meta = ".dist-info/" in rel
        if not LICENCE_NAME.search(rel) or (not in_meta and rel.count("/") > 2):
            continue
        src = Path(dist.locate_file(f))
        if not src.is_file() or src.suffix in (".py", ".pyc"):
            continue
        name = rel.split(".dist-info/", 1)[1] if in_meta else rel
        name = name.removeprefix("licenses/").replace("/", "__")
        if name in names:
            continue
        _copy(src, dest / name)
        names.append(name)
    return names


def debian_packages(paths: list[str]) -> dict[str, list[str]]:
    """Debian packages owning the given system files (``dpkg -S``) -> the files."""
    out: dict[str, list[str]] = {}
    for p in paths:
        try:
            res = subprocess.run(["dpkg", "-S", str(Path(p).resolve())], capture_output=True,
                                 text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if res.returncode == 0 and ":" in res.stdout:
            pkg = res.stdout.split(":", 1)[0].strip()
            out.setdefault(pkg, []).append(Path(p).name)
    return out


def write_licences(dists: dict[str, metadata.Distribution], out: Path, *,
                   system_libs: list[str] = (), models_dir: Path | None = None) -> Path:
    """Write ``out/THIRD_PARTY.txt`` and the licence files; returns ``out``."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    paras = ["Licences of the software in this bundle of the Workstation.",
             "The Workstation itself: MIT (pyproject.toml).", ""]

    def para(title: str, licence: str, files: list[str], note: str = "") -> None:
        paras.append(f"{title}\n  licence: {licence}\n  files: "
                     + (", ".join(files) if files else "(none shipped by the package)")
                     + (f"\n  {note}" if note else "") + "\n")

    py = Path(sysconfig.get_paths()["stdlib"]) / "LICENSE.txt"
    if py.is_file():
        _copy(py, out / "python" / "LICENSE.txt")
    para(f"Python {sys.version.split()[0]} (the runtime)", "PSF-2.0",
         ["python/LICENSE.txt"] if py.is_file() else [])
    for name, dist in sorted(dists.items()):
        files = _dist_files(dist, out / name)
        note = ""
        if name in ("pyside6", "pyside6-essentials", "pyside6-addons", "shiboken6"):
            for lic in ("LGPL-3", "GPL-3"):
                if (COMMON_LICENCES / lic).is_file():
                    _copy(COMMON_LICENCES / lic, out / name / f"{lic}.txt")
                    files.append(f"{lic}.txt")
            note = ("Qt 6 and PySide6 under the LGPL-3.0 (the Qt libraries are shared "
                    "libraries in _internal/PySide6/Qt/lib and may be replaced)")
        para(f"{dist.metadata['Name']} {dist.version}", _licence_of(dist),
             [f"{name}/{f}" for f in files], note)
    try:
        pyi = metadata.distribution("pyinstaller")
        files = _dist_files(pyi, out / "pyinstaller")
        para(f"PyInstaller {pyi.version} (the bootloader: the `workstation` executable)",
             "GPL-2.0-or-later with the bootloader exception", [f"pyinstaller/{f}" for f in files])
    except metadata.PackageNotFoundError:
        pass
    for pkg, libs in sorted(debian_packages(list(system_libs)).items()):
        src = Path("/usr/share/doc") / pkg.split(":")[0] / "copyright"
        files = []
        if src.is_file():
            _copy(src, out / "system" / pkg.split(":")[0] / "copyright")
            files = [f"system/{pkg.split(':')[0]}/copyright"]
        para(f"{pkg} (Debian; libraries {', '.join(sorted(libs))})", "see the copyright file",
             files)
    if models_dir is not None and (models_dir / "manifest.json").is_file():
        paras.append("Models (models/manifest.json; licence texts in models/LICENCE.*):")
        for e in json.loads((models_dir / "manifest.json").read_text()):
            lf = f" ({e['licence_file']})" if e.get("licence_file") else ""
            paras.append(f"  {e.get('name')}: {e.get('licence', 'not stated')}{lf}")
    (out / "THIRD_PARTY.txt").write_text("\n".join(paras) + "\n")
    return out


if __name__ == "__main__":
    # Without PyInstaller: the licences of the product's installed dependency closure.
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    args = ap.parse_args()
    tops = {"workstation", "torch", "PySide6", "shiboken6", "pyqtgraph", "faiss", "numpy",
            "scipy", "jams", "pretty_midi", "mir_eval", "soundfile", "soxr", "mutagen",
            "nnAudio", "platformdirs", "tqdm", "pandas"}
    write_licences(distributions_of(tops), args.out,
                   models_dir=Path(__file__).resolve().parents[1] / "models")
    print((args.out / "THIRD_PARTY.txt").read_text())
