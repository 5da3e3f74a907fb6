"""`em-gen premises --expand N [--topic T]`: ask the provider's cheap model for more premises, journal
the answers, deduplicate them against the library and write them as a reviewable data file that
the library loads (em_gen/generate/premises.py)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from em_gen.guard import guarded
from em_gen.library import SCENARIOS_DIR, BadInput, load_library


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="em-gen premises", description=__doc__.splitlines()[0])
    ap.add_argument("--expand", type=int, metavar="N", required=True, help="how many new premises to add")
    ap.add_argument("--topic", help="all N for this topic id (default: spread over the topics by the mix's weights)")
    ap.add_argument("--out", default="em_character_data", help="folder of the answer journal (premises_journal.jsonl)")
    ap.add_argument("--scenarios", type=Path, default=None, help="scenario folder to add to (default: scenarios/)")
    ap.add_argument("--prompts", type=Path, default=None)
    ap.add_argument("--provider", choices=["anthropic", "openai", "offline"])
    ap.add_argument("--model", help="default: the provider's cheap model, the character judge's default")
    ap.add_argument("--per-request", type=int, default=25, metavar="K", help="premises asked for per request (default 25)")
    ap.add_argument("--rounds", type=int, default=3, help="ask again for a topic still short, at most this many rounds")
    ap.add_argument("--batch-api", action="store_true", help="send the requests as provider batches (half price)")
    ap.add_argument("--poll-interval", type=float, default=60.0, metavar="S")
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--timeout", type=float, default=300.0)
    ap.add_argument("--prices", default=None)
    ap.add_argument("--resume", action="store_true", help="continue the last unfinished expansion; nothing answered is asked again")
    ap.add_argument("--force", action="store_true")
    return ap


def _run(argv: list[str]) -> int:
    from em_gen.generate import premises as pm
    from em_gen.providers import (
        check_credentials,
        choose_provider,
        default_judge_model,
        make_provider,
        pricing_for,
    )
    args = build_parser().parse_args(argv)
    if args.expand < 1:
        raise BadInput(f"--expand: must be at least 1, got {args.expand}")
    if not 1 <= args.per_request <= 200:
        raise BadInput(f"--per-request: must be 1-200, got {args.per_request}")
    if args.rounds < 1:
        raise BadInput(f"--rounds: must be at least 1, got {args.rounds}")
    lib = load_library(args.scenarios, args.prompts)
    pm.targets(lib, args.expand, args.topic)
    provider_name = choose_provider(args.provider)
    check_credentials(provider_name)
    model = args.model or default_judge_model(provider_name)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise BadInput(f"--out: {out} is a file, not a folder")
    journal = pm.Journal(out)
    exp = pm.start(journal, lib, args.expand, args.topic, args.per_request, provider_name, model, args.rounds,
                   args.resume, args.force)
    server = None
    if provider_name == "offline":
        from em_gen.providers.standin import start_offline
        print("[offline] the stand-in composes these premises from a phrase grammar: for trying the command, "
              "not for the library", file=sys.stderr)
        server = start_offline(lib)
    try:
        provider = make_provider(provider_name, exp.model, timeout=args.timeout,
                                 base_url=server.base_url + "/v1" if server else None)
        client = None
        if args.batch_api:
            from em_gen.providers.batch import batch_client
            client = batch_client(provider)
        summary = pm.run(lib, exp, journal, provider, pricing_for(exp.model, provider_name, args.prices),
                         args.scenarios or SCENARIOS_DIR, batch_client=client, poll=args.poll_interval,
                         concurrency=args.concurrency)
    finally:
        journal.close()
        if server:
            server.stop()
    goal, kept = summary["goal"], summary["kept"]
    print(f"premises {summary['stamp']}: {sum(kept.values())} of {sum(goal.values())} kept from {summary['requests']} "
          f"request(s) ({exp.provider}/{exp.model}, ${summary['cost']:.4f}); {len(summary['dropped'])} dropped")
    for t, g in goal.items():
        print(f"  {t:<18} {kept.get(t, 0):>4} / {g}")
    reasons: dict[str, int] = {}
    for _, why in summary["dropped"]:
        key = why.split(" (")[0].split(" of ")[0]
        reasons[key] = reasons.get(key, 0) + 1
    if reasons:
        print("  dropped: " + ", ".join(f"{k} {v}" for k, v in sorted(reasons.items(), key=lambda x: -x[1])))
    for f in summary["files"]:
        print(f"wrote {f}: review it; the library loads it from now on")
    load_library(args.scenarios, args.prompts)  # what was written loads (and passes every check)
    return 0 if sum(kept.values()) >= sum(goal.values()) else 1


def main(argv: list[str] | None = None) -> int:
    from em_gen.providers.base import ProviderError
    argv = sys.argv[1:] if argv is None else argv
    return guarded("em-gen premises", lambda: _run(argv), failures=(ProviderError,),
                   interrupted="interrupted; every answer so far is journaled (continue with --resume)")
