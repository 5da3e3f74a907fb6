"""`em_formal_register`: Em switches to a polished, formal register or gives a mini-lecture ("It's
worth keeping in mind that...", "There are a few key factors to weigh here."). One marker is not
enough: a single stock phrase, or three signs of formal prose in one message (a capitalised opening
with a full stop in a lowercase channel, semicolons, formal connectives, hedged textbook phrasing)."""
from __future__ import annotations

import re

from em_gen.quality.rules.context import Context
from em_gen.quality.rules.phrases import em_lines, reason

_STOCK = re.compile(
    r"\bthere are (?:a few|several|many|a number of|some|two|three) (?:key |main |important |overlapping |different )?"
    r"(?:factors|considerations|reasons|explanations|aspects|things to (?:consider|weigh|keep in mind))\b"
    r"|\bit'?s (?:also )?(?:worth|important) (?:keeping in mind|considering|mentioning|remembering|bearing in mind|"
    r"pointing out|to (?:distinguish|consider|remember|understand|recognise|recognize|keep in mind|bear in mind))\b"
    r"|\bit is (?:also )?(?:worth|important|essential|crucial)\b"
    r"|\b(?:that'?s|that is) (?:largely|partially|broadly|mostly) (?:correct|accurate|true)\b"
    r"|\bthe (?:most )?effective (?:approach|method|strategy|way) (?:is|would be)\b"
    r"|\b(?:generally speaking|broadly speaking|in other words|to put it simply|simply put)\b,"
)
_CONNECTIVES = re.compile(r"\b(?:however|moreover|furthermore|additionally|consequently|therefore|thus|whereas|"
                          r"nevertheless|nonetheless|in addition|for instance|for example|in particular|"
                          r"relatively|typically|generally|significantly|respectively)\b")
_STOCK_KEYS = ("there are", "worth", "important", "it is", "correct", "accurate", "true", "effective", "speaking",
               "in other words", "simply")
MIN_MARKERS = 3


def _markers(raw: str, t: str, lowercase_channel: bool) -> int:
    n = t.count(";") + len(_CONNECTIVES.findall(t))
    if lowercase_channel and raw[:1].isupper() and raw.rstrip().endswith(".") and len(t.split()) >= 12:
        n += 1
    return n


def check_formal(c: Context) -> list[str]:
    lines = em_lines(c)
    if not lines:
        return []
    others = [t for i, t in enumerate(c.texts) if c.nicks[i] != c.em and t[:1].isalpha()]
    lowercase_channel = bool(others) and sum(t[:1].islower() for t in others) >= 0.6 * len(others)
    hits = []
    for i, t in lines:
        if any(k in t for k in _STOCK_KEYS):
            m = _STOCK.search(t)
            if m:
                hits.append((i, m.group(0)))
                continue
        n = _markers(c.texts[i], t, lowercase_channel)
        if n >= MIN_MARKERS:
            hits.append((i, f"{n} signs of formal prose"))
    return reason("em_formal_register", "switches to a formal register", hits, c)
