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


def test_speed_presets_in_the_methods_menu(qtbot, tmp_path: Path):
    """Analysis ▸ Methods ▸ Preset sets every analyzer's method at once (remembered); the
    analysis specs follow."""
    from workstation.analysis.jobs import PRESETS
    from workstation.gui.main_window import MainWindow
    from workstation.gui.settings import Settings
    settings = Settings(tmp_path / "settings.ini")
    win = MainWindow(tmp_path / "library", settings=settings, device="cpu", auto_analyse=False)
    qtbot.addWidget(win)
    analysis = next(a.menu() for a in win.menuBar().actions() if a.text().replace("&", "") == "Analysis")
    methods = next(a.menu() for a in analysis.actions() if a.menu() and a.text().replace("&", "") == "Methods")
    preset = next(a.menu() for a in methods.actions() if a.menu() and a.text().replace("&", "") == "Preset")
    labels = [a.text() for a in preset.actions()]
    assert [t.split(" ")[0] for t in labels] == list(PRESETS)
    win.set_method("pitch.salience", "dsp")
    next(a for a in preset.actions() if a.text().startswith("best")).trigger()
    assert win.method_of("pitch.f0") == "crepe-full" and win.method_of("pitch.salience") == "basic-pitch"
    assert win.method_actions[("pitch.f0", "crepe-full")].isChecked()
    assert ("method", "crepe-full") in next(s for s in win.specs_with_methods() if s.id == "pitch.f0").params
    win.apply_preset("fast")
    assert win.method_of("pitch.f0") == "pyin"
    win.apply_preset("default")
    assert win.method_of("pitch.f0") == "crepe-kd"       # the default
    assert Settings(tmp_path / "settings.ini").get("analysis/method/pitch.f0") == "crepe-kd"


def test_help_has_shortcuts_and_about(qtbot, tmp_path: Path):
    """F1 lists every shortcut, read from the menus; About names version, runtime and models."""
    import workstation
    from workstation.gui.help_dialog import ShortcutsDialog, about_text
    from workstation.gui.main_window import MainWindow
    from workstation.gui.settings import Settings
    win = MainWindow(tmp_path / "library", settings=Settings(tmp_path / "settings.ini"), device="cpu",
                     auto_analyse=False)
    qtbot.addWidget(win)
    assert win.act_shortcuts.shortcut().toString() == "F1"
    dlg = ShortcutsDialog(win.menuBar(), win)
    qtbot.addWidget(dlg)
    rows = dlg.rows()
    assert ("Playback", "Play / pause", "Space") in rows
    assert ("File", "Open folder…", "Ctrl+O") in rows
    assert any(r[1] == "Keyboard shortcuts…" and r[2] == "F1" for r in rows)
    assert any(r[1] == "Remove from library…" and r[2] == "Del" for r in rows), rows
    text = about_text(str(tmp_path / "library"))
    assert workstation.__version__ in text and "torch" in text and str(tmp_path / "library") in text
    assert "pitch.f0.crepe-tiny" in text and "MIT" in text and "Apache-2.0" in text


def test_monophonic_notes_in_the_methods_menu(qtbot, tmp_path: Path):
    """Analysis ▸ Methods ▸ notes offers the monophonic method; choosing it puts the f0 track
    it reads into the run's specs, and it is remembered."""
    from workstation.gui.main_window import MainWindow
    from workstation.gui.settings import Settings
    win = MainWindow(tmp_path / "library", settings=Settings(tmp_path / "settings.ini"),
                     device="cpu", auto_analyse=False)
    qtbot.addWidget(win)
    assert win.method_actions[("notes", "auto")].isChecked()
    assert "(default)" in win.method_actions[("notes", "auto")].text()
    assert not win.method_actions[("notes", "salience")].isChecked()
    win.method_actions[("notes", "f0")].trigger()
    specs = {s.id: s for s in win.specs_with_methods()}
    assert ("method", "f0") in specs["notes"].params and "pitch.f0" in specs
    assert Settings(tmp_path / "settings.ini").get("analysis/method/notes") == "f0"
