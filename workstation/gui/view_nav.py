"""Moving along the track view's shared time axis: the visible range, zoom and scroll, the
cursor and the playback loop (a mixin of ``TrackView``, which owns ``main``, ``cursors``,
``loop_region``, ``duration_s`` and ``data``)."""

from __future__ import annotations


class TimeNavigation:
    """x range, zoom, scroll, cursor and loop of a ``TrackView`` (times in s)."""

    def x_range(self) -> tuple[float, float]:
        x0, x1 = self.main.getViewBox().viewRange()[0]
        return float(x0), float(x1)

    def set_x_range(self, x0: float, x1: float) -> None:
        self.main.setXRange(x0, x1, padding=0.0)

    def zoom(self, factor: float, centre_s: float | None = None) -> None:
        """Zoom in (factor > 1) or out (< 1) around ``centre_s`` (default: the middle)."""
        x0, x1 = self.x_range()
        c = (x0 + x1) / 2 if centre_s is None else centre_s
        w = min(max((x1 - x0) / factor, 0.05), max(self.duration_s, 0.05))
        a = c - (c - x0) / (x1 - x0) * w
        a = min(max(a, 0.0), max(0.0, self.duration_s - w))
        self.set_x_range(a, a + w)

    def scroll(self, fraction: float) -> None:
        """Move by ``fraction`` of the visible width (negative: back)."""
        x0, x1 = self.x_range()
        w = x1 - x0
        a = min(max(x0 + fraction * w, 0.0), max(0.0, self.duration_s - w))
        self.set_x_range(a, a + w)

    def show_loop(self, loop: tuple[float, float] | None) -> None:
        """Draw the playback loop (start, end) in s over the waveform, or hide it."""
        if loop is None:
            self.loop_region.setVisible(False)
            return
        self.loop_region.setRegion((float(loop[0]), float(loop[1])))
        self.loop_region.setVisible(True)

    def set_cursor(self, t_s: float, *, follow: bool = False) -> None:
        for c in self.cursors:
            c.setValue(float(t_s))
        if follow and self.data is not None:
            x0, x1 = self.x_range()
            if not (x0 <= t_s <= x1):
                w = x1 - x0
                self.set_x_range(t_s - 0.1 * w, t_s + 0.9 * w)

    def cursor_s(self) -> float:
        return float(self.cursors[0].value())
