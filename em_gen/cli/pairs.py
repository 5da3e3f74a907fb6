"""`em-gen --pairs [--source teacher|base|both] [--per-conversation K] [--target SPEC]`: DPO preference
pairs from the accepted dataset into OUT/export/em_dpo.jsonl (em_gen/train/pair_run.py), and the pair
lines of --status."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from em_gen.library import BadInput, Library
from em_gen.providers import (
    check_credentials,
    choose_provider,
    default_judge_model,
    make_provider,
    pricing_for,
)

BASE_MAX_TOKENS = 80  # one line of Em's and a little beyond it


def _sources(args) -> tuple[str, ...]:
    return ("teacher", "base") if args.source == "both" else (args.source,)


def _check(args, out: Path) -> None:
    """Everything that can be refused before a file is written or a server started."""
    from em_gen.generate.journal import DATASET
    if args.per_conversation is not None and args.per_conversation < 1:
        raise BadInput(f"--per-conversation must be positive, got {args.per_conversation}")
    sources = _sources(args)
    if "base" in sources and not args.target:
        raise BadInput(f"--source {args.source}: no base model to sample; pass --target hf:PATH, "
                       "hf:PATH+ADAPTER or openai:URL#MODEL (as em-gen eval --compare), or --target standin")
    if args.target and "base" not in sources:
        raise BadInput("--target goes with --source base or --source both")
    if args.target and args.target != "standin":
        from em_gen.evaluate.targets import check_spec, parse_spec
        check_spec(parse_spec(args.target, "--target"), "--target")
    if args.estimate and args.target_mb is not None:
        return  # a planned --full dataset: no dataset needed
    data = out / DATASET
    if not data.is_file() or data.stat().st_size == 0:
        raise BadInput(f"--pairs: {out} has no accepted conversations ({DATASET} missing or empty); "
                       "generate with --batch N or --full first")


def _holdout(args, out: Path) -> float:
    """The dataset's held-out share (export/split.json, as --export decides it): its conversations make no
    pairs. Read only; another --holdout than the recorded one is refused, as for --export."""
    import json
    from em_gen.train.export import DEFAULT_HOLDOUT, SPLIT_FILE
    path = out / "export" / SPLIT_FILE
    try:
        recorded = float(json.loads(path.read_text(encoding="utf-8"))["holdout"])
    except FileNotFoundError:
        return DEFAULT_HOLDOUT if args.holdout is None else args.holdout
    except (ValueError, KeyError, TypeError):
        raise BadInput(f"{path}: unreadable; it records the held-out split") from None
    if args.holdout is not None and args.holdout != recorded:
        raise BadInput(f"--holdout {args.holdout:g}: this dataset's held-out split is {recorded:g} ({path}); "
                       "pairs follow it")
    return recorded


def pairs_command(args, lib: Library) -> int:
    from em_gen.train import pair_run
    from em_gen.train.pairs import DEFAULT_K, load_spec

    out = Path(args.out)
    _check(args, out)
    k = args.per_conversation or DEFAULT_K
    provider = choose_provider(args.provider)
    teacher_model = args.model or default_judge_model(provider)
    judge_model = args.judge_model or default_judge_model(provider)
    use_judge = not args.no_judge
    spec = load_spec(lib, args.scenarios, args.prompts)
    opts = pair_run.PairOptions(sources=_sources(args), k=k, judge=use_judge, holdout=_holdout(args, out),
                                allow_offline=args.allow_offline or provider == "offline",
                                temperature=args.temperature)
    if args.estimate:
        return _estimate(args, lib, spec, out, opts, provider, teacher_model, judge_model if use_judge else None)
    if provider != "offline":
        check_credentials(provider, "chat")
    pair_run.load_records(out, opts)  # a bad dataset is refused before anything is written
    from em_gen.generate.lock import FolderLock
    lock = FolderLock(out)  # one writer per folder (a generation run, or another --pairs, waits)
    try:
        return _run_pairs(args, lib, spec, out, opts, k, provider, teacher_model, judge_model, use_judge)
    finally:
        lock.release()


def _run_pairs(args, lib, spec, out, opts, k, provider, teacher_model, judge_model, use_judge) -> int:
    from em_gen.train import pair_run
    from em_gen.train.pair_calls import PairJournal
    journal = PairJournal(out / pair_run.PAIRS_DIR)
    if journal.runs and not args.resume:
        if not args.force:
            raise BadInput(f"--pairs: {journal.path} holds an earlier pair run; continue it with --resume (every "
                           "answer already paid for is reused), or pass --force to start a new journal")
        journal.path.rename(journal.path.with_name(f"journal.{int(time.time())}.jsonl"))
        journal = PairJournal(out / pair_run.PAIRS_DIR)
    if provider == "offline":
        from em_gen.generate.orchestrate import OFFLINE_BANNER
        print(OFFLINE_BANNER, file=sys.stderr)
    if not use_judge:
        print("em-gen: warning: --no-judge: a rejected line is kept only when the rules flag it, and chosen lines "
              "are checked by the rules alone", file=sys.stderr)
    server = None
    if provider == "offline" or args.target == "standin":
        from em_gen.providers.standin import start_offline
        server = start_offline(lib)
    url = server.base_url + "/v1" if server else None
    try:
        journal.add({"t": "pairs_run", "sources": list(opts.sources), "k": k, "provider": provider,
                     "teacher_model": teacher_model, "judge_model": judge_model if use_judge else None,
                     "batch_api": args.batch_api, "resume": bool(args.resume), "ts": round(time.time(), 3)})
        teacher = _caller(args, lib, "teacher", journal, provider, teacher_model, url) \
            if "teacher" in opts.sources else None
        judge = _caller(args, lib, "judge", journal, provider, judge_model, url) if use_judge else None
        sampler = _sampler(args, url) if "base" in opts.sources else None
        stats = pair_run.run(lib, spec, out, opts, journal, teacher, judge, sampler,
                             progress=lambda s: print(s, file=sys.stderr))
    finally:
        journal.close()
        if server:
            server.stop()
    print(pair_run.format_stats(stats))
    print(f"requests this stage (all runs): {stats['requests']['teacher']} teacher, {stats['requests']['judge']} "
          f"judge, {stats['base_samples']} base samples; ${stats['cost_usd']:.4f}")
    print(f"export: {stats['pairs']} pairs -> {out / 'export' / pair_run.DPO_FILE} (what axolotl/em-dpo.yaml reads)")
    bad = [c for c in (teacher, judge) if c is not None and c.status != "done"]
    for c in bad:
        print(f"em-gen: the {c.name} stopped: {c.status}: {c.message} (continue with --pairs --resume)", file=sys.stderr)
    unanswered = stats["drop_reasons"].get("not_answered", 0) + stats["drop_reasons"].get("request_failed", 0)
    return 1 if bad or unanswered else 0


def _caller(args, lib, name, journal, provider, model, url):
    from em_gen.generate.runner import RunConfig
    from em_gen.train.pair_calls import Caller
    cfg = RunConfig(concurrency=args.concurrency, rpm=args.rpm, tpm=args.tpm, max_cost=args.max_cost,
                    max_attempts=args.max_attempts, temperature=args.temperature, max_reject_rate=None,
                    progress=False, tpm_output_only=provider == "anthropic")
    prov = make_provider(provider, model, api="chat", timeout=args.timeout, base_url=url)
    pricing = pricing_for(model, provider, args.prices)
    client = None
    if args.batch_api:
        from em_gen.providers.batch import batch_client
        client = batch_client(prov)
    return Caller(name, journal, prov, pricing, cfg, client, poll_interval=args.poll_interval)


def _sampler(args, url):
    """The base model's continuation of each prompt, through the eval targets."""
    from em_gen.evaluate.targets import EvalFailure, TargetSpec, open_target, parse_spec
    from em_gen.providers.standin.rewrite import BASE_MODEL
    spec = TargetSpec("openai", BASE_MODEL, url=url) if args.target == "standin" else parse_spec(args.target, "--target")

    def sample(prompts: list[str], _indices: list[int]) -> list[str]:
        target = open_target(spec, concurrency=args.concurrency, timeout=args.timeout)
        try:
            got = target.generate(prompts, 1, BASE_MAX_TOKENS, 1.0 if args.temperature is None else args.temperature,
                                  0.95, args.seed or 0)
        except EvalFailure as e:
            raise BadInput(f"--target {args.target}: {e}") from None
        finally:
            target.close()
        return [g[0].text for g in got]

    return sample


def _estimate(args, lib, spec, out, opts, provider, teacher_model, judge_model) -> int:
    from em_gen.train import pair_estimate as pe
    from em_gen.train import pair_run
    tp = pricing_for(teacher_model, provider, args.prices)
    jp = pricing_for(judge_model, provider, args.prices) if judge_model else None
    base = "base" in opts.sources
    if args.target_mb is not None:
        rep = pe.from_plan(lib, spec, args.target_mb, opts.k, args.seed or 0, opts.sources, base, provider,
                           teacher_model, tp, judge_model, jp)
        what = f"a planned --full dataset of {args.target_mb:g} MB"
    else:
        records = pair_run.load_records(out, opts)
        moments = pair_run.plan_moments(lib, spec, records, opts.k)
        judged = pair_run.stored_conversation_judgements(out)
        unjudged = sum(1 for r in records if r["meta"]["job_id"] not in judged)
        rep = pe.from_moments(lib, spec, moments, unjudged, opts.sources, base, provider, teacher_model, tp,
                              judge_model, jp)
        what = f"the {len(records)} training conversations in {out}"
    print(pe.format_pair_estimate(rep, provider, opts.k, teacher_model, judge_model, args.batch_api, what))
    return 0


def status_lines(out: Path) -> tuple[dict | None, str]:
    """The pair stage's stats for --status (None and "" before any --pairs run)."""
    from em_gen.train.pair_run import format_stats, read_stats
    s = read_stats(out)
    return s, ("\n" + format_stats(s) if s else "")
