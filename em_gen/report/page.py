"""HTML building blocks for the report pages: one self-contained document (inline CSS, inline SVG,
no script, no font, no fetch of any kind), sections, tables, figures and a chat view of a log."""
from __future__ import annotations

import html
import zlib

CSS = """
:root { --ink: #1b1b1b; --muted: #5f5f5f; --rule: #d8d8d8; --dark: #1f3b63; --em: #fff3c4; --bad: #8a1c1c; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: var(--ink);
       background: #fafafa; }
main { max-width: 1140px; margin: 0 auto; padding: 16px 24px 48px; background: #fff; }
h1 { font-size: 24px; margin: 8px 0 4px; }
h2 { font-size: 20px; margin: 34px 0 8px; padding-bottom: 4px; border-bottom: 2px solid var(--dark); }
h3 { font-size: 15px; margin: 18px 0 6px; }
p, li { max-width: 920px; }
.sub { color: var(--muted); margin: 0 0 10px; }
.banner { border: 3px solid var(--bad); background: #fde8e8; color: var(--bad); padding: 10px 14px; margin: 10px 0;
          font-weight: bold; }
.note { border-left: 4px solid #999; background: #f3f3f3; padding: 6px 10px; margin: 8px 0; }
nav { margin: 8px 0 0; font-size: 13px; }
nav a { color: var(--dark); margin-right: 12px; }
table { border-collapse: collapse; margin: 8px 0 12px; font-size: 13px; }
th, td { border-bottom: 1px solid var(--rule); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #eef1f5; font-weight: bold; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num { white-space: nowrap; }
.wide { overflow-x: auto; max-width: 100%; }
tr.total td { font-weight: bold; border-top: 2px solid #999; }
td.flag { color: var(--bad); font-weight: bold; }
code, .mono { font-family: "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: 12.5px; }
figure { margin: 10px 0; }
figcaption { color: var(--muted); font-size: 13px; }
svg.fig { max-width: 100%; height: auto; display: block; }
.grid2 { display: grid; grid-template-columns: 1fr 1fr; gap: 8px 18px; align-items: start; }
.chat { border: 1px solid var(--rule); background: #fcfcfc; padding: 6px 0;
        font-family: "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: 12.5px; }
pre.chat { white-space: pre-wrap; word-break: break-all; padding: 6px 10px; }
.chat .hd { color: var(--muted); padding: 0 10px 4px; border-bottom: 1px dashed var(--rule); margin-bottom: 4px; }
.chat .ln { padding: 1px 10px 1px 14px; white-space: pre-wrap; word-break: break-word; }
.chat .ln.em { background: var(--em); border-left: 5px solid var(--dark); padding-left: 9px; }
.chat .ln.em .nk { font-weight: bold; text-decoration: underline; }
.chat .nk { font-weight: bold; }
.scroll { max-height: 300px; overflow-y: auto; display: inline-block; border: 1px solid var(--rule); }
.scroll table { margin: 0; }
table.top { width: 100%; font-size: 12.5px; }
table.top caption { text-align: left; font-weight: bold; padding: 4px 0; }
.bar { display: inline-block; height: 10px; background: var(--dark); vertical-align: middle; }
.bar.flag { background: repeating-linear-gradient(45deg, #e39b3f 0 3px, #ffffff 3px 5px); border: 1px solid #5a3200; }
.grid3 { display: grid; grid-template-columns: 1fr 1fr 1fr; gap: 8px 16px; align-items: start; }
.reasons { color: var(--bad); margin: 4px 0; }
@media print { body { background: #fff; } }
"""
_NICK_COLOURS = ("#1f3b63", "#7c2f8f", "#2f6f4f", "#8a4b08", "#3a5f8f", "#6b2b2b", "#4b4b8f", "#2b6b6b")


def esc(s) -> str:
    return html.escape(str(s), quote=True)


def document(title: str, body: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{esc(title)}</title><style>{CSS}</style></head>\n<body><main>\n{body}\n</main></body></html>\n")


def section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{esc(anchor)}">\n<h2>{esc(title)}</h2>\n{body}\n</section>\n'


def nav(items: list[tuple[str, str]]) -> str:
    return "<nav>" + "".join(f'<a href="#{esc(a)}">{esc(t)}</a>' for a, t in items) + "</nav>"


def para(text: str, cls: str | None = None) -> str:
    attr = f' class="{cls}"' if cls else ""
    return f"<p{attr}>{esc(text)}</p>"


def fig(svg: str, caption: str | None = None) -> str:
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return f"<figure>{svg}{cap}</figure>"


def grid2(*parts: str, cls: str = "grid2") -> str:
    return f'<div class="{cls}">' + "".join(f"<div>{p}</div>" for p in parts) + "</div>"


def table(headers: list[str], rows: list[list], num: set[int] = frozenset(), total: list | None = None,
          flag: set[int] = frozenset()) -> str:
    """A table; columns in `num` right-aligned, cells in columns `flag` marked when truthy."""
    def cell(i: int, v, tag: str = "td") -> str:
        cls = " ".join(c for c in ("num" if i in num else "", "flag" if i in flag and v else "") if c)
        attr = f' class="{cls}"' if cls else ""
        return f"<{tag}{attr}>{esc('' if v is None else v)}</{tag}>"
    out = ['<div class="wide"><table><thead><tr>' + "".join(cell(i, h, "th") for i, h in enumerate(headers))
           + "</tr></thead><tbody>"]
    for r in rows:
        out.append("<tr>" + "".join(cell(i, v) for i, v in enumerate(r)) + "</tr>")
    if total:
        out.append('<tr class="total">' + "".join(cell(i, v) for i, v in enumerate(total)) + "</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def share_table(title: str, rows: list[tuple[str, int, float, bool]], flag_label: str) -> str:
    """A top list: item, conversations, share with a bar (hatched and marked when flagged)."""
    top = max((r[2] for r in rows), default=0) or 1
    out = [f'<table class="top"><caption>{esc(title)}</caption><thead><tr><th>text</th>'
           '<th class="num">conv.</th><th>share</th></tr></thead><tbody>']
    for item, count, share, flagged in rows:
        bar = f'<span class="bar{" flag" if flagged else ""}" style="width:{90 * share / top:.1f}px"></span>'
        out.append(f'<tr><td>{esc(item)}</td><td class="num">{count:,}</td><td>{bar} {100 * share:.1f}%'
                   f'{f" <b>{esc(flag_label)}</b>" if flagged else ""}</td></tr>')
    if not rows:
        out.append('<tr><td colspan="3">none</td></tr>')
    out.append("</tbody></table>")
    return "".join(out)


def chat(header: str, messages: list[tuple[str, str]], em: str, limit: int = 400) -> str:
    """A log drawn as a chat: one line per message, Em's lines highlighted (background, bar, bold)."""
    lines = [f'<div class="chat"><div class="hd">{esc(header)}</div>']
    for nick, msg in messages[:limit]:
        colour = "#000000" if nick == em else _NICK_COLOURS[zlib.crc32(nick.encode()) % len(_NICK_COLOURS)]
        cls = "ln em" if nick == em else "ln"
        lines.append(f'<div class="{cls}"><span class="nk" style="color:{colour}">&lt;{esc(nick)}&gt;</span> '
                     f"{esc(msg)}</div>")
    if len(messages) > limit:
        lines.append(f'<div class="ln">... {len(messages) - limit} more messages</div>')
    lines.append("</div>")
    return "".join(lines)


def money(v: float | None) -> str:
    if v is None:
        return "-"
    return f"${v:,.4f}" if v < 100 else f"${v:,.2f}"


def duration(s: float | None) -> str:
    if s is None:
        return "-"
    if s < 120:
        return f"{s:.1f}s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def pct(v: float | None, decimals: int = 0) -> str:
    return "-" if v is None else f"{100 * v:.{decimals}f}%"
