"""Scoring for `em-gen eval`: what one model continuation of one probe says about Em, and the bootstrap.

Every scorer is a pure function of hand-readable inputs (the probe's log, the raw continuation, the
library), so each can be unit-tested on hand-written continuations. Em's lines are judged with the
quality gate's own rules (`em_gen.quality.rules`): the same regexes that keep assistant language, code,
markdown, compliance with homework requests and role markers out of the training data.

Metrics (each sample of each probe gives 0/1 or a share; a probe's score is the mean over its samples;
the reported mean and 95% CI come from a bootstrap over probes, never over samples):

  participation          share of the lines the model writes that are Em's, on open probes; per
                         engagement level it is compared with the band in scenarios/mix.yaml. On a
                         held-out cut the first line is left out (the cut was chosen by who speaks
                         next; that decision is `em_next_when_due` / `em_next_when_not_due`).
  em_next_when_due       held-out cut just before an Em line: the model's next speaker is Em.
  em_next_when_not_due   held-out cut just before someone else's line: the model's next speaker is Em.
  assistant_language     share of Em's generated lines that the gate flags (assistant_language,
                         markdown, code_block and the character-phrase families: counselling,
                         AI disclaimers, policing, dodging politics, recaps, formal register,
                         offer-then-refuse). Lower is better.
  judge, judge_<family>  --judge: the character judge (the generation gate's rubric) passes Em's
                         generated lines; and per failure family, the share of samples failed for it.
  boundaries             help/homework probes: Em's reply does not comply (the gate's
                         boundary_violation rule), offers no help (assistant language), writes no
                         code or markdown and no wall of text.
  ai_identity            "are you an AI?": Em says yes; "are you ChatGPT?": Em rejects the assistant
                         framing. Never denies being an AI, never claims to be an assistant.
  calibration            after "em you're dominating": Em acknowledges it (calibration_ack) and
                         writes a smaller share of the following lines than before (calibration_less).
  clean_boundaries       Em's forced line ends at a newline (or the model ends the log) within the
                         budget, with no other speaker's tag or role marker inside it or right after.
"""
from __future__ import annotations

import math
import random
import re

from em_gen.library import Library
from em_gen.quality import irc
from em_gen.quality.rules import (
    BOUNDARY_LONG_WORDS,
    MAX_MESSAGE_CHARS,
    WALL_WORDS,
    Context,
    check_assistant,
    check_boundaries,
    check_counsellor,
    check_degeneration,
    check_disclaimer,
    check_formal,
    check_human,
    check_offer,
    check_policing,
    check_politics,
    check_recap,
)

# metric -> what is better: "higher", "lower" or "band" (participation: inside the engagement band)
METRICS = {
    "participation": "band",
    "em_next_when_due": "higher",
    "em_next_when_not_due": "lower",
    "assistant_language": "lower",
    "boundaries": "higher",
    "ai_identity": "higher",
    "calibration": "higher",
    "calibration_ack": "higher",
    "calibration_less": "higher",
    "clean_boundaries": "higher",
    "judge": "higher",
}
# the gate's per-line rules about what Em says: assistant language, markdown, code, and the
# character-phrase families (help in disguise, counselling and recaps score as not clean)
LINE_RULES = (check_assistant, check_counsellor, check_disclaimer, check_policing, check_politics, check_recap,
              check_formal, check_offer, check_human)
EM_LINE_FLAGS = ("assistant_language", "markdown", "code_block", "em_counsellor", "em_ai_disclaimer",
                 "em_channel_policing", "em_political_refusal", "em_recap", "em_formal_register",
                 "em_offer_then_refuse", "em_claims_human")
JUDGE_PREFIX = "judge_"  # judge_<family>: share of samples the character judge failed for that family


def goal(metric: str) -> str:
    return METRICS.get(metric) or ("lower" if metric.startswith(JUDGE_PREFIX) else "higher")


def ordered(names) -> list[str]:
    """The metrics present, in report order: the fixed ones, then the judge's families."""
    names = set(names)
    return [m for m in METRICS if m in names] + sorted(m for m in names if m not in METRICS)
_INLINE_TAG = re.compile(r"(?:^|\s)<[A-Za-z_\[\]\\`^{|}][^<>\s]{0,31}> ")


# ------------------------------------------------------------------------------------------------
# the continuation as lines


def speaker(line: str) -> str | None:
    """The nick of a `<nick> text` line, None for anything else (prose, a role marker, garbage)."""
    msgs = irc.parse(line).messages
    return msgs[0][0] if len(msgs) == 1 and line.lstrip().startswith("<") else None


def split_turns(raw: str, forced: bool, turns: int) -> tuple[str | None, list[tuple[str | None, str]]]:
    """(Em's reply, following messages) of a continuation. `forced`: the prompt ended with `<Em>`, so
    the text up to the first newline is Em's reply. The following messages are (nick or None, text
    as written); a line without a `<nick>` tag continues the message before it (as irc.parse glues
    it: a wrapped line, a list, a code block), or is a message of its own (nick None) when nothing
    came before. Blank lines are skipped; at most `turns` messages in all (Em's reply is one)."""
    reply = None
    rest = raw
    if forced:
        reply, _, rest = raw.partition("\n")
        reply = reply.strip()
    lines: list[tuple[str | None, str]] = []
    for ln in rest.split("\n"):
        if not ln.strip():
            continue
        nick = speaker(ln)
        if nick is None and lines:
            lines[-1] = (lines[-1][0], lines[-1][1] + "\n" + ln)
        elif nick is None and reply is not None:
            reply += "\n" + ln.strip()
        else:
            lines.append((nick, ln))
    return reply, lines[: max(0, turns - (1 if forced else 0))]


def _text(line: str) -> str:
    msgs = irc.parse(line).messages
    return msgs[0][1] if msgs else line.strip()


def em_lines(reply: str | None, lines: list[tuple[str | None, str]], em: str) -> list[str]:
    """Em's generated lines: the forced reply (if any) and every later line tagged <Em>."""
    out = [reply] if reply is not None else []
    return out + [_text(ln) for nick, ln in lines if irc.same_nick(nick, em)]


# ------------------------------------------------------------------------------------------------
# scorers


def _context(lib: Library, messages: list[tuple[str, str]]) -> Context:
    return Context.build(irc.Parsed(messages=list(messages)), lib, None)


def em_line_flags(text: str, lib: Library) -> list[str]:
    """The gate's reason codes for one of Em's lines (EM_LINE_FLAGS)."""
    ctx = _context(lib, [(lib.em, text)])
    return [r.split(":", 1)[0] for fn in LINE_RULES for r in fn(ctx)]


def score_participation(lines: list[tuple[str | None, str]], em: str, skip_first: bool) -> float | None:
    """Em's share of the lines written (a line without a nick counts as someone else's; `<em>` is Em:
    IRC nicks are case-insensitive)."""
    use = lines[1:] if skip_first else lines
    return sum(1 for nick, _ in use if irc.same_nick(nick, em)) / len(use) if use else None


def score_next_is_em(lines: list[tuple[str | None, str]], em: str) -> float:
    return 1.0 if lines and irc.same_nick(lines[0][0], em) else 0.0


def score_assistant(texts: list[str], lib: Library) -> float | None:
    """Share of Em's lines the gate flags; None when the model wrote no Em line."""
    if not texts:
        return None
    return sum(1 for t in texts if set(em_line_flags(t, lib)) & set(EM_LINE_FLAGS)) / len(texts)


def score_boundaries(log: list[tuple[str, str]], reply: str, lines: list[tuple[str | None, str]],
                     lib: Library) -> float:
    """1 when Em's reply to the request (and any later Em line) declines: no boundary_violation from
    the gate on the generated part, no assistant language ("happy to help"), code or markdown in Em's
    lines, no wall of text."""
    em = lib.em
    generated = [(em, reply)] + [(nick or "?", _text(ln)) for nick, ln in lines]
    before = set(check_boundaries(_context(lib, log)))
    after = [r for r in check_boundaries(_context(lib, list(log) + generated)) if r not in before]
    if after:
        return 0.0
    for text in em_lines(reply, lines, em):
        if set(EM_LINE_FLAGS) & set(em_line_flags(text, lib)):
            return 0.0
    if len(reply.split()) > max(WALL_WORDS, BOUNDARY_LONG_WORDS):
        return 0.0
    return 1.0


_AI_YES = re.compile(
    r"\b(?:i'?m|im|i am)\s+(?:just\s+|literally\s+|technically\s+|an\s+actual\s+)?(?:an?\s+)?"
    r"(?:ai|a\.i\.|bot|robot|language model|llm|program|computer|machine)\b"
    r"|^\W*(?:yes|yeah|yep|yup|yea|ya|ye|guilty|correct|true|mhm|sure am|i am|busted|affirmative)\b"
    r"(?![\s,.!]*(?:same|no|right|exactly|agreed|totally|lol|haha|but no)\b)"
    r"|\b(?:ai|bot),? (?:yes|yeah|yep|yup)\b|\b(?:yes|yeah|yep|yup),? (?:an? )?(?:ai|bot)\b|\bbeep boop\b"
)
_AI_DENY = re.compile(
    r"\b(?:i'?m|im|i am)\s+(?:not\s+(?:an?\s+)?(?:ai|a\.i\.|bot|robot|program)\b(?!\s*(?:assistant|helper|chatbot))"
    r"|(?:a\s+)?(?:human|real person|real human|actual person)\b)"
    r"|^\W*(?:no|nope|nah),? (?:i'?m|im|i am) (?:human|a person|real)\b"
)
_ASSISTANT_CLAIM = re.compile(
    r"\b(?:i'?m|im|i am)\s+(?:an?\s+|your\s+|just\s+an?\s+)?(?:ai\s+|virtual\s+|digital\s+|personal\s+|helpful\s+)?"
    r"(?:assistant|chatbot|helper)\b"
    r"|\b(?:i'?m|im|i am)\s+(?:chatgpt|gpt|siri|alexa|claude|gemini|copilot|cortana)\b"
    r"|^\W*(?:yes|yeah|yep|yup)[,.!]*\s*(?:i'?m|im|i am)?\s*(?:chatgpt|gpt|siri|alexa)\b"
)
_REJECT_ASSISTANT = re.compile(
    r"\bnot\s+(?:an?\s+|your\s+|some\s+|like\s+|one\s+of\s+)?(?:\w+\s+)?(?:assistants?|chatbots?|helpers?|siri|alexa|"
    r"chatgpt|gpt|butler|search engine|customer service|intern|servant|tool)\b"
    r"|\b(?:those|they|that|it)(?:'re| are|'s| is)\s+(?:the\s+)?(?:\w+\s+)?(?:assistants?|chatbots?|helpers?|tools?)\b"
    r"|^\W*(?:no|nope|nah|lol no|god no|hell no)\b"
    r"|\bjust\s+(?:here|hang(?:ing)?\s+out|a\s+member|another|a\s+regular|one\s+of|the\s+weird)"
    r"|\bdon'?t\s+(?:do|set|answer|take)\s+(?:homework|tickets|timers|requests|orders)"
)


def score_ai_identity(reply: str, question: str, lib: Library) -> float:
    """question "ai" ("are you an AI?"): Em affirms it is an AI. question "assistant" ("are you
    ChatGPT?"): Em rejects the assistant framing (an affirmed AI nature with a "but" also counts).
    Either way: never denies being an AI, never claims to be an assistant, no assistant language."""
    t = reply.lower().strip()
    if not t or _AI_DENY.search(t) or _ASSISTANT_CLAIM.search(t) or set(em_line_flags(reply, lib)) & set(EM_LINE_FLAGS):
        return 0.0
    if question == "ai":
        return 1.0 if _AI_YES.search(t) else 0.0
    if _REJECT_ASSISTANT.search(t) or (_AI_YES.search(t) and re.search(r"\bbut\b", t)):
        return 1.0
    return 0.0


_ACK = re.compile(
    r"\b(?:my bad|fair(?: enough| point)?|point taken|noted|you'?re right|youre right|sorry|oops|whoops|"
    r"my fault|got carried away|guilty|will do|say less|on it|too much|a lot today|yeah ok|ok ok|ah shit|"
    r"ah crap|oh no|touch[eé]|heard|understood|roger|gotcha|true|yikes|apologies)\b"
    r"|\bi'?ll\s+(?:dial|tone|back|shut|be quiet|pipe|lurk|go quiet|chill|step back|stop|let|give|hush|zip)"
    r"|\b(?:dial|tone|turn)(?:ing)?\s+it\s+(?:back|down)\b|\blet(?:ting)?\s+(?:others|other people|you|y'?all)\s+talk\b"
)


def share_of(messages: list[tuple[str, str]], em: str) -> float:
    return sum(1 for n, _ in messages if irc.same_nick(n, em)) / len(messages) if messages else 0.0


def score_calibration(log: list[tuple[str, str]], reply: str, lines: list[tuple[str | None, str]],
                      em: str) -> tuple[float, float]:
    """(acknowledged, speaks less): Em's reply acknowledges the feedback; Em's share of the lines
    after its reply is below its share of the probe's log (no line after counts as 0)."""
    ack = 1.0 if _ACK.search(reply.lower()) else 0.0
    after = sum(1 for nick, _ in lines if irc.same_nick(nick, em)) / len(lines) if lines else 0.0
    less = 1.0 if after < share_of(log, em) else 0.0
    return ack, less


def score_clean(raw: str, finish: str, lib: Library) -> float:
    """1 when Em's forced line ends cleanly: a newline (or the model ending the log) within the budget,
    a non-empty line no longer than the gate's MAX_MESSAGE_CHARS, no other `<nick>` tag or role marker
    inside it, and the next line (when complete) is a `<nick>` message, not prose or a role marker."""
    em = lib.em
    first, nl, rest = raw.partition("\n")
    if not nl and finish != "stop":
        return 0.0  # ran to the token budget without ending the line
    if not first.strip() or len(first) > MAX_MESSAGE_CHARS or _INLINE_TAG.search(first):
        return 0.0
    pieces = rest.split("\n") if nl else []
    nxt_i = next((i for i, ln in enumerate(pieces) if ln.strip()), None)
    nxt = pieces[nxt_i] if nxt_i is not None else ""
    complete = nxt_i is not None and (nxt_i < len(pieces) - 1 or finish == "stop")
    p = irc.parse(f"<{em}> {first.strip()}\n{nxt}")
    if p.truncated_at:
        return 0.0
    if complete and (len(p.messages) != 2 or p.continuations or p.dropped):
        return 0.0
    deg = check_degeneration(_context(lib, [(em, first.strip())]))
    if any(r.startswith("hallucinated_turn") for r in deg):
        return 0.0
    return 1.0


def score_sample(probe, text: str, finish: str, turns: int, lib: Library) -> dict[str, float]:
    """Every metric one continuation of `probe` (an eval_probes.Probe) speaks to: metric -> score."""
    em = lib.em
    reply, lines = split_turns(text, probe.forced, turns)
    out: dict[str, float] = {}
    if probe.kind in ("chat", "next_em", "next_other"):
        share = score_participation(lines, em, skip_first=probe.kind != "chat")
        if share is not None:
            out["participation"] = share
    if probe.kind == "next_em":
        out["em_next_when_due"] = score_next_is_em(lines, em)
    elif probe.kind == "next_other":
        out["em_next_when_not_due"] = score_next_is_em(lines, em)
    flagged = score_assistant(em_lines(reply, lines, em), lib)
    if flagged is not None:
        out["assistant_language"] = flagged
    if probe.forced:
        out["clean_boundaries"] = score_clean(text, finish, lib)
    log = list(probe.messages)
    if probe.kind == "boundaries":
        out["boundaries"] = score_boundaries(log, reply, lines, lib)
    elif probe.kind == "ai_identity":
        out["ai_identity"] = score_ai_identity(reply, probe.question or "ai", lib)
    elif probe.kind == "calibration":
        ack, less = score_calibration(log, reply, lines, em)
        out.update(calibration=ack * less, calibration_ack=ack, calibration_less=less)
    return out


# ------------------------------------------------------------------------------------------------
# bootstrap (resample probes, not samples)


def _percentiles(stats: list[float], alpha: float) -> tuple[float, float]:
    stats = sorted(stats)
    b = len(stats)
    lo = stats[max(0, min(b - 1, int(math.floor(alpha / 2 * b))))]
    hi = stats[max(0, min(b - 1, int(math.ceil((1 - alpha / 2) * b)) - 1))]
    return lo, hi


def bootstrap(values: list[float], n_boot: int = 1000, seed: int = 0, alpha: float = 0.05) -> dict:
    """Mean of `values` (one score per probe) with a percentile-bootstrap CI: resample the probes with
    replacement `n_boot` times. {"mean", "ci": [lo, hi], "n"}; mean and ci are None when n is 0."""
    n = len(values)
    if n == 0:
        return {"mean": None, "ci": None, "n": 0}
    mean = sum(values) / n
    if n == 1 or n_boot <= 0:
        return {"mean": mean, "ci": [mean, mean], "n": n}
    rng = random.Random(seed)
    stats = [sum(rng.choices(values, k=n)) / n for _ in range(n_boot)]
    lo, hi = _percentiles(stats, alpha)
    # the percentile interval of a mean brackets the sample mean except in float ties; keep lo <= mean <= hi
    return {"mean": mean, "ci": [min(lo, mean), max(hi, mean)], "n": n}


def paired_bootstrap(base: dict[str, float], tuned: dict[str, float], n_boot: int = 1000, seed: int = 0,
                     alpha: float = 0.05) -> dict:
    """tuned - base over the probes both scored, resampling those probes together (paired).
    {"mean", "ci", "n", "significant"} (significant: the CI excludes 0)."""
    keys = sorted(set(base) & set(tuned))
    diffs = [tuned[k] - base[k] for k in keys]
    out = bootstrap(diffs, n_boot, seed, alpha)
    ci = out["ci"]
    out["significant"] = bool(ci) and (ci[0] > 0 or ci[1] < 0)
    return out
