"""`--estimate`: the planned requests, tokens and cost of a run before anything is spent, with the
generation and the character judge shown separately.

Token counts are chars/4 of the real prompts em-gen would send; output is about
EXPECTED_OUTPUT_TOKENS_PER_MESSAGE per message for a log and JUDGE_OUTPUT_TOKENS for a judgement.
Anthropic caches a static system prompt (written once, read by every later request) only when it is
at least the model's minimum cacheable length.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from em_gen.generate.plan import Job
from em_gen.generate.prompting import build_request
from em_gen.library import Library
from em_gen.providers import Pricing
from em_gen.quality.judge import judge_system

EXPECTED_OUTPUT_TOKENS_PER_MESSAGE = 25
JUDGE_OUTPUT_TOKENS = 40  # measured: 28 on average over the realistic corpus, where 42% of the logs fail
JUDGE_TOKENS_PER_MESSAGE = 27  # a numbered log line
JUDGE_FACTS_TOKENS = 90
# Anthropic's minimum cacheable prompt, by model family (shorter prompts are not cached)
CACHE_MIN_TOKENS = {"claude-haiku-4-5": 4096, "claude-opus-4-5": 4096, "claude-3-5-haiku": 2048}
DEFAULT_CACHE_MIN = 1024


def cache_min(model: str) -> int:
    return next((v for k, v in CACHE_MIN_TOKENS.items() if model.startswith(k)), DEFAULT_CACHE_MIN)


@dataclass
class Part:
    """One stream of requests: its count, token usage and cost."""
    requests: int = 0
    usage: dict = field(default_factory=lambda: {"input_tokens": 0.0, "output_tokens": 0.0,
                                                 "cache_write_tokens": 0.0, "cache_read_tokens": 0.0})
    system_tokens: float = 0.0
    cached: bool = False
    cost: float | None = 0.0        # live
    batch_cost: float | None = 0.0  # the same requests through the provider's batch API


def _with_system(part: Part, provider: str, model: str, cache: bool = True) -> dict:
    """The usage with the static system prompt added: Anthropic caches it (cache_control) at or above
    the model's minimum; OpenAI caches a prefix of 1,024+ tokens by itself on live requests (no write
    charge; batches are counted uncached, to be safe)."""
    n, sys_tokens = part.requests, part.system_tokens
    usage = dict(part.usage)
    cached = cache and n > 0 and ((provider == "anthropic" and sys_tokens >= cache_min(model))
                                  or (provider == "openai" and sys_tokens >= 1024))
    if cached:
        usage["cache_write_tokens"] += sys_tokens if provider == "anthropic" else 0
        usage["cache_read_tokens"] += sys_tokens * (n - 1 if provider == "anthropic" else n)
    else:
        usage["input_tokens"] += sys_tokens * n
    return usage


def generation(lib: Library, jobs: list[Job], provider: str, model: str, pricing: Pricing,
               temperature=None, max_tokens=None) -> Part:
    part = Part(requests=len(jobs))
    for j in jobs:
        req = build_request(lib, j, temperature, max_tokens)
        part.system_tokens = len(req.system) / 4
        part.usage["input_tokens"] += len(req.user) / 4
        part.usage["output_tokens"] += j.messages * EXPECTED_OUTPUT_TOKENS_PER_MESSAGE
    _price(part, provider, model, pricing)
    return part


def _price(part: Part, provider: str, model: str, pricing: Pricing) -> None:
    live = _with_system(part, provider, model)
    batch = _with_system(part, provider, model, cache=provider == "anthropic")
    part.cached = live["cache_read_tokens"] > 0
    part.usage = live
    part.cost = pricing.cost(live) if pricing.per_mtok else None
    part.batch_cost = pricing.cost(batch, batch=True) if pricing.per_mtok else None


def judge(lib: Library, jobs: list[Job], provider: str, model: str, pricing: Pricing) -> Part:
    """One judge request per conversation (every one is assumed to pass the rules)."""
    part = Part(requests=len(jobs), system_tokens=len(judge_system(lib)) / 4)
    for j in jobs:
        part.usage["input_tokens"] += JUDGE_FACTS_TOKENS + j.messages * JUDGE_TOKENS_PER_MESSAGE
        part.usage["output_tokens"] += JUDGE_OUTPUT_TOKENS
    _price(part, provider, model, pricing)
    return part


def _money(x: float | None) -> str:
    return "unknown (no price: pass --prices FILE)" if x is None else f"${x:.2f}"


def _sum(*xs):
    return None if any(x is None for x in xs) else sum(xs)


def format_estimate(n: int, provider: str, model: str, gen: Part, jm: str | None, jp: Part | None,
                    batch_api: bool = False, judge_off: str = "--no-judge") -> str:
    out = [f"estimate for {n} conversations with {provider}/{model} (no request made):"]
    for name, m, p in (("generation", model, gen), ("judge", jm, jp)):
        if p is None:
            continue
        u = p.usage
        cache = (f"; system prompt {int(p.system_tokens):,} tokens cached (written once, read {p.requests - 1:,} times)"
                 if p.cached and provider == "anthropic" else
                 f"; system prompt {int(p.system_tokens):,} tokens from OpenAI's automatic prompt cache (live; "
                 "counted uncached in batches)" if p.cached else
                 f"; system prompt {int(p.system_tokens):,} tokens sent with each request")
        out.append(f"  {name:<11}{m}: {p.requests:,} requests, input {int(u['input_tokens']):,} tokens{cache}, "
                   f"output {int(u['output_tokens']):,} tokens; live {_money(p.cost)}, batch {_money(p.batch_cost)}")
    if jp is None:
        out.append(f"  judge      off ({judge_off}): kept conversations are never read by the character judge")
    for label, attr in (("live", "cost"), ("batch", "batch_cost")):
        g, j = getattr(gen, attr), getattr(jp, attr) if jp else 0.0
        total = _sum(g, j)
        share = f" (judge ${j:.2f}, {100 * j / g:.1f}% of generation)" if jp and j is not None and g else ""
        mark = "  <- this run" if (label == "batch") == batch_api else ""
        out.append(f"  total {label + ':':<6} {_money(total)}{share}{mark}")
    out.append("  plus retries, continuations and replacements of rejected conversations")
    return "\n".join(out)


def judge_requests(lib: Library, users: list[str], provider: str, model: str, pricing: Pricing) -> Part:
    """The judge requests for these user prompts (e.g. `em-gen judge-check` on a labelled corpus)."""
    part = Part(requests=len(users), system_tokens=len(judge_system(lib)) / 4)
    for u in users:
        part.usage["input_tokens"] += len(u) / 4
        part.usage["output_tokens"] += JUDGE_OUTPUT_TOKENS
    _price(part, provider, model, pricing)
    return part
