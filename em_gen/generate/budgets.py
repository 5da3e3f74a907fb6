"""What the server allows, for the limiter (limiter.py): the budgets it states in rate-limit headers
(`Budget`), or, without headers, a window learned from its 429s (`Learned`). Times are on the
client's send clock: a budget freed `reset` after the server counted a request is freed for a
request sent `reset` after that one was (the server counts a request when it admits it).
"""
from __future__ import annotations

import bisect
import collections
import math
import re
import time

from em_gen.providers.base import duration

# budget -> header names (limit, remaining, reset), OpenAI's and Anthropic's; `tokens` is OpenAI's
# input + max_tokens (Anthropic's `tokens-*` repeats its most restrictive budget, so it is not read)
_BUDGETS = {
    "requests": (("x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"),
                 ("anthropic-ratelimit-requests-limit", "anthropic-ratelimit-requests-remaining",
                  "anthropic-ratelimit-requests-reset")),
    "tokens": (("x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"),),
    "input": (("anthropic-ratelimit-input-tokens-limit", "anthropic-ratelimit-input-tokens-remaining",
               "anthropic-ratelimit-input-tokens-reset"),),
    "output": (("anthropic-ratelimit-output-tokens-limit", "anthropic-ratelimit-output-tokens-remaining",
                "anthropic-ratelimit-output-tokens-reset"),),
}

MARGIN = 0.02  # seconds added to every reset and learned window: arrivals jitter by a few ms
BURST = 0.05  # requests sent this close together may reach the server in either order
LATE = 0.15  # at most this much of a slow answer is taken as arriving late (the rest: a slow reply)
FRACTION = 0.02  # ... and at most this share of the reset
INITIAL_WINDOW = 10  # requests sent, the first one included, before the first scout (TCP's RFC 6928)
NEVER = math.inf
SNAP = 0.25  # a learned window this close to n / the stated rate is taken to be exactly that


def read_budgets(headers: dict) -> dict[str, tuple[float | None, float, float]]:
    """{budget: (limit per minute or None, remaining, seconds until full, whether the reset is a time)}
    from rate-limit headers. A reset stated as a time (Anthropic) says when the budget is full again;
    one stated as a duration (OpenAI) counts from when the server counted the request."""
    out = {}
    for name, forms in _BUDGETS.items():
        for limit_key, remaining_key, reset_key in forms:
            remaining, reset = headers.get(remaining_key), headers.get(reset_key)
            try:
                left = float(remaining)
                limit = float(headers[limit_key]) if headers.get(limit_key) is not None else None
            except (TypeError, ValueError):
                continue
            secs = duration(str(reset)) if reset is not None else (60.0 if limit else None)
            if secs is not None:
                out[name] = (limit, left, secs, bool(re.search(r"\d{4}-\d\d-\d\d|,", str(reset or ""))))
                break
    return out


def _whole(w: float) -> float:
    """Servers count in whole seconds (per second, per 10 s, per minute): an estimate within 3% of
    a whole number of seconds is that number (the estimate errs by how late requests arrived)."""
    return float(round(w)) if w >= 1.0 and abs(w - round(w)) <= 0.03 * w else w


class Ticket:
    """One request's place: when it went out, and what it reserved of each budget."""

    def __init__(self, seq: int, costs: dict):
        self.seq, self.costs, self.sent = seq, costs, time.monotonic()

    def went_out(self) -> float:
        self.sent = time.monotonic()
        return self.sent


class Slack:
    """How much later than `sent + reset` a request's share counts as free: a margin, plus how much
    longer the request took than the quickest recent one (at most LATE): a new connection or a
    busy event loop delays when it reaches the server, and so when the server counted it. Once the
    connections are open (after the first `ceiling` requests), at most FRACTION of the reset: a
    slot held longer costs that share of the throughput, while a 429 now and then only grows the
    margin, as it does whenever a request arrived too early by a little (a timing error)."""

    def __init__(self, ceiling: int = 64):
        self.margin, self.ceiling = MARGIN, ceiling
        self.ages: collections.deque = collections.deque(maxlen=32)

    def of(self, age: float | None, reset: float, seq: int = 0) -> float:
        late = self.late(age)
        return self.margin + (late if seq <= self.ceiling else min(late, FRACTION * reset))

    def late(self, age: float | None) -> float:
        """How much later than the quickest recent request this one may have reached the server."""
        return min(LATE, max(0.0, age - min(self.ages))) if age is not None and self.ages else 0.0

    def early(self, by: float) -> None:
        self.margin = min(0.5, max(self.margin, by + MARGIN))


class Budget:
    """A budget the server states in headers, and what we hold of it. Two lower bounds of what is
    left, the larger is used (with one client on the key both hold):
    - own: the capacity less what we hold (in flight at what it reserved, answered at what it used
      until its reset): exact for a sliding window, where nothing comes back before its reset;
    - stated: the lowest `remaining` among the latest answers (the last admitted of a burst), less
      what we sent since and still hold: it sees a token bucket refill and settle before any reset."""

    def __init__(self, slack: Slack):
        self.slack = slack
        self.cap = 0.0  # the most it was seen to hold: remaining + what that request used
        self.limit: float | None = None  # per minute, as stated
        self.reset = 60.0  # the last reset stated, seconds
        self.held: list[tuple] = []  # answered: (sent + reset, age, used, sent, seq, received, reset)
        self.stated: list[tuple[float, float, float, int]] = []  # (remaining, sent, received, seq)

    def record(self, limit: float | None, remaining: float, secs: float, used: float, ticket: Ticket,
               now: float, at: bool = False) -> None:
        self.limit = limit if limit is not None else self.limit
        self.cap = max(self.cap, remaining + used)
        self.hold(secs, used, ticket, now, at)
        # an answer to a request sent after another answer came back supersedes that one
        self.stated = [x for x in self.stated if x[2] >= ticket.sent - BURST] + \
            [(remaining, ticket.sent, now, ticket.seq)]

    def hold(self, secs: float, used: float, ticket: Ticket, now: float, at: bool = False) -> None:
        """Hold `used` until the budget is full again: `secs` from now when the server said when
        (`at`), else `secs` after the request was sent (the server counted it when it admitted it)."""
        self.reset = secs
        if used > 0:
            self.held.append(((now if at else ticket.sent) + secs, now - ticket.sent, used, ticket.sent, ticket.seq,
                              now, secs))

    def _free_at(self, h: tuple) -> float:
        return max(h[5], h[0] + self.slack.of(h[1], h[6], h[4]))

    def holding(self, now: float) -> float:
        self.held = [h for h in self.held if self._free_at(h) > now]
        return sum(h[2] for h in self.held)

    def wait(self, need: float, in_flight: float, now: float) -> float:
        """0 when `need` more fits now; else seconds until answered requests free enough, or NEVER
        (only answers still in flight can free it)."""
        need = min(need, self.cap) - 1e-9
        own = self.cap - self.holding(now) - in_flight
        if own >= need:
            return 0.0
        low = min(self.stated) if self.stated else None
        unseen = {h[4] for h in self.held if low and h[4] != low[3] and h[3] > low[1] - BURST}
        stated = low[0] - in_flight - sum(h[2] for h in self.held if h[4] in unseen) if low else -math.inf
        if max(own, stated) >= need:
            return 0.0
        for free_at, h in sorted((self._free_at(h), h) for h in self.held):  # each frees its share
            own += h[2]
            stated += h[2] if h[4] in unseen else 0.0
            if max(own, stated) >= need:
                return free_at - now
        return NEVER


class Learned:
    """No rate-limit headers. Slow start until the first 429: after the first request, an initial
    window of requests; then one scout, alone once they are answered, which must come back before
    the next window, twice as many as were sent so far, goes out (a rate limit refuses all of a
    window sent into it; the scout finds the limit for one 429). Then the window learned from
    429s: at most n in any w seconds."""

    def __init__(self, ceiling: int, slack: Slack, paced: bool = False):
        self.ceiling, self.slack = max(1, ceiling), slack
        # slow start: to send before a scout (none when --rpm paces the run)
        self.allowance = NEVER if paced else min(INITIAL_WINDOW, self.ceiling) - 1
        self.scout: Ticket | None = None  # slow start: the scout in flight
        self.sent = 1  # slow start: sent so far, the first request included
        self.n: int | None = None  # learned: at most n admitted ...
        self.w: float | None = None  # ... in any w seconds (None after a 429 without retry-after)
        self.log: list[tuple[float, float, int]] = []  # admitted requests: (sent, age, seq), by send time
        self.streak = 0  # admitted since the last 429 episode
        self.episode = -NEVER  # when the current episode's first 429 came back
        self.first = self.last = -NEVER  # send times of the episode's first and latest 429s
        self.opens: float | None = None  # send clock: when the server said its window opens again
        self.before: tuple[int | None, float | None] = (None, None)  # (n, w) before the episode
        self.most: float | None = None  # never probed above this many per second (a stated limit)

    def _at(self, t: float) -> int:
        """How many logged requests were sent at or before `t`."""
        return bisect.bisect_right(self.log, (t, math.inf))

    def wait(self, now: float, in_flight) -> float:
        if self.n is None:  # the scout goes alone, after the window's answers: it reaches the server last
            return 0.0 if self.allowance > 0 or not in_flight else NEVER
        if self.w is None:  # a window still to be measured: one request at a time
            return 0.0 if not in_flight else NEVER
        # a request counts in the server's window until w after it was sent (and its slack)
        ends = [s + self.w + self.slack.of(age, self.w, seq) for s, age, seq in self.log[-4 * self.n - 8:]]
        ends = sorted(e for e in ends + [t.sent + self.w + self.slack.of(None, self.w) for t in in_flight] if e > now)
        return 0.0 if len(ends) < self.n else max(0.0, ends[len(ends) - self.n] - now)

    def admitted(self, ticket: Ticket, now: float) -> None:
        bisect.insort(self.log, (ticket.sent, now - ticket.sent, ticket.seq))
        keep = self._at(now - 2 * max(self.w or 0.0, 120.0))
        if keep:
            del self.log[:keep]
        if ticket.sent < self.episode:  # in flight when the episode began: it counts in that window
            self._learn()
        elif self.n is None:
            if ticket is self.scout:  # the scout went through: the next window is twice what was sent,
                # and past twice the concurrency the run is as fast as it goes: no more scouts
                self.scout, self.allowance = None, (self.sent if self.sent < 2 * self.ceiling else NEVER)
        elif self.w is None:  # the first to go through after a 429 without retry-after: the window
            i = self._at(self.last - 60.0)
            self.w = max(0.05, ticket.sent - (self.log[i][0] if i < len(self.log) else self.last))
        else:
            self.streak += 1
            if self.streak >= 2 * self.n and (self.most is None or self.n + 1 <= self.most * self.w + 1e-6):
                self.n, self.streak = self.n + 1, 0  # two clean windows: probe one more

    def took(self, ticket: Ticket) -> None:
        """A request goes out (the first one went out before this mode began)."""
        if self.n is None:
            self.sent += 1
            if self.allowance > 0:
                self.allowance -= 1
            else:
                self.scout = ticket

    def lost(self, ticket: Ticket) -> None:
        """A request failed otherwise than by a 429, or was cancelled: a lost scout is sent again."""
        if ticket is self.scout:
            self.scout = None

    def rejected(self, ticket: Ticket, retry_after: float | None, now: float) -> None:
        self.lost(ticket)
        if ticket.sent >= self.episode:  # sent after the last episode began: a new one
            if self.n is not None and self.w is not None and retry_after is not None \
                    and retry_after < min(1.0, 0.1 * self.w):
                # the window was about to open: sent a little early (a request of the last window
                # reached the server late), a timing error, not a smaller window: n stays
                self.slack.early(retry_after)
                self.streak = 0
                return
            self.episode, self.last, self.first, self.streak = now, ticket.sent, ticket.sent, 0
            self.before = (self.n, self.w)
            self.opens = self._opens(ticket, retry_after, now)
        else:
            self.last = max(self.last, ticket.sent)
            if self.opens is None and retry_after is not None:
                self.opens, self.first = self._opens(ticket, retry_after, now), ticket.sent
        self._learn()

    def _opens(self, ticket: Ticket, retry_after: float | None, now: float) -> float | None:
        """Send clock: when the server says its window opens again (counted from its refusal)."""
        return None if retry_after is None else ticket.sent + self.slack.late(now - ticket.sent) + retry_after

    def _learn(self) -> None:
        """n and w from the episode: the requests admitted in the window the server says is full."""
        n0, w0 = self.before
        upto = self.last + BURST  # sent in the same burst as the refused ones
        if w0 is not None:
            start = self.last - w0
        elif self.opens is not None:
            # the first window: its oldest request is the one whose slot opens when the server says;
            # a request older than it had left the window, so a gap of at least retry-after precedes it
            past = self.log[:self._at(upto)]
            ra = self.opens - self.first
            i = next((i for i in range(len(past) - 1, 0, -1) if past[i][0] - past[i - 1][0] >= 0.9 * ra), 0)
            start, age = past[i][:2] if past else (self.last, None)
            # the oldest may have reached the server late (a new connection): its slot opened later
            self.w = _whole(max(0.05, self.opens - start - self.slack.late(age)))
            start -= 1e-6
        else:
            start = self.last - 60.0
            self.w = None
        count = self._at(upto) - self._at(start)
        if n0 is None and count == 0:  # refused before anything was admitted: still nothing learned,
            self.n = self.w = None  # and the next request is a scout
            self.allowance = 0
            return
        # a 429 never raises n, and lowers it by half at most per episode (some 429s are not the window)
        self.n = max(1, count) if n0 is None else max(1, min(n0, max(count, n0 // 2)))
        if w0 is not None:
            self.w = w0
        if self.most and self.w:  # a quantized limit is the stated rate in slices: n per n / most seconds
            # (the window measured errs by when requests reached the server: a new connection's late)
            slice_ = self.n / self.most
            self.w = slice_ if abs(self.w - slice_) <= SNAP * slice_ else max(self.w, slice_)
