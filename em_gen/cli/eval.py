"""`em-gen eval` flags: the parser, its checks, and the routing to one evaluation (evaluate/run.py), a
sweep over checkpoints (evaluate/sweep.py) or a report page (report/). Exit codes: 0 done, 1 the run
failed (endpoint down, generation error), 2 bad usage or input."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from em_gen.evaluate.probes import DEFAULT_HELDOUT, PROBES_FILE
from em_gen.evaluate.recommend import MUST_HAVE
from em_gen.evaluate.cache import DEFAULT_CACHE
from em_gen.evaluate.targets import EvalFailure
from em_gen.guard import EXIT_OK, guarded
from em_gen.library import BadInput


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise BadInput(f"{message} (see em-gen eval --help)")


USAGE = """em-gen eval --model PATH [--adapter LORA_DIR] [--device auto|cpu|cuda] [options]
       em-gen eval --endpoint URL --model NAME [options]
       em-gen eval --compare BASE TUNED [options]
       em-gen eval --sweep RUN_DIR|TARGET... [--base TARGET] [--report] [options]
       em-gen eval --report REPORT.json"""

DESCRIPTION = """\
Does the tuned model behave like Em? The model continues IRC log prefixes (scenarios/probes.yaml and
cuts of the held-out split from export), --samples times each; every continuation is scored with the
quality gate's rules. Each metric is reported overall, per engagement level and per channel as a mean
with a 95% bootstrap CI over probes. Report: --out (JSON) and <out>.samples.jsonl; a table on stdout.

targets:
  --model PATH [--adapter DIR]   a local Hugging Face checkpoint (+ LoRA adapter), torch/transformers/peft
  --endpoint URL --model NAME    an OpenAI-compatible /v1/completions server (vLLM, llama.cpp, ...)
  --compare BASE TUNED           both, same probes and seeds, plus tuned - base with paired-bootstrap CIs;
                                 each of BASE and TUNED is one of
                                   hf:PATH            a local checkpoint
                                   hf:PATH+ADAPTER    ... with a LoRA adapter
                                   openai:URL#MODEL   model MODEL served at URL (/v1 added if URL has no path)
  --sweep RUN_DIR [--base T]     every checkpoint-*/ adapter of an Axolotl output folder (steps, eval loss from
                                 trainer_state.json) against the base (default: hf: the adapters'
                                 base_model_name_or_path; with --base openai:URL#BASE each checkpoint is the
                                 served LoRA module of its folder's name, e.g. vLLM --lora-modules checkpoint-100=...)
  --sweep T1 T2 ... --base T     the targets given, in this order, against the base
                                 A sweep compares each with the base (paired bootstrap), recommends the earliest
                                 checkpoint not significantly worse than the best on any must-have metric, flags
                                 reverting ones, caches each checkpoint's samples (--cache); --report draws curves.
  e.g. em-gen eval --compare hf:models/base hf:models/base+outputs/em-lora
       em-gen eval --compare openai:http://127.0.0.1:8000/v1#base openai:http://127.0.0.1:8000/v1#em-lora
       em-gen eval --sweep outputs/em-lora --report"""


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="em-gen eval", usage=USAGE, description=DESCRIPTION,
                formatter_class=argparse.RawDescriptionHelpFormatter)
    t = p.add_argument_group("target")
    t.add_argument("--model", metavar="PATH|NAME", help="local checkpoint folder; with --endpoint the served model name")
    t.add_argument("--adapter", metavar="DIR", help="LoRA adapter folder on top of --model PATH (loaded with peft)")
    t.add_argument("--endpoint", metavar="URL", help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1")
    t.add_argument("--compare", nargs=2, metavar=("BASE", "TUNED"), help="two target specs (see above)")
    t.add_argument("--sweep", nargs="+", metavar="RUN_DIR|TARGET",
                   help="an Axolotl output folder (its checkpoint-*/ adapters), or target specs in step order")
    t.add_argument("--base", metavar="TARGET", help="--sweep: the base every checkpoint is compared with")
    t.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                   help="for local checkpoints (default: auto = cuda when torch sees one)")
    g = p.add_argument_group("probes and sampling")
    g.add_argument("--probes", default=str(PROBES_FILE), metavar="FILE",
                   help="hand-written probes, or 'none' (default: the repo's scenarios/probes.yaml)")
    g.add_argument("--heldout", default=None, metavar="FILE",
                   help=f"held-out split written by export, or 'none' (default: {DEFAULT_HELDOUT} if it exists)")
    g.add_argument("--max-heldout", type=int, default=40, metavar="N",
                   help="held-out conversations to cut, 3 probes each (default: 40)")
    g.add_argument("--context", type=int, default=None, metavar="N",
                   help="keep the last N messages of each probe's log (default: all); a long held-out cut "
                        "costs a CPU more to read than to continue")
    g.add_argument("--limit", type=int, default=None, metavar="N",
                   help="at most N hand-written probes, every kind kept (default: all)")
    g.add_argument("--samples", type=int, default=5, metavar="N", help="continuations per probe (default: 5)")
    g.add_argument("--seed", type=int, default=0, metavar="N", help="sampling and bootstrap seed (default: 0)")
    g.add_argument("--temperature", type=float, default=0.8, metavar="T", help="(default: 0.8; 0 = greedy)")
    g.add_argument("--top-p", type=float, default=0.95, metavar="P", help="(default: 0.95)")
    g.add_argument("--turns", type=int, default=6, metavar="N",
                   help="lines to generate per probe; a probe may set its own (default: 6)")
    g.add_argument("--line-tokens", type=int, default=64, metavar="N",
                   help="token budget per line: max tokens = turns x N (default: 64)")
    g.add_argument("--next-speaker", choices=["sample", "probability"], default="sample",
                   help="who speaks next on the held-out split: `sample` reads the first tag of each sampled "
                        "continuation (any target); `probability` reads a local checkpoint's probability that "
                        "Em speaks next at every line of each held-out log, one forward pass per log, no "
                        "sampling noise (hf targets; default: sample)")
    g.add_argument("--bootstrap", type=int, default=1000, metavar="B", help="bootstrap resamples (default: 1000)")
    r = p.add_argument_group("running")
    r.add_argument("--batch-size", type=int, default=8, metavar="N", help="local: rows (prompt x sample) per generate call (default: 8)")
    r.add_argument("--concurrency", type=int, default=8, metavar="N", help="endpoint and judge: requests in flight (default: 8)")
    r.add_argument("--timeout", type=float, default=300.0, metavar="S", help="seconds per request (default: 300)")
    r.add_argument("--judge", action="store_true", help="also grade every continuation with an LLM judge (prompts/judge.md)")
    r.add_argument("--judge-provider", choices=["anthropic", "openai", "offline"], default=None,
                   help="default: as em-gen picks it (ANTHROPIC_API_KEY, else OPENAI_API_KEY/OPENAI_BASE_URL, else offline)")
    r.add_argument("--judge-model", default=None, metavar="NAME", help="default: the provider's judge default (claude-haiku-4-5, gpt-4.1-mini; the stand-in for offline)")
    r.add_argument("--out", default=None, metavar="FILE", help="report JSON (default: em_character_data/eval/<time>.json)")
    r.add_argument("--report", nargs="?", const="", default=None, metavar="FILE",
                   help="render an existing report JSON (eval or sweep) as one self-contained page next to it "
                        "(REPORT.json -> REPORT.html) and exit; with --sweep and no FILE: render the sweep's page")
    r.add_argument("--cache", default=None, metavar="DIR",
                   help=f"--sweep: samples (and judge answers) cached per checkpoint and probe set (default: {DEFAULT_CACHE})")
    r.add_argument("--no-cache", action="store_true", help="--sweep: neither read nor write the cache")
    r.add_argument("--must-have", default=None, metavar="M1,M2",
                   help=f"--sweep: the metrics a recommendation may not be worse on (default: {','.join(MUST_HAVE)}, "
                        "and judge with --judge)")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    r.add_argument("--scenarios", default=None, metavar="DIR", help="scenario folder (default: the repo's scenarios/)")
    r.add_argument("--prompts", default=None, metavar="DIR", help="prompt folder, for --judge (default: the repo's prompts/)")
    return p


def check_args(args) -> None:
    for name in ("context", "samples", "turns", "line_tokens", "batch_size", "concurrency", "timeout", "max_heldout", "limit"):
        v = getattr(args, name)
        if v is not None and v <= 0:
            raise BadInput(f"--{name.replace('_', '-')} must be positive, got {v}")
    if args.bootstrap < 0:
        raise BadInput(f"--bootstrap must be non-negative, got {args.bootstrap}")
    if not 0 <= args.temperature <= 2:
        raise BadInput(f"--temperature must be between 0 and 2, got {args.temperature}")
    if not 0 < args.top_p <= 1:
        raise BadInput(f"--top-p must be in (0, 1], got {args.top_p}")
    if args.sweep:
        for flag in ("compare", "model", "adapter", "endpoint"):
            if getattr(args, flag):
                raise BadInput(f"--{flag} does not go with --sweep (name the targets after --sweep, the base with --base)")
        if args.report:
            raise BadInput("--sweep renders its own page with a bare --report (no FILE)")
        if args.next_speaker != "sample":
            raise BadInput("--next-speaker probability does not go with --sweep (a sweep samples)")
    else:
        for flag in ("base", "cache", "must_have"):
            if getattr(args, flag):
                raise BadInput(f"--{flag.replace('_', '-')} goes with --sweep")
        if args.no_cache:
            raise BadInput("--no-cache goes with --sweep")
        if args.report == "":
            raise BadInput("--report needs a REPORT.json to render (or goes with --sweep)")


def run(args) -> int:
    check_args(args)
    if args.report and not args.sweep:
        from em_gen.report import write_report_page
        print(f"report: {write_report_page(Path(args.report))} (opens offline)")
        return EXIT_OK
    if args.sweep:
        from em_gen.evaluate.sweep import run_sweep
        return run_sweep(args)
    from em_gen.evaluate.run import run as run_eval
    return run_eval(args)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    return guarded("em-gen eval", lambda: run(build_parser().parse_args(argv)), failures=(EvalFailure,),
                   interrupted="interrupted; no report written (a --sweep keeps every checkpoint it finished in its cache)")
