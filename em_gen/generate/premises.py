"""`em-gen premises --expand N [--topic T]`: more premises from the provider's cheap model.

The request (prompts/premises.md) asks for a few dozen premises of one topic and shows a sample of the
library's own so the model writes nothing close to them. N is spread over the topics by the mix's
weights (or all of it to --topic), in requests of --per-request premises each, asking a quarter
more than needed since some are dropped. Every answer is journaled (fsynced) in
`OUT/premises_journal.jsonl` before it is read; a request that has an answer is never sent again,
so a killed run continues with --resume. The answers are cleaned, checked as the library checks
its files (length, never about Em), and deduplicated: against the whole library and against each
other, a premise whose word-3-gram Jaccard similarity to another reaches 0.5 is dropped. A topic
still short after a round is asked again (at most --rounds rounds). What is kept is written to
`SCENARIOS/premises/expanded/<topic>-<stamp>.yaml`, a reviewable data file the library loads.
"""
from __future__ import annotations

import asyncio
import math
import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from em_gen.generate.journal import AppendFile, read_jsonl
from em_gen.generate.plan import apportion
from em_gen.library import PREMISES_DIR, BadInput, Library, _mentions
from em_gen.providers.base import ProviderError, Request
from em_gen.quality.similar import jaccard, shingles

JOURNAL = "premises_journal.jsonl"
NEAR = 0.5
EXAMPLES = 25
_AI = re.compile(r"\bAI\b|\b(?:[Cc]hat ?bots?|[Ll]anguage models?)\b")  # "AI" in capitals only ("said" is fine)
_ITEM = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s+(.*\S)\s*$")


@dataclass
class Expansion:
    stamp: str
    n: int
    topic: str | None
    per_request: int
    model: str
    provider: str
    rounds: int = 3
    answers: dict = field(default_factory=dict)  # request id -> answer record
    written: list = field(default_factory=list)


def targets(lib: Library, n: int, topic: str | None) -> dict[str, int]:
    if topic:
        if topic not in lib.topics:
            raise BadInput(f"--topic: unknown topic {topic!r} (choose from {', '.join(lib.topics)})")
        return {topic: n}
    return {t: c for t, c in apportion(n, {t: v["weight"] for t, v in lib.topics.items()}).items() if c}


def requests_for(lib: Library, exp: Expansion, rnd: int, owed: dict[str, int]) -> list[tuple[str, str, int]]:
    """(request id, topic, how many to ask) for one round: a quarter more than still owed."""
    out = []
    for t, need in owed.items():
        ask = math.ceil(need * 1.25) + (2 if rnd > 1 else 0)
        k = math.ceil(ask / max(1, math.ceil(ask / exp.per_request)))
        for i in range(math.ceil(ask / k)):
            out.append((f"{exp.stamp}-r{rnd}-{t}-{i:03d}", t, min(k, ask - i * k)))
    return out


def build_request(lib: Library, rid: str, topic: str, k: int) -> Request:
    t = lib.topics[topic]
    rng = random.Random(rid)
    pool = list(lib.premises[topic])
    sample = rng.sample(pool, min(EXAMPLES, len(pool)))
    note = (f" (it is discussed only in {', '.join(t['channels'])}, where politics is on topic)"
            if t.get("channels") else "")
    tpl = lib.prompts.get("premises.md")
    if tpl is None:
        raise BadInput("prompts/premises.md: prompt template not found")
    user = tpl.format(count=k, topic_name=t["name"], channel_note=note,
                      examples="\n".join(f"- {p}" for p in sample))
    return Request(job_id=rid, system="", user=user, max_tokens=max(512, 90 * k), temperature=1.0, stop=[])


def parse_answer(raw: str) -> list[str]:
    """The premises of an answer: its `- ` (or numbered) lines, quotes and a final period dropped."""
    out = []
    for line in raw.splitlines():
        m = _ITEM.match(line)
        if m:
            text = " ".join(m.group(1).strip().strip('"\u201c\u201d').split()).rstrip(".")
            if text:
                out.append(text)
    return out


def dedupe(lib: Library, candidates: list[tuple[str, str]], kept: dict[str, list[str]] | None = None):
    """Split (topic, premise) candidates into kept (topic -> premises) and dropped (premise, reason)."""
    names_em = _mentions(lib.em)
    kept = {t: list(v) for t, v in (kept or {}).items()}
    index: dict[tuple, list[int]] = {}
    texts: list[str] = []
    sets: list[frozenset] = []

    def add(text: str) -> None:
        s = shingles(text)
        texts.append(text)
        sets.append(s)
        for g in s:
            index.setdefault(g, []).append(len(texts) - 1)

    for ps in lib.premises.values():
        for p in ps:
            add(p)
    for ps in kept.values():
        for p in ps:
            add(p)
    seen = {x.lower() for x in texts}
    dropped = []
    for topic, text in candidates:
        if not 20 <= len(text) <= 400:
            dropped.append((text, "length"))
            continue
        if names_em.search(text) or _AI.search(text):
            dropped.append((text, f"about {lib.em} or an AI"))
            continue
        if text.lower() in seen:
            dropped.append((text, "already in the library"))
            continue
        s = shingles(text)
        shared: dict[int, int] = {}
        for g in s:
            for i in index.get(g, ()):
                shared[i] = shared.get(i, 0) + 1
        near = max(((jaccard(s, sets[i]), i) for i, c in shared.items() if c >= NEAR * max(len(s), len(sets[i]))),
                   default=(0.0, -1))
        if near[0] >= NEAR:
            dropped.append((text, f"near-duplicate ({near[0]:.2f}) of {texts[near[1]]!r}"))
            continue
        seen.add(text.lower())
        add(text)
        kept.setdefault(topic, []).append(text)
    return kept, dropped


class Journal:
    def __init__(self, out: Path):
        self.path = Path(out) / JOURNAL
        self.records, _ = read_jsonl(self.path)
        self.file: AppendFile | None = None

    def append(self, rec: dict) -> None:
        if self.file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.file = AppendFile(self.path)
        self.file.append(rec)
        self.records.append(rec)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()

    def last(self) -> dict | None:
        starts = [r for r in self.records if r.get("t") == "expand"]
        return starts[-1] if starts else None

    def answers(self, stamp: str) -> dict[str, dict]:
        return {r["id"]: r for r in self.records if r.get("t") == "premises_answer" and r.get("stamp") == stamp}

    def finished(self, stamp: str) -> bool:
        return any(r.get("t") == "premises_written" and r.get("stamp") == stamp for r in self.records)

    def open_batches(self, stamp: str) -> list[dict]:
        ended = {r["batch_id"] for r in self.records if r.get("t") == "premises_batch_end"}
        return [r for r in self.records if r.get("t") == "premises_batch" and r.get("stamp") == stamp
                and r["batch_id"] not in ended]


def start(journal: Journal, lib: Library, n: int, topic: str | None, per_request: int, provider: str, model: str,
          rounds: int, resume: bool, force: bool) -> Expansion:
    """A new expansion, or (--resume) the last unfinished one."""
    last = journal.last()
    if resume:
        if last is None or journal.finished(last["stamp"]):
            raise BadInput(f"--resume: no unfinished premises expansion in {journal.path}")
        exp = Expansion(last["stamp"], last["n"], last.get("topic"), last["per_request"], last["model"],
                        last["provider"], last.get("rounds", 3))
        if (exp.provider, exp.model) != (provider, model) and not force:
            raise BadInput(f"--resume: the expansion {exp.stamp} ran on {exp.provider}/{exp.model}, not "
                           f"{provider}/{model}; use --force to continue it with these")
        exp.answers = journal.answers(exp.stamp)
        return exp
    if last is not None and not journal.finished(last["stamp"]) and not force:
        raise BadInput(f"premises --expand: {journal.path} holds an unfinished expansion ({last['stamp']}); "
                       "continue it with --resume, or start another with --force")
    targets(lib, n, topic)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    exp = Expansion(stamp, n, topic, per_request, model, provider, rounds)
    journal.append({"t": "expand", "stamp": stamp, "n": n, "topic": topic, "per_request": per_request,
                    "model": model, "provider": provider, "rounds": rounds, "ts": round(time.time(), 3)})
    return exp


async def _live(provider, reqs: list[Request], journal: Journal, exp: Expansion, pricing, concurrency: int,
                attempts: int) -> None:
    sem = asyncio.Semaphore(concurrency)

    async def one(req: Request) -> None:
        async with sem:
            for attempt in range(attempts):
                try:
                    reply = await provider.complete(req)
                    break
                except ProviderError as e:
                    if not e.retryable or attempt == attempts - 1:
                        raise
                    await asyncio.sleep(e.retry_after or min(30.0, 0.5 * 2 ** attempt))
            rec = {"t": "premises_answer", "stamp": exp.stamp, "id": req.job_id, "raw": reply.text,
                   "usage": reply.usage, "cost": round(pricing.cost(reply.usage), 6), "model": reply.model,
                   "ts": round(time.time(), 3)}
            journal.append(rec)  # journaled before anything reads it
            exp.answers[req.job_id] = rec

    await asyncio.gather(*(one(r) for r in reqs))


async def _batched(client, reqs: list[Request], journal: Journal, exp: Expansion, pricing, poll: float) -> None:
    for b in journal.open_batches(exp.stamp):  # --resume: re-attach before sending anything new
        await _collect(client, b["batch_id"], journal, exp, pricing, poll)
    todo = [r for r in reqs if r.job_id not in exp.answers]
    if todo:
        batch_id = await client.submit([(r.job_id, r) for r in todo], exp.stamp)
        journal.append({"t": "premises_batch", "stamp": exp.stamp, "batch_id": batch_id,
                        "ids": [r.job_id for r in todo], "ts": round(time.time(), 3)})
        await _collect(client, batch_id, journal, exp, pricing, poll)


async def _collect(client, batch_id: str, journal: Journal, exp: Expansion, pricing, poll: float) -> None:
    while not (await client.poll(batch_id)).ended:
        await asyncio.sleep(poll)
    for item in await client.results(batch_id):
        if item.kind == "succeeded" and item.custom_id not in exp.answers:
            rec = {"t": "premises_answer", "stamp": exp.stamp, "id": item.custom_id, "raw": item.reply.text,
                   "usage": item.reply.usage, "cost": round(pricing.cost(item.reply.usage, batch=True), 6),
                   "model": item.reply.model, "batch": batch_id, "ts": round(time.time(), 3)}
            journal.append(rec)
            exp.answers[item.custom_id] = rec
    journal.append({"t": "premises_batch_end", "stamp": exp.stamp, "batch_id": batch_id, "ts": round(time.time(), 3)})


def run(lib: Library, exp: Expansion, journal: Journal, provider, pricing, scenarios_dir: Path, *,
        batch_client=None, poll: float = 60.0, concurrency: int = 4, attempts: int = 4) -> dict:
    """Every round to its end (one event loop: the SDK clients live in it), then the files."""
    return asyncio.run(_run(lib, exp, journal, provider, pricing, scenarios_dir, batch_client, poll,
                            concurrency, attempts))


async def _run(lib, exp, journal, provider, pricing, scenarios_dir, batch_client, poll, concurrency, attempts) -> dict:
    goal = targets(lib, exp.n, exp.topic)
    kept: dict[str, list[str]] = {}
    dropped: list = []
    asked = 0
    try:
        for rnd in range(1, exp.rounds + 1):
            owed = {t: g - len(kept.get(t, [])) for t, g in goal.items() if g > len(kept.get(t, []))}
            if not owed:
                break
            plan = requests_for(lib, exp, rnd, owed)
            reqs = [build_request(lib, rid, t, k) for rid, t, k in plan]
            if batch_client is not None or journal.open_batches(exp.stamp):
                batch_client = batch_client or _batch_client(provider)
                await _batched(batch_client, reqs, journal, exp, pricing, poll)
            else:
                todo = [r for r in reqs if r.job_id not in exp.answers]
                if todo:
                    await _live(provider, todo, journal, exp, pricing, concurrency, attempts)
            asked += sum(k for _, _, k in plan)
            cands = [(t, p) for rid, t, _ in plan if rid in exp.answers for p in parse_answer(exp.answers[rid]["raw"])]
            round_kept, round_dropped = dedupe(lib, cands, kept)
            for t in round_kept:  # never more than asked for
                round_kept[t] = round_kept[t][: goal[t]]
            kept = round_kept
            dropped += round_dropped
    finally:
        await provider.aclose()
    files = write_files(scenarios_dir, exp, kept)
    cost = sum(a.get("cost", 0.0) for a in exp.answers.values())
    journal.append({"t": "premises_written", "stamp": exp.stamp, "files": [str(f) for f in files],
                    "kept": {t: len(v) for t, v in kept.items()}, "dropped": len(dropped), "ts": round(time.time(), 3)})
    return {"stamp": exp.stamp, "goal": goal, "kept": {t: len(v) for t, v in kept.items()}, "files": files,
            "dropped": dropped, "asked": asked, "requests": len(exp.answers), "cost": cost}


def _batch_client(provider):
    """--resume of an expansion whose batches are still open: re-attach, never send them again."""
    from em_gen.providers.batch import batch_client
    return batch_client(provider)


def write_files(scenarios_dir: Path, exp: Expansion, kept: dict[str, list[str]]) -> list[Path]:
    out = []
    folder = Path(scenarios_dir) / PREMISES_DIR / "expanded"
    for topic, ps in kept.items():
        if not ps:
            continue
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{topic}-{exp.stamp}.yaml"
        head = (f"# Written by `em-gen premises --expand` ({exp.provider}/{exp.model}, {exp.stamp}): review, edit or\n"
                f"# delete lines freely; the library loads every file under premises/.\n")
        body = yaml.safe_dump({"topic": topic, "source": f"em-gen premises --expand, {exp.provider}/{exp.model}, "
                               f"{exp.stamp}", "premises": ps}, sort_keys=False, allow_unicode=True, width=1000)
        tmp = path.with_suffix(".yaml.tmp")
        tmp.write_text(head + body, encoding="utf-8")
        tmp.replace(path)
        out.append(path)
    return out
