"""The `em-gen` command. Exit codes: 0 success, 1 the run failed or stopped early, 2 bad usage or input.

One module per mode family: parser (the main flags and their checks), generation (runs, status, export
and training steps), batch (provider batches), check (--validate). Sub-commands (`em-gen NAME ...`) are
routed by SUBCOMMANDS to their own module's `main(argv) -> int`, imported only when used."""
from __future__ import annotations

import importlib
import sys

from em_gen.guard import guarded
from em_gen.library import load_library

# `em-gen NAME ...` -> "module:function"; each takes the remaining argv and returns an exit code
SUBCOMMANDS = {
    "eval": "em_gen.cli.eval:main",
    "premises": "em_gen.cli.premises:main",
    "irc": "em_gen.cli.irc:main",
    "judge-check": "em_gen.cli.judge_check:main",
}


def _run(argv: list[str]) -> int:
    from em_gen.cli.parser import build_parser, check_args
    args = build_parser().parse_args(argv)
    check_args(args)
    lib = load_library(args.scenarios, args.prompts)
    from em_gen.cli import generation
    return generation.dispatch(args, lib)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] and argv[0] in SUBCOMMANDS:
        module, _, func = SUBCOMMANDS[argv[0]].partition(":")
        return getattr(importlib.import_module(module), func)(argv[1:])
    return guarded("em-gen", lambda: _run(argv),
                   interrupted="interrupted; everything paid for is in the journal (continue with --resume)",
                   os_hint="; data already written is intact (continue with --resume)")


if __name__ == "__main__":
    sys.exit(main())
