"""Message style: `rapid_fire`, `wall_of_text`."""
from __future__ import annotations

import re

from em_gen.quality.rules.context import (
    RAPID_FIRE_SHARE,
    SHORT_WORDS,
    WALL_MIN_WORDS,
    WALL_SENTENCES,
    WALL_WORDS,
    Context,
)

# ---------------------------------------------------------------------------------------------
# message style
# ---------------------------------------------------------------------------------------------
_SENT_SPLIT = re.compile(r"[.!?]+(?:\s+|$)")


def _sentences(t: str) -> int:
    return sum(1 for s in _SENT_SPLIT.split(t) if len(s.split()) >= 2)


def check_style(c: Context) -> list[str]:
    out = []
    n = c.n
    if n:
        frag = sum(1 for w in c.nwords if w <= SHORT_WORDS)
        if frag / n > RAPID_FIRE_SHARE:
            out.append(f"rapid_fire: {frag} of {n} messages ({frag / n:.0%}) are {SHORT_WORDS} words or fewer "
                       f"(limit {RAPID_FIRE_SHARE:.0%})")
    for i in c.em_idx:
        w = c.nwords[i]
        if w > WALL_WORDS:
            out.append(f"wall_of_text: {c.em} message {i + 1} has {w} words (limit {WALL_WORDS})")
        elif w >= WALL_MIN_WORDS:
            s = _sentences(c.texts[i])
            if s > WALL_SENTENCES:
                out.append(f"wall_of_text: {c.em} message {i + 1} has {s} sentences (limit {WALL_SENTENCES})")
    return out
