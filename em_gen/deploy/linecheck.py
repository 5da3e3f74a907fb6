"""One line Em is about to post, through the same rules as the training data.

The rules judge whole conversations; a live line is judged in its context: the rules run on the
recent log with and without the candidate as Em's next message, and every reason the candidate adds
is the candidate's fault (assistant language, markdown, code, a boundary slip after a request, a wall
of text, a role marker, a loop, a repeated line, garbage characters, an over-long message, the
character-phrase families). Rules about a whole conversation's shape (header, participation band,
length bucket, speaker count, back-to-back counts, rapid fire) say nothing about one line and are
left out: the participation band is what the model and the hard caps steer.

Then the IRC limits: one line (cut at the first newline), and within the 512-byte line the server
relays (`:nick!user@host PRIVMSG #channel :text\\r\\n`), cut at a word boundary.
"""
from __future__ import annotations

from dataclasses import dataclass

from em_gen.library import Library
from em_gen.quality.irc import Parsed
from em_gen.quality.rules import CHECKS, Context, Expect

# conversation-level codes: no single line is to blame for them
NOT_LINE_CODES = frozenset({
    "header", "header_mismatch", "em_absent", "participation_band", "rapid_fire", "bucket", "few_speakers",
    "bad_nicks", "em_back_to_back", "continuation_lines", "dropped_lines",
})
IRC_LINE_BYTES = 512
HOSTMASK_ALLOWANCE = 74  # "!" + user (10) + "@" + host (63): the part of the relayed prefix we cannot see


@dataclass
class LineVerdict:
    text: str  # the line as it would be posted (first line only, within the byte limit)
    ok: bool
    reasons: list[str]
    trimmed: bool = False  # cut at a newline or at the byte limit


def byte_budget(nick: str, channel: str) -> int:
    """Bytes of message text that fit in one relayed line."""
    overhead = len(f":{nick}".encode()) + HOSTMASK_ALLOWANCE + len(f" PRIVMSG {channel} :".encode()) + 2
    return IRC_LINE_BYTES - overhead


def fit_bytes(text: str, limit: int) -> tuple[str, bool]:
    """`text` cut to at most `limit` UTF-8 bytes, at the last space when there is one in the last
    third, never inside a character."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text, False
    cut = data[:limit].decode("utf-8", "ignore")
    space = cut.rfind(" ")
    if space >= len(cut) * 2 // 3:
        cut = cut[:space]
    return cut.rstrip(), True


def _reasons(lib: Library, engagement: str, channel: str, messages: list[tuple[str, str]]) -> list[str]:
    p = Parsed(engagement=engagement, channel=channel,
               header_raw=[f"ENGAGEMENT: {engagement}", f"CHANNEL: {channel}"], messages=messages)
    c = Context.build(p, lib, Expect(engagement=engagement))
    out: list[str] = []
    for _name, fn in CHECKS:
        out.extend(fn(c))
    return out


def check_line(lib: Library, engagement: str, header: str, context: list[tuple[str, str]], raw: str,
               nick: str, channel: str | None = None) -> LineVerdict:
    """The candidate `raw` (the model's text after `<Em>`) as Em's next line after `context`, in a
    log whose header says `header`; `channel` is the IRC channel it goes to (default `header`)."""
    first, _, rest = raw.lstrip(" ").partition("\n")
    text = first.strip()
    trimmed = bool(rest.strip())
    text, cut = fit_bytes(text, byte_budget(nick, channel or header))
    trimmed = trimmed or cut
    if not text:
        return LineVerdict("", False, ["empty_message: the model's line for Em is empty"], trimmed)
    em = lib.em
    before = set(_reasons(lib, engagement, header, context))
    after = _reasons(lib, engagement, header, context + [(em, text)])
    new = [r for r in after if r not in before and r.split(":", 1)[0] not in NOT_LINE_CODES
           and not (r.startswith("too_long:") and not r.startswith("too_long: message"))]  # the log's total size
    return LineVerdict(text, not new, new, trimmed)
