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
The flags are parsed in em_gen/cli/eval.py; `--sweep` (many checkpoints) lives in sweep.py.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from em_gen.evaluate.metrics import score_sample
from em_gen.evaluate import speakers
from em_gen.evaluate.probes import (
    DEFAULT_HELDOUT,
    SPEAKER_KIND,
    Probe,
    load_heldout,
    load_probes,
    round_robin,
    speaker_probes,
)
from em_gen.evaluate.judge import judge_all, judge_provider
from em_gen.evaluate.report import compare, format_table, summarise
from em_gen.evaluate.targets import (
    TargetSpec,
    check_spec,
    normalise_url,
    open_target,
    parse_spec,
    warn,
)
from em_gen.guard import EXIT_OK
from em_gen.library import BadInput, Library, load_library

REPORT_VERSION = 1


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
        if args.next_speaker == "probability" and spec.kind != "hf":
            raise BadInput(f"--next-speaker probability reads a local checkpoint's probabilities; {spec.describe()} "
                           "is an endpoint (use hf:PATH, or --next-speaker sample)")
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
        if args.next_speaker == "probability":  # whole logs for who-speaks-next; Em's forced lines still sampled
            held = (load_heldout(Path(heldout), lib, args.max_heldout, args.seed, kinds=("em_line",))
                    + speaker_probes(Path(heldout), lib, args.max_heldout, args.seed))
        else:
            held = load_heldout(Path(heldout), lib, args.max_heldout, args.seed)
        if not held:
            warn(f"{heldout}: no usable held-out conversation (each needs a known header and lines by Em and others)")
    probes = [p if p.kind == SPEAKER_KIND else p.clipped(args.context) for p in written + held]
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
                                  args.temperature, args.top_p, args.seed, progress=bar.update, lines=turns)
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


def report_head(args, lib: Library, probes: list[Probe], sources: dict) -> dict:
    """The fields every report starts with: when, the settings, the levels and channels."""
    return {"created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "settings": {"samples": args.samples, "seed": args.seed, "temperature": args.temperature,
                         "top_p": args.top_p, "turns": args.turns, "line_tokens": args.line_tokens,
                         "bootstrap": args.bootstrap, "context": getattr(args, "context", None), "probes": len(probes),
                         "next_speaker": args.next_speaker,
                         **sources,
                         "kinds": {k: sum(1 for p in probes if p.kind == k) for k in
                                   dict.fromkeys(p.kind for p in probes)}},
            "levels": list(lib.mix["engagement"]), "channels": list(lib.mix["channels"])}


def write_report(out: Path, report: dict, samples: list[dict]) -> Path:
    """The report JSON (whole, then renamed) and its samples file next to it; the samples file's path."""
    out.parent.mkdir(parents=True, exist_ok=True)
    samples_path = out.with_name(out.stem + ".samples.jsonl")
    report["samples_file"] = str(samples_path)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    tmp.replace(out)
    with samples_path.open("w", encoding="utf-8") as f:
        for r in samples:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return samples_path


def default_out(kind: str = "") -> Path:
    return Path("em_character_data") / "eval" / (time.strftime("%Y%m%d-%H%M%S") + kind + ".json")


def out_path(args, kind: str = "") -> Path:
    out = Path(args.out) if args.out else default_out(kind)
    if out.is_dir():
        raise BadInput(f"--out {out}: is a folder; give a file name")
    return out


def run(args) -> int:
    lib = load_library(args.scenarios, args.prompts)
    specs = targets(args)
    if args.judge:
        judge_provider(args, None)  # a missing key is a usage error before any generation
    out = out_path(args)
    probes, sources = probes_for(args, lib)
    report: dict = {"version": REPORT_VERSION, **report_head(args, lib, probes, sources), "targets": {}}
    scores_by: dict[str, dict] = {}
    samples: list[dict] = []
    sampled = [p for p in probes if p.kind != SPEAKER_KIND]
    scored = [p for p in probes if p.kind == SPEAKER_KIND]
    for label, spec in specs:
        target = open_target(spec, device=args.device, batch_size=args.batch_size, concurrency=args.concurrency,
                             timeout=args.timeout)
        next_speaker = None
        try:
            start = time.monotonic()
            gens = generate_all(target, sampled, lib, args, label)
            seconds = time.monotonic() - start
            if scored:
                with _progress(len(scored), f"{label} speakers", args.no_progress) as bar:
                    by_prob, prob_rows, next_speaker = speakers.score_all(target, scored, lib, bar.update)
        finally:
            target.close()
        scores, rows = score_all(sampled, gens, lib, args)
        if args.judge:
            scores.update(judge_all(sampled, gens, rows, lib, args))
        if next_speaker is not None:
            for m, d in by_prob.items():
                scores.setdefault(m, {}).update(d)
            rows += prob_rows
        scores_by[label] = scores
        samples += [{"target": label, **r} for r in rows]
        report["targets"][label] = {"target": spec.describe(), "generation_seconds": round(seconds, 1),
                                    "metrics": summarise(scores, probes, lib, args.bootstrap, args.seed,
                                                         samples=_sample_counts(rows))}
        if next_speaker is not None:
            report["targets"][label]["next_speaker"] = next_speaker
    if len(specs) == 2:
        report["compare"] = compare(scores_by["base"], scores_by["tuned"], probes, lib, args.bootstrap, args.seed)
    report["probes"] = [p.info() for p in probes]
    samples_path = write_report(out, report, samples)
    print(format_table(report))
    print(f"\nreport: {out}\nsamples: {samples_path}")
    return EXIT_OK
