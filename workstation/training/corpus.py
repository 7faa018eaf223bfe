"""Training corpus: rendered audio with exact labels, deterministic from a seed, cached on disk.

Four kinds of item (weights in :class:`CorpusSpec`):

- ``mono``: one melodic instrument alone (any of ~60 GM programs, its full range), random
  tempo, key, meter and dynamics, with vibrato, glissandi (pitch-bend ramps into the next
  note, bend range 12 semitones), scoops, bend-ups and falls; sometimes with a drum kit;
- ``poly``: melody + chord comping + bass from :func:`workstation.training.demo_compose.compose`
  (random style, tempo, programs, dynamics; the melody gets the same expression);
- ``full``: ``poly`` with drums (GM channel 10);
- ``score``: an excerpt of a real composition from music21's corpus (Bach chorales and other
  Bach works), transposed, at a random tempo, on a random ensemble (optional: skipped with a
  log line where music21 is not installed).

Every item is rendered through FluidSynth with one of several soundfonts (pretty_midi's
TimGM6mb, Debian's FluidR3_GM, MuseScore General), stems mixed at random balances, then an
augmentation chain (EQ, reverb, noise, level: :mod:`workstation.training.augment`).

Labels (all exact, from the score that was rendered; bends included):
melody f0 and voicing on the analysis frame grid (frame ``i`` centred at ``i * hop / sr``,
``n_frames = 1 + n_samples // hop``), every note (onset, offset, pitch, velocity, track:
program, GM family, drum or not), pitch bends per track in semitones, key (tonic, mode),
beats with their bar positions and bar numbers, downbeats, tempo, meter, chords (procedural
items), style and genre. :func:`pitch_roll` builds the multi-hot salience target on the HCQT
grid (20-cent bins from C1) with the bends.

``make_item(seed, spec)`` is a pure function of its arguments (FluidSynth output may differ
in tiny ways; the labels are exact). ``build_corpus(out, spec, workers=N)`` renders items in
parallel into ``<out>/<index:06d>.npz`` (atomic writes, no pickles) with a ``manifest.json``;
re-running resumes. :class:`Corpus` reads a built corpus and yields aligned training crops.

Modules: :mod:`~workstation.training.corpus_spec` (the spec, its hash, item seeds),
:mod:`~workstation.training.corpus_compose` (score model, expression, composers),
:mod:`~workstation.training.corpus_scores` (music21 scores),
:mod:`~workstation.training.corpus_render` (FluidSynth), :mod:`~workstation.training.corpus_item`
(``make_item``, labels, ``pitch_roll``); this one builds and reads the cache and is the CLI.

CLI: ``python -m workstation.training.corpus --out DIR --n 200 --seed 0 --workers 2``.
Never train on ``../shared/evaldata``: nothing here reads it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import pretty_midi

from workstation.training.corpus_item import CorpusItem, make_item, pitch_roll
from workstation.training.corpus_render import resolve_soundfont
from workstation.training.corpus_scores import music21_available
from workstation.training.corpus_spec import (CORPUS_VERSION, SOUNDFONTS, CorpusError, CorpusSpec, default_dir,
                                              item_seed)

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# Building and reading the cache


def _item_path(out: Path, index: int) -> Path:
    return out / f"{index:06d}.npz"


def _item_done(path: Path, spec_hash: str) -> dict | None:
    """The stored summary of a finished item of this spec, or None (absent, corrupt, other spec)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["spec_hash"]) != spec_hash:
                return None
            return json.loads(str(z["summary_json"]))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        log.warning("%s is unreadable; rendering it again", path)
        return None


def _build_one(index: int, spec_dict: dict, out: str) -> tuple[int, dict, float]:
    """Worker: render item ``index`` and write it; returns (index, summary, seconds)."""
    t0 = time.perf_counter()
    spec = CorpusSpec.from_dict(spec_dict)
    item = make_item(item_seed(spec.seed, index), spec, index=index)
    item.save(_item_path(Path(out), index))
    return index, item.summary(), time.perf_counter() - t0


def _versions() -> dict:
    v = {"python": platform.python_version(), "numpy": np.__version__, "pretty_midi": pretty_midi.__version__
         if hasattr(pretty_midi, "__version__") else "?"}
    try:
        from importlib.metadata import version

        for pkg in ("pyfluidsynth", "music21", "scipy"):
            try:
                v[pkg] = version(pkg)
            except Exception:  # noqa: BLE001 - PackageNotFoundError and friends: just unknown
                v[pkg] = None
    except ImportError:  # pragma: no cover
        pass
    v["soundfonts"] = {name: (str(p) if (p := resolve_soundfont(name)) else None) for name in SOUNDFONTS}
    return v


def _write_json(path: Path, obj) -> None:
    from workstation.core.atomic import atomic_write
    with atomic_write(path, durable=True) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, indent=1, sort_keys=True)


def build_corpus(out_dir: str | os.PathLike, spec: CorpusSpec = CorpusSpec(), *, workers: int = 1,
                 progress=None) -> dict:
    """Render every item of ``spec`` into ``out_dir`` (resumable) and return the manifest.

    Items already there (same spec hash) are kept; the others are rendered, in ``workers``
    spawned processes when > 1. ``progress(done, total)`` is called after each item.
    Raises CorpusError when ``out_dir`` holds a corpus of another spec.
    The manifest's ``build`` entry tells what this call did: n_rendered, wall_s, audio_s
    (seconds of audio rendered) and realtime_factor (audio_s / wall_s).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    h = spec.spec_hash()
    mpath = out / "manifest.json"
    if mpath.is_file():
        try:
            old = json.loads(mpath.read_text())
        except (OSError, ValueError) as exc:
            raise CorpusError(f"{mpath}: unreadable manifest ({exc}); delete the folder or choose another") from exc
        if old.get("spec_hash") != h:
            raise CorpusError(f"{out} holds a corpus of another spec (hash {old.get('spec_hash')}, this one {h}); "
                              "use another folder (the default folder is named by the spec hash) or delete it")
    manifest = {"format": "workstation-corpus", "corpus_version": CORPUS_VERSION, "spec_hash": h,
                "spec": spec.to_dict(), "versions": _versions(), "complete": False, "items": []}
    _write_json(mpath, manifest)
    summaries: dict[int, dict] = {}
    todo = []
    for i in range(spec.n_items):
        s = _item_done(_item_path(out, i), h)
        if s is None:
            todo.append(i)
        else:
            summaries[i] = s
    log.info("%s: %d items done, %d to render with %d worker(s)", out, len(summaries), len(todo), workers)
    t0 = time.perf_counter()
    audio_s = 0.0
    spec_dict = spec.to_dict()
    if workers <= 1 or len(todo) <= 1:
        for i in todo:
            _, s, _ = _build_one(i, spec_dict, str(out))
            summaries[i] = s
            audio_s += s["duration_s"]
            if progress:
                progress(len(summaries), spec.n_items)
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
            futs = [pool.submit(_build_one, i, spec_dict, str(out)) for i in todo]
            for fut in as_completed(futs):
                i, s, _ = fut.result()
                summaries[i] = s
                audio_s += s["duration_s"]
                if progress:
                    progress(len(summaries), spec.n_items)
    wall = time.perf_counter() - t0
    items = [summaries[i] for i in range(spec.n_items)]
    nbytes = sum(_item_path(out, i).stat().st_size for i in range(spec.n_items))
    manifest.update(complete=True, items=items, n_items=spec.n_items,
                    total_audio_s=float(sum(s["duration_s"] for s in items)), total_bytes=int(nbytes),
                    build=dict(n_rendered=len(todo), workers=workers, wall_s=wall, audio_s=audio_s,
                               realtime_factor=audio_s / wall if wall > 0 and todo else None))
    _write_json(mpath, manifest)
    return manifest


@dataclass
class Crop:
    """A training crop: audio [shape=(n_frames * hop,)] float32 starting at sample
    ``frame_start * hop`` of the item, and the labels of frames [frame_start, frame_start + n_frames)
    of the item (frame j of the crop is centred on crop sample j * hop, as the front end computes it).
    pitch_roll [shape=(n_bins, n_frames), bool] or None."""

    index: int
    frame_start: int
    audio: np.ndarray
    melody_f0_hz: np.ndarray
    melody_voiced: np.ndarray
    pitch_roll: np.ndarray | None


class Corpus:
    """Read a built corpus: ``len``, ``corpus[i] -> CorpusItem``, random aligned crops."""

    def __init__(self, root: str | os.PathLike, *, cache_items: int = 8):
        self.root = Path(root)
        mpath = self.root / "manifest.json"
        if not mpath.is_file():
            raise CorpusError(f"{self.root}: no manifest.json (build it with build_corpus or "
                              "python -m workstation.training.corpus)")
        self.manifest = json.loads(mpath.read_text())
        self.spec = CorpusSpec.from_dict(self.manifest["spec"])
        n = self.manifest.get("n_items", self.spec.n_items)
        self.files = [p for p in (_item_path(self.root, i) for i in range(n)) if p.is_file()]
        if not self.manifest.get("complete"):
            log.warning("%s: the build did not finish; %d of %d items present", self.root, len(self.files), n)
        self._cache: dict[int, CorpusItem] = {}
        self._roll_cache: dict[int, np.ndarray] = {}
        self._cache_items = cache_items

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> CorpusItem:
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        if i not in self._cache:
            if len(self._cache) >= self._cache_items:
                drop = next(iter(self._cache))
                self._cache.pop(drop)
                self._roll_cache.pop(drop, None)
            self._cache[i] = CorpusItem.load(self.files[i])
        return self._cache[i]

    def __iter__(self) -> Iterator[CorpusItem]:
        for i in range(len(self)):
            yield self[i]

    def crop(self, i: int, frame_start: int, n_frames: int, *, roll: bool = True) -> Crop:
        """Crop ``n_frames`` frames of item ``i`` from ``frame_start`` (zero-padded past the end)."""
        item = self[i]
        hop = item.hop_length
        audio = np.zeros(n_frames * hop, dtype=np.float32)
        seg = item.audio[frame_start * hop:(frame_start + n_frames) * hop]
        audio[:len(seg)] = seg
        f0 = np.zeros(n_frames, dtype=np.float32)
        v = np.zeros(n_frames, dtype=bool)
        m = max(0, min(n_frames, item.n_frames - frame_start))
        f0[:m] = item.melody_f0_hz[frame_start:frame_start + m]
        v[:m] = item.melody_voiced[frame_start:frame_start + m]
        pr = None
        if roll:
            if i not in self._roll_cache:
                self._roll_cache[i] = pitch_roll(item)
            full = self._roll_cache[i]
            pr = np.zeros((full.shape[0], n_frames), dtype=bool)
            pr[:, :m] = full[:, frame_start:frame_start + m]
        return Crop(index=i, frame_start=frame_start, audio=audio, melody_f0_hz=f0, melody_voiced=v, pitch_roll=pr)

    def crops(self, n_frames: int, *, seed: int = 0, roll: bool = True,
              indices: Sequence[int] | None = None) -> Iterator[Crop]:
        """Endless random crops of ``n_frames`` frames (deterministic from ``seed``)."""
        if not len(self):
            raise CorpusError(f"{self.root}: the corpus is empty")
        rng = np.random.default_rng(seed)
        pool = np.asarray(indices if indices is not None else np.arange(len(self)))
        while True:
            i = int(pool[int(rng.integers(len(pool)))])
            n_item = self[i].n_frames
            start = int(rng.integers(max(1, n_item - n_frames + 1)))
            yield self.crop(i, start, n_frames, roll=roll)


# ---------------------------------------------------------------------------------------------
# CLI


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m workstation.training.corpus",
                                 description="Render the synthetic training corpus (audio + exact labels).")
    ap.add_argument("--out", help="output folder (default <user cache>/workstation/corpus/<spec hash>)")
    ap.add_argument("--n", type=int, default=200, help="number of items (default 200)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    ap.add_argument("--duration", type=float, nargs=2, metavar=("MIN", "MAX"), default=(10.0, 20.0),
                    help="item length range in seconds (default 10 20)")
    ap.add_argument("--soundfonts", nargs="+", default=list(CorpusSpec.soundfonts),
                    help=f"soundfont names ({', '.join(SOUNDFONTS)}) or paths")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    spec = CorpusSpec(n_items=args.n, seed=args.seed, duration_s=tuple(args.duration),
                      soundfonts=tuple(args.soundfonts))
    out = Path(args.out) if args.out else default_dir(spec)
    if not music21_available() and any(k == "score" and w > 0 for k, w in spec.kinds):
        log.warning("music21 is not installed: 'score' items will be 'poly' items")
    last = [0.0]

    def progress(done, total):
        now = time.perf_counter()
        if now - last[0] > 5 or done == total:
            last[0] = now
            log.info("%d / %d items", done, total)

    m = build_corpus(out, spec, workers=args.workers, progress=progress)
    b = m["build"]
    speed = f"{b['realtime_factor']:.1f}x realtime" if b["realtime_factor"] else "nothing to render"
    kinds = {}
    for s in m["items"]:
        kinds[s["kind"]] = kinds.get(s["kind"], 0) + 1
    print(f"{out}: {m['n_items']} items ({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))}), "
          f"{m['total_audio_s'] / 3600:.2f} h of audio, {m['total_bytes'] / 1e6:.1f} MB; "
          f"rendered {b['n_rendered']} in {b['wall_s']:.1f} s ({speed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
