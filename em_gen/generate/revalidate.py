"""`--revalidate`: every paid response in the journal judged again with the current checks, and the
dataset, rejected file and stats rebuilt, for free. Stored character-judge answers are reused; a
conversation whose stored answers are all unreadable stays held, and is returned so the caller can
ask the judge again."""
from __future__ import annotations

from collections import Counter

from em_gen.generate.journal import Store
from em_gen.generate.plan import Job
from em_gen.library import Library
from em_gen.quality.judge import stored_judgement
from em_gen.quality.rules import Diversity
from em_gen.quality.verdict import judge, rules


def revalidate(lib: Library, store: Store) -> dict:
    """Judge every stored response again with the current checks and rebuild the outputs."""
    diversity = Diversity()
    before = {jid: v["ok"] for jid, v in store.state.verdicts.items()}
    changed = Counter()
    held = []
    for jid, parts in store.state.responses.items():
        job = Job.from_dict(parts[-1]["job"])
        ruled = rules(lib, job, parts)
        parsed, _, reasons = ruled
        llm = None if reasons else stored_judgement(lib, store.state.judgements.get(jid, []), parsed)
        if llm is not None and not llm["readable"]:
            held.append(job)
            continue
        rec = judge(lib, job, parts, diversity, parts[-1].get("provider", ""), parts[-1].get("model", ""),
                    source="revalidate", llm=llm, ruled=ruled)
        store.record(rec)
        if jid in before and before[jid] != rec["ok"]:
            changed["now_ok" if rec["ok"] else "now_rejected"] += 1
    store.rebuild_outputs()
    return {"responses": len(store.state.responses), "accepted": len(store.state.accepted()),
            "now_accepted": changed["now_ok"], "now_rejected": changed["now_rejected"], "held": held}


def retry_held(lib: Library, store: Store, jobs: list[Job], opt, cfg, pricing, judge_pricing, server_url=None):
    """Ask the character judge again about conversations held because its answers were unreadable
    (paid judge requests; the generation responses are reused). Returns the runner's outcome."""
    import asyncio

    from em_gen.generate.orchestrate import load_diversity, providers_for, run_and_close
    from em_gen.generate.runner import Runner
    cfg.judge, cfg.max_replacements, cfg.max_reject_rate = True, 0, None
    provider, jprov = providers_for(opt, cfg, server_url)
    runner = Runner(lib, store, provider, pricing, cfg, load_diversity(store), jprov, judge_pricing)
    return asyncio.run(run_and_close(runner, jobs, provider, jprov))
