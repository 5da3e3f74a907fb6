"""`em_recap`: Em summarises or wraps up the conversation ("so to sum up", "sounds like we landed
on...", "great discussion everyone"). Referring back to an earlier joke is fine; so is somebody
else summarising."""
from __future__ import annotations

import re

from em_gen.quality.rules.context import Context
from em_gen.quality.rules.phrases import find, reason

_RECAP = re.compile(
    r"\b(?:so )?to (?:sum (?:it |this |things |everything )?up|recap|summari[sz]e|wrap (?:it |this |things )?up)\b"
    r"|\b(?:in summary|tl;?dr of (?:the|this) (?:thread|chat|convo|discussion))\b"
    r"|\b(?:sounds|looks|seems) like (?:where )?we(?:'ve| have| all)? (?:landed|ended up|settled|arrived|agreed|"
    r"converged|reached)\b"
    r"|\bwhere (?:we(?:'ve| have)?|the (?:channel|thread|chat|group|room)) (?:landed|ended up|settled|came out)\b"
    r"|\bso (?:far )?(?:it )?sounds like the (?:split|consensus|takeaway|verdict|options?|plan) (?:is|are)\b"
    r"|\b(?:ok|okay|alright|right),? so (?:the (?:options|consensus|takeaways?|plan|verdict) (?:are|is)|"
    r"where we(?:'ve| have)? (?:landed|ended up)|in summary|overall)\b"
    r"|\bthe (?:consensus|takeaway) (?:seems to be|is basically|here is)\b"
    r"|\b(?:great|good|fun|lovely|nice) (?:discussion|conversation|chat|thread|debate),? (?:everyone|all|guys|folks|y'?all)\b"
    r"|\b(?:good|solid|fair) compromise all (?:round|around)\b"
)
_KEYS = ("sum", "recap", "summar", "wrap", "tl;dr", "tldr", "landed", "ended up", "settled", "arrived", "agreed",
         "converged", "reached", "came out", "sounds like the", "options", "consensus", "takeaway", "discussion",
         "conversation", "chat", "thread", "debate", "compromise")


def check_recap(c: Context) -> list[str]:
    return reason("em_recap", "recaps the conversation", find(c, _RECAP, _KEYS), c)
