"""A real IRC network for the tests: Debian's ngircd on 127.0.0.1, scripted users on the same IRC
library as Em (jaraco/irc), `em-gen irc` as a subprocess, and the transcript as the clock."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import irc.client

from conftest import KEY_VARS, ROOT, closed_port

NGIRCD = shutil.which("ngircd") or ("/usr/sbin/ngircd" if os.path.exists("/usr/sbin/ngircd") else None)
REPLAY = ROOT / "benchmarks" / "irc" / "replay.txt"

CONF = """[Global]
Name = irc.emgen.test
Info = em-gen test server
AdminInfo1 = em-gen tests
AdminInfo2 = 127.0.0.1
AdminEMail = nobody@example.invalid
Listen = 127.0.0.1
Ports = {port}
MotdPhrase = em-gen test
[Limits]
MaxNickLength = 30
MaxPenaltyTime = 0
PingTimeout = {ping}
PongTimeout = {ping}
MaxConnectionsIP = 0
MaxJoins = 0
[Options]
PAM = no
Ident = no
DNS = no
"""


def replay_lines(n: int | None = None, skip: int = 0) -> list[tuple[str, str]]:
    out = []
    for line in REPLAY.read_text(encoding="utf-8").splitlines():
        if line.startswith("<"):
            nick, _, text = line[1:].partition("> ")
            out.append((nick, text))
    return out[skip: None if n is None else skip + n]


class Ngircd:
    def __init__(self, folder: Path, ping: int = 5):
        self.folder, self.ping = Path(folder), ping
        self.port = closed_port()
        self.proc = None
        self.conf = self.folder / "ngircd.conf"
        self.conf.write_text(CONF.format(port=self.port, ping=ping))

    def start(self) -> "Ngircd":
        log = open(self.folder / "ngircd.log", "ab")
        self.proc = subprocess.Popen([NGIRCD, "-n", "-f", str(self.conf)], stdout=log, stderr=subprocess.STDOUT)
        end = time.monotonic() + 10
        while time.monotonic() < end:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"ngircd exited: {(self.folder / 'ngircd.log').read_text()[-500:]}")
                time.sleep(0.05)
        raise RuntimeError("ngircd did not listen within 10 s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class User:
    """A scripted IRC user in its own reactor thread; `seen` is every message it received."""

    def __init__(self, port: int, nick: str, user: str | None = None):
        self.nick = nick
        self.reactor = irc.client.Reactor()
        self.seen: list[tuple[str, str, str, str]] = []  # (type, source nick, target, text)
        self.lock = threading.Lock()
        self.welcomed = threading.Event()
        self.joined: set[str] = set()
        for kind in ("pubmsg", "privmsg", "privnotice"):
            self.reactor.add_global_handler(kind, self._on_msg)
        self.reactor.add_global_handler("welcome", lambda c, e: self.welcomed.set())
        self.reactor.add_global_handler("join", self._on_join)
        self.conn = self.reactor.server().connect("127.0.0.1", port, nick, username=user or nick)
        self._stop = False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()
        assert self.welcomed.wait(10), f"{nick} was not welcomed"

    def _loop(self):
        while not self._stop:
            self.reactor.process_once(0.05)

    def _on_msg(self, c, e):
        with self.lock:
            self.seen.append(("notice" if e.type == "privnotice" else e.type, e.source.nick if e.source else "", e.target, e.arguments[0] if e.arguments else ""))

    def _on_join(self, c, e):
        if e.source.nick == c.get_nickname():
            self.joined.add(e.target.lower())

    def join(self, channel: str) -> None:
        with self.reactor.mutex:
            self.conn.join(channel)
        wait_for(lambda: channel.lower() in self.joined, 10, f"{self.nick} joins {channel}")

    def say(self, target: str, text: str) -> None:
        with self.reactor.mutex:
            self.conn.privmsg(target, text)

    def messages(self, kind: str = "pubmsg", source: str | None = None) -> list[tuple[str, str, str, str]]:
        with self.lock:
            return [m for m in self.seen if m[0] == kind and (source is None or m[1] == source)]

    def close(self) -> None:
        with self.reactor.mutex:
            if self.conn.is_connected():
                self.conn.quit("done")
        self._stop = True
        self.thread.join(5)


def wait_for(pred, timeout: float, what: str, step: float = 0.005):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = pred()
        if got:
            return got
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout:g} s waiting for: {what}")


_TAILS: dict[Path, list] = {}  # path -> [bytes read, whole records]


def records(path: Path, kind: str | None = None) -> list[dict]:
    """The transcript's whole records so far (read incrementally: polling stays cheap)."""
    path = Path(path)
    if not path.exists():
        return []
    tail = _TAILS.setdefault(path, [0, []])
    size = path.stat().st_size
    if size < tail[0]:
        tail[:] = [0, []]
    if size > tail[0]:
        with path.open("rb") as f:
            f.seek(tail[0])
            data = f.read(size - tail[0])
        end = data.rfind(b"\n") + 1
        for line in data[:end].splitlines():
            if line.strip():
                tail[1].append(json.loads(line))
        tail[0] += end
    return [r for r in tail[1] if kind is None or r["kind"] == kind]


def start_em(port: int, transcript: Path, target: str, channels: list[str], *extra: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in KEY_VARS}
    args = [sys.executable, "-m", "em_gen.cli", "irc", "--server", f"127.0.0.1:{port}", "--target", target,
            "--transcript", str(transcript), "--debounce", "0.02", "--backoff-max", "1"]
    for ch in channels:
        args += ["--channel", ch]
    return subprocess.Popen(args + list(extra), cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def stop_em(proc: subprocess.Popen, sig=signal.SIGTERM, timeout: float = 15) -> tuple[int, str]:
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return proc.returncode, err


def settled(transcript: Path, channel: str, after_seq: int) -> dict | None:
    """The decision that ends the chain started by line `after_seq` (one that posted nothing)."""
    for r in records(transcript, "decision"):
        if r["channel"] == channel and r["trigger"] >= after_seq and r["outcome"] != "posted":
            return r
    return None


def cast(port: int, channel: str, lines: list[tuple[str, str]], most: int = 6) -> dict[str, User]:
    """One scripted user per nick of the replay (at most `most`; the rest speak through them)."""
    nicks = list(dict.fromkeys(n for n, _ in lines))[:most]
    users = {}
    for n in nicks:
        users[n] = User(port, n)
        users[n].join(channel)
    return users


def speaker(users: dict[str, User], nick: str) -> User:
    if nick in users:
        return users[nick]
    return list(users.values())[sum(map(ord, nick)) % len(users)]


def replay(users: dict[str, User], transcript: Path, channel: str, lines: list[tuple[str, str]],
           timeout: float = 10) -> None:
    """Say each line, then wait until Em has decided about it (and about its own lines after it)."""
    for nick, text in lines:
        before = len(records(transcript, "line"))
        speaker(users, nick).say(channel, text)
        seq = wait_for(lambda: next((r["seq"] for r in records(transcript, "line")[before:]
                                     if r["channel"] == channel and r["text"] == text), None),
                       timeout, f"the line {text[:40]!r} in the transcript")
        wait_for(lambda: settled(transcript, channel, seq), timeout, f"Em's decision after line {seq}")
