"""What each CLI mode does, on top of the pipeline modules."""
from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
from pathlib import Path

from em_gen.cli.batch import cancel_batches, print_open_batches
from em_gen.cli.check import validate_command
from em_gen.generate.journal import TEST_DATASET, Store, journal_problems
from em_gen.generate.orchestrate import (
    DEFAULT_TARGET_MB,
    OFFLINE_BANNER,
    providers_for,
    run_and_close,
    Options,
    distinct_of,
    generate,
    warn,
)
from em_gen.generate.deal import Dealer, shortfall_line
from em_gen.generate.plan import jobs_for_bytes, make_plan
from em_gen.generate.preflight import check_before_writing, check_out, refuse_model_offline
from em_gen.generate.prompting import build_request
from em_gen.generate.runner import RunConfig, Runner
from em_gen.generate.templates import check_templates
from em_gen.generate.stats import build_stats
from em_gen.library import BadInput, Library
from em_gen.providers import (
    DEFAULT_MODELS,
    PAID_PROVIDERS,
    choose_provider,
    default_judge_model,
    pricing_for,
    unpriced_refusal,
)
from em_gen.providers.standin import start_offline
from em_gen.quality.judge import read_judgement
from em_gen.quality.rules import CHECKS, Context, Expect
from em_gen.quality.verdict import assemble, judge
from em_gen.train.autoexport import refresh_and_say



def judge_on(args, provider: str) -> bool:
    """The character judge is part of the gate with a paid provider; --no-judge turns it off,
    --judge turns it on for the stand-in."""
    if args.no_judge:
        return False
    return bool(args.judge) or provider in PAID_PROVIDERS


def judge_off_reason(args) -> str:
    """Why the character judge is off, in the words of what the user did (or did not) type."""
    return "--no-judge" if args.no_judge else "the offline stand-in runs without it; --judge turns it on"


def run_config(args, lib: Library, provider: str = "offline") -> RunConfig:
    return RunConfig(
        concurrency=args.concurrency, rpm=args.rpm, tpm=args.tpm, max_cost=args.max_cost,
        max_attempts=args.max_attempts, temperature=args.temperature, max_tokens=args.max_tokens,
        monitor_after=args.monitor_after, max_reject_rate=None if args.no_monitor else args.max_reject_rate,
        max_replacements=lib.mix["max_replacements"] if args.max_replacements is None else args.max_replacements,
        seed=args.seed or 0, progress=not args.no_progress and not args.test, judge=judge_on(args, provider),
    )


def dispatch(args, lib: Library) -> int:
    if args.validate:
        return validate_command(args, lib)
    out = Path(args.out)
    check_out(out)  # --out naming a file: one line saying so, for every mode
    if args.test or args.batch is not None or args.full or args.revalidate:  # estimate included
        check_templates(lib, args.prompts)  # a bad template: one line naming file and field, before any write
    if args.import_logs:
        from em_gen.cli.import_logs import import_logs_command
        return import_logs_command(args, lib)
    if args.status:
        from em_gen.cli.status import status
        return status(lib, out, args.json)
    if args.report:
        from em_gen.cli.reporting import report_command
        return report_command(lib, out)
    if args.export or args.token_lengths or args.smoke_train:
        from em_gen.cli.training import training_command
        return training_command(args, lib, out)
    if args.pairs:
        from em_gen.cli.pairs import pairs_command
        return pairs_command(args, lib)
    if args.estimate:  # before the output folder is touched: nothing is written, nothing spent
        provider = choose_provider(args.provider)
        refuse_model_offline(args, provider)
        model = args.model or DEFAULT_MODELS[provider]
        n = args.batch if args.batch is not None else jobs_for_bytes(
            lib, int((args.target_mb if args.target_mb is not None else DEFAULT_TARGET_MB) * 1e6))
        return estimate(args, lib, provider, model, n)
    check_before_writing(args, lib, out, DEFAULT_TARGET_MB, judge_on)  # a refused command writes nothing
    store = Store(out / "test", TEST_DATASET) if args.test else Store(out)  # the folder's one writer from here on
    for line in journal_problems(store.state):
        warn(line)
    try:
        if args.revalidate:
            return revalidate_command(args, lib, store)
        if args.cancel_batches:
            return cancel_batches(args, lib, store, lambda p, m, jm: batch_runner(args, lib, store, p, m, jm))
        return run_generation(args, lib, store)
    finally:
        store.close()


def revalidate_command(args, lib: Library, store: Store) -> int:
    """--revalidate: re-judge everything stored for free; then ask the judge again about any
    conversation it held (its answers were unreadable), when a judge can be reached."""
    from em_gen.generate.journal import STATS, atomic_write
    from em_gen.generate.revalidate import retry_held, revalidate
    res = revalidate(lib, store)
    print(f"re-judged {res['responses']} stored responses with no new request: {res['accepted']} accepted "
          f"({res['now_accepted']} newly accepted, {res['now_rejected']} newly rejected); "
          f"dataset, rejected.jsonl and stats rebuilt")
    held, rc = res["held"], 0
    if held:
        run = store.state.runs[-1] if store.state.runs else {}
        provider = choose_provider(args.provider)
        if (provider == "offline" and not args.judge) or args.no_judge:
            print(f"{len(held)} conversation(s) held: the judge's stored answers are unreadable; set the provider's "
                  "key (or pass --judge for the stand-in) and run --revalidate again to ask the judge again")
            rc = 1
        else:
            model = args.model or run.get("model") or DEFAULT_MODELS[provider]
            jm = args.judge_model or run.get("judge_model") or default_judge_model(provider, model)
            opt = Options(mode="revalidate", provider=provider, model=model, api=args.api, timeout=args.timeout,
                          judge_model=jm)
            server = start_offline(lib) if provider == "offline" else None
            try:
                out = retry_held(lib, store, held, opt, run_config(args, lib, provider),
                                 pricing_for(model, provider, args.prices), pricing_for(jm, provider, args.prices),
                                 server.base_url + "/v1" if server else None)
            finally:
                if server:
                    server.stop()
            still = len(store.state.held)
            print(f"asked the judge again about {len(held)} held conversation(s): {out.accepted} accepted, "
                  f"{out.rejected} rejected, {still} still held; {out.judge_requests} judge requests, ${out.cost:.4f}")
            rc = 0 if not still and out.status == "done" else 1
    stats = build_stats(lib, store.state, None, distinct_of(store))
    atomic_write(store.out / STATS, json.dumps(stats, indent=2) + "\n")
    refresh_and_say(store.out, lib.em)
    return rc


def batch_runner(args, lib: Library, store: Store, provider: str, model: str, judge_model: str | None):
    """A BatchRunner on the folder's providers (for --cancel-batches)."""
    from em_gen.generate.batches import BatchRunner
    from em_gen.generate.orchestrate import load_diversity
    from em_gen.providers.batch import batch_client
    cfg = run_config(args, lib, provider)
    cfg.progress = False
    opt = Options(mode="cancel", provider=provider, model=model, api=args.api, timeout=args.timeout,
                  judge_model=judge_model)
    cfg.judge = judge_model is not None
    prov, jprov = providers_for(opt, cfg, None)
    pricing = pricing_for(model, provider, args.prices)
    jp = pricing_for(judge_model, provider, args.prices) if judge_model else None
    runner = Runner(lib, store, prov, pricing, cfg, load_diversity(store), jprov, jp)
    return BatchRunner(runner, batch_client(prov), batch_client(jprov) if jprov else None, first_poll=0.5,
                       poll_interval=args.poll_interval), (prov, jprov)


def estimate(args, lib: Library, provider: str, model: str, n: int) -> int:
    from em_gen.generate import estimate as est
    pricing = pricing_for(model, provider, args.prices)
    dealer = Dealer(lib, args.seed or 0)
    jobs = make_plan(lib, n, args.seed or 0, "estimate", dealer)
    cfg = run_config(args, lib, provider)
    gen = est.generation(lib, jobs, provider, model, pricing, cfg.temperature, cfg.max_tokens)
    jm = (args.judge_model or default_judge_model(provider, model)) if cfg.judge else None
    jp = est.judge(lib, jobs, provider, jm, pricing_for(jm, provider, args.prices)) if jm else None
    print(est.format_estimate(n, provider, model, gen, jm, jp, args.batch_api, judge_off=judge_off_reason(args)))
    print(shortfall_line(lib, dealer) or f"premises: {len({j.premise for j in jobs}):,} distinct for {n:,} jobs, "
          f"none reused ({sum(map(len, lib.premises.values())):,} in the library)")
    if args.full and jm and provider in PAID_PROVIDERS:
        _suggest_judge_check(lib, provider, jm, mark=False)
    return 0


def _suggest_judge_check(lib: Library, provider: str, judge_model: str, mark: bool = True) -> None:
    """--full: suggest `em-gen judge-check` once per judge model and rubric while none is recorded."""
    from em_gen.generate.judge_check import suggest_once
    from em_gen.quality.judge_check import rubric_id
    hint = suggest_once(provider, judge_model, rubric_id(lib), mark=mark)
    if hint:
        warn(hint)


def run_generation(args, lib: Library, store: Store) -> int:
    provider = choose_provider(args.provider)
    model = args.model or DEFAULT_MODELS[provider]
    mode = "test" if args.test else ("full" if args.full else "batch")
    target_mb = args.target_mb if args.target_mb is not None else (DEFAULT_TARGET_MB if args.full and not args.resume else None)
    if provider == "offline":
        print(OFFLINE_BANNER, file=sys.stderr)
        if args.full and not args.allow_offline:
            raise BadInput("--full on the offline stand-in needs --allow-offline (its output is not training-grade)")
    cfg = run_config(args, lib, provider)
    judge_model = (args.judge_model or default_judge_model(provider, model)) if cfg.judge else None
    pricing = pricing_for(model, provider, args.prices)
    judge_pricing = pricing_for(judge_model, provider, args.prices) if judge_model else None
    for m, pr in ((model, pricing), (judge_model, judge_pricing)):
        if pr is not None and pr.per_mtok is None:
            why = unpriced_refusal(m, provider, pr, args.max_cost, args.allow_unpriced)
            if why:
                raise BadInput(why)
            warn(f"no price known for model {m!r}: cost is not counted (pass --prices FILE)")
    if not cfg.judge and provider in PAID_PROVIDERS:
        warn("--no-judge: conversations are kept on the rules alone; the character judge never reads them")
    if args.full and not args.resume and judge_model and provider in PAID_PROVIDERS:
        _suggest_judge_check(lib, provider, judge_model)
    server = start_offline(lib) if provider == "offline" else None
    url = server.base_url + "/v1" if server else None
    try:
        opt = Options(mode=mode, n=args.batch, target_bytes=int(target_mb * 1e6) if target_mb else None,
                      seed=args.seed, resume=args.resume, force=args.force, provider=provider, model=model,
                      api=args.api, timeout=args.timeout, judge_model=judge_model, batch_api=args.batch_api,
                      smoke_batch=args.smoke_batch, poll_interval=args.poll_interval)
        if args.test:
            return test_single(args, lib, store, opt, pricing, judge_pricing, cfg, url)
        outcome, run, stats = generate(lib, store, opt, cfg, pricing, url, judge_pricing)
    finally:
        if server:
            server.stop()
    summarize(outcome, run, stats, store.out, store, None if cfg.judge else judge_off_reason(args))
    refresh_and_say(store.out, lib.em)  # what axolotl/*.yaml read, with no manual --export
    return 0 if outcome.status == "done" else 1


def summarize(outcome, run, stats, out: Path, store: Store | None = None, judge_off: str | None = None) -> None:
    o = outcome
    print(f"{run['run']}: {o.status}{' - ' + o.message if o.message else ''}", file=sys.stderr)
    print(f"this session: {o.accepted} accepted, {o.rejected} rejected, {o.failed} failed; {o.requests} requests "
          f"({o.retries} retries, {sum(o.http_errors.values())} errors {dict(o.http_errors)}), "
          f"{o.cooldowns} rate-limit cool-downs, ${o.cost:.4f}, {o.elapsed:.1f}s", file=sys.stderr)
    if o.batches:
        print(f"provider batches: {o.rounds} round(s), {o.batches} batch(es), {o.requests} requests at the batch "
              f"rate; {sum(o.http_errors.values())} errored/expired results went into later rounds", file=sys.stderr)
    j = stats.get("judge") or {}
    if o.judge_requests or j.get("kept_never_judged") or o.held:
        print(f"character judge: {o.judge_requests} requests this session (${o.judge_cost:.4f})"
              + (f", {o.held} held (answer unreadable twice)" if o.held else "")
              + (f"; {j['kept_never_judged']} kept conversations never judged ("
                 + (judge_off or "kept by an earlier run without the judge") + ")"
                 if j.get("kept_never_judged") else ""), file=sys.stderr)
    if o.status == "quality" and o.reasons:
        print("top rejection reasons, one example each:", file=sys.stderr)
        for code, n in o.reasons.most_common(5):
            job_id, detail = o.examples[code]
            print(f"  {code} x{n}: {job_id}: {detail}", file=sys.stderr)
        print("fix the prompts/model (then --revalidate costs nothing), or rerun with --no-monitor", file=sys.stderr)
    print(f"dataset: {stats['accepted']} conversations, {stats['bytes'] / 1e6:.2f} MB, total cost "
          f"${stats['cost_usd']:.4f} -> {out}", file=sys.stderr)
    if store is not None:
        print_open_batches(store)


def test_single(args, lib, store: Store, opt: Options, pricing, judge_pricing, cfg: RunConfig, url) -> int:
    """One conversation with everything shown: job, prompt, raw output, parsed log, every check,
    and the character judge's reading with each failing message and its family."""
    provider, model = opt.provider, opt.model
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
    for key in ("pattern", "scenario", "engagement", "channel", "topic", "premise", "bucket", "messages",
                "em_messages"):
        print(f"  {key:<12} {getattr(job, key)}")
    print("  cast")
    for nick, voice in job.cast:
        print(f"    {nick:<16} {voice}")
    print(f"{bar}\nPROMPT ({provider}/{model}, max_tokens {req.max_tokens}, stop {req.stop!r})\n{bar}")
    print(f"[system]\n{req.system}\n[user]\n{req.user}")
    cfg.progress = False
    cfg.max_reject_rate = None
    cfg.max_replacements = 0
    prov, jprov = providers_for(opt, cfg, url)
    runner = Runner(lib, store, prov, pricing, cfg, None, jprov, judge_pricing)
    outcome = asyncio.run(run_and_close(runner, [job], prov, jprov))
    parts = store.state.responses.get(job.id, [])
    if not parts:
        print(f"{bar}\nNO RESPONSE: {outcome.message or 'the request failed after retries'}\n{bar}")
        return 1
    for p in parts:
        print(f"{bar}\nRAW OUTPUT (part {p['part']}, stop {p['stop_reason']}, usage {p['usage']}, ${p['cost']:.5f})\n{bar}")
        print(p["raw"])
    parsed = assemble(lib, parts, job)  # the header filled from the job, as the verdict sees it
    print(f"{bar}\nPARSED CONVERSATION ({len(parsed.messages)} messages"
          + (f", truncated at {parsed.truncated_at!r}" if parsed.truncated_at else "") + f")\n{bar}")
    print(parsed.text())
    print(f"{bar}\nCHECKS\n{bar}")
    ctx = Context.build(parsed, lib, Expect(job.engagement, job.channel, job.bucket, job.messages, job.em_messages))
    for name, fn in CHECKS:
        reasons = fn(ctx)
        print(f"  {'PASS' if not reasons else 'FAIL'}  {name}" + "".join(f"\n          {r}" for r in reasons))
    answers = store.state.judgements.get(job.id, [])
    if not cfg.judge:
        print(f"{bar}\nCHARACTER JUDGE: off" + (" (--no-judge)" if args.no_judge else " (the stand-in; --judge turns it on)"))
    elif not answers:
        print(f"{bar}\nCHARACTER JUDGE: not asked (the rules already reject this conversation)")
    else:
        print(f"{bar}\nCHARACTER JUDGE ({answers[-1].get('model')}, {len(answers)} answer(s), "
              f"${sum(a.get('cost', 0.0) for a in answers):.5f})\n{bar}")
        got = read_judgement(answers[-1]["raw"], lib, parsed)
        if not got["readable"]:
            print("  the judge's answer was not the JSON asked for: the conversation is held as unjudged")
        elif got["ok"]:
            print("  PASS  no Em message fails a character family")
        for f in got.get("failures", []):
            line = parsed.messages[f["message"] - 1] if f["message"] else None
            print(f"  FAIL  message {f['message']} ({f['family']}): {f['why']}"
                  + (f"\n          <{line[0]}> {line[1]}" if line else ""))
    verdict = store.state.verdicts.get(job.id) or judge(lib, job, parts, None, provider, model)
    print(f"{bar}\nVERDICT: {'ACCEPTED' if verdict['ok'] else 'REJECTED'}"
          + ("" if verdict["ok"] else " - " + "; ".join(verdict["reasons"])))
    print(f"written under {store.out}/ (never into the training file)")
    if provider == "offline":  # the banner scrolled away: its one line again, last
        print("[offline] made by the offline stand-in: NOT training-grade (set ANTHROPIC_API_KEY, OPENAI_API_KEY "
              "or OPENAI_BASE_URL for real data)")
    return 0
