import asyncio
import time

from em_gen.generate.limiter import AdaptiveConcurrency, RateLimiter
from em_gen.providers.base import classify, retry_after


def test_rpm_spaces_requests():
    async def go():
        lim = RateLimiter(rpm=600)  # 10/s, evenly spaced
        t = time.monotonic()
        for _ in range(11):
            await lim.acquire()
        return time.monotonic() - t
    took = asyncio.run(go())
    assert 0.95 <= took < 1.3  # one at once, then 10 more 0.1 s apart


def test_cooldown_blocks_everyone_and_headers_block_until_reset():
    async def go():
        lim = RateLimiter()
        lim.cool_down(0.3)
        t = time.monotonic()
        await asyncio.gather(lim.acquire(), lim.acquire())
        first = time.monotonic() - t
        lim.observe({"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "200ms"})
        t = time.monotonic()
        await lim.acquire()
        second = time.monotonic() - t
        lim.observe({"x-ratelimit-remaining-requests": "5", "x-ratelimit-reset-requests": "10s"})
        t = time.monotonic()
        await lim.acquire()
        return first, second, time.monotonic() - t
    first, second, third = asyncio.run(go())
    assert first >= 0.29 and second >= 0.19 and third < 0.05


def test_concurrency_halves_on_backoff_and_grows_back():
    c = AdaptiveConcurrency(8, grow_after=2)
    c.backoff()
    c.backoff()
    assert int(c.limit) == 2
    for _ in range(4):
        c.success()
    assert int(c.limit) == 4
    for _ in range(100):
        c.success()
    assert int(c.limit) == 8


def test_retry_after_parsing():
    assert retry_after({"retry-after": "2"}) == 2.0
    assert retry_after({"retry-after-ms": "1500"}) == 1.5
    assert retry_after({}) is None


def test_classification_of_sdk_errors():
    import httpx2
    import openai
    req = httpx2.Request("POST", "http://x/v1/chat/completions")

    def err(status, cls, headers=None):
        return cls("boom", response=httpx2.Response(status, request=req, headers=headers or {}), body=None)
    e = classify(err(429, openai.RateLimitError, {"retry-after": "3"}), openai)
    assert e.retryable and e.rate_limited and e.retry_after == 3.0
    assert not classify(err(401, openai.AuthenticationError), openai).retryable
    assert not classify(err(404, openai.NotFoundError), openai).retryable
    assert not classify(err(400, openai.BadRequestError), openai).retryable
    assert classify(err(500, openai.InternalServerError), openai).retryable
    assert classify(err(503, openai.InternalServerError), openai).rate_limited
    assert classify(openai.APIConnectionError(request=req), openai).retryable
    assert classify(openai.APITimeoutError(request=req), openai).retryable


def test_backoff_never_goes_below_what_the_paced_rate_needs():
    c = AdaptiveConcurrency(16)
    c.need_for(5, 0.5)  # 5 req/s at 0.5 s each: 2.5 in flight, with headroom 5
    for _ in range(6):
        c.backoff()
    assert int(c.limit) == 5
    c2 = AdaptiveConcurrency(16)
    for _ in range(6):
        c2.backoff()
    assert int(c2.limit) == 1  # without a client-side rate, AIMD goes all the way down
