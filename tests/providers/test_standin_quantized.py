"""The stand-in's quantized rate limits: a per-minute limit enforced in shorter slices, with headers
that tell only part of the truth (limits.py)."""
import time

import openai
import pytest

from em_gen.providers.base import duration
from em_gen.providers.standin.limits import Limits
from em_gen.providers.standin.server import StandInServer


def oai(url):
    return openai.OpenAI(api_key="x", base_url=url + "/v1", max_retries=0)


def call(c):
    return c.completions.with_raw_response.create(model="m", prompt="hi", max_tokens=5).headers


def refused(c):
    with pytest.raises(openai.RateLimitError) as e:
        c.completions.create(model="m", prompt="hi", max_tokens=5)
    return e.value.response.headers


def test_stated_per_minute_enforced_per_slice_with_the_slices_reset(lib):
    """600 per minute enforced as 10 per second: `remaining` counts down from the per-minute figure
    by what the 1 s slice holds, `reset` is the slice's."""
    with StandInServer(library=lib, rate_limit=(600, 60.0), rate_quantum=1.0) as s:
        c = oai(s.base_url)
        first = call(c)
        assert (first["x-ratelimit-limit-requests"], first["x-ratelimit-remaining-requests"]) == ("600", "599")
        assert 0.9 <= duration(first["x-ratelimit-reset-requests"]) <= 1.0
        for _ in range(9):
            call(c)
        h = refused(c)  # the eleventh within the second, though the headers say 590 are left
        assert h["x-ratelimit-remaining-requests"] == "590" and 0 < int(h["retry-after-ms"]) <= 1000
        time.sleep(int(h["retry-after-ms"]) / 1000 + 0.05)
        assert int(call(c)["x-ratelimit-remaining-requests"]) > 590  # what left the slice counts again
        assert s.stats["by_status"] == {200: 11, 429: 1}


def test_stated_per_minute_enforced_per_second_with_the_minutes_remaining(lib):
    """120 per minute enforced as 1 per half second: `remaining` and `reset` are the minute bucket's."""
    with StandInServer(library=lib, rate_limit=(120, 60.0), rate_quantum=0.5, quantum_remaining="minute") as s:
        c = oai(s.base_url)
        first = call(c)
        assert first["x-ratelimit-remaining-requests"] == "119"
        assert 59 <= duration(first["x-ratelimit-reset-requests"]) <= 60
        h = refused(c)  # a second one at once: refused, while the minute has 119 left
        assert h["x-ratelimit-remaining-requests"] == "119" and 0 < int(h["retry-after-ms"]) <= 500
        time.sleep(int(h["retry-after-ms"]) / 1000 + 0.05)
        assert call(c)["x-ratelimit-remaining-requests"] == "118"


def test_quantum_settings_are_checked():
    with pytest.raises(ValueError, match="needs a rate limit"):
        Limits(quantum=1.0)
    with pytest.raises(ValueError, match="less than one request"):
        Limits((30, 60.0), quantum=1.0)  # half a request per second
    with pytest.raises(ValueError, match="quantum remaining"):
        Limits((60, 60.0), quantum=1.0, quantum_remaining="hour")
