"""Em's IRC client, on the `irc` library (jaraco/irc): its reactor answers the server's PINGs, its
`SingleServerIRCBot` tracks channels and reconnects with exponential backoff and jitter.

What em-gen adds: the first connection must succeed (else one line, exit 2); a nick in use falls back
to `Em_`, `Em__`, ... (the prompt still says `<Em>`); channels are joined again after every
reconnect; a keep-alive PING every `keepalive` seconds notices a dead link; SIGINT and SIGTERM send
a clean QUIT; a debounce worker per channel asks the Decider after each message, and posts from its
own thread under the reactor's lock. Private messages go to controls.py (operators) or are ignored.
"""
from __future__ import annotations

import itertools
import signal
import socket
import ssl
import threading
import time

import irc.bot
import irc.client
import irc.events
from jaraco.stream import buffer

from em_gen.deploy.config import Operators
from em_gen.deploy.controls import run_command
from em_gen.deploy.decide import ChannelState, Decider
from em_gen.library import BadInput

# numerics that refuse a channel: no such channel, bad mask, bad name, full, invite-only, banned, key
_JOIN_REFUSED = {code: irc.events.numeric.get(code, code) for code in ("403", "476", "479", "471", "473", "474", "475")}
_BAD_NAME = {_JOIN_REFUSED[c] for c in ("403", "476", "479")}


class ChannelWorker(threading.Thread):
    """Waits `debounce` seconds after the last message of its channel, then asks for one decision;
    a line Em posted is a message too (Em may go on, up to the caps)."""

    def __init__(self, state: ChannelState, decider: Decider, client: "EmClient", debounce: float):
        super().__init__(name=f"em-{state.name}", daemon=True)
        self.state, self.decider, self.client, self.debounce = state, decider, client, debounce
        self.cv = threading.Condition()
        self.due: float | None = None
        self.stopping = False
        self.busy = False

    def poke(self) -> None:
        with self.cv:
            self.due = time.monotonic() + self.debounce
            self.cv.notify()

    def stop(self) -> None:
        with self.cv:
            self.stopping = True
            self.cv.notify()

    def run(self) -> None:
        while True:
            with self.cv:
                while not self.stopping and (self.due is None or time.monotonic() < self.due):
                    self.cv.wait(None if self.due is None else max(0.0, self.due - time.monotonic()))
                if self.stopping:
                    return
                self.due, self.busy = None, True
            try:
                if not self.client.connected_to(self.state.name):
                    continue
                rec = self.decider.decide(self.state, self.client.nick, self.client.post)
                if rec.get("outcome") == "posted":
                    self.poke()
            finally:
                self.busy = False


def _factory(timeout: float, tls: bool, host: str):
    ctx = ssl.create_default_context() if tls else None

    def connect(address):
        sock = socket.create_connection(address, timeout=timeout)
        sock.settimeout(None)
        return ctx.wrap_socket(sock, server_hostname=host) if ctx else sock
    return connect


class EmClient(irc.bot.SingleServerIRCBot):
    def __init__(self, host: str, port: int, channels: dict[str, ChannelState], decider: Decider, transcript,
                 operators: Operators, levels: list[str], *, nick: str = "Em", tls: bool = False,
                 password: str | None = None, debounce: float = 1.5, backoff_max: float = 300.0,
                 connect_timeout: float = 10.0, keepalive: float = 60.0, log=print):
        recon = irc.bot.ExponentialBackoff(min_interval=1, max_interval=max(1, int(backoff_max)))
        self.factory = _factory(connect_timeout, tls, host)
        super().__init__([irc.bot.ServerSpec(host, port, password)], nick, "Em", recon=recon,
                         connect_factory=self.factory)
        self.connection.buffer_class = buffer.LenientDecodingLineBuffer
        self.host, self.port, self.tls = host, port, tls
        self.states, self.decider, self.transcript = channels, decider, transcript
        self.operators, self.levels, self.log = operators, levels, log
        self.want_nick, self.keepalive, self.connect_timeout = nick, keepalive, connect_timeout
        self.workers = {name: ChannelWorker(st, decider, self, debounce) for name, st in channels.items()}
        self.welcomed = threading.Event()
        self.joined: set[str] = set()
        self.stopping = False
        self.fatal: str | None = None
        self.first = True
        for code, name in _JOIN_REFUSED.items():
            self.connection.add_global_handler(name, self._on_refused, -10)

    # ---- what the workers use -------------------------------------------------------------------
    @property
    def nick(self) -> str:
        return self.connection.get_nickname() or self.want_nick

    def connected_to(self, channel: str) -> bool:
        return self.connection.is_connected() and channel.lower() in self.joined

    def post(self, channel: str, text: str) -> None:
        with self.reactor.mutex:
            try:
                self.connection.privmsg(channel, text)
            except irc.client.ServerNotConnectedError:
                self.transcript.write("send_failed", channel=channel, text=text, why="not connected")

    # ---- events -----------------------------------------------------------------------------------
    def on_welcome(self, c, e):
        self.recon.attempt_count = itertools.count(1)  # backoff starts over after a good connection
        self.transcript.write("connect", nick=c.get_nickname())
        if c.get_nickname() != self.want_nick:
            self.log(f"em-gen irc: {self.want_nick} is taken on {self.host}; connected as {c.get_nickname()}")
        self.welcomed.set()
        if any(m.lower().startswith("account:") for m in self.operators.masks):
            c.cap("REQ", "account-tag")  # IRCv3: each message then names its sender's services account
        for name in self.states:
            c.join(name)

    def on_nicknameinuse(self, c, e):
        c.nick(c.get_nickname() + "_")

    def on_erroneusnickname(self, c, e):
        self.fatal = f"--nick {self.want_nick}: the server refuses it as a nickname"

    def on_join(self, c, e):
        if e.source.nick == c.get_nickname():
            self.joined.add(e.target.lower())
            self.transcript.write("join", channel=e.target)

    def on_kick(self, c, e):
        if e.arguments and e.arguments[0] == c.get_nickname():
            self.joined.discard(e.target.lower())
            self.transcript.write("kicked", channel=e.target, by=e.source.nick,
                                  why=e.arguments[1] if len(e.arguments) > 1 else "")

    def _on_refused(self, c, e):
        channel = e.arguments[0] if e.arguments else "?"
        why = e.arguments[-1] if e.arguments else e.type
        self.transcript.write("join_refused", channel=channel, code=e.type, why=why)
        if self.first and e.type in _BAD_NAME:
            self.fatal = f"--channel {channel}: the server refuses the name ({why})"
        else:
            self.log(f"em-gen irc: cannot join {channel}: {why}")

    def on_pubmsg(self, c, e):
        st = self._state(e.target)
        if st is None or not e.arguments:
            return
        text = e.arguments[0]
        seq = st.add(e.source.nick, text)
        self.transcript.write("line", channel=st.name, seq=seq, nick=e.source.nick, speaker=e.source.nick, text=text)
        self.workers[st.name].poke()

    def on_privmsg(self, c, e):
        text = e.arguments[0] if e.arguments else ""
        source = str(e.source)
        account = next((t.get("value") for t in e.tags or [] if t.get("key") == "account"), None)
        if not self.operators.allows(source, account):
            self.transcript.write("private", **{"from": source, "text": text, "authorized": False})
            return
        answer, changed = run_command(text, self.states, self.levels)
        self.transcript.write("control", **{"from": source, "authorized": True, "command": text, "result": answer,
                                            "changed": changed})
        c.notice(e.source.nick, answer)

    def on_ctcp(self, c, e):  # no VERSION/DCC answers: Em says nothing nobody asked the model for
        return

    def on_error(self, c, e):
        self.transcript.write("server_error", why=e.target or "")

    def _on_disconnect(self, c, e):
        self.joined.clear()
        self.channels = irc.bot.IRCDict()
        why = e.arguments[0] if e.arguments else ""
        self.transcript.write("disconnect", why=why, quitting=self.stopping)
        if self.stopping or not self.welcomed.is_set():
            return
        self.first = False
        self.log(f"em-gen irc: disconnected from {self.host}:{self.port} ({why or 'connection closed'}); reconnecting")
        self.recon.run(self)

    def _state(self, name: str) -> ChannelState | None:
        for k, st in self.states.items():
            if k.lower() == name.lower():
                return st
        return None

    # ---- the run ------------------------------------------------------------------------------------
    def run(self) -> int:
        stop = threading.Event()

        def on_signal(signum, frame):
            self.stopping_reason = signal.Signals(signum).name
            stop.set()
        self.stopping_reason = "stopped"
        old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            return self._run(stop)
        finally:
            for s, h in old.items():
                signal.signal(s, h)

    def _run(self, stop: threading.Event) -> int:
        try:
            self.connect(self.host, self.port, self.want_nick, self.servers.peek().password, ircname="Em",
                         connect_factory=self.factory)
        except irc.client.ServerConnectionError as e:
            cause = e.__cause__ or e.__context__ or e
            raise BadInput(f"--server {self.host}:{self.port}: cannot connect ({cause})") from None
        deadline = time.monotonic() + self.connect_timeout
        while not self.welcomed.is_set():
            self.reactor.process_once(0.1)
            if not self.connection.is_connected():
                raise BadInput(f"--server {self.host}:{self.port}: closed the connection before registering")
            if self.fatal:
                raise BadInput(self.fatal)
            if stop.is_set():
                return 1
            if time.monotonic() > deadline:
                raise BadInput(f"--server {self.host}:{self.port}: no welcome within {self.connect_timeout:g} s "
                               "(is it an IRC server?)")
        for w in self.workers.values():
            w.start()
        if self.keepalive > 0:
            self.reactor.scheduler.execute_every(self.keepalive, self._keepalive)
        try:
            while not stop.is_set():
                self.reactor.process_once(0.1)
                if self.fatal:
                    raise BadInput(self.fatal)
        finally:
            self._quit(self.stopping_reason if stop.is_set() else "error")
        return 0

    def _keepalive(self) -> None:
        """A PING now and then: a dead link shows up as a failed send (then reconnect)."""
        if self.connection.is_connected():
            try:
                self.connection.ping("keep-alive")
            except irc.client.ServerNotConnectedError:
                pass

    def _quit(self, why: str) -> None:
        self.stopping = True
        for w in self.workers.values():
            w.stop()
        for w in self.workers.values():
            if w.is_alive():
                w.join(timeout=5)
        with self.reactor.mutex:
            if self.connection.is_connected():
                try:
                    self.connection.quit("bye")
                except irc.client.ServerNotConnectedError:
                    pass
        end = time.monotonic() + 1.0  # let the server close the link after QUIT
        while self.connection.is_connected() and time.monotonic() < end:
            self.reactor.process_once(0.05)
        if self.connection.is_connected():
            self.connection.disconnect("bye")
        self.transcript.write("stop", why=why, in_flight=sum(1 for w in self.workers.values() if w.busy))

