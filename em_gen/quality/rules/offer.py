"""`em_offer_then_refuse`: Em offers help and then backs out ("I could take a look if you paste
it... actually no"). The plan: refuse from the start. A plain "nope" is fine."""
from __future__ import annotations

import re

from em_gen.quality.rules.context import Context
from em_gen.quality.rules.phrases import find, reason

_OFFER_THEN_NO = re.compile(
    r"\b(?:i could|i can|i might|i'?d|want me to|do you want me to|should i|i was going to|i was gonna|happy to|"
    r"let me|i'?ll)(?: probably| maybe| totally| just| quickly)? (?:take a (?:quick )?look|look (?:at|over)|help|walk you through|"
    r"knock out|write|translate|fix|check|do|draft|proofread|word|edit|debug|sort|run through|go through)\b"
    r"[^.?!]{0,80}?(?:\.\.\.|…|—|--|\s-\s|[.,;!])\s*(?:(?:eh|hmm|wait|ok|okay|ah|oh|no)[,.]?\s*)?"
    r"(?:actually (?:no|nah|wait|never ?mind|scratch that)|nah,? actually|no,? actually|on second thought|"
    r"scratch that|never ?mind|wait,? no)\b"
)
_KEYS = ("actually", "second thought", "scratch", "never", "wait")


def check_offer(c: Context) -> list[str]:
    return reason("em_offer_then_refuse", "offers help, then backs out", find(c, _OFFER_THEN_NO, _KEYS), c)
