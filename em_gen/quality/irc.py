"""Raw model text -> header + messages [(nick, text)].

Accepts the variants teacher models produce (wrapping code fences, a sentence of prose before the
log, `[12:01]` timestamps, `nick: message` lines, IRC mode prefixes like `<@nick>`), and truncates
at the first hallucinated role marker (`User:`, `Assistant:`, `<|im_start|>` ...). Nothing here
judges quality: that is checks.py. The parser only records what it had to do (`truncated_at`,
`dropped`, `continuations`, `trailing`) so the checks can decide.

Lines that are not messages: directly under a message (no blank line between) they are glued onto
it as continuation lines (wrapped prose, a list, a code block); after a blank line or a fence they
are held, and glued only if another message follows; if the log ends instead they are the
teacher's closing remarks or closing fence and go to `trailing`, outside every message.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

ROLE_WORDS = ("user", "assistant", "human", "system", "ai", "bot", "model")
# A role marker at the start of a line, e.g. "User:", "### Assistant", "**Human:**".
_ROLE_LINE = re.compile(
    r"^\s*(?:#{1,6}\s*|\*\*|>\s*)?\[?(?:%s)\]?\s*(?:\*\*)?\s*:" % "|".join(ROLE_WORDS), re.IGNORECASE
)
# Chat-template tokens anywhere in a line.
_TEMPLATE_TOKEN = re.compile(
    r"<\|(?:im_start|im_end|endoftext|eot_id|start_header_id|end_header_id|user|assistant|system)\|>"
    r"|\[/?INST\]|</s>|<s>|<start_of_turn>|<end_of_turn>"
)
_HEADER_ENG = re.compile(r"^\s*\**\s*ENGAGEMENT\s*:\s*\**\s*(\S+?)\s*\**\s*$", re.IGNORECASE)
_HEADER_CHAN = re.compile(r"^\s*\**\s*CHANNEL\s*:\s*\**\s*(\S+?)\s*\**\s*$", re.IGNORECASE)
_TIMESTAMP = re.compile(
    r"^\s*(?:\[\s*(?:\d{4}-\d{2}-\d{2}[ T])?\d{1,2}:\d{2}(?::\d{2})?\s*\]"
    r"|\(?(?:\d{4}-\d{2}-\d{2}[ T])?\d{1,2}:\d{2}(?::\d{2})?\)?)\s*"
)
_ANGLE = re.compile(r"^<\s*[@+%&~]?([^<>\s]{1,32})\s*>\s?(.*)$")
_COLON = re.compile(r"^([A-Za-z_\[\]`^{}|][A-Za-z0-9_\-\[\]`^{}|]{0,31}):\s+(\S.*)$")
_FENCE = re.compile(r"^\s*```")


@dataclass
class Parsed:
    engagement: str | None = None
    channel: str | None = None
    header_raw: list[str] = field(default_factory=list)  # the header lines as written
    messages: list[tuple[str, str]] = field(default_factory=list)
    truncated_at: str | None = None  # the role marker we cut at, if any
    dropped: list[str] = field(default_factory=list)  # non-message lines inside the log
    continuations: int = 0  # lines glued onto the previous message (wrapped text, lists, code)
    trailing: list[str] = field(default_factory=list)  # prose after the log (after a blank line or fence)

    def text(self) -> str:
        return render(self.engagement or "", self.channel or "", self.messages)


_FOLD = str.maketrans("[]\\~", "{}|^")


def nick_key(nick: str | None) -> str | None:
    """A nick as IRC compares it (RFC 1459 case mapping: case-insensitive, `[]\\~` = `{}|^`), so
    `<em>` and `<Em>` are the same speaker."""
    return None if nick is None else nick.lower().translate(_FOLD)


def same_nick(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and nick_key(a) == nick_key(b)


def render(engagement: str, channel: str, messages: list[tuple[str, str]]) -> str:
    """The canonical training text: the seed's two header lines, then `<nick> message` lines."""
    lines = [f"ENGAGEMENT: {engagement}", f"CHANNEL: {channel}"]
    lines.extend(f"<{n}> {t}" for n, t in messages)
    return "\n".join(lines)


def _role_marker(line: str) -> str | None:
    m = _TEMPLATE_TOKEN.search(line)
    if m:
        return m.group(0)
    m = _ROLE_LINE.match(line)
    if m:
        return m.group(0).strip()
    m = _ANGLE.match(line.strip())
    if m and m.group(1).lower() in ROLE_WORDS:
        return f"<{m.group(1)}>"
    return None


def _message(line: str, colon_ok: bool = True) -> tuple[str, str] | None:
    s = _TIMESTAMP.sub("", line.strip(), count=1)
    m = _ANGLE.match(s)
    if m:
        return m.group(1), m.group(2).strip()
    m = _COLON.match(s) if colon_ok else None
    if m and m.group(1).upper() not in ("ENGAGEMENT", "CHANNEL", "NOTE", "HTTP", "HTTPS"):
        return m.group(1), m.group(2).strip()
    return None


def _glue(p: Parsed, line: str) -> None:
    if p.messages:
        n, t = p.messages[-1]
        p.messages[-1] = (n, t + "\n" + line)
        p.continuations += 1
    else:
        p.dropped.append(line)


def parse(raw: str) -> Parsed:
    p = Parsed()
    lines = raw.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    started = False  # inside the log (header or first message seen)
    # Non-message lines after a blank line or a fence, held until we know whether the log goes on
    # (then they were part of it: glued onto the previous message) or ends (then they are the
    # teacher's closing remarks or a closing fence: `trailing`, not part of any message).
    pending: list[str] = []
    gap = False  # a blank line or fence was seen since the last message
    for line in lines:
        marker = _role_marker(line)
        if marker:
            if started:
                # keep what came before the marker on this line, if it is a message
                cut = line[: line.find(marker)] if marker in line else ""
                msg = _message(cut) if cut.strip() else None
                if msg and msg[1]:
                    for pl in pending:  # the log went on up to the marker
                        _glue(p, pl)
                    pending = []
                    p.messages.append(msg)
                p.truncated_at = marker
                break
            continue  # a role label before the log (e.g. "Assistant:" preamble): skip it
        if not line.strip():
            if started:
                gap = True
            continue
        if p.engagement is None and not p.messages:
            m = _HEADER_ENG.match(line)
            if m:
                p.engagement, started = m.group(1).upper(), True
                p.header_raw.append(line.strip())
                continue
        if p.channel is None and not p.messages:
            m = _HEADER_CHAN.match(line)
            if m:
                p.channel, started = m.group(1).lower(), True
                p.header_raw.append(line.strip())
                continue
        # before the log starts only `<nick>` lines open it, so "Sure: here it is" stays prose
        msg = _message(line, colon_ok=started)
        if msg:
            started = True
            for pl in pending:  # the log went on: what we held was inside it
                _glue(p, pl)
            pending, gap = [], False
            p.messages.append(msg)
            continue
        if not started:
            continue  # prose or a fence before the log
        if _FENCE.match(line):
            gap = True
            if p.messages:
                pending.append(line.strip())
            continue
        if gap:
            pending.append(line.strip())
        elif p.messages:
            _glue(p, line.strip())
        else:
            p.dropped.append(line.strip())
    # what is still held after the last message ends the log: a closing fence, closing remarks
    p.trailing = pending
    return p
