"""The window's view as the user left it, remembered across restarts in the settings:
image mode, HCQT harmonic, layer and reference toggles (``view/...``), the splitters, the
side tab and the library table's column widths.
"""

from __future__ import annotations

from workstation.core import constants as C

from .library_table import restore_column_widths, save_column_widths
from .track_view import IMAGE_MODES, LAYER_NAMES


def restore_view_settings(window) -> None:
    """Apply the remembered view to ``window`` (a ``MainWindow``; unknown values ignored)."""
    settings, view = window.settings, window.view
    mode = str(settings.get("view/image_mode", "spectrogram"))
    if mode in IMAGE_MODES:
        view.set_image_mode(mode)
    view.use_settings(settings)  # colour maps and dB levels, saved on change
    try:
        h = float(settings.get("view/harmonic", 1.0))
        if h in C.HARMONICS:
            view.set_harmonic(h)
    except (TypeError, ValueError):
        pass
    for name in LAYER_NAMES:
        view.set_layer_visible(name, settings.get(f"view/layer/{name}", True, bool))
    view.set_references_visible(settings.get("view/references", True, bool))
    for key, split in (("view/split", window.split), ("view/left_split", window.left_split)):
        st = settings.get(key)
        if st is not None:
            split.restoreState(st)
    tab = settings.get("view/side_tab", 0, int)
    if 0 <= tab < window.side_tabs.count():
        window.side_tabs.setCurrentIndex(tab)
    restore_column_widths(window.table, settings)


def save_view_settings(window) -> None:
    """Remember the view of ``window`` (a ``MainWindow``) in its settings."""
    settings, view = window.settings, window.view
    settings.set("view/image_mode", view.image_mode)
    settings.set("view/harmonic", view.harmonic)
    for name in LAYER_NAMES:
        settings.set(f"view/layer/{name}", view._layer_on[name])
    settings.set("view/references", view._ref_on)
    settings.set("view/split", window.split.saveState())
    settings.set("view/left_split", window.left_split.saveState())
    settings.set("view/side_tab", window.side_tabs.currentIndex())
    save_column_widths(window.table, settings)
