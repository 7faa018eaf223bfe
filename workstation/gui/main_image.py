"""The main pane's image with its colour bar: level-of-detail drawing, displayed levels,
colour map, and the value under a point.

Two kinds of image are drawn:

- ``'db'``: spectrogram-like images stored as uint8 codes [shape=(n_rows, n_frames)], code
  0 = ``SPEC_DB_RANGE`` dB under the track's peak, 255 = the peak (``track_loader``); the
  colour bar and the read-out are in dB relative to the peak (0 dB = peak, -80 dB = code 0).
  The displayed levels (``db_levels``, a (floor, top) pair in dB) are the user's: the
  toolbar's floor spin box or the colour bar's handles change them, and the view remembers
  them in the settings.
- ``'salience'``: multi-f0 salience [shape=(n_bins, n_frames)] in its own units (about
  0..1); levels start at (0, 99.8th percentile) of the track and the bar's handles adjust them.

The colour bar is a ``pyqtgraph.ColorBarItem`` in the pane layout beside the main pane,
drawn in the units above (not in codes); its map and levels are applied to the image here.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QRectF, Signal

from workstation.analysis.display import SPEC_DB_RANGE
from workstation.core import constants as C
from workstation.core.units import hz_to_midi

from .panes import lut

#: Colour maps offered (pyqtgraph names -> menu labels); 'CET-L1' is a linear grey ramp.
COLOUR_MAPS = {"inferno": "inferno", "magma": "magma", "viridis": "viridis",
               "cividis": "cividis", "CET-L1": "greys"}
DEFAULT_MAPS = {"db": "inferno", "salience": "viridis"}
#: Default displayed dB levels (floor, top) relative to the peak: the top 60 dB.
DEFAULT_DB_LEVELS = (-60.0, 0.0)
#: Images longer than this many frames (~95 s) are drawn level-of-detail (see update_window).
LOD_MIN_FRAMES = 8192


def code_from_db(db):
    """dB relative to the peak -> uint8 display code scale (float; 255 = 0 dB)."""
    return (np.asarray(db, dtype=np.float64) + SPEC_DB_RANGE) * (255.0 / SPEC_DB_RANGE)


def db_from_code(code):
    """uint8 display codes -> dB relative to the peak (code 0 = -SPEC_DB_RANGE dB)."""
    return np.asarray(code, dtype=np.float64) * (SPEC_DB_RANGE / 255.0) - SPEC_DB_RANGE


def image_source(mode: str, data, extra=None):
    """What the main pane shows in image ``mode`` for ``data`` (a ``TrackViewData`` or None):
    (values [shape=(n_rows, n_frames)], kind 'db' | 'salience', time of frame 0 in s, frame
    step in s, row centres [shape=(n_rows,)] in the mode's y unit, salience top level or
    None), or None when there is nothing to draw yet. ``extra`` is the ``DisplayImage`` of a
    mode computed on request ('linear', 'mel', 'hcqt')."""
    if data is None:
        return None
    if mode == "spectrogram":
        d = data.display
        if d is None:
            return None
        return (d.spec, "db", 0.0, d.hop_s,
                d.midi_lo + np.arange(d.spec.shape[0]) / d.bins_per_semitone, None)
    if mode != "salience":
        if extra is None:
            return None
        return (extra.values, "db", 0.0, extra.hop_s, np.asarray(extra.y_centres, np.float64), None)
    s = data.results.get("pitch.salience")
    if s is None:
        return None
    values = s.values
    sub = values[:, ::max(1, values.shape[1] // 4000)] if values.size else values
    top = float(np.percentile(sub.astype(np.float32), 99.8)) if sub.size else 1.0
    times = np.asarray(s.times_s, dtype=np.float64)
    dt = float((times[-1] - times[0]) / max(1, len(times) - 1)) if len(times) > 1 \
        else C.HOP_LENGTH / C.SAMPLE_RATE
    return (values, "salience", float(times[0]) if len(times) else 0.0, dt,
            hz_to_midi(np.asarray(s.freqs_hz, dtype=np.float64)), top)


class MainImage(QObject):
    """The main pane's ``ImageItem`` (``self.item``) and colour bar (``self.bar``).

    Signals: ``levels_changed(str kind, float lo, float hi)`` when the user moves the bar's
    handles (lo, hi in the bar's units: dB for 'db', salience for 'salience')."""

    levels_changed = Signal(str, float, float)

    def __init__(self, plot: pg.PlotItem, layout: pg.GraphicsLayout, row: int, col: int = 1,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.plot = plot
        self.item = pg.ImageItem(axisOrder="row-major")
        self.item.setZValue(-10)
        plot.addItem(self.item)
        self.bar = pg.ColorBarItem(values=DEFAULT_DB_LEVELS, width=12, colorMap=DEFAULT_MAPS["db"],
                                   interactive=True, limits=(-SPEC_DB_RANGE, 0.0),
                                   rounding=1.0, colorMapMenu=False)
        layout.addItem(self.bar, row=row, col=col)
        self.bar.sigLevelsChanged.connect(self._on_bar)
        self.kind = "db"
        self.maps = dict(DEFAULT_MAPS)
        self.db_levels = DEFAULT_DB_LEVELS
        self.salience_levels = (0.0, 1.0)
        self._img: dict | None = None
        self._settings = None

    # ------------------------------------------------------------------ settings
    def use_settings(self, settings) -> None:
        """Take the colour maps and dB levels from ``settings`` (``gui.settings.Settings``:
        ``colour_map(kind)``, ``db_levels()``) and write every later change there."""
        self._settings = None
        for kind in DEFAULT_MAPS:
            name = settings.colour_map(kind)
            self.set_colour_map(name if name in COLOUR_MAPS else DEFAULT_MAPS[kind], kind)
        self.set_db_levels(*settings.db_levels())
        self._settings = settings

    def _save(self) -> None:
        s = self._settings
        if s is not None:
            for kind, name in self.maps.items():
                s.set_colour_map(kind, name)
            s.set_db_levels(*self.db_levels)
            s.sync()

    # ------------------------------------------------------------------ levels and maps
    def _code_levels(self) -> tuple[float, float]:
        if self.kind == "db":
            return tuple(float(v) for v in code_from_db(self.db_levels))
        return self.salience_levels

    def _apply(self) -> None:
        """Push the current kind's map and levels to the bar and the image."""
        lo, hi = self.db_levels if self.kind == "db" else self.salience_levels
        if self.kind == "db":
            self.bar.lo_lim, self.bar.hi_lim = -SPEC_DB_RANGE, 0.0
            self.bar.rounding = 1.0
            self.bar.axis.setLabel("dB re peak")
        else:
            self.bar.lo_lim, self.bar.hi_lim = 0.0, None
            self.bar.rounding = max(1e-3, float(hi) / 100.0)
            self.bar.axis.setLabel("salience")
        self.bar.setColorMap(self.maps[self.kind])
        self.bar.setLevels((lo, hi))
        if self._img is not None:
            self._img["lut"] = lut(self.maps[self.kind])
            self.item.setLookupTable(self._img["lut"])
            self.item.setLevels(self._code_levels())

    def set_colour_map(self, name: str, kind: str | None = None) -> None:
        """Use colour map ``name`` (a key of ``COLOUR_MAPS``) for images of ``kind``
        (default: the kind shown now)."""
        if name not in COLOUR_MAPS:
            raise ValueError(f"colour map {name!r}; one of {sorted(COLOUR_MAPS)}")
        self.maps[kind or self.kind] = name
        if (kind or self.kind) == self.kind:
            self._apply()
        self._save()

    def set_kind(self, kind: str) -> None:
        """The kind of image the pane is for ('db' or 'salience'), shown or still to come:
        the bar, the map and the levels follow it."""
        if kind not in DEFAULT_MAPS:
            raise ValueError(f"image kind {kind!r}; one of {sorted(DEFAULT_MAPS)}")
        self.kind = kind
        self._apply()

    def colour_map(self) -> str:
        return self.maps[self.kind]

    def set_db_levels(self, floor_db: float, top_db: float | None = None) -> None:
        """Displayed dB range of 'db' images: ``floor_db`` .. ``top_db`` (dB re peak, in
        [-SPEC_DB_RANGE, 0]; the floor stays at least 1 dB under the top)."""
        top = self.db_levels[1] if top_db is None else float(top_db)
        top = min(max(top, -SPEC_DB_RANGE + 1.0), 0.0)
        floor = min(max(float(floor_db), -SPEC_DB_RANGE), top - 1.0)
        self.db_levels = (floor, top)
        if self.kind == "db":
            self._apply()
        self._save()

    def _on_bar(self, bar) -> None:
        lo, hi = (float(v) for v in bar.levels())
        if self.kind == "db":
            self.db_levels = (lo, hi)
            self._save()
        else:
            self.salience_levels = (lo, max(hi, lo + 1e-6))
        if self._img is not None:
            self.item.setLevels(self._code_levels())
        self.levels_changed.emit(self.kind, lo, hi)

    # ------------------------------------------------------------------ drawing
    def clear(self) -> None:
        self.item.clear()
        self._img = None

    def show(self, values: np.ndarray, kind: str, x0_s: float, dt_s: float, y0: float,
             height: float, *, top: float | None = None) -> None:
        """Show ``values`` [shape=(n_rows, n_frames)] of ``kind`` ('db' codes or 'salience')
        with column j covering [x0_s + j dt_s, x0_s + (j + 1) dt_s) s and rows spanning
        [y0, y0 + height) in the pane's y unit; ``top`` is the salience level mapped to the
        brightest colour (the levels then start at (0, top))."""
        if kind not in DEFAULT_MAPS:
            raise ValueError(f"image kind {kind!r}; one of {sorted(DEFAULT_MAPS)}")
        self.kind = kind
        if kind == "salience":
            self.salience_levels = (0.0, max(float(top or 1.0), 1e-3))
        self._img = {"levels": [values], "lut": lut(self.maps[kind]), "x0": x0_s, "dt": dt_s,
                     "y0": y0, "h": height, "shown": None}
        self._apply()
        self.update_window(0.0, float(values.shape[1]) * dt_s, 1000, force=True)

    def rect(self) -> tuple[float, float, float, float] | None:
        """(x0_s, y0, width_s, height) of the whole image, or None when none is shown."""
        im = self._img
        if im is None:
            return None
        return (im["x0"], im["y0"], im["levels"][0].shape[1] * im["dt"], im["h"])

    def _level(self, k: int) -> np.ndarray:
        lv = self._img["levels"]
        while len(lv) <= k:
            a = lv[-1]
            m = a.shape[1] // 2
            nxt = a[:, :2 * m].reshape(a.shape[0], m, 2).max(axis=2)
            if a.shape[1] % 2:
                nxt = np.concatenate([nxt, a[:, -1:]], axis=1)
            lv.append(np.ascontiguousarray(nxt))
        return lv[k]

    def update_window(self, x0: float, x1: float, px: int, force: bool = False) -> None:
        """Draw the part of the image visible in [x0, x1] s on a pane ``px`` pixels wide.

        Long images are drawn level-of-detail: the visible columns (plus a margin) of a
        max-pooled copy whose columns are no finer than about two per screen pixel, so zoom
        and pan cost the same on a one-minute and a one-hour track (pyqtgraph would
        otherwise resample the whole image on every paint)."""
        im = self._img
        if im is None:
            return
        full = im["levels"][0]
        n = full.shape[1]
        levels = self._code_levels()
        if n <= LOD_MIN_FRAMES:
            if force:
                self.item.setImage(np.ascontiguousarray(full, dtype=np.float32)
                                   if full.dtype == np.float16 else full,
                                   levels=levels, lut=im["lut"], autoLevels=False)
                self.item.setRect(QRectF(im["x0"], im["y0"], n * im["dt"], im["h"]))
                im["shown"] = (0, 0, n)
            return
        f0 = max(0, int((x0 - im["x0"]) / im["dt"]))
        f1 = min(n, int(np.ceil((x1 - im["x0"]) / im["dt"])) + 1)
        px = max(200, int(px) or 1000)
        k = max(0, int(np.floor(np.log2(max(1, f1 - f0) / (2.0 * px)))))
        shown = im["shown"]
        if not force and shown is not None and shown[0] == k and shown[1] <= f0 and f1 <= shown[2]:
            return  # the visible range is inside what is drawn, at the right detail
        w = f1 - f0
        a = max(0, f0 - w) >> k  # one visible width of margin on each side
        b = min(n, f1 + w + (1 << k) - 1) >> k
        lvl = self._level(k)
        b = min(b, lvl.shape[1])
        part = lvl[:, a:b]
        if part.dtype == np.float16:
            part = part.astype(np.float32)
        self.item.setImage(np.ascontiguousarray(part), levels=levels, lut=im["lut"],
                           autoLevels=False)
        scale = 1 << k
        self.item.setRect(QRectF(im["x0"] + a * scale * im["dt"], im["y0"],
                                 part.shape[1] * scale * im["dt"], im["h"]))
        im["shown"] = (k, min(n, a * scale), min(n, b * scale))

    # ------------------------------------------------------------------ read-out
    def value_at(self, t_s: float, y: float) -> float | None:
        """The full-resolution image value at (t_s, y): dB re peak for 'db' images, salience
        for 'salience'; None outside the image or when none is shown."""
        im = self._img
        if im is None:
            return None
        full = im["levels"][0]
        n_rows, n = full.shape
        j = int(np.floor((t_s - im["x0"]) / im["dt"]))
        i = int(np.floor((y - im["y0"]) / (im["h"] / max(1, n_rows))))
        if not (0 <= j < n and 0 <= i < n_rows):
            return None
        v = float(full[i, j])
        return float(db_from_code(v)) if self.kind == "db" else v

    def value_text(self, t_s: float, y: float) -> str:
        """The value at (t_s, y) for the read-out ('-23.5 dB', 'sal 0.412'), or ''."""
        v = self.value_at(t_s, y)
        if v is None:
            return ""
        return f"{v:6.1f} dB" if self.kind == "db" else f"sal {v:.3f}"
