"""Provider batch APIs through the official SDKs: Anthropic Message Batches and OpenAI Batch.

One small interface for both: `submit` a list of (custom_id, Request) and get a batch id, `poll` it
for its counts, read its `results` once it has ended, `cancel` it. Requests are built exactly as the
live providers build them (`params` / `body`), and results become the same `Reply` objects, so a
batch result is journaled and judged like a live response. Batches are billed at half price.
"""
from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field

from em_gen.providers.base import Reply, Request, classify

# provider limits per batch (requests, bytes of the request payload)
LIMITS = {"anthropic": (100_000, 256 * 1024 * 1024), "openai": (50_000, 200 * 1024 * 1024)}


@dataclass
class BatchStatus:
    batch_id: str
    ended: bool
    counts: dict = field(default_factory=dict)  # processing, succeeded, errored, expired, canceled
    status: str = ""


@dataclass
class BatchItem:
    custom_id: str
    kind: str  # succeeded | errored | expired | canceled
    reply: Reply | None = None
    error: str = ""


class BatchClient:
    name = "base"

    def __init__(self, provider):
        self.provider = provider
        self.model = provider.model
        self.max_requests, self.max_bytes = LIMITS.get(getattr(provider, "name", ""), LIMITS["openai"])

    def size_of(self, custom_id: str, req: Request) -> int:  # pragma: no cover - interface
        raise NotImplementedError

    async def submit(self, items: list[tuple[str, Request]], token: str) -> str:  # pragma: no cover
        raise NotImplementedError

    async def poll(self, batch_id: str) -> BatchStatus:  # pragma: no cover
        raise NotImplementedError

    async def results(self, batch_id: str) -> list[BatchItem]:  # pragma: no cover
        raise NotImplementedError

    async def cancel(self, batch_id: str) -> None:  # pragma: no cover
        raise NotImplementedError

    async def aclose(self) -> None:
        await self.provider.aclose()

    async def _call(self, coro):
        """Await an SDK call; its errors become ProviderErrors, as for live requests."""
        sdk = importlib.import_module(self.name)
        try:
            return await coro
        except (sdk.AnthropicError if self.name == "anthropic" else sdk.OpenAIError) as e:
            raise classify(e, sdk) from e


class AnthropicBatch(BatchClient):
    name = "anthropic"

    def size_of(self, custom_id: str, req: Request) -> int:
        return len(json.dumps({"custom_id": custom_id, "params": self.provider.params(req)}).encode()) + 2

    async def submit(self, items: list[tuple[str, Request]], token: str) -> str:
        reqs = [{"custom_id": cid, "params": self.provider.params(r)} for cid, r in items]
        batch = await self._call(self.provider.client.messages.batches.create(requests=reqs))
        return batch.id

    async def poll(self, batch_id: str) -> BatchStatus:
        b = await self._call(self.provider.client.messages.batches.retrieve(batch_id))
        c = b.request_counts
        counts = {"processing": c.processing, "succeeded": c.succeeded, "errored": c.errored,
                  "expired": c.expired, "canceled": c.canceled}
        return BatchStatus(batch_id, b.processing_status == "ended", counts, b.processing_status)

    async def results(self, batch_id: str) -> list[BatchItem]:
        from em_gen.providers.anthropic_provider import reply_of
        out = []
        decoder = await self._call(self.provider.client.messages.batches.results(batch_id))
        async for line in decoder:
            r = line.result
            if r.type == "succeeded":
                out.append(BatchItem(line.custom_id, "succeeded", reply_of(r.message, self.model)))
            elif r.type == "errored":
                err = getattr(getattr(r, "error", None), "error", None)
                out.append(BatchItem(line.custom_id, "errored", error=f"{getattr(err, 'type', 'error')}: "
                                                                    f"{getattr(err, 'message', '')}".strip()))
            else:
                out.append(BatchItem(line.custom_id, r.type, error=f"request {r.type}"))
        return out

    async def cancel(self, batch_id: str) -> None:
        await self._call(self.provider.client.messages.batches.cancel(batch_id))


class OpenAIBatch(BatchClient):
    name = "openai"

    def _line(self, custom_id: str, req: Request) -> bytes:
        return (json.dumps({"custom_id": custom_id, "method": "POST", "url": self.provider.endpoint,
                            "body": self.provider.body(req)}, ensure_ascii=False) + "\n").encode("utf-8")

    def size_of(self, custom_id: str, req: Request) -> int:
        return len(self._line(custom_id, req))

    async def submit(self, items: list[tuple[str, Request]], token: str) -> str:
        client = self.provider.client
        data = b"".join(self._line(cid, r) for cid, r in items)
        f = await self._call(client.files.create(file=(f"em-gen-{token}.jsonl", data), purpose="batch"))
        b = await self._call(client.batches.create(input_file_id=f.id, endpoint=self.provider.endpoint,
                                                   completion_window="24h", metadata={"em_gen": token}))
        return b.id

    async def poll(self, batch_id: str) -> BatchStatus:
        b = await self._call(self.provider.client.batches.retrieve(batch_id))
        c = b.request_counts
        total, done, failed = (c.total, c.completed, c.failed) if c else (0, 0, 0)
        ended = b.status in ("completed", "failed", "expired", "cancelled")
        counts = {"processing": 0 if ended else max(0, total - done - failed), "succeeded": done, "errored": failed,
                  "expired": 0, "canceled": 0}
        return BatchStatus(batch_id, ended, counts, b.status)

    async def _file(self, file_id: str | None) -> list[dict]:
        if not file_id:
            return []
        content = await self._call(self.provider.client.files.content(file_id))
        return [json.loads(line) for line in content.text.splitlines() if line.strip()]

    async def results(self, batch_id: str) -> list[BatchItem]:
        from em_gen.providers.openai_provider import reply_of
        b = await self._call(self.provider.client.batches.retrieve(batch_id))
        out = []
        for line in await self._file(b.output_file_id) + await self._file(b.error_file_id):
            cid, resp, err = line.get("custom_id"), line.get("response") or {}, line.get("error") or {}
            if resp.get("status_code") == 200 and not err:
                out.append(BatchItem(cid, "succeeded", reply_of(resp.get("body") or {}, self.model, self.provider.api)))
                continue
            code = err.get("code") or ""
            kind = "expired" if code == "batch_expired" else "canceled" if code == "batch_cancelled" else "errored"
            detail = err.get("message") or ((resp.get("body") or {}).get("error") or {}).get("message") or code
            out.append(BatchItem(cid, kind, error=f"{resp.get('status_code') or code}: {detail}"))
        return out

    async def cancel(self, batch_id: str) -> None:
        await self._call(self.provider.client.batches.cancel(batch_id))


def batch_client(provider) -> BatchClient:
    """The batch client of a live provider (anthropic, openai, or the stand-in speaking openai)."""
    return AnthropicBatch(provider) if provider.name == "anthropic" else OpenAIBatch(provider)
