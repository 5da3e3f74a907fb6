"""Statistics from the journal: counts, reasons, bytes, tokens, cost, mix achieved vs planned and
core coverage. Feeds `--status` and `generation_stats.json`."""
from __future__ import annotations

from collections import Counter

from em_gen.generate.journal import State
from em_gen.generate.plan import DIMENSIONS, Job, mix_of, plan_runs
from em_gen.library import BadInput, Library

OTHER_SHOWN = 50  # character_other reasons printed by --status (--json has all)


def planned_mix(lib: Library, state: State) -> dict | None:
    """The mix every run (and every round of a --full run) planned: summed from the mix each run record
    stores, so showing status never rebuilds a plan. Only a folder with a run recorded before runs
    stored their mix is planned again (run sizes are capped when the journal is read); a plan this
    library cannot make again (other scenarios) is left out."""
    total: dict[str, Counter] = {d: Counter() for d in DIMENSIONS}
    seen, replanned = set(), None
    for r in state.runs:
        if not r.get("n") or r.get("mode") == "test":
            continue
        prefix = r["run"] if not r.get("extension") else f"{r['run']}x{r['extension']}"
        if prefix in seen:
            continue
        seen.add(prefix)
        mix = r.get("mix")
        if not isinstance(mix, dict):
            if replanned is None:
                try:
                    replanned = plan_runs(lib, state.runs)[0]
                except (BadInput, KeyError, ValueError):
                    replanned = {}
            mix = mix_of(replanned.get(prefix, []))
        for d in DIMENSIONS:
            total[d].update({k: v for k, v in (mix.get(d) or {}).items() if isinstance(v, int)})
    return {d: dict(c) for d, c in total.items()} if any(total.values()) else None


def build_stats(lib: Library, state: State, planned: list[Job] | dict | None = None,
                distinct: dict | None = None) -> dict:
    accepted = state.accepted()
    rejected = [v for v in state.verdicts.values() if not v["ok"]]
    reasons = Counter(r.split(":", 1)[0] for v in rejected for r in v["reasons"])
    tokens, cost = Counter(), 0.0
    paid = [r for parts in state.responses.values() for r in parts] + state.judge_answers()
    for r in paid:
        tokens.update(r.get("usage", {}))
        cost += r.get("cost", 0.0)
    requests = len(paid)
    achieved = {d: dict(Counter(v["meta"].get(d) for v in accepted))
                for d in DIMENSIONS}
    coverage = {}
    for p, spec in lib.core["patterns"].items():
        for sub in spec["scenarios"]:
            sid = f"{p}/{sub}"
            coverage[sid] = {lvl: sum(1 for v in accepted if v["meta"].get("scenario") == sid
                                      and v["meta"].get("engagement") == lvl) for lvl in lib.mix["engagement"]}
    stats = {
        "accepted": len(accepted),
        "rejected": len(rejected),
        "failed": len(state.failed),
        "unjudged": len(state.unjudged()),
        "held_by_judge": len(state.held),
        "judge": _judge_stats(state, accepted),
        "rejected_by_reason": dict(reasons.most_common()),
        "acceptance_rate": round(len(accepted) / (len(accepted) + len(rejected)), 4) if accepted or rejected else None,
        "bytes": sum(v.get("bytes", 0) for v in accepted),
        "requests": requests,
        "tokens": dict(tokens),
        "cost_usd": round(cost, 6),
        "mix_achieved": achieved,
        "mix_planned": (planned if isinstance(planned, dict) else mix_of(planned)) if planned else None,
        "core_coverage": coverage,
        "runs": [{k: r.get(k) for k in ("run", "mode", "n", "target_bytes", "seed", "provider", "model")}
                 for r in state.runs],
    }
    stats["open_batches"] = [{"batch_id": b["batch_id"], "provider": b.get("provider"), "model": b.get("model"),
                              "role": b.get("role", "gen"), "requests": len(b["requests"]),
                              "results_read": sum(1 for c in b["requests"] if c in state.batch_seen)}
                             for b in state.open_batches()]
    batch_answers = [r for parts in state.responses.values() for r in parts if "batch_id" in r] + \
        [r for r in state.judge_answers() if "batch_id" in r]
    stats["batch"] = {"batches": len(state.batches), "requests": sum(len(b["requests"]) for b in state.batches.values()),
                      "cost_usd": round(sum(r.get("cost", 0.0) for r in batch_answers), 6),
                      "errors": sum(state.batch_errors.values())}
    sentences = Counter()
    for v in accepted:
        sentences.update(v.get("stats", {}).get("em_sentences", {}))
    stats["em_sentences_per_message"] = {k: sentences.get(k, 0) for k in ("1", "2", "3", "4", "5+")}
    n_em = sum(stats["em_sentences_per_message"].values())
    stats["em_standard_share"] = round(sum(sentences.get(k, 0) for k in ("2", "3", "4")) / n_em, 4) if n_em else None
    if distinct is not None:
        stats["diversity"] = distinct
    return stats


def _judge_stats(state: State, accepted: list[dict]) -> dict:
    """How much the character judge read, and what it cost; kept conversations it never read."""
    answers = state.judge_answers()
    fams = Counter(r.split(":", 1)[0] for v in state.verdicts.values() if not v["ok"]
                   for r in v["reasons"] if r.startswith("character_"))
    return {"requests": len(answers), "cost_usd": round(sum(a.get("cost", 0.0) for a in answers), 6),
            "tokens": dict(sum((Counter(a.get("usage", {})) for a in answers), Counter())),
            "judged": sum(1 for v in state.verdicts.values() if "judge" in v),
            "kept_never_judged": sum(1 for v in accepted if "judge" not in v),
            "held_unreadable": len(state.held), "rejected_by_family": dict(fams.most_common()),
            # verbatim: a line out of character that no family names is where the next family comes from
            "other_reasons": [{"id": jid, "reason": r} for jid, v in state.verdicts.items() if not v["ok"]
                              for r in v["reasons"] if r.startswith("character_other")]}


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:5.1f}%" if whole else "    -"


def format_status(stats: dict) -> str:
    out = []
    runs = {r["run"]: r for r in stats.get("runs") or [] if r.get("provider")}  # the last record of each run
    by_provider: dict[str, list[str]] = {}
    for k, r in runs.items():
        by_provider.setdefault(f"{r['provider']}/{r.get('model')}", []).append(k)
    if by_provider:
        out.append("provider/model: " + "; ".join(f"{pm} ({', '.join(ks)})" for pm, ks in by_provider.items()))
    t = stats["tokens"]
    out.append(f"accepted {stats['accepted']}   rejected {stats['rejected']}   failed {stats['failed']}"
               + (f"   awaiting verdict {stats['unjudged']}" if stats["unjudged"] else ""))
    out.append(f"bytes {stats['bytes']:,} ({stats['bytes'] / 1e6:.2f} MB)   requests {stats['requests']}   "
               f"tokens in {t.get('input_tokens', 0):,} (+cache write {t.get('cache_write_tokens', 0):,}, "
               f"cache read {t.get('cache_read_tokens', 0):,}) out {t.get('output_tokens', 0):,}   "
               f"cost ${stats['cost_usd']:.4f}")
    b = stats.get("batch") or {}
    if b.get("batches"):
        out.append(f"provider batches: {b['batches']} submitted, {b['requests']} requests, {b['errors']} errored/"
                   f"expired/canceled results retried, ${b['cost_usd']:.4f} at the batch rate")
    for ob in stats.get("open_batches") or []:
        out.append(f"  open batch {ob['batch_id']} ({ob['provider']}/{ob['model']}, {ob['role']}): "
                   f"{ob['requests']} requests, {ob['results_read']} results read")
    j = stats.get("judge") or {}
    if j:
        out.append(f"character judge: {j['judged']} judged, {j['requests']} requests, ${j['cost_usd']:.4f}"
                   + (f"; {j['kept_never_judged']} kept conversations never judged" if j["kept_never_judged"] else "")
                   + (f"; {j['held_unreadable']} held (judge answer unreadable; --resume or --revalidate retries)"
                      if j["held_unreadable"] else ""))
    sent = stats.get("em_sentences_per_message") or {}
    if sum(sent.values()):
        total = sum(sent.values())
        standard = sum(sent.get(k, 0) for k in ("2", "3", "4"))
        out.append(f"Em messages of 2-4 sentences (the plan's standard message): {_pct(standard, total).strip()} "
                   f"of {total}; by sentences: " + "  ".join(f"{k}: {_pct(n, total).strip()}" for k, n in sent.items()))
    if stats["rejected_by_reason"]:
        out.append("rejections by reason:")
        out += [f"  {code:<22} {n}" for code, n in stats["rejected_by_reason"].items()]
    other = (stats.get("judge") or {}).get("other_reasons") or []
    if other:
        out.append(f"character_other: {len(other)} line(s) the judge failed outside every family (verbatim; "
                   "a family for scenarios/judge.yaml may be among them):")
        out += [f"  {o['id']}: {o['reason']}" for o in other[:OTHER_SHOWN]]
        if len(other) > OTHER_SHOWN:
            out.append(f"  ... and {len(other) - OTHER_SHOWN} more (--status --json lists every one)")
    if "diversity" in stats:
        out.append("diversity: " + "  ".join(f"{k} {v:.3f}" for k, v in stats["diversity"].items()))
    if stats.get("dataset_diversity"):
        from em_gen.generate.diversity import format_diversity
        out += format_diversity(stats["dataset_diversity"])
    planned = stats.get("mix_planned") or {}
    acc = stats["accepted"]
    total_planned = sum(planned.get("engagement", {}).values()) if planned else 0
    out.append("mix achieved (accepted) vs planned:")
    for dim in DIMENSIONS:
        keys = sorted(set(stats["mix_achieved"].get(dim, {})) | set(planned.get(dim, {})), key=str)
        cells = []
        for k in keys:
            a = stats["mix_achieved"][dim].get(k, 0)
            cell = f"{k} {a} ({_pct(a, acc).strip()})"
            if planned:
                p = planned.get(dim, {}).get(k, 0)
                cell += f" / {p} ({_pct(p, total_planned).strip()})"
            cells.append(cell)
        out.append(f"  {dim:<10} " + ", ".join(cells))
    levels = sorted({lvl for row in stats["core_coverage"].values() for lvl in row},
                    key=["LOW", "MEDIUM", "HIGH"].index)
    out.append("core coverage (accepted conversations per sub-scenario x engagement):")
    out.append(f"  {'':<40}" + "".join(f"{lvl:>8}" for lvl in levels))
    for sid, row in stats["core_coverage"].items():
        out.append(f"  {sid:<40}" + "".join(f"{row[lvl]:>8}" for lvl in levels))
    missing = sum(1 for row in stats["core_coverage"].values() for n in row.values() if n == 0)
    out.append(f"  cells with no accepted conversation: {missing} of "
               f"{sum(len(r) for r in stats['core_coverage'].values())}")
    return "\n".join(out)
