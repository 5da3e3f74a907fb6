"""Paid responses of one job -> the verdict record the journal keeps.

The one place where raw text becomes a judged conversation, used by the live runner, by `--resume`
(responses journaled before a crash) and by `--revalidate` (re-judging everything for free).
"""
from __future__ import annotations

from em_gen.library import Library
from em_gen.quality.irc import Parsed, parse
from em_gen.quality.rules import Diversity, Expect, check


def assemble(lib: Library, parts: list[dict], job=None) -> Parsed:
    """Join a response and its continuations. A part cut by the token limit loses its last,
    possibly half-written, message before the next part is appended. With the `job`, the header is
    filled or normalised from it (see header_from_job)."""
    parsed = parse(parts[0]["raw"])
    for prev, part in zip(parts, parts[1:]):
        if prev.get("stop_reason") == "max_tokens" and parsed.messages:
            parsed.messages.pop()
        more = parse(part["raw"])
        parsed.messages.extend(more.messages)
        parsed.dropped.extend(more.dropped)
        parsed.continuations += more.continuations
        parsed.truncated_at = parsed.truncated_at or more.truncated_at
    return parsed if job is None else header_from_job(parsed, job)


def header_from_job(parsed: Parsed, job) -> Parsed:
    """A paid log's header. em-gen knows the job's engagement and channel and writes the canonical
    header itself, so a header line that is missing, in bold, in another case or in the other order
    is filled or normalised from the job. A value that contradicts the job is kept as written, and
    `header_mismatch` rejects it. (`--validate` of a training file keeps the strict header rule.)"""
    if parsed.engagement is None:
        parsed.engagement = job.engagement
    if parsed.channel is None or "#" + parsed.channel == job.channel:
        parsed.channel = job.channel
    parsed.header_raw = [f"ENGAGEMENT: {parsed.engagement}", f"CHANNEL: {parsed.channel}"]
    return parsed


def needs_continuation(parts: list[dict], max_parts: int) -> bool:
    """A log cut by the token limit is continued (up to max_parts requests), never kept truncated."""
    return parts[-1].get("stop_reason") == "max_tokens" and len(parts) < max_parts


def rules(lib: Library, job, parts: list[dict]):
    """The rule-based checks of a job's responses: (parsed conversation, check verdict, reasons)."""
    parsed = assemble(lib, parts, job)
    expect = Expect(engagement=job.engagement, channel=job.channel, bucket=job.bucket,
                    messages=job.messages, em_messages=job.em_messages)
    v = check(parsed, lib, expect)
    reasons = list(v.reasons)
    if parts[-1].get("stop_reason") == "max_tokens":
        reasons.append(f"cut_by_max_tokens: the response hit the token limit after {len(parsed.messages)} "
                       f"of {job.messages} messages")
    return parsed, v, reasons


def judge(lib: Library, job, parts: list[dict], diversity: Diversity | None, provider: str,
          model: str, source: str = "live", llm: dict | None = None, ruled: tuple | None = None) -> dict:
    """The verdict record. `llm` is the optional LLM judge's reading (judge.read_judgement); `ruled`
    is what `rules()` already returned for these parts, so the rules run once per conversation."""
    parsed, v, reasons = ruled if ruled is not None else rules(lib, job, parts)
    reasons = list(reasons)
    text = parsed.text()
    if not reasons and llm is not None:
        reasons.extend(llm["reasons"])
    if not reasons and diversity is not None:
        dup = diversity.near_duplicate(text)
        if dup:
            reasons.append(f"near_duplicate: too similar to kept conversation {dup}")
    ok = not reasons
    sketch = None
    if ok and diversity is not None:
        sketch = diversity.sketch(text)
        diversity.add(job.id, text)
    meta = {"job_id": job.id, "pattern": job.pattern, "scenario": job.scenario, "topic": job.topic,
            "bucket": job.bucket, "engagement": job.engagement, "channel": job.channel,
            "model": model, "provider": provider}
    rec = {"t": "verdict", "job_id": job.id, "ok": ok, "reasons": reasons, "meta": meta,
           "stats": v.stats, "source": source}
    if llm is not None:
        rec["judge"] = llm
    if ok:
        rec["text"] = text
        rec["bytes"] = len(text.encode("utf-8"))
        if sketch is not None:
            rec["sketch"] = sketch
    return rec
