"""`em-gen --pairs --estimate`: the pair stage's requests, tokens and cost before anything is spent,
teacher and judge separately, live and batch side by side.

On the dataset in --out it counts the real moments and the real teacher prompts. With --target-mb (or
when there is no dataset yet) it plans the --full dataset of that size and counts K moments per
conversation (at most its Em lines), 5% held out. The judge is counted at its worst: it reads every
rejected line (none confirmed by the rules, which are free) and, on the dataset, every conversation
the generation judge never read. Token counts are chars/4, as in generate/estimate.py.
"""
from __future__ import annotations

from em_gen.generate import estimate as est
from em_gen.generate.plan import jobs_for_bytes, make_plan
from em_gen.library import Library
from em_gen.providers import Pricing
from em_gen.quality.judge import judge_system
from em_gen.train import pairs as pr

TEACHER_OUTPUT_TOKENS = 40  # one chat line of one to three sentences
TOKENS_PER_LINE = 22  # a `<nick> text` line of the teacher's log


def _part(requests: int, system: str, user_tokens: float, output: float, provider, model, pricing) -> est.Part:
    part = est.Part(requests=requests, system_tokens=len(system) / 4)
    part.usage["input_tokens"] += user_tokens
    part.usage["output_tokens"] += output
    est._price(part, provider, model, pricing)
    return part


def from_moments(lib: Library, spec: pr.PairSpec, moments, unjudged_conversations: int, sources, base: bool,
                 provider: str, teacher_model: str, tp: Pricing, judge_model: str | None, jp: Pricing | None) -> dict:
    teacher = None
    if "teacher" in sources:
        fams = pr.draw_families(spec, moments)
        user = sum(len(pr.rewrite_request(lib, spec, m, fams[m.key], "k").user) / 4 for m in moments)
        teacher = _part(len(moments), spec.rewrite_system, user, len(moments) * TEACHER_OUTPUT_TOKENS,
                        provider, teacher_model, tp)
    judge = None
    if judge_model:
        cands = len(moments) * (("teacher" in sources) + base)
        ctx = sum(min(m.index, spec.judge_context) + 1 for m in moments) / max(1, len(moments))
        user = cands * (est.JUDGE_FACTS_TOKENS + ctx * est.JUDGE_TOKENS_PER_MESSAGE)
        convs = {m.job_id: len(m.messages) for m in moments}
        n_conv = min(unjudged_conversations, len(convs))
        avg_msgs = sum(convs.values()) / max(1, len(convs))
        user += n_conv * (est.JUDGE_FACTS_TOKENS + avg_msgs * est.JUDGE_TOKENS_PER_MESSAGE)
        judge = _part(cands + n_conv, judge_system(lib), user, (cands + n_conv) * est.JUDGE_OUTPUT_TOKENS,
                      provider, judge_model, jp)
    return {"moments": len(moments), "conversations": len({m.job_id for m in moments}), "teacher": teacher,
            "judge": judge}


def from_plan(lib: Library, spec: pr.PairSpec, target_mb: float, k: int, seed: int, sources, base: bool,
              provider: str, teacher_model: str, tp: Pricing, judge_model: str | None, jp: Pricing | None) -> dict:
    """The pair stage of a --full dataset of target_mb, before it exists."""
    jobs = make_plan(lib, jobs_for_bytes(lib, int(target_mb * 1e6)), seed, "estimate")
    jobs = jobs[: round(len(jobs) * 0.95)]  # the 5% held out for eval make no pairs
    n, t_user, j_user = 0, 0.0, 0.0
    for j in jobs:
        m = min(k, j.em_messages)
        ctx = min(j.messages // 2, spec.teacher_context)
        n += m
        t_user += m * (60 + ctx * TOKENS_PER_LINE)
        j_user += m * (est.JUDGE_FACTS_TOKENS + (min(j.messages // 2, spec.judge_context) + 1) * est.JUDGE_TOKENS_PER_MESSAGE)
    teacher = _part(n, spec.rewrite_system, t_user, n * TEACHER_OUTPUT_TOKENS, provider, teacher_model, tp) \
        if "teacher" in sources else None
    judge = None
    if judge_model:
        per = ("teacher" in sources) + base
        judge = _part(n * per, judge_system(lib), j_user * per, n * per * est.JUDGE_OUTPUT_TOKENS, provider,
                      judge_model, jp)
    return {"moments": n, "conversations": len(jobs), "teacher": teacher, "judge": judge}


def format_pair_estimate(rep: dict, provider: str, k: int, teacher_model: str, judge_model: str | None,
                         batch_api: bool, what: str) -> str:
    out = [f"pair stage estimate for {rep['moments']:,} moments of {rep['conversations']:,} conversations "
           f"(--per-conversation {k}, {what}) with {provider} (no request made):"]
    totals = {"cost": [], "batch_cost": []}
    for name, model, p in (("teacher", teacher_model, rep["teacher"]), ("judge", judge_model, rep["judge"])):
        if p is None:
            continue
        u = p.usage
        out.append(f"  {name:<8}{model}: {p.requests:,} requests, input {int(u['input_tokens']):,} tokens"
                   f"{' (system prompt cached)' if p.cached else ''}, output {int(u['output_tokens']):,} tokens; "
                   f"live {est._money(p.cost)}, batch {est._money(p.batch_cost)}")
        totals["cost"].append(p.cost)
        totals["batch_cost"].append(p.batch_cost)
    if rep["judge"] is None:
        out.append("  judge   off (--no-judge): rejected lines are kept only when the rules confirm them")
    for label, attr in (("live", "cost"), ("batch", "batch_cost")):
        mark = "  <- this run" if (label == "batch") == batch_api else ""
        out.append(f"  total {label + ':':<6} {est._money(est._sum(*totals[attr]) if totals[attr] else 0.0)}{mark}")
    out.append("  the judge counted at its worst (it reads every rejected line); base samples are the target's own "
               "compute, not priced")
    return "\n".join(out)
