"""Sonic Visualiser (SV) export: one SV layer file (``.svl``) per layer and a session file
(``.sv``) that opens the audio with every layer in its own pane.

SV's CSV import guesses a layer type from the columns (and offers a dialog), so our CSVs
(header row, our column order, a ``# provenance`` line) open as the wrong kind of layer. Its
own XML formats carry the layer type, the units and the display style, and SV opens them
without a question. Checked in Sonic Visualiser 4.5.1 (see ``tests/test_export_sonic_visualiser.py``).

Layer files (``File > Import Annotation Layer``, or after the audio on SV's command line)::

    <?xml version="1.0" encoding="UTF-8"?>
    <!DOCTYPE sonic-visualiser>
    <!-- provenance: method, model, sha256 prefix -->
    <sv>
      <data>
        <model id="1" name=".." sampleRate="SR" start=".." end=".." type="sparse" .../>
        <dataset id="0" dimensions="D"> <point frame=".." .../> ... </dataset>
      </data>
      <display>
        <layer id="2" type="LAYER TYPE" name=".." model="1" .../>
      </display>
    </sv>

Times are sample frames at the audio's sample rate SR (``round(t * SR)``; reading back gives
the times to within half a sample). Files written by ``write_sv(out_dir, stem, ...)``:

=====================  ============  ===========================================================
file                   SV layer      points
=====================  ============  ===========================================================
<stem>.beats.svl       time instants one per beat: frame, label ``bar.beat`` (``1.1``, ``1.2``
                                     ...; bar 0 = pickup before the first downbeat; ``?`` when
                                     the position in the bar is unknown)
<stem>.f0.svl          time values   one per voiced frame only (unvoiced frames are left out, so
                                     SV's "discrete curves" style breaks the line there): frame,
                                     value = f0 in Hz (units ``Hz``, log scale); resolution =
                                     the hop in samples
<stem>.notes.svl       notes         one per note: frame, duration (samples), value = MIDI pitch
                                     (units ``MIDI Pitch``, SV draws them on a piano scale),
                                     level = velocity / 127, label = note name (``A4``). Pitch
                                     bends are not written (SV notes have one pitch).
<stem>.key.svl         regions       one per local key segment: frame, duration, label = key
                                     (``A minor``), value = tonic pitch class + 12 for minor
                                     (same key, same colour in the "segmentation" style); the
                                     global key is in the layer name (``Key (global A minor)``).
                                     No local segments: one region of the global key over the
                                     whole track.
<stem>.sv              session       bzip2-compressed SV XML: the audio (absolute path) with a
                                     waveform, then beats, notes, f0 and keys in panes of their
                                     own. Written when the audio file is given and readable.
=====================  ============  ===========================================================

``read_svl`` reads these layer files (and SV's own exports of the same layer types) back into
core results; confidences, tempo alternatives and bends are not carried by SV's formats.
"""

from __future__ import annotations

import bz2
import logging
import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np

from workstation.core.errors import AnnotationError
from workstation.core.types import Beats, Key, Notes, PitchTrack, Result
from workstation.core.units import midi_to_note_name, parse_key_label, pitch_class_name

from .atomic import atomic_write
from .csv_io import beat_labels

log = logging.getLogger(__name__)

DEFAULT_SAMPLE_RATE = 44100
#: SV layer type, by our layer name.
LAYER_TYPES = {"beats": "timeinstants", "f0": "timevalues", "notes": "notes", "key": "regions"}
#: Layer display properties SV reads from the layer element.
_LAYER_PROPS = {
    "beats": 'colourName="Purple" plotStyle="0"',
    "f0": 'colourName="Bright Red" plotStyle="6" verticalScale="2"',   # discrete curves, log
    "notes": 'colourName="Blue" verticalScale="0"',
    "key": 'colourName="Orange" plotStyle="1"',                       # segmentation
}
_GLOBAL_RE = re.compile(r"\(global ([^)]*)\)")


def _frame(t: float, sr: int) -> int:
    return int(round(float(t) * sr))


def _num(x: float) -> str:
    return repr(float(x))


def _comment(text: str) -> str:
    text = " ".join(str(text).split()).replace("--", "- -")
    return f"<!-- {text} -->\n" if text else ""


def _key_text(pc: int, mode: str) -> str:
    return f"{pitch_class_name(pc)} {mode}"


# ------------------------------------------------------------------- model + dataset XML

def _model_xml(layer: str, r: Result, sr: int, mid: int, did: int, duration_s: float | None
               ) -> tuple[str, str] | None:
    """(model and dataset XML, layer name) for one result, or None when SV has no layer for
    it. ``mid`` / ``did``: the model's and dataset's ids in the file."""
    pts: list[str] = []
    if layer == "beats":
        t = np.asarray(r.times_s, dtype=np.float64)
        pos = np.asarray(r.positions, dtype=np.int64)
        pos = pos if len(pos) == len(t) else np.zeros(len(t), dtype=np.int64)
        pts = [f'<point frame="{_frame(a, sr)}" label={quoteattr(lab)}/>'
               for a, lab in zip(t, beat_labels(pos, unknown="?"))]
        attrs, dims = 'type="sparse" dimensions="1" resolution="1" notifyOnAdd="true"', 1
        name = f"Beats ({r.tempo_bpm:.1f} BPM)" if r.tempo_bpm else "Beats"
        frames = [_frame(a, sr) for a in t]
    elif layer == "f0":
        t = np.asarray(r.times_s, dtype=np.float64)
        f = np.asarray(r.freqs_hz, dtype=np.float64)
        keep = np.asarray(r.voiced, dtype=bool) & np.isfinite(f) & (f > 0)
        hop = max(1, _frame(np.median(np.diff(t)), sr)) if len(t) > 1 else 1
        pts = [f'<point frame="{_frame(a, sr)}" value="{_num(v)}" label=""/>'
               for a, v in zip(t[keep], f[keep])]
        lo, hi = (float(f[keep].min()), float(f[keep].max())) if keep.any() else (0.0, 0.0)
        attrs = (f'type="sparse" dimensions="2" resolution="{hop}" notifyOnAdd="true" '
                 f'minimum="{_num(lo)}" maximum="{_num(hi)}" units="Hz"')
        dims, name = 2, "f0"
        frames = [_frame(a, sr) for a in t[keep]]
    elif layer == "notes":
        from workstation.core.postprocess import sort_notes
        r = sort_notes(r)
        on, off = np.asarray(r.onsets_s, np.float64), np.asarray(r.offsets_s, np.float64)
        p, vel = np.asarray(r.pitch_midi), np.asarray(r.velocity)
        for a, b, m, v in zip(on, off, p, vel):
            fa = _frame(a, sr)
            pts.append(f'<point frame="{fa}" value="{int(m)}" duration="{max(0, _frame(b, sr) - fa)}" '
                       f'level="{_num(int(v) / 127.0)}" label={quoteattr(midi_to_note_name(m))}/>')
        lo, hi = (int(p.min()), int(p.max())) if len(p) else (0, 0)
        attrs = (f'type="sparse" dimensions="3" resolution="1" notifyOnAdd="true" '
                 f'subtype="note" valueQuantization="0" minimum="{lo}" maximum="{hi}" '
                 f'units="MIDI Pitch"')
        dims, name = 3, "Notes"
        frames = [_frame(a, sr) for a in on] + [_frame(b, sr) for b in off]
    elif layer == "key":
        segs = list(zip(r.local_start_s, r.local_end_s, r.local_tonic_pc, r.local_mode))
        if not segs and duration_s:
            segs = [(0.0, duration_s, r.tonic_pc, r.mode)]
        vals = []
        for s, e, pc, mode in segs:
            fs = _frame(s, sr)
            v = int(pc) % 12 + (12 if str(mode) == "minor" else 0)
            vals.append(v)
            pts.append(f'<point frame="{fs}" value="{v}" duration="{max(0, _frame(e, sr) - fs)}" '
                       f'label={quoteattr(_key_text(int(pc), str(mode)))}/>')
        attrs = ('type="sparse" dimensions="3" resolution="1" notifyOnAdd="true" '
                 f'subtype="region" valueQuantization="0" minimum="{min(vals, default=0)}" '
                 f'maximum="{max(vals, default=0)}" units=""')
        dims = 3
        name = f"Key (global {_key_text(r.tonic_pc, r.mode)})"
        frames = [_frame(s, sr) for s, *_ in segs] + [_frame(e, sr) for _, e, *_ in segs]
    else:
        return None
    start, end = (min(frames), max(frames)) if frames else (0, 0)
    xml = (f'    <model id="{mid}" name={quoteattr(name)} sampleRate="{sr}" start="{start}" '
           f'end="{end}" {attrs} dataset="{did}"/>\n'
           f'    <dataset id="{did}" dimensions="{dims}">\n'
           + "".join(f"      {p}\n" for p in pts) + "    </dataset>\n")
    return xml, name


def _layer_el(layer: str, lid: int, mid: int, name: str, extra: str = "") -> str:
    return (f'<layer id="{lid}" type="{LAYER_TYPES[layer]}" name={quoteattr(name)} '
            f'model="{mid}" {_LAYER_PROPS[layer]}{extra}/>')


def _layers_of(results: dict[str, Result]) -> list[tuple[str, str, Result]]:
    """(our layer name, analyzer id, result) for each result SV has a layer for, in pane
    order: beats, notes, f0, key."""
    kinds = {Beats: "beats", Notes: "notes", PitchTrack: "f0", Key: "key"}
    found = [(kinds[type(r)], aid, r) for aid, r in results.items() if type(r) in kinds]
    order = ["beats", "notes", "f0", "key"]
    return sorted(found, key=lambda x: order.index(x[0]))


def _head(comment: str = "") -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE sonic-visualiser>\n'
            + _comment(comment) + "<sv>\n")


def layer_file_text(layer: str, r: Result, sample_rate: int, *, duration_s: float | None = None,
                    comment: str = "") -> str | None:
    """The ``.svl`` text of one layer (``layer``: beats, f0, notes or key), or None."""
    got = _model_xml(layer, r, sample_rate, 1, 0, duration_s)
    if got is None:
        return None
    xml, name = got
    el = _layer_el(layer, 2, 1, name)   # defined in data, shown in SV's current pane
    return (_head(comment) + "  <data>\n" + xml + f"    {el}\n  </data>\n  <display>\n    "
            + el + "\n  </display>\n</sv>\n")


def session_text(audio_path: str | Path, n_frames: int, sample_rate: int,
                 results: dict[str, Result], *, duration_s: float | None = None,
                 width_px: int = 1200, comment: str = "") -> str:
    """An SV session (uncompressed XML): the audio as main model, a pane with a time ruler,
    the waveform and the beats, then one pane per other layer, zoomed to show the track."""
    audio = str(Path(audio_path).resolve())
    data = [f'    <model id="0" name={quoteattr(Path(audio).name)} sampleRate="{sample_rate}" '
            f'start="0" end="{n_frames}" type="wavefile" file={quoteattr(audio)} '
            'mainModel="true"/>\n',
            '    <layer id="1" type="timeruler" name="Ruler" model="0" colourName="Black"/>\n',
            '    <layer id="2" type="waveform" name="Waveform" model="0" colourName="Bright Blue" '
            'channelMode="2"/>\n']
    panes: list[list[str]] = [['<layer id="1" type="timeruler" name="Ruler" model="0" '
                               'visible="true"/>',
                               '<layer id="2" type="waveform" name="Waveform" model="0" '
                               'visible="true"/>']]
    nid = 10
    for layer, _aid, r in _layers_of(results):
        got = _model_xml(layer, r, sample_rate, nid, nid + 1, duration_s)
        if got is None:
            continue
        xml, name = got
        data.append(xml)
        data.append("    " + _layer_el(layer, nid + 2, nid, name) + "\n")
        el = _layer_el(layer, nid + 2, nid, name, ' visible="true"')
        if layer == "beats":
            panes[0].append(el)
        else:
            panes.append(['<layer id="1" type="timeruler" name="Ruler" model="0" '
                          'visible="true"/>', el])
        nid += 10
    zoom = max(1, math.ceil(n_frames / width_px))
    views = "".join(
        f'    <view centre="{n_frames // 2}" zoom="{zoom}" followPan="1" followZoom="1" '
        f'tracking="page" type="pane" centreLineVisible="0" height="{160 if i == 0 else 200}">\n'
        + "".join(f"      {el}\n" for el in els) + "    </view>\n"
        for i, els in enumerate(panes))
    return (_head(comment) + "  <data>\n" + "".join(data) + "  </data>\n  <display>\n"
            f'    <window width="{width_px + 100}" height="1000"/>\n' + views
            + "  </display>\n</sv>\n")


def _audio_info(audio_path) -> tuple[int, int] | None:
    """(sample rate, frames) of the audio file, or None when it cannot be read."""
    if not audio_path:
        return None
    try:
        from workstation.core.audio import probe
        info = probe(audio_path)
    except Exception as exc:  # any unreadable audio: layer files still get written
        log.warning("SV export: cannot read %s (%s); no session file", audio_path, exc)
        return None
    return info.sr, info.n_frames


def write_sv(out_dir: str | Path, stem: str, results: dict[str, Result], *,
             audio_path: str | Path | None = None, sample_rate: int | None = None,
             duration_s: float | None = None, provenance: dict[str, dict] | None = None
             ) -> list[Path]:
    """Write ``<out_dir>/<stem>.<layer>.svl`` per layer SV can show and, when ``audio_path``
    is readable, the session ``<stem>.sv``; returns the paths. Frames are at the audio's
    sample rate (else ``sample_rate``, else 44100). ``provenance`` (by analyzer id) becomes
    an XML comment in each layer file."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    info = _audio_info(audio_path)
    sr = info[0] if info else int(sample_rate or DEFAULT_SAMPLE_RATE)
    written: list[Path] = []
    layers = _layers_of(results)
    seen: set[str] = set()
    for layer, aid, r in layers:
        if layer in seen:
            log.warning("SV export: a second %s layer (%s) overwrites the first", layer, aid)
        seen.add(layer)
        text = layer_file_text(layer, r, sr, duration_s=duration_s,
                               comment=(provenance or {}).get(aid, {}).get("text", ""))
        p = out_dir / f"{stem}.{layer}.svl"
        with atomic_write(p) as tmp:
            Path(tmp).write_text(text, encoding="utf-8")
        written.append(p)
    if info and layers:
        made = "; ".join(t for _, aid, _ in layers if (t := (provenance or {}).get(aid, {}).get("text")))
        p = out_dir / f"{stem}.sv"
        body = session_text(audio_path, info[1], sr, results, duration_s=duration_s, comment=made)
        with atomic_write(p) as tmp:
            Path(tmp).write_bytes(bz2.compress(body.encode("utf-8")))
        written.append(p)
    return written


# ---------------------------------------------------------------------------------- reading

def _parse(path: Path) -> ET.Element:
    if not path.is_file():
        raise AnnotationError(path, "file not found")
    raw = path.read_bytes()
    if raw[:3] == b"BZh":
        try:
            raw = bz2.decompress(raw)
        except (OSError, ValueError) as exc:
            raise AnnotationError(path, f"damaged bzip2 data: {exc}") from None
    try:
        return ET.fromstring(raw)
    except ET.ParseError as exc:
        raise AnnotationError(path, f"not SV XML: {exc}") from None


def _read_model(path: Path, model: ET.Element, ds: ET.Element, ltype: str) -> tuple[str, Result]:
    sr = float(model.get("sampleRate") or 0)
    if sr <= 0:
        raise AnnotationError(path, f"model {model.get('id')} has no sample rate")
    pts = ds.findall("point")
    try:
        fr = np.array([int(p.get("frame")) for p in pts], dtype=np.int64)
        val = np.array([float(p.get("value", "nan")) for p in pts], dtype=np.float64)
        dur = np.array([int(p.get("duration", "0")) for p in pts], dtype=np.int64)
    except (TypeError, ValueError) as exc:
        raise AnnotationError(path, f"bad point: {exc}") from None
    labels = [p.get("label", "") for p in pts]
    t = fr / sr
    dims, sub = model.get("dimensions"), model.get("subtype", "")
    if ltype == "timeinstants" or dims == "1":
        pos = np.array([int(b) if (b := lab.partition(".")[2]).isdigit() else 0
                        for lab in labels], dtype=np.int64)
        tempo = float(60.0 / np.median(np.diff(t))) if len(t) > 1 else 0.0
        return "beats", Beats(times_s=t, positions=pos, tempo_bpm=tempo,
                              meter=int(pos.max()) if np.any(pos > 0) else 0)
    if ltype == "timevalues" or (dims == "2" and sub == ""):
        return "pitch.f0", PitchTrack(times_s=t, freqs_hz=val, voiced=np.ones(len(t), bool),
                                      confidence=np.zeros(0))
    if ltype == "regions" or sub == "region":
        keys = []
        for lab in labels:
            try:
                keys.append(parse_key_label(lab))
            except ValueError:
                raise AnnotationError(path, f"region label {lab!r} is not a key") from None
        m = _GLOBAL_RE.search(model.get("name", ""))
        g = parse_key_label(m.group(1)) if m else (keys[0] if keys else (0, "major"))
        return "key", Key(tonic_pc=g[0], mode=g[1], confidence=0.0, local_start_s=t,
                          local_end_s=(fr + dur) / sr,
                          local_tonic_pc=np.array([k[0] for k in keys], dtype=np.int64),
                          local_mode=[k[1] for k in keys],
                          local_confidence=np.full(len(keys), np.nan))
    if ltype == "notes" or sub == "note" or dims == "3":
        pitch = val if model.get("units", "") != "Hz" else 69 + 12 * np.log2(val / 440.0)
        lev = np.array([float(p.get("level", "1")) for p in pts], dtype=np.float64)
        return "notes", Notes(onsets_s=t, offsets_s=(fr + dur) / sr,
                              pitch_midi=np.round(pitch).astype(np.int64),
                              velocity=np.clip(np.round(lev * 127), 1, 127).astype(np.int64))
    raise AnnotationError(path, f"model type {dims}-D {sub!r} is not a layer read here")


def read_svl(path: str | Path) -> dict[str, Result]:
    """Read an SV layer file (or an uncompressed or bzip2 session) into core results keyed by
    analyzer id (``beats``, ``pitch.f0``, ``notes``, ``key``); a second layer of a kind
    keeps the first. Raises ``AnnotationError`` naming the file and the reason."""
    path = Path(path)
    root = _parse(path)
    if root.tag.lower() != "sv":
        raise AnnotationError(path, f"root element <{root.tag}>, expected <sv>")
    models = {m.get("id"): m for m in root.iter("model")}
    datasets = {d.get("id"): d for d in root.iter("dataset")}
    ltypes = {lay.get("model"): lay.get("type", "") for lay in root.iter("layer")}
    out: dict[str, Result] = {}
    for mid, m in models.items():
        if m.get("type") != "sparse" or m.get("dataset") not in datasets:
            continue
        aid, r = _read_model(path, m, datasets[m.get("dataset")], ltypes.get(mid, ""))
        out.setdefault(aid, r)
    if not out:
        raise AnnotationError(path, "no beats, f0, notes or key layer in this SV file")
    return out
