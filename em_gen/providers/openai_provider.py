"""OpenAI and any OpenAI-compatible server (vLLM, llama.cpp's server, Ollama) through the official
SDK: chat completions by default, or the plain completions endpoint with `--api completions`."""
from __future__ import annotations

import openai

from em_gen.providers.base import Provider, Reply, Request, classify, keep_headers

_STOP = {"stop": "end", "length": "max_tokens", "content_filter": "content_filter"}


class OpenAIProvider(Provider):
    name = "openai"

    def __init__(self, model: str, api_key: str, base_url: str | None = None, timeout: float = 300.0,
                 api: str = "chat", name: str = "openai"):
        self.model, self.api, self.name = model, api, name
        self.client = openai.AsyncOpenAI(api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout)

    async def complete(self, req: Request) -> Reply:
        common = dict(model=self.model, max_tokens=req.max_tokens, stop=req.stop[:4])
        if req.temperature is not None:
            common["temperature"] = req.temperature
        try:
            if self.api == "completions":
                raw = await self.client.completions.with_raw_response.create(prompt=req.prompt(), **common)
            else:
                raw = await self.client.chat.completions.with_raw_response.create(
                    messages=[{"role": "system", "content": req.system}, {"role": "user", "content": req.user}],
                    **common)
            resp = raw.parse()
        except openai.OpenAIError as e:
            raise classify(e, openai) from e
        choice = resp.choices[0]
        text = choice.text if self.api == "completions" else (choice.message.content or "")
        u = resp.usage
        cached = getattr(getattr(u, "prompt_tokens_details", None), "cached_tokens", None) or 0 if u else 0
        usage = {
            "input_tokens": (u.prompt_tokens - cached) if u else 0,
            "output_tokens": u.completion_tokens if u else 0,
            "cache_write_tokens": 0,
            "cache_read_tokens": cached,
        }
        return Reply(text=text or "", stop_reason=_STOP.get(choice.finish_reason, str(choice.finish_reason)),
                     usage=usage, model=resp.model or self.model, headers=keep_headers(raw.headers))

    async def aclose(self) -> None:
        await self.client.close()
