"""A generation run from start to end: pick or resume the run, plan it, start the offline stand-in
when needed, run the jobs with clean signal handling, write progress and stats."""
from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from em_gen.generate.journal import PROGRESS, STATS, Store, atomic_write
from em_gen.generate.deal import shortfall_line
from em_gen.generate.diversity import dataset_diversity
from em_gen.generate.plan import Job, jobs_for_bytes, mix_of, plan_runs, replacement_for, run_plan
from em_gen.generate.reach import ReachGuard
from em_gen.generate.runner import Outcome, RunConfig, Runner
from em_gen.generate.stats import build_stats
from em_gen.library import BadInput, Library
from em_gen.providers import Pricing, make_provider
from em_gen.quality.rules import Diversity

OFFLINE_BANNER = ("[offline] This is the offline stand-in, for trying the pipeline end to end without an API key; "
                  "its conversations are NOT training-grade. For real data set ANTHROPIC_API_KEY or OPENAI_API_KEY, "
                  "or OPENAI_BASE_URL for a local server (vLLM, llama.cpp, Ollama).")
MAX_EXTENSIONS = 10
DEFAULT_TARGET_MB = 15.0  # --full without --target-mb (the plan's 10-20 MB)


@dataclass
class Options:
    mode: str  # "batch" | "full" | "test"
    n: int | None = None
    target_bytes: int | None = None
    seed: int | None = None
    resume: bool = False
    force: bool = False
    provider: str = "offline"
    model: str = ""
    api: str = "chat"
    timeout: float = 300.0
    judge_model: str | None = None  # the character judge's model (None: no judge)
    batch_api: bool = False  # provider batch APIs instead of live calls (half price, in rounds)
    smoke_batch: int = 50  # --batch-api: the first round's jobs, checked before the rest is submitted
    poll_interval: float = 60.0


def warn(msg: str) -> None:
    print(f"em-gen: warning: {msg}", file=sys.stderr)


def pending(lib: Library, plan: list[Job], store: Store, max_repl: int, seed: int) -> list[Job]:
    """Jobs still owed: never done, failed, or judged-rejected with replacements left."""
    out = []
    for job in plan:
        j = job
        while True:
            v = store.state.verdicts.get(j.id)
            if v is None:
                out.append(j)
                break
            if v["ok"] or j.replacement >= max_repl:
                break
            j = replacement_for(lib, j, seed)
    return out


def _check_progress(store: Store, run: dict) -> None:
    path = store.out / PROGRESS
    try:
        snap = json.loads(path.read_text(encoding="utf-8"))
        if snap.get("run", {}).get("run") != run["run"]:
            raise ValueError("it describes another run")
    except FileNotFoundError:
        warn(f"{path} is missing; rebuilt from the journal")
    except (ValueError, AttributeError) as e:
        warn(f"{path} is corrupt ({e}); rebuilt from the journal")


def last_session(out) -> dict | None:
    """How the folder's last session ended when it did not finish ("fatal", "budget", "interrupted",
    ...), from generation_progress.json: {"run", "status", "message"}; None when it finished or is
    unknown."""
    try:
        snap = json.loads((Path(out) / PROGRESS).read_text(encoding="utf-8"))
        status = snap.get("last_status")
        run = (snap.get("run") or {}).get("run")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(status, str) or status == "done":
        return None
    return {"run": run, "status": status, "message": str(snap.get("last_message") or "")}


def resume_check(lib: Library, all_runs: list[dict], opt: Options, out) -> tuple[dict | None, list[str]]:
    """The run a --resume continues and how the current settings differ from it ((None, []) for a
    new run). Raises BadInput for a command that must not start: nothing to resume, another plan,
    provider or model without --force, a second --full without --force. Writes nothing, so it runs
    before the output folder is touched (preflight.py) and again in choose_run."""
    runs = [r for r in all_runs if r["mode"] == opt.mode and not r.get("extension")]
    if opt.resume:
        if not runs:
            return None, []  # nothing to continue: `--full --resume` just starts it (choose_run says so)
        run = runs[-1]
        diffs = []
        if run.get("provider") and opt.provider != run["provider"]:
            diffs.append(f"--provider {opt.provider} differs from the run's {run['provider']}")
        elif run.get("model") and opt.model != run["model"]:
            diffs.append(f"--model {opt.model} differs from the run's {run['model']}")
        if run["fingerprint"] != lib.fingerprint:
            diffs.append("the prompts or scenarios changed")
        if opt.seed is not None and opt.seed != run["seed"]:
            diffs.append(f"--seed {opt.seed} differs from the run's {run['seed']}")
        if opt.n is not None and opt.n != run.get("n_requested"):
            diffs.append(f"--batch {opt.n} differs from the run's {run.get('n_requested')}")
        if opt.target_bytes is not None and opt.target_bytes != run.get("target_bytes"):
            diffs.append(f"--target-mb {opt.target_bytes / 1e6:g} differs from the run's {run['target_bytes'] / 1e6:g}")
        if diffs and not opt.force:
            raise BadInput(f"--resume: {out} was made by a different plan ({'; '.join(diffs)}); "
                           "use --force to continue it with the current settings")
        return run, diffs
    if opt.mode == "full" and runs and not opt.force:
        raise BadInput(f"--full: {out} already holds a --full run ({runs[-1]['run']}); "
                       "continue it with --resume, or start another plan with --force")
    return None, []


def choose_run(lib: Library, store: Store, opt: Options) -> dict:
    """The run record to work on: a new run, or the last one of this mode when resuming."""
    run, diffs = resume_check(lib, store.state.runs, opt, store.out)
    if run is not None:
        _check_progress(store, run)
        if diffs:
            warn(f"--force: continuing {run['run']} although {'; '.join(diffs)}")
            run = {**run, "fingerprint": lib.fingerprint, "provider": opt.provider, "model": opt.model,
                   "forced": True, "ts": round(time.time(), 3)}
            store.record(run)
        return run
    runs = [r for r in store.state.runs if r["mode"] == opt.mode and not r.get("extension")]
    seed = opt.seed if opt.seed is not None else 0
    run_id = f"{opt.mode}{len(runs) + 1}"
    if opt.resume:
        print(f"--resume: no earlier --{opt.mode} run in {store.out}; starting {run_id}", file=sys.stderr)
    if opt.mode == "full":
        if opt.target_bytes is None:
            opt.target_bytes = int(DEFAULT_TARGET_MB * 1e6)
        n = jobs_for_bytes(lib, opt.target_bytes)
    else:
        n = opt.n
    run = {"t": "run", "run": run_id, "mode": opt.mode, "n": n, "n_requested": opt.n,
           "target_bytes": opt.target_bytes, "seed": seed, "fingerprint": lib.fingerprint,
           "provider": opt.provider, "model": opt.model, "judge_model": opt.judge_model, "ts": round(time.time(), 3)}
    _record_with_mix(lib, store, run, run_id)
    return run


def _record_with_mix(lib: Library, store: Store, run: dict, prefix: str) -> None:
    """Journal a run (or round) record only after its plan is built and checked, with the plan's mix
    in it: what --status and --report show as planned, without re-planning."""
    plans, _ = plan_runs(lib, [*store.state.runs, run])
    run["mix"] = mix_of(plans.get(prefix, []))
    store.record(run)


def run_bytes(store: Store, run_id: str) -> int:
    return sum(v.get("bytes", 0) for v in store.state.accepted() if v["job_id"].startswith(run_id + "-")
               or v["job_id"].startswith(run_id + "x"))


def write_snapshots(store: Store, lib: Library, run: dict, plan: list[Job],
                    outcome: Outcome | None = None) -> dict:
    stats = build_stats(lib, store.state, plan)
    if outcome is not None:  # the full pass only when a round ends, not for every snapshot
        stats["diversity"] = distinct_of(store)
        stats["dataset_diversity"] = dataset_diversity(store.state, lib.em)
    atomic_write(store.out / STATS, json.dumps(stats, indent=2) + "\n")
    snap = {"version": 1, "run": {k: v for k, v in run.items() if k != "t"}, "planned_jobs": len(plan),
            "accepted": stats["accepted"], "rejected": stats["rejected"], "failed": stats["failed"],
            "bytes": stats["bytes"], "cost_usd": stats["cost_usd"], "updated": round(time.time(), 3)}
    if outcome is not None:
        snap["last_status"] = outcome.status
        snap["last_message"] = outcome.message
    atomic_write(store.out / PROGRESS, json.dumps(snap, indent=2) + "\n")
    return stats


def load_diversity(store: Store) -> Diversity:
    """The near-duplicate index of every kept conversation, from the sketches in the journal."""
    div = Diversity()
    for v in store.state.accepted():
        div.add(v["job_id"], sketch=v["sketch"]) if "sketch" in v else div.add(v["job_id"], v["text"])
    return div


def distinct_of(store) -> dict:
    """distinct-1/distinct-2 over every kept conversation (a full pass: end of run and --status);
    `store` is a Store or a read-only State."""
    div = Diversity()
    for v in getattr(store, "state", store).accepted():
        div.count(v["text"])
    return div.distinct()


async def _run_async(runner: Runner, jobs: list[Job]) -> Outcome:
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    signals = {"n": 0}

    def on_signal(signame: str) -> None:
        signals["n"] += 1
        if signals["n"] == 1:
            print(f"\nem-gen: {signame}: finishing the requests in flight (again to abandon them)...",
                  file=sys.stderr)
            runner.request_stop("interrupted", f"stopped by {signame}; continue with --resume")
        else:
            main.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, on_signal, sig.name)
        except (NotImplementedError, RuntimeError):
            pass
    try:
        return await runner.run(jobs)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.remove_signal_handler(sig)
            except (NotImplementedError, RuntimeError):
                pass


def generate(lib: Library, store: Store, opt: Options, cfg: RunConfig, pricing: Pricing,
             server_url: str | None = None, judge_pricing: Pricing | None = None) -> tuple[Outcome, dict, dict]:
    """Run (or resume) a run to its end. Returns the outcome, the run record and the stats."""
    run = choose_run(lib, store, opt)
    cfg.seed = run["seed"]
    store.open_outputs()
    diversity = load_diversity(store)
    rounds = [r for r in store.state.runs if r["run"] == run["run"] and r.get("extension")]
    plans, dealer = plan_runs(lib, store.state.runs)  # premises and casts continue the folder's earlier runs
    plan = run_plan(plans, run["run"])
    short = shortfall_line(lib, dealer) if dealer else None
    if short:
        warn(short)
    outcome = Outcome()
    held: set[str] = set()  # held by the judge in this session: asked again on --resume/--revalidate only
    try:
        while True:
            todo = [j for j in pending(lib, plan, store, cfg.max_replacements, run["seed"]) if j.id not in held]
            if todo or (opt.batch_api and store.state.open_batches()):
                provider, jprov = providers_for(opt, cfg, server_url)
                runner = Runner(lib, store, provider, pricing, cfg, diversity, jprov, judge_pricing)
                if opt.batch_api:
                    from em_gen.generate.batches import BatchRunner
                    from em_gen.providers.batch import batch_client
                    runner = BatchRunner(runner, batch_client(provider), batch_client(jprov) if jprov else None,
                                         smoke=opt.smoke_batch, poll_interval=opt.poll_interval)
                outcome = asyncio.run(run_and_close(runner, todo, provider, jprov))
                held |= set(outcome.held_ids)
                write_snapshots(store, lib, run, plan)  # cheap; the full-pass stats come once, at the end
                if outcome.status != "done":
                    break
                owed = [j for j in pending(lib, plan, store, cfg.max_replacements, run["seed"]) if j.id not in held]
                if owed:
                    outcome.status = "incomplete"
                    outcome.message = (f"{len(owed)} job(s) failed after every retry; "
                                       "run the same command with --resume to retry them")
                    break
            if run["mode"] != "full":
                break
            deficit = run["target_bytes"] - run_bytes(store, run["run"])
            if deficit <= 0 or len(rounds) >= MAX_EXTENSIONS:
                break
            k = len(rounds) + 1
            ext = {"t": "run", "run": run["run"], "mode": "full", "extension": k,
                   "n": jobs_for_bytes(lib, deficit), "seed": run["seed"], "fingerprint": lib.fingerprint,
                   "ts": round(time.time(), 3)}
            _record_with_mix(lib, store, ext, f"{run['run']}x{k}")
            rounds.append(ext)
            plans, dealer = plan_runs(lib, store.state.runs)
            plan = run_plan(plans, run["run"])
        if held and outcome.status == "done":
            outcome.status = "held"
            outcome.message = (f"{len(held)} conversation(s) held: the judge's answer was not the JSON asked for, "
                               "twice; they are neither kept nor rejected (--resume or --revalidate asks again)")
    finally:
        stats = write_snapshots(store, lib, run, plan, outcome)
    return outcome, run, stats


def providers_for(opt: Options, cfg: RunConfig, server_url: str | None):
    """The generation provider, and the judge's when it runs on another model (else None); both
    stop fast when their endpoint cannot be reached at all (reach.ReachGuard)."""
    provider = make_provider(opt.provider, opt.model, api=opt.api, timeout=opt.timeout, base_url=server_url)
    provider = ReachGuard(provider)
    jprov = None
    if cfg.judge and opt.judge_model and opt.judge_model != opt.model:
        jprov = make_provider(opt.provider, opt.judge_model, api=opt.api, timeout=opt.timeout, base_url=server_url)
        jprov = ReachGuard(jprov, peer=provider)
    return provider, jprov


async def run_and_close(runner: Runner, jobs: list[Job], *providers) -> Outcome:
    try:
        return await _run_async(runner, jobs)
    finally:
        for p in providers:
            if p is not None:
                await p.aclose()
