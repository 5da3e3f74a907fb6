"""How fast the limiter (limiter.py) sends within the budgets the server states, and when it stops
believing them.

Servers do not always enforce what their headers say. OpenAI documents that a per-minute limit may
be enforced in shorter slices (60,000 per minute as 1,000 per second), so a burst well under the
per-minute figure can be refused; Anthropic refills a token bucket continuously rather than once a
minute. So, with headers:
- `Pacer`: every budget that states a per-minute `limit` is also a token bucket refilled at
  limit/60 per second, whose burst starts at BURST_SECONDS' worth and doubles with each burst
  admitted (never beyond the largest budget the headers showed), the way TCP's slow start grows its
  window: against a server whose headers are exact it soon sends a window's budget at once again;
  against a quantized one it finds the slice in a few bursts;
- `Trust`: a 429 the headers did not predict (they still said there was room) shows that the server
  enforces something finer than it states. The request budget is then paced by the window that the
  429s teach (budgets.Learned, as without headers), and by the headers as well: the stricter wins.
  That window is never probed above the stated rate. After TRUST_AFTER clean learned windows the
  headers are trusted again (with the burst the server was seen to admit); each time they are
  caught out again, twice as many clean windows are needed.
"""
from __future__ import annotations

import time

from em_gen.generate.budgets import Learned, Slack, Ticket

PACING = 0.98  # paced 2% under the rate: arrivals jitter by a few ms (a sliding window then sees limit+1)
BURST_SECONDS = 4.0  # the first burst: a few seconds' worth of the stated rate
TRUST_AFTER = 8  # clean learned windows before the headers are trusted again (doubled each time)


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


class Pacer:
    """One stated budget as a token bucket: limit/60 per second, a burst that grows while admitted.
    Until the first 429, each admitted request adds twice its cost to the burst (and to the bucket)
    once all of its burst (what was sent before it or with it) went through: a burst admitted is
    followed by one twice as large, as in TCP's slow start, and a refused one stops it. Never beyond
    what the stated rate allows over the time a request holds the budget (its reset, from when it
    was sent): a server whose budget comes back after 10 s admits no more than 10 s' worth at once
    without exceeding the rate it states. After a 429,
    a whole burst admitted adds one request's worth. A burst of one request does not grow: it is what
    a server that refused every burst is paced at."""

    def __init__(self, limit: float, spent: float = 0.0, least: float = 1.0):
        self.rate, self.least, self.limit = limit / 60.0 * PACING, least, limit
        self.horizon = 0.0  # the longest a request was seen to hold the budget: reset + its age
        # at least two requests' worth (`least`: what the request that showed the budget cost)
        self.bucket = Bucket(self.rate, max(2 * least, BURST_SECONDS * self.rate))
        self.bucket.take(spent)
        self.slow = True  # slow start: until the first 429
        self.clean = 0.0  # after it: admitted since the burst last grew, or since the last 429
        self.pending = 0.0  # slow start: growth earned by a burst not yet all answered

    @property
    def burst(self) -> float:
        return self.bucket.capacity

    def wait(self, amount: float, now: float) -> float:
        return self.bucket.wait_time(amount, now)

    def take(self, amount: float) -> None:
        self.bucket.take(amount)

    def admitted(self, reserved: float, used: float, ceiling: float, whole: bool = True) -> None:
        """A request went through: what it reserved beyond what it used comes back, and the burst
        grows (never beyond `ceiling`, the largest budget the headers showed); `whole`: nothing sent
        before it or with it is still in flight."""
        b = self.bucket
        if reserved > used:
            b.give_back(reserved - used)
        if self.slow:
            self.pending += 2 * reserved
            grow, self.pending = (self.pending, 0.0) if whole else (0.0, self.pending)
        else:
            self.clean += reserved
            grow = self.least if self.clean >= b.capacity and b.capacity > self.least else 0.0
        # never more at once than the stated rate allows over the time a request holds the budget
        if self.horizon:
            ceiling = min(ceiling, max(self.least, self.limit / 60.0 * self.horizon))
        grow = min(grow, ceiling - b.capacity)
        if grow > 0:
            b.capacity += grow
            b.level += grow
            self.clean = 0.0

    def saw(self, hold: float) -> None:
        """An answer said the budget is full again `hold` seconds after its request was sent: the
        burst is at most what the stated rate allows over that time."""
        self.horizon = max(self.horizon, hold)
        b, most = self.bucket, max(self.least, self.limit / 60.0 * self.horizon)
        if b.capacity > most:
            b.capacity, b.level = most, min(b.level, most - (b.capacity - b.level))  # what was spent stays spent

    def refused(self) -> None:
        self.slow, self.clean, self.pending = False, 0.0, 0.0

    def reset(self, burst: float) -> None:
        """Trusted again: a burst of what the server was seen to admit, to be refilled first."""
        self.bucket.capacity, self.bucket.level = max(self.least, burst), 0.0
        self.bucket.stamp = time.monotonic()
        self.slow, self.clean = False, 0.0


class Trust:
    """Whether the request budget's headers are believed, and the window their 429s taught."""

    def __init__(self, ceiling: int, slack: Slack):
        self.window = Learned(ceiling, slack, paced=True)  # no slow start: the headers showed the way
        self.doubting = False
        self.after = TRUST_AFTER
        self.caught = 0  # times the headers were caught out

    def admitted(self, ticket: Ticket, now: float) -> bool:
        """Logs an admitted request; True when the headers are to be trusted again now."""
        self.window.admitted(ticket, now)
        w = self.window
        if self.doubting and w.n and w.w and w.streak >= self.after * w.n:
            self.doubting = False
            return True
        return False

    def refused(self, ticket: Ticket, retry_after: float | None, now: float, rate: float | None) -> None:
        """A 429 the headers did not predict; `rate`: the stated limit per second (caps the window)."""
        if not self.doubting:
            self.caught += 1
            if self.caught > 1:
                self.after *= 2
            self.doubting = True
        w = self.window
        w.most = rate
        w.rejected(ticket, retry_after, now)  # (Learned snaps the window to n / `most`: a quantized limit)

    def wait(self, now: float, in_flight) -> float:
        return self.window.wait(now, in_flight) if self.doubting else 0.0
