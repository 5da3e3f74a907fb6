"""`--import-logs FILE... [--format transcript|weechat|irssi|znc]`: real channel logs into reviewed candidate
records under OUT/real/ (em_gen/deploy/importlogs.py), through the rules and, with a paid provider, the
character judge (as generation: `--no-judge` turns it off, `--judge` turns it on for the stand-in)."""
from __future__ import annotations

import sys
from pathlib import Path

from em_gen.library import BadInput, Library
from em_gen.cli.check import start_judge
from em_gen.providers import PAID_PROVIDERS, choose_provider


def import_logs_command(args, lib: Library) -> int:
    from em_gen.deploy.config import parse_channel
    from em_gen.deploy.importlogs import import_logs
    args.format = args.format or "transcript"
    channels = {}
    for spec in args.channel or []:
        name, header, level = parse_channel(spec, lib)
        channels[name] = (header, level)
    if args.format != "transcript" and not channels:
        raise BadInput(f"--format {args.format}: name each channel's engagement with --channel '#name=LEVEL' "
                       "(or '#name=#general=LEVEL' for the header)")
    for f in args.import_logs:
        if not Path(f).is_file():
            raise BadInput(f"--import-logs {f}: no such file")
    provider = choose_provider(args.provider)
    judge, server = None, None
    if not args.no_judge and (args.judge or provider in PAID_PROVIDERS):
        judge, server = start_judge(args, lib, provider)
    try:
        f = import_logs(lib, args.import_logs, args.format, Path(args.out), channels, em_nick=args.em_nick,
                        pseudonymise=not args.no_pseudonymise, judge=judge)
    finally:
        if server:
            server.stop()
    if judge is None:
        print("import: rules only (no character judge: no key set, or --no-judge)", file=sys.stderr)
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(f["by_reason"].items(), key=lambda kv: -kv[1])) or "none"
    print(f"import: {f['files']} file(s), {f['lines']} lines ({f['em_lines']} by Em, {f['skipped_lines']} non-message "
          f"lines skipped) -> {f['windows']} windows: {f['kept']} kept, {f['rejected']} rejected, "
          f"{f['already_imported']} already imported")
    print(f"  rejected by reason: {reasons}")
    print(f"  near-duplicates: {f['near_duplicate_synthetic']} of the synthetic dataset ({f['synthetic_records']} "
          f"records), {f['near_duplicate_real']} of earlier imports; "
          f"{f['pseudonymised_nicks']} nicks pseudonymised" if not args.no_pseudonymise else
          f"  near-duplicates: {f['near_duplicate_synthetic']} synthetic, {f['near_duplicate_real']} earlier imports; "
          "nicks kept as they are (--no-pseudonymise)")
    print(f"  kept: {f['out']} (review before training; never mixed into the synthetic dataset)")
    return 0
