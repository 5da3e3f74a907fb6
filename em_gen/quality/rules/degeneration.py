"""Degeneration: `hallucinated_turn`, `repetition_loop`, `repeated_lines`, `garbage_chars`,
`too_long`, `continuation_lines`, `dropped_lines`, `empty_message`."""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from itertools import chain, compress
from operator import methodcaller

from em_gen.quality.rules.context import (
    DUP_LONG_ALLOW_LONG_LOG,
    DUP_LONG_ALLOW_SHORT_LOG,
    MAX_MESSAGE_CHARS,
    TOTAL_BYTES_FACTOR,
    Context,
    _short,
)

# ---------------------------------------------------------------------------------------------
# degeneration
# ---------------------------------------------------------------------------------------------
_ROLE_IN_TEXT = re.compile(
    r"(?:^|(?<=\s))(?:User|USER|Assistant|ASSISTANT|Human|HUMAN|System|SYSTEM)\s?:(?=\s|$)"
    r"|<\|[a-z_]+\|>|\[/?INST\]|</?s>|<(?:start|end)_of_turn>|###\s*(?:Instruction|Response|Input)",
    re.MULTILINE,
)
# every _ROLE_IN_TEXT match contains one of these
_ROLE_SPECIALS = ("<|", "INST]", "<s>", "</s>", "_of_turn>", "###")
_ROLE_WORDS_CASED = ("User", "USER", "Assistant", "ASSISTANT", "Human", "HUMAN", "System", "SYSTEM")
_LOOP_UNIT = re.compile(r"(.{3,40}?)\1{3,}", re.DOTALL)     # a 3..40 char unit repeated 4+ times
_LOOP_CHAR = re.compile(r"(.)\1{11,}")                       # one char 12+ times
_LOOP_PAIR = re.compile(r"(..)\1{7,}")                       # two chars 8+ times
_LONG_TOKEN = 12
_NONASCII = re.compile(r"[^\x00-\x7f]")
_ALLOWED_NONLETTER_CATS = {"Pd", "Pi", "Pf", "Po", "Ps", "Pe", "Pc", "Sc", "Sm", "Sk", "So", "Nd", "No", "Nl",
                           "Zs", "Mn", "Me"}
_STRIP_PUNCT = " .,!?;:'\"()-*~"
_STRIP_LINE = methodcaller("strip", " .,!?")


def _bad_char(ch: str) -> str | None:
    if ch == "\ufffd":
        return "U+FFFD replacement char"
    o = ord(ch)
    if o < 0x20 or 0x7f <= o < 0xa0:
        return f"control char U+{o:04X}"
    cat = unicodedata.category(ch)
    if cat in ("Co", "Cs", "Cn"):
        return f"private-use/unassigned char U+{o:04X}"
    if cat == "Cf":
        return None if o in (0x200D, 0xFE0F, 0x200B) else f"format char U+{o:04X}"
    if cat[0] == "L":
        name = unicodedata.name(ch, "")
        if name.startswith("LATIN") or name.startswith("GREEK"):
            return None
        return f"non-Latin letter {ch!r} ({name.split(' ')[0] or 'unknown'})"
    if cat in _ALLOWED_NONLETTER_CATS:
        return None
    return f"unexpected char U+{o:04X} ({cat})"


def _token_loop(w: list[str]) -> str | None:
    """A run of one token 4+ times, of a 2..5-token unit 3+ times, or a 3-gram 3+ times anywhere."""
    L = len(w)
    top = Counter(map(str.lower, w)).most_common(2)
    if top[0][1] < 4 and (len(top) < 2 or top[1][1] < 3):
        return None  # a run needs a token 4 times, a repeated unit or 3-gram two tokens 3 times each
    w = [x.lower().strip(_STRIP_PUNCT) or x for x in w]
    run = 1
    for i in range(1, L):
        run = run + 1 if w[i] == w[i - 1] else 1
        if run >= 4:
            return " ".join(w[i - 3: i + 1])
    for n in range(2, 6):
        for i in range(0, L - 3 * n + 1):
            if (w[i] == w[i + n] == w[i + 2 * n]
                    and w[i: i + n] == w[i + n: i + 2 * n] == w[i + 2 * n: i + 3 * n]):
                return " ".join(w[i: i + 3 * n])
    if L >= 12 and L - len(set(w)) >= 6:
        grams: dict = {}
        for g in zip(w, w[1:], w[2:]):
            k = grams[g] = grams.get(g, 0) + 1
            if k >= 3:
                return " ".join(g) + " (x3)"
    return None


def _char_loop(tok: str) -> str | None:
    m = _LOOP_CHAR.search(tok) or _LOOP_PAIR.search(tok) or _LOOP_UNIT.search(tok)
    return m.group(0) if m else None


def check_degeneration(c: Context) -> list[str]:
    out = []
    p = c.parsed
    texts, nicks, toks = c.texts, c.nicks, c.toks
    joined = c.joined
    n = c.n
    # hallucinated turns: the parser cut at a role marker; it matters when too little is left
    if p.truncated_at:
        lo = c.buckets[c.bucket][0] if c.bucket else 0
        if n < lo:
            out.append(f"hallucinated_turn: the model wrote a role marker {p.truncated_at!r}; the parser cut there "
                       f"and only {n} messages remain (bucket {c.bucket} needs {lo})")
    role_keys = [k for k in _ROLE_SPECIALS if k in joined]
    role_keys += [k for k in _ROLE_WORDS_CASED if k in joined]
    if role_keys:
        for i in c.msgs_with(role_keys, lower=False):
            t = texts[i]
            m = _ROLE_IN_TEXT.search(t)
            if m:
                out.append(f"hallucinated_turn: role marker {m.group(0)!r} inside message {i + 1} ({nicks[i]}): {_short(t)!r}")
                break
    # loops inside a message: token level (units with spaces) where a message repeats tokens,
    # char level inside long tokens (",333,333,...", "-----", "hahaha...")
    if n:
        dups = list(map(int.__sub__, c.nwords, map(len, map(set, toks))))
        cand = [i for i, d in enumerate(dups) if d >= 3]
        flat = list(chain.from_iterable(toks))
        lens = list(map(len, flat))
        looped: set[str] = set()
        if flat and max(lens) >= _LONG_TOKEN:
            # a token that is mostly repeats of a few characters
            longs = set(compress(flat, map(_LONG_TOKEN.__le__, lens)))
            looped = {t for t in longs if 2 * len(set(t)) <= len(t)}
        in_looped = set(c.msgs_with(looped, lower=False)) if looped else set()
        for i in sorted(in_looped.union(cand)):
            w = toks[i]
            loop = _token_loop(w) if dups[i] >= 3 else None
            if loop is None and i in in_looped:
                for tok in w:
                    if tok in looped:
                        loop = _char_loop(tok)
                        if loop:
                            break
            if loop:
                out.append(f"repetition_loop: message {i + 1} ({nicks[i]}) repeats itself: {_short(loop, 40)!r}")
                break
    # the same message across lines: exact consecutive copies, then normalised repeats
    msgs = p.messages
    if any(map(tuple.__eq__, msgs, msgs[1:])):
        i = next(i for i in range(1, n) if msgs[i] == msgs[i - 1])
        out.append(f"repeated_lines: message {i + 1} repeats the previous line exactly: <{nicks[i]}> {_short(texts[i], 40)!r}")
    counts = Counter(map(_STRIP_LINE, c.lower_joined.split("\n")))
    counts.pop("", None)
    if sum(counts.values()) > len(counts):
        long_dups = {k: v for k, v in counts.items() if v > 1 and k.count(" ") >= 3}
        long_extra = sum(v - 1 for v in long_dups.values())
        allow_long = DUP_LONG_ALLOW_LONG_LOG if c.long_log() else DUP_LONG_ALLOW_SHORT_LOG
        allow_short = max(3, n // 10)
        if long_extra > allow_long:
            worst = max(long_dups, key=long_dups.get)
            out.append(f"repeated_lines: {long_extra} repeated messages (allowed {allow_long}), e.g. "
                       f"{_short(worst, 40)!r} x{long_dups[worst]}")
        else:
            k, v = counts.most_common(1)[0]
            if v > allow_short:
                out.append(f"repeated_lines: {_short(k, 40)!r} appears {v} times (allowed {allow_short})")
    # garbage characters
    bad = None
    if joined.isascii():
        if not joined.replace("\n", " ").isprintable():
            ch = next(ch for ch in joined if ch != "\n" and not ch.isprintable())
            bad, pos = f"control char U+{ord(ch):04X}", joined.index(ch)
    else:
        for m in _NONASCII.finditer(joined):
            bad = _bad_char(m.group(0))
            if bad:
                pos = m.start()
                break
        if bad is None and not joined.replace("\n", " ").isprintable():
            for j, ch in enumerate(joined):
                if ch != "\n" and ord(ch) < 0x80 and not ch.isprintable():
                    bad, pos = f"control char U+{ord(ch):04X}", j
                    break
    if bad:
        out.append(f"garbage_chars: {bad} near {_short(joined[max(0, pos - 15): pos + 15], 40)!r}")
    # empty messages
    if n and min(c.nwords) == 0:
        i = c.nwords.index(0)
        out.append(f"empty_message: message {i + 1} ({nicks[i]}) is empty")
    # extreme lengths
    if c.n and max(map(len, texts)) > MAX_MESSAGE_CHARS:
        i = next(i for i, t in enumerate(texts) if len(t) > MAX_MESSAGE_CHARS)
        out.append(f"too_long: message {i + 1} ({nicks[i]}) has {len(texts[i])} chars (limit {MAX_MESSAGE_CHARS})")
    bpc = c.lib.mix.get("bytes_per_conversation", {}).get(c.bucket) if c.bucket else None
    if bpc:
        total = len(joined) + sum(map(len, nicks)) + 2 * c.n
        if total > TOTAL_BYTES_FACTOR * bpc:
            out.append(f"too_long: {total} chars of messages, over {TOTAL_BYTES_FACTOR}x the {c.bucket} "
                       f"bucket's typical {bpc}")
    # parser repairs
    if p.continuations > 0:
        i = next((i for i, t in enumerate(texts) if "\n" in t), None)
        where = f" (message {i + 1}, {nicks[i]}: {_short(texts[i], 40)!r})" if i is not None else ""
        out.append(f"continuation_lines: {p.continuations} line(s) glued onto messages{where}")
    if p.dropped:
        out.append(f"dropped_lines: {len(p.dropped)} non-message line(s) inside the log, e.g. {_short(p.dropped[0], 40)!r}")
    return out
