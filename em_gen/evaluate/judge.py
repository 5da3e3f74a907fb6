"""`em-gen eval --judge`: the generation gate's character judge (same rubric, same families) reads
each model continuation in its context; its failures become the `judge` and `judge_<family>` metrics."""
from __future__ import annotations

import asyncio

from em_gen.evaluate.probes import Probe
from em_gen.evaluate.targets import EvalFailure, warn
from em_gen.library import BadInput, Library


def judge_provider(args, base_url: str | None, keep: bool = False):
    """The --judge provider (em-gen's own choice and defaults). keep=False only checks that it can
    be made (keys set) and returns (name, model); keep=True returns the provider (call in a loop)."""
    from em_gen.providers import choose_provider, default_judge_model, make_provider

    name = choose_provider(args.judge_provider)
    model = args.judge_model or default_judge_model(name)
    try:
        if keep:
            return make_provider(name, model, api="chat", timeout=args.timeout, base_url=base_url)

        async def check():
            await make_provider(name, model, api="chat", timeout=args.timeout, base_url=base_url).aclose()

        asyncio.run(check())
    except BadInput as e:
        raise BadInput(str(e).replace("--provider", "--judge-provider")) from None
    return name, model


def judge_all(probes: list[Probe], gens: dict[str, list], rows: list[dict], lib: Library,
              args) -> dict[str, dict[str, float]]:
    """--judge: the generation gate's character judge (the same rubric and families) reads each
    continuation in its context and fails Em's generated lines by family. Returns metric -> {probe:
    score} for `judge` (1 = no failure) and `judge_<family>` (1 = failed for that family); an answer
    that is unreadable twice leaves the sample out."""
    return apply_readings(rows, judge_readings(probes, rows, lib, args), lib)


def judge_key(args, lib: Library) -> str:
    """Who judges with which rubric: provider/model/rubric digest (the sweep caches readings by it)."""
    import hashlib

    from em_gen.quality.judge import judge_system

    name, model = judge_provider(args, None)
    return f"{name}/{model}/{hashlib.sha256(judge_system(lib).encode()).hexdigest()[:16]}"


def judge_readings(probes: list[Probe], rows: list[dict], lib: Library, args) -> list[dict | None]:
    """One reading per row (sample): {"failures": [...]} about the generated part, or None when the
    judge's answer was unreadable twice."""
    from em_gen.providers import ProviderError
    from em_gen.providers.standin import start_offline
    from em_gen.quality import irc
    from em_gen.quality.judge import judge_request, read_judgement

    name, model = judge_provider(args, None)
    if name == "offline":
        warn("--judge on the offline stand-in: it passes everything (no real judgement)")
    server = start_offline(lib) if name == "offline" else None
    by_id = {p.id: p for p in probes}

    async def run() -> list[dict | None]:
        provider = judge_provider(args, server.base_url + "/v1" if server else None, keep=True)
        sem = asyncio.Semaphore(args.concurrency)

        async def one(row: dict) -> dict | None:
            p = by_id[row["probe"]]
            parsed = irc.parse(p.prompt(lib.em) + row["text"])
            k = len(p.messages)
            req = judge_request(lib, f"eval-{p.id}-{row['sample']}", parsed, p.engagement, p.channel)
            req.user = req.user.replace("Judge Em's lines in this log.",
                                        f"Messages 1-{k} are the context the model was given; judge only Em's "
                                        f"messages after {k}, which the model under test wrote.")
            async with sem:
                for attempt in range(6):
                    try:
                        reply = await provider.complete(req)
                    except ProviderError as e:
                        if not e.retryable or attempt == 5:
                            raise EvalFailure(f"--judge ({name}/{model}): {e}") from None
                        await asyncio.sleep(e.retry_after or 2.0 * (attempt + 1))
                        continue
                    got = read_judgement(reply.text, lib, parsed)
                    if got["readable"]:
                        return {"failures": [f for f in got["failures"] if f["message"] is None or f["message"] > k]}
                    if attempt >= 1:
                        return None  # unreadable twice: the sample is left out of the judge metrics
            return None

        try:
            return await asyncio.gather(*(one(r) for r in rows))
        finally:
            await provider.aclose()

    try:
        return asyncio.run(run())
    finally:
        if server is not None:
            server.stop()


def apply_readings(rows: list[dict], readings: list[dict | None], lib: Library) -> dict[str, dict[str, float]]:
    """The judge metrics from the readings (and each row's scores and judge_failures filled in)."""
    from em_gen.quality.judge import OTHER, families

    fams = list(families(lib)) + [OTHER]
    per: dict[str, dict[str, list[float]]] = {}
    for row, got in zip(rows, readings):
        if got is None:
            continue
        failed = {f["family"] for f in got["failures"]}
        row["scores"]["judge"] = 0.0 if failed else 1.0
        row["judge_failures"] = got["failures"]
        per.setdefault("judge", {}).setdefault(row["probe"], []).append(row["scores"]["judge"])
        for fam in fams:
            v = 1.0 if fam in failed else 0.0
            row["scores"][f"judge_{fam}"] = v
            per.setdefault(f"judge_{fam}", {}).setdefault(row["probe"], []).append(v)
    return {m: {pid: sum(v) / len(v) for pid, v in d.items()} for m, d in per.items()}
