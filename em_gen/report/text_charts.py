"""The run report's figures for token lengths, diversity and style (SVG strings)."""
from __future__ import annotations

import numpy as np

from em_gen.report.plot import (
    BAND,
    DARK,
    HATCH,
    LIGHT,
    empty,
    figure,
    integer_axis,
    label_inches,
    percent_axis,
    thousands_axis,
    to_svg,
)
from em_gen.report.text import PLAN_SENTENCES, TextStats


def token_lengths(lengths: list[int], seq_len: int | None, label: str) -> str:
    """Histogram of tokens per kept conversation against the training sequence_len."""
    with figure("token-lengths", 11, 3.0, left=0.7, top=0.35) as fig:
        ax = fig.add_subplot()
        if not lengths:
            empty(ax, "no kept conversations")
            return to_svg(fig, "token-lengths")
        hi = max(max(lengths), seq_len or 0) * 1.04
        bins = np.linspace(0, hi, 61)
        ax.hist(lengths, bins=bins, color=DARK, edgecolor="white", linewidth=0.4, label="conversations")
        if seq_len:
            over = sum(1 for n in lengths if n > seq_len)
            ax.axvline(seq_len, color=LIGHT, linestyle="--", linewidth=2,
                       label=f"sequence_len {seq_len:,} (axolotl/em.yaml): {over} over")
        s = sorted(lengths)
        p50, p99 = s[len(s) // 2], s[min(len(s) - 1, int(0.99 * len(s)))]
        ax.set_title(f"tokens per conversation, {label}: n={len(s)}, median {p50:,}, p99 {p99:,}, "
                     f"max {s[-1]:,}", loc="left")
        ax.set_xlabel("tokens (BOS + text + EOS)")
        ax.set_ylabel("conversations")
        thousands_axis(ax.xaxis)
        integer_axis(ax.yaxis)
        ax.legend(loc="best")
        return to_svg(fig, "token-lengths")


def nicks(st: TextStats, k: int = 24) -> str:
    """The most frequent nicks (besides Em): conversations they speak in."""
    top = st.nicks.most_common(k)
    with figure("nicks", 5.4, 0.2 * max(len(top), 4) + 0.95, left=label_inches([n for n, _c in top], 7.5),
                right=0.3, top=0.35) as fig:
        ax = fig.add_subplot()
        ax.set_title(f"nicks: {len(st.nicks)} distinct besides Em", loc="left")
        if not top:
            empty(ax, "no other speakers")
            return to_svg(fig, "nicks")
        y = np.arange(len(top))
        n = max(1, st.conversations)
        ax.barh(y, [c / n for _nick, c in top], color=DARK, height=0.7)
        ax.set_yticks(y, [nick for nick, _c in top], fontsize=7.5)
        ax.invert_yaxis()
        percent_axis(ax.xaxis)
        ax.set_xlabel("share of kept conversations the nick speaks in")
        return to_svg(fig, "nicks")


def words(st: TextStats) -> str:
    """Words per message, Em vs everyone else (share of each group's messages)."""
    with figure("words", 5.4, 3.2, top=0.35) as fig:
        ax = fig.add_subplot()
        ax.set_title("words per message", loc="left")
        if not st.em_words and not st.other_words:
            empty(ax, "no messages")
            return to_svg(fig, "words")
        allw = sorted(st.em_words + st.other_words)
        hi = max(10, allw[min(len(allw) - 1, int(0.995 * len(allw)))])
        bins = np.arange(0, hi + 2, max(1, (hi + 2) // 30))
        top = 0.0
        for vals, label, style in ((st.other_words, "others", {"color": LIGHT, "hatch": HATCH, "edgecolor": "#5a3200",
                                                                "alpha": 0.9, "linewidth": 0.5}),
                                   (st.em_words, "Em", {"histtype": "step", "color": DARK, "linewidth": 2.2})):
            if vals:
                w = np.full(len(vals), 1 / len(vals))
                got, _e, _p = ax.hist(np.minimum(vals, bins[-1] - 0.5), bins=bins, weights=w, **style,
                                      label=f"{label}: median {sorted(vals)[len(vals) // 2]} words, n={len(vals):,}")
                top = max(top, float(np.max(got)))
        ax.set_ylim(0, top * 1.25)
        percent_axis(ax.yaxis)
        ax.set_xlabel("words")
        ax.set_ylabel("share of messages")
        ax.legend(loc="upper right")
        return to_svg(fig, "words")


def sentences(st: TextStats, cap: int = 8) -> str:
    """Sentences per Em message against the plan's 2-4."""
    with figure("sentences", 5.4, 3.2, top=0.35) as fig:
        ax = fig.add_subplot()
        total = sum(st.em_sentences.values())
        if not total:
            ax.set_title("sentences per Em message", loc="left")
            empty(ax, "no Em messages")
            return to_svg(fig, "sentences")
        lo, hi = PLAN_SENTENCES
        xs = list(range(1, cap + 1))
        counts = [st.em_sentences.get(x, 0) for x in xs[:-1]] + [sum(c for k, c in st.em_sentences.items() if k >= cap)]
        counts[0] += st.em_sentences.get(0, 0)
        ax.axvspan(lo - 0.5, hi + 0.5, color=BAND, zorder=0, label=f"plan: {lo}-{hi} sentences")
        ax.bar(xs, [c / total for c in counts], color=DARK, width=0.7, label="Em's messages")
        ax.set_xticks(xs, [str(x) for x in xs[:-1]] + [f"{cap}+"])
        percent_axis(ax.yaxis)
        ax.set_title(f"sentences per Em message: {st.sentences_in_plan:.0%} in the plan's {lo}-{hi}", loc="left")
        ax.set_xlabel("sentences")
        ax.set_ylabel("share of Em's messages")
        ax.legend(loc="upper right")
        return to_svg(fig, "sentences")
