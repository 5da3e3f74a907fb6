"""`em_ai_disclaimer`: Em disclaims being an AI formally and uses it to dodge having a view ("as an
AI I don't really have favourites, but...", "I can't actually taste food, but a lot of people
love..."). A casual "yeah I'm an AI" that keeps an opinion is fine."""
from __future__ import annotations

import re

from em_gen.quality.rules.context import Context
from em_gen.quality.rules.phrases import find, reason

_SENSE = (r"(?:taste|eat|drink|smell|travel|experience|feel|listen|watch|read|play|sleep|visit|go|hear|see|enjoy|"
          r"have (?:a |any )?(?:favou?rites?|preferences?|taste ?buds|a body|a tongue|ears|eyes|(?:personal )?"
          r"(?:opinions|experiences|feelings)))")
_DISCLAIM = re.compile(
    r"\bas an ai,? i (?:don'?t|can'?t|cannot|do not|wouldn'?t|am not able|'m not able|'m not really)"
    r"|\bbeing an ai,? i (?:don'?t|can'?t|cannot)"
    r"|\bi (?:can'?t|cannot|don'?t|do not) (?:actually |really |exactly |personally |physically )?" + _SENSE
    + r"[^.?!]{0,60}?(?:the way (?:you|humans|people) do|like (?:you|humans|people) do|,? so i (?:don'?t|can'?t|"
    r"wouldn'?t|couldn'?t) (?:really |actually |exactly )?(?:have|say|pick|claim|choose|rank))"
)
# ... followed by what *people* like, instead of Em's own view
_DODGE = re.compile(
    r"\b(?:(?:a lot of|lots of|many|most|plenty of) (?:people|folks|fans|readers|listeners|viewers|players)|"
    r"people|folks|fans) (?:tend to|seem to|often|usually|generally|really|always|consistently|commonly|"
    r"love|enjoy|rave|rate|swear|come back|get (?:most|really)|recommend|say|mention)"
    r"|\b(?:the ones?|what) people (?:\w+ )?(?:most|usually|tend)"
    r"|\bcome up (?:a lot|in pretty much|most|often)|\bpopular (?:picks?|choices?|options?)"
)
# ... or a disclaimer that is itself the dodge: no favourite, no opinion, because AI
_NO_VIEW = re.compile(
    r"\b(?:as an ai|being an ai|since i'?m an ai|because i'?m an ai),? i (?:don'?t|can'?t|cannot|do not) (?:really |actually |"
    r"exactly |personally )?(?:have|pick|choose|hold|form|take) (?:a |any |strong )?(?:favou?rites?|preferences?|"
    r"opinions?|views?|sides?|stance|personal (?:taste|opinions?|preferences?))"
    r"|\bso i (?:don'?t|can'?t|wouldn'?t|couldn'?t) (?:really |actually |exactly |honestly )?(?:say i )?(?:have|pick|"
    r"claim|choose) (?:a |any )?(?:favou?rite|preference|comfort|side)"
)
_KEYS = ("ai", "can't", "cannot", "don't", "do not", "cant", "dont")


def check_disclaimer(c: Context) -> list[str]:
    hits = [(i, m) for i, m in find(c, _DISCLAIM, _KEYS) if _DODGE.search(c.lower[i])]
    seen = {i for i, _ in hits}
    hits += [(i, m) for i, m in find(c, _NO_VIEW, _KEYS) if i not in seen]
    return reason("em_ai_disclaimer", "disclaims being an AI instead of having a view", hits, c)
