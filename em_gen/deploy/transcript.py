"""The transcript: one JSON object a line, appended and fsynced before anything acts on it, so a kill
loses at most the line in flight. Never rewritten; a run appends to the same file.

Record kinds (every record has `t`, UNIX seconds, and `kind`):

    start       {server, port, nick, channels: {name: level}, target, pid}
    connect     {nick}                     registered on the server (nick: the one the server gave)
    disconnect  {why}
    join        {channel}
    line        {channel, seq, nick, speaker, text}   a channel message (speaker "Em" for Em's own)
    decision    {channel, trigger, engagement, muted, asked, predicted, candidate, outcome, reasons,
                 latency_s, context_lines, prompt_tokens}
                outcome: posted | silent (another speaker predicted) | suppressed (rules or caps)
                         | skipped (not asked: muted, two Em lines in a row) | stale | error
    control     {from, authorized, command, result}
    private     {from, text}               a private message that is not a command (ignored)
    stop        {why}
"""
from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

from em_gen.library import BadInput


class Transcript:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        if self.path.is_dir():
            raise BadInput(f"--transcript {path}: is a folder; name a file")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._lock = threading.Lock()
        self.records = 0

    def write(self, kind: str, **fields) -> dict:
        rec = {"t": round(time.time(), 3), "kind": kind, **fields}
        data = (json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock:
            if self._fd < 0:
                return rec
            os.write(self._fd, data)
            os.fsync(self._fd)
            self.records += 1
        return rec

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


def read_transcript(path: str | Path) -> list[dict]:
    """Every whole record; a torn last line (a kill mid-write) is skipped, anything else malformed
    is bad input naming the line."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise BadInput(f"{path}: no such transcript") from None
    except IsADirectoryError:
        raise BadInput(f"{path}: is a folder, not a transcript") from None
    lines = raw.split(b"\n")
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except (ValueError, UnicodeDecodeError):
            if n == len(lines):  # the line in flight when the process died
                continue
            raise BadInput(f"{path}: line {n}: not a JSON transcript record") from None
        if not isinstance(rec, dict) or "kind" not in rec:
            raise BadInput(f"{path}: line {n}: not a transcript record (no 'kind')")
        out.append(rec)
    return out
