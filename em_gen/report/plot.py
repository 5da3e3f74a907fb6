"""matplotlib set-up for the report: the Agg backend, one style, inline SVG out.

Figures are made with `matplotlib.figure.Figure` (no pyplot, so no global figure registry), text is
kept as SVG text (small, selectable; the browser's sans-serif draws it) and the element ids of each
figure are salted with its name, so the SVGs of one page never share an id. Colours are chosen to
survive greyscale printing: a dark and a light series, the light one hatched, bands in pale grey.
"""
from __future__ import annotations

import io
import re
from contextlib import contextmanager

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402

DARK = "#1f3b63"  # navy: dark in greyscale
LIGHT = "#e39b3f"  # amber: light in greyscale, always hatched
GREY = "#7a7a7a"
BAND = "#d6d6d6"
HATCH = "///"
LINES = [  # (colour, line style, marker): distinct without colour; none dotted (dotted: where a run starts)
    (DARK, "-", None), (LIGHT, "--", "o"), ("#000000", (0, (6, 2, 2, 2)), "s"), (GREY, "-.", "^"),
    ("#7c2f8f", (0, (5, 1)), "D"), ("#2f7f5f", (0, (10, 3)), "v"), ("#b03030", (0, (3, 1, 1, 1, 1, 1)), "x"),
]
STYLE = {
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],  # bundled with matplotlib: the layout is measured with it
    "font.size": 9.5,
    "axes.titlesize": 10.5,
    "axes.titleweight": "bold",
    "axes.labelsize": 9.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#e3e3e3",
    "grid.linewidth": 0.7,
    "legend.frameon": False,
    "legend.fontsize": 8.5,
    "hatch.linewidth": 0.8,
    "hatch.color": "#5a3200",
    "xtick.labelsize": 8.5,
    "ytick.labelsize": 8.5,
}
_XML_HEAD = re.compile(r"^.*?(?=<svg)", re.DOTALL)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.DOTALL)
_SIZE = re.compile(r'<svg([^>]*?) width="([\d.]+)pt" height="([\d.]+)pt"')


@contextmanager
def figure(name: str, width: float, height: float, left: float = 0.7, right: float = 0.25, top: float = 0.4,
           bottom: float = 0.55, wspace: float = 0.25, hspace: float = 0.45):
    """A Figure under the report's style, its margins in inches (a fixed layout: constrained and
    tight layout measure every text twice and cost more than the drawing itself)."""
    with matplotlib.rc_context({**STYLE, "svg.hashsalt": f"em-gen-report-{name}"}):
        fig = Figure(figsize=(width, height))
        fig.subplots_adjust(left=left / width, right=1 - right / width, top=1 - top / height,
                            bottom=bottom / height, wspace=wspace, hspace=hspace)
        yield fig


def label_inches(labels, size: float = 8.5) -> float:
    """About how wide the longest label is drawn, in inches (DejaVu Sans averages 0.6 em a character)."""
    return max((len(str(x)) for x in labels), default=0) * size * 0.6 / 72 + 0.15


def to_svg(fig: Figure, label: str) -> str:
    """The figure as an inline <svg> element: no XML prolog, no metadata, scales down with the page."""
    buf = io.StringIO()
    with matplotlib.rc_context({**STYLE, "svg.hashsalt": f"em-gen-report-{label}"}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    svg = _METADATA.sub("", _XML_HEAD.sub("", buf.getvalue(), count=1), count=1)

    def size(m: re.Match) -> str:
        w, h = float(m.group(2)), float(m.group(3))
        return (f'<svg{m.group(1)} width="{w * 4 / 3:.0f}" height="{h * 4 / 3:.0f}" role="img" '
                f'aria-label="{_attr(label)}" class="fig"')
    return _SIZE.sub(size, svg, count=1)


def _attr(s: str) -> str:
    return s.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def percent_axis(axis) -> None:
    """Shares (0..1) written as percentages: "5%", "2.5%" (a decimal only where the tick has one)."""
    def fmt(v, _p):
        p = round(v * 100, 1)
        return f"{p:.0f}%" if p == int(p) else f"{p:.1f}%"
    axis.set_major_formatter(FuncFormatter(fmt))


def integer_axis(axis) -> None:
    axis.set_major_locator(MaxNLocator(integer=True))


def thousands_axis(axis) -> None:
    def fmt(v, _p):
        a = abs(v)
        if a >= 1e6:
            return f"{v / 1e6:g}M"
        if a >= 1e3:
            return f"{v / 1e3:g}k"
        return f"{v:g}"
    axis.set_major_formatter(FuncFormatter(fmt))


def empty(ax, text: str) -> None:
    """An axes that says there is nothing to draw."""
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color=GREY, fontsize=10)


def shorten(s: str, n: int = 34) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"
