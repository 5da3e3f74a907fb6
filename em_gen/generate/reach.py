"""Fail fast on an endpoint that cannot be reached.

Until a provider has answered once, connection errors (refused, unknown host, ...) are retried only
for `grace` seconds; then the request fails with one non-retryable error that names the URL and the
cause, so a wrong `OPENAI_BASE_URL` or `ANTHROPIC_BASE_URL` stops the run in seconds instead of
spending every retry of every job. After the first answer, connection errors are retried as usual
(a server that restarts mid-run is waited for).
"""
from __future__ import annotations

import time

from em_gen.providers import Provider, ProviderError

GRACE = 5.0  # seconds of connection errors, before any answer, after which the run stops: with
# the runner's backoff (1, 2, 4 s + jitter) that is the 4th attempt, 7-11 s after the first


def base_url_of(provider: Provider) -> str:
    client = getattr(provider, "client", None)
    url = str(getattr(client, "base_url", "") or "")
    return url.rstrip("/") or f"the {getattr(provider, 'name', 'provider')} API"


def unreachable(url: str, cause: str, attempts: int, seconds: float) -> str:
    return (f"cannot reach {url}: {cause} ({attempts} attempts over {seconds:.0f}s, no answer yet); "
            "check the URL (OPENAI_BASE_URL / ANTHROPIC_BASE_URL) and that the server is running")


class ReachGuard(Provider):
    """Wraps a provider; everything but `complete` is the wrapped provider's."""

    def __init__(self, inner: Provider, grace: float = GRACE, peer: ReachGuard | None = None):
        self.inner, self.grace, self.peer = inner, grace, peer  # peer: the same server's other model
        self._reached = False
        self.first_error: float | None = None
        self.attempts = 0

    def __getattr__(self, name):  # model, client, ...: the wrapped provider's
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def reached(self) -> bool:
        return self._reached or (self.peer is not None and self.peer._reached)

    async def complete(self, req):
        try:
            reply = await self.inner.complete(req)
        except ProviderError as e:
            if e.status is not None:  # an HTTP answer: the server is there
                self._reached = True
            if self.reached or not getattr(e, "cause", None):
                raise
            now = time.monotonic()
            self.first_error = self.first_error if self.first_error is not None else now
            self.attempts += 1
            if now - self.first_error >= self.grace:
                raise ProviderError(unreachable(base_url_of(self.inner), e.cause, self.attempts,
                                                now - self.first_error), retryable=False) from e
            raise
        self._reached = True
        return reply

    async def aclose(self) -> None:
        await self.inner.aclose()
