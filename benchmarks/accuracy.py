"""Accuracy of every analyzer on real recordings (../shared/evaldata) and on the demo
collection, side by side with established peers run in the same process.

    .venv/bin/python benchmarks/accuracy.py [--tasks f0,steady,notes,key,beats,tags] [--limit N]

Peers (librosa's pyin and beat_track; pesto-pitch; essentia where installed) are benchmark-only
dependencies: `.venv/bin/pip install -c constraints.txt librosa` (see ../shared/PEERS.md).
A peer that is not installed is reported as such, never silently dropped.

``WORKSTATION_EVALDATA=DIR`` measures another folder laid out like ``../shared/evaldata`` (its
README's table: folders and reference formats), for a check on recordings nobody here has seen.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import mir_eval  # noqa: E402

from workstation.analysis.base import get_analyzer  # noqa: E402
from workstation.analysis.pipeline import analyze_array  # noqa: E402
from workstation.core import constants as C  # noqa: E402
from workstation.inference.frontend import FrontEnd  # noqa: E402
from workstation.analysis.analyzers import f0 as f0_analyzer  # noqa: E402
from workstation.training import evaldata as ed  # noqa: E402

from peers import basic_pitch_notes, f0_peers, peer  # noqa: E402  (benchmarks/peers.py)
import accuracy_notesets as ns  # noqa: E402  (benchmarks/accuracy_notesets.py)

DEMO = REPO / "resources" / "demo"
DEMO_LIMIT = 100
FE = None
OURS_F0 = tuple(f0_analyzer.METHODS)  #: our pitch.f0 methods (rows of the f0 table)
#: rows of the f0 table (--f0-methods): ours, and the peers of ``peers.f0_peers``.
F0_METHODS = (*OURS_F0, "librosa", "pesto-pitch", "torchcrepe-tiny", "torchcrepe-full", "melodia",
              "melodia-guess")
#: extra rows of the f0 table (--f0-checkpoints): PestoNet checkpoint files (e.g. a previous or
#: candidate version of models/pitch_f0_pesto.pt), run like the analyzer's pesto method.
F0_CHECKPOINTS: tuple = ()


def frontend():
    global FE
    if FE is None:
        FE = FrontEnd("cpu")
    return FE


def ours(audio, ids):
    out = analyze_array(audio, [get_analyzer(i) for i in ids], frontend=frontend())
    if out.errors:
        raise RuntimeError(out.errors)
    return out.results


def table(title, header, rows):
    rows = [tuple(f"{c:.3f}" if isinstance(c, float) else str(c) for c in r) for r in rows]
    w = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    fmt = lambda r: "| " + " | ".join(c.ljust(x) for c, x in zip(r, w)) + " |"  # noqa: E731
    print(f"\n### {title}\n")
    print(fmt(header))
    print("|" + "|".join("-" * (x + 2) for x in w) + "|")
    for r in rows:
        print(fmt(r))
    sys.stdout.flush()


def mean_rows(method_scores: dict[str, list[dict]], keys) -> dict[str, list[float]]:
    return {m: [float(np.mean([s[k] for s in scores])) for k in keys] for m, scores in method_scores.items()}


# ---------------------------------------------------------------------------------- f0
def f0_scores(ref_t, ref_f, est_t, est_f, est_v):
    est = np.where(est_v, est_f, -np.abs(est_f))
    s = mir_eval.melody.evaluate(ref_t, ref_f, est_t, est)
    return {"RPA": s["Raw Pitch Accuracy"], "RCA": s["Raw Chroma Accuracy"], "OA": s["Overall Accuracy"],
            "VR": s["Voicing Recall"], "VFA": s["Voicing False Alarm"]}


def _checkpoint_f0(path):
    """An f0 estimator from a PestoNet checkpoint file (not necessarily in the manifest), the
    way ``pitch.f0`` runs it with ``method="pesto"``: x -> (times_s, f0_hz, voiced)."""
    import torch

    from workstation.inference.models.pesto import Audio2F0
    from workstation.inference.weights import build_from_checkpoint, load_checkpoint
    from workstation.analysis.analyzers.f0 import _PESTO_DEFAULTS
    model = build_from_checkpoint(load_checkpoint(path), path=str(path))
    run = Audio2F0(model, decoder=_PESTO_DEFAULTS["decoder"])

    def f(x):
        with torch.inference_mode():
            o = run(model.input_cqt(x))
        return np.arange(len(o["freqs_hz"])) * C.HOP_LENGTH / C.SAMPLE_RATE, o["freqs_hz"], o["voicing"] >= 0.5
    return f


def f0_estimators() -> dict:
    """{row label: x -> (times_s, f0_hz, voiced), or None for a peer that is not installed}: the
    rows of ``--f0-methods`` and ``--f0-checkpoints``, their models loaded (not timed)."""
    def ours_f0(method):
        def f(x):
            r = analyze_array(x, [get_analyzer("pitch.f0", method=method)],
                              frontend=frontend()).results["pitch.f0"]
            return r.times_s, r.freqs_hz, r.voiced
        return f
    default = get_analyzer("pitch.f0").params["method"]
    ests = {f"ours {m}{' (default)' if m == default else ''}": ours_f0(m)
            for m in F0_METHODS if m in OURS_F0}
    ests.update({f"ours pesto ({Path(c).name})": _checkpoint_f0(c) for c in F0_CHECKPOINTS})
    ests.update(f0_peers(F0_METHODS))
    for f in ests.values():   # load the models: not timed
        if f is not None:
            f(np.zeros(C.SAMPLE_RATE // 2, np.float32))
    return ests


def bench_f0(limit):
    sets = {"MIR-1K voice": list(ed.mir1k(channel="voice")), "MIR-1K mix": list(ed.mir1k(channel="mix")),
            "vocadito": list(ed.vocadito()), "demo melody (in mix)": list(ed.demo_collection(DEMO))[:DEMO_LIMIT]}
    keys = ("RPA", "RCA", "OA", "VR", "VFA")
    ests = f0_estimators()
    rows = []
    for name, items in sets.items():
        items = [i for i in items if "f0_hz" in i.ref][:limit]
        if not items:
            rows.append((name, "-", *["absent"] * 6))
            continue
        scores = {k: [] for k, f in ests.items() if f is not None}
        secs = {k: 0.0 for k in scores}
        dur = 0.0
        for it in items:
            x = ed.load_audio(it)
            dur += len(x) / C.SAMPLE_RATE
            for label in scores:
                t0 = time.perf_counter()
                t, f, v = ests[label](x)
                secs[label] += time.perf_counter() - t0
                scores[label].append(f0_scores(it.ref["f0_times_s"], it.ref["f0_hz"], t, f, v))
        for m, vals in mean_rows(scores, keys).items():
            rows.append((f"{name} ({len(items)})", m, *vals, f"{dur / secs[m]:.0f}x"))
        rows += [(name, m, *["not installed"] * 6) for m, f in ests.items() if f is None]
    table("Melody f0 (mir_eval.melody; mean over files; pretrained PESTO was trained, "
          "self-supervised, on MIR-1K itself)", ("data", "method", *keys, "realtime"), rows)


# ------------------------------------------------------------------------- multi-f0 and notes
#: (row label, pitch.salience params, notes params); a learned row needs models/salience.pt.
#: rows of the notes table (--notes-methods): key -> (label, pitch.salience params, notes params);
#: ``basic-pitch-peer`` adds the peer's own notes.
NOTES_METHODS = {
    "dsp": ("ours DSP salience + notes", {"method": "dsp"}, {"method": "salience"}),
    "learned": ("ours learned salience + notes", {"method": "learned"}, {"method": "salience"}),
    "basic-pitch": ("ours basic-pitch posteriorgrams + our note tracking (notes=salience)",
                    {"method": "basic-pitch"}, {"method": "salience"}),
    "f0": ("ours notes from the f0 track (monophonic, notes=f0)", {"method": "basic-pitch"}, {"method": "f0"}),
    "auto": ("ours default: notes=auto (f0 where the track sounds monophonic, else salience)",
             {"method": "basic-pitch"}, {"method": "auto"}),
}
NOTES_ROWS = (*NOTES_METHODS, "basic-pitch-peer")
#: data sets of the notes table (--notes-sets): key -> (name, builder of its items)
NOTES_SETS = {
    "piano": ("piano (real, captured MIDI)", lambda: list(ed.piano_notes())),
    "sung": ("sung notes (SSVD sight-singing, vocadito)", lambda: list(ed.sung_notes())),
    "demo": ("demo collection (all parts)", lambda: list(ed.demo_collection(DEMO))[:DEMO_LIMIT]),
    "sung-then-piano": (f"sung, then {ns.SUNG_THEN_PIANO_S:.0f} s of piano (one recording)",
                        ns.sung_then_piano),
    "sung-over-piano": (f"sung over piano ({ns.SUNG_OVER_PIANO_DB:+.0f} dB), one recording",
                        ns.sung_over_piano),
}
NOTES_SET_KEYS = tuple(NOTES_SETS)


def _note_frames(on_s, off_s, pitch_midi, times):
    """Frame-wise pitches (Hz, nearest semitone) of the notes sounding at each time."""
    on_s, off_s = np.asarray(on_s, float), np.asarray(off_s, float)
    semis = np.round(np.asarray(pitch_midi, float))
    return [440 * 2 ** ((semis[(on_s <= t) & (off_s > t)] - 69) / 12) for t in times]


def _note_scores(ref_iv, ref_p, on_s, off_s, pitch_midi, times, peak_freqs=None):
    """(multipitch accuracy of ``peak_freqs`` (the salience peaks per frame; nan without),
    multipitch accuracy of the notes' frames, note onset F1, onset-offset F1)."""
    est_iv = np.stack([on_s, np.maximum(off_s, on_s + 1e-3)], 1) if len(on_s) else np.zeros((0, 2))
    est_hz = 440 * 2 ** ((np.asarray(pitch_midi, float) - 69) / 12)
    ref_hz = 440 * 2 ** ((ref_p - 69) / 12)
    on = mir_eval.transcription.precision_recall_f1_overlap(ref_iv, ref_hz, est_iv, est_hz, offset_ratio=None)
    onoff = mir_eval.transcription.precision_recall_f1_overlap(ref_iv, ref_hz, est_iv, est_hz)
    # multipitch: frame-wise reference from the notes vs the estimate
    ref_freqs = [ref_hz[(ref_iv[:, 0] <= t) & (ref_iv[:, 1] > t)] for t in times]
    notes_mp = mir_eval.multipitch.evaluate(times, ref_freqs, times, _note_frames(on_s, off_s, pitch_midi, times))
    peaks_mp = (mir_eval.multipitch.evaluate(times, ref_freqs, times, peak_freqs)["Accuracy"]
                if peak_freqs is not None else np.nan)
    return peaks_mp, notes_mp["Accuracy"], on[2], onoff[2]


def bench_notes(limit):
    sets = {name: build() for key, (name, build) in NOTES_SETS.items() if key in NOTES_SET_KEYS}
    bp = peer("basic_pitch") and peer("onnxruntime")
    rows = []
    for name, items in sets.items():
        items = [i for i in items if "intervals_s" in i.ref][:limit]
        if not items:
            rows.append((name, "-", "absent", "", "", "", ""))
            continue
        audio = [it.ref["samples"] if "samples" in it.ref else ed.load_audio(it) for it in items]
        dur = sum(len(x) for x in audio) / C.SAMPLE_RATE
        for label, sal_params, notes_params in (NOTES_METHODS[k] for k in NOTES_ROWS if k in NOTES_METHODS):
            scores, secs = [], 0.0
            try:
                for it, x in zip(items, audio):
                    t0 = time.perf_counter()
                    f0 = [get_analyzer("pitch.f0")] if notes_params.get("method") != "salience" else []
                    out = analyze_array(x, [get_analyzer("pitch.salience", **sal_params), *f0,
                                            get_analyzer("notes", **notes_params)], frontend=frontend())
                    secs += time.perf_counter() - t0
                    if out.errors:
                        raise RuntimeError(out.errors)
                    n, s = out.results["notes"], out.results["pitch.salience"]
                    scores.append(_note_scores(it.ref["intervals_s"], it.ref["pitch_midi"], n.onsets_s,
                                               n.offsets_s, n.pitch_midi, s.times_s, s.frame_peaks()))
            except Exception as exc:  # a learned model without weights: say so, keep going
                rows.append((f"{name} ({len(items)})", label, f"failed: {str(exc)[:60]}", "", "", "", ""))
                continue
            m = np.mean(scores, axis=0)
            rows.append((f"{name} ({len(items)})", label, *map(float, m), f"{dur / secs:.0f}x"))
        if "basic-pitch-peer" not in NOTES_ROWS:
            continue
        if not bp:
            rows.append((f"{name} ({len(items)})", "basic-pitch 0.4 (peer)", "not installed", "", "", "", ""))
            continue
        scores, secs = [], 0.0
        for it, x in zip(items, audio):
            t0 = time.perf_counter()
            on_s, off_s, pm = basic_pitch_notes(x)
            secs += time.perf_counter() - t0
            times = np.arange(C.n_frames_for(len(x))) * C.HOP_LENGTH / C.SAMPLE_RATE
            scores.append(_note_scores(it.ref["intervals_s"], it.ref["pitch_midi"], on_s, off_s, pm, times))
        m = np.mean(scores, axis=0)
        rows.append((f"{name} ({len(items)})", "basic-pitch 0.4 (peer)", "-", *map(float, m[1:]),
                     f"{dur / secs:.0f}x"))
    table("Multi-f0 and notes (mir_eval.multipitch accuracy of the salience peaks and of the "
          "notes' frames; mir_eval.transcription F1)",
          ("data", "method", "multipitch Acc (peaks)", "multipitch Acc (notes)", "note onset F1",
           "onset-offset F1", "realtime"), rows)


# ------------------------------------------------------------------------------------- key
#: essentia KeyExtractor profiles measured beside ours (all that essentia 2.1b6 accepts).
ESSENTIA_KEY_PROFILES = ("edma", "edmm", "bgate", "braw", "krumhansl", "temperley", "shaath",
                         "gomez", "noland", "diatonic", "tonictriad")


def _key_estimators():
    """method -> callable(audio at C.SAMPLE_RATE) -> (tonic_pc, mode), or None when absent."""
    from workstation.core.units import pitch_class_from_name
    es = peer("essentia.standard")

    def ours_key(method):
        def f(x):
            k = analyze_array(x, [get_analyzer("key", method=method)], frontend=frontend()).results["key"]
            return k.tonic_pc, k.mode
        return f

    def ess(profile):
        ext = es.KeyExtractor(profileType=profile)

        def f(x):
            import soxr
            x44 = soxr.resample(x, C.SAMPLE_RATE, 44100).astype(np.float32)
            key, scale, _ = ext(x44)
            return pitch_class_from_name(key), scale
        return f

    out = {"ours dsp": ours_key("dsp"), "ours learned": ours_key("learned")}
    for prof in ESSENTIA_KEY_PROFILES:
        out[f"essentia KeyExtractor ({prof})"] = ess(prof) if es is not None else None
    return out


def bench_key(limit):
    from workstation.core.units import key_label
    est_fns = _key_estimators()
    est_fns["ours learned"](np.zeros(C.SAMPLE_RATE, np.float32))     # load the model: not timed
    sets = {"GTZAN + sax (real)": list(ed.key_sets()), "demo collection": list(ed.demo_collection(DEMO))[:DEMO_LIMIT]}
    rows = []
    for name, items in sets.items():
        items = [i for i in items if "key" in i.ref][:limit]
        if not items:
            rows.append((name, "-", "absent", "", ""))
            continue
        res = {m: [] for m in est_fns}
        secs = {m: 0.0 for m in est_fns}
        audio_s = 0.0
        for it in items:
            x = ed.load_audio(it)
            audio_s += len(x) / C.SAMPLE_RATE
            ref = key_label(*it.ref["key"]).replace(":", " ")
            for m, fn in est_fns.items():
                if fn is None:
                    continue
                t0 = time.perf_counter()
                tonic, mode = fn(x)
                secs[m] += time.perf_counter() - t0
                res[m].append(mir_eval.key.weighted_score(ref, key_label(tonic, mode).replace(":", " ")))
        for m, v in res.items():
            if v:
                rows.append((f"{name} ({len(items)})", m, float(np.mean(np.array(v) == 1.0)), float(np.mean(v)),
                             f"{audio_s / max(secs[m], 1e-9):.0f}x"))
            else:
                rows.append((name, m, "not installed", "", ""))
    table("Key (mir_eval.key; realtime factor includes each method's own front end)",
          ("data", "method", "correct", "weighted score", "realtime"), rows)


# ------------------------------------------------------------------------------------- beats
#: rows of the beats table: ours (method dsp / learned x decoder dp / dbn), librosa.beat_track,
#: essentia's RhythmExtractor2013 (multifeature, BeatTrackerMultiFeature inside; wants 44.1 kHz).
OURS_BEATS = {"ours dsp+dp": ("dsp", "dp"), "ours dsp+dbn": ("dsp", "dbn"),
              "ours learned+dp": ("learned", "dp"), "ours learned+dbn": ("learned", "dbn")}
BEAT_METHODS = (*OURS_BEATS, "librosa.beat_track", "essentia RhythmExtractor2013")


def _beat_estimators():
    """method -> callable(audio at C.SAMPLE_RATE) -> (beat times s, tempo bpm), or None where
    the peer is not installed."""
    librosa = peer("librosa")
    es = peer("essentia.standard")

    def ours_beats(method, decoder):
        def f(x):
            b = analyze_array(x, [get_analyzer("beats", method=method, decoder=decoder)],
                              frontend=frontend()).results["beats"]
            return b.times_s, b.tempo_bpm, b.downbeats_s
        return f

    def lr(x):
        tempo, frames = librosa.beat.beat_track(y=x, sr=C.SAMPLE_RATE, hop_length=C.HOP_LENGTH)
        return (librosa.frames_to_time(frames, sr=C.SAMPLE_RATE, hop_length=C.HOP_LENGTH),
                float(np.atleast_1d(tempo)[0]), None)

    rhythm = es.RhythmExtractor2013(method="multifeature") if es is not None else None

    def ess(x):
        import soxr
        x44 = soxr.resample(x, C.SAMPLE_RATE, 44100).astype(np.float32)
        bpm, ticks, _, _, _ = rhythm(x44)
        return np.asarray(ticks, dtype=float), float(bpm), None

    return {**{label: ours_beats(*md) for label, md in OURS_BEATS.items()},
            "librosa.beat_track": lr if librosa is not None else None,
            "essentia RhythmExtractor2013": ess if es is not None else None}


def bench_beats(limit):
    est_fns = _beat_estimators()
    if est_fns["librosa.beat_track"] is not None:   # numba compiles on the first call: not timed
        est_fns["librosa.beat_track"](np.random.default_rng(0).standard_normal(C.SAMPLE_RATE * 4).astype(np.float32))
    sets = {"GTZAN (real)": [i for i in ed.gtzan() if "beats_s" in i.ref],
            "FMP C6, madmom, JTD (real)": list(ed.beat_sets()),
            "demo collection": list(ed.demo_collection(DEMO))[:DEMO_LIMIT]}
    rows = []
    for name, items in sets.items():
        items = [i for i in items if "beats_s" in i.ref][:limit]
        if not items:
            rows.append((name, "-", "absent", "", "", "", "", "", ""))
            continue
        res = {m: [] for m in BEAT_METHODS}
        secs = {m: 0.0 for m in BEAT_METHODS}
        audio_s = 0.0
        for it in items:
            x = ed.load_audio(it)
            audio_s += len(x) / C.SAMPLE_RATE
            # no 5-s trimming: several excerpts are shorter than 10 s
            ref = np.asarray(it.ref["beats_s"], dtype=float)
            ref_tempo = it.ref.get("tempo_bpm") or (60.0 / np.median(np.diff(ref)) if len(ref) > 2 else None)
            for m in BEAT_METHODS:
                fn = est_fns[m]
                if fn is None:
                    continue
                t0 = time.perf_counter()
                times, tempo, downbeats = fn(x)
                secs[m] += time.perf_counter() - t0
                times = np.asarray(times, dtype=float)
                f = mir_eval.beat.f_measure(ref, times)  # evaluate() would trim the first 5 s
                _, cmlt, _, amlt = mir_eval.beat.continuity(ref, times)
                t_ok = abs(tempo - ref_tempo) / ref_tempo <= 0.04 if ref_tempo else np.nan
                t_ok2 = min(abs(tempo * k - ref_tempo) for k in (1, 2, 0.5, 3, 1 / 3)) / ref_tempo <= 0.04 if ref_tempo else np.nan
                pos = it.ref.get("beat_positions")
                down_f = np.nan
                if downbeats is not None and pos is not None and np.any(np.asarray(pos) == 1):
                    down_f = mir_eval.beat.f_measure(ref[np.asarray(pos) == 1], np.asarray(downbeats, float))
                res[m].append((f, cmlt, amlt, t_ok, t_ok2, down_f))
        for m, v in res.items():
            if v:
                a = np.array(v, dtype=float)
                vals = [float(np.nanmean(a[:, k])) if np.any(np.isfinite(a[:, k])) else "-" for k in range(6)]
                rows.append((f"{name} ({len(items)})", m, *vals, f"{audio_s / max(secs[m], 1e-9):.0f}x"))
            else:
                rows.append((name, m, "not installed", "", "", "", "", "", ""))
    table("Beats and tempo (mir_eval.beat; tempo within 4 %: acc1 exact, acc2 up to x2, x3; "
          "downbeat F where the reference has bar positions; realtime factor includes each method's own front end)",
          ("data", "method", "F-measure", "CMLt", "AMLt", "tempo acc1", "tempo acc2", "downbeat F", "realtime"),
          rows)


# ----------------------------------------------------------------------- tags, steady notes
def bench_tags(limit):
    from accuracy_tags import bench_tags as run   # benchmarks/accuracy_tags.py
    run(limit, ours, frontend, table)


def bench_steady(limit):
    from accuracy_steady import bench_steady as run   # benchmarks/accuracy_steady.py
    run(limit, f0_estimators(), table)


def main():
    global DEMO_LIMIT, F0_METHODS, F0_CHECKPOINTS, BEAT_METHODS, NOTES_ROWS, NOTES_SET_KEYS
    p = argparse.ArgumentParser()
    p.add_argument("--tasks", default="f0,steady,notes,key,beats")
    p.add_argument("--limit", type=int, default=1000, help="at most N files per data set")
    p.add_argument("--demo-limit", type=int, default=100, help="at most N demo pieces")
    p.add_argument("--f0-methods", default=",".join(F0_METHODS),
                   help="rows of the f0 table, any of " + ",".join(F0_METHODS))
    p.add_argument("--f0-checkpoints", default="",
                   help="extra f0 rows: comma-separated PestoNet checkpoint files (e.g. an older version)")
    p.add_argument("--beat-methods", default=",".join(BEAT_METHODS),
                   help="rows of the beats table, any of " + ",".join(BEAT_METHODS))
    p.add_argument("--notes-methods", default=",".join(NOTES_ROWS),
                   help="rows of the notes table, any of " + ",".join(NOTES_ROWS))
    p.add_argument("--notes-sets", default=",".join(NOTES_SETS),
                   help="data sets of the notes table, any of " + ",".join(NOTES_SETS))
    args = p.parse_args()
    NOTES_SET_KEYS = tuple(k for k in args.notes_sets.split(",") if k)
    NOTES_ROWS = tuple(m for m in args.notes_methods.split(",") if m)
    BEAT_METHODS = tuple(m for m in args.beat_methods.split(",") if m)
    DEMO_LIMIT = args.demo_limit
    F0_METHODS = tuple(m for m in args.f0_methods.split(",") if m)
    F0_CHECKPOINTS = tuple(c for c in args.f0_checkpoints.split(",") if c)
    import torch
    torch.set_num_threads(2)
    if not ed.DEFAULT_ROOT.is_dir():
        print(f"evaluation data not found at {ed.DEFAULT_ROOT}: only the demo collection is measured")
    print("# Accuracy (ours vs peers in the same process)")
    for task in args.tasks.split(","):
        {"f0": bench_f0, "notes": bench_notes, "key": bench_key, "beats": bench_beats,
         "tags": bench_tags, "steady": bench_steady}[task](args.limit)


if __name__ == "__main__":
    main()
