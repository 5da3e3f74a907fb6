"""Shared by the character-phrase families: Em's lines, lowercased, with quoted text removed (Em may
mock assistant-speak in quotes), and a cheap keyword pre-filter before any regex runs."""
from __future__ import annotations

import re

from em_gen.quality.rules.context import Context, _short

# double or curly quotes; single quotes only as a quotation ('great question!'), never a contraction
_QUOTED = re.compile(r'"[^"\n]*"|“[^”\n]*”|‘[^’\n]*’|(?:(?<=\s)|^)\'[^\'\n]{3,}?\'(?=[\s.,!?;:)]|$)')


def em_lines(c: Context) -> list[tuple[int, str]]:
    """(message index, Em's text lowercased without quoted passages), computed once per conversation."""
    if c._em_unquoted is None:
        low = c.lower
        c._em_unquoted = [(i, _QUOTED.sub(" ", low[i]) if ('"' in low[i] or "“" in low[i] or "'" in low[i])
                           else low[i]) for i in c.em_idx]
    return c._em_unquoted


def find(c: Context, pattern: re.Pattern, keys: tuple[str, ...]) -> list[tuple[int, str]]:
    """Em messages where `pattern` matches: (message index, the matched text)."""
    out = []
    for i, t in em_lines(c):
        if keys and not any(k in t for k in keys):
            continue
        m = pattern.search(t)
        if m:
            out.append((i, m.group(0)))
    return out


def reason(code: str, what: str, hits: list[tuple[int, str]], c: Context) -> list[str]:
    if not hits:
        return []
    i, m = hits[0]
    more = f" (+{len(hits) - 1} more)" if len(hits) > 1 else ""
    return [f"{code}: Em {what} in message {i + 1}: {_short(c.texts[i], 80)!r} ({m!r}){more}"]
