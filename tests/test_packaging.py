"""The desktop packaging without building the bundle (packaging/build.sh does that, and
packaging/check.sh checks it): the menu entry and its icon, what the spec collects and where
the code looks for it, the shell scripts, install.sh on a stand-in bundle, and the product's
side of it (``--version``, the first start opening the demo, weights of a wheel the bundle
carries as a plain file)."""

from __future__ import annotations

import ast
import configparser
import os
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

import workstation
from workstation.inference import manifest

REPO = Path(__file__).resolve().parents[1]
PKG = REPO / "packaging"
DESKTOP = REPO / "resources" / "workstation.desktop"
sys.path.insert(0, str(PKG))
import bundle_files  # noqa: E402

#: MIME types of the audio files the window opens (collection_control.AUDIO_FILTER), by suffix.
AUDIO_MIME = {".wav": "audio/x-wav", ".flac": "audio/flac", ".ogg": "audio/ogg",
              ".oga": "audio/ogg", ".opus": "audio/x-opus+ogg", ".mp3": "audio/mpeg",
              ".aif": "audio/x-aiff", ".aiff": "audio/x-aiff"}


def _entry(path: Path = DESKTOP) -> dict[str, str]:
    cp = configparser.ConfigParser(interpolation=None, strict=True)
    cp.optionxform = str                    # keys are case-sensitive
    cp.read(path, encoding="utf-8")
    return dict(cp["Desktop Entry"])


def test_desktop_file_is_valid():
    if shutil.which("desktop-file-validate"):
        res = subprocess.run(["desktop-file-validate", str(DESKTOP)], capture_output=True, text=True)
        assert res.returncode == 0 and not res.stdout.strip(), res.stdout + res.stderr
    e = _entry()
    assert e["Type"] == "Application" and e["Name"] and e["Terminal"] == "false"
    for key in ("Categories", "MimeType", "Keywords"):
        assert e[key].endswith(";"), key


def test_desktop_exec_icon_and_mime_types():
    e = _entry()
    assert e["Exec"] == "workstation gui %F"            # files go to `workstation gui PATH...`
    assert e["TryExec"] == "workstation"
    assert e["Icon"] == "workstation" and e["StartupWMClass"] == "workstation"
    mimes = set(e["MimeType"].rstrip(";").split(";"))
    assert all(m.startswith("audio/") for m in mimes)
    from workstation.gui.collection_control import AUDIO_FILTER
    suffixes = re.findall(r"\*(\.\w+)", AUDIO_FILTER.split(";;")[0])
    assert suffixes and {AUDIO_MIME[s] for s in suffixes} <= mimes


def test_icon_svg_and_png():
    svg = REPO / "resources" / "workstation.svg"
    assert svg.is_file() and "<svg" in svg.read_text()
    png = workstation.ICON_PNG
    head = png.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", head[16:24]) == (256, 256)


def test_spec_data_exist_and_land_where_the_code_looks():
    root = workstation.INSTALL_ROOT
    datas = bundle_files.datas()
    for src, dest in datas:
        assert Path(src).exists(), src
    dests = {Path(src).name: dest for src, dest in datas}
    # the code's folders, relative to INSTALL_ROOT (the bundle's _internal)
    assert manifest.MODELS_DIR.resolve().relative_to(root) == Path(dests["manifest.json"])
    for e in manifest.read_manifest():
        if e.get("licence_file"):
            assert dests[e["licence_file"]] == "models"
        if not e.get("package"):
            assert dests[Path(e["file"]).name] == "models", e["name"]
    assert workstation.DEMO_DIR.relative_to(root) == Path(dests["demo"])
    assert workstation.ICON_PNG.relative_to(root) == Path(dests["workstation.png"]) / "workstation.png"
    assert dests["workstation.desktop"] == "resources"
    for src, dest in bundle_files.package_weights():
        assert Path(dest).parts[:2] == ("models", manifest.PACKAGES_SUBDIR)
    spec = (PKG / "workstation.spec").read_text()
    assert "bundle_files" in spec and "write_licences" in spec and "EXCLUDES" in spec
    assert bundle_files.ENTRY.is_file()


def test_build_and_check_scripts_name_files_that_exist():
    for script in ("build.sh", "check.sh"):
        text = (PKG / script).read_text()
        for rel in set(re.findall(r"\b((?:packaging|resources)/[\w.-]+\.\w+)", text)):
            assert (REPO / rel).exists(), f"{script} names {rel}"
    assert "constraints.txt" in (PKG / "build.sh").read_text()


def test_excluded_and_dropped_are_not_what_the_product_needs():
    for name in ("workstation", "torch", "PySide6", "PySide6.QtMultimedia", "faiss", "numpy",
                 "scipy", "soundfile", "jams", "pretty_midi", "pyqtgraph", "nnAudio"):
        assert name not in bundle_files.EXCLUDES
    keep = ["PySide6/Qt/plugins/platforms/libqxcb.so", "PySide6/Qt/plugins/platforms/libqoffscreen.so",
            "PySide6/Qt/plugins/platforms/libqwayland.so",
            "PySide6/Qt/plugins/multimedia/libffmpegmediaplugin.so",
            "PySide6/Qt/plugins/imageformats/libqsvg.so", "PySide6/Qt/lib/libQt6Quick.so.6",
            "torch/lib/libtorch_cpu.so", "torch/bin/torch_shm_manager", "libxcb-cursor.so.0",
            "_soundfile_data/libsndfile_x86_64.so", "faiss_cpu.libs/libgomp.so.1", "libpython3.11.so.1.0"]
    drop = ["torch/bin/test_jit", "torch/test/atest", "libstdc++.so.6", "libgcc_s.so.1",
            "libX11.so.6", "libglib-2.0.so.0", "PySide6/Qt/plugins/platformthemes/libqgtk3.so",
            "PySide6/Qt/plugins/platforms/libqvnc.so", "libgtk-3.so.0"]
    assert [p for p in keep if bundle_files.DROP.search(p)] == []
    assert [p for p in drop if not bundle_files.DROP.search(p)] == []


def test_shell_scripts_parse():
    for script in ("build.sh", "check.sh", "install.sh"):
        res = subprocess.run(["bash", "-n", str(PKG / script)], capture_output=True, text=True)
        assert res.returncode == 0, f"{script}: {res.stderr}"
        assert os.access(PKG / script, os.X_OK), f"{script} is not executable"


def test_entry_calls_freeze_support_before_importing_the_product():
    tree = ast.parse((PKG / "entry.py").read_text())
    main = next(n for n in tree.body if isinstance(n, ast.If))
    first, second = main.body[0], main.body[1]
    assert ast.unparse(first) == "multiprocessing.freeze_support()"
    assert isinstance(second, ast.ImportFrom) and second.module == "workstation.__main__"


def _stand_in_bundle(tmp_path: Path) -> Path:
    """An unpacked tarball with a tiny stand-in for the program (prints the version)."""
    top = tmp_path / "workstation-0.1.0-linux-x86_64"
    res = top / "workstation" / "_internal" / "resources"
    res.mkdir(parents=True)
    for n in bundle_files.RESOURCE_FILES:
        shutil.copy(REPO / "resources" / n, res / n)
    prog = top / "workstation" / "workstation"
    prog.write_text(f"#!/bin/sh\necho workstation {workstation.__version__}\n")
    prog.chmod(0o755)
    shutil.copy(PKG / "install.sh", top / "install.sh")
    return top


def test_install_script_into_a_fresh_home_and_uninstall(tmp_path):
    top = _stand_in_bundle(tmp_path)
    home = tmp_path / "my home"                     # a space in the path, as some people have
    home.mkdir()
    (home / ".local/share/workstation").mkdir(parents=True)   # a library: never touched
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin"}
    res = subprocess.run(["bash", str(top / "install.sh")], env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    local = home / ".local"
    link = local / "bin" / "workstation"
    assert link.is_symlink() and Path(os.readlink(link)) == local / "lib/workstation/workstation"
    out = subprocess.run([str(link), "--version"], capture_output=True, text=True).stdout
    assert out.strip() == f"workstation {workstation.__version__}"
    desk = local / "share/applications/workstation.desktop"
    e = _entry(desk)
    assert e["Exec"] == f'"{local}/lib/workstation/workstation" gui %F'
    assert e["TryExec"] == f"{local}/lib/workstation/workstation"
    if shutil.which("desktop-file-validate"):
        assert subprocess.run(["desktop-file-validate", str(desk)]).returncode == 0
    assert (local / "share/icons/hicolor/scalable/apps/workstation.svg").is_file()
    assert (local / "share/icons/hicolor/256x256/apps/workstation.png").is_file()
    # again (an update) replaces the folder, then --uninstall removes all but the library
    assert subprocess.run(["bash", str(top / "install.sh")], env=env, capture_output=True).returncode == 0
    res = subprocess.run(["bash", str(top / "install.sh"), "--uninstall"], env=env,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert not link.exists() and not desk.exists() and not (local / "lib/workstation").exists()
    assert (local / "share/workstation").is_dir()


def test_install_script_refuses_outside_a_tarball(tmp_path):
    shutil.copy(PKG / "install.sh", tmp_path / "install.sh")
    res = subprocess.run(["bash", str(tmp_path / "install.sh")], capture_output=True, text=True,
                         env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert res.returncode == 1 and "unpacked tarball" in res.stderr


def test_version_option(capsys):
    from workstation.cli.main import main
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"workstation {workstation.__version__}"


def test_weights_of_a_package_not_installed_come_from_models_packages(tmp_path):
    entry = {"name": "x", "package": "no_such_package_for_the_test", "file": "assets/w.pth"}
    missing = manifest.weights_path(entry, tmp_path)
    assert "not installed" in str(missing)
    copy = tmp_path / manifest.PACKAGES_SUBDIR / "no_such_package_for_the_test" / "assets" / "w.pth"
    copy.parent.mkdir(parents=True)
    copy.write_bytes(b"weights")
    assert manifest.weights_path(entry, tmp_path) == copy
    # an installed package still wins over a copy
    entry["package"] = "workstation"
    (tmp_path / manifest.PACKAGES_SUBDIR / "workstation" / "assets").mkdir(parents=True)
    (tmp_path / manifest.PACKAGES_SUBDIR / "workstation" / "assets" / "w.pth").write_bytes(b"x")
    assert manifest.weights_path(entry, tmp_path).parent.parent == workstation.INSTALL_ROOT / "workstation"


def test_first_start_opens_the_demo_collection_once(tmp_path):
    pytest.importorskip("PySide6")
    from workstation.gui.app import first_start_paths
    from workstation.gui.settings import Settings
    s = Settings(tmp_path / "settings.ini")
    assert first_start_paths(s, []) == [str(workstation.DEMO_DIR)]
    assert first_start_paths(s, []) == []
    assert first_start_paths(s, ["/music"]) == ["/music"]
    # someone who used the window before (a recent collection) is not shown the demo
    s2 = Settings(tmp_path / "other.ini")
    s2.add_recent(tmp_path)
    assert first_start_paths(s2, []) == []
    s3 = Settings(tmp_path / "third.ini")
    assert first_start_paths(s3, ["/music"]) == ["/music"]   # a path given: that one


def test_about_names_the_bundled_licences(tmp_path, monkeypatch):
    pytest.importorskip("PySide6")
    from workstation.gui.help_dialog import about_text
    assert "Licences of the bundled software" not in about_text()   # a source checkout
    (tmp_path / "THIRD_PARTY.txt").write_text("Python ...\n")
    monkeypatch.setattr(workstation, "LICENCES_DIR", tmp_path)
    text = about_text()
    assert f"The Workstation {workstation.__version__}" in text and str(tmp_path) in text


def test_window_first_start_opens_the_demo_and_saves_a_screenshot(tmp_path):
    """``workstation gui --screenshot`` (what check.sh runs in the bundle), here from the
    source tree with a fresh settings and data folder."""
    pytest.importorskip("PySide6")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_DATA_HOME": str(tmp_path / "data")}
    env.pop("WORKSTATION_LIBRARY", None)
    shot = tmp_path / "window.png"
    res = subprocess.run([sys.executable, "-m", "workstation", "gui", "--screenshot", str(shot)],
                         env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    line = next(l for l in res.stdout.splitlines() if l.startswith("screenshot"))
    assert "saved; 10 tracks listed" in line and "timed out" not in line
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "data" / "workstation" ).is_dir()           # the library: user data
    conf = (tmp_path / "config" / "workstation" / "workstation.conf").read_text()
    assert "started=true" in conf and "resources/demo" in conf
