"""Everything a generating command can refuse, checked before it writes anything.

A refused command leaves no trace: no output folder, no empty journal, no phantom run record that
would make the next `--batch` a "batch2". The checks here are the same ones the run makes later
(flags, keys, prices, the folder, `--resume` against the run it continues); they only come first.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from em_gen.generate.folders import check_generation_folder
from em_gen.generate.journal import JOURNAL
from em_gen.generate.orchestrate import Options, resume_check
from em_gen.library import BadInput, Library
from em_gen.providers import (
    DEFAULT_MODELS,
    check_credentials,
    choose_provider,
    default_judge_model,
    pricing_for,
    unpriced_refusal,
)

_RUN_LINE = re.compile(rb'^\s*\{\s*"t"\s*:\s*"run"')


def read_runs(out: Path) -> list[dict]:
    """The run records of a folder's journal, without opening it for writing (and without decoding
    the responses: only the lines that start a run record are parsed)."""
    path = Path(out) / JOURNAL
    runs = []
    if not path.is_file():
        return runs
    with open(path, "rb") as f:
        for line in f:
            if not _RUN_LINE.match(line):
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                continue  # a torn last line: the Store repairs it
            if isinstance(rec, dict) and rec.get("t") == "run":
                runs.append(rec)
    return runs


def refuse_model_offline(args, provider: str) -> None:
    """`--model claude-sonnet-4-6` with no key would run on the offline stand-in, and its records would
    claim that model: refused, saying which key is missing (an explicit --provider offline is allowed)."""
    if provider != "offline" or args.provider == "offline" or not args.model \
            or args.model == DEFAULT_MODELS["offline"]:
        return
    want = "ANTHROPIC_API_KEY" if args.model.startswith("claude") else \
        "OPENAI_API_KEY (or OPENAI_BASE_URL for a local server)" if args.model.startswith(("gpt", "o1", "o3", "o4")) else \
        "ANTHROPIC_API_KEY, OPENAI_API_KEY or OPENAI_BASE_URL"
    raise BadInput(f"--model {args.model}: no API key is set, so this would run on the offline stand-in and not on "
                   f"{args.model}; set {want}, or pass --provider offline to try the pipeline")


def check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise BadInput(f"--out {out}: not a folder (it is a file); name a folder, em-gen creates it if missing")


def check_before_writing(args, lib: Library, out: Path, default_target_mb: float, judge_on) -> None:
    """Refuse now what --test/--batch/--full/--revalidate would refuse after writing. With --resume
    and no --provider (or no --model), the run's own provider and model are used (`args` is
    updated), so a resumed run never moves silently to another provider or to the stand-in."""
    check_out(out)
    if args.revalidate:
        if not read_runs(out):
            raise BadInput(f"--revalidate: {out} holds no em-gen run to re-judge; generate with --batch N or --full")
        return
    if not (args.test or args.batch is not None or args.full):
        return
    check_generation_folder(out, args.scenarios, args.prompts)
    mode = "test" if args.test else ("full" if args.full else "batch")
    runs = [] if args.test else read_runs(out)
    resumed = None
    if args.resume:
        mine = [r for r in runs if r["mode"] == mode and not r.get("extension")]
        if mine and mine[-1].get("provider"):
            resumed = mine[-1]
            if args.provider is None:
                args.provider = resumed["provider"]
            if args.model is None and args.provider == resumed["provider"] and resumed.get("model"):
                args.model = resumed["model"]
    provider = choose_provider(args.provider)
    refuse_model_offline(args, provider)
    model = args.model or DEFAULT_MODELS[provider]
    try:
        check_credentials(provider, args.api)
    except BadInput as e:
        if resumed is not None and resumed["provider"] == provider:
            raise BadInput(f"--resume: {resumed['run']} ran on {provider} ({resumed.get('model')}): {e}") from None
        raise
    if provider == "offline" and args.full and not args.allow_offline:
        raise BadInput("--full on the offline stand-in needs --allow-offline (its output is not training-grade)")
    judge_model = (args.judge_model or default_judge_model(provider, model)) if judge_on(args, provider) else None
    for m in (model, judge_model):
        why = m and unpriced_refusal(m, provider, pricing_for(m, provider, args.prices), args.max_cost,
                                     args.allow_unpriced)
        if why:
            raise BadInput(why)
    if args.test:
        return
    target_mb = args.target_mb if args.target_mb is not None else (
        default_target_mb if args.full and not args.resume else None)
    opt = Options(mode=mode, n=args.batch, target_bytes=int(target_mb * 1e6) if target_mb else None,
                  seed=args.seed, resume=args.resume, force=args.force, provider=provider, model=model)
    resume_check(lib, runs, opt, out)
