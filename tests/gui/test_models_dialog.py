"""Help ▸ Models and licences: the dialog lists the manifest's models with their licences and
the analyzer methods that use them, and the main window's Help menu opens it."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402

from workstation.gui.models_dialog import COL_NAME, COL_USED_BY, COL_WEIGHTS, ModelsDialog  # noqa: E402


@pytest.fixture(scope="module")
def dialog_entries():
    from workstation.inference.manifest import read_manifest
    return read_manifest()


def _dialog(qtbot, entries) -> ModelsDialog:
    dlg = ModelsDialog(entries=entries)
    qtbot.addWidget(dlg)
    return dlg


def test_lists_models_licences_and_users(qtbot, dialog_entries):
    dlg = _dialog(qtbot, dialog_entries)
    names = dlg.model_names()
    for name in ("pitch.f0.crepe-tiny", "basic-pitch", "salience"):
        assert name in names
    r = dlg.row_of("pitch.f0.crepe-tiny")
    assert dlg.table.item(r, COL_NAME).text() == "pitch.f0.crepe-tiny"
    assert "pitch.f0=crepe-tiny" in dlg.table.item(r, COL_USED_BY).text()
    assert dlg.table.item(r, COL_WEIGHTS).text() in ("present", "missing")
    dlg.table.selectRow(r)
    assert "MIT" in dlg.licence_view.toPlainText()
    dlg.table.selectRow(dlg.row_of("basic-pitch"))
    assert "Apache" in dlg.licence_view.toPlainText()
    assert dlg.licence_view.isReadOnly()


def test_escape_closes(qtbot, dialog_entries):
    dlg = _dialog(qtbot, dialog_entries)
    dlg.show()
    qtbot.waitExposed(dlg)
    qtbot.keyClick(dlg, Qt.Key.Key_Escape)
    assert not dlg.isVisible()


def test_help_menu_has_the_action(qtbot, tmp_path: Path, monkeypatch):
    from workstation.gui.main_window import MainWindow
    from workstation.gui.settings import Settings
    win = MainWindow(tmp_path / "library", settings=Settings(tmp_path / "settings.ini"), device="cpu",
                     auto_analyse=False)
    qtbot.addWidget(win)
    menus = {a.text().replace("&", ""): a.menu() for a in win.menuBar().actions() if a.menu()}
    assert "Help" in menus
    texts = [a.text().replace("&", "") for a in menus["Help"].actions()]
    assert "Models and licences…" in texts
    assert win.act_models in menus["Help"].actions()
    opened: list = []
    monkeypatch.setattr(ModelsDialog, "exec", lambda self: opened.append(self) or 0)
    win.act_models.trigger()
    assert len(opened) == 1 and opened[0].model_names()
