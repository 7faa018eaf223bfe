"""Post-processing in numpy/scipy: harmonic-summation salience, peak picking, salience -> notes.

Nothing here knows about torch or the front end: the salience functions take partial
amplitudes on the harmonic-CQT grid (``[n_harmonics, n_bins, n_frames]``, 1.0 = a full-scale
sinusoid), the note functions take a ``Salience``-like pair of arrays.

The salience (``harmonic_salience``) is a DSP counterpart of DeepSalience:

1. partial amplitudes -> dB -> a compressed level ``c`` in [0, 1]: 0 at a floor (the larger of
   ``floor_db`` dBFS and the frame's median level + ``floor_offset_db``), 1 at ``range_db``
   above it. The scale is absolute (dB above the local background), so peaks are comparable
   across frames and tracks: a loud note reads high, a faint one low, silence 0.
2. weighted harmonic sum over h = 1..5 (weights decaying with h, a +-1 bin tolerance for
   inharmonicity), gated by the presence of the fundamental (``sqrt(c_1)``), which removes
   octave-below errors;
3. minus a subharmonic penalty: energy at odd multiples of f/2 (the h = 0.5 channel, and the
   h = 3, 5 channels an octave below) means the candidate is the 2nd partial of a lower note;
   energy at f/3 and 2f/3 means it is the 3rd partial of one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import maximum_filter1d

from workstation.core import constants as C
from workstation.core.types import Notes

#: Weights of harmonics 1..5 in the salience sum.
HARMONIC_WEIGHTS: tuple[float, ...] = (1.0, 0.8, 0.64, 0.51, 0.41)


# --------------------------------------------------------------------------- salience

def compress_db(amp: np.ndarray, *, floor_db: float = -80.0, floor_offset_db: float = 6.0,
                range_db: float = 80.0, reference: np.ndarray | None = None,
                reference_index: int | None = None) -> np.ndarray:
    """Partial amplitudes -> compressed level in [0, 1] [same shape as ``amp``, float32].

    amp [shape=(..., n_bins, n_frames)] linear amplitude (1.0 = full scale). The floor of frame t
    is ``max(floor_db, median_over_bins(reference[..., t]) + floor_offset_db)`` in dB, where
    ``reference`` [shape=(n_bins, n_frames)] defaults to ``amp`` (the median is over all leading
    axes and bins); ``reference_index`` uses ``amp[reference_index]`` without a second log."""
    amp = np.asarray(amp, dtype=np.float32)
    db = np.maximum(amp, np.float32(1e-7))
    np.log10(db, out=db)
    db *= np.float32(20.0)
    if reference_index is not None:
        ref_db = db[reference_index]
    else:
        ref_db = db if reference is None else 20.0 * np.log10(np.maximum(reference, 1e-7))
    n_frames = ref_db.shape[-1]
    med = np.median(ref_db.reshape(-1, n_frames), axis=0)
    floor = np.maximum(np.float32(floor_db), med + np.float32(floor_offset_db))
    db -= floor.astype(np.float32)
    db *= np.float32(1.0 / range_db)
    return np.clip(db, 0.0, 1.0, out=db)


def _add_shifted(acc: np.ndarray, x: np.ndarray, shift: float, weight: float = 1.0) -> np.ndarray:
    """acc[b] += weight * x[b - shift] along axis 0 (linear interpolation, zero outside), in place."""
    i = int(np.floor(shift))
    frac = float(shift - i)
    n = x.shape[0]
    if i + 1 < n and frac > 0:
        acc[i + 1:] += np.float32(weight * (1 - frac)) * x[1:n - i] + np.float32(weight * frac) * x[:n - i - 1]
        acc[i] += np.float32(weight * (1 - frac)) * x[0]
    elif i < n:
        acc[i:] += np.float32(weight) * x[:n - i]
    return acc


def _shifted(x: np.ndarray, shift: float) -> np.ndarray:
    """out[b] = x[b - shift] along axis 0 (linear interpolation, zero outside)."""
    return _add_shifted(np.zeros_like(x), x, shift)


def _widen(x: np.ndarray, k: int) -> np.ndarray:
    """Running maximum over +-k bins along axis 0."""
    out = x.copy()
    for d in range(1, k + 1):
        np.maximum(out[d:], x[:-d], out=out[d:])
        np.maximum(out[:-d], x[d:], out=out[:-d])
    return out


def harmonic_salience(levels: np.ndarray, *, harmonics: tuple[float, ...] = C.HARMONICS,
                      bins_per_octave: int = C.BINS_PER_OCTAVE,
                      weights: tuple[float, ...] = HARMONIC_WEIGHTS,
                      penalty: float = 1.5, tolerance_bins: int = 1,
                      max_subharmonic: int = 8) -> np.ndarray:
    """Multi-f0 salience [shape=(n_bins, n_frames), float32, in [0, 1]].

    levels [shape=(n_harmonics, n_bins, n_frames)]: compressed levels (``compress_db``) of the
    HCQT channels ``harmonics`` (must contain 0.5 and 1..5); bin b of every channel is the
    candidate f0 ``fmin * 2**(b / bins_per_octave)`` times the channel's harmonic."""
    hidx = {float(h): i for i, h in enumerate(harmonics)}
    missing = [h for h in (0.5, 1.0, 2.0, 3.0, 4.0, 5.0) if h not in hidx]
    if missing:
        raise ValueError(f"harmonic_salience needs HCQT harmonics {missing}")
    lv = np.asarray(levels, dtype=np.float32)
    c = {h: lv[i] for h, i in hidx.items()}
    # +-tolerance for the upper partials (inharmonicity, rounding); the fundamental stays
    # sharp: it sets the peak position.
    wide = {h: (_widen(c[h], tolerance_bins) if tolerance_bins > 0 and h > 1 else c[h])
            for h in (1.0, 2.0, 3.0, 4.0, 5.0)}
    w = np.asarray(weights, dtype=np.float32)
    total = np.zeros_like(c[1.0])
    for k, wk in enumerate(w, start=1):
        total += wk * wide[float(k)]
    # fundamental gate: no partial at f itself -> not an f0 (kills octave-below candidates)
    total *= np.sqrt(c[1.0])
    if penalty > 0:
        # Candidate f may be partial k of a lower note f/k (k = 2..max_subharmonic): that
        # note's partials j*f/k (j = 1..5, j not a multiple of k) are lit where f's own
        # harmonics are not. Level of partial j of f/k = channel j, shifted by log2(k) octaves.
        worst = np.zeros_like(total)
        for k in range(2, max_subharmonic + 1):
            shift = bins_per_octave * np.log2(k)
            # the lower note's fundamental: f/2 exactly from the h = 0.5 channel (also below fmin)
            fund = c[0.5] if k == 2 else _shifted(c[1.0], shift)
            p_k = w[0] * fund
            for j in range(2, 6):
                if j % k:
                    _add_shifted(p_k, wide[float(j)], shift, w[j - 1])
            p_k *= np.sqrt(fund)                  # gated like the salience itself
            np.maximum(worst, p_k, out=worst)
        total -= penalty * worst
    total *= np.float32(1.0 / w.sum())
    return np.clip(total, 0.0, 1.0, out=total)


def fundamental_gate(amp: np.ndarray, *, below_db: float = 40.0, width_db: float = 10.0,
                     harmonics: tuple[float, ...] = C.HARMONICS, tolerance_bins: int = 1) -> np.ndarray:
    """Gate [shape=(n_bins, n_frames), float32 in [0, 1]] against candidates with no fundamental.

    amp [shape=(n_harmonics, n_bins, n_frames)]: partial amplitudes on the harmonic-CQT grid
    (channels ``harmonics``, which must contain 1, 2 and 3). The gate is 0 where the level at
    the candidate f0 lies more than ``below_db`` under the stronger of its 2nd and 3rd partials
    (+-``tolerance_bins``), 1 where it lies less than ``below_db - width_db`` under, linear in
    between. A learned salience proposes f/2 below a fifth (f, 3f/2 present: a plausible missing
    fundamental); a real low note keeps energy at its fundamental well above the transform's
    leakage, a ghost has nothing else there."""
    hidx = {float(h): i for i, h in enumerate(harmonics)}
    a = np.asarray(amp, dtype=np.float32)
    db = lambda x: 20.0 * np.log10(np.maximum(x, np.float32(1e-7)))
    upper = np.maximum(a[hidx[2.0]], a[hidx[3.0]])
    if tolerance_bins > 0:
        upper = _widen(upper, tolerance_bins)
    gap = db(upper) - db(a[hidx[1.0]])
    return np.clip((below_db - gap) / np.float32(width_db), 0.0, 1.0).astype(np.float32)


@dataclass
class Peaks:
    """Frame-wise salience peaks as flat arrays: frame [int], bin (fractional), value."""

    frame: np.ndarray
    bin: np.ndarray
    value: np.ndarray


def parabolic_peak(values: np.ndarray, bins: np.ndarray, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sub-bin position and height of peaks by a parabola through the peak and its neighbours.

    values [shape=(n_bins, n_frames)]; bins, frames [shape=(n,)] integer peak positions.
    Returns (fractional bin [shape=(n,)], interpolated value [shape=(n,)])."""
    n_bins = values.shape[0]
    b = np.asarray(bins, dtype=np.int64)
    f = np.asarray(frames, dtype=np.int64)
    y0 = values[b, f].astype(np.float64)
    ym = np.where(b > 0, values[np.maximum(b - 1, 0), f], y0).astype(np.float64)
    yp = np.where(b < n_bins - 1, values[np.minimum(b + 1, n_bins - 1), f], y0).astype(np.float64)
    den = ym - 2 * y0 + yp
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = np.where(den < 0, 0.5 * (ym - yp) / den, 0.0)
    delta = np.clip(delta, -0.5, 0.5)
    return b + delta, y0 - 0.25 * (ym - yp) * delta


def pick_peaks(values: np.ndarray, *, threshold: float = 0.1, max_peaks: int = 8,
               min_distance_bins: int = 3) -> Peaks:
    """Frame-wise peaks of a salience [shape=(n_bins, n_frames)].

    A peak is the maximum within +-``min_distance_bins`` (which also drops the side lobes of a
    strong peak) and above ``threshold``; at most ``max_peaks`` per frame, the strongest.
    Positions are refined by parabolic interpolation. Returned sorted by frame, then bin."""
    v = np.asarray(values, dtype=np.float32)
    n_bins, n_frames = v.shape
    if n_frames == 0:
        return Peaks(np.zeros(0, np.int64), np.zeros(0), np.zeros(0))
    local = maximum_filter1d(v, size=2 * min_distance_bins + 1, axis=0, mode="constant")
    # strict against the lower neighbour so that a flat top yields one peak
    up = np.empty_like(v, dtype=bool)
    up[0] = True
    up[1:] = v[1:] > v[:-1]
    mask = (v >= local) & up & (v > threshold)
    score = np.where(mask, v, -1.0)
    k = min(max_peaks, n_bins)
    top = np.argpartition(-score, k - 1, axis=0)[:k]                  # [k, n_frames]
    frames = np.broadcast_to(np.arange(n_frames), top.shape)
    keep = score[top, frames] > 0
    bins, frames = top[keep], frames[keep]
    order = np.lexsort((bins, frames))
    bins, frames = bins[order], frames[order]
    fbin, val = parabolic_peak(v, bins, frames)
    return Peaks(frames.astype(np.int64), fbin, np.clip(val, 0.0, 1.0))


def bin_to_hz(bins, *, fmin: float = C.FMIN_HZ, bins_per_octave: int = C.BINS_PER_OCTAVE):
    """Fractional bin index -> frequency in Hz."""
    return fmin * 2.0 ** (np.asarray(bins, dtype=np.float64) / bins_per_octave)


def hz_to_bin(freqs_hz, *, fmin: float = C.FMIN_HZ, bins_per_octave: int = C.BINS_PER_OCTAVE):
    """Frequency in Hz -> fractional bin index."""
    return bins_per_octave * np.log2(np.asarray(freqs_hz, dtype=np.float64) / fmin)


# --------------------------------------------------------------------------- notes

def semitone_activation(values: np.ndarray, *, bins_per_octave: int = C.BINS_PER_OCTAVE,
                        fmin_midi: float = C.FMIN_MIDI,
                        suppress_neighbours: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Per-semitone activation: the max over the bins of each semitone (zeroed where a
    neighbouring semitone is higher, if ``suppress_neighbours``).

    values [shape=(n_bins, n_frames)] salience on the grid from ``fmin_midi``. Returns
    (activation [shape=(n_semitones, n_frames), float32], pitch_midi [shape=(n_semitones,), int]);
    semitone m covers the bins within +-half a semitone of its centre."""
    v = np.asarray(values)  # float16 stays float16: converted block by block below
    bps = bins_per_octave // 12
    half = bps // 2
    n_semi = (v.shape[0] + half) // bps
    n_frames = v.shape[1]
    act = np.empty((n_semi, n_frames), dtype=np.float32)
    block = 16384  # bounded temporaries on hour-long tracks
    for f0 in range(0, n_frames, block):
        f1 = min(n_frames, f0 + block)
        padded = np.zeros((n_semi * bps, f1 - f0), dtype=np.float32)
        padded[half:half + v.shape[0]] = v[: n_semi * bps - half, f0:f1]
        act[:, f0:f1] = padded.reshape(n_semi, bps, -1).max(axis=1)
    if suppress_neighbours:
        # a semitone lit only by the shoulder of its neighbour's peak is not a note
        up = np.concatenate([act[1:], np.zeros_like(act[:1])])
        down = np.concatenate([np.zeros_like(act[:1]), act[:-1]])
        act = np.where((act >= up) & (act >= down), act, 0.0).astype(np.float32)
    return act, (int(round(fmin_midi)) + np.arange(n_semi)).astype(np.int64)


def track_level(act: np.ndarray, *, percentile: float = 95.0) -> float:
    """Robust level of a track's strong notes: the ``percentile`` of the frame-wise maximum
    activation over the frames where anything is active (0.0 for a silent track)."""
    peak = np.asarray(act).max(axis=0) if np.size(act) else np.zeros(0)
    peak = peak[peak > 0]
    return float(np.percentile(peak, percentile)) if len(peak) else 0.0


def runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and ends (exclusive) of the True runs of a 1-D bool array."""
    d = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


@dataclass
class NoteEvents:
    """Frame-level note events: start/end frame (end exclusive), semitone row, peak and mean activation."""

    start: np.ndarray
    end: np.ndarray
    row: np.ndarray
    peak: np.ndarray
    mean: np.ndarray


def segment_notes(act: np.ndarray, *, on_threshold: float = 0.3, off_threshold: float = 0.15,
                  min_frames: int = 5, max_gap_frames: int = 3, split_depth: float = 0.08,
                  split_window_frames: int = 25, edge_fraction: float = 0.5,
                  edge_window_frames=20, split_act: np.ndarray | None = None) -> NoteEvents:
    """Note events from a per-semitone activation [shape=(n_semitones, n_frames)].

    1. hysteresis: a run of frames above ``off_threshold`` (gaps up to ``max_gap_frames``
       bridged) that reaches ``on_threshold`` somewhere is a note region;
    2. re-attacks: a region is split at a valley that lies ``split_depth`` below the highest
       activation within ``split_window_frames`` on each side (repeated notes);
    3. edges: the activation ramps up over the CQT window (up to ~0.3 s at low pitches); the
       onset is placed where it first reaches ``edge_fraction`` of the maximum of the first
       ``edge_window_frames`` frames (an int, or one per row: about half the CQT window of
       that pitch) -- the middle of the ramp; the offset symmetrically;
    4. pieces shorter than ``min_frames`` are dropped.

    ``split_act`` [same shape as ``act``]: the valleys of step 2 are looked for in this array
    instead (e.g. the log-odds of a probability map, where a dip from 0.98 to 0.6 is deep and
    one from 0.85 to 0.6 is not); ``split_depth`` is in its units."""
    a = np.asarray(act, dtype=np.float32)
    n_rows, n_frames = a.shape
    lo = a >= off_threshold
    if max_gap_frames > 0:
        from scipy.ndimage import binary_closing
        lo = binary_closing(lo, structure=np.ones((1, 2 * max_gap_frames + 1), bool)) | lo
    # valleys: local minima well below the maxima on both sides
    w = split_window_frames
    sa = a if split_act is None else np.asarray(split_act, dtype=np.float32)
    past = maximum_filter1d(sa, size=w, axis=1, origin=(w - 1) // 2, mode="nearest")   # max over [t-w+1, t]
    future = maximum_filter1d(sa, size=w, axis=1, origin=-(w // 2), mode="nearest")     # max over [t, t+w-1]
    left = np.concatenate([sa[:, :1], sa[:, :-1]], axis=1)
    right = np.concatenate([sa[:, 1:], sa[:, -1:]], axis=1)
    valley = (sa <= left) & (sa < right) & (past - sa >= split_depth) & (future - sa >= split_depth)
    del past, future, left, right
    starts, ends, rows, peaks, means = [], [], [], [], []
    for r in np.flatnonzero(lo.any(axis=1)):
        row = a[r]
        ew = int(np.broadcast_to(edge_window_frames, (n_rows,))[r])
        s_run, e_run = runs(lo[r])
        for s0, e0 in zip(s_run, e_run):
            if row[s0:e0].max() < on_threshold:
                continue
            # Re-attack cuts, at least half an edge window apart (and from the region's ends):
            # the ramps at a note's edges wobble as channels with different windows come in.
            min_piece = max(min_frames, ew // 2)
            cuts = [s0]
            for t in np.flatnonzero(valley[r, s0:e0]) + s0:
                if t - cuts[-1] >= min_piece and e0 - t >= min_piece:
                    cuts.append(int(t))
            cuts.append(e0)
            for s1, e1 in zip(cuts[:-1], cuts[1:]):
                seg = row[s1:e1]
                if len(seg) == 0 or seg.max() < on_threshold:
                    continue
                # Edges: the activation ramps over the CQT window (a mix of channels with
                # windows from ~40 to ~300 ms); the attack is at the middle of the ramp.
                head = seg[:ew]
                on = s1 + int(np.argmax(head >= edge_fraction * head.max()))
                tail = seg[-ew:]
                off = e1 - int(np.argmax(tail[::-1] >= edge_fraction * tail.max()))
                if off - on < min_frames:
                    continue
                starts.append(on)
                ends.append(off)
                rows.append(r)
                peaks.append(float(row[on:off].max()))
                means.append(float(row[on:off].mean()))
    order = np.lexsort((np.asarray(rows, np.int64), np.asarray(starts, np.int64)))
    as_arr = (lambda x, dt: np.asarray(x, dtype=dt)[order])
    return NoteEvents(as_arr(starts, np.int64), as_arr(ends, np.int64), as_arr(rows, np.int64),
                      as_arr(peaks, np.float32), as_arr(means, np.float32))


def note_bends(values: np.ndarray, events: NoteEvents, pitch_midi_rows: np.ndarray, *,
               step_frames: int = 4, bins_per_octave: int = C.BINS_PER_OCTAVE,
               fmin_midi: float = C.FMIN_MIDI) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fine pitch inside each note as cents from its semitone, every ``step_frames`` frames.

    values [shape=(n_bins, n_frames)]; the f0 of a frame is the parabolic peak of the salience
    within +-half a semitone (+1 bin) of the note's pitch. Returns flat arrays
    (note index [int], frame [int], cents)."""
    v = np.asarray(values)  # no float32 copy of an hour of salience: only note frames are read
    bps = bins_per_octave / 12.0
    note_idx, frames, cents = [], [], []
    for i, (s, e, r) in enumerate(zip(events.start, events.end, events.row)):
        t = np.arange(s, e, step_frames)
        centre = (pitch_midi_rows[r] - fmin_midi) * bps
        lo = max(0, int(np.floor(centre - bps / 2 - 1)))
        hi = min(v.shape[0], int(np.ceil(centre + bps / 2 + 1)) + 1)
        if hi - lo < 3 or len(t) == 0:
            continue
        b = lo + np.argmax(v[lo:hi][:, t], axis=0)
        fb, _ = parabolic_peak(v, b, t)
        note_idx.append(np.full(len(t), i))
        frames.append(t)
        cents.append(100.0 * (fb / bps + fmin_midi - pitch_midi_rows[r]))
    cat = (lambda xs, dt: np.concatenate(xs).astype(dt) if xs else np.zeros(0, dt))
    return cat(note_idx, np.int64), cat(frames, np.int64), cat(cents, np.float64)


def semitone_peaks(note: np.ndarray, contour: np.ndarray, *, threshold: float = 0.3,
                   bins_per_semitone: int = 3, centre_bin: int = 1
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Multi-f0 peaks of a note posteriorgram [shape=(n_semitones, n_frames)] (row ``i`` =
    MIDI ``21 + i``): every (semitone, frame) whose posterior reaches ``threshold``, its pitch
    refined by the parabolic peak of the contour posteriorgram [shape=(n_semitones *
    bins_per_semitone, n_frames)] (row ``b`` = MIDI ``21 + (b - centre_bin) / bins_per_semitone``:
    semitone ``i`` is centred on row ``bins_per_semitone * i + centre_bin``) within +-1
    contour bin of the semitone's centre. Returns flat arrays (frame [int], pitch_midi,
    posterior)."""
    r, t = np.nonzero(np.asarray(note) >= threshold)
    if len(r) == 0:
        return np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.float32)
    c = np.asarray(contour)
    centre = r * bins_per_semitone + centre_bin
    cand = np.clip(centre[:, None] + np.arange(-1, 2)[None], 0, len(c) - 1)
    best = cand[np.arange(len(r)), np.argmax(c[cand, t[:, None]], axis=1)]
    fb, _ = parabolic_peak(c, best, t)
    fb = np.clip(fb, centre - 1.0, centre + 1.0)
    return t.astype(np.int64), 21.0 + (fb - centre_bin) / bins_per_semitone, np.asarray(note)[r, t].astype(np.float32)


def sort_notes(notes: Notes) -> Notes:
    """The same notes ordered by (onset, pitch, offset), bends re-indexed (a stable order that
    JAMS, MIDI and CSV all preserve)."""
    n = len(notes)
    if n == 0:
        return notes
    order = np.lexsort((np.asarray(notes.offsets_s), np.asarray(notes.pitch_midi),
                        np.asarray(notes.onsets_s)))
    inverse = np.empty(n, dtype=np.int64)
    inverse[order] = np.arange(n)
    conf = np.asarray(notes.confidence)
    bend_note = inverse[np.asarray(notes.bend_note, dtype=np.int64)]
    border = np.lexsort((np.asarray(notes.bend_times_s), bend_note))
    return Notes(onsets_s=np.asarray(notes.onsets_s)[order],
                 offsets_s=np.asarray(notes.offsets_s)[order],
                 pitch_midi=np.asarray(notes.pitch_midi)[order],
                 velocity=np.asarray(notes.velocity)[order],
                 confidence=conf[order] if len(conf) == n else conf,
                 bend_note=bend_note[border],
                 bend_times_s=np.asarray(notes.bend_times_s)[border],
                 bend_cents=np.asarray(notes.bend_cents)[border], method=notes.method)


def take_notes(notes: Notes, indices) -> Notes:
    """The notes ``indices`` (increasing) alone, in that order, with their own pitch bends
    re-indexed; the method kept."""
    idx = np.asarray(indices, dtype=np.int64)
    n = len(notes)
    new_index = np.full(n, -1, np.int64)
    new_index[idx] = np.arange(len(idx))
    bend = new_index[np.asarray(notes.bend_note, np.int64)]
    kb = bend >= 0
    conf = np.asarray(notes.confidence)
    return Notes(onsets_s=np.asarray(notes.onsets_s)[idx], offsets_s=np.asarray(notes.offsets_s)[idx],
                 pitch_midi=np.asarray(notes.pitch_midi)[idx], velocity=np.asarray(notes.velocity)[idx],
                 confidence=conf[idx] if len(conf) == n else conf, bend_note=bend[kb],
                 bend_times_s=np.asarray(notes.bend_times_s)[kb],
                 bend_cents=np.asarray(notes.bend_cents)[kb], method=notes.method)


def concat_notes(parts: list[Notes], method: str = "") -> Notes:
    """The notes of ``parts`` one after the other (not sorted), each part's bends re-indexed."""
    offsets = np.cumsum([0] + [len(p) for p in parts[:-1]])

    def cat(k: str) -> np.ndarray:
        return np.concatenate([np.asarray(getattr(p, k)) for p in parts])
    return Notes(onsets_s=cat("onsets_s"), offsets_s=cat("offsets_s"), pitch_midi=cat("pitch_midi"),
                 velocity=cat("velocity"), confidence=cat("confidence"),
                 bend_note=np.concatenate([np.asarray(p.bend_note, np.int64) + o
                                           for p, o in zip(parts, offsets)]),
                 bend_times_s=cat("bend_times_s"), bend_cents=cat("bend_cents"), method=method)
