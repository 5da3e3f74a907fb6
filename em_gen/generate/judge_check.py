"""`em-gen judge-check`'s paid part: ask a judge model about every log of a labelled corpus, live or
through the provider's batch API, and record the check per judge model.

Where: `$EM_GEN_CACHE_DIR`, else `$XDG_CACHE_HOME/em-gen`, else `~/.cache/em-gen`; under its
`judge-check/` one `<provider>--<model>.answers.jsonl` (every answer, appended and fsynced before it
is read, with its usage and cost; batch ids journaled before they are waited on) and one
`<provider>--<model>.json` (the latest check per rubric, and whether `--full` already suggested one).
An answer is valid for the rubric it was given (`rubric_id`): a rerun with the same rubric and model
reuses, per log, the answers of the latest run that asked about it (for free), asks again once where
that run got a single unreadable answer (a killed run), re-attaches a batch a killed run left open,
and leaves a log unjudged whose answer was unreadable twice; `fresh` asks everything again. No key
is written anywhere."""
from __future__ import annotations

import asyncio
import json
import os
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from em_gen.generate.journal import AppendFile, atomic_write, read_jsonl
from em_gen.library import Library
from em_gen.providers import Pricing, ProviderError
from em_gen.providers.base import Request
from em_gen.quality.corpus import Log
from em_gen.quality.irc import parse
from em_gen.quality.judge import judge_request, read_judgement

ASKS = 2          # an unreadable answer is asked again once, as in the gate
ATTEMPTS = 6      # per request, for retryable provider errors


def cache_dir() -> Path:
    if os.environ.get("EM_GEN_CACHE_DIR"):
        return Path(os.environ["EM_GEN_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "em-gen"


def _slug(provider: str, model: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", f"{provider}--{model}")


class CheckStore:
    """The answers journal and the check record of one judge model."""

    def __init__(self, provider: str, model: str, root: Path | None = None):
        self.provider, self.model = provider, model
        self.dir = (root or cache_dir()) / "judge-check"
        self.answers_path = self.dir / f"{_slug(provider, model)}.answers.jsonl"
        self.record_path = self.dir / f"{_slug(provider, model)}.json"
        self._out: AppendFile | None = None

    def records(self) -> list[dict]:
        return read_jsonl(self.answers_path)[0]

    def append(self, rec: dict) -> None:
        if self._out is None:
            self.dir.mkdir(parents=True, exist_ok=True)
            self._out = AppendFile(self.answers_path)
        self._out.append(rec)

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None

    def record(self) -> dict:
        try:
            data = json.loads(self.record_path.read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def save(self, data: dict) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        atomic_write(self.record_path, json.dumps(data, indent=2) + "\n")

    def save_check(self, rubric: str, summary: dict) -> None:
        data = self.record()
        data.update({"provider": self.provider, "model": self.model})
        data.setdefault("checks", {})[rubric] = summary
        self.save(data)


def suggest_once(provider: str, model: str, rubric: str, root: Path | None = None,
                 mark: bool = True) -> str | None:
    """For `--full`: a one-line suggestion to run judge-check first, when no check of this judge model
    with this rubric is recorded and none was suggested before; `mark` records that it was shown
    (--estimate shows it without marking, so the real run still says it)."""
    store = CheckStore(provider, model, root)
    data = store.record()
    if rubric in data.get("checks", {}) or rubric in data.get("suggested", []):
        return None
    if mark:
        data.setdefault("suggested", []).append(rubric)
        try:
            store.save(data)
        except OSError:
            pass  # an unwritable cache only means the suggestion may show again
    return (f"no judge-check is recorded for the judge model {model} with this rubric: run "
            f"`em-gen judge-check --judge-model {model}` first (it measures {model} on the labelled corpus "
            f"that ships with em-gen, for well under a dollar; see the README)." + (" This is shown once." if mark else ""))


@dataclass
class AskStats:
    new: int = 0          # requests answered in this run
    reused: int = 0       # logs answered by an earlier run (same rubric and model)
    cost: float = 0.0     # this run's cost
    batches: int = 0


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Asker:
    def __init__(self, lib: Library, provider, store: CheckStore, pricing: Pricing, rubric: str,
                 concurrency: int = 8, fresh: bool = False, progress=None):
        self.lib, self.provider, self.store, self.pricing, self.rubric = lib, provider, store, pricing, rubric
        self.concurrency, self.progress = concurrency, progress or (lambda msg: None)
        self.run = f"{time.time():.6f}"
        self.stats = AskStats()
        self.answers: dict[str, list[str]] = {}
        self.cost_by_key: dict[str, float] = {}  # what the answers in `answers` cost, earlier runs included
        self.batches_done: set[str] = set()
        self.open_batches: list[dict] = []
        latest: dict[str, str] = {}  # key -> the run whose answers count: the latest that asked about it
        for rec in store.records():
            if rec.get("rubric") != rubric or rec.get("model") != store.model:
                continue
            if rec.get("t") == "batch":
                self.open_batches.append(rec)
            elif rec.get("t") == "batch_done":
                self.batches_done.add(rec.get("id"))
            elif rec.get("t") == "answer" and not fresh:
                key = rec["key"]
                if latest.get(key) != rec.get("run"):
                    latest[key] = rec.get("run")
                    self.answers[key], self.cost_by_key[key] = [], 0.0
                self.answers[key].append(rec["raw"])
                self.cost_by_key[key] += rec.get("cost", 0.0)
        self.open_batches = [b for b in self.open_batches if b.get("id") not in self.batches_done]

    # ---- what is still needed -----------------------------------------------------------------
    def _readable(self, log: Log) -> bool:
        parsed = parse(log.text)
        return any(read_judgement(raw, self.lib, parsed)["readable"] for raw in self.answers.get(log.key, []))

    def needed(self, logs: list[Log]) -> list[Log]:
        """Logs with no readable answer that have had fewer than ASKS answers."""
        return [log for log in logs if not self._readable(log) and len(self.answers.get(log.key, [])) < ASKS]

    def request(self, log: Log) -> Request:
        return judge_request(self.lib, f"judge-check-{log.key}", parse(log.text))

    def _keep(self, key: str, reply, batch: bool) -> None:
        cost = self.pricing.cost(reply.usage, batch=batch)
        self.store.append({"t": "answer", "rubric": self.rubric, "model": self.store.model, "key": key,
                           "raw": reply.text, "usage": reply.usage, "cost": round(cost, 6), "batch": batch,
                           "run": self.run, "at": now_iso()})  # journaled before anything reads it
        self.answers.setdefault(key, []).append(reply.text)
        self.cost_by_key[key] = self.cost_by_key.get(key, 0.0) + cost
        self.stats.new += 1
        self.stats.cost += cost

    # ---- live ---------------------------------------------------------------------------------
    async def live(self, logs: list[Log]) -> None:
        sem = asyncio.Semaphore(self.concurrency)
        done = [0]

        async def one(log: Log) -> None:
            async with sem:
                while self.needed([log]):
                    for attempt in range(ATTEMPTS):
                        try:
                            reply = await self.provider.complete(self.request(log))
                            break
                        except ProviderError as e:
                            if not e.retryable or attempt == ATTEMPTS - 1:
                                raise
                            await asyncio.sleep(e.retry_after or min(30.0, 2.0 ** attempt))
                    self._keep(log.key, reply, batch=False)
            done[0] += 1
            if done[0] % 20 == 0:
                self.progress(f"judge-check: {done[0]}/{len(logs)} logs answered")

        await asyncio.gather(*(one(log) for log in logs))

    # ---- batch --------------------------------------------------------------------------------
    async def batch(self, logs: list[Log], poll_interval: float = 60.0) -> None:
        from em_gen.providers.batch import batch_client
        client = batch_client(self.provider)
        by_key = {log.key: log for log in logs}
        for rec in list(self.open_batches):  # a killed run's batch: wait for it instead of paying twice
            self.progress(f"judge-check: re-attaching batch {rec['id']} left open by an earlier run")
            await self._wait_and_read(client, rec["id"], poll_interval)
        self.open_batches = []
        for _ in range(ASKS):
            need = self.needed(logs)
            if not need:
                break
            items = [(f"jc-{log.key}", self.request(log)) for log in need]
            bid = await client.submit(items, f"judge-check-{self.run}")
            self.store.append({"t": "batch", "rubric": self.rubric, "model": self.store.model, "id": bid,
                               "keys": [log.key for log in need], "run": self.run, "at": now_iso()})
            self.stats.batches += 1
            self.progress(f"judge-check: batch {bid} submitted ({len(items)} requests, half price); waiting")
            await self._wait_and_read(client, bid, poll_interval, by_key)

    async def _wait_and_read(self, client, bid: str, poll_interval: float, by_key: dict | None = None) -> None:
        wait = 1.0
        while True:
            status = await client.poll(bid)
            if status.ended:
                break
            await asyncio.sleep(wait)
            wait = min(poll_interval, wait * 2)
        for item in await client.results(bid):
            if item.kind == "succeeded" and item.reply is not None and item.custom_id.startswith("jc-"):
                self._keep(item.custom_id[3:], item.reply, batch=True)
        self.store.append({"t": "batch_done", "rubric": self.rubric, "model": self.store.model, "id": bid,
                           "run": self.run, "at": now_iso()})
