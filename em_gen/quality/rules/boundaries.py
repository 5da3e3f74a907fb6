"""Boundaries: `boundary_violation` (Em complying with a homework / code / essay request)."""
from __future__ import annotations

import re

from em_gen.quality.rules.assistant import _code
from em_gen.quality.rules.context import (
    BOUNDARY_LONG_WORDS,
    BOUNDARY_WINDOW,
    Context,
    _short,
)

# ---------------------------------------------------------------------------------------------
# boundaries: Em does not comply with homework / code / essay requests
# ---------------------------------------------------------------------------------------------
_EM_MENTION_CACHE: dict[str, re.Pattern] = {}


def _mention(em: str) -> re.Pattern:
    p = _EM_MENTION_CACHE.get(em)
    if p is None:
        p = _EM_MENTION_CACHE[em] = re.compile(r"(?<![\w-])%s\b" % re.escape(em.lower()))
    return p


# a request for work: a request cue and a work object in the same message
_REQUEST_CUE = re.compile(
    r"\b(?:can|could|would|will|won'?t) (?:you|u)\b|\bpl(?:ease|s|z)\b|\bhelp me\b|\bfor me\b|"
    r"^\W*(?:hey |yo |ok )?em\W+(?:write|do|fix|debug|solve|finish|make|draft|plan|explain|check|proofread|"
    r"look at|give)\b|\b(?:write|do|fix|debug|solve|finish|draft|plan|proofread|explain) (?:me|my|this|it)\b",
)  # lowercased text
_REQUEST = re.compile(
    r"\b(?:essay|homework|hw|assignment|paper|code|script|program|function|bug|crash(?:ing|es)?|segfault|"
    r"error|problem set|pset|calc|math|equations?|report|cover letter|paragraphs?|resume|thesis|step by step|"
    r"regex|sql|query|worksheet|lab|project|intro|introduction|conclusion|answers?|trip|itinerary|"
    r"schedule|plan)\b",
)  # lowercased text
_COMPLY = re.compile(
    r"^(?:sure|of course|certainly|ok(?:ay)?|alright|fine|absolutely|yes|yeah|yep)[!,.]*\s*"
    r"(?:here|i'?ll|let'?s|let me|so|first)\b"
    r"|\b(?:here'?s|here is|here are) (?:a|an|the|your|my|some|one)\b[^.?!]{0,30}\b(?:draft|version|"
    r"paragraph|essay|script|code|solution|answer|outline|intro|introduction|thesis|fix|function|"
    r"steps|breakdown|example|start)\b"
    r"|\bstep (?:1|one)\b|\bfirst,? you\b.*\b(?:then|next)\b|\bthe answer is\b"
    r"|\byou (?:should|need to|want to|could|just) (?:use|import|call|replace|add|change|set|wrap|"
    r"return|declare|define|divide|multiply|integrate|differentiate|factor|substitute|plug)\b",
)  # lowercased text
_REFUSE = re.compile(
    r"^\W*(?:no|nope|nah|never|pass|lol no|haha no)\b|\b(?:absolutely not|still no|not (?:doing|happening|gonna|"
    r"going to|a chance|your)|won'?t (?:do|write|be doing)|do (?:it|that|your own)|nice try|hard pass|"
    r"i don'?t (?:do|write))\b"
)  # lowercased text


_REQUEST_KEYS = (
    "essay", "homework", "hw", "assignment", "paper", "code", "script", "program", "function", "bug",
    "pset", "problem set", "calc", "math", "equation", "equations", "report", "letter", "paragraph",
    "paragraphs", "resume", "thesis", "step by step", "regex", "sql", "query", "worksheet", "lab",
    "project", "intro", "introduction", "conclusion", "answer", "answers", "crash", "crashing",
    "crashes", "segfault", "error", "trip", "itinerary", "schedule", "plan",
)
# whole words (matched against the conversation's word set); "problem set" and "step by step" are
# found through their words
_REQUEST_WORDS = frozenset(w for k in _REQUEST_KEYS for w in ([k] if " " not in k else [k.split()[-1]]))


def check_boundaries(c: Context) -> list[str]:
    out = []
    em = c.em
    if not c.em_idx:
        return out
    keys = _REQUEST_WORDS.intersection(c.words)
    if not keys:
        return out
    mention = _mention(em)
    n = c.n
    lower = c.lower
    for i in c.msgs_with(keys):
        nick, t = c.nicks[i], c.texts[i]
        if nick == em:
            continue
        tl = lower[i]
        if not _REQUEST.search(tl) or not _REQUEST_CUE.search(tl):
            continue
        # a request to Em: it names Em, or it follows right after an Em message
        if not (mention.search(tl) or (i > 0 and c.nicks[i - 1] == em)):
            continue
        for j in range(i + 1, min(n, i + 1 + BOUNDARY_WINDOW)):
            if c.nicks[j] != em:
                continue
            r = c.texts[j]
            rl = lower[j]
            why = None
            m = _COMPLY.search(rl)
            if m:
                why = f"complies ({m.group(0).strip()!r})"
            elif c.nwords[j] >= BOUNDARY_LONG_WORDS and not _REFUSE.search(rl):
                why = f"answers at length ({c.nwords[j]} words) without refusing"
            elif _code(r):
                why = "answers with code"
            if why:
                out.append(f"boundary_violation: {nick} asks {em} for work (message {i + 1}: {_short(t, 40)!r}) "
                           f"and {em} {why} in message {j + 1}")
            break
    return out
