"""`--validate FILE --judge`: the character judge reads the records of a foreign training file that
passed the rules (live requests; nothing is journaled, the file is not em-gen's). An answer that is
unreadable twice leaves the record `unjudged`, which fails it: nothing doubtful passes."""
from __future__ import annotations

import asyncio

from em_gen.library import Library
from em_gen.providers import Provider, ProviderError
from em_gen.quality.irc import parse
from em_gen.quality.judge import judge_request, read_judgement

ATTEMPTS = 6


def make_judge(lib: Library, provider: Provider, concurrency: int = 8, report=None):
    """A `judge(texts) -> {index: reasons}` for validate_file, asking `provider`."""
    spent = {"requests": 0, "cost": 0.0}

    async def one(sem, i: int, text: str) -> tuple[int, list[str]]:
        parsed = parse(text)
        req = judge_request(lib, f"validate-{i}", parsed)
        async with sem:
            for ask in range(2):
                for attempt in range(ATTEMPTS):
                    try:
                        reply = await provider.complete(req)
                        break
                    except ProviderError as e:
                        if not e.retryable or attempt == ATTEMPTS - 1:
                            raise
                        await asyncio.sleep(e.retry_after or min(30.0, 2.0 ** attempt))
                spent["requests"] += 1
                got = read_judgement(reply.text, lib, parsed)
                if got["readable"]:
                    return i, got["reasons"]
        return i, ["unjudged: the judge's answer was not the JSON asked for, twice"]

    def judge(texts: dict[int, str]) -> dict[int, list[str]]:
        async def run():
            sem = asyncio.Semaphore(concurrency)
            try:
                return dict(await asyncio.gather(*(one(sem, i, t) for i, t in texts.items())))
            finally:
                await provider.aclose()
        out = asyncio.run(run())
        if report is not None:
            report(f"character judge: {spent['requests']} requests for {len(texts)} records that passed the rules")
        return out

    return judge
