"""The stand-in's rate limits, and the headers that state them the way the real APIs do.

- requests: at most L admitted in any `period` seconds (a sliding window), when `rate_limit=(L, period)`;
- tokens, counted as each API counts them: OpenAI `tokens` = input + max_tokens when a request is
  admitted; Anthropic `input-tokens` when admitted, `output-tokens` reserved by max_tokens when
  admitted and settled to the real count when answered. Enforced only with `token_limit=(T, period)`;
  otherwise a generous budget is stated (and counted) but never refused.

Headers (`headers=True`): per-minute `limit` (L x 60 / period, as both providers state it),
`remaining` (what is left in the window now) and `reset` (when the budget is full again: OpenAI a
duration, `1.5s`, Anthropic an RFC 3339 time), on answers and on 429s; `headers=False` sends none of
them (429s keep `retry-after`). A request is counted when admitted, after the stand-in's latency.

Quantized request limits (`quantum=S`, as OpenAI documents: "60,000 per minute may be enforced as
1,000 per second"): the stated L per `period` is enforced as L x S / period per S seconds (a sliding
window), and the headers do not tell the whole truth:
- `quantum_remaining="window"`: `limit` per minute, `remaining` = that per-minute figure less what the
  S-second window holds, `reset` when the S-second window is empty again;
- `quantum_remaining="minute"`: `limit`, `remaining` and `reset` of the stated (unenforced) bucket.
"""
from __future__ import annotations

import collections
import threading
import time
from datetime import datetime, timedelta, timezone

DEFAULT_TOKENS = (30_000_000, 60.0)  # stated (OpenAI's top tier), not enforced, when no token limit is set


class Budget:
    """Sliding window: at most `limit` units admitted in any `period` seconds."""

    def __init__(self, limit: float, period: float, enforce: bool = True):
        if limit <= 0 or period <= 0:
            raise ValueError(f"a rate limit needs a positive amount and period, not {(limit, period)}")
        self.limit, self.period, self.enforce = float(limit), float(period), enforce
        self._log: collections.deque = collections.deque()  # [admitted at, amount]

    def _expire(self, now: float) -> float:
        while self._log and self._log[0][0] <= now - self.period:
            self._log.popleft()
        return sum(e[1] for e in self._log)

    def remaining(self, now: float) -> float:
        return max(0.0, self.limit - self._expire(now))

    def wait(self, amount: float, now: float) -> float:
        """0 when `amount` fits now (or the budget is not enforced), else seconds until it fits."""
        used = self._expire(now)
        need = used + min(amount, self.limit) - self.limit
        if not self.enforce or need <= 0:
            return 0.0
        for at, n in self._log:
            need -= n
            if need <= 0:
                return max(0.001, at + self.period - now)
        return self.period

    def take(self, amount: float, now: float) -> list:
        entry = [now, float(amount)]
        self._log.append(entry)
        return entry

    def reset(self, now: float) -> float:
        """Seconds until the budget is full again (the newest unit leaves the window)."""
        self._expire(now)
        return max(0.0, self._log[-1][0] + self.period - now) if self._log else 0.0

    def per_minute(self) -> int:
        return round(self.limit * 60.0 / self.period)


QUANTUM_REMAINING = ("window", "minute")


class Limits:
    def __init__(self, rate_limit: tuple[int, float] | None = None, token_limit: tuple[int, float] | None = None,
                 headers: bool = True, quantum: float | None = None, quantum_remaining: str = "window"):
        if quantum is not None and not rate_limit:
            raise ValueError("a rate-limit quantum needs a rate limit")
        if quantum_remaining not in QUANTUM_REMAINING:
            raise ValueError(f"quantum remaining must be one of {QUANTUM_REMAINING}, not {quantum_remaining!r}")
        self.requests = Budget(*rate_limit, enforce=quantum is None) if rate_limit else None
        # the quantized limit: what the server really enforces, per `quantum` seconds
        self.slice = Budget(rate_limit[0] * quantum / rate_limit[1], quantum) if quantum is not None else None
        if self.slice and self.slice.limit < 1:
            raise ValueError(f"a quantum of {quantum}s admits less than one request of {rate_limit}")
        self.quantum_remaining = quantum_remaining
        tokens, enforce = (token_limit, True) if token_limit else (DEFAULT_TOKENS, False)
        self.tokens = {k: Budget(*tokens, enforce=enforce) for k in ("tokens", "input", "output")}
        self.active = bool(rate_limit or token_limit)  # no limit set: no headers, as before
        self.send_headers = headers
        self._lock = threading.Lock()

    def admit(self, anthropic: bool, input_tokens: int, max_tokens: int):
        """(ticket, headers) for an admitted request, or (None, 429 headers, retry-after seconds, what)."""
        now = time.monotonic()
        costs = {"input": input_tokens, "output": max_tokens} if anthropic else \
            {"tokens": input_tokens + max_tokens}
        with self._lock:
            waits = [(self.requests.wait(1, now), "requests")] if self.requests else []
            waits += [(self.slice.wait(1, now), "requests")] if self.slice else []
            waits += [(self.tokens[k].wait(n, now), "tokens") for k, n in costs.items()]
            wait, what = max(waits) if waits else (0.0, "")
            if wait > 0:
                return None, self._headers(anthropic, now), wait, what
            if self.requests:
                self.requests.take(1, now)
            if self.slice:
                self.slice.take(1, now)
            ticket = {k: self.tokens[k].take(n, now) for k, n in costs.items()}
            return ticket, self._headers(anthropic, now), 0.0, ""

    def settle(self, ticket: dict | None, output_tokens: int) -> None:
        """Anthropic: an answered request's output reservation becomes its real count."""
        if ticket and "output" in ticket:
            with self._lock:
                ticket["output"][1] = float(output_tokens)

    def fault_headers(self, anthropic: bool, wait: float) -> dict:
        """Headers for an injected 429 (no limit set: a stated 1000 requests, none left)."""
        if not self.send_headers:
            return {}
        if self.active:
            with self._lock:
                return self._headers(anthropic, time.monotonic())
        return _format(anthropic, {"requests": (1000, 0, wait)})

    def _headers(self, anthropic: bool, now: float) -> dict:
        if not (self.send_headers and self.active):
            return {}
        state = {"requests": (self.requests.per_minute(), int(self.requests.remaining(now)),
                              self.requests.reset(now))} if self.requests else {}
        if self.slice and self.quantum_remaining == "window":  # the minute's figure, the slice's count
            held = self.slice.limit - self.slice.remaining(now)
            state["requests"] = (self.requests.per_minute(), int(max(0, self.requests.per_minute() - held)),
                                 self.slice.reset(now))
        names = ("input", "output") if anthropic else ("tokens",)
        for k in names:
            b = self.tokens[k]
            state[k] = (b.per_minute(), int(b.remaining(now)), b.reset(now))
        if anthropic:  # the most restrictive token budget
            state["tokens"] = min((state["input"], state["output"]), key=lambda s: s[1] / max(1, s[0]))
        return _format(anthropic, state)


_ANTHROPIC = {"requests": "requests", "input": "input-tokens", "output": "output-tokens", "tokens": "tokens"}


def _format(anthropic: bool, state: dict) -> dict:
    out = {}
    for k, (limit, remaining, reset) in state.items():
        if anthropic:
            at = (datetime.now(timezone.utc) + timedelta(seconds=reset)).isoformat(timespec="milliseconds")
            pre = f"anthropic-ratelimit-{_ANTHROPIC[k]}"
            out.update({f"{pre}-limit": str(limit), f"{pre}-remaining": str(remaining),
                        f"{pre}-reset": at.replace("+00:00", "Z")})  # RFC 3339
        else:
            out.update({f"x-ratelimit-limit-{k}": str(limit), f"x-ratelimit-remaining-{k}": str(remaining),
                        f"x-ratelimit-reset-{k}": f"{max(reset, 0.001):.3f}s"})
    return out
