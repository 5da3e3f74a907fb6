"""What each CLI mode does, on top of the pipeline modules."""
from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
from pathlib import Path

from em_gen.generate.journal import Store
from em_gen.generate.orchestrate import (
    OFFLINE_BANNER,
    Options,
    distinct_of,
    generate,
    warn,
)
from em_gen.generate.plan import jobs_for_bytes, make_plan
from em_gen.generate.prompting import build_request
from em_gen.generate.runner import RunConfig, Runner
from em_gen.generate.stats import build_stats, format_status
from em_gen.library import BadInput, Library
from em_gen.providers import DEFAULT_MODELS, choose_provider, make_provider, pricing_for
from em_gen.providers.standin import start_offline
from em_gen.quality.rules import CHECKS, Context, Expect
from em_gen.quality.verdict import assemble, judge

EXPECTED_OUTPUT_TOKENS_PER_MESSAGE = 25
DEFAULT_TARGET_MB = 15.0


def run_config(args, lib: Library) -> RunConfig:
    return RunConfig(
        concurrency=args.concurrency, rpm=args.rpm, tpm=args.tpm, max_cost=args.max_cost,
        max_attempts=args.max_attempts, temperature=args.temperature, max_tokens=args.max_tokens,
        monitor_after=args.monitor_after, max_reject_rate=None if args.no_monitor else args.max_reject_rate,
        max_replacements=lib.mix["max_replacements"] if args.max_replacements is None else args.max_replacements,
        seed=args.seed or 0, progress=not args.no_progress and not args.test, judge=args.judge,
    )


def dispatch(args, lib: Library) -> int:
    if args.validate:
        from em_gen.quality.validate import validate_file
        summary = validate_file(lib, Path(args.validate), args.json)
        return 0 if summary["rejected"] == 0 else 1
    out = Path(args.out)
    if args.status:
        return status(lib, out, args.json)
    if args.export or args.token_lengths or args.smoke_train:
        return training_step(args, lib, out)
    if args.estimate:  # before the output folder is touched: nothing is written, nothing spent
        provider = choose_provider(args.provider)
        model = args.model or DEFAULT_MODELS[provider]
        n = args.batch if args.batch is not None else jobs_for_bytes(
            lib, int((args.target_mb if args.target_mb is not None else DEFAULT_TARGET_MB) * 1e6))
        return estimate(args, lib, provider, model, n)
    store = Store(out / "test" if args.test else out)
    try:
        if args.revalidate:
            from em_gen.generate.revalidate import revalidate
            res = revalidate(lib, store)
            stats = build_stats(lib, store.state, None, distinct_of(store))
            from em_gen.generate.journal import STATS, atomic_write
            atomic_write(store.out / STATS, json.dumps(stats, indent=2) + "\n")
            print(f"re-judged {res['responses']} stored responses with no new request: {res['accepted']} accepted "
                  f"({res['now_accepted']} newly accepted, {res['now_rejected']} newly rejected); "
                  f"dataset, rejected.jsonl and stats rebuilt")
            return 0
        return run_generation(args, lib, store)
    finally:
        store.close()


def training_step(args, lib: Library, out: Path) -> int:
    """--export, --token-lengths and --smoke-train: from the accepted dataset to Axolotl."""
    dataset = out / "em_character_training.jsonl"
    if not dataset.exists():
        raise BadInput(f"--out {out}: no em_character_training.jsonl to work from; generate with --batch N or --full")
    if args.export:
        from em_gen.train.export import export_dataset
        rep = export_dataset(dataset, fmt=args.export, fraction=args.fraction, holdout=args.holdout,
                             seed=args.seed or 0, allow_offline=args.allow_offline, tokenizer=args.base_model,
                             em_nick=lib.em)
        print(f"{rep['format']}: {rep['train']} training conversations -> {rep['path']}")
        print(f"held out for eval: {rep['heldout']} -> {rep['heldout_path']}")
        return 0
    if args.token_lengths:
        from em_gen.train.tokens import (
            bundled_sequence_len,
            dataset_token_lengths,
            format_stats,
        )
        seq = args.sequence_len or bundled_sequence_len()
        rep = dataset_token_lengths(dataset, tokenizer=args.base_model or args.tokenizer, sequence_len=seq)
        print(f"token lengths with {rep['tokenizer']} (sequence_len {seq}):")
        print(format_stats(rep["all"], "all"))
        for bucket, st in rep["by_bucket"].items():
            print(format_stats(st, bucket))
        return 0
    from em_gen.train.smoke import SmokeFailure, smoke_train
    try:
        rep = smoke_train(dataset, base_model=Path(args.base_model) if args.base_model else None,
                          fmt=args.smoke_train, workdir=out / "smoke" / args.smoke_train, steps=args.steps,
                          allow_offline=True)  # a pipeline check, not training: stand-in data is fine
    except SmokeFailure as e:
        print(f"em-gen: smoke training failed: {e}", file=sys.stderr)
        return 1
    print(f"smoke training ({args.smoke_train}, {len(rep['losses'])} steps, {rep['seconds']['total']:.0f}s): "
          f"losses {', '.join(f'{x:.4f}' for x in rep['losses'])}")
    print(f"label check: {json.dumps(rep['labels'])}")
    print(f"work folder: {rep['workdir']}")
    return 0


def status(lib: Library, out: Path, as_json: bool) -> int:
    if not (out / "journal.jsonl").exists():
        raise BadInput(f"--status: {out} holds no em-gen run (no journal.jsonl); start one with --batch N or --full")
    store = Store(out)
    try:
        planned = []
        for r in store.state.runs:
            if r.get("n"):
                prefix = r["run"] if not r.get("extension") else f"{r['run']}x{r['extension']}"
                if not any(p[0] == prefix for p in planned):
                    planned.append((prefix, r["n"], r["seed"]))
        jobs = [j for prefix, n, seed in planned for j in make_plan(lib, n, seed, prefix)]
        stats = build_stats(lib, store.state, jobs, distinct_of(store))
    finally:
        store.close()
    print(json.dumps(stats, indent=2) if as_json else format_status(stats))
    return 0


def estimate(args, lib: Library, provider: str, model: str, n: int) -> int:
    pricing = pricing_for(model, provider, args.prices)
    jobs = make_plan(lib, n, args.seed or 0, "estimate")
    cfg = run_config(args, lib)
    sys_tokens = in_tokens = out_tokens = 0
    for j in jobs:
        req = build_request(lib, j, cfg.temperature, cfg.max_tokens)
        sys_tokens = len(req.system) / 4
        in_tokens += len(req.user) / 4
        out_tokens += j.messages * EXPECTED_OUTPUT_TOKENS_PER_MESSAGE
    usage = {"input_tokens": in_tokens, "output_tokens": out_tokens,
             "cache_write_tokens": sys_tokens if provider == "anthropic" else 0,
             "cache_read_tokens": sys_tokens * (n - 1) if provider == "anthropic" else 0}
    if provider != "anthropic":
        usage["input_tokens"] += sys_tokens * n
    cost = pricing.cost(usage)
    print(f"estimate for {n} conversations with {provider}/{model} (no request made):")
    print(f"  requests   {n} (plus retries, continuations and replacements of rejected conversations)")
    print(f"  input      {int(usage['input_tokens']):,} tokens"
          + (f" + system prompt {int(sys_tokens):,} tokens written once to the cache and read {n - 1} times"
             if provider == "anthropic" else ""))
    print(f"  output     {int(out_tokens):,} tokens (about {EXPECTED_OUTPUT_TOKENS_PER_MESSAGE} per message)")
    print(f"  cost       ${cost:.2f}" if pricing.per_mtok else
          f"  cost       unknown: no price for model {model!r} (pass --prices FILE)")
    return 0


def run_generation(args, lib: Library, store: Store) -> int:
    provider = choose_provider(args.provider)
    model = args.model or DEFAULT_MODELS[provider]
    mode = "test" if args.test else ("full" if args.full else "batch")
    target_mb = args.target_mb if args.target_mb is not None else (DEFAULT_TARGET_MB if args.full and not args.resume else None)
    if provider == "offline":
        print(OFFLINE_BANNER, file=sys.stderr)
        if args.full and not args.allow_offline:
            raise BadInput("--full on the offline stand-in needs --allow-offline (its output is not training-grade)")
    pricing = pricing_for(model, provider, args.prices)
    if pricing.per_mtok is None:
        if args.max_cost is not None:
            raise BadInput(f"--max-cost: no price known for model {model!r}; pass --prices FILE")
        warn(f"no price known for model {model!r}: cost is not counted (pass --prices FILE)")
    cfg = run_config(args, lib)
    server = start_offline(lib) if provider == "offline" else None
    url = server.base_url + "/v1" if server else None
    try:
        if args.test:
            return test_single(args, lib, store, provider, model, pricing, cfg, url)
        opt = Options(mode=mode, n=args.batch, target_bytes=int(target_mb * 1e6) if target_mb else None,
                      seed=args.seed, resume=args.resume, force=args.force, provider=provider, model=model,
                      api=args.api, timeout=args.timeout)
        outcome, run, stats = generate(lib, store, opt, cfg, pricing, url)
    finally:
        if server:
            server.stop()
    summarize(outcome, run, stats, store.out)
    return 0 if outcome.status == "done" else 1


def summarize(outcome, run, stats, out: Path) -> None:
    o = outcome
    print(f"{run['run']}: {o.status}{' - ' + o.message if o.message else ''}", file=sys.stderr)
    print(f"this session: {o.accepted} accepted, {o.rejected} rejected, {o.failed} failed; {o.requests} requests "
          f"({o.retries} retries, {sum(o.http_errors.values())} errors {dict(o.http_errors)}), "
          f"{o.cooldowns} rate-limit cool-downs, ${o.cost:.4f}, {o.elapsed:.1f}s", file=sys.stderr)
    if o.status == "quality" and o.reasons:
        print("top rejection reasons, one example each:", file=sys.stderr)
        for code, n in o.reasons.most_common(5):
            job_id, detail = o.examples[code]
            print(f"  {code} x{n}: {job_id}: {detail}", file=sys.stderr)
        print("fix the prompts/model (then --revalidate costs nothing), or rerun with --no-monitor", file=sys.stderr)
    print(f"dataset: {stats['accepted']} conversations, {stats['bytes'] / 1e6:.2f} MB, total cost "
          f"${stats['cost_usd']:.4f} -> {out}", file=sys.stderr)


def test_single(args, lib, store: Store, provider: str, model: str, pricing, cfg: RunConfig, url) -> int:
    """One conversation with everything shown: job, prompt, raw output, parsed log, every check."""
    runs = [r for r in store.state.runs if r["mode"] == "test"]
    k = len(runs) + 1
    sample = make_plan(lib, 20, args.seed or 0, "test")
    job = sample[(k - 1) % len(sample)]
    job = dataclasses.replace(job, id=f"test{k}-{job.id.split('-')[1]}")
    store.record({"t": "run", "run": f"test{k}", "mode": "test", "n": 1, "seed": args.seed or 0,
                  "fingerprint": lib.fingerprint, "provider": provider, "model": model})
    store.open_outputs()
    req = build_request(lib, job, cfg.temperature, cfg.max_tokens)
    bar = "=" * 78
    print(f"{bar}\nJOB {job.id}\n{bar}")
    for key in ("pattern", "scenario", "engagement", "channel", "topic", "subject", "bucket", "messages",
                "em_messages", "nicks"):
        print(f"  {key:<12} {getattr(job, key)}")
    print(f"{bar}\nPROMPT ({provider}/{model}, max_tokens {req.max_tokens}, stop {req.stop!r})\n{bar}")
    print(f"[system]\n{req.system}\n[user]\n{req.user}")
    cfg.progress = False
    cfg.max_reject_rate = None
    cfg.max_replacements = 0
    prov = make_provider(provider, model, api=args.api, timeout=args.timeout, base_url=url)
    runner = Runner(lib, store, prov, pricing, cfg, None)

    async def go():
        try:
            return await runner.run([job])
        finally:
            await prov.aclose()
    outcome = asyncio.run(go())
    parts = store.state.responses.get(job.id, [])
    if not parts:
        print(f"{bar}\nNO RESPONSE: {outcome.message or 'the request failed after retries'}\n{bar}")
        return 1
    for p in parts:
        print(f"{bar}\nRAW OUTPUT (part {p['part']}, stop {p['stop_reason']}, usage {p['usage']}, ${p['cost']:.5f})\n{bar}")
        print(p["raw"])
    parsed = assemble(lib, parts)
    print(f"{bar}\nPARSED CONVERSATION ({len(parsed.messages)} messages"
          + (f", truncated at {parsed.truncated_at!r}" if parsed.truncated_at else "") + f")\n{bar}")
    print(parsed.text())
    print(f"{bar}\nCHECKS\n{bar}")
    ctx = Context.build(parsed, lib, Expect(job.engagement, job.channel, job.bucket, job.messages, job.em_messages))
    for name, fn in CHECKS:
        reasons = fn(ctx)
        print(f"  {'PASS' if not reasons else 'FAIL'}  {name}" + "".join(f"\n          {r}" for r in reasons))
    verdict = store.state.verdicts.get(job.id) or judge(lib, job, parts, None, provider, model)
    print(f"{bar}\nVERDICT: {'ACCEPTED' if verdict['ok'] else 'REJECTED'}"
          + ("" if verdict["ok"] else " - " + "; ".join(verdict["reasons"])))
    print(f"written under {store.out}/ (never into the training file)")
    return 0
