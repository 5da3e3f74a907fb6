"""`--revalidate`: every paid response in the journal judged again with the current checks, and the
dataset, rejected file and stats rebuilt, for free (no request)."""
from __future__ import annotations

from collections import Counter

from em_gen.generate.journal import Store
from em_gen.generate.plan import Job
from em_gen.library import Library
from em_gen.quality.judge import read_judgement
from em_gen.quality.rules import Diversity
from em_gen.quality.verdict import judge


def revalidate(lib: Library, store: Store) -> dict:
    """Judge every stored response again with the current checks and rebuild the outputs."""
    diversity = Diversity()
    before = {jid: v["ok"] for jid, v in store.state.verdicts.items()}
    changed = Counter()
    for jid, parts in store.state.responses.items():
        job = Job.from_dict(parts[-1]["job"])
        stored = store.state.judgements.get(jid)
        rec = judge(lib, job, parts, diversity, parts[-1].get("provider", ""), parts[-1].get("model", ""),
                    source="revalidate", llm=read_judgement(stored["raw"]) if stored else None)
        store.record(rec)
        if jid in before and before[jid] != rec["ok"]:
            changed["now_ok" if rec["ok"] else "now_rejected"] += 1
    store.rebuild_outputs()
    return {"responses": len(store.state.responses), "accepted": len(store.state.accepted()),
            "now_accepted": changed["now_ok"], "now_rejected": changed["now_rejected"]}
