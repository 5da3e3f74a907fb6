"""`--validate FILE [--judge]`: the gate's rules, and optionally the character judge, on any training
JSONL."""
from __future__ import annotations

import sys
from pathlib import Path

from em_gen.library import BadInput, Library
from em_gen.providers import choose_provider, default_judge_model, make_provider
from em_gen.providers.standin import start_offline


def start_judge(args, lib: Library, provider: str):
    """The character judge for a command that reads foreign logs (--validate --judge, --import-logs):
    (judge, stand-in server or None); the caller stops the server."""
    from em_gen.quality.validate_judge import make_judge
    model = args.judge_model or default_judge_model(provider, args.model)
    server = start_offline(lib) if provider == "offline" else None
    prov = make_provider(provider, model, api=args.api, timeout=args.timeout,
                         base_url=server.base_url + "/v1" if server else None)
    return make_judge(lib, prov, args.concurrency, report=lambda m: print(m, file=sys.stderr)), server


def validate_command(args, lib: Library) -> int:
    """--validate FILE [--judge]: the rules (and the character judge) on any training JSONL."""
    from em_gen.quality.validate import EmptyFile, validate_file
    judge, server = None, None
    if args.judge:
        provider = choose_provider(args.provider)
        if provider == "offline" and args.provider != "offline":
            raise BadInput("--validate FILE --judge: no key is set (ANTHROPIC_API_KEY, OPENAI_API_KEY or "
                           "OPENAI_BASE_URL); pass --provider offline to try it on the stand-in")
        judge, server = start_judge(args, lib, provider)
    try:
        summary = validate_file(lib, Path(args.validate), args.json, judge=judge)
    except EmptyFile as e:
        print(f"em-gen: error: {e}", file=sys.stderr)
        return 1
    finally:
        if server:
            server.stop()
    return 0 if summary["rejected"] == 0 else 1
