"""The Workstation: analyse, inspect, correct and export a music collection."""

from pathlib import Path

__version__ = "0.1.0"

#: The folder holding ``workstation/``, ``models/`` and ``resources/``: the repository, or
#: in the desktop bundle its read-only ``_internal`` folder (packaging/workstation.spec).
INSTALL_ROOT = Path(__file__).resolve().parent.parent
#: The demo collection (``workstation demo``; the window opens it on its first start).
DEMO_DIR = INSTALL_ROOT / "resources" / "demo"
#: The licence texts of everything the desktop bundle ships (made by packaging/licences.py;
#: absent in a source checkout, where the installed packages hold their own).
LICENCES_DIR = INSTALL_ROOT / "licences"
#: The application icon (resources/workstation.svg, rendered to .png by packaging/icon.py).
ICON_PNG = INSTALL_ROOT / "resources" / "workstation.png"
