"""Why a track matched, in words for people: the one place that turns the explanation dict of
``SimilaritySearch.explain`` into text (the similarity panel's "Why" column and its tooltip,
the CLI, playlists).

The explanation holds cosines in [-1, 1] (``overall`` and the feature groups ``timbre``,
``spectral``, ``harmony``, ``rhythm``, ``loudness``), a key relation with the two keys as
JAMS labels (``keys``: ('D:minor', 'F:major')), the two tempi in BPM (``tempi_bpm``) and the
shared tags. Nothing here prints a Python tuple or a raw label.
"""

from __future__ import annotations

import math

#: Feature groups of the DSP embedding, in the order they are told.
GROUPS = ("timbre", "harmony", "rhythm", "spectral", "loudness")
#: The groups the one-line summary names (the others are in the full list only).
SUMMARY_GROUPS = ("timbre", "harmony", "rhythm")


def key_name(label: str | None) -> str:
    """'D:minor' -> 'D minor' (JAMS label to words); '' for None."""
    if not label:
        return ""
    return " ".join(str(label).replace(":", " ").split())


def closeness_word(cosine: float) -> str:
    """A word for a cosine in [-1, 1]: 'very close' (> 0.6), 'close' (> 0.3), 'somewhat
    alike' (> 0), 'unlike'."""
    return ("very close" if cosine > 0.6 else "close" if cosine > 0.3
            else "somewhat alike" if cosine > 0 else "unlike")


def key_reason(relation: str | None, keys) -> str:
    """The key relation of the seed's key and the result's, e.g. 'same key: D minor',
    'relative keys: D minor and F major', 'A major is the dominant of D major'; '' when a
    key is unknown."""
    a, b = (key_name(k) for k in (tuple(keys or ()) + (None, None))[:2])
    if not relation or not a or not b:
        return ""
    if relation == "same":
        return f"same key: {a}"
    if relation in ("relative", "parallel"):
        return f"{relation} keys: {a} and {b}"
    if relation in ("dominant", "subdominant"):
        return f"{b} is the {relation} of {a}"
    return f"different keys: {a} and {b}"


def tempo_reason(tempi_bpm) -> str:
    """'tempo 120 vs 118 BPM' (seed's first), with '(double time)' / '(half time)' where the
    result runs at about twice / half the seed's tempo; '' when a tempo is unknown."""
    t0, t1 = (tuple(tempi_bpm or ()) + (None, None))[:2]
    if not t0 or not t1:
        return ""
    text = f"tempo {t0:.0f} vs {t1:.0f} BPM"
    d = math.log2(float(t1) / float(t0))
    if abs(d - 1.0) < 1 / 6:
        text += " (double time)"
    elif abs(d + 1.0) < 1 / 6:
        text += " (half time)"
    return text


def tags_reason(shared, limit: int = 3) -> str:
    """'shared tags: jazz, piano' (the first ``limit``, '+N more' after); '' for none."""
    shared = list(shared or ())
    if not shared:
        return ""
    more = f" +{len(shared) - limit} more" if len(shared) > limit else ""
    return "shared tags: " + ", ".join(str(t) for t in shared[:limit]) + more


def reasons(e: dict | None) -> list[str]:
    """Every reason in the explanation ``e``, one readable line each: overall similarity,
    feature groups (closest first), key, tempo, tags. [] for an empty explanation."""
    if not e:
        return []
    if e.get("summary") == "seed" and len(e) == 1:
        return ["the track the playlist starts from"]
    out = []
    if e.get("overall") is not None:
        out.append(f"overall similarity {float(e['overall']):+.2f} (1 = identical)")
    groups = [(g, float(e[g])) for g in GROUPS if e.get(g) is not None]
    for g, v in sorted(groups, key=lambda kv: -kv[1]):
        out.append(f"{g} {closeness_word(v)} ({v:+.2f})")
    for line in (key_reason(e.get("key"), e.get("keys")), tempo_reason(e.get("tempi_bpm")),
                 tags_reason(e.get("shared_tags"), limit=8)):
        if line:
            out.append(line)
    return out


def summary(e: dict | None) -> str:
    """One line naming the closest aspects: 'timbre very close; same key: D minor; tempo
    120 vs 118 BPM; shared tags: jazz'."""
    if not e:
        return ""
    parts = []
    groups = [(g, float(e[g])) for g in SUMMARY_GROUPS if e.get(g) is not None]
    for g, v in sorted(groups, key=lambda kv: -kv[1]):
        parts.append(f"{g} {closeness_word(v)}")
    for line in (key_reason(e.get("key"), e.get("keys")), tempo_reason(e.get("tempi_bpm")),
                 tags_reason(e.get("shared_tags"))):
        if line:
            parts.append(line)
    return "; ".join(parts) if parts else f"overall similarity {float(e.get('overall', 0)):+.2f}"
