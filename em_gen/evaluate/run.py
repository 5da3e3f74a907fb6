"""`em-gen eval`: does the tuned model behave like Em?

    em-gen eval --model PATH [--adapter LORA_DIR] [--device auto|cpu|cuda]   a local HF checkpoint
    em-gen eval --endpoint URL --model NAME                                  an OpenAI-compatible server
    em-gen eval --compare BASE TUNED                                         two targets, and the difference
        BASE/TUNED: hf:PATH | hf:PATH+ADAPTER | openai:URL#MODEL

The model continues channel-log prefixes (probes: scenarios/probes.yaml and cuts of the held-out split
that `em_gen.train.export` writes), `--samples` times each. Every continuation is scored with the quality
gate's rules (em_gen/eval_metrics.py lists the metrics); a probe's score is the mean over its samples,
and each metric is reported overall, per engagement level and per channel as a mean with a 95%
bootstrap CI over probes (report §3.4: variance-aware evaluation). With --compare both targets get the
same probes and seeds and the difference comes with a paired-bootstrap CI.

Writes the report to --out (JSON) and every sample to the same name with .samples.jsonl; prints a table.
Exit codes: 0 done, 1 the run failed (endpoint down, generation error), 2 bad usage or input.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from em_gen.evaluate.metrics import score_sample
from em_gen.evaluate.probes import (
    DEFAULT_HELDOUT,
    PROBES_FILE,
    Probe,
    load_heldout,
    load_probes,
    round_robin,
)
from em_gen.evaluate.judge import judge_all, judge_provider
from em_gen.evaluate.report import compare, format_table, summarise
from em_gen.evaluate.targets import (
    EvalFailure,
    TargetSpec,
    check_spec,
    normalise_url,
    open_target,
    parse_spec,
    warn,
)
from em_gen.guard import EXIT_OK, guarded
from em_gen.library import BadInput, Library, load_library

REPORT_VERSION = 1


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise BadInput(f"{message} (see em-gen eval --help)")


USAGE = """em-gen eval --model PATH [--adapter LORA_DIR] [--device auto|cpu|cuda] [options]
       em-gen eval --endpoint URL --model NAME [options]
       em-gen eval --compare BASE TUNED [options]"""

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
  e.g. em-gen eval --compare hf:models/base hf:models/base+outputs/em-lora
       em-gen eval --compare openai:http://127.0.0.1:8000/v1#base openai:http://127.0.0.1:8000/v1#em-lora"""


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="em-gen eval", usage=USAGE, description=DESCRIPTION,
                formatter_class=argparse.RawDescriptionHelpFormatter)
    t = p.add_argument_group("target")
    t.add_argument("--model", metavar="PATH|NAME", help="local checkpoint folder; with --endpoint the served model name")
    t.add_argument("--adapter", metavar="DIR", help="LoRA adapter folder on top of --model PATH (loaded with peft)")
    t.add_argument("--endpoint", metavar="URL", help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1")
    t.add_argument("--compare", nargs=2, metavar=("BASE", "TUNED"), help="two target specs (see above)")
    t.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                   help="for local checkpoints (default: auto = cuda when torch sees one)")
    g = p.add_argument_group("probes and sampling")
    g.add_argument("--probes", default=str(PROBES_FILE), metavar="FILE",
                   help="hand-written probes, or 'none' (default: the repo's scenarios/probes.yaml)")
    g.add_argument("--heldout", default=None, metavar="FILE",
                   help=f"held-out split written by export, or 'none' (default: {DEFAULT_HELDOUT} if it exists)")
    g.add_argument("--max-heldout", type=int, default=40, metavar="N",
                   help="held-out conversations to cut, 3 probes each (default: 40)")
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
    g.add_argument("--bootstrap", type=int, default=1000, metavar="B", help="bootstrap resamples (default: 1000)")
    r = p.add_argument_group("running")
    r.add_argument("--batch-size", type=int, default=8, metavar="N", help="local: prompts per generate call (default: 8)")
    r.add_argument("--concurrency", type=int, default=8, metavar="N", help="endpoint and judge: requests in flight (default: 8)")
    r.add_argument("--timeout", type=float, default=300.0, metavar="S", help="seconds per request (default: 300)")
    r.add_argument("--judge", action="store_true", help="also grade every continuation with an LLM judge (prompts/judge.md)")
    r.add_argument("--judge-provider", choices=["anthropic", "openai", "offline"], default=None,
                   help="default: as em-gen picks it (ANTHROPIC_API_KEY, else OPENAI_API_KEY/OPENAI_BASE_URL, else offline)")
    r.add_argument("--judge-model", default=None, metavar="NAME", help="default: the provider's judge default (claude-haiku-4-5, gpt-4.1-mini; the stand-in for offline)")
    r.add_argument("--out", default=None, metavar="FILE", help="report JSON (default: em_character_data/eval/<time>.json)")
    r.add_argument("--report", default=None, metavar="FILE", help="render an existing report JSON as one self-contained page next to it (REPORT.json -> REPORT.html) and exit")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    r.add_argument("--scenarios", default=None, metavar="DIR", help="scenario folder (default: the repo's scenarios/)")
    r.add_argument("--prompts", default=None, metavar="DIR", help="prompt folder, for --judge (default: the repo's prompts/)")
    return p


def check_args(args) -> None:
    for name in ("samples", "turns", "line_tokens", "batch_size", "concurrency", "timeout", "max_heldout", "limit"):
        v = getattr(args, name)
        if v is not None and v <= 0:
            raise BadInput(f"--{name.replace('_', '-')} must be positive, got {v}")
    if args.bootstrap < 0:
        raise BadInput(f"--bootstrap must be non-negative, got {args.bootstrap}")
    if not 0 <= args.temperature <= 2:
        raise BadInput(f"--temperature must be between 0 and 2, got {args.temperature}")
    if not 0 < args.top_p <= 1:
        raise BadInput(f"--top-p must be in (0, 1], got {args.top_p}")


def targets(args) -> list[tuple[str, TargetSpec]]:
    """(label, spec) for each target: ("model") or ("base", "tuned") with --compare."""
    if args.compare:
        for flag in ("model", "adapter", "endpoint"):
            if getattr(args, flag):
                raise BadInput(f"--{flag} does not go with --compare (name both targets: hf:PATH[+ADAPTER] or openai:URL#MODEL)")
        specs = [("base", parse_spec(args.compare[0])), ("tuned", parse_spec(args.compare[1]))]
    elif args.endpoint:
        if not args.model:
            raise BadInput("--endpoint needs --model NAME (the served model's name)")
        if args.adapter:
            raise BadInput("--adapter goes with a local --model PATH; a served adapter is its own --model NAME")
        specs = [("model", TargetSpec("openai", args.model, url=normalise_url(args.endpoint)))]
    elif args.model:
        specs = [("model", TargetSpec("hf", args.model, adapter=args.adapter))]
    else:
        raise BadInput("choose a target: --model PATH [--adapter DIR], --endpoint URL --model NAME, or --compare BASE TUNED")
    for _label, spec in specs:
        check_spec(spec, "--compare" if args.compare else None)
    return specs


def probes_for(args, lib: Library) -> tuple[list[Probe], dict]:
    """The hand-written and held-out probes, and where they came from (for the report)."""
    written: list[Probe] = []
    if args.probes != "none":
        written = round_robin(load_probes(Path(args.probes), lib), args.limit)
    held: list[Probe] = []
    heldout = args.heldout
    if heldout is None:
        if DEFAULT_HELDOUT.is_file():
            heldout = str(DEFAULT_HELDOUT)
        else:
            warn(f"no held-out split at {DEFAULT_HELDOUT} (write it with the export step, or pass --heldout FILE); "
                 "using the hand-written probes only")
    if heldout and heldout != "none":
        held = load_heldout(Path(heldout), lib, args.max_heldout, args.seed)
        if not held:
            warn(f"{heldout}: no usable held-out conversation (each needs a known header and lines by Em and others)")
    probes = written + held
    if not probes:
        raise BadInput("no probes: --probes and --heldout gave nothing to evaluate")
    src = {"probes_file": None if args.probes == "none" else args.probes,
           "heldout_file": heldout if heldout and heldout != "none" else None}
    return probes, src


# ------------------------------------------------------------------------------------------------
# running one target


def _progress(total: int, label: str, off: bool):
    from tqdm import tqdm

    bar = tqdm(total=total, desc=f"eval {label}", unit="sample", disable=off or not sys.stderr.isatty(),
               file=sys.stderr)
    return bar


def generate_all(target, probes: list[Probe], lib: Library, args, label: str) -> dict[str, list]:
    """probe id -> [Completion] * samples, probes grouped by their turn count (one token budget each)."""
    groups: dict[int, list[Probe]] = {}
    for p in probes:
        groups.setdefault(p.turns or args.turns, []).append(p)
    out: dict[str, list] = {}
    bar = _progress(len(probes) * args.samples, label, args.no_progress)
    try:
        for turns, group in sorted(groups.items()):
            got = target.generate([p.prompt(lib.em) for p in group], args.samples, turns * args.line_tokens,
                                  args.temperature, args.top_p, args.seed, progress=bar.update)
            out.update({p.id: g for p, g in zip(group, got)})
    finally:
        bar.close()
    return out


def score_all(probes: list[Probe], gens: dict[str, list], lib: Library, args) -> tuple[dict, list[dict]]:
    """(metric -> {probe id: mean over samples}, one row per sample for the samples file)."""
    per: dict[str, dict[str, list[float]]] = {}
    rows = []
    for p in probes:
        for s, comp in enumerate(gens[p.id]):
            scores = score_sample(p, comp.text, comp.finish, p.turns or args.turns, lib)
            for m, v in scores.items():
                per.setdefault(m, {}).setdefault(p.id, []).append(v)
            rows.append({"probe": p.id, "kind": p.kind, "sample": s, "finish": comp.finish, "text": comp.text,
                         "scores": scores})
    return {m: {pid: sum(v) / len(v) for pid, v in d.items()} for m, d in per.items()}, rows


def _sample_counts(rows: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in rows:
        for m in r["scores"]:
            counts[m] = counts.get(m, 0) + 1
    return counts


def default_out() -> Path:
    return Path("em_character_data") / "eval" / (time.strftime("%Y%m%d-%H%M%S") + ".json")


def run(args) -> int:
    check_args(args)
    if args.report:
        from em_gen.report import write_eval_report
        print(f"report: {write_eval_report(Path(args.report))} (opens offline)")
        return EXIT_OK
    lib = load_library(args.scenarios, args.prompts)
    specs = targets(args)
    if args.judge:
        judge_provider(args, None)  # a missing key is a usage error before any generation
    out = Path(args.out) if args.out else default_out()
    if out.is_dir():
        raise BadInput(f"--out {out}: is a folder; give a file name")
    probes, sources = probes_for(args, lib)
    report: dict = {"version": REPORT_VERSION, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    "settings": {"samples": args.samples, "seed": args.seed, "temperature": args.temperature,
                                 "top_p": args.top_p, "turns": args.turns, "line_tokens": args.line_tokens,
                                 "bootstrap": args.bootstrap, "probes": len(probes), **sources,
                                 "kinds": {k: sum(1 for p in probes if p.kind == k) for k in
                                           dict.fromkeys(p.kind for p in probes)}},
                    "levels": list(lib.mix["engagement"]), "channels": list(lib.mix["channels"]),
                    "targets": {}}
    scores_by: dict[str, dict] = {}
    samples: list[dict] = []
    for label, spec in specs:
        target = open_target(spec, device=args.device, batch_size=args.batch_size, concurrency=args.concurrency,
                             timeout=args.timeout)
        try:
            start = time.monotonic()
            gens = generate_all(target, probes, lib, args, label)
            seconds = time.monotonic() - start
        finally:
            target.close()
        scores, rows = score_all(probes, gens, lib, args)
        if args.judge:
            scores.update(judge_all(probes, gens, rows, lib, args))
        scores_by[label] = scores
        samples += [{"target": label, **r} for r in rows]
        report["targets"][label] = {"target": spec.describe(), "generation_seconds": round(seconds, 1),
                                    "metrics": summarise(scores, probes, lib, args.bootstrap, args.seed,
                                                         samples=_sample_counts(rows))}
    if len(specs) == 2:
        report["compare"] = compare(scores_by["base"], scores_by["tuned"], probes, lib, args.bootstrap, args.seed)
    report["probes"] = [p.info() for p in probes]
    out.parent.mkdir(parents=True, exist_ok=True)
    samples_path = out.with_name(out.stem + ".samples.jsonl")
    report["samples_file"] = str(samples_path)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    tmp.replace(out)
    with samples_path.open("w", encoding="utf-8") as f:
        for r in samples:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(format_table(report))
    print(f"\nreport: {out}\nsamples: {samples_path}")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    return guarded("em-gen eval", lambda: run(build_parser().parse_args(argv)), failures=(EvalFailure,),
                   interrupted="interrupted; no report written")


if __name__ == "__main__":
    sys.exit(main())
