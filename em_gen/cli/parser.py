"""The main `em-gen` parser and its cross-flag checks (one line and exit 2 for anything wrong)."""
from __future__ import annotations

import argparse

from em_gen.generate.folders import out_path
from em_gen.generate.journal import MAX_PLAN
from em_gen.library import BadInput


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2, never a usage dump
        raise BadInput(f"{message} (see em-gen --help)")


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """One default per flag: none for a switch or an unset value, none where the help names its own."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.default in (None, False, argparse.SUPPRESS) or "default" in text:
            return text
        return super()._get_help_string(action)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("em-gen")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def _out(text: str):
    try:
        return out_path(text)
    except BadInput as e:  # argparse would otherwise print a traceback-free but vague "invalid value"
        raise argparse.ArgumentTypeError(str(e).removeprefix("--out: ")) from None


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="em-gen", description="Generate, check and export synthetic IRC chats with Em.",
                epilog="Check the judge model before --full: em-gen judge-check --help. Evaluate a tuned model: em-gen eval --help",
                formatter_class=_Help)
    p.add_argument("--version", action="version", version=f"em-gen {_version()}")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--test", action="store_true", help="generate one conversation and show every step (writes under OUT/test/)")
    mode.add_argument("--batch", type=int, metavar="N", help="generate N conversations in the planned mix, appended to the dataset")
    mode.add_argument("--full", action="store_true", help="build the whole dataset up to --target-mb")
    mode.add_argument("--status", action="store_true", help="counts, reasons, bytes, tokens, cost, mix and coverage")
    mode.add_argument("--validate", metavar="FILE", help="re-check a training JSONL with the same checks")
    mode.add_argument("--revalidate", action="store_true", help="re-judge every stored response with the current checks and rebuild the outputs (no requests)")
    mode.add_argument("--export", choices=["completion", "em", "turns"], help="write a training format from the dataset into OUT/export/ (plus the held-out split)")
    mode.add_argument("--token-lengths", action="store_true", help="distribution of the dataset's token lengths (real Mistral tokenizer)")
    mode.add_argument("--smoke-train", choices=["completion", "em", "turns"], help="a few LoRA steps with Axolotl on the dataset before a real run; fails on a non-finite loss")
    mode.add_argument("--report", action="store_true", help="write OUT/report.html: one self-contained page with the run's figures (opens offline)")
    mode.add_argument("--pairs", action="store_true", help="DPO preference pairs from the dataset into OUT/export/em_dpo.jsonl (Em's kept line against an assistant-voiced line for the same moment, every pair checked)")
    mode.add_argument("--cancel-batches", action="store_true", help="cancel the open provider batches of --out (what already succeeded is read and kept)")
    mode.add_argument("--import-logs", nargs="+", metavar="FILE", help="real channel logs -> reviewed candidate records in OUT/real/ (windows around Em's lines, pseudonymised, gated, deduplicated)")
    p.add_argument("--format", choices=["transcript", "weechat", "irssi", "znc"], default=None, help="with --import-logs: the logs' format (default: transcript, em-gen irc's)")
    p.add_argument("--channel", action="append", metavar="'#NAME=LEVEL'", help="with --import-logs: a channel's engagement level ('#NAME=#HEADER=LEVEL' names the header's channel); repeatable")
    p.add_argument("--em-nick", default=None, metavar="NICK", help="with --import-logs: Em's nick in foreign logs (default Em; NICK_ too)")
    p.add_argument("--no-pseudonymise", action="store_true", help="with --import-logs: keep other people's nicks (pseudonymised by default)")
    p.add_argument("--batch-api", action="store_true", help="with --batch/--full: send the requests as provider batches (Anthropic Message Batches, OpenAI Batch) at half price, in rounds")
    p.add_argument("--smoke-batch", type=int, default=50, metavar="N", help="with --batch-api: the first round's jobs, checked by the quality monitor before the rest is submitted")
    p.add_argument("--poll-interval", type=float, default=60.0, metavar="S", help="with --batch-api: the longest wait between polls of an open batch")
    p.add_argument("--source", choices=["teacher", "base", "both"], default="teacher", help="with --pairs: where rejected lines come from: the teacher (the provider's cheap model, or --model) rewrites Em's line, or the base model continues the log (--target)")
    p.add_argument("--per-conversation", type=int, default=None, metavar="K", help="with --pairs: the K moments per conversation that matter most (default 4)")
    p.add_argument("--target", default=None, metavar="SPEC", help="with --pairs --source base|both: the base model, as em-gen eval names one: hf:PATH[+ADAPTER], openai:URL#MODEL, or standin")
    p.add_argument("--single", action="store_true", help="with --test: one conversation (the default for --test)")
    p.add_argument("--resume", action="store_true", help="continue the last --batch/--full run on its own provider and model; never repeats finished jobs")
    p.add_argument("--force", action="store_true", help="resume or start even though the plan, provider or model changed")
    p.add_argument("--estimate", action="store_true", help="with --batch/--full: print planned requests, tokens and cost, spend nothing")
    p.add_argument("--json", action="store_true", help="with --validate/--status: machine-readable output")
    p.add_argument("--out", default="em_character_data", type=_out, help="output folder ('~' expanded)")
    p.add_argument("--target-mb", type=float, default=None, help="with --full: megabytes of accepted training text (default 15)")
    p.add_argument("--provider", choices=["anthropic", "openai", "offline"], default=None,
                   help="default: anthropic if ANTHROPIC_API_KEY is set, else openai if OPENAI_API_KEY or OPENAI_BASE_URL is set, else offline")
    p.add_argument("--model", default=None, help="model name (default per provider)")
    p.add_argument("--api", choices=["chat", "completions"], default="chat", help="openai provider: chat completions or plain /v1/completions")
    p.add_argument("--allow-offline", action="store_true", help="allow --full on the offline stand-in")
    p.add_argument("--concurrency", type=int, default=8, help="most requests in flight (adapts down on 429/529)")
    p.add_argument("--rpm", type=float, default=None, help="client-side requests per minute")
    p.add_argument("--tpm", type=float, default=None, help="client-side tokens per minute (output tokens for anthropic)")
    p.add_argument("--max-cost", type=float, default=None, metavar="USD", help="stop cleanly before spending more")
    p.add_argument("--prices", default=None, metavar="FILE", help="YAML price table: model -> {input, output, cache_write, cache_read} USD per million tokens")
    p.add_argument("--allow-unpriced", action="store_true", help="run a paid model with no known price (its cost is not counted; never with --max-cost)")
    p.add_argument("--seed", type=int, default=None, help="plan seed (default 0; on --resume the run's own)")
    p.add_argument("--temperature", type=float, default=None, help="sampling temperature (default: the provider's)")
    p.add_argument("--max-tokens", type=int, default=None, help="override the per-request token limit (default sized to the length bucket)")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds per request")
    p.add_argument("--max-attempts", type=int, default=10, help="attempts per request before the job is recorded as failed")
    p.add_argument("--max-replacements", type=int, default=None, help="fresh same-cell jobs after rejections (default from scenarios/mix.yaml)")
    p.add_argument("--monitor-after", type=int, default=50, help="quality monitor: judge the rejection rate after this many conversations")
    p.add_argument("--max-reject-rate", type=float, default=0.5, help="quality monitor: stop above this rejection rate")
    p.add_argument("--no-monitor", action="store_true", help="disable the quality monitor")
    p.add_argument("--judge", action="store_true", help="the character judge reads every conversation that passes the rules (the default with anthropic and openai; opt in for offline and --validate)")
    p.add_argument("--no-judge", action="store_true", help="keep conversations on the rules alone (the stats count those never judged)")
    p.add_argument("--judge-model", default=None, metavar="NAME", help="the judge's model (default: claude-haiku-4-5 for anthropic, gpt-4.1-mini for openai, the generation model for a local OPENAI_BASE_URL server)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--fraction", type=float, default=1.0, help="with --export: a nested subset (0.25 in 0.5 in 0.75 in 1) for data-scale ablations")
    p.add_argument("--holdout", type=float, default=None, help="with --export: share of conversations held out for eval, never trained on (default 0.05; decided by the first export of a dataset, recorded in export/split.json; another share needs --force)")
    p.add_argument("--base-model", default=None, metavar="DIR", help="with --export/--smoke-train/--token-lengths: the base model folder (its tokenizer and BOS/EOS)")
    p.add_argument("--tokenizer", default="tekken", help="with --token-lengths: tekken, v7, v3, v1 (mistral-common files) or a model folder")
    p.add_argument("--sequence-len", type=int, default=None, help="with --token-lengths: count conversations longer than this (default: axolotl/em.yaml's)")
    p.add_argument("--steps", type=int, default=5, help="with --smoke-train: training steps")
    p.add_argument("--scenarios", default=None, metavar="DIR", help="scenario folder (default: the repo's scenarios/)")
    p.add_argument("--prompts", default=None, metavar="DIR", help="prompt template folder (default: the repo's prompts/)")
    return p


def _positive(args, name: str, allow_zero: bool = False) -> None:
    v = getattr(args, name.replace("-", "_"))
    if v is not None and (v < 0 or (v == 0 and not allow_zero)):
        raise BadInput(f"--{name} must be {'non-negative' if allow_zero else 'positive'}, got {v}")


def check_args(args) -> None:
    for name in ("batch", "concurrency", "rpm", "tpm", "target-mb", "max-tokens", "timeout", "max-attempts",
                 "monitor-after"):
        _positive(args, name)
    if args.batch is not None and args.batch > MAX_PLAN:
        raise BadInput(f"--batch {args.batch}: at most {MAX_PLAN:,} conversations in one run (a --full of 15 MB "
                       "plans about 3,500); was that a typo?")
    if args.target_mb is not None and args.target_mb > 400:
        raise BadInput(f"--target-mb {args.target_mb:g}: at most 400 MB in one run (the plan asks for 10-20)")
    for name in ("max-cost", "max-replacements"):
        _positive(args, name, allow_zero=True)
    if args.temperature is not None and not 0 <= args.temperature <= 2:
        raise BadInput(f"--temperature must be between 0 and 2, got {args.temperature}")
    if not 0 <= args.max_reject_rate <= 1:
        raise BadInput(f"--max-reject-rate must be between 0 and 1, got {args.max_reject_rate}")
    generating = args.test or args.batch is not None or args.full
    if args.batch_api and not (args.batch is not None or args.full or args.pairs):
        raise BadInput("--batch-api goes with --batch N, --full or --pairs")
    for name in ("smoke-batch", "poll-interval"):
        _positive(args, name)
    if args.judge and args.no_judge:
        raise BadInput("--judge and --no-judge contradict each other; choose one")
    if args.single and not args.test:
        raise BadInput("--single goes with --test")
    if args.resume and not (args.batch is not None or args.full or args.pairs):
        raise BadInput("--resume goes with --batch N, --full or --pairs")
    if args.estimate and not (args.batch is not None or args.full or args.pairs):
        raise BadInput("--estimate goes with --batch N, --full or --pairs")
    if args.target_mb is not None and not (args.full or (args.pairs and args.estimate)):
        raise BadInput("--target-mb goes with --full (or --pairs --estimate)")
    if (args.source != "teacher" or args.per_conversation is not None or args.target) and not args.pairs:
        raise BadInput("--source, --per-conversation and --target go with --pairs")
    if args.json and not (args.validate or args.status):
        raise BadInput("--json goes with --validate or --status")
    if not 0 < args.fraction <= 1:
        raise BadInput(f"--fraction must be in (0, 1], got {args.fraction}")
    if args.holdout is not None and not 0 <= args.holdout < 1:
        raise BadInput(f"--holdout must be in [0, 1), got {args.holdout}")
    if (args.channel or args.em_nick or args.no_pseudonymise or args.format) and not args.import_logs:
        raise BadInput("--format, --channel, --em-nick and --no-pseudonymise go with --import-logs "
                       "(for a live channel: em-gen irc)")
    _positive(args, "steps")
    _positive(args, "sequence-len")
    if not (generating or args.status or args.validate or args.revalidate or args.export or args.token_lengths
            or args.smoke_train or args.report or args.cancel_batches or args.import_logs or args.pairs):
        raise BadInput("choose a mode: --test, --batch N, --full, --status, --validate FILE, --revalidate, "
                       "--export FMT, --token-lengths, --smoke-train FMT, --report, --pairs, --cancel-batches or --import-logs FILE "
                       "(see em-gen --help)")
