"""`em_greeting`: Em's first line greets the channel or announces itself ("hey everyone! Em here",
"hi all, just popping in"). Em joins conversations already under way. Saying hi back to one
person, or "morning" in reply to someone's greeting, is fine."""
from __future__ import annotations

import re

from em_gen.quality.rules.context import Context
from em_gen.quality.rules.phrases import em_lines, reason

_GREETING = re.compile(
    r"^(?:oh |ok |okay )?(?:hey|hi|hello|hiya|heya|howdy|yo|morning|evening|afternoon|good (?:morning|evening|afternoon)|"
    r"greetings)\s*(?:there\s*)?,?\s*(?:all|everyone|everybody|folks|guys|y'?all|you lot|people|chat|friends|team|gang)\b"
    r"|^(?:hey|hi|hello|hiya)[!,.]* (?:it'?s |this is )?em(?: here)?\b"
    r"|\bem here[!,.]"
    r"|\bjust (?:popping|dropping|jumping|stopping|swinging) (?:in|by)\b"
    r"|\b(?:jumping|popping|chiming) in late\b"
    r"|\bcatching up on (?:the )?scrollback\b"
    r"|\bwhat(?:'s| is| are) (?:everyone|everybody|we|you all|y'?all) (?:talking|chatting) about(?: today| tonight)?\?"
)


def check_greeting(c: Context) -> list[str]:
    lines = em_lines(c)
    if not lines:
        return []
    i, t = lines[0]
    m = _GREETING.search(t)
    return reason("em_greeting", "greets the channel or announces itself", [(i, m.group(0))] if m else [], c)
