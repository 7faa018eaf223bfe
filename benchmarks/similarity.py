"""Similarity search benchmarks: index scale (latency, recall, build time, memory) and
embedding quality on real recordings (precision@k, MAP for same-label retrieval).

    python benchmarks/similarity.py scale [--sizes 10000,100000,1000000] [--queries 200] [--kinds ivf,ivfpq]
    python benchmarks/similarity.py archive [--size 10000000]   # the archive kind, memory-mapped
    python benchmarks/similarity.py quality [--evaldata ../shared/evaldata]

Scale: synthetic vectors (100 dims like the DSP embedding), drawn from a Gaussian mixture
(one cluster per ~500 vectors, within-cluster spread equal to the spread of the centres, so
neighbours are neither trivial nor random), searched with held-out queries of the same
distribution, one query at a time (the GUI's use), through ``SimilarityIndex.search``.
Recall@10 is against exact (``IndexFlatIP``) search of the same centred, normalised vectors.
``mixture-wide`` doubles the within-cluster spread (harder); ``spectrum`` has no clusters but
the variance spectrum of real DSP embeddings (most variance in few directions); a worst case (uniform random
directions, no structure at all, where IVF must scan most lists) is given for 100k.

Quality: every labelled recording is a query against all the others; a result is relevant
when it has the query's label. Label sets (from ``../shared/evaldata``; never copied):
MIR-1K singer (10 singers x 3 clips, accompaniment + voice mixed), GTZAN genre by clip
(each 30 s clip split into three 10 s excerpts: the other two excerpts are relevant),
isolated notes by instrument family is too small and is left out. Both embedding methods
(``embedding`` analyzer, ``method="dsp"`` and ``method="learned"`` where ``models/`` has the
learned weights) run on the same items through the pipeline (mel / STFT front end included
in the realtime factor), with a row for the two spaces concatenated.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from workstation.library.index import SimilarityIndex  # noqa: E402


def mixture(n: int, d: int, rng, *, per_cluster: int = 500, spread: float = 1.0) -> np.ndarray:
    k = max(1, n // per_cluster)
    centres = rng.normal(size=(k, d)).astype(np.float32)
    lab = rng.integers(0, k, n)
    return centres[lab] + spread * rng.normal(size=(n, d)).astype(np.float32), centres


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def bench_scale(sizes, n_queries: int, d: int = 100, datasets=(), kinds_wanted=()) -> None:
    import faiss
    rows = []
    for n in sizes:
        for dist in datasets or (("mixture", "uniform") if n == 100_000 else ("mixture",)):
            rng = np.random.default_rng(n)
            if dist == "spectrum":
                # no clusters; the variance spectrum of real DSP embeddings (83 % of the variance
                # in 10 principal directions, 94 % in 20, measured on the evaldata vectors):
                # eigenvalues 0.84 ** i (+ a 1e-3 floor), in a random rotation
                lam = 0.84 ** np.arange(d) + 1e-3
                rot, _ = np.linalg.qr(rng.normal(size=(d, d)))
                x = ((rng.normal(size=(n + n_queries, d)) * np.sqrt(lam)) @ rot).astype(np.float32)
            elif dist.startswith("mixture"):
                x, centres = mixture(n + n_queries, d, rng, spread=2.0 if dist == "mixture-wide" else 1.0)
            else:
                x = rng.normal(size=(n + n_queries, d)).astype(np.float32)
            base, queries = x[:n], x[n:]
            kinds = kinds_wanted or (("flat", "ivf") if n <= 100_000 else ("ivf", "ivfpq", "flat"))
            truth = None
            for kind in kinds:
                idx = SimilarityIndex(d, exact_max=n if kind == "flat" else 0,
                                      pq_min=0 if kind == "ivfpq" else n)
                idx.add(np.arange(n), base)
                del_rss = rss_mb()
                t0 = time.perf_counter()
                idx.build(kind)
                build_s = time.perf_counter() - t0
                index_mb = len(faiss.serialize_index(idx._index)) / 2 ** 20
                qt = idx.transform(queries)
                if truth is None:
                    flat = faiss.IndexFlatIP(d)
                    flat.add(idx.transform(base))
                    _, truth = flat.search(qt, 10)
                    del flat
                lat = []
                got = np.zeros((n_queries, 10), np.int64)
                for i in range(n_queries):
                    t0 = time.perf_counter()
                    ids, _ = idx.search(qt[i], 10, transformed=True)
                    lat.append(time.perf_counter() - t0)
                    got[i] = ids
                recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(truth, got)])
                lat_ms = np.array(lat) * 1e3
                rows.append((f"{n:,}", dist, kind, f"{idx.nlist or '-'}", f"{idx.nprobe or '-'}",
                             f"{build_s:.1f}", f"{index_mb:.0f}", f"{np.median(lat_ms):.2f}",
                             f"{np.percentile(lat_ms, 95):.2f}", f"{recall:.3f}",
                             f"{max(rss_mb(), del_rss):.0f}"))
                print("  ".join(rows[-1]), flush=True)
                del idx
    header = ("vectors", "data", "index", "nlist", "nprobe", "build s", "index MB",
              "query ms p50", "p95", "recall@10", "peak RSS MB")
    print_table(header, rows)


def print_table(header, rows) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(line(r))


# ------------------------------------------------------------------------------ quality

def _labelled_audio(root: Path):
    """(label set name, [(label, mono float32 audio at SAMPLE_RATE)])."""
    from workstation.core import constants as C
    from workstation.core.audio import load as load_audio
    sets = []
    mir = root / "mono_f0" / "mir1k" / "Wavfile"
    if mir.is_dir():
        items = []
        for wav in sorted(mir.glob("*.wav")):
            x = load_audio(wav, sr=C.SAMPLE_RATE)
            items.append((wav.stem.split("_")[0], x))
        sets.append(("MIR-1K singer (30 clips, 10 labels)", items))
    gz = root / "gtzan"
    wavs = sorted(gz.rglob("*.wav")) if gz.is_dir() else []
    if wavs:
        items = []
        for wav in wavs:
            x = load_audio(wav, sr=C.SAMPLE_RATE)
            n = len(x) // 3
            for j in range(3):
                items.append((wav.stem, x[j * n:(j + 1) * n]))
        sets.append((f"GTZAN clip ({len(items)} excerpts of 10 s, {len(wavs)} labels)", items))
    return sets


def retrieval_metrics(vectors: np.ndarray, labels: list[str], *, centre: bool, k: int = 2):
    """precision@k and MAP of same-label retrieval, every item a query against the rest."""
    v = np.asarray(vectors, np.float64)
    if centre:
        v = v - v.mean(axis=0)
    v /= np.linalg.norm(v, axis=1, keepdims=True) + 1e-12
    s = v @ v.T
    labels = np.asarray(labels)
    precs, aps, spread = [], [], []
    for i in range(len(v)):
        order = [j for j in np.argsort(-s[i]) if j != i]
        rel = labels[order] == labels[i]
        if not rel.any():
            continue
        precs.append(rel[:k].mean())
        hits = np.cumsum(rel)
        aps.append(float(np.mean(hits[rel] / (np.flatnonzero(rel) + 1))))
        spread.append(np.std(s[i][order]))
    off = s[~np.eye(len(v), dtype=bool)]
    return float(np.mean(precs)), float(np.mean(aps)), float(off.mean()), float(off.std())


def _embed_all(items, analyzer_factory, fe):
    """(vectors [n, dim], seconds of compute, seconds of audio) of every item."""
    from workstation.analysis.pipeline import analyze_array
    from workstation.core import constants as C

    t0 = time.perf_counter()
    vecs = np.stack([analyze_array(x, [analyzer_factory()], frontend=fe).results["embedding"].vector
                     for _, x in items])
    return vecs, time.perf_counter() - t0, sum(len(x) for _, x in items) / C.SAMPLE_RATE


def bench_quality(root: Path) -> None:
    """DSP statistics vs the learned embedding (where ``models/`` has it), same items."""
    from workstation.analysis.analyzers.embedding import DspEmbedding
    from workstation.inference.frontend import FrontEnd
    from workstation.inference.weights import read_manifest

    if not root.is_dir():
        print(f"evaluation data not found at {root}; skipped")
        return
    fe = FrontEnd("cpu")
    entry = next((e for e in read_manifest() if e.get("name") == "embedding"), None)
    learned = entry is not None
    methods = [("DSP statistics (dsp-stats-v1)", lambda: DspEmbedding(method="dsp"))]
    if learned:
        methods.append((f"learned CNN v{entry.get('version')} ({entry.get('sha256', '')[:12]})",
                        lambda: DspEmbedding(method="learned")))
    rows, speed = [], []
    for name, items in _labelled_audio(root):
        labels = [lab for lab, _ in items]
        n_rel = min(sum(1 for m in labels if m == lab) - 1 for lab in labels)
        got = {}
        for title, factory in methods:
            _embed_all(items[:1], factory, fe)            # warm-up (model load, kernels)
            vecs, secs, audio_s = _embed_all(items, factory, fe)
            got[title] = vecs
            speed.append((name, title, f"{audio_s:.0f}", f"{secs:.2f}", f"{audio_s / secs:.0f}x"))
            for centre in (False, True):
                p1, _, _, _ = retrieval_metrics(vecs, labels, centre=centre, k=1)
                p, m, mu, sd = retrieval_metrics(vecs, labels, centre=centre, k=n_rel)
                rows.append((name, title, "centred" if centre else "raw", f"{p1:.3f}",
                             f"P@{n_rel}={p:.3f}", f"{m:.3f}", f"{mu:.2f} +- {sd:.2f}"))
        if not learned:
            rows.append((name, "learned CNN (NT-Xent)", "-", "-", "(not trained yet)", "-", "-"))
        elif len(got) == 2:
            # both spaces side by side: each centred and normalised, then concatenated
            parts = []
            for v in got.values():
                v = v - v.mean(axis=0)
                parts.append(v / (np.linalg.norm(v, axis=1, keepdims=True) + 1e-12))
            cat = np.concatenate(parts, axis=1)
            p1, _, _, _ = retrieval_metrics(cat, labels, centre=False, k=1)
            p, m, mu, sd = retrieval_metrics(cat, labels, centre=False, k=n_rel)
            rows.append((name, "DSP + learned (concatenated)", "centred", f"{p1:.3f}",
                         f"P@{n_rel}={p:.3f}", f"{m:.3f}", f"{mu:.2f} +- {sd:.2f}"))
        n_lab = len(set(labels))
        rows.append((name, "chance", "-", f"{n_rel / (len(items) - 1):.3f}",
                     f"P@{n_rel}={n_rel / (len(items) - 1):.3f}",
                     f"~{(len(items) / n_lab - 1) / (len(items) - 1):.3f}", "-"))
    print_table(("label set", "embedding", "vectors", "P@1", "precision@k", "MAP",
                 "cosine mean +- sd"), rows)
    print()
    print_table(("label set", "embedding", "audio s", "compute s", "realtime"), speed)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="what", required=True)
    s = sub.add_parser("scale")
    s.add_argument("--sizes", default="10000,100000,1000000")
    s.add_argument("--queries", type=int, default=200)
    s.add_argument("--data", default="", help="comma list of mixture, mixture-wide, spectrum, uniform "
                   "(default: mixture, and uniform too at 100k); spectrum: a Gaussian with the variance "
                   "spectrum of real DSP embeddings")
    s.add_argument("--kinds", default="", help="comma list of flat, ivf, ivfpq (default: by size)")
    ar = sub.add_parser("archive", help="the archive kind (IVF-PQ, raw vectors memory-mapped) "
                        "at archive scale, through a saved index as the workstation loads it")
    ar.add_argument("--size", type=int, default=10_000_000)
    ar.add_argument("--queries", type=int, default=200)
    ar.add_argument("--dir", default="", help="work folder (default: a temporary one; needs "
                    "size x 400 bytes of disk)")
    q = sub.add_parser("quality")
    q.add_argument("--evaldata", default=str(REPO.parent / "shared" / "evaldata"))
    a = p.parse_args()
    if a.what == "scale":
        bench_scale([int(x) for x in a.sizes.split(",")], a.queries,
                    datasets=tuple(x for x in a.data.split(",") if x),
                    kinds_wanted=tuple(x for x in a.kinds.split(",") if x))
    elif a.what == "archive":
        from similarity_archive import bench_archive
        bench_archive(a.size, a.queries, a.dir)
    else:
        bench_quality(Path(a.evaldata))


if __name__ == "__main__":
    main()
