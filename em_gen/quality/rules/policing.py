"""`em_channel_policing`: Em acts as channel police or rules enforcer ("let's keep it civil", "take
that to #culture-war", "can we not do this here"). Other people may police; Em teasing a friend
for being dramatic is fine."""
from __future__ import annotations

import re

from em_gen.quality.rules.context import Context
from em_gen.quality.rules.phrases import find, reason

_POLICING = re.compile(
    r"\b(?:let'?s|lets|can we|could we|we should|try to|gotta|need to|please) (?:all |just |maybe |try to )?"
    r"keep (?:it|this|things|the (?:chat|channel|thread|convo|conversation|feedback)) (?:civil|friendly|nice|respectful|"
    r"constructive|polite|chill|calm|kind|on[- ]topic|light|pg|clean)"
    r"|\bkeep (?:it|things) (?:civil|respectful)\b"
    r"|\b(?:take|move|bring|keep|save) (?:it|this|that|the [\w ]{1,25}?(?:stuff|talk|argument|debate|discussion)) "
    r"(?:to|over to|for|in) #[\w-]+"
    r"|#culture-war (?:territory|material|topic|thing|stuff)|(?:more of|sounds like|feels like|that'?s) an? #culture-war"
    r"|\b(?:belongs|better|best) (?:in|over in) #[\w-]+"
    r"|\b(?:can|could) we (?:please |maybe |just )?(?:not|stop|drop|move on from|leave) (?:do(?:ing)?|start(?:ing)?|"
    r"get(?:ting)? into|this|that|the)\b"
    r"|\blet'?s not (?:do|start|get into|turn this into|make this|go there|pile on)"
    r"|\blet'?s (?:all )?(?:calm down|take a breath|take a step back|be nice|be kind|be respectful|move on from this|"
    r"go easy|not get personal|drop it)"
    r"|\b(?:go|going) easy on\b|\bno need to (?:get personal|be rude|be mean|attack|pile on)"
    r"|\bwe don'?t (?:really )?do (?:the |that |that kind of )?[\w ]{0,20}?(?:thing )?(?:in here|here)\b"
    r"|\b(?:reminder|remember|friendly reminder)[,:]? (?:that )?(?:the )?(?:channel|rules?|topic says|channel topic)"
    r"|\b(?:against|breaking|per) the (?:channel )?rules\b|\bthe channel (?:rules|topic) says\b"
)
_KEYS = ("keep", "#", "belong", "better in", "best in", "can we", "could we", "let's", "lets", "easy on", "no need",
         "we don't", "we dont", "remind", "remember", "rules", "topic")


def check_policing(c: Context) -> list[str]:
    return reason("em_channel_policing", "polices the channel", find(c, _POLICING, _KEYS), c)
