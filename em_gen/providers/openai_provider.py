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

    @property
    def endpoint(self) -> str:
        return "/v1/completions" if self.api == "completions" else "/v1/chat/completions"

    def body(self, req: Request) -> dict:
        """The request body (live, and each line of a Batch input file)."""
        b = dict(model=self.model, max_tokens=req.max_tokens, stop=req.stop[:4])
        if req.temperature is not None:
            b["temperature"] = req.temperature
        if self.api == "completions":
            b["prompt"] = req.prompt()
        else:
            b["messages"] = [{"role": "system", "content": req.system}, {"role": "user", "content": req.user}]
        return b

    async def complete(self, req: Request) -> Reply:
        body = self.body(req)
        try:
            if self.api == "completions":
                raw = await self.client.completions.with_raw_response.create(**body)
            else:
                raw = await self.client.chat.completions.with_raw_response.create(**body)
            resp = raw.parse()
        except openai.OpenAIError as e:
            raise classify(e, openai) from e
        return reply_of(resp.model_dump(), self.model, self.api, keep_headers(raw.headers))


def reply_of(resp: dict, model: str, api: str = "chat", headers: dict | None = None) -> Reply:
    """A Reply from a (chat) completion body as JSON (a live response or a batch output line)."""
    choice = (resp.get("choices") or [{}])[0]
    text = choice.get("text") if api == "completions" else (choice.get("message") or {}).get("content")
    u = resp.get("usage") or {}
    cached = (u.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    usage = {
        "input_tokens": (u.get("prompt_tokens") or 0) - cached,
        "output_tokens": u.get("completion_tokens") or 0,
        "cache_write_tokens": 0,
        "cache_read_tokens": cached,
    }
    reason = choice.get("finish_reason")
    return Reply(text=text or "", stop_reason=_STOP.get(reason, str(reason)), usage=usage,
                 model=resp.get("model") or model, headers=headers or {})

    async def aclose(self) -> None:
        await self.client.close()
