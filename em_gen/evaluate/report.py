"""The `em-gen eval` report: per-metric summaries (overall, per engagement level, per channel) with
bootstrap CIs, the tuned - base comparison, and the table printed to stdout."""
from __future__ import annotations

import zlib

from em_gen.evaluate.metrics import bootstrap, goal, ordered, paired_bootstrap
from em_gen.evaluate.probes import Probe
from em_gen.library import Library


def _seed(seed: int, *parts: str) -> int:
    return zlib.crc32(":".join((str(seed),) + parts).encode())


def band_verdict(stat: dict, band: tuple[float, float]) -> str:
    lo, hi = band
    if stat["mean"] is None:
        return "no data"
    if lo <= stat["mean"] <= hi:
        return "in band"
    if stat["ci"][1] < lo:
        return "below"
    if stat["ci"][0] > hi:
        return "above"
    return "near band"


def summarise(scores: dict[str, dict[str, float]], probes: list[Probe], lib: Library, n_boot: int, seed: int,
              samples: dict[str, int] | None = None) -> dict:
    """metric -> {"mean", "ci", "n" (probes), "samples", "goal", "by_engagement", "by_channel"}; the
    participation entries per level also carry the engagement band and a verdict."""
    by_id = {p.id: p for p in probes}
    out = {}
    for m in ordered(scores):
        vals = scores[m]
        entry = bootstrap(list(vals.values()), n_boot, _seed(seed, m))
        entry["samples"] = (samples or {}).get(m)
        entry["goal"] = goal(m)
        for field, keys in (("engagement", list(lib.mix["engagement"])), ("channel", list(lib.mix["channels"]))):
            groups = {}
            for k in keys:
                v = [x for pid, x in vals.items() if getattr(by_id[pid], field) == k]
                if v:
                    groups[k] = bootstrap(v, n_boot, _seed(seed, m, k))
                    if m == "participation" and field == "engagement":
                        groups[k]["band"] = list(lib.band(k))
                        groups[k]["verdict"] = band_verdict(groups[k], lib.band(k))
            entry[f"by_{field}"] = groups
        out[m] = entry
    return out


def compare(base: dict, tuned: dict, probes: list[Probe], lib: Library, n_boot: int, seed: int) -> dict:
    """metric -> tuned - base over the probes both scored (paired bootstrap), overall and per level;
    `base`/`tuned` are metric -> {probe id: score}."""
    by_id = {p.id: p for p in probes}
    out = {}
    for m in ordered(set(base) & set(tuned)):
        entry = paired_bootstrap(base[m], tuned[m], n_boot, _seed(seed, "diff", m))
        entry["by_engagement"] = {}
        for k in lib.mix["engagement"]:
            b = {pid: v for pid, v in base[m].items() if by_id[pid].engagement == k}
            if set(b) & set(tuned[m]):
                entry["by_engagement"][k] = paired_bootstrap(b, tuned[m], n_boot, _seed(seed, "diff", m, k))
        out[m] = entry
    return out


def _fmt(stat: dict | None, signed: bool = False) -> str:
    if not stat or stat.get("mean") is None:
        return "-"
    lo, hi = stat["ci"]
    sign = "+" if signed else ""
    return f"{stat['mean']:{sign}.2f} [{lo:{sign}.2f}, {hi:{sign}.2f}] n={stat['n']}"


def _band_cell(stat: dict | None) -> str:
    if not stat:
        return "-"
    lo, hi = stat["band"]
    return f"{lo:.0%}-{hi:.0%}: {stat['verdict']}"


def format_table(report: dict) -> str:
    labels = list(report["targets"])
    levels = report["levels"]
    lines = []
    for label in labels:
        t = report["targets"][label]
        lines.append(f"\n{label}: {t['target']}   ({report['settings']['probes']} probes x "
                     f"{report['settings']['samples']} samples, seed {report['settings']['seed']})")
        ns = t.get("next_speaker")
        if ns:
            tc = "-" if ns["tag_completion"] is None else f"{ns['tag_completion']:.2f}"
            lines.append(f"who speaks next: probabilities at {ns['lines_scored']} lines of {ns['conversations']} "
                         f"held-out logs ({sum(ns['lines_skipped'].values())} skipped); tag completion {tc} "
                         f"(n={ns['tag_completion_n']}); {ns['seconds']:.0f} s")
        head = f"{'metric':<22} {'goal':<6} {'overall':<28}" + "".join(f" {lv:<28}" for lv in levels)
        lines += [head, "-" * len(head)]
        for m, e in t["metrics"].items():
            row = f"{m:<22} {e['goal']:<6} {_fmt(e):<28}"
            row += "".join(f" {_fmt(e['by_engagement'].get(lv)):<28}" for lv in levels)
            lines.append(row)
            if m == "participation":
                cells = [_band_cell(e["by_engagement"].get(lv)) for lv in levels]
                lines.append(f"{'  band':<22} {'':<6} {'':<28}" + "".join(f" {c:<28}" for c in cells))
        chans = report["channels"]
        lines.append(f"\n{'by channel':<29}" + "".join(f" {c:<28}" for c in chans))
        for m, e in t["metrics"].items():
            lines.append(f"{m:<29}" + "".join(f" {_fmt(e['by_channel'].get(c)):<28}" for c in chans))
    if "compare" in report:
        lines.append("\ntuned - base (paired bootstrap over shared probes; * = 95% CI excludes 0)")
        head = f"{'metric':<22} {'goal':<6} {'base':<28} {'tuned':<28} {'difference':<32}"
        lines += [head, "-" * len(head)]
        for m, d in report["compare"].items():
            b, t = report["targets"]["base"]["metrics"][m], report["targets"]["tuned"]["metrics"][m]
            star = " *" if d.get("significant") else ""
            lines.append(f"{m:<22} {goal(m):<6} {_fmt(b):<28} {_fmt(t):<28} {_fmt(d, signed=True) + star:<32}")
    return "\n".join(lines).lstrip("\n")
