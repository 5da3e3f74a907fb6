"""`em-gen eval --report REPORT.json`: the eval report (the JSON `em-gen eval` writes) as one
self-contained page next to it (REPORT.html): each metric per engagement level with its 95% CI as
error bars, base vs tuned when the report compares two targets, and the paired differences."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from matplotlib.patches import Patch

from em_gen.generate.journal import atomic_write
from em_gen.library import BadInput
from em_gen.report.page import document, esc, fig, para, section, table
from em_gen.report.plot import BAND, DARK, LIGHT, figure, percent_axis, to_svg

GOALS = {"higher": "higher is better", "lower": "lower is better", "band": "inside the engagement band"}
# per target label: colour, marker, filled? (base: light open circles, tuned/model: dark squares)
STYLES = {"base": (LIGHT, "o", False), "tuned": (DARK, "s", True), "model": (DARK, "s", True)}
EXTRA = [("#000000", "D", True), ("#7a7a7a", "^", False)]


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"--report {path}: file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise BadInput(f"--report {path}: cannot read: {e}") from None
    except json.JSONDecodeError as e:
        raise BadInput(f"--report {path}: not valid JSON (line {e.lineno}: {e.msg})") from None


def load(path: Path, report: dict | None = None) -> dict:
    report = read_json(path) if report is None else report
    targets = report.get("targets") if isinstance(report, dict) else None
    if not isinstance(targets, dict) or not targets or not all(
            isinstance(t, dict) and isinstance(t.get("metrics"), dict) for t in targets.values()):
        raise BadInput(f"--report {path}: not an em-gen eval report (expected 'targets', each with 'metrics'; "
                       "write one with em-gen eval --out FILE)")
    if not isinstance(report.get("levels"), list):
        levels = []
        for t in targets.values():
            for m in t["metrics"].values():
                levels += [k for k in (m.get("by_engagement") or {}) if k not in levels]
        report["levels"] = levels
    return report


def _stat(entry: dict | None) -> tuple[float, float, float] | None:
    """(mean, low, high) of a {"mean", "ci"} entry; None when it has no number."""
    if not isinstance(entry, dict) or not isinstance(entry.get("mean"), (int, float)):
        return None
    m = float(entry["mean"])
    ci = entry.get("ci") if isinstance(entry.get("ci"), list) and len(entry["ci"]) == 2 else [m, m]
    return m, float(ci[0]), float(ci[1])


def _style(label: str, k: int):
    return STYLES.get(label) or EXTRA[k % len(EXTRA)]


def metrics_of(report: dict) -> list[str]:
    names: list[str] = []
    for t in report["targets"].values():
        names += [m for m in t["metrics"] if m not in names]
    return names


def metric_chart(report: dict, names: list[str]) -> str:
    """Small multiples: per metric, the mean overall and per engagement level of each target with
    its 95% CI; participation's band shaded per level."""
    cols = 3
    rows = math.ceil(len(names) / cols)
    cats = ["overall"] + list(report["levels"])
    labels = list(report["targets"])
    width = 11.0
    with figure("eval-metrics", width, 2.55 * rows + 0.55, left=0.6, right=0.2, top=0.75, bottom=0.4,
                wspace=0.22, hspace=0.75) as f:
        axes = f.subplots(rows, cols, squeeze=False)
        x = np.arange(len(cats))
        for i, name in enumerate(names):
            ax = axes[i // cols][i % cols]
            goal = next((t["metrics"][name].get("goal") for t in report["targets"].values()
                         if name in t["metrics"]), "")
            ax.set_title(f"{name}\n({GOALS.get(goal, goal or 'no goal given')})", loc="left", fontsize=9.5)
            for j, cat in enumerate(cats):
                for t in report["targets"].values():
                    e = (t["metrics"].get(name) or {}).get("by_engagement", {}).get(cat) if cat != "overall" else None
                    if e and isinstance(e.get("band"), list):
                        ax.fill_between([j - 0.42, j + 0.42], e["band"][0], e["band"][1], color=BAND, zorder=0,
                                        linewidth=0)
                        break
            spread = 0.18 if len(labels) > 1 else 0.0
            for k, label in enumerate(labels):
                colour, marker, filled = _style(label, k)
                entry = report["targets"][label]["metrics"].get(name) or {}
                pts = [_stat(entry) if c == "overall" else _stat((entry.get("by_engagement") or {}).get(c))
                       for c in cats]
                xs = [x[j] + (k - (len(labels) - 1) / 2) * spread for j, p in enumerate(pts) if p]
                ms = [p[0] for p in pts if p]
                err = [[p[0] - p[1] for p in pts if p], [p[2] - p[0] for p in pts if p]]
                if xs:
                    ax.errorbar(xs, ms, yerr=err, fmt=marker, color=colour, ecolor=colour, capsize=3,
                                markersize=6, markerfacecolor=colour if filled else "white", markeredgewidth=1.4,
                                elinewidth=1.4, label=label if i == 0 else None)
            ax.set_xticks(x, cats)
            ax.set_xlim(-0.6, len(cats) - 0.4)
            ax.set_ylim(-0.05, 1.05)
            percent_axis(ax.yaxis)
        for i in range(len(names), rows * cols):
            axes[i // cols][i % cols].set_axis_off()
        f.legend(loc="upper right", ncols=len(labels) + 1, bbox_to_anchor=(1 - 0.2 / width, 1),
                 handles=axes[0][0].get_legend_handles_labels()[0]
                 + ([Patch(color=BAND, label="band")] if "participation" in names else []))
        return to_svg(f, "eval-metrics")


def compare_chart(report: dict, names: list[str]) -> str:
    """tuned - base per metric, overall and per level, with the paired-bootstrap 95% CI (filled
    diamonds where the CI excludes 0)."""
    cmp = report["compare"]
    rows_ = [m for m in names if m in cmp]
    cols = 3
    rows = math.ceil(len(rows_) / cols)
    cats = ["overall"] + list(report["levels"])
    x = np.arange(len(cats))
    with figure("eval-compare", 11, 2.3 * rows + 0.3, left=0.6, right=0.2, top=0.45, bottom=0.4, wspace=0.22,
                hspace=0.75) as f:
        axes = f.subplots(rows, cols, squeeze=False)
        for i, m in enumerate(rows_):
            ax = axes[i // cols][i % cols]
            ax.set_title(m, loc="left", fontsize=9.5)
            ax.axhline(0, color="#000000", linewidth=1)
            for j, cat in enumerate(cats):
                e = cmp[m] if cat == "overall" else (cmp[m].get("by_engagement") or {}).get(cat)
                p = _stat(e)
                if p:
                    sig = bool(e.get("significant"))
                    ax.errorbar([x[j]], [p[0]], yerr=[[p[0] - p[1]], [p[2] - p[0]]], fmt="D" if sig else "o",
                                color=DARK if sig else LIGHT, markerfacecolor=DARK if sig else "white",
                                markeredgewidth=1.4, markersize=6, capsize=3, elinewidth=1.4)
            ax.set_xticks(x, cats)
            ax.set_xlim(-0.6, len(cats) - 0.4)
            ax.set_ylim(-1.05, 1.05)
            ax.set_yticks([-1, -0.5, 0, 0.5, 1])
            percent_axis(ax.yaxis)
        for i in range(len(rows_), rows * cols):
            axes[i // cols][i % cols].set_axis_off()
        return to_svg(f, "eval-compare")


def _cell(entry: dict | None) -> str:
    p = _stat(entry)
    if p is None:
        return "-"
    return f"{p[0]:.2f} [{p[1]:.2f}, {p[2]:.2f}] n={entry.get('n', '?')}"


def _band_cell(stat: dict | None) -> str:
    if not stat or not isinstance(stat.get("band"), list):
        return "-"
    return f"{stat['band'][0]:.0%}-{stat['band'][1]:.0%}: {stat.get('verdict', '')}"


def target_table(report: dict, label: str) -> str:
    t = report["targets"][label]
    head = ["metric", "goal", "overall"] + list(report["levels"])
    rows = []
    for m, e in t["metrics"].items():
        row = [m, e.get("goal", ""), _cell(e)] + [_cell((e.get("by_engagement") or {}).get(lv))
                                                  for lv in report["levels"]]
        rows.append(row)
        if m == "participation":
            rows.append(["  band", "", ""] + [_band_cell((e.get("by_engagement") or {}).get(lv))
                                              for lv in report["levels"]])
    chans = report.get("channels") or sorted({c for e in t["metrics"].values() for c in (e.get("by_channel") or {})})
    out = [f"<h3>{esc(label)}: {esc(t.get('target', ''))}</h3>", table(head, rows)]
    if chans:
        out.append(table(["metric"] + list(chans), [[m] + [_cell((e.get("by_channel") or {}).get(c)) for c in chans]
                                                   for m, e in t["metrics"].items()]))
    return "".join(out)


def compare_table(report: dict) -> str:
    head = ["metric", "base", "tuned", "tuned - base", "95% CI excludes 0"]
    rows = []
    for m, d in report["compare"].items():
        b = (report["targets"].get("base") or {}).get("metrics", {}).get(m)
        t = (report["targets"].get("tuned") or {}).get("metrics", {}).get(m)
        rows.append([m, _cell(b), _cell(t), _cell(d), "yes" if d.get("significant") else "no"])
    return table(head, rows)


def build(report: dict, path: Path) -> str:
    names = metrics_of(report)
    s = report.get("settings") or {}
    facts = ", ".join(f"{k} {s[k]}" for k in ("probes", "samples", "seed", "temperature", "top_p", "bootstrap")
                      if k in s)
    kinds = s.get("kinds") or {}
    head = (f"<h1>em-gen eval report</h1><p class=\"sub\">{esc(path.resolve())} - created "
            f"{esc(report.get('created', '?'))} - {esc(facts)}"
            + (" - probe kinds: " + esc(", ".join(f"{k} {n}" for k, n in kinds.items())) if kinds else "")
            + "</p>")
    targets = table(["label", "target", "generation time"],
                    [[label, t.get("target", ""), f"{t['generation_seconds']}s" if "generation_seconds" in t else "-"]
                     for label, t in report["targets"].items()])
    body = [head, section("targets", "Targets", targets)]
    if names:
        body.append(section("metrics", "Metrics by engagement level", fig(
            metric_chart(report, names),
            "Each metric's mean over the probes, overall and per engagement level, with its 95% bootstrap CI "
            "as error bars" + (" (light open circles: base; dark squares: tuned)" if "compare" in report or
                               {"base", "tuned"} <= set(report["targets"]) else "")
            + "; grey: the participation band of each level.")))
    else:
        body.append(section("metrics", "Metrics by engagement level", para("The report holds no metric.")))
    if isinstance(report.get("compare"), dict) and report["compare"]:
        body.append(section("compare", "Tuned - base", fig(
            compare_chart(report, names), "tuned - base: the paired difference over the probes both targets "
                                          "answered, with its paired-bootstrap 95% CI; filled diamonds where the CI "
                                          "excludes 0, open circles where it does not.") + compare_table(report)))
    body.append(section("tables", "Numbers", "".join(target_table(report, label) for label in report["targets"])))
    return document(f"em-gen eval report: {path.name}", "".join(body))


def write_eval_report(path, report: dict | None = None) -> Path:
    """REPORT.html next to REPORT.json; returns its path. BadInput on a file that is not a report."""
    path = Path(path)
    report = load(path, report)
    out = path.with_suffix(".html")
    atomic_write(out, build(report, path))
    out.chmod(0o644)  # a page to open and share (atomic_write makes its files private)
    return out
