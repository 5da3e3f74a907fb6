"""What `em-gen irc` is told: the server, the channels with their engagement, the operators.

Channel spec: `#name=LEVEL` (LEVEL one of the library's engagement levels, e.g. LOW/MEDIUM/HIGH), or
`#name=#header=LEVEL` to give the prompt's CHANNEL header a trained channel's name (`#python=#general=LOW`).
A channel name starts with `#` or `&`, is at most 50 bytes and has no space, comma, BEL or control
character (RFC 2812 section 1.3).

Operators file (YAML):

    operators:
      - "alice!*@203.0.113.7"     # a nick!user@host mask (shell-style * and ?), case-insensitive
      - "bob!~bob@*.example.org"
      - "carol"                   # a bare nick: trusts whoever holds the nick (only where services
                                  # enforce nick ownership)
      - "account:dave"            # a services account, from the IRCv3 account-tag of the message
                                  # (em-gen asks for the capability; without it this never matches)

Only these people's private messages are read as commands; everyone else's are ignored and logged.
"""
from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path

from em_gen.library import BadInput, Library, load_yaml

_CHANNEL = re.compile(r"^[#&][^\x00\x07\r\n ,:]{1,49}$")


def check_channel(name: str, flag: str = "--channel") -> str:
    if not _CHANNEL.match(name) or len(name.encode("utf-8")) > 50:
        raise BadInput(f"{flag}: {name!r} is not an IRC channel name (starts with # or &, at most 50 bytes, "
                       "no spaces, commas or control characters)")
    return name


def parse_channel(spec: str, lib: Library, flag: str = "--channel") -> tuple[str, str, str]:
    """`#name=LEVEL` or `#name=#header=LEVEL` -> (channel, the CHANNEL header's name, LEVEL).

    The header names the channel as the model was trained on it (#general, #shoggoth, #culture-war);
    by default it is the channel's own name."""
    left, sep, level = spec.rpartition("=")
    if not sep:
        raise BadInput(f"{flag}: {spec!r}: expected '#name=LEVEL' or '#name=#header=LEVEL', e.g. '#general=LOW'")
    name, sep2, header = left.partition("=")
    check_channel(name, flag)
    if sep2:
        check_channel(header, flag)
    else:
        header = name
    level = level.strip().upper()
    levels = list(lib.mix["engagement"])
    if level not in levels:
        raise BadInput(f"{flag}: {spec!r}: engagement {level or '(empty)'!r} is not one of {', '.join(levels)}")
    return name, header, level


def parse_server(text: str, tls: bool) -> tuple[str, int]:
    host, sep, port = text.rpartition(":") if text.count(":") == 1 else (text, "", "")
    if not sep:
        host, port = text, ""
    if not host or " " in host:
        raise BadInput(f"--server: {text!r} is not HOST[:PORT]")
    if not port:
        return host, 6697 if tls else 6667
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise BadInput(f"--server: {text!r}: port {port!r} is not a number from 1 to 65535")
    return host, int(port)


@dataclass
class Operators:
    masks: list[str] = field(default_factory=list)

    def allows(self, source: str, account: str | None = None) -> bool:
        """Is `nick!user@host` (logged in to services as `account`, if the server says) an operator?"""
        src = source.lower()
        nick = src.split("!", 1)[0]
        for m in self.masks:
            m = m.lower()
            if m.startswith("account:"):
                if account and account not in ("*", "0") and account.lower() == m[len("account:"):]:
                    return True
            elif "!" in m or "@" in m:
                if fnmatch.fnmatchcase(src, m):
                    return True
            elif nick == m:
                return True
        return False


def load_operators(path: str | None) -> Operators:
    if path is None:
        return Operators()
    p = Path(path)
    if not p.is_file():
        raise BadInput(f"--operators {path}: no such file")
    data = load_yaml(p)
    ops = data.get("operators") if isinstance(data, dict) else None
    if not isinstance(ops, list) or not all(isinstance(x, str) and x.strip() for x in ops):
        raise BadInput(f"{path}: $.operators: expected a list of nick!user@host masks or nicks")
    return Operators([x.strip() for x in ops])
