"""The plan's runtime controls, by private message from an operator (config.Operators):

    engagement #channel LOW|MEDIUM|HIGH   the channel's ENGAGEMENT header from the next decision on
    mute [#channel]                       Em stays silent (in every channel without one)
    unmute [#channel]
    status                                each channel's engagement and mute state

There is no command that makes Em say anything. Everyone else's private messages are ignored (and
logged in the transcript); the operator gets a NOTICE back, nobody else gets an answer.
"""
from __future__ import annotations

from em_gen.deploy.decide import ChannelState


def _find(channels: dict[str, ChannelState], name: str) -> ChannelState | None:
    for k, st in channels.items():
        if k.lower() == name.lower():
            return st
    return None


def run_command(text: str, channels: dict[str, ChannelState], levels: list[str]) -> tuple[str, dict]:
    """Apply one operator command; (the answer, what changed) -- `changed` is {channel: {field: value}}."""
    words = text.split()
    if not words:
        return "commands: engagement #channel LEVEL | mute [#channel] | unmute [#channel] | status", {}
    cmd, args = words[0].lower(), words[1:]
    if cmd == "status":
        return "; ".join(f"{st.name} {st.engagement}{' muted' if st.muted else ''}"
                         for st in channels.values()), {}
    if cmd == "engagement":
        if len(args) != 2:
            return "usage: engagement #channel LEVEL", {}
        st = _find(channels, args[0])
        if st is None:
            return f"not in {args[0]}", {}
        level = args[1].upper()
        if level not in levels:
            return f"engagement must be one of {', '.join(levels)}", {}
        with st.lock:
            st.engagement = level
        return f"{st.name} engagement {level}", {st.name: {"engagement": level}}
    if cmd in ("mute", "unmute"):
        if len(args) > 1:
            return f"usage: {cmd} [#channel]", {}
        targets = list(channels.values()) if not args else [_find(channels, args[0])]
        if targets == [None]:
            return f"not in {args[0]}", {}
        changed = {}
        for st in targets:
            with st.lock:
                st.muted = cmd == "mute"
            changed[st.name] = {"muted": cmd == "mute"}
        return f"{', '.join(changed)} {cmd}d", changed
    return f"unknown command {cmd!r}; commands: engagement #channel LEVEL | mute [#channel] | unmute [#channel] | status", {}
