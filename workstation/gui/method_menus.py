"""The analyzers' methods in the window: *Analysis ▸ Methods* (one exclusive submenu per
analyzer offering several methods, and *Preset*: the speed presets of
``analysis.jobs.PRESETS``), the choices remembered in the settings
(``analysis/method/<analyzer id>``), and the analyzer specs that follow from them.
"""

from __future__ import annotations

import weakref

from PySide6.QtGui import QAction, QActionGroup

from workstation.analysis.jobs import specs_for


def method_analyzers() -> dict:
    """Analyzers offering several methods (a ``methods`` class attribute and a ``method``
    parameter), by id."""
    from workstation.analysis.base import registry
    return {aid: cls for aid, cls in registry().items()
            if getattr(cls, "methods", None) and "method" in getattr(cls, "default_params", {})}


def method_of(settings, analyzer_id: str) -> str:
    """The method chosen for ``analyzer_id`` in ``settings`` (its default when none or unknown)."""
    cls = method_analyzers()[analyzer_id]
    m = str(settings.get(f"analysis/method/{analyzer_id}", cls.default_params["method"]))
    return m if m in cls.methods else cls.default_params["method"]


def specs_with_methods(settings):
    """The default analyzers (AnalyzerSpec list) with the methods chosen in ``settings``."""
    from workstation.analysis.jobs import with_methods
    return with_methods(specs_for(), {aid: method_of(settings, aid) for aid in method_analyzers()})


class MethodMenus:
    """*Analysis ▸ Methods* of ``window`` (a ``MainWindow``). ``actions``: the checkable
    action of each (analyzer id, method)."""

    def __init__(self, window):
        self._window = weakref.ref(window)  # no Python cycle through the window
        self.actions: dict[tuple[str, str], QAction] = {}

    @property
    def window(self):
        return self._window()

    def build(self, menu) -> None:
        """Add the *Methods* submenu to ``menu`` (nothing when no analyzer has a choice)."""
        w = self.window
        analyzers = method_analyzers()
        if not analyzers:
            return
        mm = menu.addMenu("&Methods")
        for aid, cls in sorted(analyzers.items()):
            sub = mm.addMenu(aid)
            group = QActionGroup(w)
            group.setExclusive(True)
            for m in cls.methods:
                label = m + (" (default)" if m == cls.default_params["method"] else "")
                a = QAction(label, w, checkable=True)
                a.setChecked(m == method_of(w.settings, aid))
                a.triggered.connect(lambda _=False, aid=aid, m=m: self.set_method(aid, m))
                group.addAction(a)
                sub.addAction(a)
                self.actions[(aid, m)] = a
        from workstation.analysis.jobs import PRESETS
        pm = mm.addMenu("&Preset")
        for name, methods in PRESETS.items():
            what = ", ".join(f"{k} {v}" for k, v in methods.items()) or "every default"
            a = QAction(f"{name} ({what})", w)
            a.triggered.connect(lambda _=False, name=name: self.apply_preset(name))
            pm.addAction(a)

    def _check(self, analyzer_id: str, method: str) -> None:
        a = self.actions.get((analyzer_id, method))
        if a is not None and not a.isChecked():
            a.setChecked(True)

    def apply_preset(self, name: str) -> None:
        """Every analyzer's method as speed preset ``name`` says (``analysis.jobs.PRESETS``;
        analyzers it does not name get their default), remembered like single choices."""
        from workstation.analysis.jobs import PRESETS
        methods = PRESETS[name]
        settings = self.window.settings
        for aid, cls in method_analyzers().items():
            m = methods.get(aid, cls.default_params["method"])
            settings.set(f"analysis/method/{aid}", m)
            self._check(aid, m)
        self._changed(f"preset {name}")

    def set_method(self, analyzer_id: str, method: str) -> None:
        """Use ``method`` for ``analyzer_id`` from now on: rows and views show its results
        (where computed); *Analyse* computes what is missing."""
        cls = method_analyzers()[analyzer_id]
        if method not in cls.methods:
            raise ValueError(f"{analyzer_id}: method {method!r}; one of {cls.methods}")
        self.window.settings.set(f"analysis/method/{analyzer_id}", method)
        self._check(analyzer_id, method)
        self._changed(f"{analyzer_id}: {method}")

    def _changed(self, what: str) -> None:
        w = self.window
        w.set_specs(specs_with_methods(w.settings))
        w.search.reset()                 # the similarity search follows the chosen embedding
        w.refresh()
        if w.current_track_id is not None:
            w.load_track(w.current_track_id)
        w.status(f"{what}. Analyse (all or selection) to compute what is missing")
        if w.auto_analyse:
            w.analyse(None)
