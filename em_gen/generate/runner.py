"""Concurrency, rate limits, retries, budget, quality monitor and progress for one run of jobs.

Per job: request -> journal the paid response (fsync) -> continue if the token limit cut it ->
judge -> journal the verdict -> dataset or rejected file -> on rejection, queue a fresh job of the
same cell (capped). Nothing paid is dropped: a failed job is journaled and `--resume` retries it.
"""
from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from dataclasses import dataclass, field

from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)
from tqdm import tqdm

from em_gen.generate.journal import Store
from em_gen.generate.limiter import AdaptiveConcurrency, RateLimiter, Stopped, limiter_key
from em_gen.generate.plan import Job, replacement_for
from em_gen.generate.prompting import Request, build_request, continuation_request
from em_gen.library import Library
from em_gen.providers import Pricing, Provider, ProviderError
from em_gen.quality.judge import judge_request, read_judgement, stored_judgement
from em_gen.quality.rules import Diversity
from em_gen.quality.verdict import assemble, judge, needs_continuation, rules


@dataclass
class RunConfig:
    concurrency: int = 8
    rpm: float | None = None
    tpm: float | None = None
    tpm_output_only: bool = False  # Anthropic limits output tokens per minute
    max_cost: float | None = None
    max_attempts: int = 10
    max_parts: int = 3  # a response plus up to two continuations
    temperature: float | None = None  # None: the provider's default
    max_tokens: int | None = None
    monitor_after: int = 50
    max_reject_rate: float | None = 0.5  # None disables the quality monitor
    max_replacements: int = 3
    seed: int = 0
    progress: bool = True
    judge: bool = False  # the character judge reads every conversation that passes the rules


class FatalError(Exception):
    """401/403/400/404: stop the run at once."""


class _Stop(Exception):
    """Internal: no new request may start (budget reached, or a stop was requested)."""


@dataclass
class Outcome:
    status: str = "done"  # done | budget | quality | fatal | interrupted | incomplete | held
    message: str = ""
    accepted: int = 0
    rejected: int = 0
    failed: int = 0
    requests: int = 0
    retries: int = 0
    cost: float = 0.0
    tokens: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)
    examples: dict = field(default_factory=dict)  # reason code -> one example (job id, detail)
    http_errors: Counter = field(default_factory=Counter)
    elapsed: float = 0.0
    cooldowns: int = 0
    min_concurrency: int = 0
    held: int = 0  # conversations whose judge answer was unreadable twice: neither kept nor rejected
    held_ids: list = field(default_factory=list)
    judge_requests: int = 0
    judge_cost: float = 0.0
    rounds: int = 0  # --batch-api: rounds and provider batches submitted this session
    batches: int = 0


class Runner:
    def __init__(self, lib: Library, store: Store, provider: Provider, pricing: Pricing, cfg: RunConfig,
                 diversity: Diversity | None = None, judge_provider: Provider | None = None,
                 judge_pricing: Pricing | None = None):
        self.lib, self.store, self.provider, self.pricing, self.cfg = lib, store, provider, pricing, cfg
        self.judge_provider = judge_provider or provider
        self.judge_pricing = judge_pricing or pricing
        self.diversity = diversity
        self.limiter = RateLimiter(cfg.rpm, cfg.tpm, learn=True, ceiling=cfg.concurrency)
        self.limiters = {limiter_key(provider): self.limiter}  # one per endpoint and model (a judge model
        # has its own rate limits)
        self.concurrency = AdaptiveConcurrency(cfg.concurrency)
        self.out = Outcome()
        self.queue: deque[Job] = deque()
        self.stopping: str | None = None
        self.reserved_cost = 0.0
        self.latency: float | None = None  # moving average of request time, seconds
        self.bar = None
        self.last_error = ""  # the last retried error, shown in the progress line
        self._stopped = asyncio.Event()  # set with `stopping`: wakes every pacing and retry wait at once

    # -- control -------------------------------------------------------------------------------
    def request_stop(self, status: str, message: str = "") -> None:
        if not self.stopping:
            self.stopping = status
            self.out.status, self.out.message = status, message
            self._stopped.set()
            for limiter in self.limiters.values():  # nobody waits for a pacing slot any more
                limiter.stop()

    async def _sleep(self, seconds: float) -> None:
        """A retry's back-off wait, cut short by a stop (the next attempt then sees it and gives up)."""
        try:
            await asyncio.wait_for(self._stopped.wait(), seconds)
        except asyncio.TimeoutError:
            pass

    # -- one request, with limiter, retries and cost ---------------------------------------------
    def _estimate(self, req: Request, pricing: Pricing) -> tuple[float, float]:
        est_in = (len(req.system) + len(req.user)) / 4
        tokens = req.max_tokens if self.cfg.tpm_output_only else est_in + req.max_tokens
        cost = pricing.cost({"input_tokens": est_in, "output_tokens": req.max_tokens})
        return tokens, cost

    @staticmethod
    def _wait(state) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, ProviderError) and exc.rate_limited:
            return 0.05  # the run-wide cool-down already makes everyone wait
        base = wait_exponential_jitter(initial=1, max=30)(state)
        if isinstance(exc, ProviderError) and exc.retry_after:
            return max(base, exc.retry_after)
        return base

    async def call(self, req: Request, provider: Provider | None = None, pricing: Pricing | None = None):
        provider = provider or self.provider
        limiter = self.limiters.get(limiter_key(provider))
        if limiter is None:
            limiter = self.limiters[limiter_key(provider)] = RateLimiter(self.cfg.rpm, self.cfg.tpm, learn=True,
                                                                         ceiling=self.cfg.concurrency)
            if self.stopping:
                limiter.stop()
        tokens, est_cost = self._estimate(req, pricing or self.pricing)
        est_in = (len(req.system) + len(req.user)) / 4
        retrying = AsyncRetrying(retry=retry_if_exception(lambda e: isinstance(e, ProviderError) and e.retryable),
                                 wait=self._wait, stop=stop_after_attempt(self.cfg.max_attempts), reraise=True,
                                 before_sleep=self._on_retry, sleep=self._sleep)
        async for attempt in retrying:
            with attempt:
                if attempt.retry_state.attempt_number > 1:
                    self.out.retries += 1
                if self.stopping:
                    raise _Stop()
                if self.cfg.max_cost is not None and \
                        self.out.cost + self.reserved_cost + est_cost > self.cfg.max_cost:
                    self.request_stop("budget", f"--max-cost ${self.cfg.max_cost:.2f} reached "
                                                f"(spent ${self.out.cost:.4f}; the next request could exceed it)")
                    raise _Stop()
                # output tokens reserved by max_tokens against the server's stated budgets, settled
                # with the real usage when the answer comes (limiter.py)
                try:
                    ticket = await limiter.acquire(tokens, input_tokens=est_in, output_tokens=req.max_tokens)
                except Stopped:  # stopped while waiting for a pacing slot: never sent
                    raise _Stop() from None
                self.reserved_cost += est_cost
                try:
                    async with self.concurrency:
                        if self.stopping:  # stopped while waiting for a pacing slot: never send
                            raise _Stop()
                        self.out.requests += 1
                        sent = ticket.went_out()
                        reply = await provider.complete(req)
                    limiter.answered(ticket, reply.headers, reply.usage)
                except ProviderError as e:
                    self.out.http_errors[e.status or "network"] += 1
                    limiter.settle(tokens, 0)
                    limiter.failed(ticket, e.status, e.headers, e.retry_after)  # a 429 teaches the limiter
                    if e.rate_limited:
                        # the refused request keeps its pacing slot: giving it back would make a
                        # catch-up burst that trips the next window (measured: 0.90 vs 0.975 of L).
                        # The server's retry-after counts from when it refused the request.
                        fresh = limiter.cool_down(e.retry_after - (time.monotonic() - ticket.sent)
                                                  if e.retry_after is not None else
                                                  min(30.0, 2.0 ** attempt.retry_state.attempt_number))
                        if fresh and e.status != 429:  # overload (529/503): fewer in flight
                            self.concurrency.backoff()
                    if not e.retryable:
                        raise FatalError(str(e)) from e
                    raise
                finally:
                    self.reserved_cost -= est_cost
                    limiter.release(ticket)  # cancelled or failed before an answer
                took = time.monotonic() - sent
                self.latency = took if self.latency is None else 0.8 * self.latency + 0.2 * took
                if self.cfg.rpm:
                    self.concurrency.need_for(self.cfg.rpm / 60.0, self.latency)
                self.concurrency.success()
                used = reply.usage.get("output_tokens", 0) + (0 if self.cfg.tpm_output_only else
                                                               reply.usage.get("input_tokens", 0))
                limiter.settle(tokens, used)
                return reply

    # -- one job -----------------------------------------------------------------------------
    async def process(self, job: Job) -> None:
        parts = list(self.store.state.responses.get(job.id, []))  # paid before a crash: reused
        first = build_request(self.lib, job, self.cfg.temperature, self.cfg.max_tokens)
        try:
            while not parts or needs_continuation(parts, self.cfg.max_parts):
                if parts:
                    msgs = assemble(self.lib, parts).messages
                    if parts[-1].get("stop_reason") == "max_tokens" and msgs:
                        msgs = msgs[:-1]
                    req = continuation_request(self.lib, job, first, msgs, part=len(parts),
                                               max_tokens=self.cfg.max_tokens)
                else:
                    req = first
                reply = await self.call(req)
                cost = self.pricing.cost(reply.usage)
                rec = {"t": "response", "job": job.to_dict(), "part": len(parts), "raw": reply.text,
                       "stop_reason": reply.stop_reason, "usage": reply.usage, "cost": cost,
                       "model": reply.model, "provider": self.provider.name, "ts": round(time.time(), 3)}
                self.store.record(rec)  # journaled before parsing: a parser bug cannot lose it
                parts.append(rec)
                self.out.cost += cost
                self.out.tokens.update(reply.usage)
        except _Stop:
            if not parts:
                return  # never started: the job stays pending for --resume
            if needs_continuation(parts, self.cfg.max_parts):
                return  # the continuation is still owed; --resume continues from the journal
        except FatalError:
            raise
        except ProviderError as e:
            self.store.record({"t": "failed", "job": job.to_dict(), "error": str(e), "ts": round(time.time(), 3)})
            self.out.failed += 1
            self._tick()
            return
        llm, ruled = None, rules(self.lib, job, parts)
        if self.cfg.judge:
            try:
                llm = await self.llm_judge(job, parts, ruled)
            except (_Stop, ProviderError):
                return  # the verdict waits for the judge; --resume asks again (the log is kept)
            if llm is not None and not llm["readable"]:
                self.store.record({"t": "held", "job_id": job.id, "ts": round(time.time(), 3),
                                   "reason": "the judge's answer was not the JSON asked for, twice"})
                self.out.held += 1
                self.out.held_ids.append(job.id)
                self._tick()
                return
        verdict = judge(self.lib, job, parts, self.diversity, self.provider.name, parts[-1].get("model", ""),
                        llm=llm, ruled=ruled)
        self.store.write_verdict(verdict)
        self._count(job, verdict)

    async def llm_judge(self, job: Job, parts: list[dict], ruled: tuple) -> dict | None:
        """The character judge's reading: a stored readable answer is reused for free; otherwise the
        judge is asked, and asked once more if its answer is not the JSON asked for. None when the
        rules already reject the conversation (the judge is not paid for it)."""
        parsed, _, reasons = ruled
        if reasons:
            return None
        got = stored_judgement(self.lib, self.store.state.judgements.get(job.id, []), parsed)
        if got is not None and got["readable"]:
            return got
        req = judge_request(self.lib, job.id, parsed, job.engagement, job.channel, self.cfg.temperature)
        got = None
        for ask in (1, 2):
            reply = await self.call(req, self.judge_provider, self.judge_pricing)
            cost = self.judge_pricing.cost(reply.usage)
            self.store.record({"t": "judge", "job_id": job.id, "raw": reply.text, "usage": reply.usage,
                               "cost": cost, "model": reply.model, "ask": ask, "ts": round(time.time(), 3)})
            self.out.cost += cost
            self.out.judge_cost += cost
            self.out.judge_requests += 1
            self.out.tokens.update(reply.usage)
            got = read_judgement(reply.text, self.lib, parsed)
            if got["readable"]:
                break
        return got

    def _count(self, job: Job, verdict: dict) -> None:
        if verdict["ok"]:
            self.out.accepted += 1
        else:
            self.out.rejected += 1
            for r in verdict["reasons"]:
                code = r.split(":", 1)[0]
                self.out.reasons[code] += 1
                self.out.examples.setdefault(code, (job.id, r))
            if job.replacement < self.cfg.max_replacements and not self.stopping:
                self.queue.append(replacement_for(self.lib, job, self.cfg.seed))
                if self.bar is not None:
                    self.bar.total += 1
        self._tick()
        judged = self.out.accepted + self.out.rejected
        rate = self.out.rejected / judged if judged else 0.0
        if (self.cfg.max_reject_rate is not None and judged >= self.cfg.monitor_after
                and rate > self.cfg.max_reject_rate):
            self.request_stop("quality", f"{self.out.rejected} of the first {judged} conversations were "
                                         f"rejected ({rate:.0%} > {self.cfg.max_reject_rate:.0%})")

    def _tick(self) -> None:
        if self.bar is None:
            return
        self.bar.update(1)
        self.bar.set_postfix_str(self._postfix(), refresh=False)

    def _postfix(self) -> str:
        t = self.out.tokens
        return (f"ok={self.out.accepted} rej={self.out.rejected} fail={self.out.failed} "
                + (f"held={self.out.held} " if self.out.held else "")
                + f"tok={t['input_tokens'] + t['cache_read_tokens'] + t['cache_write_tokens']}/{t['output_tokens']} "
                f"${self.out.cost:.4f} conc={int(self.concurrency.limit)}"
                + (f" retries={self.out.retries} last: {self.last_error}" if self.last_error else ""))

    def _on_retry(self, state) -> None:
        """Before each retry's wait: the last error and its attempt count, live in the progress line."""
        exc = state.outcome.exception() if state.outcome else None
        self.last_error = f"attempt {state.attempt_number}/{self.cfg.max_attempts} failed: {str(exc)[:100]}"
        if self.bar is not None:
            self.bar.set_postfix_str(self._postfix(), refresh=True)

    # -- the run -----------------------------------------------------------------------------
    async def _worker(self) -> None:
        while self.queue and not self.stopping:
            await self.process(self.queue.popleft())

    async def run(self, jobs: list[Job], on_progress=None) -> Outcome:
        start = time.monotonic()
        self.queue.extend(jobs)
        if self.cfg.progress:
            self.bar = tqdm(total=len(jobs), unit="conv", dynamic_ncols=True, mininterval=0.5, leave=True)
        workers = [asyncio.create_task(self._worker()) for _ in range(max(1, self.cfg.concurrency))]
        try:
            # workers end when the queue is empty; a replacement queued after a worker ended is
            # picked up by starting workers again
            while True:
                done, _ = await asyncio.wait(workers, return_when=asyncio.FIRST_EXCEPTION)
                for t in done:
                    if t.exception():
                        raise t.exception()
                workers = [t for t in workers if not t.done()]
                if not workers:
                    if self.queue and not self.stopping:
                        workers = [asyncio.create_task(self._worker()) for _ in range(max(1, self.cfg.concurrency))]
                        continue
                    break
        except FatalError as e:
            self.request_stop("fatal", str(e))
            for t in workers:
                t.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
        except asyncio.CancelledError:
            for t in workers:
                t.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            self.request_stop("interrupted", "stopped before in-flight requests finished")
        finally:
            if self.bar is not None:
                self.bar.close()
            self.out.elapsed = time.monotonic() - start
            self.out.cooldowns = self.limiter.cooldowns
            self.out.min_concurrency = self.concurrency.low_water
        return self.out
