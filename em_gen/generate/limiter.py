"""Client-side rate limiting shared by every task of a run.

- `RateLimiter`: requests/min and tokens/min token buckets, a run-wide cool-down after a 429 (every
  task waits, instead of each retrying on its own), and the providers' rate-limit headers
  (`x-ratelimit-*`, `anthropic-ratelimit-*`): when they say nothing is left, nobody sends until reset.
- `AdaptiveConcurrency`: AIMD. Halve the number of requests in flight on 429/529/503 (once per
  episode: the 429s of requests already in flight do not halve it again), add one back after a run
  of clean responses, never above the user's --concurrency.
"""
from __future__ import annotations

import asyncio
import math
import time

from em_gen.providers.base import duration

_REMAINING_RESET = (
    ("x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"),
    ("anthropic-ratelimit-requests-remaining", "anthropic-ratelimit-requests-reset"),
    ("x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"),
    ("anthropic-ratelimit-output-tokens-remaining", "anthropic-ratelimit-output-tokens-reset"),
    ("anthropic-ratelimit-tokens-remaining", "anthropic-ratelimit-tokens-reset"),
)


PACING = 0.98


class Bucket:
    """Token bucket: `rate` units per second, holding at most `capacity`."""

    def __init__(self, rate: float, capacity: float, level: float | None = None):
        self.rate, self.capacity = rate, capacity
        self.level = capacity if level is None else level
        self.stamp = time.monotonic()

    def _refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_time(self, amount: float, now: float) -> float:
        self._refill(now)
        amount = min(amount, self.capacity)
        return 0.0 if self.level >= amount else (amount - self.level) / self.rate

    def take(self, amount: float) -> None:
        self.level -= min(amount, self.capacity)

    def give_back(self, amount: float) -> None:
        self.level = min(self.capacity, self.level + amount)


class RateLimiter:
    def __init__(self, rpm: float | None = None, tpm: float | None = None):
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

    async def acquire(self, tokens: float = 0.0) -> None:
        async with self._lock:  # FIFO: waiting tasks are served in order
            while True:
                now = time.monotonic()
                wait = self.blocked_until - now
                if self.requests:
                    wait = max(wait, self.requests.wait_time(1, now))
                if self.tokens and tokens:
                    wait = max(wait, self.tokens.wait_time(tokens, now))
                if wait <= 0:
                    break
                await asyncio.sleep(wait)
            if self.requests:
                self.requests.take(1)
            if self.tokens and tokens:
                self.tokens.take(tokens)

    def settle(self, reserved: float, used: float) -> None:
        """Correct a token reservation with the real usage."""
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
        """Honour rate-limit headers: when a budget is exhausted, block until its reset. Servers
        count a request when they admit it, so the reset clock started up to `age` seconds ago
        (the request's duration); waiting the full reset again would idle the run."""
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
