"""`em-gen --report`: the run report page (OUT/report.html), section by section."""
from __future__ import annotations

import gc
import time
from collections import Counter
from pathlib import Path

from em_gen.generate.journal import JOURNAL, atomic_write
from em_gen.generate.plan import DIMENSIONS, NATURAL
from em_gen.library import Library
from em_gen.quality.verdict import assemble
from em_gen.report import charts, text_charts
from em_gen.report.data import (
    RunData,
    cumulative,
    distinct,
    examples,
    family,
    finish_stats,
    gather,
    rejection_series,
)
from em_gen.report.pairs_section import pairs_section
from em_gen.report.page import (
    chat,
    document,
    duration,
    esc,
    fig,
    grid2,
    money,
    nav,
    para,
    pct,
    section,
    share_table,
    table,
)
from em_gen.generate.diversity import CONTENT_N, dataset_diversity
from em_gen.report.text import FLAG_MIN, FLAG_SHARE, OPENER_WORDS, Helper, messages_of, sequence_len, text_stats, token_lengths

REPORT = "report.html"
SECTIONS = [("run", "1. Run"), ("participation", "2. Participation"), ("mix", "3. Mix"),
            ("rejections", "4. Rejections"), ("cost", "5. Cost"), ("tokens", "6. Token lengths"),
            ("diversity", "7. Diversity"), ("style", "8. Style"), ("samples", "9. Samples"), ("pairs", "10. DPO pairs")]


def _requests(n: int, judge: int, batch: int) -> str:
    more = [f"{judge:,} judge"] * bool(judge) + [f"{batch:,} batch"] * bool(batch)
    return f"{n:,}" + (f" ({', '.join(more)})" if more else "")


def run_section(data: RunData) -> str:
    rows, tot = [], Counter()
    for r in data.rows:
        t = r.tokens
        rows.append([r.run, r.mode, f"{r.provider or '?'} / {r.model or '?'}", r.planned,
                     _requests(r.requests, r.judge_requests, r.batch_requests), f"{t['input_tokens']:,}",
                     f"{t['output_tokens']:,}", pct(r.cached_share), money(r.live_cost),
                     money(r.batch_cost) if r.batch_requests else "-", duration(r.wall_s),
                     r.accepted, r.rejected, r.failed, r.unjudged])
        tot.update({"planned": r.planned, "requests": r.requests, "judge": r.judge_requests,
                    "batch": r.batch_requests, "accepted": r.accepted, "rejected": r.rejected, "failed": r.failed,
                    "unjudged": r.unjudged, **t})
        tot["live"] += r.live_cost
        tot["batch_cost"] += r.batch_cost
        tot["at_batch"] += r.live_at_batch_price or 0.0
        tot["wall"] += r.wall_s or 0.0
    prompt = tot["input_tokens"] + tot["cache_read_tokens"] + tot["cache_write_tokens"]
    total = ["all runs", "", "", tot["planned"], _requests(tot["requests"], tot["judge"], tot["batch"]),
             f"{tot['input_tokens']:,}", f"{tot['output_tokens']:,}",
             pct(tot["cache_read_tokens"] / prompt if prompt else None), money(tot["live"]),
             money(tot["batch_cost"]) if tot["batch"] else "-", duration(tot["wall"] or None),
             tot["accepted"], tot["rejected"], tot["failed"], tot["unjudged"]]
    head = ["run", "mode", "provider / model", "planned", "requests", "input tokens", "output tokens",
            "cached share", "cost live", "cost batch API", "wall time", "accepted", "rejected", "failed",
            "unjudged"]
    s = data.stats
    out = [table(head, rows, num=set(range(3, 15)), total=total if len(rows) > 1 else None)]
    saving = (f" Through the batch API (half the live price of input and output) the live requests would have "
              f"cost about {money(tot['at_batch'])}." if tot["at_batch"] else "")
    out.append(para(f"Kept: {s['accepted']:,} conversations, {s.get('bytes', 0) / 1e6:.2f} MB of training text; "
                    f"acceptance rate {pct(s.get('acceptance_rate'), 1)}. Requests count the character judge's "
                    "and those sent through a batch API; cached share: prompt tokens read from the provider's "
                    "cache; unjudged: paid for but not judged yet (continued by --resume)." + saving
                    + " Wall time: first to last journaled record of the run (pauses before a --resume included)."))
    if data.stats_note:
        out.append(f'<p class="note">{esc(data.stats_note)}</p>')
    if data.state.bad_lines:
        out.append(f'<p class="note">{data.state.bad_lines} unreadable line(s) in {JOURNAL} skipped.</p>')
    return "".join(out)


def participation_section(lib: Library, data: RunData) -> str:
    levels = list(lib.mix["engagement"])
    kept = {lvl: [] for lvl in levels}
    rejected = {lvl: [] for lvl in levels}
    for v in data.state.verdicts.values():
        lvl = (v.get("meta") or {}).get("engagement")
        share = (v.get("stats") or {}).get("em_share")
        if lvl in kept and isinstance(share, (int, float)):
            (kept if v["ok"] else rejected)[lvl].append(share)
    svg = charts.participation(levels, {lvl: lib.band(lvl) for lvl in levels}, kept, rejected)
    note = "" if any(rejected.values()) else " No conversation was rejected, so there is no rejected row."
    return fig(svg, "Em's share of the messages of each conversation, by the engagement level the job asked for; "
                    "the grey band is the level's band from scenarios/mix.yaml. Top row: kept conversations; "
                    "bottom row: rejected ones (hatched)." + note)


def mix_section(lib: Library, data: RunData) -> str:
    s = data.stats
    order = {"engagement": list(lib.mix["engagement"]), "channel": list(lib.mix["channels"]),
             "topic": list(lib.topics), "bucket": list(lib.mix["lengths"]),
             "pattern": [NATURAL] + list(lib.core["patterns"])}
    out = [fig(charts.mix(data.planned, s["mix_achieved"], {d: order.get(d, []) for d in DIMENSIONS}),
               "Share of each value, planned (hatched; every run's plan, as --status) vs achieved "
               "(kept conversations; their count at the bar's end)." if data.planned else
               "Achieved shares of the kept conversations (no plan could be rebuilt for this folder).")]
    levels = list(lib.mix["engagement"])
    grid = s.get("core_coverage") or {}
    missing = sum(1 for row in grid.values() for lvl in levels if not row.get(lvl))
    out.append("<h3>Core sub-scenario x engagement coverage</h3>")
    out.append(fig(charts.coverage(grid, levels),
                   f"Kept conversations per core sub-scenario and engagement level; {missing} of "
                   f"{len(grid) * len(levels)} cells have none (a bold 0)."))
    return "".join(out)


def rejections_section(data: RunData) -> str:
    by_code = data.stats.get("rejected_by_reason") or {}
    if not by_code:
        return para("No conversation was rejected.")
    ends, series = rejection_series(data)
    ex = examples(data)
    out = [grid2(fig(charts.rejection_codes(by_code, family), "Reasons by code: rules (solid) and the LLM "
                     "judge's codes (hatched: llm_judge, character_<family>)."),
                 fig(charts.rejection_course(ends, series, data.marks),
                     "Rejections so far per code over the course of the run (conversations in the order they "
                     "were judged); dotted grey lines mark where a run or round starts."))]
    rows = []
    for code in sorted(by_code, key=lambda c: (family(c) != "rules", -by_code[c], c)):
        job, line = ex.get(code, ("", ""))
        rows.append([code, family(code), by_code[code], f"{job}: {line}" if job else ""])
    out.append(table(["code", "family", "reasons", "one example"], rows, num={2}))
    other = [{"id": jid, "reason": r} for jid, v in data.state.verdicts.items() if not v["ok"]
             for r in v["reasons"] if r.startswith("character_other")]  # from the journal, whatever the stats file
    if other:
        out.append(f"<h3>character_other: {len(other):,} line(s) the judge failed outside every family</h3>")
        out.append(para("Verbatim, as the judge gave them: where a recurring one is a new way Em slips out of "
                        "character, it belongs in scenarios/judge.yaml as a family.", "sub"))
        out.append('<div class="scroll">' + table(["conversation", "reason"], [[o["id"], o["reason"]] for o in other])
                   + "</div>")
    return "".join(out)


def cost_section(data: RunData) -> str:
    series = cumulative(data)
    total = sum(r.cost for r in data.rows)
    batch = sum(r.batch_cost for r in data.rows)
    text = (f"Total {money(total)} over {len(data.paid_order):,} paid requests"
            + (f", of which {money(batch)} through a batch API." if batch else "."))
    return fig(charts.cost(series, data.marks, total > 0), text + " Dotted grey lines: where a run or round starts.")


def tokens_section(counted) -> str:
    lengths, label, exact = counted
    seq = sequence_len()
    caption = ("Tokens per kept conversation as Axolotl counts them (BOS + text + EOS), counted with the "
               f"{label}" if exact else f"Tokens per kept conversation: {label}")
    return fig(text_charts.token_lengths(lengths, seq, label if exact else "chars/4 estimate"),
               caption + (f"; sequence_len {seq:,} from axolotl/em.yaml." if seq else "."))


def diversity_section(data: RunData, st) -> str:
    d = data.stats.get("diversity") or {}
    out = [grid2(table(["measure", "value"], [[k, f"{v:.4f}"] for k, v in d.items()]
                       + [["distinct nicks besides Em", f"{len(st.nicks):,}"]], num={1})
                 + para("distinct-n: unique / total word n-grams over every message of the kept conversations "
                        "(as --status).", "sub"),
                 fig(text_charts.nicks(st), "Nick frequency: the share of kept conversations each nick speaks in."))]
    flagged = ([["Em line", item, c, pct(share, 1)] for item, c, share in st.flagged(st.em_lines)]
               + [["Em 5-gram", item, c, pct(share, 1)] for item, c, share in st.flagged(st.ngrams)])
    if flagged:
        lines = sum(1 for f in flagged if f[0] == "Em line")
        out.append(f"<h3>Flagged: {lines} Em line(s) and {len(flagged) - lines} Em 5-gram(s) in more than "
                   f"{FLAG_SHARE:.0%} of the {st.conversations:,} kept conversations (and in at least {FLAG_MIN})</h3>")
        out.append('<div class="scroll">' + table(["kind", "text", "conversations", "share"], flagged[:400],
                                                  num={2, 3}) + "</div>")
        if len(flagged) > 400:
            out.append(para(f"... and {len(flagged) - 400} more.", "sub"))
    else:
        out.append(para(f"No Em line or 5-gram appears in more than {FLAG_SHARE:.0%} of the kept conversations "
                        f"(and in at least {FLAG_MIN})."))
    flag = f"> {FLAG_SHARE:.0%}"
    out.append(grid2(share_table(f"Em's openers (first {OPENER_WORDS} words)", st.top(st.openers, flag=False), flag),
                     share_table("Em's most frequent 5-grams", st.top(st.ngrams), flag),
                     share_table("Em's most frequent whole lines", st.top(st.em_lines), flag), cls="grid3"))
    out.append(para("Shares are of kept conversations containing the item at least once (lowercased, punctuation "
                    f"dropped); hatched bars mark Em lines and 5-grams in more than {FLAG_SHARE:.0%} of them (and "
                    f"in at least {FLAG_MIN}); openers are shown, not flagged.", "sub"))
    out.append(dataset_section(data.stats.get("dataset_diversity") or {}, st))
    return "".join(out)


def dataset_section(d: dict, st) -> str:
    """Near-duplicate pairs across the dataset, premise/cast reuse, and the most repeated content n-grams."""
    if not d:
        return ""
    pairs = d["near_duplicate_pairs"]
    p = d["premises"]
    rows = [[f"near-duplicate pairs at Jaccard >= {k}", f"{v:,}"] for k, v in sorted(pairs.items())]
    rows += [["closest pair", f"{a} ~ {b} ({s:.2f})"] for a, b, s in d["closest_pairs"][:3]]
    if p["kept_with_premise"]:
        rows += [["distinct premises / kept logs with one", f"{p['distinct']:,} / {p['kept_with_premise']:,}"],
                 ["largest reuse of a premise", f"{p['largest_reuse']}"],
                 ["busiest nick, share of logs", pct(d["max_nick_share"], 1)],
                 ["busiest voice, share of logs", pct(d["max_voice_share"], 1)]]
    n = max(1, d["conversations"])
    flag = f"> {FLAG_SHARE:.0%}"
    em = [(g, c, c / n, st.over(c)) for g, c in d["em_content_ngrams"]]
    every = [(g, c, c / n, st.over(c)) for g, c in d["content_ngrams"]]
    return ("<h3>Across the dataset</h3>" + grid2(
        table(["measure", "value"], rows, num={1}),
        share_table(f"Em's most repeated content {CONTENT_N}-grams (beyond its first words)", em, flag),
        share_table(f"Most repeated content {CONTENT_N}-grams, whole conversation", every, flag), cls="grid3")
        + para("Pairs: every pair of kept conversations whose bottom-k MinHash sketches (word 3-grams) estimate "
               "that Jaccard similarity. Content n-grams: word n-grams of one message after dropping function "
               "words, so a recurring anecdote or fact shows however it is phrased; shares are of kept "
               "conversations.", "sub"))


def style_section(st) -> str:
    return grid2(fig(text_charts.words(st), "Words per message: Em (outline) vs everyone else (hatched)."),
                 fig(text_charts.sentences(st), "Sentences per Em message; grey: the plan's 2-4."))


def _pick(items: list[dict]) -> dict | None:
    """The first short conversation, else the first."""
    return next((v for v in items if (v.get("meta") or {}).get("bucket") == "short"), items[0] if items else None)


def samples_section(lib: Library, data: RunData) -> str:
    out = []
    kept = data.accepted()
    for p in [NATURAL] + list(lib.core["patterns"]):
        v = _pick([v for v in kept if (v.get("meta") or {}).get("pattern") == p])
        out.append(f"<h3>{esc(p)}</h3>")
        if v is None:
            out.append(para("No kept conversation of this pattern."))
            continue
        m = v["meta"]
        msgs = messages_of(v.get("text", ""))
        out.append(chat(f"{v['job_id']} | {m.get('scenario') or 'natural'} | ENGAGEMENT: {m.get('engagement')} | "
                        f"CHANNEL: {m.get('channel')} | topic {m.get('topic')} | {len(msgs)} messages",
                        msgs, lib.em))
    out.append("<h3>A rejected conversation</h3>")
    rej, msgs = _rejected_sample(lib, data)
    if rej is None:
        out.append(para("No conversation was rejected."))
        return "".join(out)
    out.append('<ul class="reasons">' + "".join(f"<li>{esc(r)}</li>" for r in rej.get("reasons", [])) + "</ul>")
    m = rej.get("meta") or {}
    if msgs:
        out.append(chat(f"{rej['job_id']} | {m.get('scenario') or 'natural'} | ENGAGEMENT: {m.get('engagement')} | "
                        f"CHANNEL: {m.get('channel')} | as parsed", msgs, lib.em))
    else:
        raw = "\n".join(p.get("raw", "") for p in data.state.responses[rej["job_id"]])
        out.append(f'<pre class="chat">{esc(raw[:6000])}</pre>')
    return "".join(out)


def _rejected_sample(lib: Library, data: RunData, tries: int = 40):
    """A rejected conversation to show, and its parsed messages: one that parses into a log if any
    does (a short one first), else the first one with its raw text."""
    rejected = [v for v in data.rejected() if data.state.responses.get(v["job_id"])]
    rejected.sort(key=lambda v: (v.get("meta") or {}).get("bucket") != "short")
    for v in rejected[:tries]:
        try:
            msgs = assemble(lib, data.state.responses[v["job_id"]]).messages
        except Exception:  # noqa: BLE001 - whatever the parser makes of it, another one is shown
            continue
        if len(msgs) >= 3:
            return v, msgs
    return (rejected[0], []) if rejected else (None, [])


def build_page(lib: Library, data: RunData, helper: Helper) -> str:
    texts = [v.get("text", "") for v in data.accepted()]
    counted = helper.run(token_lengths, texts)  # in the helper process, while this one draws
    second = Helper(warm=False) if "diversity" not in data.stats else None  # stats rebuilt: a full pass
    diversity = second.run(distinct, texts) if second else (lambda: None)
    bodies = {
        "run": run_section(data), "participation": participation_section(lib, data), "mix": mix_section(lib, data),
        "rejections": rejections_section(data), "cost": cost_section(data), "samples": samples_section(lib, data),
        "pairs": pairs_section(data.out),
    }
    st = text_stats(texts, lib.em)
    if "dataset_diversity" not in data.stats:  # stats from before it existed, or rebuilt
        data.stats["dataset_diversity"] = dataset_diversity(data.state, lib.em)
    finish_stats(data, diversity())
    if second:
        second.close()
    bodies.update(diversity=diversity_section(data, st), style=style_section(st), tokens=tokens_section(counted()))
    bodies["run"] = run_section(data)  # again: finishing the stats may have added a note
    head = [f"<h1>em-gen run report</h1><p class=\"sub\">{esc(data.out.resolve())} - "
            f"{len(data.rows)} run(s), {checked_line(data.state.verdicts)} - made "
            f"{time.strftime('%Y-%m-%d %H:%M:%S')}</p>"]
    if data.offline:
        from em_gen.generate.orchestrate import OFFLINE_BANNER
        head.append(f'<div class="banner" role="alert">NOT TRAINING-GRADE: {esc(OFFLINE_BANNER)}</div>')
    head.append(nav(SECTIONS))
    return document(f"em-gen report: {data.out.name}",
                    "".join(head) + "".join(section(a, t, bodies[a]) for a, t in SECTIONS))


def checked_line(verdicts: dict) -> str:
    """How many conversations the rules checked, and how many of them the character judge read."""
    read = sum(1 for v in verdicts.values() if "judge" in v)
    return (f"{len(verdicts):,} conversations checked by the rules, "
            + (f"{read:,} of them read by the character judge" if read else "the character judge never ran"))


def write_run_report(lib: Library, out: Path, helper: Helper | None = None) -> Path:
    """Gather `out`, render the page, write OUT/report.html atomically; returns its path. `helper`:
    a Helper made as early as possible (its tokenizer loads meanwhile); else one is made here."""
    own = helper is None
    helper = helper or Helper()
    collecting = gc.isenabled()
    gc.disable()  # the journal is millions of small objects: no collection while it is read
    try:
        data = gather(lib, Path(out))
        gc.freeze()  # ... nor afterwards: what the charts allocate is collected without walking it again
        if collecting:
            gc.enable()
        page = build_page(lib, data, helper)
    finally:
        if own:
            helper.close()
        gc.unfreeze()
        if collecting:
            gc.enable()
    path = data.out / REPORT
    atomic_write(path, page)
    path.chmod(0o644)  # a page to open and share (atomic_write makes its files private)
    return path
