"""Paid requests of the pair stage: its journal (`OUT/pairs/journal.jsonl`), live calls through the
generation runner's retries, limiter and budget, and provider batches.

Every answer is appended to the journal and fsynced before it is read; a request whose key is in the
journal is never sent again (`--resume` after kill -9 repeats nothing that was answered). With
`--batch-api` each batch's id and its custom_id -> key map are journaled before em-gen waits, and a
resumed run re-attaches to a batch it has not read yet instead of submitting its requests again.
"""
from __future__ import annotations

import asyncio
import hashlib
import time
from pathlib import Path

from em_gen.generate.journal import AppendFile, read_jsonl
from em_gen.generate.runner import FatalError, RunConfig, Runner, _Stop
from em_gen.providers import Pricing, ProviderError
from em_gen.providers.base import Request

JOURNAL = "journal.jsonl"


class PairJournal:
    """The pair stage's append-only record: replies by key, failures, provider batches."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.path = self.folder / JOURNAL
        recs, _ = read_jsonl(self.path)
        self.replies: dict[str, dict] = {}
        self.batches: dict[str, dict] = {}
        self.read: set[str] = set()
        self.failed: dict[str, str] = {}
        self.runs = 0
        for r in recs:
            self._index(r)
        self._file: AppendFile | None = None

    def _index(self, r: dict) -> None:
        t = r.get("t")
        if t == "reply":
            self.replies[r["key"]] = r
        elif t == "failed":
            self.failed[r["key"]] = r.get("error", "")
        elif t == "batch":
            self.batches[r["batch_id"]] = r
        elif t == "batch_read":
            self.read.add(r["batch_id"])
        elif t == "pairs_run":
            self.runs += 1

    def add(self, rec: dict) -> None:
        if self._file is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._file = AppendFile(self.path)
        self._file.append(rec)  # fsynced before anyone reads the answer
        self._index(rec)

    def open_batches(self) -> list[dict]:
        return [b for bid, b in self.batches.items() if bid not in self.read]

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class Caller:
    """Asks one model for answers by key: reuses the journal, journals every new answer first."""

    def __init__(self, name: str, journal: PairJournal, provider, pricing: Pricing, cfg: RunConfig,
                 batch_client=None, poll_interval: float = 60.0, first_poll: float = 0.5):
        self.name, self.journal, self.provider, self.pricing, self.cfg = name, journal, provider, pricing, cfg
        self.runner = Runner(None, None, provider, pricing, cfg)  # retries, limiter, budget; no store
        self.batch_client, self.poll_interval, self.first_poll = batch_client, poll_interval, first_poll
        self.requests = 0
        self.cost = 0.0
        self.status, self.message = "done", ""

    def _record(self, key: str, kind: str, reply, batch: bool) -> dict:
        cost = self.pricing.cost(reply.usage, batch=batch)
        rec = {"t": "reply", "key": key, "kind": kind, "raw": reply.text, "usage": reply.usage, "cost": cost,
               "model": reply.model, "caller": self.name, "batch": batch, "ts": round(time.time(), 3)}
        self.journal.add(rec)
        self.requests += 1
        self.cost += cost
        self.runner.out.cost += cost  # --max-cost counts what this stage spent
        return rec

    async def ask(self, items: list[tuple[str, str, Request]]) -> dict[str, dict]:
        """(key, kind, request) -> {key: reply record} for every key answered (now or before)."""
        todo = [it for it in items if it[0] not in self.journal.replies]
        if self.batch_client is not None:
            await self._batches(todo)
        elif todo:
            await self._live(todo)
        return {k: self.journal.replies[k] for k, _, _ in items if k in self.journal.replies}

    async def _live(self, todo) -> None:
        async def one(key, kind, req):
            try:
                reply = await self.runner.call(req, self.provider, self.pricing)
            except _Stop:
                return
            except FatalError:
                raise
            except ProviderError as e:
                self.journal.add({"t": "failed", "key": key, "error": str(e), "ts": round(time.time(), 3)})
                return
            self._record(key, kind, reply, batch=False)

        try:
            await asyncio.gather(*(one(*it) for it in todo))
        except FatalError as e:
            self.status, self.message = "fatal", str(e)
        if self.runner.stopping:
            self.status, self.message = self.runner.out.status, self.runner.out.message

    # -- provider batches ------------------------------------------------------------------------
    async def _batches(self, todo) -> None:
        kinds = {k: kind for k, kind, _ in todo}
        for b in self.journal.open_batches():  # submitted before a crash: read, never resubmitted
            if b.get("caller") == self.name:
                await self._collect(b, kinds)
        for _ in range(self.cfg.max_attempts):
            todo = [it for it in todo if it[0] not in self.journal.replies]
            if not todo or self.status != "done":
                return
            for start in range(0, len(todo), self.batch_client.max_requests):
                chunk = todo[start: start + self.batch_client.max_requests]
                ids = {f"p{hashlib.sha256(k.encode()).hexdigest()[:20]}": k for k, _, _ in chunk}
                by_id = {v: c for c, v in ids.items()}
                if self.cfg.max_cost is not None:
                    est = sum(self.pricing.cost({"input_tokens": (len(r.system) + len(r.user)) / 4,
                                                 "output_tokens": r.max_tokens}, batch=True) for _, _, r in chunk)
                    if self.runner.out.cost + est > self.cfg.max_cost:
                        self.status = "budget"
                        self.message = f"--max-cost ${self.cfg.max_cost:.2f} reached before a batch of {len(chunk)}"
                        return
                try:
                    bid = await self.batch_client.submit([(by_id[k], r) for k, _, r in chunk], f"pairs-{self.name}")
                except ProviderError as e:
                    self.status, self.message = "fatal", f"batch submit failed: {e}"
                    return
                rec = {"t": "batch", "batch_id": bid, "caller": self.name, "ids": ids, "ts": round(time.time(), 3)}
                self.journal.add(rec)  # journaled before waiting: a crash re-attaches to it
                await self._collect(rec, kinds)

    async def _collect(self, b: dict, kinds: dict) -> None:
        wait = self.first_poll
        while True:
            st = await self.batch_client.poll(b["batch_id"])
            if st.ended:
                break
            await asyncio.sleep(wait)
            wait = min(self.poll_interval, wait * 2)
        for item in await self.batch_client.results(b["batch_id"]):
            key = b["ids"].get(item.custom_id)
            if key is None or key in self.journal.replies:
                continue
            if item.kind == "succeeded" and item.reply is not None:
                self._record(key, kinds.get(key, key.split(":", 1)[0]), item.reply, batch=True)
            else:
                self.journal.add({"t": "failed", "key": key, "error": item.error or item.kind,
                                  "ts": round(time.time(), 3)})
        self.journal.add({"t": "batch_read", "batch_id": b["batch_id"], "ts": round(time.time(), 3)})

    async def aclose(self) -> None:
        await self.provider.aclose()
