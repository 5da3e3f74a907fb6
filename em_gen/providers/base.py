"""One small async interface for every provider, plus the error classification the runner uses."""
from __future__ import annotations

import email.utils
import os
import re
import time
from dataclasses import dataclass, field
from datetime import datetime

# Stop sequences against hallucinated continuations (character-training-report.md §3.3, §11.4).
STOP_SEQUENCES = ["\nUser:", "\nAssistant:", "\nHuman:", "\n\nUser:"]


@dataclass
class Request:
    job_id: str
    system: str
    user: str
    max_tokens: int
    temperature: float | None  # None: the provider's default
    stop: list[str] = field(default_factory=lambda: list(STOP_SEQUENCES))
    part: int = 0  # 0 = first request, 1.. = continuation after a max_tokens cut

    def prompt(self) -> str:
        """Single-string form for completion-only servers (`--api completions`)."""
        return f"{self.system}\n\n{self.user}\n\n"


# Rate-limit headers worth keeping (OpenAI-style and Anthropic-style).
RATE_HEADERS = ("retry-after", "retry-after-ms",
                *(f"x-ratelimit-{k}-{d}" for d in ("requests", "tokens") for k in ("limit", "remaining", "reset")),
                *(f"anthropic-ratelimit-{d}-{k}" for d in ("requests", "input-tokens", "output-tokens", "tokens")
                  for k in ("limit", "remaining", "reset")))


@dataclass
class Reply:
    text: str
    stop_reason: str  # "end", "max_tokens" or "stop_sequence"
    usage: dict  # input_tokens, output_tokens, cache_write_tokens, cache_read_tokens
    model: str
    headers: dict = field(default_factory=dict)


class ProviderError(Exception):
    """A failed request. `retryable` decides between retrying and stopping the run at once."""

    headers: dict | None = None  # a 429/529/503's rate-limit headers (keep_headers), set by classify

    def __init__(self, message: str, *, retryable: bool, status: int | None = None,
                 retry_after: float | None = None, rate_limited: bool = False, cause: str | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after
        self.rate_limited = rate_limited  # 429 / 529 / 503: the runner cools down and narrows concurrency
        self.cause = cause  # set for a connection error: why the server could not be reached


class Provider:
    name = "base"

    async def complete(self, req: Request) -> Reply:  # pragma: no cover - interface
        raise NotImplementedError

    async def aclose(self) -> None:
        pass


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_SCALE = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration(value: str) -> float | None:
    """Seconds from '1.5', '20ms', '6m0s', an HTTP date or an ISO timestamp (reset headers)."""
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    parts = _DURATION.findall(value)
    if parts and "".join(n + u for n, u in parts) == value:
        return sum(float(n) * _SCALE[u] for n, u in parts)
    return _date(value)


def _date(value: str) -> float | None:
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return max(0.0, when - time.time())


def retry_after(headers) -> float | None:
    """The server's requested wait, from retry-after-ms / retry-after (seconds or HTTP date)."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    ra = headers.get("retry-after")
    return duration(ra) if ra else None


def keep_headers(headers) -> dict:
    return {k: headers.get(k) for k in RATE_HEADERS if headers is not None and headers.get(k) is not None}


def connection_cause(exc: BaseException) -> str:
    """The root of a connection error, e.g. 'Connection refused' rather than the SDK's 'Connection
    error.' or httpx's 'All connection attempts failed'."""
    seen, e, best = set(), exc, None
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, OSError) and (e.errno or 0) > 0:
            best = os.strerror(e.errno)  # asyncio words ECONNREFUSED as "Connect call failed (...)"
        elif isinstance(e, OSError) and e.strerror:
            best = e.strerror  # e.g. a DNS failure: "Name or service not known"
        e = e.__cause__ or e.__context__
    return best or str(exc.__cause__ or exc)


def classify(exc: Exception, sdk) -> ProviderError:
    """Map an SDK exception (openai or anthropic module passed as `sdk`) to a ProviderError."""
    if isinstance(exc, sdk.APITimeoutError):
        return ProviderError(f"request timed out ({exc})", retryable=True)
    if isinstance(exc, sdk.APIConnectionError):
        cause = connection_cause(exc)
        return ProviderError(f"connection error ({cause})", retryable=True, cause=cause)
    if isinstance(exc, sdk.APIStatusError):
        status = exc.status_code
        headers = getattr(exc.response, "headers", None)
        body = getattr(exc, "body", None)
        detail = body.get("error", body) if isinstance(body, dict) else body
        if isinstance(detail, dict):
            detail = detail.get("message") or detail
        msg = f"HTTP {status}: {detail or exc}"
        if status in (401, 403):
            return ProviderError(f"{msg} (check the API key)", retryable=False, status=status)
        if status == 404:
            return ProviderError(f"{msg} (unknown model or wrong base URL)", retryable=False, status=status)
        if status in (400, 413, 422):
            return ProviderError(msg, retryable=False, status=status)
        if status == 429 or status == 529 or status == 503:
            err = ProviderError(msg, retryable=True, status=status, retry_after=retry_after(headers),
                                rate_limited=True)
            err.headers = keep_headers(headers)  # the limiter reads remaining and reset from 429s too
            return err
        if status >= 500 or status == 408 or status == 409:
            return ProviderError(msg, retryable=True, status=status, retry_after=retry_after(headers))
        return ProviderError(msg, retryable=False, status=status)
    if isinstance(exc, sdk.APIError):  # e.g. a malformed stream
        return ProviderError(f"API error: {exc}", retryable=True)
    raise exc
