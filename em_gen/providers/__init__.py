"""Provider selection: anthropic, openai(-compatible) or the offline stand-in."""
from __future__ import annotations

import os
from dataclasses import dataclass

from em_gen.library import BadInput, load_yaml
from em_gen.providers.base import Provider, ProviderError, Reply

DEFAULT_MODELS = {"anthropic": "claude-sonnet-4-6", "openai": "gpt-4.1", "offline": "offline-stand-in"}
# the character judge: a cheaper model of the same provider
DEFAULT_JUDGE_MODELS = {"anthropic": "claude-haiku-4-5", "openai": "gpt-4.1-mini"}
PAID_PROVIDERS = ("anthropic", "openai")

# USD per million tokens: input, output, cache write, cache read. Override or extend with --prices FILE.
PRICES = {
    "claude-opus-4-1": (15.0, 75.0, 18.75, 1.50),
    "claude-opus-4-5": (5.0, 25.0, 6.25, 0.50),
    "claude-sonnet-4-6": (3.0, 15.0, 3.75, 0.30),
    "claude-sonnet-4-5": (3.0, 15.0, 3.75, 0.30),
    "claude-sonnet-4-0": (3.0, 15.0, 3.75, 0.30),
    "claude-haiku-4-5": (1.0, 5.0, 1.25, 0.10),
    "claude-3-5-haiku-latest": (0.80, 4.0, 1.0, 0.08),
    "gpt-4.1": (2.0, 8.0, 0.0, 0.50),
    "gpt-4.1-mini": (0.40, 1.60, 0.0, 0.10),
    "gpt-4o": (2.50, 10.0, 0.0, 1.25),
    "gpt-4o-mini": (0.15, 0.60, 0.0, 0.075),
    "offline-stand-in": (0.0, 0.0, 0.0, 0.0),
}
PRICE_KEYS = ("input", "output", "cache_write", "cache_read")
# Batch APIs bill input and output at this share of the live price; cache writes and reads are
# counted at their usual rates (Anthropic caches inside batches too).
BATCH_MULTIPLIER = {"anthropic": 0.5, "openai": 0.5, "offline": 0.5}


@dataclass
class Pricing:
    model: str
    per_mtok: tuple[float, float, float, float] | None  # None: unknown model, cost not counted
    batch: float = 0.5  # the provider's batch multiplier on input and output

    def cost(self, usage: dict, batch: bool = False) -> float:
        if not self.per_mtok:
            return 0.0
        i, o, w, r = self.per_mtok
        k = self.batch if batch else 1.0
        return (usage.get("input_tokens", 0) * i * k + usage.get("output_tokens", 0) * o * k
                + usage.get("cache_write_tokens", 0) * w + usage.get("cache_read_tokens", 0) * r) / 1e6


def pricing_for(model: str, provider: str, prices_file: str | None = None) -> Pricing:
    table = dict(PRICES)
    if prices_file:
        # schema: input and output required, no unknown key (a typo would price every request at $0
        # and switch off --max-cost), no negative number
        data = load_yaml(__import__("pathlib").Path(prices_file), "prices")
        for name, row in data.items():
            table[str(name)] = tuple(float(row.get(k, 0)) for k in PRICE_KEYS)
    k = BATCH_MULTIPLIER.get(provider, 0.5)
    if provider == "offline":
        return Pricing(model, (0.0, 0.0, 0.0, 0.0), k)
    if model in table:
        return Pricing(model, table[model], k)
    # dated snapshots ("claude-sonnet-4-5-20250929") price like their family
    for name in sorted(table, key=len, reverse=True):
        if model.startswith(name):
            return Pricing(model, table[name], k)
    return Pricing(model, None, k)


def unpriced_refusal(model: str, provider: str, pricing: Pricing, max_cost, allow_unpriced: bool) -> str | None:
    """Why a run on a model with no known price must not start (None when it may): under --max-cost
    the cap could never stop it; on a paid API without --allow-unpriced it would spend money uncounted.
    A custom OPENAI_BASE_URL (a local server) may run unpriced: its requests cost nothing."""
    if pricing.per_mtok is not None:
        return None
    if max_cost is not None:
        return f"--max-cost: no price known for model {model!r}, so the cap could not stop it; pass --prices FILE"
    if provider in PAID_PROVIDERS and not allow_unpriced and not (provider == "openai" and os.environ.get("OPENAI_BASE_URL")):
        return (f"--model {model}: no price known, so its cost would not be counted; pass --prices FILE "
                "(model -> input, output USD per million tokens) or --allow-unpriced")
    return None


def choose_provider(requested: str | None) -> str:
    if requested:
        return requested
    if os.environ.get("ANTHROPIC_API_KEY"):
        return "anthropic"
    if os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL"):
        return "openai"
    return "offline"


def default_judge_model(provider: str, model: str | None = None) -> str:
    """The judge's default model: the provider's cheaper model; for an OpenAI-compatible local server
    (OPENAI_BASE_URL set) and for the stand-in, the generation model itself (`model`, default the
    provider's DEFAULT_MODELS entry)."""
    model = model or DEFAULT_MODELS[provider]
    if provider == "openai" and os.environ.get("OPENAI_BASE_URL"):
        return model
    return DEFAULT_JUDGE_MODELS.get(provider, model)


def check_credentials(name: str, api: str = "chat") -> None:
    """Refuse a provider whose key (or endpoint) is not set, or an API it does not speak: checked
    before a command writes anything, and again when the provider is built."""
    if name == "anthropic":
        if not os.environ.get("ANTHROPIC_API_KEY"):
            raise BadInput("--provider anthropic: ANTHROPIC_API_KEY is not set (export it, or use --provider openai|offline)")
        if api != "chat":
            raise BadInput("--api completions works only with --provider openai (OpenAI-compatible servers)")
    elif name == "openai":
        if not os.environ.get("OPENAI_API_KEY") and not os.environ.get("OPENAI_BASE_URL"):
            raise BadInput("--provider openai: OPENAI_API_KEY is not set (export it, or set OPENAI_BASE_URL for a local server)")
    elif name != "offline":
        raise BadInput(f"--provider: unknown provider {name!r} (choose anthropic, openai or offline)")


def make_provider(name: str, model: str, *, api: str = "chat", timeout: float = 300.0,
                  base_url: str | None = None) -> Provider:
    """Build a provider. For "offline" pass the stand-in server's base_url."""
    check_credentials(name, api)
    if name == "anthropic":
        key = os.environ.get("ANTHROPIC_API_KEY")
        from em_gen.providers.anthropic_provider import AnthropicProvider
        return AnthropicProvider(model, key, base_url=os.environ.get("ANTHROPIC_BASE_URL") or None, timeout=timeout)
    if name == "openai":
        key = os.environ.get("OPENAI_API_KEY")
        url = os.environ.get("OPENAI_BASE_URL") or None
        from em_gen.providers.openai_provider import OpenAIProvider
        return OpenAIProvider(model, key or "no-key", base_url=url, timeout=timeout, api=api)
    if name == "offline":
        from em_gen.providers.openai_provider import OpenAIProvider
        return OpenAIProvider(model, "offline", base_url=base_url, timeout=timeout, api=api, name="offline")
    raise BadInput(f"--provider: unknown provider {name!r} (choose anthropic, openai or offline)")


__all__ = ["Provider", "ProviderError", "Reply", "Pricing", "pricing_for", "choose_provider", "make_provider",
           "DEFAULT_MODELS", "DEFAULT_JUDGE_MODELS", "PAID_PROVIDERS", "default_judge_model", "check_credentials"]
