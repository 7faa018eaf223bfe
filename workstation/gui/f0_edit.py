"""Editing an f0 (melody) track by hand: pure functions over ``core.types.PitchTrack`` (no
Qt), each returning the new track and the indices of the frames it changed (the same
track object and [] when it changes nothing).

The frame grid never changes (times_s stays as the analysis made it); an edit changes the
frequency and voicing of the frames in a time region [t0_s, t1_s] (both ends included).
Frames changed by hand get confidence 1.0 (voiced by the user) or 0.0 (unvoiced by the
user), so that the edited track says which frames a person decided.
"""

from __future__ import annotations

import numpy as np

from workstation.core.types import PitchTrack, Salience

#: Lowest and highest f0 a hand edit may set, Hz (the range of the analysis' pitch grids).
F0_RANGE_HZ = (30.0, 2100.0)
#: A salience peak closer than this to the current f0 is "the same" peak, cents.
SAME_PEAK_CENTS = 50.0


def _copy(track: PitchTrack) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n = len(track.times_s)
    conf = np.asarray(track.confidence, dtype=np.float64)
    conf = conf.copy() if len(conf) == n else np.where(np.asarray(track.voiced, bool), 1.0, 0.0)
    return (np.asarray(track.times_s, dtype=np.float64),
            np.asarray(track.freqs_hz, dtype=np.float64).copy(),
            np.asarray(track.voiced, dtype=bool).copy(), conf)


def _made(times, freqs, voiced, conf) -> PitchTrack:
    return PitchTrack(times_s=times, freqs_hz=freqs, voiced=voiced, confidence=conf)


def frames_in(track: PitchTrack, t0_s: float, t1_s: float) -> np.ndarray:
    """Indices of the frames whose time lies in [min(t0, t1), max(t0, t1)] s."""
    a, b = sorted((float(t0_s), float(t1_s)))
    t = np.asarray(track.times_s, dtype=np.float64)
    return np.flatnonzero((t >= a) & (t <= b))


def unvoice(track: PitchTrack, t0_s: float, t1_s: float) -> tuple[PitchTrack, list[int]]:
    """Mark the voiced frames of the region unvoiced (their pitch guess is kept)."""
    t, f, v, c = _copy(track)
    idx = frames_in(track, t0_s, t1_s)
    idx = idx[v[idx]]
    if not len(idx):
        return track, []
    v[idx] = False
    c[idx] = 0.0
    return _made(t, f, v, c), idx.tolist()


def voice(track: PitchTrack, t0_s: float, t1_s: float) -> tuple[PitchTrack, list[int]]:
    """Mark the unvoiced frames of the region that have a pitch guess in range voiced."""
    t, f, v, c = _copy(track)
    idx = frames_in(track, t0_s, t1_s)
    idx = idx[~v[idx] & (f[idx] >= F0_RANGE_HZ[0]) & (f[idx] <= F0_RANGE_HZ[1])]
    if not len(idx):
        return track, []
    v[idx] = True
    c[idx] = 1.0
    return _made(t, f, v, c), idx.tolist()


def shift_octave(track: PitchTrack, t0_s: float, t1_s: float, octaves: int
                 ) -> tuple[PitchTrack, list[int]]:
    """Move the voiced frames of the region by ``octaves`` (e.g. -1: an octave down). A
    shift that would take a frame out of ``F0_RANGE_HZ`` changes nothing."""
    t, f, v, c = _copy(track)
    idx = frames_in(track, t0_s, t1_s)
    idx = idx[v[idx]]
    new = f[idx] * 2.0 ** int(octaves)
    if not len(idx) or int(octaves) == 0 or np.any(new < F0_RANGE_HZ[0]) or np.any(new > F0_RANGE_HZ[1]):
        return track, []
    f[idx] = new
    c[idx] = 1.0
    return _made(t, f, v, c), idx.tolist()


def redraw(track: PitchTrack, points_t_s, points_hz) -> tuple[PitchTrack, list[int]]:
    """Draw the f0 by hand: the frames between the first and last drawn point (times in s,
    any order) take the drawn path, interpolated in log frequency, and become voiced.
    Points outside ``F0_RANGE_HZ`` are clipped to it; fewer than two points change nothing."""
    pt = np.asarray(points_t_s, dtype=np.float64)
    ph = np.clip(np.asarray(points_hz, dtype=np.float64), *F0_RANGE_HZ)
    if len(pt) < 2 or len(pt) != len(ph):
        return track, []
    order = np.argsort(pt, kind="stable")
    pt, ph = pt[order], ph[order]
    t, f, v, c = _copy(track)
    idx = frames_in(track, pt[0], pt[-1])
    if not len(idx):
        return track, []
    f[idx] = np.exp(np.interp(t[idx], pt, np.log(ph)))
    v[idx] = True
    c[idx] = 1.0
    return _made(t, f, v, c), idx.tolist()


def snap_to_peaks(track: PitchTrack, t0_s: float, t1_s: float, salience: Salience,
                  direction: int = 0) -> tuple[PitchTrack, list[int]]:
    """Move each voiced frame of the region to a peak of the salience at its time (the
    salience frame nearest in time): ``direction`` 0 the nearest peak, +1 the nearest peak
    above the current f0, -1 below (peaks within ``SAME_PEAK_CENTS`` of it do not count for
    ±1). Frames with no such peak are left as they are."""
    t, f, v, c = _copy(track)
    idx = frames_in(track, t0_s, t1_s)
    idx = idx[v[idx]]
    st = np.asarray(salience.times_s, dtype=np.float64)
    pf = np.asarray(salience.peak_frame, dtype=np.int64)
    phz = np.asarray(salience.peak_freq_hz, dtype=np.float64)
    if not len(idx) or not len(st) or not len(pf):
        return track, []
    near = np.clip(np.searchsorted(st, t[idx]), 1, len(st) - 1) if len(st) > 1 else np.zeros(len(idx), np.int64)
    if len(st) > 1:
        near = np.where(np.abs(st[near - 1] - t[idx]) <= np.abs(st[near] - t[idx]), near - 1, near)
    order = np.argsort(pf, kind="stable")
    pf, phz = pf[order], phz[order]
    changed = []
    for i, k in zip(idx, near):
        lo, hi = np.searchsorted(pf, k), np.searchsorted(pf, k, side="right")
        cand = phz[lo:hi]
        cand = cand[(cand >= F0_RANGE_HZ[0]) & (cand <= F0_RANGE_HZ[1])]
        cents = 1200.0 * np.log2(cand / f[i]) if len(cand) else cand
        if direction > 0:
            cand, cents = cand[cents > SAME_PEAK_CENTS], cents[cents > SAME_PEAK_CENTS]
        elif direction < 0:
            cand, cents = cand[cents < -SAME_PEAK_CENTS], cents[cents < -SAME_PEAK_CENTS]
        if not len(cand):
            continue
        best = float(cand[np.argmin(np.abs(cents))])
        if best != f[i]:
            f[i] = best
            c[i] = 1.0
            changed.append(int(i))
    if not changed:
        return track, []
    return _made(t, f, v, c), changed
