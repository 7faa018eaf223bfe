"""Tags on the real recordings (``benchmarks/accuracy.py --tasks tags``): ours and a DSP
baseline, per file and per group. Run through ``accuracy.py``, which passes its helpers."""

from __future__ import annotations

import time

import numpy as np

from workstation.core import constants as C
from workstation.training import evaldata as ed


def bench_tags(limit, ours, frontend, table):
    """Tags on the real recordings mapped to our vocabulary (train_tags_eval.eval_items): per file
    the top tags; per group hit@1 / hit@3 (a true instrument tag is the first / among the first
    three instrument tags); per tag ROC-AUC over the files whose status for it is known (tags
    with at least 2 positives and 2 negatives, macro mean); genre hit@1 on the GTZAN clips
    whose genre is in the vocabulary. Rows: ours (the learned CNN) and a nearest-centroid
    baseline on the DSP embedding statistics fitted on the same synthetic corpus; chance."""
    from workstation.training import train_tags as tt
    from workstation.training import train_tags_eval as tte

    items = tte.eval_items(ed.DEFAULT_ROOT)
    if not items:
        table("Tags", ("data", "method", "result"), [("evaldata", "-", "absent")])
        return
    groups = {}
    for it in items:
        groups.setdefault(it.group, []).append(it)
    items = [it for g in groups.values() for it in g[:limit]]
    base = tte.fit_centroid_baseline()
    inst = list(tt.INSTRUMENT_TAGS)
    genres = sorted(set(tt.GENRE_TAGS.values()))
    scores = {"ours (tags CNN)": [], "DSP stats nearest centroid": []}
    secs = {m: 0.0 for m in scores}
    audio_s = 0.0
    per_file = []
    for it in items:
        x = ed.load_audio(it)
        audio_s += len(x) / C.SAMPLE_RATE
        t0 = time.perf_counter()
        r = ours(x, ["tags"])["tags"]
        secs["ours (tags CNN)"] += time.perf_counter() - t0
        s_ours = dict(zip(r.labels, (float(v) for v in r.scores)))
        t0 = time.perf_counter()
        s_base = dict(zip(base.labels, base.scores(tte.dsp_statistics(x, frontend()))))
        secs["DSP stats nearest centroid"] += time.perf_counter() - t0
        scores["ours (tags CNN)"].append(s_ours)
        scores["DSP stats nearest centroid"].append(s_base)
        top = lambda s, pool: ", ".join(f"{k} {s[k]:.2f}" for k in sorted(pool, key=lambda k: -s[k])[:3])  # noqa: E731
        per_file.append((it.name[:34], ", ".join(sorted(it.positive)) or "(none: negatives only)",
                         top(s_ours, inst), top(s_base, inst), top(s_ours, s_ours)))
    table("Tags per file (top-3 instrument tags; last column: top-3 of every tag)",
          ("file", "truth", "ours", "DSP centroid", "ours, all tags"), per_file)

    def hits(s, pos, k):
        ranked = sorted(inst, key=lambda t: -s[t])[:k]
        return float(bool(set(ranked) & pos))

    from math import comb

    def chance_hits(pos, k):  # a random order of the instrument tags
        p = len(pos & set(inst))
        return 1.0 - comb(len(inst) - p, k) / comb(len(inst), k)

    rows = []
    for gname in list(groups) + ["all"]:
        sel = [i for i, it in enumerate(items) if gname == "all" or it.group == gname]
        with_inst = [i for i in sel if items[i].positive & set(inst)]
        gsel = [i for i in sel if items[i].positive & set(genres)]
        for m, ss in scores.items():
            h1 = [hits(ss[i], items[i].positive, 1) for i in with_inst]
            h3 = [hits(ss[i], items[i].positive, 3) for i in with_inst]
            aucs = []
            for t in tt.VOCABULARY:
                known = [i for i in sel if t in items[i].known]
                y = [t in items[i].positive for i in known]
                if sum(y) >= 2 and len(y) - sum(y) >= 2:
                    aucs.append(tt.roc_auc(y, [ss[i][t] for i in known]))
            g1 = [float(max(genres, key=lambda t: ss[i][t]) in items[i].positive) for i in gsel]
            rt = f"{audio_s / max(secs[m], 1e-9):.0f}x" if gname == "all" else ""
            rows.append((f"{gname} ({len(sel)})", m,
                         float(np.mean(h1)) if h1 else "-", float(np.mean(h3)) if h3 else "-",
                         f"{np.mean(aucs):.3f} ({len(aucs)} tags)" if aucs else "-",
                         float(np.mean(g1)) if g1 else "-", rt))
        rows.append((f"{gname} ({len(sel)})", "chance",
                     float(np.mean([chance_hits(items[i].positive, 1) for i in with_inst])) if with_inst else "-",
                     float(np.mean([chance_hits(items[i].positive, 3) for i in with_inst])) if with_inst else "-",
                     "0.500", 1.0 / len(genres) if gsel else "-", ""))
    table("Tags on real recordings (instrument hit@1 / hit@3 over files with a known instrument; "
          "ROC-AUC per tag over files whose status is known, macro; genre hit@1 among the style "
          "tags on GTZAN classical / pop / rock / jazz; realtime includes each method's front end)",
          ("data", "method", "hit@1", "hit@3", "ROC-AUC", "genre hit@1", "realtime"), rows)
