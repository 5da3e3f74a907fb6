"""Channel logs in, `(channel, nick, text, engagement)` lines out, for `em-gen --import-logs`.

Formats (only channel messages are kept; joins, parts, modes, notices and /me actions are not
messages of the training format and are counted as skipped):

    transcript  em-gen irc's own JSONL: `line` records, the engagement in force from its `start` and
                `control` records; Em's lines are those with speaker "Em"
    weechat     `2024-05-01 12:00:01<TAB>@nick<TAB>message` (logger plugin); file irc.NET.#chan.weechatlog
    irssi       `12:00 <@nick> message` / `12:00:01 < nick> message`; file #chan.log or NET/#chan.log
    znc         `[12:00:01] <nick> message` (log module); file NET_#chan_20240501.log or #chan/2024-05-01.log

A transcript names each channel's engagement (as it changed) and prompt header itself. The channel of
a weechat/irssi/znc file comes from its path (the part from `#` up to the date or the
extension); the engagement level from `--channel '#chan=LEVEL'`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from em_gen.deploy.transcript import read_transcript
from em_gen.library import BadInput

FORMATS = ("transcript", "weechat", "irssi", "znc")
_MODES = "@+%&~!"
_WEECHAT = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\t([^\t]*)\t(.*)$")
_IRSSI = re.compile(r"^\d{2}:\d{2}(?::\d{2})? <[ @+%&~!]?([^<>\s]+)> ?(.*)$")
_ZNC = re.compile(r"^\[\d{2}:\d{2}(?::\d{2})?\] <[@+%&~!]?([^<>\s]+)> ?(.*)$")
_NICK = re.compile(r"^[A-Za-z_\[\]\\`^{}|][A-Za-z0-9_\-\[\]\\`^{}|]{0,31}$")
_CHANNEL_IN_NAME = re.compile(r"([#&][^/\\\s,]+?)(?:_\d{8})?(?:\.weechatlog|\.log|\.txt)?$")


@dataclass
class Line:
    channel: str
    nick: str
    text: str
    engagement: str | None  # from a transcript; None for foreign logs (the caller's --channel gives it)
    em: bool  # written by Em (transcript speaker "Em", or Em's nick in a foreign log)
    header: str | None = None  # the CHANNEL header Em's prompt used (transcripts)


@dataclass
class LogFile:
    path: str
    lines: list[Line]
    skipped: int  # non-message lines


def guess_channel(path: Path) -> str | None:
    for part in (path.name, path.parent.name, path.parent.parent.name):
        i = part.find("#")
        if i < 0:
            i = part.find("&")
        if i >= 0:
            m = _CHANNEL_IN_NAME.match(part[i:])
            if m:
                return m.group(1)
    return None


def _foreign(path: Path, fmt: str, em_nicks: set[str]) -> LogFile:
    channel = guess_channel(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise BadInput(f"--import-logs {path}: no such file") from None
    except IsADirectoryError:
        raise BadInput(f"--import-logs {path}: is a folder; name the log files") from None
    lines, skipped, seen_message = [], 0, False
    for raw in text.splitlines():
        raw = raw.rstrip("\r")
        if not raw.strip():
            continue
        nick = msg = None
        if fmt == "weechat":
            m = _WEECHAT.match(raw)
            if m:
                prefix = m.group(1).lstrip(_MODES)
                if _NICK.match(prefix):  # "-->", "<--", "--", " *" and friends are not nicks
                    nick, msg = prefix, m.group(2)
        else:
            m = (_IRSSI if fmt == "irssi" else _ZNC).match(raw)
            if m:
                nick, msg = m.group(1).lstrip(_MODES), m.group(2)
        if nick is None or not _NICK.match(nick):
            skipped += 1
            continue
        seen_message = True
        lines.append(Line(channel or "?", nick, msg.strip(), None, nick.lower() in em_nicks))
    if not seen_message and text.strip():
        raise BadInput(f"--import-logs {path}: no {fmt} message lines in it (is --format right?)")
    return LogFile(str(path), lines, skipped)


def _transcript(path: Path, em: str) -> LogFile:
    level: dict[str, str] = {}
    header: dict[str, str] = {}
    lines, skipped = [], 0
    for r in read_transcript(path):
        k = r["kind"]
        if k == "start":
            level.update(r.get("channels") or {})
            header.update(r.get("headers") or {})
        elif k == "control":
            for ch, change in (r.get("changed") or {}).items():
                if "engagement" in change:
                    level[ch] = change["engagement"]
        elif k == "line":
            ch = r.get("channel")
            if not isinstance(ch, str) or not isinstance(r.get("text"), str):
                skipped += 1
                continue
            is_em = r.get("speaker") == em
            lines.append(Line(ch, em if is_em else str(r.get("nick") or r.get("speaker")), r["text"].strip(),
                              level.get(ch), is_em, header.get(ch)))
    return LogFile(str(path), lines, skipped)


def read_log(path: str | Path, fmt: str, em: str, em_nick: str | None = None) -> LogFile:
    if fmt not in FORMATS:
        raise BadInput(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    p = Path(path)
    if fmt == "transcript":
        return _transcript(p, em)
    base = (em_nick or em).lower()
    return _foreign(p, fmt, {base, base + "_", base + "__", base + "`"})
