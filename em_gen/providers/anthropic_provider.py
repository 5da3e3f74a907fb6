"""Anthropic messages API through the official SDK. The static system prompt is sent with
`cache_control`, so repeat requests bill it as cached input."""
from __future__ import annotations

import anthropic

from em_gen.providers.base import Provider, Reply, Request, classify, keep_headers

_STOP = {"end_turn": "end", "max_tokens": "max_tokens", "stop_sequence": "stop_sequence"}


class AnthropicProvider(Provider):
    name = "anthropic"

    def __init__(self, model: str, api_key: str, base_url: str | None = None, timeout: float = 300.0):
        self.model = model
        self.client = anthropic.AsyncAnthropic(api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout)

    def params(self, req: Request) -> dict:
        """The messages.create parameters of a request (live, and each entry of a Message Batch)."""
        p = dict(model=self.model, max_tokens=req.max_tokens,
                 # the static prefix is cached, in batches too
                 system=[{"type": "text", "text": req.system, "cache_control": {"type": "ephemeral"}}],
                 messages=[{"role": "user", "content": req.user}], stop_sequences=req.stop)
        if req.temperature is not None:
            p["temperature"] = req.temperature
        return p

    async def complete(self, req: Request) -> Reply:
        p = self.params(req)
        temperature = p.pop("temperature", None)
        try:
            raw = await self.client.messages.with_raw_response.create(
                # anthropic 2.x dropped `temperature` from the typed signature; send it only when asked
                **({"extra_body": {"temperature": temperature}} if temperature is not None else {}), **p)
            msg = await raw.parse()
        except anthropic.AnthropicError as e:
            raise classify(e, anthropic) from e
        return reply_of(msg, self.model, keep_headers(raw.headers))


def reply_of(msg, model: str, headers: dict | None = None) -> Reply:
    """A Reply from an anthropic Message (a live response or a batch result)."""
    u = msg.usage
    usage = {
        "input_tokens": u.input_tokens or 0,
        "output_tokens": u.output_tokens or 0,
        "cache_write_tokens": getattr(u, "cache_creation_input_tokens", None) or 0,
        "cache_read_tokens": getattr(u, "cache_read_input_tokens", None) or 0,
    }
    text = "".join(getattr(b, "text", "") for b in msg.content if getattr(b, "type", "") == "text")
    return Reply(text=text, stop_reason=_STOP.get(msg.stop_reason, str(msg.stop_reason)), usage=usage,
                 model=msg.model or model, headers=headers or {})

    async def aclose(self) -> None:
        await self.client.close()
