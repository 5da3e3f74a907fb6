"""Message style: `rapid_fire`, `wall_of_text`."""
from __future__ import annotations

import re

from em_gen.quality.rules.context import (
    RAPID_FIRE_SHARE,
    SHORT_WORDS,
    WALL_MIN_WORDS,
    WALL_SENTENCES,
    WALL_WORDS,
    WALL_WORDS_PER_SENTENCE,
    Context,
)

# ---------------------------------------------------------------------------------------------
# message style
# ---------------------------------------------------------------------------------------------
_SENT_SPLIT = re.compile(r"[.!?]+(?:\s+|$)")


def sentences(t: str) -> int:
    """Sentences of a chat message: pieces ended by . ! ? (or the end) of at least two words."""
    return sum(1 for s in _SENT_SPLIT.split(t) if len(s.split()) >= 2)


_sentences = sentences


def wall_words(n_sentences: int) -> int:
    """The most words a message of `n_sentences` (up to WALL_SENTENCES) may have before it is a wall."""
    return max(WALL_WORDS, WALL_WORDS_PER_SENTENCE * n_sentences)


def check_style(c: Context) -> list[str]:
    out = []
    n = c.n
    if n:
        frag = sum(1 for w in c.nwords if w <= SHORT_WORDS)
        if frag / n > RAPID_FIRE_SHARE:
            out.append(f"rapid_fire: {frag} of {n} messages ({frag / n:.0%}) are {SHORT_WORDS} words or fewer "
                       f"(limit {RAPID_FIRE_SHARE:.0%})")
    for i in c.em_idx:  # sentences first, words second
        w = c.nwords[i]
        if w < WALL_MIN_WORDS:
            continue
        s = sentences(c.texts[i])
        if s > WALL_SENTENCES and w >= WALL_MIN_WORDS:
            out.append(f"wall_of_text: {c.em} message {i + 1} has {s} sentences (limit {WALL_SENTENCES})")
        elif s <= WALL_SENTENCES and w > wall_words(s):
            out.append(f"wall_of_text: {c.em} message {i + 1} has {w} words in {s} sentence(s) "
                       f"(limit {wall_words(s)})")
    return out
