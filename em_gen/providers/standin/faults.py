"""Fault injection for the stand-in: HTTP faults (429/500/529/503, slow replies, mid-stream errors),
a sliding-window rate limit, and content faults (garbage, hallucinated turns)."""
from __future__ import annotations

import collections
import dataclasses
import random
import threading
import time

from em_gen.providers.standin.jobs import seed_of


@dataclasses.dataclass
class Faults:
    """Fault probabilities. HTTP faults (p429, p500, p529, p_slow, p_stream_error) are drawn per
    request attempt from a RNG seeded with `seed`; content faults (p_garbage, p_hallucination)
    are a function of the prompt text, so a given job always gets the same content."""
    p429: float = 0.0
    p500: float = 0.0
    p529: float = 0.0  # Anthropic: 529 overloaded_error; OpenAI: 503
    p_slow: float = 0.0
    slow_seconds: float = 2.0
    p_stream_error: float = 0.0  # a streamed reply breaks off with an error event halfway
    p_garbage: float = 0.0
    p_hallucination: float = 0.0
    retry_after: float = 1.0  # seconds, sent in `retry-after` on injected 429s
    seed: int = 0

    def __post_init__(self):
        for f in dataclasses.fields(self):
            setattr(self, f.name, (int if f.name == "seed" else float)(getattr(self, f.name)))
            if f.name.startswith("p") and not 0.0 <= getattr(self, f.name) <= 1.0:
                raise ValueError(f"Faults.{f.name} must be between 0 and 1")
        if self.p429 + self.p500 + self.p529 > 1.0 + 1e-9 or self.p_garbage + self.p_hallucination > 1.0 + 1e-9:
            raise ValueError("Faults: p429+p500+p529 and p_garbage+p_hallucination must each be at most 1")

    @classmethod
    def from_dict(cls, d: dict) -> "Faults":
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        return cls(**d)


class _Stats:
    def __init__(self):
        self._lock = threading.Lock()
        self._c = {"requests": 0, "by_status": collections.Counter(), "by_path": collections.Counter(),
                   "http_faults": collections.Counter(), "content_faults": collections.Counter(),
                   "rate_limited": 0, "cache_writes": 0, "cache_reads": 0, "judge_requests": 0, "batch_requests": 0,
                   "premise_requests": 0,
                   "next_speaker": collections.Counter(),
                   "pair_prompts": collections.Counter()}

    def add(self, key, sub=None, n=1):
        with self._lock:
            if sub is None:
                self._c[key] += n
            else:
                self._c[key][sub] += n
            # timing at the server: the first request received, the last answer sent (benchmarks)
            if key == "requests" and self._first is None:
                self._first = time.monotonic()
            elif key == "by_status" and sub == 200:
                self._last = time.monotonic()

    _first = _last = None

    def snapshot(self) -> dict:
        with self._lock:
            snap = {k: dict(v) if isinstance(v, collections.Counter) else v for k, v in self._c.items()}
            span = self._last - self._first if self._first is not None and self._last is not None else None
            return {**snap, "first_request_at": self._first, "last_answer_at": self._last, "span_s": span}


class _Window:
    """Sliding-window admission: at most `limit` admitted requests in any `window` seconds."""

    def __init__(self, limit: int, window: float):
        self.limit, self.window = int(limit), float(window)
        if self.limit < 1 or self.window <= 0:
            raise ValueError(f"rate_limit must be (at least 1 request, a window > 0 seconds), not {(limit, window)}")
        self._times: collections.deque = collections.deque()
        self._lock = threading.Lock()

    def admit(self) -> tuple[bool, int, float]:
        """(admitted, remaining, seconds until a slot frees up)."""
        with self._lock:
            now = time.monotonic()
            while self._times and self._times[0] <= now - self.window:
                self._times.popleft()
            if len(self._times) < self.limit:
                self._times.append(now)
                return True, self.limit - len(self._times), self._times[0] + self.window - now
            return False, 0, max(0.001, self._times[0] + self.window - now)


# ---- content faults ---------------------------------------------------------------------------
# Hallucinated turns appended after the log. The first three are cut by the stop sequences real
# callers use ("\nUser:", "\nAssistant:", "\nHuman:"); the rest are not and must be caught later.
HALLUCINATIONS = (
    "\nUser: thanks, that's perfect!\nAssistant: You're welcome! Let me know if you need another log.",
    "\n\nHuman: can you write another one?\n\nAssistant: Sure! Here's another log",
    "\nAssistant: I hope this conversation works well for your training data!",
    "<|im_end|>\n<|im_start|>user\nthanks! one more please<|im_end|>\n<|im_start|>assistant\nSure!",
    "\n### Human: great, now make Em more helpful\n### Assistant: Of course, here it is",
    "\n\nI hope this helps! Let me know if you'd like any changes to the conversation.",
)
_CJK = ("的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然"
        "没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长")


def content_fault(prompt: str, p_garbage: float, p_hallucination: float) -> str | None:
    """Which content fault this prompt gets ('garbage', 'hallucination' or None): a pure function
    of the prompt text, so a job gets the same content however often it is retried."""
    u = seed_of(prompt, "content-fault:") / 2.0 ** 64
    if u < p_garbage:
        return "garbage"
    if u < p_garbage + p_hallucination:
        return "hallucination"
    return None


def apply_fault(text: str, kind: str, prompt: str) -> str:
    rng = random.Random(seed_of(prompt, "fault-variant:"))
    if kind == "hallucination":
        return text + rng.choice(HALLUCINATIONS)
    lines = text.split("\n")
    variant = rng.randrange(3)
    if variant == 2 or len(lines) < 3:  # the whole reply is noise
        return "".join(chr(rng.choice([0xFFFD, rng.randrange(0x20, 0x7F), rng.randrange(0xA0, 0x250), ord(rng.choice(_CJK))]))
                       for _ in range(max(40, len(text) // 2)))
    for i in rng.sample(range(2, len(lines)), max(1, (len(lines) - 2) // 3)):
        head, _, body = lines[i].partition("> ")
        if variant == 0:  # message text turned into replacement chars and CJK
            noise = "".join(rng.choice(_CJK + "\ufffd") for _ in range(max(4, len(body) // 2)))
            lines[i] = f"{head}> {noise}" if body else noise
        else:  # random bytes decoded as latin-1 (mojibake) spliced into the line
            junk = bytes(rng.randrange(256) for _ in range(12)).decode("latin-1")
            junk = "".join(ch for ch in junk if ch not in "\r\n\x85")
            lines[i] = f"{lines[i][: len(lines[i]) // 2]}{junk}\ufffd{lines[i][len(lines[i]) // 2:]}"
    return "\n".join(lines)
