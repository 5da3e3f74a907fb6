"""`em-gen --pairs`: from the accepted dataset to `OUT/export/em_dpo.jsonl`, every pair checked.

Rounds: (1) the teacher rewrites and the base model's samples; (2) the character judge reads every
candidate the rules did not already confirm, and every conversation whose chosen lines it never read;
(3) once more for an answer that was not the JSON asked for. Then the pairs are assembled, the dropped
candidates counted by reason, and the outputs written (each atomically):

  OUT/export/em_dpo.jsonl   {"prompt", "chosen", "rejected"} a line, what axolotl/em-dpo.yaml reads
  OUT/pairs/pairs.jsonl     the same pairs with their source, family, kind and how they were confirmed
  OUT/pairs/dropped.jsonl   every dropped candidate with its reason
  OUT/pairs/stats.json      counts by family, source and kind, drop reasons, requests and cost
  OUT/pairs/journal.jsonl   every paid answer (pair_calls.py), the source of truth for --resume
"""
from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from em_gen.generate.journal import DATASET, JOURNAL as MAIN_JOURNAL, atomic_write, read_jsonl
from em_gen.library import BadInput, Library
from em_gen.quality.irc import Parsed
from em_gen.quality.judge import judge_request, stored_judgement
from em_gen.train import pairs as pr
from em_gen.train.export import is_heldout, read_dataset
from em_gen.train.pair_calls import PairJournal

PAIRS_DIR = "pairs"
DPO_FILE = "em_dpo.jsonl"
STATS = "stats.json"
SOURCES = ("teacher", "base")


@dataclass
class PairOptions:
    sources: tuple[str, ...] = ("teacher",)
    k: int = pr.DEFAULT_K
    judge: bool = True
    holdout: float = 0.05
    allow_offline: bool = False
    temperature: float | None = None
    base_samples: int = 1


@dataclass
class Candidate:
    source: str
    moment: pr.Moment
    key: str
    family: str | None  # the teacher's family; None for a base sample
    line: str = ""
    drop: str | None = None
    confirmed_by: str | None = None
    families: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()


def load_records(out: Path, opts: PairOptions) -> list[dict]:
    dataset = Path(out) / DATASET
    if not dataset.is_file() or dataset.stat().st_size == 0:
        raise BadInput(f"--pairs: {out} has no accepted conversations ({DATASET} missing or empty); "
                       "generate with --batch N or --full first")
    records = read_dataset(dataset, allow_offline=opts.allow_offline)
    return [r for r in records if not is_heldout(r["meta"]["job_id"], opts.holdout)]


def plan_moments(lib: Library, spec: pr.PairSpec, records: list[dict], k: int) -> list[pr.Moment]:
    return [m for r in records for m in pr.moments_of(lib, spec, r, k)]


def stored_conversation_judgements(out: Path) -> dict[str, list[dict]]:
    """The generation judge's answers by job id, read from the main journal (nothing written)."""
    recs, _ = read_jsonl(Path(out) / MAIN_JOURNAL)
    by: dict[str, list[dict]] = {}
    for r in recs:
        if r.get("t") == "judge":
            by.setdefault(r["job_id"], []).append(r)
    return by


def _families_with_stored(spec, moments, journal: PairJournal) -> dict[str, str]:
    """The family draw, keeping the family of every moment whose rewrite is already paid for."""
    fixed: dict[str, str] = {}
    for key in journal.replies:  # in journal order: a moment's first rewrite is its own family
        if key.startswith("t:"):
            _, job, idx, fam = key.split(":", 3)
            if fam in spec.families:
                fixed.setdefault(f"{job}:{idx}", fam)
    return pr.draw_families(spec, moments, fixed)


async def build_pairs(lib: Library, spec: pr.PairSpec, out: Path, opts: PairOptions, journal: PairJournal,
                      teacher=None, judge=None, base_sampler=None, progress=print) -> dict:
    """Run the pair stage; returns its stats (also written to OUT/pairs/stats.json)."""
    out = Path(out)
    records = load_records(out, opts)
    moments = plan_moments(lib, spec, records, opts.k)
    if not moments:
        raise BadInput(f"--pairs: no Em line in the {len(records)} training conversations of {out}")
    by_job = {r["meta"]["job_id"]: r for r in records}
    cands: list[Candidate] = []
    # round 1: rejected lines
    if "teacher" in opts.sources:
        fams = _families_with_stored(spec, moments, journal)
        cands += await _rewrites(lib, spec, [(m, fams[m.key]) for m in moments], teacher, journal, opts, progress)
    if "base" in opts.sources:
        cands += _base_samples(moments, base_sampler, journal, opts, progress)
    _screen(lib, cands)
    chosen_rules = {m.key: pr.rule_reasons(lib, m, m.line) for m in moments}
    # rounds 2 and 3: the judge
    stored = stored_conversation_judgements(out)
    chosen_judge: dict[str, dict] = {}  # job id -> {"readable", "failing": set of message numbers}
    jobs = sorted({m.job_id for m in moments})
    if opts.judge:
        await _judge_rounds(lib, spec, cands, jobs, by_job, stored, chosen_judge, judge, opts, progress)
    # a family of the rubric with no confirmed teacher pair yet: rewrite more moments in it
    for _ in range(TOP_UP_ROUNDS if "teacher" in opts.sources else 0):
        extra = _top_up(spec, cands, chosen_rules)
        if not extra:
            break
        new = await _rewrites(lib, spec, extra, teacher, journal, opts, progress, "top-up ")
        _screen(lib, new)
        if opts.judge:
            await _judge_rounds(lib, spec, new, [], by_job, stored, chosen_judge, judge, opts, progress)
        cands += new
    return finish(lib, out, cands, moments, chosen_rules, chosen_judge, opts, journal)


TOP_UP_ROUNDS = 2
TOP_UP_PER_FAMILY = 2


def _top_up(spec: pr.PairSpec, cands: list[Candidate], chosen_rules: dict) -> list[tuple[pr.Moment, str]]:
    """(moment, family) for every rubric family no confirmed teacher candidate shows: the moments whose
    own family is best covered, a fitting kind first, never a moment already asked for that family."""
    teach = [c for c in cands if c.source == "teacher"]
    ok = Counter(c.family for c in teach if c.confirmed_by and not c.drop)
    asked = {(c.moment.key, c.family) for c in teach}
    fits = {kd.name: kd.families for kd in spec.kinds}
    out = []
    for fam in spec.families:
        if ok[fam]:
            continue
        pool = [c for c in teach if (c.moment.key, fam) not in asked and not chosen_rules[c.moment.key]]
        pool.sort(key=lambda c: (fam not in fits.get(c.moment.kind, ()), -ok[c.family], c.moment.job_id,
                                 c.moment.index))
        for c in pool[:TOP_UP_PER_FAMILY]:
            out.append((c.moment, fam))
            asked.add((c.moment.key, fam))
    return out


async def _rewrites(lib, spec, todo, teacher, journal, opts, progress, what: str = "") -> list[Candidate]:
    items = [(f"t:{m.key}:{fam}", "teacher", pr.rewrite_request(lib, spec, m, fam, f"t:{m.key}:{fam}",
                                                                opts.temperature)) for m, fam in todo]
    progress(f"pairs: {len(items)} {what}teacher rewrites ({sum(k in journal.replies for k, _, _ in items)} "
             "already paid for)")
    got = await teacher.ask(items)
    out = []
    for (m, fam), (key, _, _) in zip(todo, items):
        c = Candidate("teacher", m, key, fam)
        if key in got:
            c.line = pr.clean_line(got[key]["raw"])
        else:
            c.drop = "request_failed" if key in journal.failed else "not_answered"
        out.append(c)
    return out


def _base_samples(moments, base_sampler, journal, opts, progress) -> list[Candidate]:
    want = [(f"b:{m.key}:{s}", m) for m in moments for s in range(opts.base_samples)]
    todo = [(k, m) for k, m in want if k not in journal.replies]
    progress(f"pairs: {len(want)} base samples ({len(want) - len(todo)} already sampled)")
    if todo:
        texts = base_sampler([m.prompt for _, m in todo], [int(k.rsplit(":", 1)[1]) for k, _ in todo])
        for (k, _), text in zip(todo, texts):
            journal.add({"t": "reply", "key": k, "kind": "base", "raw": text, "usage": {}, "cost": 0.0,
                         "caller": "base", "ts": round(time.time(), 3)})
    out = []
    for k, m in want:
        c = Candidate("base", m, k, None)
        c.line = pr.clean_line(journal.replies[k]["raw"], forced=True) if k in journal.replies else ""
        if k not in journal.replies:
            c.drop = "not_answered"
        out.append(c)
    return out


def _screen(lib, cands: list[Candidate]) -> None:
    """The free checks: the line's shape, then the gate's per-line rules (which confirm it when they flag it)."""
    for c in cands:
        if c.drop:
            continue
        c.drop = pr.shape_problem(c.line, c.moment.line)
        if c.drop:
            continue
        rs = pr.rule_reasons(lib, c.moment, c.line)
        if rs:
            c.confirmed_by, c.reasons = "rules", tuple(rs)
            c.families = tuple(dict.fromkeys(pr.family_of_rule(r) for r in rs))


async def _judge_rounds(lib, spec, cands, jobs, by_job, stored, chosen_judge, judge, opts, progress) -> None:
    need = [c for c in cands if not c.drop and not c.confirmed_by]
    for job in jobs:  # the generation judge's reading of the whole conversation, when there is one
        parsed = _parsed(by_job[job])
        got = stored_judgement(lib, stored.get(job, []), parsed)
        if got is not None and got["readable"]:
            chosen_judge[job] = {"readable": True, "failing": {f["message"] for f in got["failures"]}}
    for ask in (1, 2):
        items, reads = [], {}
        for c in need:
            if c.confirmed_by or c.drop == "judge_unreadable":
                continue
            parsed = pr.cut_log(spec, c.moment, c.line, lib.em)
            key = f"j:{c.key}" + ("" if ask == 1 else ":2")
            items.append((key, "judge", pr.check_request(lib, parsed, key, opts.temperature)))
            reads[key] = (c, parsed)
        for job in jobs:
            if job in chosen_judge and chosen_judge[job]["readable"]:
                continue
            key = f"c:{job}" + ("" if ask == 1 else ":2")
            parsed = _parsed(by_job[job])
            rec = by_job[job]["meta"]
            items.append((key, "judge", judge_request(lib, key, parsed, rec.get("engagement"), rec.get("channel"),
                                                      opts.temperature)))
            reads[key] = (job, parsed)
        if not items:
            return
        progress(f"pairs: {len(items)} judge requests (round {ask}; "
                 f"{sum(k in judge.journal.replies for k, _, _ in items)} already paid for)")
        got = await judge.ask(items)
        for key, (who, parsed) in reads.items():
            if key not in got:
                continue
            if isinstance(who, Candidate):
                n = len(parsed.messages)
                res = pr.judge_failures_at(lib, got[key]["raw"], parsed, n)
                if res["families"]:
                    who.confirmed_by, who.families = "judge", tuple(dict.fromkeys(res["families"]))
                elif res["readable"]:
                    who.drop = "unconfirmed"
                elif ask == 2:
                    who.drop = "judge_unreadable"
            else:
                from em_gen.quality.judge import read_judgement
                j = read_judgement(got[key]["raw"], lib, parsed)
                if j["readable"]:
                    chosen_judge[who] = {"readable": True, "failing": {f["message"] for f in j["failures"]}}
        need = [c for c in need if not c.confirmed_by and not c.drop]


def _parsed(rec: dict) -> Parsed:
    from em_gen.quality.irc import parse
    return parse(rec["text"])


def finish(lib, out: Path, cands, moments, chosen_rules, chosen_judge, opts, journal: PairJournal) -> dict:
    rows, meta_rows, dropped = [], [], []
    for c in cands:
        m = c.moment
        if not c.drop and not c.confirmed_by:
            c.drop = "unconfirmed" if opts.judge else "unconfirmed_no_judge"
        if not c.drop and chosen_rules[m.key]:
            c.drop = "chosen_fails_rules"
        cj = chosen_judge.get(m.job_id)
        if not c.drop and opts.judge:
            if cj is None:
                c.drop = "chosen_unjudged"
            elif m.index + 1 in cj["failing"]:
                c.drop = "chosen_fails_judge"
        info = {"job_id": m.job_id, "message": m.index + 1, "kind": m.kind, "source": c.source,
                "family": c.family or (c.families[0] if c.families else None), "key": c.key}
        if c.drop:
            dropped.append({**info, "reason": c.drop, "rejected": c.line, "chosen": m.line})
            continue
        rows.append({"prompt": m.prompt, "chosen": m.chosen, "rejected": " " + c.line + "\n"})
        meta_rows.append({**rows[-1], "meta": {**info, "confirmed_by": c.confirmed_by, "confirmed_families": list(c.families),
                                               "rule_reasons": list(c.reasons)}})
    folder = Path(out) / PAIRS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    (Path(out) / "export").mkdir(parents=True, exist_ok=True)
    jl = lambda xs: "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in xs)  # noqa: E731
    atomic_write(Path(out) / "export" / DPO_FILE, jl(rows))
    atomic_write(folder / "pairs.jsonl", jl(meta_rows))
    atomic_write(folder / "dropped.jsonl", jl(dropped))
    stats = summarise(lib, meta_rows, dropped, moments, opts, journal)
    atomic_write(folder / STATS, json.dumps(stats, indent=2) + "\n")
    return stats


def summarise(lib, meta_rows, dropped, moments, opts, journal: PairJournal) -> dict:
    by_sf: dict[str, Counter] = {}
    for r in meta_rows:
        by_sf.setdefault(r["meta"]["source"], Counter())[r["meta"]["family"]] += 1
    fam = Counter(r["meta"]["family"] for r in meta_rows)
    n_cand = len(meta_rows) + len(dropped)
    spent = [r for r in journal.replies.values() if r.get("caller") != "base"]
    return {
        "pairs": len(meta_rows),
        "candidates": n_cand,
        "dropped": len(dropped),
        "dropped_share": round(len(dropped) / n_cand, 4) if n_cand else 0.0,
        "drop_reasons": dict(Counter(d["reason"] for d in dropped).most_common()),
        "dropped_by_source": dict(Counter(d["source"] for d in dropped)),
        "by_source": dict(Counter(r["meta"]["source"] for r in meta_rows)),
        "by_family": dict(sorted(fam.items(), key=lambda kv: str(kv[0]))),
        "by_source_family": {s: dict(sorted(c.items(), key=lambda kv: str(kv[0]))) for s, c in by_sf.items()},
        "by_kind": dict(Counter(r["meta"]["kind"] for r in meta_rows)),
        "confirmed_by": dict(Counter(r["meta"]["confirmed_by"] for r in meta_rows)),
        "families_missing": [f for f in lib.judge["families"] if f not in by_sf.get("teacher", {})]
        if "teacher" in opts.sources else [],
        "moments": len(moments),
        "conversations": len({m.job_id for m in moments}),
        "sources": list(opts.sources),
        "per_conversation": opts.k,
        "judge": opts.judge,
        "requests": {k: sum(1 for r in spent if r.get("kind") == k) for k in ("teacher", "judge")},
        "base_samples": sum(1 for r in journal.replies.values() if r.get("caller") == "base"),
        "cost_usd": round(sum(r.get("cost", 0.0) for r in spent), 6),
        "ts": round(time.time(), 3),
    }


def read_stats(out: Path) -> dict | None:
    path = Path(out) / PAIRS_DIR / STATS
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None


def format_stats(s: dict) -> str:
    fams = ", ".join(f"{k} {v}" for k, v in s["by_family"].items())
    src = ", ".join(f"{k} {v}" for k, v in s["by_source"].items()) or "none"
    drops = ", ".join(f"{k} {v}" for k, v in s["drop_reasons"].items()) or "none"
    lines = [f"DPO pairs: {s['pairs']} from {s['moments']} moments of {s['conversations']} conversations "
             f"(by source: {src}); dropped {s['dropped']} of {s['candidates']} candidates "
             f"({100 * s['dropped_share']:.1f}%): {drops}",
             f"  by family: {fams}"]
    for src, counts in s.get("by_source_family", {}).items():
        lines.append(f"  {src}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    if s.get("families_missing"):
        lines.append(f"  families with no teacher pair: {', '.join(s['families_missing'])}")
    return "\n".join(lines)


def run(lib, spec, out, opts, journal, teacher=None, judge=None, base_sampler=None, progress=print) -> dict:
    """build_pairs in one event loop, closing the callers' clients in it."""
    async def main():
        try:
            return await build_pairs(lib, spec, out, opts, journal, teacher, judge, base_sampler, progress)
        finally:
            for c in (teacher, judge):
                if c is not None:
                    await c.aclose()
    return asyncio.run(main())
