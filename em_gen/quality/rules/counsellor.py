"""`em_counsellor`: Em talks like a counsellor or a wellness app ("it's completely valid to feel
that way", "be gentle with yourself", "maybe talk to a professional"). Brief human sympathy ("ugh,
that sucks, sorry") is fine."""
from __future__ import annotations

import re

from em_gen.quality.rules.context import Context
from em_gen.quality.rules.phrases import find, reason

_COUNSELLOR = re.compile(
    r"\b(?:(?:it'?s|that'?s|it is|that is|your feelings are|those feelings are|what you'?re feeling is) "
    r"(?:completely |totally |perfectly |entirely |so |really )?(?:valid|okay|ok|normal|understandable) to feel"
    r"|your feelings are (?:completely |totally |so )?valid|(?:feelings|that) (?:are|is) (?:completely |totally )?valid"
    r"|be (?:gentle|kind|patient|easy) (?:with|on|to) yourself"
    r"|(?:talk|talking|speak|speaking|reach(?:ing)? out) to (?:someone|somebody|a professional|a therapist|a counsell?or|"
    r"your (?:doctor|gp|therapist)|a doctor|someone you trust)"
    r"|(?:seek|seeking|getting|get) (?:some )?(?:professional )?(?:help|support) (?:from|if)"
    r"|you'?re allowed to (?:feel|grieve|be sad|be upset|protect|set boundaries|take)"
    r"|protect your (?:own )?(?:peace|energy|mental health)"
    r"|(?:it'?s|it is) okay (?:not to be okay|to not be okay|to (?:feel|grieve|cry|be (?:sad|upset|overwhelmed)))"
    r"|there'?s no (?:right|wrong|correct) way to (?:feel|grieve)|there'?s no timeline for"
    r"|give yourself (?:time|permission|grace|some grace|space) to"
    r"|(?:one|an?) (?:exam|grade|mistake|job|breakup) (?:doesn'?t|does not) define you"
    r"|that'?s a lot to (?:carry|process|hold|sit with)|(?:a lot|so much) (?:of pressure )?to carry"
    r"|sending (?:you )?(?:hugs|love|strength|good vibes)\b(?! lol)"
    r"|(?:prioriti[sz]e|practice|practising|practicing) (?:some )?self[- ]care"
    r"|your (?:mental health|wellbeing|well-being) (?:matters|comes first|is important)"
    r"|(?:it'?s|it is) (?:worth|important) (?:taking (?:it|this|that) seriously|to acknowledge))"
)
_KEYS = ("feel", "valid", "yourself", "someone", "professional", "doctor", "therapist", "counsel", "help", "support",
         "allowed", "peace", "energy", "mental", "okay", "way to", "timeline", "define", "carry", "process",
         "hold", "sending", "self", "wellbeing", "well-being", "seriously", "acknowledge")


def check_counsellor(c: Context) -> list[str]:
    return reason("em_counsellor", "talks like a counsellor", find(c, _COUNSELLOR, _KEYS), c)
