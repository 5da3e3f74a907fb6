"""`--batch-api`: the run's requests as provider batches (Anthropic Message Batches, OpenAI Batch),
billed at half price, in rounds: submit, wait, read the results, submit the follow-ups
(continuations of logs cut by the token limit, judge requests for logs that passed the rules,
replacements of rejected jobs) as the next round.

Never lose or repeat paid work:
- a batch's id and the mapping of each custom_id to its job and slot (`p<part>` for a generation
  request, `j<ask>` for a judge request) are journaled and fsynced before em-gen waits on it;
- `--resume` re-attaches to the batches still open and reads the ones that ended; a request in an
  open batch, or one whose result is journaled, is never submitted again;
- results are journaled (as the same `response` / `judge` records a live run writes) before they
  are read; errored, expired and canceled requests go back into the next round, and after
  `max_attempts` such rounds the job is recorded as failed with the provider's reason;
- Ctrl-C stops waiting and leaves the batches running at the provider (paid work in progress).

Credit protection: the first round of a run is a smoke batch of at most `smoke` jobs, carried to
their verdicts; the quality monitor reads them before anything else is submitted.
"""
from __future__ import annotations

import asyncio
import os
import time

from tqdm import tqdm

from em_gen.generate.plan import Job
from em_gen.generate.prompting import build_request, continuation_request
from em_gen.generate.runner import Outcome, Runner
from em_gen.providers import ProviderError
from em_gen.providers.batch import BatchClient
from em_gen.quality.judge import judge_request, stored_judgement
from em_gen.quality.verdict import assemble, judge, needs_continuation, rules

SMOKE_JOBS = 50


class BatchRunner:
    def __init__(self, runner: Runner, gen: BatchClient, judge_client: BatchClient | None = None,
                 smoke: int = SMOKE_JOBS, poll_interval: float = 60.0, first_poll: float = 2.0):
        self.r = runner  # the live runner's state: store, cfg, pricing, verdicts, replacements, outcome
        self.lib, self.store, self.cfg = runner.lib, runner.store, runner.cfg
        self.gen, self.judge = gen, judge_client or gen
        self.smoke, self.poll_interval, self.first_poll = smoke, poll_interval, first_poll
        self.asked: dict[str, int] = {}  # judge requests asked this session, by job
        self.failed: set[str] = set()
        self.rounds = self.submitted = self.batches = 0
        self.bar = None
        self.errors_before = dict(runner.store.state.batch_errors)  # each session gets max_attempts rounds

    @property
    def out(self) -> Outcome:
        return self.r.out

    def request_stop(self, status: str, message: str = "") -> None:
        self.r.request_stop(status, message)

    # -- what a job needs next -------------------------------------------------------------------
    def next_request(self, job: Job, flying: set) -> tuple[str, object, BatchClient] | None:
        """(slot, request, client) for the job's next paid step, or None when it has none (a verdict
        is written here when no request is needed)."""
        st = self.store.state
        if job.id in st.verdicts or job.id in self.failed:
            return None
        parts = st.responses.get(job.id, [])
        if not parts or needs_continuation(parts, self.cfg.max_parts):
            slot = f"p{len(parts)}"
            if (job.id, slot) in flying or self._exhausted(job, slot):
                return None
            first = build_request(self.lib, job, self.cfg.temperature, self.cfg.max_tokens)
            if not parts:
                return slot, first, self.gen
            msgs = assemble(self.lib, parts).messages
            if parts[-1].get("stop_reason") == "max_tokens" and msgs:
                msgs = msgs[:-1]
            return slot, continuation_request(self.lib, job, first, msgs, part=len(parts),
                                               max_tokens=self.cfg.max_tokens), self.gen
        ruled = rules(self.lib, job, parts)
        parsed, _, reasons = ruled
        llm = None
        if self.cfg.judge and not reasons:
            llm = stored_judgement(self.lib, st.judgements.get(job.id, []), parsed)
            if llm is None or not llm["readable"]:
                if self.asked.get(job.id, 0) >= 2:
                    self._hold(job)
                    return None
                slot = f"j{len(st.judgements.get(job.id, [])) + 1}"
                if (job.id, slot) in flying or self._exhausted(job, slot):
                    return None
                req = judge_request(self.lib, job.id, parsed, job.engagement, job.channel, self.cfg.temperature)
                return slot, req, self.judge
        verdict = judge(self.lib, job, parts, self.r.diversity, self.r.provider.name, parts[-1].get("model", ""),
                        llm=llm, ruled=ruled)
        self.store.write_verdict(verdict)
        self.r._count(job, verdict)
        return None

    def _hold(self, job: Job) -> None:
        if job.id not in self.out.held_ids:  # once per session
            self.store.record({"t": "held", "job_id": job.id, "ts": round(time.time(), 3),
                               "reason": "the judge's answer was not the JSON asked for, twice"})
            self.out.held += 1
            self.out.held_ids.append(job.id)

    def _exhausted(self, job: Job, slot: str) -> bool:
        n = self.store.state.batch_errors.get((job.id, slot), 0)
        if n - self.errors_before.get((job.id, slot), 0) < self.cfg.max_attempts:
            return False
        last = self.store.state.batch_last_error.get((job.id, slot), {})
        self.store.record({"t": "failed", "job": job.to_dict(), "ts": round(time.time(), 3),
                           "error": f"batch request {slot} {last.get('kind', 'errored')} {n} times: "
                                    f"{last.get('error', '')}"})
        self.failed.add(job.id)
        self.out.failed += 1
        return True

    # -- one round -------------------------------------------------------------------------------
    def plan_round(self, jobs: list[Job]) -> list[tuple[str, Job, str, object, BatchClient]]:
        flying = self.store.state.in_flight()
        items = []
        for job in jobs:
            nxt = self.next_request(job, flying)
            if nxt is not None:
                slot, req, client = nxt
                attempt = self.store.state.batch_errors.get((job.id, slot), 0) + 1
                items.append((f"{job.id}__{slot}__a{attempt}", job, slot, req, client))
        return items

    def _fit_budget(self, items: list) -> list:
        if self.cfg.max_cost is None:
            return items
        room, keep = self.cfg.max_cost - self.out.cost, []
        for it in items:
            pricing = self.r.judge_pricing if it[4] is self.judge and self.judge is not self.gen else self.r.pricing
            est = self.r._estimate(it[3], pricing)[1] * pricing.batch
            if est > room:
                break
            room -= est
            keep.append(it)
        if len(keep) < len(items):
            self.request_stop("budget", f"--max-cost ${self.cfg.max_cost:.2f}: the next round's "
                                        f"{len(items) - len(keep)} request(s) could exceed it "
                                        f"(spent ${self.out.cost:.4f}); --resume continues later")
        return keep

    async def submit(self, items: list) -> None:
        for client in {id(it[4]): it[4] for it in items}.values():
            mine = [it for it in items if it[4] is client]
            chunk, size = [], 0
            for it in mine + [None]:
                s = client.size_of(it[0], it[3]) if it else 0
                if it is None or len(chunk) >= client.max_requests or size + s > client.max_bytes:
                    if chunk:
                        await self._submit_one(client, chunk)
                    chunk, size = [], 0
                if it is not None:
                    chunk.append(it)
                    size += s

    async def _submit_one(self, client: BatchClient, chunk: list) -> None:
        token = os.urandom(6).hex()
        batch_id = await client.submit([(cid, req) for cid, _, _, req, _ in chunk], token)
        role = "judge" if client is self.judge and self.judge is not self.gen else "gen"
        self.store.record({"t": "batch", "batch_id": batch_id, "provider": client.name, "model": client.model,
                           "role": "judge" if all(s.startswith("j") for _, _, s, _, _ in chunk) else role,
                           "token": token, "ts": round(time.time(), 3),
                           "requests": {cid: {"job": job.to_dict(), "slot": slot} for cid, job, slot, _, _ in chunk}})
        self.batches += 1
        self.out.batches += 1
        self.submitted += len(chunk)
        self.out.requests += len(chunk)

    # -- waiting and reading -----------------------------------------------------------------------
    def _client(self, rec: dict) -> BatchClient:
        return self.judge if rec.get("role") == "judge" and rec.get("model") == self.judge.model else self.gen

    @property
    def _abandon(self) -> bool:
        """Ctrl-C (or a fatal error) stops waiting: the batches keep running at the provider. A budget
        or quality stop still waits for what was submitted: it is paid for."""
        return self.r.stopping in ("interrupted", "fatal")

    async def wait_open(self) -> None:
        """Poll every open batch (backing off up to poll_interval) and read each one that ends."""
        delay, started = min(self.first_poll, self.poll_interval), time.monotonic()
        while self.store.state.open_batches() and not self._abandon:
            counts = {}
            for rec in list(self.store.state.open_batches()):
                status = await self._client(rec).poll(rec["batch_id"])
                counts[rec["batch_id"]] = status.counts
                if status.ended:
                    await self.read(rec)
            self._show(counts, started)
            if not self.store.state.open_batches() or self._abandon:
                break
            await self._sleep(delay)
            delay = min(self.poll_interval, delay * 1.5)

    async def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end and not self._abandon:
            await asyncio.sleep(min(0.2, end - time.monotonic()))

    async def read(self, rec: dict) -> None:
        """Journal every result of an ended batch (before it is read), then mark the batch read."""
        client, st = self._client(rec), self.store.state
        pricing = self.r.judge_pricing if client is self.judge and self.judge is not self.gen else self.r.pricing
        for item in await client.results(rec["batch_id"]):
            meta = rec["requests"].get(item.custom_id)
            if meta is None or item.custom_id in st.batch_seen:
                continue  # already journaled before a crash
            job, slot, ts = meta["job"], meta["slot"], round(time.time(), 3)
            base = {"batch_id": rec["batch_id"], "custom_id": item.custom_id, "ts": ts}
            if item.kind != "succeeded":
                self.store.record({"t": "batch_error", "job_id": job["id"], "slot": slot, "kind": item.kind,
                                   "error": item.error, **base})
                self.out.http_errors[item.kind] += 1
                continue
            reply = item.reply
            cost = pricing.cost(reply.usage, batch=True)
            if slot.startswith("j"):
                self.store.record({"t": "judge", "job_id": job["id"], "raw": reply.text, "usage": reply.usage,
                                   "cost": cost, "model": reply.model, "ask": int(slot[1:]), **base})
                self.asked[job["id"]] = self.asked.get(job["id"], 0) + 1
                self.out.judge_cost += cost
                self.out.judge_requests += 1
            else:
                self.store.record({"t": "response", "job": job, "part": int(slot[1:]), "raw": reply.text,
                                   "stop_reason": reply.stop_reason, "usage": reply.usage, "cost": cost,
                                   "model": reply.model, "provider": self.r.provider.name, **base})
            self.out.cost += cost
            self.out.tokens.update(reply.usage)
        self.store.record({"t": "batch_end", "batch_id": rec["batch_id"], "ts": round(time.time(), 3)})

    def _show(self, counts: dict, started: float) -> None:
        """Each open batch's counts (processing/succeeded/errored/expired), elapsed time, cost so far."""
        if self.bar is None:
            return
        each = " | ".join(f"{bid[-6:]}: {c.get('processing', 0)}/{c.get('succeeded', 0)}/{c.get('errored', 0)}/"
                          f"{c.get('expired', 0)}" for bid, c in list(counts.items())[:4])
        more = f" +{len(counts) - 4} more" if len(counts) > 4 else ""
        self.bar.set_postfix_str(f"round {self.rounds}, batches proc/ok/err/exp {each}{more}; kept {self.out.accepted} "
                                 f"rej {self.out.rejected}; {time.monotonic() - started:.0f}s ${self.out.cost:.4f}",
                                 refresh=True)

    # -- the run ---------------------------------------------------------------------------------
    async def run(self, jobs: list[Job], on_progress=None) -> Outcome:
        start = time.monotonic()
        if self.cfg.progress:
            self.bar = tqdm(total=len(jobs), unit="conv", dynamic_ncols=True, mininterval=0.5, leave=True)
        try:
            await self.wait_open()  # re-attach: batches a killed session left open
            st = self.store.state
            fresh = not any(j.id in st.responses or j.id in st.verdicts for j in jobs)
            phases = [jobs[: self.smoke], jobs[self.smoke:]] if fresh and self.smoke and len(jobs) > self.smoke \
                else [jobs]
            for n, phase in enumerate(phases):
                await self._phase(phase)
                if self.r.stopping:
                    break
                if n == 0 and len(phases) > 1:
                    self._monitor(len(phase))
                if self.r.stopping:
                    break
        except ProviderError as e:
            self.request_stop("fatal", str(e))
        finally:
            if self.bar is not None:
                self.bar.close()
            self.out.elapsed = time.monotonic() - start
        return self.out

    async def _phase(self, jobs: list[Job]) -> None:
        active = list(jobs)
        while not self.r.stopping:
            while self.r.queue:  # replacements of rejected jobs join the next round
                active.append(self.r.queue.popleft())
            items = self._fit_budget(self.plan_round(active))
            if items:
                self.rounds += 1
                self.out.rounds += 1
                await self.submit(items)
            if not self.store.state.open_batches():
                if not items and not self.r.queue:
                    return
                continue
            await self.wait_open()
            if self.bar is not None:
                self.bar.n = self.out.accepted + self.out.rejected + self.out.failed + self.out.held
                self.bar.refresh()

    async def cancel_all(self) -> list[str]:
        """--cancel-batches: cancel every open batch of the folder, then read what each one returns
        (requests that succeeded before the cancel are paid and are kept)."""
        ids = [rec["batch_id"] for rec in self.store.state.open_batches()]
        for rec in self.store.state.open_batches():
            await self._client(rec).cancel(rec["batch_id"])
            self.store.record({"t": "batch_cancel", "batch_id": rec["batch_id"], "ts": round(time.time(), 3)})
        await self.wait_open()
        return ids

    def _monitor(self, n: int) -> None:
        judged = self.out.accepted + self.out.rejected
        rate = self.out.rejected / judged if judged else 0.0
        if self.cfg.max_reject_rate is not None and judged and rate > self.cfg.max_reject_rate:
            self.request_stop("quality", f"smoke batch: {self.out.rejected} of the first {judged} conversations "
                                         f"were rejected ({rate:.0%} > {self.cfg.max_reject_rate:.0%}); "
                                         f"nothing else was submitted")
