"""Shared per-conversation facts (Context), the job's expectations (Expect), the Verdict, the
reason codes and every threshold, in one place so a reviewer can tune them."""
from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import accumulate

from em_gen.library import Library
from em_gen.quality.irc import Parsed

# ---------------------------------------------------------------------------------------------
# Thresholds (documented here so a reviewer can tune them in one place)
# ---------------------------------------------------------------------------------------------
SHORT_WORDS = 3            # a message of at most this many words is a "fragment"
RAPID_FIRE_SHARE = 0.5     # rapid_fire when more than this share of all messages are fragments
# Walls of text, sentences first and words second (the plan: "standard messages: 2-4 sentences"):
# an Em message of more than WALL_SENTENCES sentences (and WALL_MIN_WORDS words) is a wall; one of
# up to WALL_SENTENCES is a wall only above max(WALL_WORDS, WALL_WORDS_PER_SENTENCE x its sentences)
# words: a one- or two-sentence run-on of 81 words is a wall, four sentences of 84-90 words are not.
WALL_SENTENCES = 4
WALL_MIN_WORDS = 30
WALL_WORDS = 80
WALL_WORDS_PER_SENTENCE = 30
STANDARD_SENTENCES = (2, 4)  # the plan's standard message, shown by --status as a share of Em's messages
MAX_MESSAGE_CHARS = 600    # any message longer than this is degenerate
TOTAL_BYTES_FACTOR = 4     # total text above this multiple of the bucket's typical bytes
MIN_OTHER_SPEAKERS = 3
MAX_NICK_LEN = 16
# Em speaking twice in a row: at most 1 back-to-back pair in a log of up to 40 messages,
# at most 3 in a longer one ("Em rarely speaks twice in a row").
EM_B2B_SHORT, EM_B2B_LONG, EM_B2B_SPLIT = 1, 3, 40
# Repeated lines (lowercased, outer " .,!?" stripped): a message of >= 4 words may not repeat in a
# log of up to 40 messages and may repeat once in a longer one; a short reaction ("lol", "same")
# may appear max(3, n // 10) times. An exact copy of the previous line is always rejected.
DUP_LONG_ALLOW_SHORT_LOG, DUP_LONG_ALLOW_LONG_LOG = 0, 1
BOUNDARY_WINDOW = 4        # Em's first reply within this many messages after a request
BOUNDARY_LONG_WORDS = 40   # an Em reply this long right after a request, without refusing

REASON_CODES = (
    "header", "header_mismatch",
    "em_absent", "participation_band",
    "assistant_language", "markdown", "code_block",
    "boundary_violation",
    "rapid_fire", "wall_of_text",
    "hallucinated_turn", "repetition_loop", "repeated_lines", "garbage_chars", "too_long",
    "continuation_lines", "dropped_lines", "empty_message",
    "bucket", "few_speakers", "bad_nicks", "em_back_to_back",
    "em_greeting", "em_followup_questions", "em_counsellor", "em_ai_disclaimer", "em_channel_policing",
    "em_political_refusal", "em_recap", "em_formal_register", "em_offer_then_refuse", "em_claims_human",
)


@dataclass
class Expect:
    """What the job asked for; None = unknown (e.g. validating a foreign file)."""
    engagement: str | None = None   # None -> use the header's value
    channel: str | None = None
    bucket: str | None = None       # key of lib.buckets(); None -> the count must fit some bucket
    messages: int | None = None     # requested counts (informational)
    em_messages: int | None = None


@dataclass
class Verdict:
    ok: bool
    reasons: list[str]
    stats: dict = field(default_factory=dict)

    @property
    def codes(self) -> list[str]:
        return [r.split(":", 1)[0] for r in self.reasons]


# ---------------------------------------------------------------------------------------------
# Shared per-conversation facts, computed once
# ---------------------------------------------------------------------------------------------
_WORD_PUNCT = str.maketrans({ch: " " for ch in "!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~"})


@dataclass
class Context:
    """Everything a rule needs, computed once per conversation (rules run on this, not on Parsed,
    so that the whole gate stays well under a millisecond: per-message Python work is kept to a
    few C-level calls, and the expensive regexes only run on messages a cheap test selected)."""
    parsed: Parsed
    lib: Library
    expect: Expect
    em: str
    nicks: list[str]
    texts: list[str]
    toks: list[list[str]]     # whitespace tokens of each message
    nwords: list[int]
    em_idx: list[int]
    level: str | None        # engagement level used for the band
    bucket: str | None       # bucket used for the length rules (expected, or the one that fits)
    buckets: dict
    joined: str = ""          # all message texts, one per line
    _lower: list[str] | None = None
    _lower_joined: str | None = None
    _em_unquoted: list | None = None  # phrases.em_lines
    _starts: list[int] | None = None
    _words: set[str] | None = None

    @classmethod
    def build(cls, parsed: Parsed, lib: Library, expect: Expect | None) -> "Context":
        expect = expect or Expect()
        em = lib.em
        msgs = parsed.messages
        if msgs:
            nicks, texts = map(list, zip(*msgs))
        else:
            nicks, texts = [], []
        toks = list(map(str.split, texts))
        nwords = list(map(len, toks))
        em_idx = [i for i, n in enumerate(nicks) if n == em]
        level = expect.engagement or parsed.engagement
        if level not in lib.mix["engagement"]:
            level = None
        buckets = lib.buckets()
        bucket = expect.bucket if expect.bucket in buckets else None
        if bucket is None and buckets:
            n = len(msgs)
            fits = [k for k, (lo, hi) in buckets.items() if lo <= n <= hi]
            # the bucket that fits, else the nearest one (for the size rules)
            bucket = fits[0] if fits else min(
                buckets, key=lambda k: min(abs(n - buckets[k][0]), abs(n - buckets[k][1])))
        return cls(parsed, lib, expect, em, nicks, texts, toks, nwords, em_idx, level, bucket, buckets,
                   "\n".join(texts))

    @property
    def n(self) -> int:
        return len(self.texts)

    @property
    def lower(self) -> list[str]:
        if self._lower is None:
            self._lower = list(map(str.lower, self.texts))
        return self._lower

    @property
    def lower_joined(self) -> str:
        if self._lower_joined is None:
            self._lower_joined = self.joined.lower()
        return self._lower_joined

    def msgs_with(self, keys, lower: bool = True) -> list[int]:
        """Indices of the messages that contain any of `keys` (substrings), found with str.find
        on the joined text instead of a Python loop over every message."""
        if self._starts is None:
            self._starts = _starts(self.texts)
        return _find_in(self.lower_joined if lower else self.joined, self._starts, keys)

    @property
    def words(self) -> set[str]:
        """The log's words: lowercased, punctuation removed."""
        if self._words is None:
            self._words = set(self.lower_joined.translate(_WORD_PUNCT).split())
        return self._words

    def long_log(self) -> bool:
        return self.n > EM_B2B_SPLIT


def _starts(texts: list[str]) -> list[int]:
    """Offsets of each text in "\n".join(texts)."""
    lens = list(map(len, texts))
    return [0] + list(accumulate(map((1).__add__, lens[:-1]))) if texts else []


def _find_in(joined: str, starts: list[int], keys) -> list[int]:
    n = len(starts)
    found: set[int] = set()
    for k in keys:
        j = joined.find(k)
        while j != -1:
            i = bisect_right(starts, j) - 1
            found.add(i)
            if i + 1 >= n:
                break
            j = joined.find(k, starts[i + 1])
    return sorted(found)


def _short(s: str, n: int = 60) -> str:
    s = s.replace("\n", " \\n ")
    return s if len(s) <= n else s[: n - 1] + "…"
