"""An offline stand-in for the OpenAI and Anthropic APIs: a real HTTP server on 127.0.0.1.

It speaks enough of both wire protocols (plain and SSE-streamed) that the official `openai` and
`anthropic` SDKs work against it unmodified, and answers em-gen's prompts with IRC logs composed
by offline_compose. Faults (429/500/529/503, slow replies, mid-stream errors, garbage and
hallucinated turns), a request rate limit and a fixed latency can be switched on for tests and
benchmarks. Standard library only.

    with StandInServer(faults=Faults(p429=0.2)) as srv:
        client = openai.OpenAI(api_key="x", base_url=srv.base_url + "/v1")

As a process (crash tests): python -m em_gen.providers.standin.server --port 0 --port-file PATH
    [--faults JSON] [--rate-limit L/SECONDS [--rate-quantum S] [--quantum-remaining window|minute]]
    [--token-limit T/SECONDS] [--no-rate-headers] [--latency S]
    [--stats-file PATH]; serves until SIGTERM. The stats time the requests at the server: `first_request_at`
    (monotonic), `last_answer_at` and `span_s`, from the first request received to the last answer sent.
"""
from __future__ import annotations

import argparse
import collections
import hashlib
import json
import os
import random
import re
import signal
import socket
import sys
import threading
import time
from http.server import ThreadingHTTPServer

from em_gen.providers.standin.batches import BatchStore
from em_gen.providers.standin.compose import Composer
from em_gen.providers.standin.jobs import _HEADER, JUDGE_MARK, PREMISES_MARK, parse_continuation, parse_job, seed_of
from em_gen.providers.standin.limits import Limits
from em_gen.providers.standin.faults import (  # noqa: F401
    Faults,
    _Stats,
    _Window,
    apply_fault,
    content_fault,
)
from em_gen.providers.standin.personas import ASSISTANT_SHARE, voice
from em_gen.providers.standin.premises import answer as premise_answer
from em_gen.providers.standin import rewrite
from em_gen.providers.standin.replay import Replay
from em_gen.providers.standin.wire import BAD_KEY, BAD_MODEL, _Handler, finish, tokens  # noqa: F401

CACHE_TTL = 300.0
_ENGAGEMENT = re.compile(r"^ENGAGEMENT:\s*(\S+)", re.MULTILINE)


class StandInServer:
    def __init__(self, library=None, faults: Faults | None = None, rate_limit: tuple[int, float] | None = None,
                 latency: float = 0.0, port: int = 0, host: str = "127.0.0.1", judge_answers: dict | None = None,
                 replay_logs: list[str] | None = None, batch_delay: float = 0.5, p_batch_error: float = 0.0,
                 p_batch_expired: float = 0.0, token_limit: tuple[int, float] | None = None,
                 rate_headers: bool = True, next_speaker=None, rate_quantum: float | None = None,
                 quantum_remaining: str = "window", premise_logs: dict | None = None):
        if library is None:
            from em_gen.library import load_library
            library = load_library()
        self.library = library
        self.composer = Composer(library)
        self.replay = Replay(judge_answers, replay_logs, library.buckets(), premise_logs)
        self.batches = BatchStore(self, batch_delay, p_batch_error, p_batch_expired)
        self.faults = faults or Faults()
        self.rate_limit = tuple(rate_limit) if rate_limit else None
        self.limits = Limits(self.rate_limit, token_limit, headers=rate_headers,  # requests and tokens
                             quantum=rate_quantum, quantum_remaining=quantum_remaining)
        self.latency = float(latency)
        # next-speaker rate for bare log prefixes (em-gen irc's question): None (the composer's own
        # choice), a share in [0, 1], {LEVEL: share}, or "band" (the middle of the header's band)
        self.next_speaker = next_speaker
        self.host, self.port = host, port
        self._stats = _Stats()
        self._rng = random.Random(self.faults.seed)
        self._rng_lock = threading.Lock()
        self._cache: dict[tuple[str, str], float] = {}
        self._cache_lock = threading.Lock()
        self._conns: set = set()
        self._memo: collections.OrderedDict = collections.OrderedDict()  # prompt digest -> text (retries are cheap)
        self._memo_lock = threading.Lock()
        self._httpd = None
        self._thread = None
        self.base_url = None

    # ---- lifecycle ----------------------------------------------------------------------------
    def start(self) -> str:
        httpd = ThreadingHTTPServer((self.host, self.port), _Handler, bind_and_activate=False)
        httpd.daemon_threads = True
        httpd.request_queue_size = 1024
        httpd.allow_reuse_address = True
        httpd.server_bind()
        httpd.server_activate()
        httpd.standin = self
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self.base_url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="standin-server", daemon=True)
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        for conn in list(self._conns):
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=5)
        self._httpd = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    @property
    def stats(self) -> dict:
        """A snapshot: requests, by_status, by_path, http_faults, content_faults, rate_limited, cache_*,
        judge_requests, batch_requests and batch_submitted (custom_id -> times submitted)."""
        with self.batches.lock:
            submitted = dict(self.batches.submitted)
        return {**self._stats.snapshot(), "batch_submitted": submitted}

    # ---- decisions ----------------------------------------------------------------------------
    def draw(self) -> tuple[float, float, float]:
        with self._rng_lock:
            return self._rng.random(), self._rng.random(), self._rng.random()

    def cache_usage(self, model: str, blocks: list[tuple[str, bool]]) -> tuple[int, int, int]:
        """(input, cache_creation, cache_read) tokens; the prefix up to the last block marked with
        cache_control is written on first sight and read afterwards (TTL refreshed on a hit)."""
        total = tokens("".join(t for t, _ in blocks))
        last = max((i for i, (_, marked) in enumerate(blocks) if marked), default=-1)
        if last < 0:
            return total, 0, 0
        prefix = "".join(t for t, _ in blocks[: last + 1])
        key, now, n = (model, prefix), time.monotonic(), tokens(prefix)
        with self._cache_lock:
            hit = self._cache.get(key, 0.0) > now
            self._cache[key] = now + CACHE_TTL
        self._stats.add("cache_reads" if hit else "cache_writes")
        return total - n, (0 if hit else n), (n if hit else 0)

    def generate(self, prompt: str, model: str | None = None) -> str:
        """The completion of `prompt`; `model` (on /v1/completions) may pick a voice (personas.py)."""
        f = self.faults
        if JUDGE_MARK in prompt:  # em-gen's character judge: a recorded answer, or an honest pass
            self._stats.add("judge_requests")
            cut = rewrite.judge_cut(prompt)  # a rejected line of a preference pair, checked
            if cut is not None:
                self._stats.add("pair_prompts", hashlib.sha256(prompt.encode("utf-8", "replace")).hexdigest()[:16])
                return cut
            return self.replay.judge(prompt)
        if prompt.lstrip().startswith(PREMISES_MARK):  # em-gen premises --expand
            self._stats.add("premise_requests")
            return premise_answer(prompt)
        if rewrite.REWRITE_MARK in prompt or model == rewrite.BASE_MODEL:  # --pairs: teacher or base
            self._stats.add("pair_prompts", hashlib.sha256(prompt.encode("utf-8", "replace")).hexdigest()[:16])
            return rewrite.rewrite(prompt) if rewrite.REWRITE_MARK in prompt else rewrite.base_continuation(prompt)
        replayed = self.replay.log_for(prompt)
        if replayed is not None:
            return replayed
        if self.next_speaker is not None:
            text = self._next_speaker(prompt)
            if text is not None:
                return text
        key = hashlib.sha256(prompt.encode("utf-8", "replace")).digest()
        with self._memo_lock:
            text = self._memo.get(key)
        if text is None:
            text = self.composer.respond(prompt)
            with self._memo_lock:
                self._memo[key] = text
                while len(self._memo) > 512:
                    self._memo.popitem(last=False)
        if model in ASSISTANT_SHARE:
            text = voice(model, prompt, text, self.library.em)
        kind = content_fault(prompt, f.p_garbage, f.p_hallucination) if (f.p_garbage or f.p_hallucination) else None
        if kind:
            self._stats.add("content_faults", kind)
            text = apply_fault(text, kind, prompt)
        return text


    def em_rate(self, engagement: str | None) -> float:
        ns = self.next_speaker
        if ns == "band":
            lo, hi = self.library.mix["engagement"].get(engagement or "", {"band": [0.15, 0.2]})["band"]
            return (lo + hi) / 2
        if isinstance(ns, dict):
            return float(ns.get(engagement, ns.get("*", 0.0)))
        return float(ns)

    def _next_speaker(self, prompt: str) -> str | None:
        """A bare log prefix (no JOB, no continuation request): the next speaker is Em for a share
        `em_rate` of prompts, decided by a hash of the prompt (the same prompt, the same answer)."""
        if parse_job(prompt) is not None or parse_continuation(prompt) is not None:
            return None
        headers = list(_HEADER.finditer(prompt))
        if not headers:
            return None
        log = prompt[headers[-1].start():]
        level = _ENGAGEMENT.search(log)
        rate = self.em_rate(level.group(1).upper() if level else None)
        first_em = seed_of(prompt, "next-speaker") / 2.0 ** 64 < rate
        self._stats.add("next_speaker", "em" if first_em else "other")
        return self.composer.extend(log, random.Random(seed_of(prompt)), first_em=first_em)


def _parse_rate(text: str) -> tuple[int, float]:
    limit, _, window = text.partition("/")
    return int(limit), float(window or 1)


def _next_speaker_arg(text: str | None):
    if text is None or text == "band":
        return text
    v = json.loads(text)
    if not isinstance(v, (int, float, dict)):
        raise ValueError(f"--next-speaker: {text!r} is not a share, band or a JSON object")
    return v


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m em_gen.providers.standin.server", description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--faults", default="{}", help='JSON, e.g. \'{"p429": 0.3, "seed": 1}\'')
    ap.add_argument("--rate-limit", default=None, help="L/SECONDS: admit at most L requests per window")
    ap.add_argument("--token-limit", default=None, help="T/SECONDS: admit at most T tokens per window (limits.py)")
    ap.add_argument("--rate-quantum", type=float, default=None, metavar="S",
                    help="enforce --rate-limit in S-second slices (L x S / SECONDS per S s), as quantized APIs do")
    ap.add_argument("--quantum-remaining", choices=("window", "minute"), default="window",
                    help="with --rate-quantum: remaining = the per-minute limit less the slice's count and reset "
                         "of the slice (window), or remaining and reset of the stated bucket (minute)")
    ap.add_argument("--no-rate-headers", action="store_true", help="send no x-ratelimit-* / anthropic-ratelimit-*")
    ap.add_argument("--latency", type=float, default=0.0)
    ap.add_argument("--port-file", default=None, help="write the bound port here once listening")
    ap.add_argument("--stats-file", default=None, help="write the stats as JSON here on exit")
    ap.add_argument("--judge-answers", default=None, help="JSON file: judge_key -> recorded judge answer (or a list)")
    ap.add_argument("--batch-delay", type=float, default=0.5, help="seconds until a submitted batch ends")
    ap.add_argument("--next-speaker", default=None, metavar="RATE|band|JSON",
                    help="share of bare log prefixes whose next line is Em's: 0.3, band, or {\"LOW\": 0.1, ...}")
    ap.add_argument("--batch-errors", type=float, default=0.0, help="share of batch requests that error")
    ap.add_argument("--batch-expired", type=float, default=0.0, help="share of batch requests that expire")
    args = ap.parse_args(argv)
    try:
        faults = Faults.from_dict(json.loads(args.faults))
        rate = _parse_rate(args.rate_limit) if args.rate_limit else None
        answers = json.loads(open(args.judge_answers, encoding="utf-8").read()) if args.judge_answers else None
        srv = StandInServer(faults=faults, rate_limit=rate, latency=args.latency, port=args.port, host=args.host,
                            judge_answers=answers, batch_delay=args.batch_delay, p_batch_error=args.batch_errors,
                            p_batch_expired=args.batch_expired,
                            token_limit=_parse_rate(args.token_limit) if args.token_limit else None,
                            rate_headers=not args.no_rate_headers,
                            next_speaker=_next_speaker_arg(args.next_speaker), rate_quantum=args.rate_quantum,
                            quantum_remaining=args.quantum_remaining)
    except (ValueError, TypeError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    srv.start()
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    if args.port_file:
        tmp = f"{args.port_file}.tmp{os.getpid()}"
        with open(tmp, "w") as fh:
            fh.write(f"{srv.port}\n")
        os.replace(tmp, args.port_file)
    print(f"stand-in listening on {srv.base_url}", file=sys.stderr, flush=True)
    while not done.wait(0.5):
        pass
    srv.stop()
    if args.stats_file:
        with open(args.stats_file, "w") as fh:
            json.dump(srv.stats, fh, indent=1, sort_keys=True, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
