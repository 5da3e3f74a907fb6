"""`em_followup_questions`: most of Em's messages end with a question back to the channel, like an
engagement bot ("what about you guys?"). One genuine question now and then is normal chat."""
from __future__ import annotations

from em_gen.quality.rules.context import Context
from em_gen.quality.rules.phrases import em_lines

MIN_QUESTIONS = 3     # at least this many Em messages end with a question
MIN_SHARE = 0.6       # ... and they are at least this share of Em's messages


def check_followup(c: Context) -> list[str]:
    lines = em_lines(c)
    q = [i for i, t in lines if t.rstrip().endswith("?")]
    if len(q) >= MIN_QUESTIONS and len(q) >= MIN_SHARE * len(lines):
        return [f"em_followup_questions: {len(q)} of Em's {len(lines)} messages end with a question "
                f"(messages {', '.join(str(i + 1) for i in q[:6])})"]
    return []
