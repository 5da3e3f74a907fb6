"""Client-side rate limiting shared by every task of a run.

`RateLimiter`, in layers:
- the user's --rpm/--tpm: token buckets, requests evenly spaced;
- a run-wide cool-down after a 429/529/503: every task waits, instead of each retrying on its own;
- with `learn=True` (the runner), what the server says, or else what it does (budgets.py):
  - the first request goes alone: its answer shows whether the server sends rate-limit headers
    (with --rpm, whose even spacing is gentle already, neither this nor the slow start below holds
    requests back; headers and 429s still teach the limiter);
  - with headers (`x-ratelimit-*`, `anthropic-ratelimit-*`; `Budget`): every answer, 429s
    included, states `limit` (per minute), `remaining` and `reset` (when the budget is full again)
    for requests, input, output or all tokens. What we hold of a budget: the requests in flight,
    at what they reserved (output tokens by max_tokens), and each answered request, at what it
    really used, until its own answer's reset. The largest budget seen (remaining + what that
    request used) is the capacity, and nothing is sent that does not fit in it: never more in
    flight than `remaining` allows before the reset, and a window's whole budget at once when it
    opens. The lowest `remaining` of the latest answers, less what was sent since, is the other
    bound (a token bucket refills and settles before its reset): the larger one is used. And the
    stated per-minute request limit is not taken at its word (pacing.py): it is paced as a token
    bucket at limit/60 per second whose burst starts at a few seconds' worth and grows while
    bursts are admitted; a 429 whose headers still show room (a quantized limit: per minute
    stated, per 10 s or per second enforced) switches the request budget to the window its 429s
    teach (`Learned`, below), until several clean windows have passed;
  - without headers (`Learned`): a slow start: after the first request, a window of 10, then one
    scout alone; each scout that goes through doubles what may follow. Each 429 episode shows how
    many requests the server admitted per window (its retry-after dates the window): from then on
    at most that many go out in any such window (a bucket whose burst is that number, refilled
    over the window), all at once when it opens; one more is tried after every two clean windows,
    so a raised limit is found again.
  Times are on the client's send clock: a budget freed `reset` after the server counted a request
  is freed for a request sent `reset` after that one was (`Slack` adds a margin for jitter).
- `observe()` (without `learn`): when a header says nothing is left, nobody sends until its reset.
`AdaptiveConcurrency`: AIMD on overload (529/503): halve the requests in flight once per episode,
add one back after a run of clean responses, never above the user's --concurrency.
"""
from __future__ import annotations

import asyncio
import math
import time

from em_gen.generate.budgets import BURST, NEVER, Budget, Learned, Slack, Ticket, read_budgets
from em_gen.generate.pacing import PACING, Bucket, Pacer, Trust
from em_gen.providers.base import duration

_REMAINING_RESET = (
    ("x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"),
    ("anthropic-ratelimit-requests-remaining", "anthropic-ratelimit-requests-reset"),
    ("x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"),
    ("anthropic-ratelimit-output-tokens-remaining", "anthropic-ratelimit-output-tokens-reset"),
    ("anthropic-ratelimit-tokens-remaining", "anthropic-ratelimit-tokens-reset"),
)

__all__ = ["AdaptiveConcurrency", "Bucket", "PACING", "RateLimiter", "Stopped", "limiter_key"]


def limiter_key(provider) -> tuple:
    """Requests to the same endpoint and model share one limiter: servers limit per model."""
    url = getattr(getattr(provider, "client", None), "base_url", None)
    return getattr(provider, "name", ""), getattr(provider, "model", None), str(url or id(provider))


class Stopped(Exception):
    """acquire() after stop(): the request must not be sent."""


class RateLimiter:
    def __init__(self, rpm: float | None = None, tpm: float | None = None, learn: bool = False, ceiling: int = 64):
        # Requests go out evenly spaced (no burst, not even at start): that is what both per-second
        # and per-minute server windows accept; a burst at the start trips per-second windows.
        # capacity 1.5: a late wake-up (asyncio sleeps overshoot by a few ms) is made up at the
        # next request, yet two requests never leave back to back
        # Paced 2% under the limit: arrivals jitter by a few ms, and at exactly the limit a sliding
        # window then sees limit+1 requests now and then (each such 429 costs more than 2%).
        self.requests = Bucket(rpm / 60.0 * PACING, 1.5, level=1.0) if rpm else None
        self.tokens = Bucket(tpm / 60.0, tpm) if tpm else None
        self.blocked_until = 0.0  # monotonic time before which nobody sends
        self.cooldowns = 0
        self._lock = asyncio.Lock()
        self.learn = learn
        self.mode = "probe" if learn else "off"  # probe -> headers | learned
        self.in_flight: dict[int, Ticket] = {}
        self.budgets: dict[str, Budget] = {}
        self.pacers: dict[str, Pacer] = {}  # headers: each stated per-minute limit as a token bucket
        self.slack = Slack(ceiling)
        self.trust = Trust(ceiling, self.slack)  # headers: the request budget, when 429s contradict them
        self.learned = Learned(ceiling, self.slack, paced=bool(rpm))
        self._seq = 0
        self._changed = asyncio.Event()
        self.stopped = False  # set by stop(): every waiting and later acquire() raises Stopped

    def stop(self) -> None:
        """A stop was asked for (Ctrl-C, --max-cost): nobody waits for a pacing slot any more."""
        self.stopped = True
        self._changed.set()

    async def acquire(self, tokens: float = 0.0, *, input_tokens: float = 0.0, output_tokens: float = 0.0) -> Ticket:
        """Wait for a slot. `tokens` is for --tpm; input/output tokens are reserved against the
        server's stated budgets (output by max_tokens)."""
        costs = {"requests": 1.0, "input": input_tokens, "output": output_tokens,
                 "tokens": input_tokens + output_tokens}
        async with self._lock:  # FIFO: waiting tasks are served in order
            while True:
                if self.stopped:
                    raise Stopped()
                now = time.monotonic()
                wait = self.blocked_until - now
                if self.requests:
                    wait = max(wait, self.requests.wait_time(1, now))
                if self.tokens and tokens:
                    wait = max(wait, self.tokens.wait_time(tokens, now))
                if self.learn:
                    wait = max(wait, self._server_wait(costs, now))
                if wait <= 0:
                    break
                self._changed.clear()
                try:
                    await asyncio.wait_for(self._changed.wait(), None if wait == NEVER else wait)
                except asyncio.TimeoutError:
                    pass
            if self.requests:
                self.requests.take(1)
            if self.tokens and tokens:
                self.tokens.take(tokens)
            self._seq += 1
            ticket = Ticket(self._seq, costs)
            if self.learn:
                self.in_flight[ticket.seq] = ticket
                if self.mode == "learned":
                    self.learned.took(ticket)
                for name, p in self._pacing():
                    p.take(costs[name])
            return ticket

    def _pacing(self):
        """The pacers that hold requests back now (the request budget's not while its headers are doubted)."""
        return [(k, p) for k, p in self.pacers.items() if not (k == "requests" and self.trust.doubting)]

    def _server_wait(self, costs: dict, now: float) -> float:
        if self.mode == "probe":  # --rpm already spaces the requests evenly: no burst to hold back
            return 0.0 if not self.in_flight or self.requests else NEVER
        if self.mode == "learned":
            return self.learned.wait(now, self.in_flight.values())
        wait = self.trust.wait(now, self.in_flight.values())
        for name, b in self.budgets.items():
            in_flight = sum(t.costs[name] for t in self.in_flight.values())
            wait = max(wait, b.wait(costs[name], in_flight, now))
        for name, p in self._pacing():
            wait = max(wait, p.wait(costs[name], now))
        return wait

    def answered(self, ticket: Ticket, headers: dict, usage: dict) -> None:
        """A request came back: what its headers say (or, without headers, that it was admitted)."""
        if self.in_flight.pop(ticket.seq, None) is None:
            return
        now = time.monotonic()
        self.slack.ages.append(now - ticket.sent)
        stated = read_budgets(headers or {})
        if self.mode == "probe":
            self.mode = "headers" if stated else "learned"
        if self.mode == "learned":
            self.learned.admitted(ticket, now)
        else:
            used = {"requests": 1.0, "output": usage.get("output_tokens", 0),
                    # counted when admitted: input, cache writes (and OpenAI: reads and max_tokens)
                    "input": usage.get("input_tokens", 0) + usage.get("cache_write_tokens", 0),
                    "tokens": usage.get("input_tokens", 0) + usage.get("cache_write_tokens", 0)
                    + usage.get("cache_read_tokens", 0) + ticket.costs["output"]}
            whole = not any(t.sent <= ticket.sent + BURST for t in self.in_flight.values())  # its burst is back
            for name, (limit, remaining, secs, at) in stated.items():
                self.budgets.setdefault(name, Budget(self.slack)).record(limit, remaining, secs, used[name], ticket,
                                                                         now, at)
                fresh = limit and name == "requests" and name not in self.pacers
                if fresh:  # this answer's cost is already spent
                    self.pacers[name] = Pacer(limit, ticket.costs[name], max(1.0, ticket.costs[name]))
                if name in self.pacers:
                    # how long a request holds it, on the send clock (as `Budget.hold` counts)
                    self.pacers[name].saw(secs + (now - ticket.sent if at else 0.0))
                if name in self.pacers and not fresh:
                    self.pacers[name].admitted(ticket.costs[name], min(used[name], ticket.costs[name]),
                                               max(self.budgets[name].cap, 1.0), whole)
            for name, b in self.budgets.items():  # an answer that did not state a budget: its last reset
                if name not in stated:
                    b.hold(b.reset, used[name], ticket, now)
            if self.trust.admitted(ticket, now) and "requests" in self.pacers:  # trusted again
                self.pacers["requests"].reset(self.trust.window.n or 1)
        self._changed.set()

    def failed(self, ticket: Ticket, status: int | None, headers: dict | None = None,
               retry_after: float | None = None) -> None:
        """A request failed; a 429 teaches the limiter (the server refused it: it holds nothing)."""
        if self.in_flight.pop(ticket.seq, None) is None:
            return
        now = time.monotonic()
        if status == 429:
            stated = read_budgets(headers or {})
            if self.mode == "probe" and stated:
                self.mode = "headers"
            if self.mode == "headers":
                for name, (limit, remaining, secs, _) in stated.items():
                    self.budgets.setdefault(name, Budget(self.slack)).record(limit, remaining, secs, 0.0, ticket, now)
                for p in self.pacers.values():
                    p.refused()
                if self._unpredicted(ticket, stated):  # the server enforces something finer than it states
                    limit = self.budgets["requests"].limit if "requests" in self.budgets else None
                    self.trust.refused(ticket, retry_after, now, limit / 60.0 if limit else None)
                elif retry_after is not None and retry_after <= 1.0:
                    self.slack.early(retry_after)  # the budget was about to be free: sent a little early
            else:
                self.mode = "learned"
                if retry_after is None and stated:  # no retry-after: the soonest stated reset
                    retry_after = min(v[2] for v in stated.values())
                self.learned.rejected(ticket, retry_after, now)
        else:
            self.learned.lost(ticket)
        self._changed.set()

    @staticmethod
    def _unpredicted(ticket: Ticket, stated: dict) -> bool:
        """A 429 whose headers still show room for the request in every budget (or show none)."""
        return all(remaining >= max(1.0, min(ticket.costs.get(name, 0.0), limit or math.inf))
                   for name, (limit, remaining, _, _) in stated.items())

    def release(self, ticket: Ticket) -> None:
        """A request that was never answered (cancelled): its reservation is given back."""
        if self.in_flight.pop(ticket.seq, None) is not None:
            self.learned.lost(ticket)
            self._changed.set()

    def settle(self, reserved: float, used: float) -> None:
        """Correct a --tpm reservation with the real usage."""
        if self.tokens and reserved > used:
            self.tokens.give_back(reserved - used)

    def cool_down(self, seconds: float) -> bool:
        """After a 429: the whole runner pauses for `seconds` (the server's retry-after if sent).
        Returns False when a cool-down was already running (the 429 belongs to the same episode)."""
        now = time.monotonic()
        fresh = self.blocked_until <= now
        until = now + max(0.0, seconds)
        if until > self.blocked_until:
            self.blocked_until = until
        if fresh:
            self.cooldowns += 1
        return fresh

    def observe(self, headers: dict, age: float = 0.0) -> None:
        """Without `learn`: honour rate-limit headers: when a budget is exhausted, block until its
        reset. Servers count a request when they admit it, so the reset clock started up to `age`
        seconds ago (the request's duration); waiting the full reset again would idle the run."""
        for remaining_key, reset_key in _REMAINING_RESET:
            remaining, reset = headers.get(remaining_key), headers.get(reset_key)
            if remaining is None or reset is None:
                continue
            try:
                left = float(remaining)
            except ValueError:
                continue
            if left <= 0:
                secs = duration(str(reset))
                if secs and secs > age:
                    self.cool_down(min(secs - age, 120.0))


class AdaptiveConcurrency:
    def __init__(self, maximum: int, grow_after: int = 4):
        self.maximum = max(1, maximum)
        self.limit = float(self.maximum)
        self.in_flight = 0
        self.grow_after = grow_after
        self._clean = 0
        self._cond = asyncio.Condition()
        self.low_water = self.maximum
        self.floor = 1.0  # never back off below this (set from the client's own rate limit)

    async def __aenter__(self):
        async with self._cond:
            while self.in_flight >= int(self.limit):
                await self._cond.wait()
            self.in_flight += 1
        return self

    async def __aexit__(self, *exc):
        async with self._cond:
            self.in_flight -= 1
            self._cond.notify_all()

    def backoff(self) -> None:
        self.limit = max(self.floor, self.limit / 2)
        self.low_water = min(self.low_water, int(self.limit))
        self._clean = 0

    def need_for(self, per_second: float, latency: float) -> None:
        """With a client-side rate limit, the pacing already holds the request rate; going below the
        concurrency that rate needs (rate x latency, with headroom) would only leave it unused."""
        self.floor = float(min(self.maximum, max(1, math.ceil(per_second * latency * 1.5) + 1)))
        self.limit = max(self.limit, self.floor)

    def success(self) -> None:
        self._clean += 1
        if self._clean >= self.grow_after and self.limit < self.maximum:
            self.limit += 1
            self._clean = 0
