"""`em-gen judge-check [--judge-model M] [--corpus DIR]`: measure the configured judge model, with the
user's key, on the labelled corpus that ships with em-gen (tests/quality/realistic/), before paying
for --full. Prints precision and recall overall and per family, the logs it got wrong, the cost and
one verdict line; exit 0 at or above 0.95/0.95, 1 below (or when answers stayed unreadable), 2 for
bad input. Answers and the check are recorded per judge model (em_gen/generate/judge_check.py says
where); a rerun reuses them for free. `--provider offline` replays the answers recorded with the
corpus through the stand-in: the figures of the strong model that recorded them, at no cost."""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from em_gen.guard import EXIT_FAIL, EXIT_OK, guarded
from em_gen.library import BadInput, load_library
from em_gen.providers import (
    ProviderError,
    choose_provider,
    default_judge_model,
    make_provider,
    pricing_for,
)

PROG = "em-gen judge-check"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2
        raise BadInput(f"{message} (see {PROG} --help)")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="Measure a judge model on em-gen's labelled corpus before --full: "
                "precision and recall overall and per family, the logs it got wrong, the cost, a verdict.")
    p.add_argument("--judge-model", default=None, metavar="NAME",
                   help="the judge model to check (default: the one --full would use: claude-haiku-4-5 for "
                        "anthropic, gpt-4.1-mini for openai, the generation model for a local OPENAI_BASE_URL server)")
    p.add_argument("--model", default=None, metavar="NAME",
                   help="the generation model --full would use: with a local OPENAI_BASE_URL server the judge defaults to it")
    p.add_argument("--provider", choices=["anthropic", "openai", "offline"], default=None,
                   help="default: as for em-gen (ANTHROPIC_API_KEY, then OPENAI_API_KEY / OPENAI_BASE_URL, else "
                        "offline, which replays the answers recorded with the corpus)")
    p.add_argument("--corpus", default=None, metavar="DIR",
                   help="a labelled corpus folder (default: the one that ships with em-gen, tests/quality/realistic/)")
    p.add_argument("--batch-api", action="store_true", help="one provider batch at half price instead of live requests")
    p.add_argument("--poll-interval", type=float, default=60.0, metavar="S", help="with --batch-api: the longest wait between polls")
    p.add_argument("--concurrency", type=int, default=8, help="live requests in flight")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds per request")
    p.add_argument("--prices", default=None, metavar="FILE", help="YAML price table, as for em-gen")
    p.add_argument("--fresh", action="store_true", help="ask every log again, ignoring answers recorded for this rubric and model")
    p.add_argument("--estimate", action="store_true", help="print the requests and cost, ask nothing")
    p.add_argument("--threshold", type=float, default=None, metavar="X", help="precision and recall needed (default 0.95)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--scenarios", default=None, metavar="DIR", help="scenario folder (default: the repo's scenarios/)")
    p.add_argument("--prompts", default=None, metavar="DIR", help="prompt folder, with the judge rubric (default: the repo's prompts/)")
    return p


def _check(args) -> None:
    for name in ("concurrency", "timeout", "poll_interval"):
        if getattr(args, name) <= 0:
            raise BadInput(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    if args.threshold is not None and not 0 < args.threshold <= 1:
        raise BadInput(f"--threshold must be in (0, 1], got {args.threshold}")


def _offline_server(lib, logs):
    from em_gen.providers.standin.server import StandInServer
    srv = StandInServer(library=lib, judge_answers={log.key: log.answer for log in logs if log.answer})
    srv.start()
    return srv


def run(args) -> int:
    from em_gen.generate.estimate import judge_requests
    from em_gen.generate.judge_check import Asker, CheckStore, now_iso
    from em_gen.quality.corpus import DEFAULT_CORPUS, load_corpus
    from em_gen.quality.judge_check import THRESHOLD, format_figures, rubric_id, score, verdict_line

    _check(args)
    lib = load_library(args.scenarios, args.prompts)
    corpus = Path(args.corpus) if args.corpus else DEFAULT_CORPUS
    logs = load_corpus(corpus)
    provider = choose_provider(args.provider)
    model = args.judge_model or default_judge_model(provider, args.model)
    pricing = pricing_for(model, provider, args.prices)
    rubric = rubric_id(lib)
    threshold = args.threshold or THRESHOLD
    say = (lambda msg: print(msg, file=sys.stderr))
    n_bad = sum(log.label == "bad" for log in logs)
    say(f"judge-check: {provider}/{model} on {len(logs)} labelled logs ({n_bad} bad, {len(logs) - n_bad} good) "
        f"in {corpus}, rubric {rubric}")
    if provider == "offline":
        say("judge-check: offline stand-in: it replays the answers recorded with the corpus (a strong model's), "
            "so these figures are that model's, not a new judgement")
    store = CheckStore(provider, model)
    server = _offline_server(lib, logs) if provider == "offline" else None
    try:
        prov = make_provider(provider, model, timeout=args.timeout,
                             base_url=server.base_url + "/v1" if server else None)
        # offline replays the corpus's own recorded answers: always afresh, so an updated corpus shows
        asker = Asker(lib, prov, store, pricing, rubric, args.concurrency, args.fresh or provider == "offline",
                      progress=say)
        need = asker.needed(logs)
        est = judge_requests(lib, [asker.request(log).user for log in need], provider, model, pricing)
        money = est.batch_cost if args.batch_api else est.cost
        say(f"judge-check: {len(need)} logs to ask, {len(logs) - len(need)} answered by an earlier check for free; "
            f"about {'$%.2f' % money if money is not None else 'an unknown cost (no price: pass --prices FILE)'}"
            f"{' (batch, half price)' if args.batch_api else ''}")
        if args.estimate:
            return EXIT_OK
        try:
            if args.batch_api:
                asyncio.run(_closing(prov, asker.batch(logs, args.poll_interval)))
            else:
                asyncio.run(_closing(prov, asker.live(logs)))
        except ProviderError as e:
            say(f"{PROG}: error: {provider}/{model}: {e}; the answers already paid for are kept and a rerun "
                "reuses them")
            return EXIT_FAIL
    finally:
        store.close()
        if server is not None:
            server.stop()
    fig = score(lib, logs, asker.answers)
    used = sum(asker.cost_by_key.get(log.key, 0.0) for log in logs)
    cost = (f"cost: ${asker.stats.cost:.4f} this run ({asker.stats.new} requests"
            f"{', %d batch(es) at half price' % asker.stats.batches if asker.stats.batches else ''}); "
            f"{len(logs) - len(need)} logs reused from an earlier check; the answers behind these figures cost "
            f"${used:.4f} in all" + ("" if pricing.per_mtok else " (no price known for this model)"))
    line = verdict_line(fig, model, threshold, replay=provider == "offline")
    summary = {**fig.as_dict(), "provider": provider, "model": model, "rubric": rubric, "corpus": str(corpus),
               "threshold": threshold, "passed": fig.passed(threshold), "cost_this_run": round(asker.stats.cost, 6),
               "cost_total": round(used, 6), "verdict": line}
    store.save_check(rubric, {k: summary[k] for k in ("passed", "precision", "recall", "gate_precision",
                                                        "gate_recall", "n_bad", "n_good", "unjudged", "corpus",
                                                        "threshold", "cost_total", "verdict")}
                     | {"at": now_iso()})
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(format_figures(fig, model, str(corpus)))
        print(cost)
        print(f"recorded: {store.record_path}")
        print(line)
    return EXIT_OK if fig.passed(threshold) and not fig.unjudged else EXIT_FAIL


async def _closing(prov, coro):
    try:
        return await coro
    finally:
        await prov.aclose()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    return guarded(PROG, lambda: run(build_parser().parse_args(argv)),
                   interrupted="interrupted; the answers already paid for are recorded and a rerun reuses them")
