"""Header and shape: `header`, `header_mismatch`, `bucket`, `few_speakers`, `bad_nicks`,
`em_back_to_back`."""
from __future__ import annotations

import re

from em_gen.quality.rules.context import (
    EM_B2B_LONG,
    EM_B2B_SHORT,
    MAX_NICK_LEN,
    MIN_OTHER_SPEAKERS,
    Context,
)


# ---------------------------------------------------------------------------------------------
# header
# ---------------------------------------------------------------------------------------------
def check_header(c: Context) -> list[str]:
    lib, p, exp = c.lib, c.parsed, c.expect
    levels, channels = list(lib.mix["engagement"]), list(lib.mix["channels"])
    out = []
    raw = p.header_raw
    want = None
    if len(raw) != 2 or not raw[0].startswith("ENGAGEMENT") or not raw[1].startswith("CHANNEL"):
        out.append(f"header: expected 'ENGAGEMENT: <level>' then 'CHANNEL: <channel>', got {raw!r}")
    else:
        want = (f"ENGAGEMENT: {p.engagement}", f"CHANNEL: {p.channel}")
        if p.engagement not in levels:
            out.append(f"header: unknown engagement {p.engagement!r} (allowed {'|'.join(levels)})")
        elif p.channel not in channels:
            out.append(f"header: unknown channel {p.channel!r} (allowed {'|'.join(channels)})")
        elif tuple(raw) != want:
            out.append(f"header: not written exactly as {' / '.join(want)}: {raw!r}")
    if exp.engagement is not None and p.engagement is not None and p.engagement != exp.engagement:
        out.append(f"header_mismatch: header says ENGAGEMENT {p.engagement}, job asked for {exp.engagement}")
    if exp.channel is not None and p.channel is not None and p.channel != exp.channel:
        out.append(f"header_mismatch: header says CHANNEL {p.channel}, job asked for {exp.channel}")
    return out



# ---------------------------------------------------------------------------------------------
# shape
# ---------------------------------------------------------------------------------------------
_NICK_OK = re.compile(r"^[A-Za-z\[\]\\`_^{|}][A-Za-z0-9\[\]\\`_^{|}\-]*$")
_PLACEHOLDER = re.compile(
    # template names: "user1", "Speaker_A", "person", "guest42", a single letter, "a1"
    r"^(?:user|usr|person|speaker|member|nick|name|participant|guest|anon|anonymous|someone|other|"
    r"friend|player|char|character|npc)[_\-]?(?:\d+|[a-z])$"
    r"|^(?:person|speaker|participant|anonymous|someone|npc|guest|usr)$|^[a-z][_\-]?\d+$|^[a-z]$",
    re.IGNORECASE,
)
_ROLE_NICKS = {"user", "assistant", "human", "system", "ai", "bot", "model", "chatgpt", "gpt", "claude",
               "narrator", "moderator", "admin", "nickserv", "chanserv"}


def check_shape(c: Context) -> list[str]:
    out = []
    buckets = c.buckets
    n = c.n
    if c.expect.bucket is not None and c.expect.bucket in buckets:
        lo, hi = buckets[c.expect.bucket]
        if not lo <= n <= hi:
            out.append(f"bucket: {n} messages, the {c.expect.bucket} bucket is {lo}-{hi}")
    elif not any(lo <= n <= hi for lo, hi in buckets.values()):
        desc = ", ".join(f"{k} {lo}-{hi}" for k, (lo, hi) in buckets.items())
        out.append(f"bucket: {n} messages fits no length bucket ({desc})")
    others = {x for x in c.nicks if x != c.em}
    if len(others) < MIN_OTHER_SPEAKERS:
        out.append(f"few_speakers: {len(others)} other speaker(s) besides {c.em} (need {MIN_OTHER_SPEAKERS})")
    bad = []
    for x in dict.fromkeys(c.nicks):
        if x == c.em:
            continue
        if (len(x) > MAX_NICK_LEN or not _NICK_OK.match(x) or x.lower() in _ROLE_NICKS
                or _PLACEHOLDER.match(x) or x.lower() == c.em.lower()):
            bad.append(x)
    if bad:
        out.append(f"bad_nicks: {', '.join(repr(b) for b in bad[:5])}")
    b2b = sum(1 for a, b in zip(c.nicks, c.nicks[1:]) if a == b == c.em)
    allow = EM_B2B_LONG if c.long_log() else EM_B2B_SHORT
    if b2b > allow:
        out.append(f"em_back_to_back: {c.em} speaks twice in a row {b2b} times (allowed {allow} in a "
                   f"{'long' if c.long_log() else 'short'} log)")
    return out
