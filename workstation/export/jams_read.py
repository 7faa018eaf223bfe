"""JAMS import: ``read_jams`` rebuilds the core types from files written by ``jams_io`` and
from other tools' JAMS files (GuitarSet/mirdata style: several ``note_midi`` annotations, one
per string, are merged; ``pitch_contour`` contours that never sound together are one f0,
overlapping ones a multi-f0 layer; fractional MIDI note values become the nearest integer
pitch plus a bend point at the onset; a repeated note list is read once). The namespaces and
their mapping are documented in ``jams_io``."""

from __future__ import annotations

import gzip
import json
import logging
import zlib
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from workstation.core.errors import AnnotationError
from workstation.core.types import (Beats, Embedding, Key, Notes, PitchTrack, Result, Salience,
                                    Tags)
from workstation.core.postprocess import sort_notes
from workstation.core.units import hz_to_midi, parse_key_label

from .jams_io import DEFAULT_VELOCITY, _jams, _records, validate_document

log = logging.getLogger(__name__)


class _Obs(NamedTuple):
    time: float
    duration: float
    value: Any
    confidence: Any


def _name(ann: dict) -> str:
    meta = ann.get("annotation_metadata") or {}
    annotator = meta.get("annotator") or {}
    return str(annotator.get("name", "") or "") if isinstance(annotator, dict) else ""


def _sandbox(ann: dict) -> dict[str, Any]:
    sb = ann.get("sandbox")
    return sb if isinstance(sb, dict) else {}


def _obs(ann: dict) -> list[_Obs]:
    return [_Obs(float(r["time"]), float(r.get("duration") or 0.0), r.get("value"),
                 r.get("confidence")) for r in _records(ann.get("data", []))]


def _read_contours(anns) -> PitchTrack | Salience:
    """Unnamed ``pitch_contour`` annotations (other tools' files): contours that never sound
    together (GuitarSet numbers the successive notes of a string 0, 1, 2...) are one f0
    ``PitchTrack``, in time order; contours that overlap in time are a multi-f0 ``Salience``
    (never one of them picked silently)."""
    obs = [o for a in anns for o in _obs(a) if isinstance(o.value, dict)]
    voiced_t = np.array([o.time for o in obs if o.value.get("voiced", True)
                         and float(o.value.get("frequency", 0.0)) > 0], dtype=np.float64)
    if len(np.unique(np.round(voiced_t, 6))) < len(voiced_t):
        return _read_multif0(obs)
    obs.sort(key=lambda o: o.time)
    return _read_f0(obs)


def _read_f0(obs_or_ann) -> PitchTrack:
    """One f0 contour: an annotation, or its observations in time order."""
    src = obs_or_ann if isinstance(obs_or_ann, list) else _obs(obs_or_ann)
    obs = [o for o in src if isinstance(o.value, dict)]
    t = np.array([o.time for o in obs], dtype=np.float64)
    f = np.array([float(o.value.get("frequency", 0.0)) for o in obs], dtype=np.float64)
    v = np.array([bool(o.value.get("voiced", fi > 0)) for o, fi in zip(obs, f)], dtype=bool)
    c = np.array([np.nan if o.confidence is None else float(o.confidence) for o in obs])
    if np.all(np.isnan(c)):
        c = v.astype(np.float64)
    # mir_eval convention: negative frequency = unvoiced estimate
    neg = f < 0
    v[neg] = False
    f = np.abs(f)
    return PitchTrack(times_s=t, freqs_hz=f, voiced=v, confidence=np.nan_to_num(c))


def _read_multif0(obs_or_ann) -> Salience:
    src = obs_or_ann if isinstance(obs_or_ann, list) else _obs(obs_or_ann)
    obs = [o for o in src if isinstance(o.value, dict)]
    t = np.array([o.time for o in obs], dtype=np.float64)
    f = np.array([float(o.value.get("frequency", 0.0)) for o in obs], dtype=np.float64)
    idx = np.array([int(o.value.get("index", 0)) for o in obs], dtype=np.int64)
    s = np.array([1.0 if o.confidence is None else float(o.confidence) for o in obs])
    voiced = np.array([bool(o.value.get("voiced", True)) for o in obs], dtype=bool) & (f > 0)
    t, f, idx, s = t[voiced], f[voiced], idx[voiced], s[voiced]
    times, frame = np.unique(t, return_inverse=True)
    order = np.lexsort((idx, frame))
    return Salience(times_s=times, freqs_hz=np.zeros(0), values=np.zeros((0, len(times)), np.float32),
                    peak_frame=frame[order].astype(np.int64), peak_freq_hz=f[order],
                    peak_salience=s[order])


def _read_notes(anns, *, hz: bool = False) -> Notes:
    on, off, pitch, vel, conf, bn, bt, bc = [], [], [], [], [], [], [], []
    any_conf = False
    for ann in anns:
        obs = _obs(ann)
        sb = _sandbox(ann)
        base = len(on)
        velocity = sb.get("velocity")
        offsets = sb.get("offsets_s")
        if velocity is not None and len(velocity) != len(obs):
            velocity = None
        if offsets is not None and len(offsets) != len(obs):
            offsets = None
        for i, o in enumerate(obs):
            value = float(o.value)
            m = float(hz_to_midi(value)) if hz else value
            if not np.isfinite(m):
                continue
            p = int(round(m))
            on.append(float(o.time))
            off.append(float(offsets[i]) if offsets is not None else float(o.time) + float(o.duration))
            pitch.append(p)
            vel.append(int(velocity[i]) if velocity is not None else DEFAULT_VELOCITY)
            any_conf |= o.confidence is not None
            conf.append(1.0 if o.confidence is None else float(o.confidence))
            dev = 100.0 * (m - p)
            if abs(dev) > 1e-6 and "bend_note" not in sb:
                bn.append(len(on) - 1)
                bt.append(float(o.time))
                bc.append(dev)
        if "bend_note" in sb:
            bn.extend(base + int(i) for i in sb["bend_note"])
            bt.extend(float(x) for x in sb.get("bend_times_s", []))
            bc.extend(float(x) for x in sb.get("bend_cents", []))
    notes = Notes(onsets_s=np.array(on, dtype=np.float64), offsets_s=np.array(off, dtype=np.float64),
                  pitch_midi=np.array(pitch, dtype=np.int64), velocity=np.array(vel, dtype=np.int64),
                  confidence=np.array(conf if any_conf else [], dtype=np.float64),
                  bend_note=np.array(bn, dtype=np.int64), bend_times_s=np.array(bt, dtype=np.float64),
                  bend_cents=np.array(bc, dtype=np.float64))
    return sort_notes(notes) if len(anns) > 1 else notes


def _parse_key(value: str) -> tuple[int, str] | None:
    if value is None or str(value).strip() in ("", "N", "X"):
        return None
    return parse_key_label(str(value))


def _read_key(anns) -> Key | None:
    local = [a for a in anns if _name(a) == "local"]
    glob = [a for a in anns if _name(a) != "local"]
    g_obs = [o for a in glob for o in _obs(a) if _parse_key(o.value) is not None]
    l_ann = local[0] if local else None
    if not g_obs and l_ann is None:
        return None
    if glob and len(_obs(glob[0])) > 1 and l_ann is None:
        # another tool's key timeline: it is the local key; the global key is the label that
        # covers the most time
        l_ann, g_obs = glob[0], []
    seg_s, seg_e, seg_pc, seg_mode, seg_conf = [], [], [], [], []
    if l_ann is not None:
        sb = _sandbox(l_ann)
        obs = _obs(l_ann)
        ends = sb.get("end_s") if len(sb.get("end_s", [])) == len(obs) else None
        for i, o in enumerate(obs):
            parsed = _parse_key(o.value)
            if parsed is None:
                continue
            seg_s.append(float(o.time))
            seg_e.append(float(ends[i]) if ends is not None else float(o.time) + float(o.duration))
            seg_pc.append(parsed[0])
            seg_mode.append(parsed[1])
            seg_conf.append(1.0 if o.confidence is None else float(o.confidence))
    if g_obs:
        o = max(g_obs, key=lambda x: float(x.duration or 0.0))
        tonic, mode = _parse_key(o.value)
        conf = 1.0 if o.confidence is None else float(o.confidence)
    else:
        cover: dict[tuple[int, str], float] = {}
        for s, e, pc, m in zip(seg_s, seg_e, seg_pc, seg_mode):
            cover[(pc, m)] = cover.get((pc, m), 0.0) + (e - s)
        (tonic, mode), best = max(cover.items(), key=lambda kv: kv[1])
        total = sum(cover.values())
        conf = best / total if total > 0 else 1.0
    return Key(tonic_pc=int(tonic), mode=mode, confidence=conf,
               local_start_s=np.array(seg_s, dtype=np.float64),
               local_end_s=np.array(seg_e, dtype=np.float64),
               local_tonic_pc=np.array(seg_pc, dtype=np.int64), local_mode=seg_mode,
               local_confidence=np.array(seg_conf, dtype=np.float64))


def _read_beats(beat_ann, pos_ann, tempo_ann) -> Beats | None:
    times, positions, meter = np.zeros(0), np.zeros(0, dtype=np.int64), 0
    if beat_ann is not None:
        obs = _obs(beat_ann)
        times = np.array([o.time for o in obs], dtype=np.float64)
        positions = np.array([int(o.value) if isinstance(o.value, (int, float)) and o.value >= 1
                              else 0 for o in obs], dtype=np.int64)
        meter = int(_sandbox(beat_ann).get("meter", 0) or 0)
    if pos_ann is not None:
        obs = _obs(pos_ann)
        pt = np.array([o.time for o in obs], dtype=np.float64)
        pp = np.array([int(round(float(o.value["position"]))) for o in obs], dtype=np.int64)
        if beat_ann is None or len(times) == 0:
            times, positions = pt, pp
        elif np.all(positions == 0) and len(pt):
            j = np.clip(np.searchsorted(pt, times), 0, len(pt) - 1)
            match = np.abs(pt[j] - times) < 1e-6
            positions = np.where(match, pp[j], 0)
        if obs and meter == 0:
            meter = int(obs[0].value.get("num_beats", 0))
    tempo, conf, alts = 0.0, 0.0, np.zeros(0)
    if tempo_ann is not None:
        obs = sorted(_obs(tempo_ann), key=lambda o: -(o.confidence or 0.0))
        sb = _sandbox(tempo_ann)
        if obs:
            tempo = float(obs[0].value)
            conf = float(sb.get("confidence", obs[0].confidence or 0.0))
        if "alternatives_bpm" in sb:
            alts = np.array(sb["alternatives_bpm"], dtype=np.float64)
        else:
            alts = np.array([float(o.value) for o in obs[1:]], dtype=np.float64)
    if beat_ann is None and pos_ann is None and tempo_ann is None:
        return None
    if tempo == 0.0 and len(times) > 1:
        tempo = float(60.0 / np.median(np.diff(times)))
    return Beats(times_s=times, positions=positions, tempo_bpm=tempo,
                 tempo_alternatives_bpm=alts, tempo_confidence=conf, meter=meter)


def _load(path: Path) -> dict:
    """Parse a JAMS file (plain JSON; gzipped .jamz too) and check its structure with jams'
    schema (a file that does not validate is read anyway, with a warning)."""
    if not path.is_file():
        raise AnnotationError(path, "file not found")
    try:
        if path.suffix.lower() in (".jamz", ".gz"):
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                doc = json.load(fh)
        else:
            with open(path, encoding="utf-8") as fh:
                doc = json.load(fh)
    except json.JSONDecodeError as exc:
        raise AnnotationError(path, f"not a JSON file: {exc}") from exc
    except RecursionError:
        raise AnnotationError(path, "not a JAMS file: JSON nested too deeply to read") from None
    except ValueError as exc:      # e.g. a number of thousands of digits
        raise AnnotationError(path, f"not a JAMS file: {exc}") from None
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise AnnotationError(path, f"not a text (JSON) file: {exc}") from exc
    except OSError as exc:
        raise AnnotationError(path, f"cannot read: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("annotations"), list):
        raise AnnotationError(path, "not a JAMS file: no 'annotations' list at the top level")
    for i, a in enumerate(doc["annotations"]):
        if not isinstance(a, dict) or "namespace" not in a or "data" not in a:
            raise AnnotationError(path, f"not a JAMS file: annotation {i} has no namespace/data")
    jams = _jams()
    try:
        validate_document(doc, sample=200)
    except jams.SchemaError as exc:
        log.warning("%s does not validate against the JAMS schema (%s); reading it anyway",
                    path, str(exc).splitlines()[0])
    return doc


def read_jams(path: str | Path) -> dict[str, Result]:
    """Read a JAMS file into core results keyed by analyzer id.

    Files written by ``write_jams`` come back with the ids they were written with; other
    tools' files give the default ids ('pitch.f0', 'pitch.salience', 'notes', 'key', 'beats',
    'tags', 'embedding') for the layers they hold. Raises ``AnnotationError`` naming the file
    and the reason when it is not a readable JAMS file."""
    path = Path(path)
    doc = _load(path)
    try:
        return _from_doc(doc)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise AnnotationError(path, f"unexpected JAMS content: {exc!r}") from exc


def _aid(anns, default: str) -> str:
    for a in anns:
        v = _sandbox(a).get("analyzer")
        if v:
            return str(v)
    return default


def _distinct(anns: list) -> list:
    """Annotations without exact repeats of an earlier one's observations (a demo's "melody"
    note list repeats its violin part: merged, every melody note came twice)."""
    seen, out = set(), []
    for a in anns:
        key = tuple((round(float(o.time), 6), round(float(o.duration), 6), repr(o.value))
                    for o in _obs(a))
        if key not in seen:
            seen.add(key)
            out.append(a)
    return out


def _from_doc(doc: dict) -> dict[str, Result]:
    by_ns: dict[str, list] = {}
    for ann in doc["annotations"]:
        by_ns.setdefault(str(ann["namespace"]), []).append(ann)
    out: dict[str, Result] = {}

    contours = by_ns.get("pitch_contour", [])
    f0 = [a for a in contours if _name(a) == "f0"]
    mf0 = [a for a in contours if _name(a) == "multif0"]
    if f0:
        out[_aid(f0, "pitch.f0")] = _read_f0(f0[0])
    else:
        unnamed = [a for a in contours if _name(a) not in ("multif0",) and len(_records(a["data"]))]
        if unnamed:
            r = _read_contours(unnamed)
            out["pitch.f0" if isinstance(r, PitchTrack) else "pitch.salience"] = r
    if mf0:
        out[_aid(mf0, "pitch.salience")] = _read_multif0(mf0[0])

    notes = _distinct(by_ns.get("note_midi", []))
    ours = [a for a in notes if _name(a) == "notes"]
    if ours:
        out[_aid(ours, "notes")] = _read_notes(ours[:1])
    elif notes:
        out["notes"] = _read_notes(notes)  # one annotation per string/instrument: merge
    elif by_ns.get("note_hz"):
        out["notes"] = _read_notes(by_ns["note_hz"], hz=True)

    keys = by_ns.get("key_mode", [])
    if keys:
        k = _read_key(keys)
        if k is not None:
            out[_aid(keys, "key")] = k

    def first(ns):
        lst = [a for a in by_ns.get(ns, []) if len(_records(a["data"]))]
        return lst[0] if lst else None

    beat, pos, tempo = first("beat"), first("beat_position"), first("tempo")
    b = _read_beats(beat, pos, tempo)
    if b is not None:
        out[_aid([a for a in (beat, pos, tempo) if a is not None], "beats")] = b

    tags = [a for a in by_ns.get("tag_open", []) if len(_records(a["data"]))]
    if tags:
        obs = _obs(tags[0])
        out[_aid(tags, "tags")] = Tags(
            labels=[str(o.value) for o in obs],
            scores=np.array([1.0 if o.confidence is None else float(o.confidence) for o in obs]))

    vec = [a for a in by_ns.get("vector", []) if len(_records(a["data"]))]
    if vec:
        sb = _sandbox(vec[0])
        dtype = np.dtype(sb.get("dtype", "float32"))
        out[_aid(vec, "embedding")] = Embedding(
            vector=np.asarray(_obs(vec[0])[0].value, dtype=dtype), space=str(sb.get("space", "")))
    return out
