"""The report's DPO pairs section: what `em-gen --pairs` last wrote (OUT/pairs/stats.json), pairs by
failure family and source, the candidates dropped by reason, how the rejected lines were confirmed."""
from __future__ import annotations

from pathlib import Path

from em_gen.report.page import grid2, para, pct, table
from em_gen.train.pair_run import read_stats


def pairs_section(out: Path) -> str:
    s = read_stats(out)
    if not s:
        return para("No DPO pairs yet: em-gen --pairs writes them (export/em_dpo.jsonl, read by axolotl/em-dpo.yaml).")
    sources = list(s["by_source_family"]) or list(s["by_source"])
    fams = sorted({f for c in s["by_source_family"].values() for f in c}, key=str)
    rows = [[f] + [s["by_source_family"].get(src, {}).get(f, 0) for src in sources] + [s["by_family"].get(f, 0)]
            for f in fams]
    total = ["total"] + [s["by_source"].get(src, 0) for src in sources] + [s["pairs"]]
    n = s["candidates"] or 1
    drops = [[r, c, pct(c / n, 1)] for r, c in s["drop_reasons"].items()]
    confirmed = [[k, v] for k, v in s["confirmed_by"].items()] + [[f"kind: {k}", v] for k, v in s["by_kind"].items()]
    head = (f"{s['pairs']:,} pairs from {s['moments']:,} moments of {s['conversations']:,} conversations "
            f"(--per-conversation {s['per_conversation']}, sources {', '.join(s['sources'])}); "
            f"{s['dropped']:,} of {s['candidates']:,} candidates dropped ({pct(s['dropped_share'], 1)}); "
            f"{s['requests']['teacher']:,} teacher and {s['requests']['judge']:,} judge requests, "
            f"{s['base_samples']:,} base samples, ${s['cost_usd']:.4f}.")
    missing = para("Families with no teacher pair: " + ", ".join(s["families_missing"]), "flag") \
        if s.get("families_missing") else ""
    return (para(head) + missing
            + grid2(table(["family"] + sources + ["all"], rows, num=set(range(1, len(sources) + 2)), total=total),
                    table(["dropped because", "candidates", "share"], drops or [["nothing dropped", 0, "0%"]], num={1, 2})
                    + table(["confirmed by / turn", "pairs"], confirmed, num={1})))
