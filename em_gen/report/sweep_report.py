"""`em-gen eval --sweep ... --report` (or `em-gen eval --report SWEEP.json`): the sweep report as one
self-contained page next to it (SWEEP.html): the recommendation and why, each metric against the step
with its 95% CI as a band (the base at step 0), the eval loss beside them, the recommended checkpoint
marked, reverting checkpoints crossed, and the paired differences from the base as tables."""
from __future__ import annotations

import math
from pathlib import Path

from em_gen.generate.journal import atomic_write
from em_gen.library import BadInput
from em_gen.report.page import document, esc, fig, para, section, table
from em_gen.report.plot import BAND, DARK, GREY, LIGHT, empty, figure, percent_axis, to_svg

GOALS = {"higher": "higher is better", "lower": "lower is better", "band": "inside the engagement band"}
REVERT = "#b03030"


def check(report: dict, path: Path) -> dict:
    ok = (isinstance(report.get("base"), dict) and isinstance(report["base"].get("metrics"), dict)
          and isinstance(report.get("checkpoints"), list)
          and all(isinstance(c, dict) and isinstance(c.get("metrics"), dict) for c in report["checkpoints"]))
    if not ok:
        raise BadInput(f"--report {path}: not an em-gen eval --sweep report (expected 'base' and 'checkpoints', "
                       "each with 'metrics')")
    return report


def _xs(report: dict) -> tuple[list[float], list[str], str]:
    """x of each checkpoint, tick labels and the axis label: steps when every checkpoint has one."""
    cks = report["checkpoints"]
    if cks and all(isinstance(c.get("step"), int) for c in cks):
        return [float(c["step"]) for c in cks], [str(c["step"]) for c in cks], "step (base at 0)"
    return [float(i + 1) for i in range(len(cks))], [c["label"] for c in cks], "checkpoint (base at 0)"


def _stat(e: dict | None):
    if not isinstance(e, dict) or not isinstance(e.get("mean"), (int, float)):
        return None
    m = float(e["mean"])
    ci = e.get("ci") if isinstance(e.get("ci"), list) and len(e["ci"]) == 2 else [m, m]
    return m, float(ci[0]), float(ci[1])


def curves(report: dict, metrics: list[str]) -> str:
    """Small multiples: the eval loss, then each metric against the step: checkpoints as a line with a
    shaded 95% CI, the base at step 0 with its CI, the recommendation as a dotted vertical line."""
    xs, ticks, xlabel = _xs(report)
    cks = report["checkpoints"]
    rec = (report.get("recommendation") or {}).get("label")
    rec_x = next((x for x, c in zip(xs, cks) if c["label"] == rec), None)
    reverting = {r["label"] for r in report.get("reverting", [])}
    panels = ["eval loss"] + metrics
    cols = 3
    rows = math.ceil(len(panels) / cols)
    with figure("sweep-curves", 11, 2.6 * rows + 0.6, left=0.6, right=0.2, top=0.75, bottom=0.55, wspace=0.25,
                hspace=0.8) as f:
        axes = f.subplots(rows, cols, squeeze=False)
        for i, name in enumerate(panels):
            ax = axes[i // cols][i % cols]
            if name == "eval loss":
                pts = [(x, c["eval_loss"]) for x, c in zip(xs, cks) if isinstance(c.get("eval_loss"), (int, float))]
                ax.set_title("eval loss\n(trainer_state.json; lower is better)", loc="left", fontsize=9.5)
                if not pts:
                    empty(ax, "no eval loss logged")
                    continue
                base_loss = report["base"].get("eval_loss")
                if isinstance(base_loss, (int, float)):  # the trainer's eval before the first step
                    pts = [(0.0, float(base_loss))] + pts
                ax.plot([p[0] for p in pts], [p[1] for p in pts], color=GREY, marker="o", linestyle="-",
                        label="eval loss")
                ax.ticklabel_format(axis="y", useOffset=False, style="plain")
            else:
                goal = (report["base"]["metrics"].get(name) or {}).get("goal") or next(
                    (c["metrics"][name].get("goal") for c in cks if name in c["metrics"]), "")
                ax.set_title(f"{name}\n({GOALS.get(goal, goal)})", loc="left", fontsize=9.5)
                b = _stat(report["base"]["metrics"].get(name))
                if b:
                    ax.errorbar([0], [b[0]], yerr=[[b[0] - b[1]], [b[2] - b[0]]], fmt="o", color=LIGHT, capsize=3,
                                markerfacecolor="white", markeredgewidth=1.4, label="base" if i == 1 else None)
                pts = [(x, _stat(c["metrics"].get(name)), c["label"]) for x, c in zip(xs, cks)]
                pts = [p for p in pts if p[1]]
                if pts:
                    px = [p[0] for p in pts]
                    ax.fill_between(px, [p[1][1] for p in pts], [p[1][2] for p in pts], color=BAND, linewidth=0,
                                    label="95% CI" if i == 1 else None)
                    ax.plot(px, [p[1][0] for p in pts], color=DARK, marker="s", markersize=5,
                            label="checkpoints" if i == 1 else None)
                    bad = [p for p in pts if p[2] in reverting]
                    if bad and name == "assistant_language":
                        ax.plot([p[0] for p in bad], [p[1][0] for p in bad], linestyle="none", marker="X",
                                markersize=10, color=REVERT, label="reverting")
                top = max([1.0] + [p[1][2] for p in pts] + ([b[2]] if b else []))
                ax.set_ylim(-0.05, top + 0.05)
                percent_axis(ax.yaxis)
            if rec_x is not None:
                ax.axvline(rec_x, color="#000000", linestyle=":", linewidth=1.3,
                           label=f"recommended: {rec}" if i == 1 else None)
            ax.set_xticks([0.0] + xs, ["base"] + ticks, fontsize=7.5, rotation=30 if len(xs) > 6 else 0)
            ax.set_xlabel(xlabel, fontsize=8)
        for i in range(len(panels), rows * cols):
            axes[i // cols][i % cols].set_axis_off()
        handles, labels = [], []
        for ax in axes.flat:
            for h, lb in zip(*ax.get_legend_handles_labels()):
                if lb not in labels and lb != "eval loss":
                    handles.append(h)
                    labels.append(lb)
        f.legend(handles, labels, loc="upper right", ncols=len(labels), bbox_to_anchor=(1 - 0.2 / 11, 1))
        return to_svg(f, "sweep-curves")


def _cell(e: dict | None, signed: bool = False) -> str:
    p = _stat(e)
    if p is None:
        return "-"
    s = "+" if signed else ""
    star = " *" if signed and e.get("significant") else ""
    return f"{p[0]:{s}.2f} [{p[1]:{s}.2f}, {p[2]:{s}.2f}]{star}"


def build(report: dict, path: Path) -> str:
    cks = report["checkpoints"]
    b = report["base"]
    metrics = list(b["metrics"]) + [m for c in cks for m in c["metrics"] if m not in b["metrics"]]
    metrics = list(dict.fromkeys(metrics))
    s = report.get("settings") or {}
    facts = ", ".join(f"{k} {s[k]}" for k in ("probes", "samples", "seed", "temperature", "top_p", "bootstrap") if k in s)
    rec = report.get("recommendation")
    head = (f"<h1>em-gen eval sweep</h1><p class=\"sub\">{esc(path.resolve())} - created {esc(report.get('created', '?'))}"
            f" - {esc(report.get('run_dir') or 'targets given')} vs base {esc(b.get('target', ''))} - {esc(facts)}</p>")
    verdict = []
    if rec:
        verdict.append(f"<p><b>Recommended: {esc(rec['label'])}</b>{' (fallback)' if rec.get('fallback') else ''}</p>")
        verdict.append("<ul>" + "".join(f"<li>{esc(w)}</li>" for w in rec.get("why", [])) + "</ul>")
    for r in report.get("reverting", []):
        verdict.append(para(f"Reverting: {r['label']}: {r['why']}", "reasons"))
    if report.get("unchanged_lines"):
        verdict.append('<div class="note">' + "<br>".join(esc(line[0].upper() + line[1:] + ".")
                                                          for line in report["unchanged_lines"]) + "</div>")
    for f in report.get("failed", []):
        verdict.append(para(f"Failed and skipped: {f['label']}: {f['error']}", "reasons"))
    musts = report.get("must_have", [])
    verdict.append(para("Must-have metrics: " + ", ".join(musts) + ". A checkpoint is worse than the best when the "
                        "paired-bootstrap 95% CI of its difference from the best lies wholly on the bad side of 0."))
    rank = {r["label"]: r for r in report.get("ranking", [])}
    rows = []
    for label, e in [("base", b)] + [(c["label"], c) for c in cks]:
        r = rank.get(label, {})
        loss = e.get("eval_loss")
        rows.append([r.get("rank", "-"), label, (e.get("step") if e.get("step") is not None else "-") if label != "base" else 0,
                     f"{loss:.4f}" if isinstance(loss, (int, float)) else "-",
                     "cached" if e.get("cached") else f"{e.get('seconds', 0):.1f}s + {e.get('load_seconds', 0):.1f}s",
                     ", ".join(r.get("worse_than_best", [])) or "-", ", ".join(r.get("better_than_base", [])) or "-",
                     "yes" if r.get("reverting") else "", "yes" if rec and label == rec["label"] else ""])
    rows.sort(key=lambda r: (r[0] if isinstance(r[0], int) else 1 << 30))
    ck_table = table(["rank", "checkpoint", "step", "eval loss", "sampling + loading", "worse than the best on",
                      "better than the base on", "reverting", "recommended"], rows, num={0, 2, 3}, flag={7})
    diffs = table(["metric", "goal", "base"] + [c["label"] for c in cks],
                  [[m, (b["metrics"].get(m) or {}).get("goal", ""), _cell(b["metrics"].get(m))]
                   + [_cell(c["compare"].get(m), signed=True) for c in cks] for m in metrics])
    values = table(["metric", "base"] + [c["label"] for c in cks],
                   [[m, _cell(b["metrics"].get(m))] + [_cell(c["metrics"].get(m)) for c in cks] for m in metrics])
    per_level = []
    for lv in report.get("levels", []):
        row, band = [lv], None
        for e in [b] + cks:
            g = ((e["metrics"].get("participation") or {}).get("by_engagement") or {}).get(lv)
            band = band or (g or {}).get("band")
            row.append(f"{_cell(g)}: {g.get('verdict', '')}" if g else "-")
        row.insert(1, f"{band[0]:.0%}-{band[1]:.0%}" if band else "-")
        per_level.append(row)
    levels = table(["level", "band", "base"] + [c["label"] for c in cks], per_level) if per_level else ""
    body = [head,
            section("recommendation", "Recommendation", "".join(verdict)),
            section("checkpoints", "Checkpoints", ck_table),
            section("curves", "Metrics against the step", fig(
                curves(report, metrics),
                "Each metric's mean over the probes at each checkpoint, the shaded band its 95% bootstrap CI; the "
                "base at step 0 (open circle, with its CI); the dotted line marks the recommended checkpoint, a cross "
                "a reverting one. The eval loss is the trainer's, from trainer_state.json.")),
            section("differences", "Checkpoint - base", para("Paired difference from the base over the probes both "
                                                             "answered, with its paired-bootstrap 95% CI; * where the "
                                                             "CI excludes 0.") + diffs),
            section("values", "Numbers", values + (para("Participation per engagement level against its band:")
                                                    + levels if levels else ""))]
    return document(f"em-gen eval sweep: {path.name}", "".join(body))


def write_sweep_report(path: Path, report: dict) -> Path:
    out = path.with_suffix(".html")
    atomic_write(out, build(check(report, path), path))
    out.chmod(0o644)
    return out
