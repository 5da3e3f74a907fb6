"""Reading em-gen's prompts the way a model would: the JOB block, a continuation request, the header;
plus the seeded randomness the composer and the judge stand-in share."""
from __future__ import annotations

import functools
import hashlib
import random
import re
from dataclasses import dataclass, field

from em_gen.library import SCENARIOS_DIR, load_yaml
from em_gen.quality.judge import JUDGE_MARK  # noqa: F401 (the stand-in's modules read it here)

PREMISES_MARK = "EM-GEN PREMISES"  # first line of prompts/premises.md (em-gen premises --expand)

_SLOT = re.compile(r"\{(\w+)\}")
_JOB = re.compile(r"^JOB[ \t]*\n(.*?)^END JOB", re.M | re.S)
_CONT = re.compile(r"after (\d+) of (\d+) messages \((\d+) of (\d+) from [^)]*\)")
_REMAIN = re.compile(r"remaining (\d+) messages?, (\d+) of them from")
_HEADER = re.compile(r"^ENGAGEMENT:[ \t]*(\S+)[ \t]*\nCHANNEL:[ \t]*(\S+)[ \t]*(?:\n|$)", re.M)
_START_FROM = re.compile(r"\(start from:\s*(.*?)\)\s*$")
_CAST_LINE = re.compile(r"^\s*[-*]\s*<?([^\s:<>]+)>?\s*(?::\s*(.*))?$")
_CHANNEL = re.compile(r"^(\S+)")
_NORM = re.compile(r"[^a-z0-9 ]+")
LONG = 30  # logs with more messages than this use more of the data lines

USER_MOVES = {"opinion": 3.0, "anecdote": 2.5, "question": 2.0, "reaction": 2.0, "agree": 1.0, "disagree": 1.0, "tangent": 0.8}
SECOND = {"user": ["opinion", "question", "anecdote"], "em": ["opinion", "question"]}
EM_MOVES = {"opinion": 4.0, "reaction": 2.0, "question": 1.5, "disagree": 1.0, "agree": 1.0, "tangent": 0.5}



def seed_of(text: str, salt: str = "") -> int:
    """A stable 64-bit seed from text (never Python's randomised hash())."""
    return int.from_bytes(hashlib.sha256((salt + text).encode("utf-8", "replace")).digest()[:8], "big")


@functools.lru_cache(maxsize=1)
def load_grammar() -> dict:
    """scenarios/grammar.yaml, validated (read once per process; treat it as read-only)."""
    return load_yaml(SCENARIOS_DIR / "grammar.yaml", "grammar")


def norm(text: str) -> str:
    return " ".join(_NORM.sub(" ", text.lower()).split())


@dataclass
class Job:
    engagement: str = "MEDIUM"
    channel: str = "#general"
    topic_id: str = ""
    subject: str = ""
    scenario_id: str = "none"
    messages: int = 14
    em_messages: int = 2
    nicks: list = field(default_factory=list)
    topic_name: str = ""  # the JOB block names the topic and the scenario; the composer maps them to ids
    scenario_name: str = ""
    premise: str = ""
    voices: dict = field(default_factory=dict)  # nick -> voice


@dataclass
class Continuation:
    have: int
    messages: int
    em_have: int
    em_messages: int
    remaining: int
    em_remaining: int
    log: str
    voices: dict = field(default_factory=dict)  # nick -> voice, from the cast lines before the log


def _int(value, default: int) -> int:
    try:
        return max(0, int(str(value).strip()))
    except (TypeError, ValueError):
        return default


def parse_job(text: str) -> Job | None:
    """The last JOB block's `key: value` lines, or None when the text has no JOB block."""
    blocks = _JOB.findall(text)
    if not blocks:
        return None
    kv, cast, in_cast = {}, [], False
    for line in blocks[-1].splitlines():
        m = _CAST_LINE.match(line) if in_cast else None
        if m:
            cast.append((m.group(1).strip("@"), (m.group(2) or "").strip()))
            continue
        key, sep, value = line.partition(":")
        if sep:
            kv[key.strip().lower()] = value.strip()
            in_cast = key.strip().lower() == "cast"
    job = Job()
    job.engagement = kv.get("engagement") or job.engagement
    ch = _CHANNEL.match(kv.get("channel", ""))
    job.channel = ch.group(1) if ch else job.channel
    job.topic_id = kv.get("topic_id", "")
    topic = kv.get("topic", "")
    m = _START_FROM.search(topic)
    job.subject = m.group(1).strip() if m else ""
    job.topic_name = _START_FROM.sub("", topic).strip()
    job.premise = kv.get("premise", "")
    job.scenario_id = kv.get("scenario_id") or "none"
    job.scenario_name = kv.get("scenario", "")
    job.messages = max(1, _int(kv.get("messages"), job.messages))
    job.em_messages = min(job.messages, _int(kv.get("em_messages"), job.em_messages))
    if cast:
        job.nicks = [n for n, _ in cast]
        job.voices = {n: v for n, v in cast if v}
    else:
        job.nicks = [n.strip().strip("<>@") for n in kv.get("nicks", "").split(",") if n.strip()]
    return job


def parse_continuation(text: str) -> Continuation | None:
    """prompts/continue.md filled in: the counts and the log so far (the last such prompt wins)."""
    found = list(_CONT.finditer(text))
    if not found:
        return None
    m = found[-1]
    have, total, em_have, em_total = (int(g) for g in m.groups())
    r = _REMAIN.search(text, m.end())
    remaining, em_remaining = (int(r.group(1)), int(r.group(2))) if r else (total - have, em_total - em_have)
    head = _HEADER.search(text, r.end() if r else m.end())
    start = text.find("\n\n", r.end() if r else m.end())
    log = text[head.start():] if head else (text[start + 2:] if start >= 0 else "")
    between = text[r.end() if r else m.end(): head.start() if head else len(text)]
    voices = {c.group(1): c.group(2).strip() for c in map(_CAST_LINE.match, between.splitlines()) if c and c.group(2)}
    return Continuation(have, total, em_have, em_total, max(0, remaining), max(0, em_remaining), log, voices)


def spread(n: int, k: int, rng: random.Random, start: int = 1, early: bool = False) -> list[int]:
    """k positions in range(start, n), no two adjacent when that is possible, spread out with jitter."""
    k = min(max(k, 0), n)
    if k == 0:
        return []
    if 2 * k - 1 > n - start and start > 0 and 2 * k - 1 <= n:
        start = 0
    span = n - start
    if 2 * k - 1 > span:  # cannot avoid adjacency: as spread as it gets
        return sorted(rng.sample(range(n), k))
    slack = span - (2 * k - 1)
    weights = [rng.uniform(0.5, 1.5) for _ in range(k + 1)]
    if early:
        weights[0] = rng.uniform(0.0, 0.15)
    total = sum(weights)
    gaps = [int(slack * w / total) for w in weights]
    for _ in range(slack - sum(gaps)):
        gaps[rng.randrange(k + 1)] += 1
    pos, p = [], start + gaps[0]
    for i in range(k):
        pos.append(p)
        p += 2 + gaps[i + 1]
    return pos
