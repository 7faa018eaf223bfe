"""The Qt binding must not leak references to None: PySide6 6.12.0 took one per call of a
method returning nothing, and on Python 3.11 a long session (a few thousand label updates)
aborted with "Fatal Python error: none_dealloc". constraints.txt pins a binding without it."""

import sys

from PySide6.QtWidgets import QLabel


def test_void_qt_calls_keep_none_alive(qtbot):
    label = QLabel()
    qtbot.addWidget(label)
    before = sys.getrefcount(None)
    for i in range(5000):
        label.setText(str(i % 7))
        label.setVisible(False)
    # a few references may come and go with the interpreter's own work; a leak is 10000
    assert sys.getrefcount(None) - before > -100
