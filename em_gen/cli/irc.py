"""`em-gen irc`: Em in a live IRC channel in front of a served model; `em-gen irc --stats TRANSCRIPT`."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from em_gen.guard import guarded
from em_gen.library import BadInput, load_library

USAGE = """em-gen irc --server HOST[:PORT] [--tls] --channel '#general=LOW' [--channel '#x=MEDIUM' ...]
              --target openai:URL#MODEL|hf:PATH[+ADAPTER] [--nick Em] [--operators FILE] [options]
       em-gen irc --stats TRANSCRIPT [--json]"""

DESCRIPTION = """\
Em joins the channels and, after each message (a short debounce later), the target continues the
channel's log under its ENGAGEMENT/CHANNEL header, exactly as the training export renders it. Em
speaks only when the model's next line is <Em>; that one line is checked by the training data's rules
and the hard caps (--per-minute, never three Em lines in a row). Operators (--operators FILE) steer Em
by private message: 'engagement #channel LEVEL', 'mute [#channel]', 'unmute [#channel]', 'status'.
Every channel line and every decision goes to the transcript (JSONL, fsynced)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise BadInput(f"{message} (see em-gen irc --help)")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="em-gen irc", usage=USAGE, description=DESCRIPTION,
                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--server", metavar="HOST[:PORT]", help="IRC server (port default 6667, 6697 with --tls)")
    p.add_argument("--tls", action="store_true", help="connect with TLS (certificate checked)")
    p.add_argument("--password", default=None, help="server password (PASS), if the server needs one; "
                                                      "EM_GEN_IRC_PASSWORD keeps it off the command line (never logged)")
    p.add_argument("--channel", action="append", default=[], metavar="'#NAME=LEVEL'",
                   help="a channel and its engagement level (repeatable); '#NAME=#HEADER=LEVEL' names the channel "
                        "in the prompt's CHANNEL header as the model was trained on it (e.g. '#python=#general=LOW')")
    p.add_argument("--target", metavar="SPEC", help="openai:URL#MODEL (vLLM, llama.cpp server, any /v1/completions) "
                                                   "or hf:PATH[+ADAPTER] (a local checkpoint and LoRA)")
    p.add_argument("--nick", default=None, help="Em's nick (default: the library's, Em); falls back to Em_ when taken")
    p.add_argument("--operators", default=None, metavar="FILE", help="YAML: operators: [nick!user@host masks]")
    p.add_argument("--transcript", default="em_character_data/irc/transcript.jsonl", metavar="FILE",
                   help="append-only JSONL of every line and decision (default: %(default)s)")
    p.add_argument("--debounce", type=float, default=1.5, metavar="S", help="quiet seconds after a message before asking (default: 1.5)")
    p.add_argument("--per-minute", type=int, default=4, metavar="N", help="at most N Em lines per minute per channel (default: 4)")
    p.add_argument("--context-tokens", type=int, default=4096, metavar="N",
                   help="prompt budget: header plus the newest lines that fit, minus --max-tokens (default: 4096)")
    p.add_argument("--tokenizer", default=None, metavar="NAME|DIR",
                   help="count prompt tokens with tekken/v7/v3/v1 (mistral-common) or a model folder (default: ~3 bytes a token)")
    p.add_argument("--max-tokens", type=int, default=120, metavar="N", help="tokens the model may write per ask (default: 120)")
    p.add_argument("--temperature", type=float, default=0.8, metavar="T", help="(default: 0.8)")
    p.add_argument("--top-p", type=float, default=0.95, metavar="P", help="(default: 0.95)")
    p.add_argument("--timeout", type=float, default=30.0, metavar="S", help="seconds per model request (default: 30)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help="hf targets (default: auto)")
    p.add_argument("--backoff-max", type=float, default=300.0, metavar="S", help="longest wait between reconnects (default: 300)")
    p.add_argument("--connect-timeout", type=float, default=10.0, metavar="S", help="first connection and welcome (default: 10)")
    p.add_argument("--keepalive", type=float, default=60.0, metavar="S", help="PING the server this often; 0 = never (default: 60)")
    p.add_argument("--stats", default=None, metavar="TRANSCRIPT", help="summarise a transcript and exit")
    p.add_argument("--json", action="store_true", help="with --stats: JSON")
    p.add_argument("--scenarios", default=None, metavar="DIR", help="scenario folder (default: the repo's scenarios/)")
    return p


def _check(args, lib) -> None:
    from em_gen.deploy.config import parse_channel, parse_server
    if args.debounce < 0:
        raise BadInput(f"--debounce must be 0 or positive, got {args.debounce}")
    for name in ("timeout", "connect_timeout", "backoff_max"):
        if getattr(args, name) <= 0:
            raise BadInput(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    for name in ("per_minute", "context_tokens", "max_tokens"):
        if getattr(args, name) < 1:
            raise BadInput(f"--{name.replace('_', '-')} must be a positive integer, got {getattr(args, name)}")
    if args.keepalive < 0:
        raise BadInput(f"--keepalive must be 0 or positive, got {args.keepalive}")
    if not 0 <= args.temperature <= 2:
        raise BadInput(f"--temperature must be between 0 and 2, got {args.temperature}")
    if not args.server:
        raise BadInput("--server HOST[:PORT] is required (or --stats TRANSCRIPT)")
    if not args.channel:
        raise BadInput("--channel '#name=LEVEL' is required (repeatable)")
    if not args.target:
        raise BadInput("--target openai:URL#MODEL or hf:PATH[+ADAPTER] is required")
    args.host, args.port = parse_server(args.server, args.tls)
    args.channels, args.headers = {}, {}
    for spec in args.channel:
        name, header, level = parse_channel(spec, lib)
        if name.lower() in {c.lower() for c in args.channels}:
            raise BadInput(f"--channel {name}: given twice")
        args.channels[name], args.headers[name] = level, header
    if args.nick is not None and (not args.nick or any(ch in args.nick for ch in " ,*?!@#:") or len(args.nick) > 30):
        raise BadInput(f"--nick {args.nick!r}: not an IRC nickname")


def run(args) -> int:
    lib = load_library(args.scenarios)
    if args.stats:
        from em_gen.deploy.stats import format_stats, transcript_stats
        s = transcript_stats(args.stats, lib)
        print(json.dumps(s, indent=1) if args.json else format_stats(s))
        return 0
    if args.json:
        raise BadInput("--json goes with --stats")
    _check(args, lib)
    from em_gen.deploy.config import load_operators
    from em_gen.evaluate.targets import check_spec, open_target, parse_spec
    operators = load_operators(args.operators)
    spec = parse_spec(args.target, "--target")
    try:
        check_spec(spec, "--target")
    except BadInput as e:
        raise BadInput(str(e).replace("pass --endpoint URL", "use --target openai:URL#MODEL")) from None
    tokens = None
    from em_gen.deploy.decide import Caps, ChannelState, Decider, TokenBudget
    if args.tokenizer:
        from em_gen.train.tokens import load_counter
        tokens = TokenBudget(load_counter(args.tokenizer))
    from em_gen.deploy.client import EmClient
    from em_gen.deploy.transcript import Transcript
    transcript = Transcript(Path(args.transcript))
    target = open_target(spec, device=args.device, concurrency=1, timeout=args.timeout)
    nick = args.nick or lib.em
    states = {name: ChannelState(name, level, header=args.headers[name]) for name, level in args.channels.items()}
    decider = Decider(lib, target, transcript, context_tokens=args.context_tokens, max_tokens=args.max_tokens,
                      temperature=args.temperature, top_p=args.top_p, caps=Caps(per_minute=args.per_minute),
                      tokens=tokens)
    transcript.write("start", server=args.host, port=args.port, tls=args.tls, nick=nick, channels=args.channels,
                     headers=args.headers,
                     target=spec.describe(), per_minute=args.per_minute, operators=len(operators.masks))
    client = EmClient(args.host, args.port, states, decider, transcript, operators, list(lib.mix["engagement"]),
                      nick=nick, tls=args.tls, password=args.password or os.environ.get("EM_GEN_IRC_PASSWORD"), debounce=args.debounce,
                      backoff_max=args.backoff_max, connect_timeout=args.connect_timeout, keepalive=args.keepalive,
                      log=lambda m: print(m, file=sys.stderr, flush=True))
    try:
        code = client.run()
    except BadInput as e:
        transcript.write("stop", why=f"error: {e}")
        raise
    finally:
        transcript.close()
        target.close()
    print(f"em-gen irc: left {args.host}:{args.port}; transcript {args.transcript}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    return guarded("em-gen irc", lambda: run(build_parser().parse_args(argv)),
                   interrupted="interrupted; the transcript is complete up to here")
