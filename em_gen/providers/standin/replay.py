"""Replay for the stand-in: recorded judge answers and recorded teacher logs.

Recorded judge answers (fixtures written by a strong model answering prompts/judge.md) are keyed
by `judge_key`: a digest of the log's `<nick> text` lines, which the judge prompt carries numbered.
A key may map to one answer or to a list of answers given in turn (the last one repeats), so a test
can make the judge garble its first answer and recover on the re-ask, or garble every answer.

Recorded logs are served for JOB prompts whose engagement, channel and length bucket they fit, each
log at most once; a job no log fits gets a composed log as usual. Logs written for one premise
(`premise_logs`: premise -> log) are served, once, to the job whose JOB block carries that premise.
"""
from __future__ import annotations

import json
import re
import threading

from em_gen.providers.standin.jobs import parse_job
from em_gen.quality.judge import judge_key  # noqa: F401 - the key recorded answers are stored by

_LOG = re.compile(r"^LOG[ \t]*\n(.*?)^END LOG", re.M | re.S)
_NUMBERED = re.compile(r"^\d+ (<[^>]+> .*)$")
_HEAD = re.compile(r"^ENGAGEMENT:[ \t]*(\S+)[ \t]*\nCHANNEL:[ \t]*(\S+)", re.M)
PASS = json.dumps({"verdict": "pass", "failures": [], "note": "offline stand-in: no real judgement"})


def judge_key_of_prompt(prompt: str) -> str | None:
    """The key of the log being judged: the last LOG block (the rubric's worked examples have theirs)."""
    found = list(_LOG.finditer(prompt))
    if not found:
        return None
    m = found[-1]
    lines = [n.group(1) for n in map(_NUMBERED.match, m.group(1).splitlines()) if n]
    return judge_key(lines)


class Replay:
    def __init__(self, judge_answers: dict | None = None, logs: list[str] | None = None, buckets=None,
                 premise_logs: dict | None = None):
        self.judge_answers = dict(judge_answers or {})
        self.logs = list(logs or [])
        self.premise_logs = dict(premise_logs or {})
        self.premise_served: set[str] = set()
        self.buckets = buckets or {}
        self.used: set[int] = set()
        self.turn: dict[str, int] = {}
        self.lock = threading.Lock()

    def judge(self, prompt: str) -> str:
        key = judge_key_of_prompt(prompt)
        ans = self.judge_answers.get(key) if key else None
        if ans is None:
            return PASS
        if isinstance(ans, list):
            with self.lock:
                k = self.turn.get(key, 0)
                self.turn[key] = k + 1
            return ans[min(k, len(ans) - 1)]
        return ans

    def _bucket(self, n: int) -> str | None:
        return next((b for b, (lo, hi) in self.buckets.items() if lo <= n <= hi), None)

    def log_for(self, prompt: str) -> str | None:
        if not self.logs and not self.premise_logs:
            return None
        job = parse_job(prompt)
        if job is None:
            return None
        if job.premise in self.premise_logs:
            with self.lock:
                if job.premise not in self.premise_served:
                    self.premise_served.add(job.premise)
                    return self.premise_logs[job.premise]
        want = self._bucket(job.messages)
        with self.lock:
            for i, text in enumerate(self.logs):
                if i in self.used:
                    continue
                head = _HEAD.search(text)
                n = sum(1 for line in text.splitlines() if line.startswith("<"))
                if head and head.group(1) == job.engagement and head.group(2) == job.channel \
                        and self._bucket(n) == want:
                    self.used.add(i)
                    return text
        return None
