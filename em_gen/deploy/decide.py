"""When Em speaks: per-channel state, the prompt, the next-speaker question and the hard caps.

The prompt is what the training export renders (`em_gen.quality.irc.render`, the text of every
`completion` sample): `ENGAGEMENT: LEVEL`, `CHANNEL: #name`, then the most recent `<nick> message`
lines that fit the context budget (oldest dropped first), and a newline. The target continues the
log; the nick of its first line is the predicted next speaker. Only `<Em>` makes Em speak. The
line is cut at the first newline, fitted into IRC's 512 bytes and checked by the training data's
rules (linecheck.py); then the hard caps hold whatever the model said: at most `per_minute` Em lines
per channel per rolling minute, never three Em lines in a row. Em's own lines are in the log as
`<Em>`, whatever nick the server gave it.
"""
from __future__ import annotations

import collections
import math
import re
import threading
import time
from dataclasses import dataclass, field

from em_gen.deploy.linecheck import check_line
from em_gen.library import Library
from em_gen.quality.irc import render

_FIRST = re.compile(r"^<\s*[@+%&~]?([^<>\s]{1,32})\s*>(?: (.*))?$")
MAX_LOG = 2000  # lines kept per channel (the prompt takes the tail that fits the budget)


@dataclass
class Caps:
    per_minute: int = 4
    max_run: int = 2  # Em lines in a row; the model is never allowed a third


@dataclass
class ChannelState:
    name: str
    engagement: str
    muted: bool = False
    header: str = ""  # the CHANNEL header's name (default: the channel's own)
    log: collections.deque = field(default_factory=lambda: collections.deque(maxlen=MAX_LOG))  # (seq, speaker, text)
    em_times: collections.deque = field(default_factory=collections.deque)
    seq: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self):
        self.header = self.header or self.name

    def add(self, speaker: str, text: str) -> int:
        with self.lock:
            self.seq += 1
            self.log.append((self.seq, speaker, text))
            return self.seq

    def snapshot(self) -> tuple[int, list[tuple[str, str]], str, bool]:
        with self.lock:
            return self.seq, [(s, t) for _, s, t in self.log], self.engagement, self.muted


def em_run(messages: list[tuple[str, str]], em: str) -> int:
    n = 0
    for speaker, _ in reversed(messages):
        if speaker != em:
            break
        n += 1
    return n


class TokenBudget:
    """Counts tokens with a real tokenizer when one is given, else about 3 bytes a token (an
    over-estimate for English on Mistral's tokenizers, so the prompt never overflows)."""

    def __init__(self, counter=None):
        self.counter = counter

    def count(self, text: str) -> int:
        if self.counter is not None:
            return len(self.counter.encode(text))
        return math.ceil(len(text.encode("utf-8")) / 3)


def render_prompt(engagement: str, channel: str, messages: list[tuple[str, str]], budget: int,
                  tokens: TokenBudget) -> tuple[str, int, int]:
    """(prompt, lines kept, prompt tokens): the header and the newest lines within `budget` tokens."""
    head = render(engagement, channel, []) + "\n"
    used = tokens.count(head)
    kept: list[tuple[str, str]] = []
    for nick, text in reversed(messages):
        cost = tokens.count(f"<{nick}> {text}\n")
        if used + cost > budget:
            break
        kept.append((nick, text))
        used += cost
    kept.reverse()
    return render(engagement, channel, kept) + "\n", len(kept), used


def next_line(continuation: str) -> tuple[str | None, str]:
    """(predicted speaker, the rest of the model's text after its tag) from a continuation."""
    text = continuation.lstrip("\n\r ")
    first, nl, rest = text.partition("\n")
    m = _FIRST.match(first.rstrip("\r"))
    if not m:
        return None, ""
    return m.group(1), (m.group(2) or "") + (nl + rest if nl else "")


class Decider:
    """Asks the target after a channel line and says what Em does. `post(channel, text)` sends;
    every decision is written to the transcript before Em's line is sent."""

    def __init__(self, lib: Library, target, transcript, *, context_tokens: int = 4096, max_tokens: int = 120,
                 temperature: float = 0.8, top_p: float = 0.95, caps: Caps | None = None,
                 tokens: TokenBudget | None = None, clock=time.monotonic):
        self.lib, self.target, self.transcript = lib, target, transcript
        self.context_tokens, self.max_tokens = context_tokens, max_tokens
        self.temperature, self.top_p = temperature, top_p
        self.caps = caps or Caps()
        self.tokens = tokens or TokenBudget()
        self.clock = clock
        self._seed = 0

    def _flood_full(self, st: ChannelState) -> bool:
        now = self.clock()
        while st.em_times and now - st.em_times[0] >= 60.0:
            st.em_times.popleft()
        return len(st.em_times) >= self.caps.per_minute

    def decide(self, st: ChannelState, nick: str, post) -> dict:
        em = self.lib.em
        trigger, messages, engagement, muted = st.snapshot()
        rec = {"channel": st.name, "trigger": trigger, "engagement": engagement, "muted": muted, "asked": False,
               "predicted": None, "candidate": None, "outcome": "skipped", "reasons": [], "latency_s": None,
               "context_lines": 0, "prompt_tokens": 0}
        if muted:
            rec["reasons"] = ["muted"]
            return self.transcript.write("decision", **rec)
        budget = max(256, self.context_tokens - self.max_tokens)
        prompt, rec["context_lines"], rec["prompt_tokens"] = render_prompt(engagement, st.header, messages, budget,
                                                                           self.tokens)
        self._seed += 1
        t0 = self.clock()
        try:
            comp = self.target.generate([prompt], 1, self.max_tokens, self.temperature, self.top_p, self._seed)[0][0]
        except Exception as e:  # noqa: BLE001 - an endpoint down must not take Em out of the channel
            rec.update(asked=True, outcome="error", latency_s=round(self.clock() - t0, 4),
                       reasons=[f"target_error: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"])
            return self.transcript.write("decision", **rec)
        rec.update(asked=True, latency_s=round(self.clock() - t0, 4))
        speaker, raw = next_line(comp.text)
        rec["predicted"] = speaker
        if speaker != em:
            rec["outcome"] = "silent"
            if speaker is None:
                rec["reasons"] = ["unreadable: the continuation does not start with a <nick> line"]
            return self.transcript.write("decision", **rec)
        context = [(s, t) for s, t in messages[-rec["context_lines"]:]] if rec["context_lines"] else []
        verdict = check_line(self.lib, engagement, st.header, context, raw, nick, channel=st.name)
        rec["candidate"] = verdict.text
        with st.lock:
            stale = st.seq != trigger
            reasons = list(verdict.reasons)
            if em_run(messages, em) >= self.caps.max_run:
                reasons.append(f"three_in_a_row: Em already wrote the last {self.caps.max_run} lines")
            if self._flood_full(st):
                reasons.append(f"flood_cap: {self.caps.per_minute} Em lines in the last minute in {st.name}")
            if st.muted and not muted:
                reasons.append("muted")
            if not reasons and stale:
                rec["outcome"] = "stale"
                rec["reasons"] = ["stale: new lines arrived while the model was answering"]
                return self.transcript.write("decision", **rec)
            if reasons:
                rec.update(outcome="suppressed", reasons=reasons)
                return self.transcript.write("decision", **rec)
            rec["outcome"] = "posted"
            rec["trimmed"] = verdict.trimmed
            st.em_times.append(self.clock())
            st.seq += 1
            st.log.append((st.seq, em, verdict.text))
            seq = st.seq
        out = self.transcript.write("decision", **rec)
        self.transcript.write("line", channel=st.name, seq=seq, nick=nick, speaker=em, text=verdict.text)
        post(st.name, verdict.text)
        return out


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    v = sorted(values)
    k = (len(v) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)
