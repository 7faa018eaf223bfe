"""One way the window shows an error: a warning dialog opened without blocking (the GUI
thread goes on), window-modal, deleted when closed. Callers keep the returned box as their
``error_box`` (tests read its text and close it)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox


def open_warning(parent, title: str, text: str, informative: str = "") -> QMessageBox:
    """Open a warning with ``title``, ``text`` and an optional ``informative`` part."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, parent)
    if informative:
        box.setInformativeText(informative)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
    box.setWindowModality(Qt.WindowModality.WindowModal)
    box.open()
    return box
