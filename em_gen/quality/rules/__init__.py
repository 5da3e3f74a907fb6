"""The quality gate: decide whether one parsed conversation may become training data.

`check(parsed, lib, expect)` runs every rule in `CHECKS` and returns a `Verdict` whose `reasons`
are strings of the form ``"code: human detail"``. The codes are stable snake_case ids (see
`REASON_CODES`); callers count rejections by code, so never rename one.

Each entry of `CHECKS` is `(name, fn)` with `fn(ctx: Context) -> list[str]`; `Context.build(parsed,
lib, expect)` computes the shared per-conversation facts once (tokens, Em's indices, level, bucket).
Rules (all pure Python and cheap; thresholds are the module constants below):

* header            `header`, `header_mismatch`
* participation     `em_absent`, `participation_band`
* assistant         `assistant_language`, `markdown`, `code_block`      (Em's lines only)
* boundaries        `boundary_violation`                                (Em's reply to a request)
* style             `rapid_fire`, `wall_of_text`
* degeneration      `hallucinated_turn`, `repetition_loop`, `repeated_lines`, `garbage_chars`,
                    `too_long`, `continuation_lines`, `dropped_lines`, `empty_message`
* shape             `bucket`, `few_speakers`, `bad_nicks`, `em_back_to_back`
* character phrases `em_greeting`, `em_followup_questions`, `em_counsellor`, `em_ai_disclaimer`,
                    `em_channel_policing`, `em_political_refusal`, `em_recap`, `em_formal_register`,
                    `em_offer_then_refuse`, `em_claims_human` (Em's lines only, quoted text ignored; one
                    module each)

Only Em's lines are held to Em's behaviour: other people may ask for help, quote ChatGPT or paste
code, and Em may quote assistant-speak in double quotes. A role marker the parser cut at
(`truncated_at`) only rejects a log when too few messages remain for its bucket; role-marker text
that survived inside a message always does. `Diversity` is the dataset-level part: near-duplicate detection over kept conversations
(word 3-gram shingles, bottom-k MinHash sketch, inverted index) and distinct-1/2.

An LLM judge is deliberately not part of this module; `check(..., judge=fn)` accepts an optional
callable `fn(ctx) -> list[str]` that is only consulted when every cheap rule passed.
"""
from __future__ import annotations

from typing import Callable

from em_gen.library import Library
from em_gen.quality.irc import Parsed
from em_gen.quality.rules.assistant import check_assistant  # noqa: F401
from em_gen.quality.rules.boundaries import check_boundaries  # noqa: F401
from em_gen.quality.rules.context import (  # noqa: F401
    BOUNDARY_LONG_WORDS,
    MAX_MESSAGE_CHARS,
    REASON_CODES,
    SHORT_WORDS,
    WALL_WORDS,
    Context,
    Expect,
    Verdict,
)
from em_gen.quality.rules.degeneration import check_degeneration  # noqa: F401
from em_gen.quality.rules.counsellor import check_counsellor
from em_gen.quality.rules.disclaimer import check_disclaimer
from em_gen.quality.rules.diversity import Diversity  # noqa: F401
from em_gen.quality.rules.followup import check_followup
from em_gen.quality.rules.formal import check_formal
from em_gen.quality.rules.greeting import check_greeting
from em_gen.quality.rules.human import check_human
from em_gen.quality.rules.offer import check_offer
from em_gen.quality.rules.policing import check_policing
from em_gen.quality.rules.politics import check_politics
from em_gen.quality.rules.recap import check_recap
from em_gen.quality.rules.participation import band_limits, check_participation  # noqa: F401
from em_gen.quality.rules.shape import check_header, check_shape  # noqa: F401
from em_gen.quality.rules.style import _sentences, check_style  # noqa: F401

CHECKS: list[tuple[str, Callable[[Context], list[str]]]] = [
    ("header", check_header),
    ("participation", check_participation),
    ("assistant", check_assistant),
    ("boundaries", check_boundaries),
    ("style", check_style),
    ("degeneration", check_degeneration),
    ("shape", check_shape),
    # character phrases: the cheap pre-filter for the judge (precision first; the judge decides)
    ("greeting", check_greeting),
    ("followup", check_followup),
    ("counsellor", check_counsellor),
    ("disclaimer", check_disclaimer),
    ("policing", check_policing),
    ("politics", check_politics),
    ("recap", check_recap),
    ("formal", check_formal),
    ("offer", check_offer),
    ("human", check_human),
]


def stats_of(c: Context) -> dict:
    n, k = c.n, len(c.em_idx)
    return {
        "n_messages": n,
        "n_em": k,
        "em_share": round(k / n, 4) if n else 0.0,
        "n_speakers": len(set(c.nicks)),
        "n_other_speakers": len({x for x in c.nicks if x != c.em}),
        "n_words": sum(c.nwords),
        "n_chars": sum(len(t) for t in c.texts),
        "short_share": round(sum(1 for w in c.nwords if w <= SHORT_WORDS) / n, 4) if n else 0.0,
        "em_back_to_back": sum(1 for a, b in zip(c.nicks, c.nicks[1:]) if a == b == c.em),
        "engagement": c.parsed.engagement,
        "channel": c.parsed.channel,
        "bucket": c.bucket,
        "truncated_at": c.parsed.truncated_at,
        "continuations": c.parsed.continuations,
        "em_sentences": _sentence_counts(c),
    }


def _sentence_counts(c: Context) -> dict:
    """How many of Em's messages have 1, 2, 3, 4 and 5+ sentences (the plan asks for 2-4)."""
    out = {"1": 0, "2": 0, "3": 0, "4": 0, "5+": 0}
    for i in c.em_idx:
        k = max(1, _sentences(c.texts[i]))
        out["5+" if k >= 5 else str(k)] += 1
    return out


def check(parsed: Parsed, lib: Library, expect: Expect | None = None,
          judge: Callable[[Context], list[str]] | None = None) -> Verdict:
    """Run every rule; ok when no rule gave a reason. `judge` (optional, e.g. an LLM judge) runs
    only when all cheap rules passed and returns more reasons."""
    c = Context.build(parsed, lib, expect)
    reasons: list[str] = []
    for _name, fn in CHECKS:
        reasons.extend(fn(c))
    if not reasons and judge is not None:
        reasons.extend(judge(c))
    return Verdict(ok=not reasons, reasons=reasons, stats=stats_of(c))
