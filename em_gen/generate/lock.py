"""One writer per output folder.

Every mode that writes to `--out` holds an exclusive `fcntl.flock` on `OUT/.em-gen.lock` for as long
as it runs. The kernel drops the lock when the process ends, however it ends (kill -9 included), so a
stale lock file never blocks `--resume`: only a live process can hold it. The file records who holds
it (pid, command, start time) so a second writer is told exactly which process to wait for.
Read-only modes (`--status`, `--report`, `--validate`) never take it.
"""
from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from pathlib import Path

from em_gen.library import BadInput

LOCK = ".em-gen.lock"


def _command() -> str:
    """The holder's command line, flags only: no value that could be a secret is ever written."""
    words = [w for w in sys.argv[1:] if w.startswith("-") and "=" not in w]
    return "em-gen " + " ".join(words[:12])


def holder(out: Path) -> dict | None:
    """Who holds the folder's lock now (None when nobody does); never takes it."""
    path = Path(out) / LOCK
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                return json.loads(os.pread(fd, 4096, 0) or b"{}")
            except ValueError:
                return {}
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


class FolderLock:
    """The exclusive writer's lock on an output folder (which must exist)."""

    def __init__(self, out: Path):
        self.path = Path(out) / LOCK
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        if not self._take():
            try:
                info = json.loads(os.pread(self.fd, 4096, 0) or b"{}")
            except ValueError:
                info = {}
            os.close(self.fd)
            who = f"pid {info.get('pid', '?')}"
            if info.get("command"):
                who += f", `{info['command']}`"
            if info.get("started"):
                who += f", started {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(info['started']))}"
            raise BadInput(f"--out {out}: another em-gen is writing to this folder ({who}); wait for it to end, "
                           "or use another --out (--status and --report work while it runs)") from None
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, json.dumps({"pid": os.getpid(), "command": _command(),
                                       "started": round(time.time(), 3)}).encode(), 0)

    def _take(self, patience: float = 2.0) -> bool:
        """The exclusive lock, or False when a writer holds it. A reader's probe (`holder`) holds a shared
        lock for microseconds, so a few tries over `patience` seconds tell a probe from a writer."""
        deadline = time.monotonic() + patience
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.05)

    def release(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None
