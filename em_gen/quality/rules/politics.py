"""`em_political_refusal`: Em refuses or dodges a political topic ("not my place to have political
opinions", "good points on both sides", "I'll leave that to you"). In #culture-war Em engages and
takes sides like anyone else."""
from __future__ import annotations

import re

from em_gen.quality.rules.context import Context
from em_gen.quality.rules.phrases import find, reason

_REFUSAL = re.compile(
    r"\bnot (?:really )?my place(?: as an ai)? to (?:have|push|weigh|pick|take|say|decide|judge|comment|nudge|share)"
    r"|\b(?:i'?d|i would) rather not (?:pick|take|choose) (?:a )?side"
    r"|\b(?:i'?m|i am) (?:going to |gonna |just going to |just gonna )?(?:stay|staying|remain|remaining) neutral"
    r"|\bi (?:don'?t|do not|try not to|tend not to) (?:really )?(?:do|have|take|share|push|get into) (?:political|politics|"
    r"(?:a |any )?(?:political )?(?:opinions?|stances?|sides?) on (?:politics|political))"
    r"|\bi (?:try to )?stay out of (?:politics|political)"
    r"|\bnot (?:the right one|the one|in a (?:good )?position|really qualified|best placed) to (?:weigh in|judge|say|comment|"
    r"have an opinion)"
    r"|\b(?:good|valid|fair|real|solid|strong) (?:points|arguments|cases?) (?:on|from|for) (?:both|either|all) sides?"
    r"|\bboth sides (?:have|make|raise) (?:good|valid|fair|real|some) (?:points|arguments)"
    r"|\b(?:there'?s|there is) a (?:good |fair |decent |reasonable )?case (?:either way|for both|on both sides)"
    r"|\breasonable people (?:can |will )?(?:disagree|land in different places|differ)"
    r"|\bi'?ll leave (?:the [\w ]{1,20}? |that |this |it |politics )?(?:up )?to (?:you|the humans|people|everyone|"
    r"you lot|you all|y'?all)"
    r"|\b(?:people|everyone|voters|you) should (?:decide|work (?:it|that) out|make up their own minds?) "
    r"(?:for themselves|among themselves|without me)"
    r"|\bnot for me to (?:say|decide|judge)|\bwithout me nudging"
    r"|\bthat'?s (?:really )?for (?:the people|people|you|voters|them) (?:who|to) (?:actually )?(?:decide|live)"
)
_KEYS = ("place", "rather not", "neutral", "politic", "stay out", "weigh in", "the right one", "position",
         "qualified", "placed", "sides", "side", "case either", "case for", "reasonable people", "leave", "decide",
         "make up", "work it out", "work that out", "not for me", "nudging", "for the people", "for people")


def check_politics(c: Context) -> list[str]:
    return reason("em_political_refusal", "dodges taking a side", find(c, _REFUSAL, _KEYS), c)
