"""Issue 19, items 7-13: clear behaviour a user can trust (one test, or a few, per point)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from conftest import ROOT, read_jsonl


# ---- 7. Ctrl-C under --rpm: the first one stops waiting at once -------------------------------------
def test_ctrl_c_under_slow_rpm_exits_at_once_and_keeps_the_request_in_flight(tmp_path, lib):
    from em_gen.providers.standin.server import StandInServer
    out = tmp_path / "d"
    # --rpm 6: one request every 10 s. Eight workers wait in line for their slots; before the fix each
    # one waited its slot out before it saw the stop (about 70 s with nothing in flight)
    with StandInServer(library=lib, latency=1.5) as srv:
        env = {**os.environ, "OPENAI_API_KEY": "x", "OPENAI_BASE_URL": srv.base_url + "/v1"}
        p = subprocess.Popen([sys.executable, "-m", "em_gen.cli", "--batch", "20", "--provider", "openai",
                              "--rpm", "6", "--concurrency", "8", "--no-judge", "--out", str(out),
                              "--no-progress"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 60
        while time.time() < deadline and srv.stats["requests"] < 1:
            time.sleep(0.005)
        t = time.monotonic()
        p.send_signal(signal.SIGINT)  # the first request is in flight (1.5 s), the rest wait for slots
        _, err = p.communicate(timeout=90)
        took = time.monotonic() - t
        served = srv.stats["requests"]
    print(f"\nexit {took:.1f}s after SIGINT under --rpm 6")
    assert p.returncode == 1 and "interrupted" in err, err[-2000:]
    assert took < 8, took
    assert served == 1
    # the request in flight was let finish, and journaled
    responses = [r for r in read_jsonl(out / "journal.jsonl") if r["t"] == "response"]
    assert len(responses) == 1


def test_a_stop_wakes_every_pacing_wait_and_retry_back_off_at_once(lib, tmp_path):
    import asyncio

    from em_gen.generate.journal import Store
    from em_gen.generate.limiter import RateLimiter, Stopped
    from em_gen.generate.runner import RunConfig, Runner
    from em_gen.providers import Pricing

    async def limiter_part():
        lim = RateLimiter(rpm=1)  # one a minute
        await lim.acquire()
        waiters = [asyncio.create_task(lim.acquire()) for _ in range(4)]
        await asyncio.sleep(0.05)
        t = time.monotonic()
        lim.stop()
        got = await asyncio.gather(*waiters, return_exceptions=True)
        assert all(isinstance(g, Stopped) for g in got) and time.monotonic() - t < 0.5

    asyncio.run(limiter_part())

    async def runner_part():
        store = Store(tmp_path / "d")
        try:
            r = Runner(lib, store, provider=None, pricing=Pricing("m", None), cfg=RunConfig(progress=False))
            sleeper = asyncio.create_task(r._sleep(30))  # a retry's back-off
            await asyncio.sleep(0.05)
            t = time.monotonic()
            r.request_stop("interrupted")
            await sleeper
            assert time.monotonic() - t < 0.5
        finally:
            store.close()

    asyncio.run(runner_part())


# ---- 8. --max-tokens holds for continuation requests too ---------------------------------------------
def test_max_tokens_is_honoured_on_continuation_requests(tmp_path, capsys):
    from em_gen.cli import main
    out = tmp_path / "d"
    assert main(["--batch", "3", "--max-tokens", "60", "--no-monitor", "--out", str(out), "--no-progress"]) in (0, 1)
    capsys.readouterr()
    parts = [r for r in read_jsonl(out / "journal.jsonl") if r["t"] == "response"]
    continued = [r for r in parts if r["part"] > 0]
    assert continued, "the token limit cut the logs, so continuations were asked for"
    assert max(r["usage"]["output_tokens"] for r in parts) <= 60, [r["usage"] for r in continued]
