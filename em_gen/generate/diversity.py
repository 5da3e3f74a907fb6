"""Dataset-level diversity of the kept conversations, for `--status`, `generation_stats.json` and
`--report`: near-duplicate pairs across the whole dataset (every pair, from the bottom-k sketches
the journal keeps), how often a premise, nick or voice recurs among kept logs, and the most repeated
content n-grams (function words dropped, so "wombats cube shaped droppings" stands out however it is
phrased) in Em's lines beyond their first words (the openers, shown elsewhere) and in the
conversation as a whole: the anecdotes and facts the teacher keeps reaching for."""
from __future__ import annotations

from collections import Counter

from em_gen.generate.journal import State
from em_gen.quality.rules import Diversity
from em_gen.quality.similar import content_ngrams, sketch_pairs

PAIR_THRESHOLDS = (0.5, 0.8)
TOP = 10
CONTENT_N = 3
OPENER_WORDS = 3  # as the report's "Em's openers"


def dataset_diversity(state: State, em: str) -> dict:
    accepted = state.accepted()
    n = len(accepted)
    sketcher = Diversity()
    sketches = {v["job_id"]: v["sketch"] if "sketch" in v else sketcher.sketch(v["text"]) for v in accepted}
    pairs = sketch_pairs(sketches, min(PAIR_THRESHOLDS))
    jobs = [state.jobs.get(v["job_id"]) or {} for v in accepted]
    premises = Counter(j["premise"] for j in jobs if j.get("premise"))
    nicks = Counter(x for j in jobs for x in set(j.get("nicks") or ()))
    voices = Counter(x for j in jobs for x in set(j.get("voices") or ()) if x)
    texts = [v["text"] for v in accepted]
    em_grams, all_grams = content_ngrams(texts, em, CONTENT_N, skip_em_words=OPENER_WORDS)
    return {
        "conversations": n,
        "near_duplicate_pairs": {str(t): sum(1 for p in pairs if p[2] >= t) for t in PAIR_THRESHOLDS},
        "closest_pairs": [[a, b, round(s, 3)] for a, b, s in pairs[:5]],
        "premises": {"distinct": len(premises), "kept_with_premise": sum(premises.values()),
                     "largest_reuse": max(premises.values(), default=0)},
        "max_nick_share": round(max(nicks.values(), default=0) / n, 4) if n else 0.0,
        "max_voice_share": round(max(voices.values(), default=0) / n, 4) if n else 0.0,
        "em_content_ngrams": _top(em_grams),
        "content_ngrams": _top(all_grams),
    }


def _top(counts: Counter) -> list[list]:
    """The TOP most frequent, ties in alphabetical order (never in set order, which varies by run)."""
    return [[g, c] for g, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]]


def format_diversity(d: dict) -> list[str]:
    n = max(1, d["conversations"])
    pairs = d["near_duplicate_pairs"]
    out = ["dataset diversity (kept conversations):",
           "  near-duplicate pairs: " + ", ".join(f"{pairs[k]} at Jaccard >= {k}" for k in sorted(pairs))
           + (" (closest: " + ", ".join(f"{a}~{b} {s:.2f}" for a, b, s in d["closest_pairs"][:3]) + ")"
              if d["closest_pairs"] else "")]
    p = d["premises"]
    if p["kept_with_premise"]:
        out.append(f"  premises: {p['distinct']:,} distinct in {p['kept_with_premise']:,} kept logs, largest reuse "
                   f"{p['largest_reuse']}; busiest nick in {d['max_nick_share']:.1%} of logs, busiest voice in "
                   f"{d['max_voice_share']:.1%}")
    for key, label in (("em_content_ngrams", f"Em's lines beyond the first {OPENER_WORDS} words"),
                       ("content_ngrams", "the whole conversation")):
        if d[key]:
            out.append(f"  most repeated content {CONTENT_N}-grams in {label}: "
                       + "; ".join(f"{g} {c} ({c / n:.1%})" for g, c in d[key][:6]))
    return out
