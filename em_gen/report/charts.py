"""The run report's figures for participation, mix, coverage, rejections and cost (SVG strings)."""
from __future__ import annotations

import numpy as np
from matplotlib.patches import Patch

from em_gen.report.plot import (
    BAND,
    DARK,
    GREY,
    HATCH,
    LIGHT,
    LINES,
    empty,
    figure,
    integer_axis,
    label_inches,
    percent_axis,
    shorten,
    thousands_axis,
    to_svg,
)


def participation_bins(top: float, bands: dict[str, tuple[float, float]], step: float = 0.025) -> np.ndarray:
    """Bin edges every `step`, with every band edge an edge too: no bin straddles a band edge."""
    edges = {round(float(x), 6) for x in np.arange(0, top + step, step)}
    edges |= {round(float(x), 6) for lo_hi in bands.values() for x in lo_hi}
    return np.array(sorted(edges))


def band_histogram(vals: list[float], edges: np.ndarray, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """np.histogram, except that a share at the band's top (in the band: lo <= v <= hi) is drawn in the
    band's last bin and not in the one right of it (histogram bins are half-open, [a, b))."""
    placed = [min(v, hi - 1e-9) if lo <= v <= hi else v for v in vals]
    return np.histogram(placed, bins=edges)


def participation(levels: list[str], bands: dict[str, tuple[float, float]], kept: dict[str, list[float]],
                  rejected: dict[str, list[float]]) -> str:
    """Per engagement level, a histogram of Em's share of messages, the band shaded; the rejected
    conversations in a second row."""
    rows = [("kept", kept, DARK, None)]
    if any(rejected.values()):
        rows.append(("rejected", rejected, LIGHT, HATCH))
    top = max([0.45] + [x for d in (kept, rejected) for v in d.values() for x in v])
    bins = participation_bins(top, bands)
    with figure("participation", 11, 2.5 * len(rows), left=0.75, top=0.35, wspace=0.16,
                hspace=0.45) as fig:
        axes = fig.subplots(len(rows), len(levels), squeeze=False, sharex=True)
        for r, (what, data, colour, hatch) in enumerate(rows):
            for c, lvl in enumerate(levels):
                ax = axes[r][c]
                lo, hi = bands[lvl]
                ax.axvspan(lo, hi, color=BAND, zorder=0, label=f"band {lo:.0%}-{hi:.0%}")
                vals = data.get(lvl, [])
                if vals:
                    counts, edges = band_histogram(vals, bins, lo, hi)
                    ax.stairs(counts, edges, fill=True, color=colour, hatch=hatch, label=what)
                    ax.stairs(counts, edges, color="white" if hatch is None else "#5a3200", linewidth=0.6)
                    inside = sum(1 for v in vals if lo <= v <= hi)
                    ax.set_title(f"{lvl} - {what}: {len(vals)}, {inside / len(vals):.0%} in band", loc="left")
                else:
                    ax.set_title(f"{lvl} - {what}: none", loc="left")
                percent_axis(ax.xaxis)
                integer_axis(ax.yaxis)
                if c == 0:
                    ax.set_ylabel("conversations")
                if r == len(rows) - 1:
                    ax.set_xlabel(f"Em's share of messages (band {lo:.0%}-{hi:.0%} in grey)")
        return to_svg(fig, "participation")


def mix(planned: dict[str, dict], achieved: dict[str, dict], order: dict[str, list]) -> str:
    """Planned vs achieved share of each value of each mix dimension (bars), achieved counts written.
    `order`: dimension -> its values in the library's order (others follow, sorted)."""
    columns = [["topic", "bucket"], ["engagement", "channel", "pattern"]]
    columns = [[d for d in col if d in order] for col in columns]
    keys = {}
    for d in order:
        seen = set(planned.get(d, {})) | set(achieved.get(d, {}))
        keys[d] = [k for k in order[d] if k in seen] + sorted((k for k in seen if k not in order[d]), key=str)
    units = [sum(len(keys[d]) + 3 for d in col) - 3 for col in columns]
    total = max(units)
    width, unit = 11.0, 0.21
    labels = [label_inches([shorten(str(k), 22) for d in col for k in keys[d]]) for col in columns]
    axes_w = (width - labels[0] - 0.45 - labels[1] - 0.5) / 2
    with figure("mix", width, unit * total + 0.75, left=labels[0], right=0.5, top=0.3, bottom=0.45,
                wspace=(labels[1] + 0.45) / axes_w, hspace=0) as fig:
        gs = fig.add_gridspec(total, 2)
        for c, col in enumerate(columns):
            start = 0
            for d in col:
                n = len(keys[d])
                ax = fig.add_subplot(gs[start:start + n, c])
                start += n + 3
                p_tot = sum(planned.get(d, {}).values()) or 1
                a_tot = sum(achieved.get(d, {}).values()) or 1
                y = np.arange(n)
                p = [planned.get(d, {}).get(k, 0) / p_tot for k in keys[d]]
                a = [achieved.get(d, {}).get(k, 0) / a_tot for k in keys[d]]
                if planned.get(d):
                    ax.barh(y - 0.2, p, height=0.4, color=LIGHT, hatch=HATCH, edgecolor="#5a3200", linewidth=0.5,
                            label="planned")
                ax.barh(y + 0.2 if planned.get(d) else y, a, height=0.4, color=DARK, label="achieved (kept)")
                for yi, k, share in zip(y, keys[d], a):
                    ax.text(share, yi + (0.2 if planned.get(d) else 0), f" {achieved.get(d, {}).get(k, 0)}",
                            va="center", fontsize=7.5, color=DARK)
                ax.set_yticks(y, [shorten(str(k), 22) for k in keys[d]])
                ax.invert_yaxis()
                ax.set_title(d, loc="left")
                percent_axis(ax.xaxis)
                ax.set_xlim(0, max(p + a + [0.1]) * 1.18)
        handles = [Patch(facecolor=LIGHT, hatch=HATCH, edgecolor="#5a3200", label="planned"),
                   Patch(color=DARK, label="achieved (kept)")]
        fig.legend(handles=handles if any(planned.values()) else handles[1:], loc="upper right", ncols=2,
                   bbox_to_anchor=(1 - 0.3 / width, 1))
        return to_svg(fig, "mix")


def coverage(grid: dict[str, dict[str, int]], levels: list[str]) -> str:
    """Kept conversations per core sub-scenario x engagement level; an empty cell's 0 in bold."""
    rows = list(grid)
    if not rows:
        with figure("coverage", 6, 1.2) as fig:
            empty(fig.add_subplot(), "no core sub-scenarios in the library")
            return to_svg(fig, "coverage")
    m = np.array([[grid[r].get(lvl, 0) for lvl in levels] for r in rows], dtype=float)
    with figure("coverage", 7.6, 0.3 * len(rows) + 0.75, left=label_inches(rows), right=1.3, top=0.5,
                bottom=0.25) as fig:
        ax = fig.add_subplot()
        vmax = max(1.0, float(m.max()))
        im = ax.pcolormesh(m, cmap="Blues", vmin=0, vmax=vmax, edgecolors="white", linewidth=1.5)
        for i, r in enumerate(rows):
            for j in range(len(levels)):
                v = int(m[i, j])
                ax.text(j + 0.5, i + 0.5, str(v), ha="center", va="center", fontsize=8.5,
                        color="white" if v > 0.55 * vmax else "black", fontweight="bold" if v == 0 else None)
        ax.set_xticks(np.arange(len(levels)) + 0.5, levels)
        ax.set_yticks(np.arange(len(rows)) + 0.5, rows)
        ax.invert_yaxis()
        ax.xaxis.tick_top()
        ax.grid(False)
        for s in ax.spines.values():
            s.set_visible(False)
        ax.tick_params(length=0)
        bar = fig.colorbar(im, ax=ax, fraction=0.08, pad=0.03, label="kept conversations")
        integer_axis(bar.ax.yaxis)
        return to_svg(fig, "coverage")


def rejection_codes(by_code: dict[str, int], family) -> str:
    """Rejections by reason code, rules first then the judge's codes."""
    codes = sorted(by_code, key=lambda c: (family(c) != "rules", -by_code[c], c))
    with figure("rejection-codes", 5.4, 0.26 * len(codes) + 1.0, left=label_inches(codes), bottom=0.55,
                top=0.2) as fig:
        ax = fig.add_subplot()
        y = np.arange(len(codes))
        for fam, style in (("rules", {"color": DARK}),
                           ("judge", {"color": LIGHT, "hatch": HATCH, "edgecolor": "#5a3200", "linewidth": 0.5})):
            idx = [i for i, c in enumerate(codes) if family(c) == fam]
            if idx:
                ax.barh(y[idx], [by_code[codes[i]] for i in idx], height=0.65, **style)
        for yi, c in zip(y, codes):
            ax.text(by_code[c], yi, f" {by_code[c]}", va="center", fontsize=8)
        ax.set_yticks(y, codes)
        ax.invert_yaxis()
        integer_axis(ax.xaxis)
        ax.set_xlabel("rejected conversations")
        ax.legend(handles=[Patch(color=DARK, label="rules"),
                           Patch(facecolor=LIGHT, hatch=HATCH, edgecolor="#5a3200", label="judge")],
                  loc="lower right")
        ax.set_xlim(0, max(by_code.values()) * 1.15)
        return to_svg(fig, "rejection-codes")


def rejection_course(ends: list[int], series: dict[str, list[int]], marks: list[tuple[str, int, int]],
                     top: int = 6) -> str:
    """Cumulative rejections per code over the course of the run (judged conversations, in journal
    order); the codes beyond the top ones summed as one line."""
    order = sorted(series, key=lambda c: -sum(series[c]))
    lines = {c: series[c] for c in order[:top]}
    if len(order) > top:
        lines["(other codes)"] = [sum(series[c][i] for c in order[top:]) for i in range(len(ends))]
    with figure("rejection-course", 5.4, 3.4, left=0.6, top=0.2) as fig:
        ax = fig.add_subplot()
        for k, (code, ys) in enumerate(lines.items()):
            colour, ls, marker = LINES[k % len(LINES)]
            ax.step([0] + ends, np.concatenate([[0], np.cumsum(ys)]), where="post", color=colour, linestyle=ls,
                    marker=marker, markevery=max(1, len(ends) // 6), markersize=4, linewidth=1.5, label=code)
        _marks(ax, marks, 1)
        ax.set_xlabel("conversations judged (journal order)")
        ax.set_ylabel("rejections so far")
        integer_axis(ax.yaxis)
        integer_axis(ax.xaxis)
        ax.set_xlim(0, ends[-1])
        ax.set_ylim(bottom=0)
        ax.legend(loc="upper left", ncols=2, fontsize=7.5)
        return to_svg(fig, "rejection-course")


# where a run starts: dotted grey verticals; no data series is dotted (plot.LINES), so "dotted" means this
MARK_STYLE = {"color": GREY, "linestyle": ":", "linewidth": 1}


def _marks(ax, marks: list[tuple[str, int, int]], which: int) -> None:
    """Dotted grey lines where each run (or round of a --full run) starts."""
    for label, *pos in marks[1:] if len(marks) > 1 else []:
        x = pos[which - 1]
        ax.axvline(x, **MARK_STYLE)
        ax.text(x, 1.0, f" {label}", transform=ax.get_xaxis_transform(), fontsize=7, color=GREY,
                va="top", rotation=90)


def cost(series: dict[str, list[float]], marks: list[tuple[str, int, int]], priced: bool) -> str:
    """Cumulative cost and tokens over the paid requests of every run."""
    x = series["requests"]
    with figure("cost", 11, 3.1, left=0.8, wspace=0.18) as fig:
        a1, a2 = fig.subplots(1, 2)
        a1.plot(x, series["cost"], color=DARK, linewidth=1.8)
        a1.set_title("cumulative cost", loc="left")
        a1.set_ylabel("USD")
        a1.set_xlabel("paid requests")
        if not priced:
            a1.text(0.5, 0.5, "no cost counted\n(offline stand-in or unpriced model)", ha="center", va="center",
                    transform=a1.transAxes, color=GREY)
        _marks(a1, marks, 2)
        for k, (key, label) in enumerate([("input", "input (+ cache write)"), ("cache_read", "cache read"),
                                          ("output", "output")]):
            colour, ls, _m = LINES[k]
            a2.plot(x, series[key], color=colour, linestyle=ls, linewidth=1.8, label=label)
        a2.set_title("cumulative tokens", loc="left")
        a2.set_xlabel("paid requests")
        thousands_axis(a2.yaxis)
        a2.legend(loc="upper left")
        _marks(a2, marks, 2)
        for ax in (a1, a2):
            ax.set_xlim(0, max(x[-1], 1))
            ax.set_ylim(bottom=0)
        return to_svg(fig, "cost")
