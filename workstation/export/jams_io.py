"""JAMS export and import: every analysis layer of a track in one schema-valid JAMS file.

Layers and namespaces (``results`` keys are analyzer ids; the layer is chosen by the
result's type, and the analyzer id is kept in the annotation's ``sandbox.analyzer``):

==================  ================  ==================================================
result              namespace         how
==================  ================  ==================================================
PitchTrack          pitch_contour     annotator ``f0``; one observation per frame,
                                      value ``{index: 0, frequency, voiced}``,
                                      confidence = frame confidence
Salience (peaks)    pitch_contour     annotator ``multif0``; one observation per peak,
                                      ``index`` = rank of the peak in its frame by
                                      salience (0 = strongest), confidence = salience.
                                      The salience matrix itself is not written.
Notes               note_midi         time = onset, duration = offset - onset, value =
                                      pitch_midi, confidence; velocities and pitch bends
                                      in ``sandbox`` (``velocity``, ``bend_note``,
                                      ``bend_times_s``, ``bend_cents``)
Key                 key_mode (x2)     annotator ``global``: one observation spanning the
                                      track; annotator ``local``: one per local segment
Beats               beat              value = position in the bar (null when unknown);
                                      ``sandbox.meter``
                    beat_position     only when every position is known (>= 1)
                    tempo             two observations, T1 the main tempo and T2 an
                                      alternative (MIREX / ``jams.eval.tempo``);
                                      ``sandbox.alternatives_bpm``, ``.confidence``
Tags                tag_open          one observation per tag, confidence = score
Embedding           vector            one observation; ``sandbox.space``
==================  ================  ==================================================

``read_jams`` (``jams_read``) rebuilds the core types from files written here and from other tools'
JAMS files (GuitarSet/mirdata style: several ``note_midi`` annotations, one per string,
are merged; a ``pitch_contour`` without annotator names gives the f0 from the first
non-empty one; fractional MIDI note values become the nearest integer pitch plus a
bend point at the onset).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import warnings
from pathlib import Path

import numpy as np

from workstation.core.errors import AnnotationError
from workstation.core.postprocess import sort_notes
from workstation.core.types import (Beats, Embedding, Key, Notes, PitchTrack, Result, Salience,
                                    Tags)
from workstation.core.units import key_label

from .atomic import atomic_write

log = logging.getLogger(__name__)

#: Default analyzer id of each layer (the keys ``read_jams`` returns when a file has no ids).
DEFAULT_IDS: dict[type, str] = {
    PitchTrack: "pitch.f0", Salience: "pitch.salience", Notes: "notes", Key: "key",
    Beats: "beats", Tags: "tags", Embedding: "embedding",
}

_TOOL = "workstation"
DEFAULT_VELOCITY = 100


def _jams():
    import jams  # imported lazily: jams pulls in pandas and jsonschema
    return jams


@contextlib.contextmanager
def _quiet():
    """jams 0.3.5 calls a jsonschema API that warns on every validation; silence that only."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="jsonschema")
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="jams")
        yield


# ---------------------------------------------------------------------------------- writing
#
# The document is built as plain JSON (lists and dicts) in the exact form ``jams.JAMS.save``
# writes, then validated with jams' own schema (``jams.schema``). Building jams objects
# observation by observation costs about 0.1 ms each (seconds for a long f0 track), and
# ``jam.save`` validates a second time; the plain form is 50x faster and the same file.

def _num(x, default=0.0) -> float:
    x = float(x)
    return x if np.isfinite(x) else default


def _nums(a, default=0.0) -> list:
    a = np.asarray(a, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        a = np.where(np.isfinite(a), a, default)
    return a.tolist()


def _confs(a, n: int) -> list:
    a = np.asarray(a, dtype=np.float64)
    if len(a) != n:
        return [None] * n
    return [None if not np.isfinite(x) else x for x in a.tolist()]


def _ann(namespace: str, *, annotator: str, analyzer: str, duration_s: float, data,
         sandbox: dict | None = None) -> dict:
    return {
        "annotation_metadata": {
            "curator": {"name": "", "email": ""}, "annotator": {"name": annotator},
            "version": "", "corpus": "", "annotation_tools": _TOOL, "annotation_rules": "",
            "validation": "", "data_source": "program",
        },
        "namespace": namespace,
        "data": data,
        "sandbox": {"analyzer": analyzer, **(sandbox or {})},
        "time": 0.0,
        "duration": float(duration_s),
    }


def _sparse(time, duration, value, confidence) -> list[dict]:
    return [{"time": t, "duration": d, "value": v, "confidence": c}
            for t, d, v, c in zip(time, duration, value, confidence)]


def _f0_annotation(r: PitchTrack, aid: str, dur: float) -> dict:
    t = _nums(np.maximum(np.asarray(r.times_s, dtype=np.float64), 0.0))
    f = _nums(np.abs(np.asarray(r.freqs_hz, dtype=np.float64)))
    v = np.asarray(r.voiced, dtype=bool).tolist()
    data = {"time": t, "duration": [0.0] * len(t),
            "value": [{"index": 0, "frequency": fi, "voiced": vi} for fi, vi in zip(f, v)],
            "confidence": _confs(r.confidence, len(t))}
    return _ann("pitch_contour", annotator="f0", analyzer=aid, duration_s=dur, data=data)


def _salience_annotation(r: Salience, aid: str, dur: float) -> dict:
    frame = np.asarray(r.peak_frame, dtype=np.int64)
    freq = np.asarray(r.peak_freq_hz, dtype=np.float64)
    sal = np.asarray(r.peak_salience, dtype=np.float64)
    order = np.lexsort((-sal, frame))  # by frame, strongest first
    frame, freq, sal = frame[order], freq[order], sal[order]
    if len(frame):
        starts = np.r_[0, np.flatnonzero(np.diff(frame)) + 1]
        rank = np.arange(len(frame)) - np.repeat(starts, np.diff(np.r_[starts, len(frame)]))
    else:
        rank = np.zeros(0, dtype=np.int64)
    t = _nums(np.asarray(r.times_s, dtype=np.float64)[frame])
    data = {"time": t, "duration": [0.0] * len(t),
            "value": [{"index": k, "frequency": fi, "voiced": True}
                      for k, fi in zip(rank.tolist(), _nums(freq))],
            "confidence": _confs(sal, len(t))}
    return _ann("pitch_contour", annotator="multif0", analyzer=aid, duration_s=dur, data=data)


def _notes_annotation(r: Notes, aid: str, dur: float) -> dict:
    r = sort_notes(r)
    on = np.asarray(r.onsets_s, dtype=np.float64)
    off = np.asarray(r.offsets_s, dtype=np.float64)
    data = _sparse(_nums(on), _nums(np.maximum(off - on, 0.0)),
                   [float(p) for p in np.asarray(r.pitch_midi).tolist()],
                   _confs(r.confidence, len(on)))
    sandbox = {"velocity": [int(v) for v in np.asarray(r.velocity).tolist()],
               # exact offsets: onset + (offset - onset) can differ from offset by one ulp
               "offsets_s": _nums(off)}
    if len(r.bend_note):
        sandbox.update(bend_note=np.asarray(r.bend_note, dtype=np.int64).tolist(),
                       bend_times_s=_nums(r.bend_times_s), bend_cents=_nums(r.bend_cents))
    return _ann("note_midi", annotator="notes", analyzer=aid, duration_s=dur, data=data,
                sandbox=sandbox)


def _key_annotations(r: Key, aid: str, dur: float) -> list[dict]:
    glob = _ann("key_mode", annotator="global", analyzer=aid, duration_s=dur,
                data=_sparse([0.0], [float(dur)], [key_label(r.tonic_pc, r.mode)],
                             [_num(r.confidence)]))
    out = [glob]
    if len(r.local_start_s):
        s = np.asarray(r.local_start_s, dtype=np.float64)
        e = np.asarray(r.local_end_s, dtype=np.float64)
        labels = [key_label(int(pc), str(m)) for pc, m in zip(r.local_tonic_pc, r.local_mode)]
        out.append(_ann("key_mode", annotator="local", analyzer=aid, duration_s=dur,
                        data=_sparse(_nums(s), _nums(np.maximum(e - s, 0.0)), labels,
                                     _confs(r.local_confidence, len(s))),
                        sandbox={"end_s": _nums(e)}))
    return out


def _beat_annotations(r: Beats, aid: str, dur: float) -> list[dict]:
    t = _nums(np.asarray(r.times_s, dtype=np.float64))
    pos = np.asarray(r.positions, dtype=np.int64)
    if len(pos) != len(t):
        pos = np.zeros(len(t), dtype=np.int64)
    n = len(t)
    out = [_ann("beat", annotator="beats", analyzer=aid, duration_s=dur,
                data=_sparse(t, [0.0] * n, [int(p) if p >= 1 else None for p in pos.tolist()],
                             [None] * n),
                sandbox={"meter": int(r.meter)})]
    if n and np.all(pos >= 1):
        num_beats = max(int(r.meter), int(pos.max()))
        measure = np.cumsum(pos == 1)  # beats before the first downbeat: measure 0 (pickup)
        values = [{"position": p, "measure": m, "num_beats": num_beats, "beat_units": 4}
                  for p, m in zip(pos.tolist(), measure.tolist())]
        out.append(_ann("beat_position", annotator="beats", analyzer=aid, duration_s=dur,
                        data=_sparse(t, [0.0] * n, values, [None] * n)))
    out.append(_tempo_ann(r, aid, dur))
    return out


def _tempo_ann(r: Beats, aid: str, dur: float) -> dict:
    """The tempo as MIREX and ``jams.eval.tempo`` want it: two observations (T1, T2) whose
    confidences (relative saliences) sum to 1. T1 is the main tempo, T2 the first alternative
    (else half the tempo from 100 BPM up, double below); T1's salience is
    ``0.5 + 0.5 * confidence`` so T1 always leads, and ``sandbox.confidence`` keeps the
    analyzer's own confidence for reading back."""
    t1 = max(0.0, _num(r.tempo_bpm))
    alts = [a for a in _nums(r.tempo_alternatives_bpm) if a > 0 and abs(a - t1) > 1e-6]
    t2 = alts[0] if alts else (t1 / 2.0 if t1 >= 100.0 else t1 * 2.0)
    conf = float(np.clip(_num(r.tempo_confidence), 0.0, 1.0))
    s1 = 0.5 + 0.5 * conf
    return _ann("tempo", annotator="tempo", analyzer=aid, duration_s=dur,
                data=_sparse([0.0, 0.0], [float(dur)] * 2, [t1, t2], [s1, 1.0 - s1]),
                sandbox={"alternatives_bpm": _nums(r.tempo_alternatives_bpm), "confidence": conf})


def _tags_annotation(r: Tags, aid: str, dur: float) -> dict:
    n = len(r.labels)
    return _ann("tag_open", annotator="tags", analyzer=aid, duration_s=dur,
                data=_sparse([0.0] * n, [float(dur)] * n, [str(x) for x in r.labels],
                             _confs(r.scores, n)))


def _embedding_annotation(r: Embedding, aid: str, dur: float) -> dict:
    vec = np.asarray(r.vector)
    return _ann("vector", annotator="embedding", analyzer=aid, duration_s=dur,
                data=_sparse([0.0], [float(dur)], [_nums(vec.ravel())], [None]),
                sandbox={"space": str(r.space), "dtype": str(vec.dtype)})


def jams_document(results: dict[str, Result], *, duration_s: float, title: str | None = None,
                  artist: str | None = None, audio_path: str | Path | None = None,
                  provenance: dict[str, dict] | None = None) -> dict:
    """The JAMS document (plain JSON types) holding every result (see the module docstring).
    ``provenance`` (``analysis.results.provenance``, by analyzer id): its one-line text goes
    to each annotation's ``annotation_metadata.annotation_tools``, the analyzer, version and
    parameter hash to ``.version``, the whole record to ``sandbox.provenance``."""
    dur = float(duration_s)
    anns: list[dict] = []
    for aid, r in results.items():
        first = len(anns)
        _add_annotations(anns, aid, r, dur)
        p = (provenance or {}).get(aid)
        for ann in anns[first:] if p else ():
            ann["annotation_metadata"]["annotation_tools"] = p["text"]
            ann["annotation_metadata"]["version"] = (f"{p['analyzer']} v{p['analyzer_version']} "
                                                     f"params {p['params_hash']}")
            ann["sandbox"]["provenance"] = p
            if p.get("edited"):
                ann["annotation_metadata"]["data_source"] = "corrected by hand"
    return {
        "annotations": anns,
        "file_metadata": {
            "title": title or (Path(audio_path).stem if audio_path else ""),
            "artist": artist or "", "release": "", "duration": dur, "identifiers": {},
            "jams_version": _jams().__version__,
        },
        "sandbox": {"audio_path": str(audio_path)} if audio_path is not None else {},
    }


def _add_annotations(anns: list[dict], aid: str, r: Result, dur: float) -> None:
    """Append the annotations of one result (one, or a list for keys and beats)."""
    write = next((fn for typ, fn in _ANNOTATORS if isinstance(r, typ)), None)
    if write is None:
        log.warning("JAMS export: no namespace for %s (%s), skipped", aid, type(r).__name__)
        return
    out = write(r, aid, dur)
    anns.extend(out if isinstance(out, list) else [out])


#: Result type -> its annotation writer.
_ANNOTATORS = ((PitchTrack, _f0_annotation), (Salience, _salience_annotation),
               (Notes, _notes_annotation), (Key, _key_annotations), (Beats, _beat_annotations),
               (Tags, _tags_annotation), (Embedding, _embedding_annotation))


def _records(data) -> list[dict]:
    """Observation records of an annotation's ``data`` (sparse list or dense columns)."""
    if isinstance(data, dict):
        cols = [data.get(k, []) for k in ("time", "duration", "value", "confidence")]
        return _sparse(*cols)
    return list(data)


def validate_document(doc: dict, *, sample: int | None = None) -> None:
    """Validate a JAMS document against jams' schema: the file structure with
    ``jams.schema.JAMS_SCHEMA`` and every annotation's observations with its namespace schema.

    sample: validate at most this many observations per annotation (evenly spaced, first and
    last included); None validates all. Raises ``jams.SchemaError``."""
    jams = _jams()
    from jams import schema  # jams validates with jsonschema; its errors come through schema
    with _quiet():
        try:
            light = {**doc, "annotations": [{**a, "data": []} for a in doc.get("annotations", [])]}
            schema.VALIDATOR.validate(light, schema.JAMS_SCHEMA)
            for a in doc["annotations"]:
                recs = _records(a["data"])
                if sample is not None and len(recs) > sample:
                    idx = np.unique(np.linspace(0, len(recs) - 1, sample).round().astype(int))
                    recs = [recs[i] for i in idx]
                if isinstance(a["data"], dict):  # dense form: check the column structure too
                    cols = {k: [r[k] for r in recs] for k in ("time", "duration", "value",
                                                             "confidence")}
                    schema.VALIDATOR.validate(cols, schema.JAMS_SCHEMA["definitions"][
                        "DenseObservation"])
                schema.VALIDATOR.validate(recs, schema.namespace_array(a["namespace"]))
        except schema.jsonschema.ValidationError as exc:
            raise jams.SchemaError(str(exc)) from exc
        except jams.NamespaceError as exc:
            raise jams.SchemaError(str(exc)) from exc


def to_jams(results: dict[str, Result], *, duration_s: float, **kwargs):
    """The results as a ``jams.JAMS`` object (convenient for jams' own tools; slower)."""
    jams = _jams()
    doc = jams_document(results, duration_s=duration_s, **kwargs)
    with _quiet():
        jam = jams.JAMS(file_metadata=jams.FileMetadata(**doc["file_metadata"]),
                        sandbox=jams.Sandbox(**doc["sandbox"]))
        for a in doc["annotations"]:
            meta = dict(a["annotation_metadata"])
            ann = jams.Annotation(
                a["namespace"], time=a["time"], duration=a["duration"],
                annotation_metadata=jams.AnnotationMetadata(
                    curator=jams.Curator(**meta.pop("curator")),
                    annotator=jams.JObject(**meta.pop("annotator")), **meta),
                sandbox=jams.Sandbox(**a["sandbox"]))
            ann.append_records(_records(a["data"]))
            jam.annotations.append(ann)
    return jam


def write_jams(path: str | Path, results: dict[str, Result], *, duration_s: float,
               title: str | None = None, artist: str | None = None,
               audio_path: str | Path | None = None, validate: str | bool = "sample",
               provenance: dict[str, dict] | None = None) -> Path:
    """Write every result to one JAMS file, validated with jams' schema before writing.

    results: analyzer id -> core result. duration_s: track duration in seconds.
    validate: 'full' (every observation; about 8000 observations/s), 'sample' (the file
    structure and up to 2000 evenly spaced observations per annotation; the observations of
    one annotation are generated uniformly, so a sample catches a wrong form), or False.
    The file is written atomically (temp file, fsync, rename).
    Raises ``AnnotationError`` naming the file when validation or writing fails."""
    path = Path(path)
    doc = jams_document(results, duration_s=duration_s, title=title, artist=artist,
                        audio_path=audio_path, provenance=provenance)
    jams = _jams()
    if validate:
        try:
            validate_document(doc, sample=None if validate == "full" else 2000)
        except jams.SchemaError as exc:
            raise AnnotationError(path, f"JAMS does not validate: {exc}") from exc
    with atomic_write(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=None, allow_nan=False)
        fh.flush()
        os.fsync(fh.fileno())
    return path
