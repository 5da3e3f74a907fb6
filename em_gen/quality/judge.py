"""The character judge: an LLM reads every conversation that passed the rules and names each Em
message that slips out of character, by family (scenarios/judge.yaml, rendered into prompts/judge.md).

Rules see form; the judge sees character. It is given the job's facts (engagement, channel, message
count, Em's count) but does not judge participation counts: the rules own those exactly. Its answer
is journaled like any paid response before it is read, so `--revalidate` reuses it for free; an
answer that is not the JSON asked for is asked again once, and a conversation whose judge garbled
both answers is held as unjudged (neither kept nor rejected), never discarded.
"""
from __future__ import annotations

import hashlib
import json
import re

from em_gen.library import Library
from em_gen.providers.base import Request
from em_gen.quality.irc import Parsed

JUDGE_MARK = "EM-GEN JUDGE"  # first line of prompts/judge.md: how the stand-in recognises a judge request
JUDGE_MAX_TOKENS = 600
WHOLE_LOG_FAMILIES = ("unnatural_chat",)  # may cite any message: they are about the log as a whole
OTHER = "other"  # a family the rubric does not name
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.MULTILINE)


def judge_key(lines: list[str]) -> str:
    """Digest of a log's message lines (`<nick> text`, in order, no header): what recorded judge
    answers are keyed by (the stand-in replays them by it)."""
    return hashlib.sha256("\n".join(x.rstrip() for x in lines).encode("utf-8")).hexdigest()[:20]


def families(lib: Library) -> dict:
    return lib.judge["families"]


def reason_codes(lib: Library) -> list[str]:
    """The judge's reason codes, one per family, plus character_other for a family it invented."""
    return [f"character_{f}" for f in families(lib)] + [f"character_{OTHER}"]


def judge_system(lib: Library) -> str:
    """The static system prompt: the rubric with every family, then worked examples. Kept above the
    judge model's minimum cacheable length (4,096 tokens for claude-haiku-4-5), so every judge request
    after the first reads it from the cache."""
    rows = "\n".join(f"- {name}: {f['em_does']} | fails: \"{f['fail']}\" | passes: \"{f['pass']}\""
                     for name, f in families(lib).items())
    return lib.prompts["judge.md"].replace("{families}", rows).rstrip() + "\n\n" + lib.prompts["judge_examples.md"]


def numbered(parsed: Parsed) -> list[str]:
    return [f"{i} <{nick}> {text}" for i, (nick, text) in enumerate(parsed.messages, 1)]


def em_numbers(parsed: Parsed, em: str) -> list[int]:
    return [i for i, (nick, _) in enumerate(parsed.messages, 1) if nick == em]


def judge_user(parsed: Parsed, em: str, engagement: str | None, channel: str | None) -> str:
    ems = em_numbers(parsed, em)
    facts = (f"engagement: {engagement or parsed.engagement}\nchannel: {channel or parsed.channel}\n"
             f"messages: {len(parsed.messages)}\nem_messages: {len(ems)} (numbers {', '.join(map(str, ems))})")
    return (f"JOB\n{facts}\nEND JOB\n\nLOG\n" + "\n".join(numbered(parsed)) + "\nEND LOG\n\n"
            "Judge Em's lines in this log. Answer with the JSON object only.")


def judge_request(lib: Library, job_id: str, parsed: Parsed, engagement: str | None = None,
                  channel: str | None = None, temperature: float | None = None) -> Request:
    return Request(job_id=job_id, system=judge_system(lib), user=judge_user(parsed, lib.em, engagement, channel),
                   max_tokens=JUDGE_MAX_TOKENS, temperature=temperature, stop=[], part=-1)


def _object(raw: str) -> dict | None:
    text = _FENCE.sub("", (raw or "").strip())
    start = text.find("{")
    while start != -1:
        try:
            data, _ = json.JSONDecoder().raw_decode(text, start)
            if isinstance(data, dict):
                return data
        except ValueError:
            pass
        start = text.find("{", start + 1)
    return None


def _at_em(n, ems: set[int]) -> int | None:
    """The Em message a failure points at; a judge one off (counting from 0, or the line after the
    header) is mapped to the adjacent Em line."""
    if not isinstance(n, int) or isinstance(n, bool):
        try:
            n = int(str(n).strip().lstrip("#"))
        except ValueError:
            return None
    for k in (n, n - 1, n + 1):
        if k in ems:
            return k
    return None


def read_judgement(raw: str, lib: Library, parsed: Parsed | None = None) -> dict:
    """The judge's answer as {"readable", "ok", "reasons", "failures"}. Reasons are
    `character_<family>: message N: why`. Only Em's lines can fail (a failure cited at another
    person's line is dropped) except for whole-log families. Not the JSON asked for: readable False."""
    data = _object(raw)
    if data is None or data.get("verdict") not in ("pass", "fail") or \
            not isinstance(data.get("failures", []), list):
        return {"readable": False, "ok": False, "reasons": [], "failures": []}
    if data["verdict"] == "pass":
        return {"readable": True, "ok": True, "reasons": [], "failures": []}
    known = families(lib)
    ems = set(em_numbers(parsed, lib.em)) if parsed is not None else None
    failures, dropped = [], 0
    for f in data.get("failures") or []:
        if not isinstance(f, dict):
            continue
        fam = str(f.get("family", "")).strip().lower().replace(" ", "_").replace("character_", "")
        fam = fam if fam in known else OTHER
        n = f.get("message")
        if ems is not None and fam not in WHOLE_LOG_FAMILIES:
            n = _at_em(n, ems)
            if n is None:
                dropped += 1  # not Em's line: other people may do anything
                continue
        failures.append({"message": n, "family": fam, "why": str(f.get("why", "")).strip()[:200]})
    if not failures and dropped:
        return {"readable": True, "ok": True, "reasons": [], "failures": [],
                "note": f"{dropped} failure(s) cited at lines that are not Em's were ignored"}
    if not failures:
        failures = [{"message": None, "family": OTHER, "why": "failed without naming a message"}]
    reasons = [f"character_{f['family']}: message {f['message']}: {f['why'] or 'no reason given'}"
               if f["message"] is not None else f"character_{f['family']}: {f['why']}" for f in failures]
    return {"readable": True, "ok": False, "reasons": reasons, "failures": failures}


def stored_judgement(lib: Library, answers: list[dict], parsed) -> dict | None:
    """The latest readable stored judge answer; {"readable": False} when every one is unreadable;
    None when the judge never read the conversation."""
    if not answers:
        return None
    for rec in reversed(answers):
        got = read_judgement(rec["raw"], lib, parsed)
        if got["readable"]:
            return got
    return {"readable": False}
