"""Headers that do not tell the whole truth (pacing.py): a stated per-minute limit paced as a token
bucket whose burst grows while admitted, and a 429 the headers did not predict switching the request
budget to the window the 429s teach."""
import asyncio
import time

from conftest import run_against_standin
from em_gen.generate.limiter import RateLimiter
from em_gen.generate.pacing import BURST_SECONDS, PACING, TRUST_AFTER, Pacer

H = "x-ratelimit-"


def oai_headers(remaining, reset, limit):
    return {f"{H}limit-requests": str(limit), f"{H}remaining-requests": str(remaining),
            f"{H}reset-requests": reset}


async def pending(coro, within=0.1):
    task = asyncio.ensure_future(coro)
    await asyncio.sleep(within)
    return task, not task.done()


def test_a_stated_limit_is_paced_at_its_rate_with_a_few_seconds_burst():
    async def go():
        lim = RateLimiter(learn=True)
        first = await lim.acquire()
        lim.answered(first, oai_headers(5999, "60s", 6000), {})  # 100/s, a minute's budget left
        t = time.monotonic()
        for _ in range(int(BURST_SECONDS * 100 * PACING) - 1 + 30):
            await lim.acquire()
        return time.monotonic() - t, lim.pacers["requests"].burst
    took, burst = asyncio.run(go())
    assert burst < 100 * BURST_SECONDS + 1  # not the 5999 the headers allowed
    assert 0.25 <= took < 0.6  # the burst at once, then 30 more at 100/s


def test_the_burst_doubles_while_bursts_are_admitted_and_stops_growing_at_a_429():
    p = Pacer(60, spent=1.0)  # 1/s: a burst of a few seconds' worth, one of them spent
    first = p.burst
    assert 2 <= first <= BURST_SECONDS
    p.admitted(1, 1, ceiling=60)  # the whole first burst is back
    assert p.burst == first + 2
    p.admitted(1, 1, ceiling=60, whole=False)  # part of a burst still in flight: nothing yet
    assert p.burst == first + 2
    p.admitted(1, 1, ceiling=60)
    assert p.burst == first + 6
    p.admitted(1, 1, ceiling=first + 7)
    assert p.burst == first + 7  # never beyond the largest budget the headers showed
    p.refused()
    for _ in range(3):
        p.admitted(1, 1, ceiling=60)
    assert p.burst == first + 7  # after a 429: a whole burst's worth admitted adds one, not two each
    p.saw(5.0)  # the budget comes back 5 s after a request was sent: 1/s allows at most 5 at once
    assert p.burst == 5


def quantized_window_limiter():
    """Stated 600 per minute, enforced 10 per second: remaining counts down from 600, reset is the
    second's. The pacer sends what the stated rate allows over that second (10), then one more
    goes when the bucket refills, and is refused though the headers say 590 are left."""
    async def go():
        lim = RateLimiter(learn=True, ceiling=16)
        first = await lim.acquire()
        lim.answered(first, oai_headers(599, "1s", 600), {})
        burst = [await asyncio.wait_for(lim.acquire(), 0.1) for _ in range(9)]
        for i, tk in enumerate(burst):
            lim.answered(tk, oai_headers(598 - i, "1s", 600), {})
        eleventh = await asyncio.wait_for(lim.acquire(), 0.5)
        lim.failed(eleventh, 429, oai_headers(590, "0.9s", 600), retry_after=first.sent + 1.0 - eleventh.sent)
        return lim, first
    return go


def test_a_429_the_headers_did_not_predict_switches_to_the_window_it_teaches():
    async def go():
        lim, first = await quantized_window_limiter()()
        assert lim.trust.doubting and lim.trust.window.n == 10 and lim.trust.window.w == 1.0
        nxt, waiting = await pending(lim.acquire(), 0.1)
        assert waiting  # not before the second opens again, whatever the headers say
        nxt = await asyncio.wait_for(nxt, 1.5)
        opened = nxt.sent - first.sent
        more = [await asyncio.wait_for(lim.acquire(), 0.2) for _ in range(9)]  # the window's ten
        lim_n = lim.trust.window.n
        return opened, more[-1].sent - nxt.sent, lim_n
    opened, spread, n = asyncio.run(go())
    assert 1.0 <= opened < 1.2 and spread < 0.2 and n == 10


def test_a_429_with_nothing_left_in_the_headers_is_the_headers_own_and_changes_nothing():
    async def go():
        lim = RateLimiter(learn=True)
        first = await lim.acquire()
        lim.answered(first, oai_headers(0, "0.3s", 200), {})  # 1 per 0.3 s
        second = await asyncio.wait_for(lim.acquire(), 1)
        lim.failed(second, 429, oai_headers(0, "0.01s", 200), retry_after=0.01)  # a little early
        return lim.trust.doubting
    assert asyncio.run(go()) is False


def test_stated_per_minute_enforced_per_second_is_learned_from_the_first_refused_burst():
    """120 per minute enforced as 1 per 0.5 s; remaining and reset from the minute bucket (always
    plenty left): the first burst is refused, and from then on one goes every half second."""
    async def go():
        lim = RateLimiter(learn=True, ceiling=16)
        first = await lim.acquire()
        lim.answered(first, oai_headers(119, "60s", 120), {})
        burst = [await asyncio.wait_for(lim.acquire(), 0.1) for _ in range(int(BURST_SECONDS * 2 * PACING) - 1)]
        for tk in burst:  # the first's slot holds the half second
            lim.failed(tk, 429, oai_headers(119, "59.9s", 120), retry_after=first.sent + 0.5 - tk.sent)
        assert lim.trust.doubting and lim.trust.window.n == 1 and lim.trust.window.w == 0.5
        sent = [await asyncio.wait_for(lim.acquire(), 1) for _ in range(3)]
        for tk in sent:
            lim.answered(tk, oai_headers(118, "59.9s", 120), {})
        return [b.sent - a.sent for a, b in zip([first, *sent], sent)]
    gaps = asyncio.run(go())
    assert all(0.49 <= g < 0.6 for g in gaps), gaps


def test_the_headers_are_trusted_again_after_clean_windows_and_doubted_longer_next_time():
    async def go():
        lim, _ = await quantized_window_limiter()()
        n = lim.trust.window.n
        for _ in range(TRUST_AFTER * n):
            tk = await asyncio.wait_for(lim.acquire(), 2)
            lim.answered(tk, oai_headers(590, "1s", 600), {})
        trusted = not lim.trust.doubting
        burst = lim.pacers["requests"].burst  # what the server was seen to admit at once
        tk = await asyncio.wait_for(lim.acquire(), 2)
        lim.failed(tk, 429, oai_headers(590, "0.5s", 600), retry_after=0.5)
        return trusted, burst, lim.trust.doubting, lim.trust.after
    trusted, burst, doubting, after = asyncio.run(go())
    assert trusted and burst == 10 and doubting and after == 2 * TRUST_AFTER


def test_the_judges_limiter_keeps_its_own_budgets(lib):
    """A judge model on the same endpoint has its own limiter: the generation model's 429s teach it
    nothing and hold it back in nothing."""
    from em_gen.generate.runner import RunConfig, Runner
    from em_gen.providers import Pricing
    from em_gen.providers.openai_provider import OpenAIProvider
    from em_gen.providers.standin.server import StandInServer

    with StandInServer(library=lib, rate_limit=(600, 60.0), rate_quantum=1.0) as srv:
        gen = OpenAIProvider("gen-model", "x", base_url=srv.base_url + "/v1")
        judge = OpenAIProvider("judge-model", "x", base_url=srv.base_url + "/v1")
        runner = Runner(lib, None, gen, Pricing("m", None), RunConfig(concurrency=4, progress=False),
                        judge_provider=judge)
        from em_gen.generate.plan import make_plan
        from em_gen.generate.prompting import build_request
        req = build_request(lib, make_plan(lib, 1, 0, "j")[0])

        async def go():
            await runner.call(req)
            await runner.call(req, provider=judge)
        asyncio.run(go())
    gen_lim, judge_lim = runner.limiter, [v for v in runner.limiters.values() if v is not runner.limiter][0]

    async def refuse():
        tk = await gen_lim.acquire()
        gen_lim.failed(tk, 429, oai_headers(500, "1s", 600), retry_after=1.0)
        gen_lim.cool_down(1.0)
        t = time.monotonic()
        await asyncio.wait_for(judge_lim.acquire(), 0.2)  # the judge is not held by the cool-down
        return time.monotonic() - t
    assert asyncio.run(refuse()) < 0.1
    assert gen_lim.trust.doubting and not judge_lim.trust.doubting
    assert judge_lim.budgets["requests"] is not gen_lim.budgets["requests"]


def test_end_to_end_stated_per_minute_enforced_per_slice(lib, tmp_path):
    """120 per minute stated, 10 per 5 s enforced, remaining counting down from 120: a few 429s
    while the burst grows into the slice, then whole slices (the old limiter sent what `remaining`
    allowed: about three 429s per request served)."""
    by, span, lim = run_against_standin(lib, tmp_path, ["--rate-limit", "120/60", "--rate-quantum", "5"], 20)
    assert by.get(200) == 20 and by.get(429, 0) <= 5, by
    assert lim.trust.doubting and lim.trust.window.n == 10 and lim.trust.window.w == 5.0
    assert 5.0 <= span < 7.0, span  # two slices


def test_end_to_end_stated_per_minute_enforced_per_second(lib, tmp_path):
    """60 per minute stated, 1 per second enforced, remaining and reset of the minute: the first
    burst is refused, then one request a second (the old limiter: about 13 429s per request served)."""
    by, span, lim = run_against_standin(lib, tmp_path, ["--rate-limit", "60/60", "--rate-quantum", "1",
                                                        "--quantum-remaining", "minute"], 6)
    assert by.get(200) == 6 and by.get(429, 0) <= 4, by
    assert lim.trust.window.n == 1 and lim.trust.window.w == 1.0
    assert 5.0 <= span < 6.5, span  # 5 x 1 s after the first
