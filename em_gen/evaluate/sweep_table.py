"""The table `em-gen eval --sweep` prints: the checkpoints (step, eval loss, time, rank), each metric
for the base and every checkpoint with the paired difference from the base, and the verdict."""
from __future__ import annotations

from em_gen.evaluate.recommend import goal

PER_BLOCK = 4


def _mean(e: dict | None) -> str:
    if not e or e.get("mean") is None:
        return "-"
    return f"{e['mean']:.2f}"


def _diff(d: dict | None) -> str:
    if not d or d.get("mean") is None:
        return ""
    lo, hi = d["ci"]
    return f" {d['mean']:+.2f} [{lo:+.2f},{hi:+.2f}]{'*' if d.get('significant') else ''}"


def format_sweep(report: dict) -> str:
    s, cks = report["settings"], report["checkpoints"]
    where = report.get("run_dir") or "the targets given"
    lines = [f"sweep: {len(cks)} checkpoint(s) of {where} vs base {report['base']['target']}   "
             f"({s['probes']} probes x {s['samples']} samples, seed {s['seed']})"]
    rank = {r["label"]: r["rank"] for r in report.get("ranking", [])}
    rec = (report.get("recommendation") or {}).get("label")
    reverting = {r["label"] for r in report.get("reverting", [])}
    head = f"{'checkpoint':<24} {'step':>6} {'eval_loss':>9} {'time':>8} {'rank':>4}  target"
    lines += ["", head, "-" * len(head)]
    b = report["base"]
    bl = f"{b['eval_loss']:.4f}" if isinstance(b.get("eval_loss"), (int, float)) else "-"
    lines.append(f"{'base':<24} {'0' if bl != '-' else '-':>6} {bl:>9} {_time(b):>8} {rank.get('base', '-'):>4}  "
                 f"{b['target']}")
    for c in cks:
        mark = (" <- recommended" if c["label"] == rec else "") + (" (reverting)" if c["label"] in reverting else "")
        loss = f"{c['eval_loss']:.4f}" if isinstance(c.get("eval_loss"), (int, float)) else "-"
        step = c["step"] if c.get("step") is not None else "-"
        lines.append(f"{c['label']:<24} {step:>6} {loss:>9} {_time(c):>8} {rank.get(c['label'], '-'):>4}  "
                     f"{c['target']}{mark}")
    for f in report.get("failed", []):
        lines.append(f"{f['label']:<24} {f['step'] if f.get('step') is not None else '-':>6} {'':>9} {'failed':>8}"
                     f" {'':>4}  {f['error']}")
    metrics = list(b["metrics"])
    for c in cks:
        metrics += [m for m in c["metrics"] if m not in metrics]
    musts = set(report.get("must_have", []))
    lines += ["", "checkpoint - base per metric: mean, then the paired difference [95% CI]; * = CI excludes 0; "
                  "! = a must-have metric"]
    width = 30
    for k in range(0, len(cks), PER_BLOCK):  # a few checkpoints side by side, then the next few
        block = cks[k: k + PER_BLOCK]
        head = f"{'metric':<24} {'goal':<6} {'base':>5}" + "".join(f"  {c['label'][:width]:<{width}}" for c in block)
        lines += ["", head, "-" * len(head)]
        for m in metrics:
            row = f"{m + (' !' if m in musts else ''):<24} {goal(m):<6} {_mean(b['metrics'].get(m)):>5}"
            for c in block:
                cell = _mean(c["metrics"].get(m)) + _diff(c["compare"].get(m))
                row += f"  {cell:<{width}}"
            lines.append(row)
        lines += participation_lines({**report, "checkpoints": block}, width)
    lines.append("")
    r = report.get("recommendation")
    if r:
        lines.append(f"recommended: {r['label']}" + (" (fallback)" if r.get("fallback") else ""))
        lines += [f"  {w}" for w in r["why"]]
    for rv in report.get("reverting", []):
        lines.append(f"reverting: {rv['label']}: {rv['why']}")
    lines += report.get("unchanged_lines", [])
    t = report.get("timing", {})
    if t:
        fresh = [c for c in cks if not c["cached"]]
        per = (f"{sum(c['seconds'] for c in fresh) / len(fresh):.1f}s sampling and "
               f"{sum(c.get('load_seconds', 0) for c in fresh) / len(fresh):.1f}s loading per checkpoint"
               if fresh else "every checkpoint from the cache")
        lines.append(f"time: {t['wall_seconds']:.1f}s in all, {per}; cache {t.get('cache') or 'off'}: "
                     f"{t.get('cache_hits', 0)} hit(s), {t.get('cache_misses', 0)} miss(es)")
    return "\n".join(lines)


def _time(e: dict) -> str:
    return "cached" if e.get("cached") else f"{e.get('seconds', 0):.1f}s"


def participation_lines(report: dict, width: int = 30) -> list[str]:
    """Participation per engagement level against its band: the mean and the band verdict."""
    entries = [report["base"]] + report["checkpoints"]
    out = []
    for lv in report.get("levels", []):
        cells = []
        band = None
        for e in entries:
            g = ((e["metrics"].get("participation") or {}).get("by_engagement") or {}).get(lv)
            band = band or (g or {}).get("band")
            cells.append(f"{g['mean']:.2f} {g.get('verdict', '')}" if g and g.get("mean") is not None else "-")
        if band:
            head = f"  {lv} {band[0]:.0%}-{band[1]:.0%}"
            out.append(f"{head:<31} {cells[0]:>5}" + "".join(f"  {c:<{width}}" for c in cells[1:]))
    return (["participation per level (band; verdict)"] + out) if out else []
