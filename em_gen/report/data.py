"""What the run report shows, gathered from an output folder.

The journal is the source of truth: it is read (never written, never repaired) into the generate
stage's `State`, in journal order, so that rejections, cost and tokens can be drawn over the course
of the run. `generation_stats.json` is used as the run left it; a missing, corrupt or stale one
(its counts differ from the journal's) is rebuilt from the journal as `--status` builds it, and
written back.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from em_gen.generate.journal import JOURNAL, STATS, State, atomic_write, read_jsonl, usable_run
from em_gen.generate.stats import build_stats, planned_mix
from em_gen.library import BadInput, Library
from em_gen.quality.rules.diversity import _tokens

# Anthropic's Message Batches and OpenAI's Batch API both bill input and output at half the live
# price; a paid record with a `custom_id` came through one.
BATCH_DISCOUNT = 0.5
BATCH_PROVIDERS = ("anthropic", "openai")
JUDGE_PREFIX = "character_"
STATS_KEYS = ("accepted", "rejected", "failed", "rejected_by_reason", "tokens", "cost_usd", "mix_achieved",
              "core_coverage")
TOKEN_KEYS = ("input_tokens", "output_tokens", "cache_write_tokens", "cache_read_tokens")


def run_of(job_id: str) -> str:
    """The run a job belongs to: `batch2-00017r1` -> `batch2`, `full1x3-00002` -> `full1`."""
    return job_id.split("-", 1)[0].split("x", 1)[0]


def family(code: str) -> str:
    """`judge` for the LLM judge's codes (`llm_judge`, `character_<family>`), else `rules`."""
    return "judge" if code == "llm_judge" or code.startswith(JUDGE_PREFIX) else "rules"


@dataclass
class RunRow:
    run: str
    mode: str = ""
    provider: str = ""
    model: str = ""
    planned: int = 0
    requests: int = 0
    judge_requests: int = 0
    batch_requests: int = 0
    tokens: Counter = field(default_factory=Counter)
    cost: float = 0.0  # live and batch
    batch_cost: float = 0.0  # of the requests made through a batch API
    first_ts: float | None = None
    last_ts: float | None = None
    accepted: int = 0
    rejected: int = 0
    failed: int = 0
    unjudged: int = 0

    @property
    def cached_share(self) -> float | None:
        t = self.tokens
        prompt = t["input_tokens"] + t["cache_read_tokens"] + t["cache_write_tokens"]
        return t["cache_read_tokens"] / prompt if prompt else None

    @property
    def live_cost(self) -> float:
        return self.cost - self.batch_cost

    @property
    def live_at_batch_price(self) -> float | None:
        """About what the live requests would have cost through the batch API (None: none applies)."""
        return self.live_cost * BATCH_DISCOUNT if self.provider in BATCH_PROVIDERS and self.live_cost else None

    @property
    def wall_s(self) -> float | None:
        if self.first_ts and self.last_ts and self.last_ts >= self.first_ts:
            return self.last_ts - self.first_ts
        return None

    def seen(self, ts) -> None:
        if isinstance(ts, (int, float)) and ts > 0:
            self.first_ts = ts if self.first_ts is None else min(self.first_ts, ts)
            self.last_ts = ts if self.last_ts is None else max(self.last_ts, ts)


@dataclass
class RunData:
    out: Path
    state: State
    stats: dict
    stats_note: str | None  # how generation_stats.json was found, when it was not used as is
    rows: list[RunRow]
    planned: dict  # dimension -> value -> planned jobs, over every run's plan
    verdict_order: list[dict]  # verdicts in journal order (a re-judged job appears once per verdict)
    paid_order: list[dict]  # paid records (responses and judge answers) in journal order
    marks: list[tuple[str, int, int]]  # (run or round, verdicts before it, paid records before it)

    @property
    def offline(self) -> bool:
        return any(r.provider == "offline" for r in self.rows)

    def accepted(self) -> list[dict]:
        return self.state.accepted()

    def rejected(self) -> list[dict]:
        return [v for v in self.state.verdicts.values() if not v["ok"]]


def read_journal(out: Path) -> tuple[State, list[dict], list[dict], list[tuple[str, int, int]]]:
    path = out / JOURNAL
    if not path.is_file():
        raise BadInput(f"--report: {out} holds no em-gen run (no {JOURNAL}); start one with --batch N or --full")
    records, _bad = read_jsonl(path, skip_torn_tail=True)  # a live run may be appending
    state = State(bad_offsets=_bad)
    verdicts, paid, marks = [], [], []
    for rec in records:
        if not isinstance(rec, dict):
            continue
        t = rec.get("t")
        if t == "run" and not usable_run(rec):
            state.skipped.append(f"corrupt run record {str(rec.get('run'))[:40]!r} skipped")
            continue
        try:
            state.add(rec)
        except (KeyError, TypeError):
            continue  # a foreign line: the report shows what it can read
        if t == "verdict":
            verdicts.append(rec)
        elif t in ("response", "judge"):
            paid.append(rec)
        elif t == "run":
            label = rec["run"] + (f"x{rec['extension']}" if rec.get("extension") else "")
            if not any(m[0] == label for m in marks):
                marks.append((label, len(verdicts), len(paid)))
    if not state.runs:
        raise BadInput(f"--report: {path} records no run ({'it is empty' if not records else 'no run record'}); "
                       "start one with --batch N or --full")
    return state, verdicts, paid, marks


def distinct(texts: list[str]) -> dict:
    """distinct-1/distinct-2 over the kept conversations, as the run's end and --status count them
    (`Diversity.distinct`: unique / all word uni- and bigrams, its words), without the near-duplicate
    sketches `Diversity` computes on the way (half the time)."""
    uni, bi, n_uni, n_bi = set(), set(), 0, 0
    for text in texts:
        words = _tokens(text)
        uni.update(words)
        bi.update(zip(words, words[1:]))
        n_uni += len(words)
        n_bi += max(0, len(words) - 1)
    return {"distinct_1": round(len(uni) / n_uni, 4) if n_uni else 0.0,
            "distinct_2": round(len(bi) / n_bi, 4) if n_bi else 0.0}


def load_stats(out: Path, state: State) -> tuple[dict | None, str | None]:
    """generation_stats.json when it is whole and agrees with the journal; else (None, why)."""
    path = out / STATS
    want = {"accepted": len(state.accepted()), "failed": len(state.failed),
            "rejected": sum(1 for v in state.verdicts.values() if not v["ok"])}
    try:
        stats = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(stats, dict) or any(k not in stats for k in STATS_KEYS):
            raise ValueError("fields are missing")
    except FileNotFoundError:
        return None, f"{STATS} was missing; rebuilt from the journal"
    except (OSError, UnicodeDecodeError, ValueError) as e:
        return None, f"{STATS} was corrupt ({e}); rebuilt from the journal"
    stale = {k: (stats[k], n) for k, n in want.items() if stats[k] != n}
    if stale:
        return None, (f"{STATS} was out of date (" + ", ".join(f"{k} {a} vs {b} in the journal"
                                                              for k, (a, b) in stale.items())
                      + "); rebuilt from the journal")
    return stats, None


def finish_stats(data: "RunData", diversity: dict | None = None) -> None:
    """Add distinct-n where the stats lack it (`diversity`, or counted here), and write rebuilt stats
    back."""
    if "diversity" not in data.stats:
        data.stats["diversity"] = diversity or distinct([v.get("text", "") for v in data.accepted()])
    if data.stats_note:
        try:
            atomic_write(data.out / STATS, json.dumps(data.stats, indent=2) + "\n")
        except OSError as e:
            data.stats_note += f" (not written back: {e.strerror or e})"


def run_rows(state: State, verdicts: list[dict], paid: list[dict]) -> list[RunRow]:
    rows: dict[str, RunRow] = {}
    for r in state.runs:
        row = rows.setdefault(r["run"], RunRow(r["run"], r.get("mode", ""), r.get("provider") or "",
                                                r.get("model") or ""))
        if r.get("n") and (r.get("extension") or not row.planned):
            row.planned += r["n"]
        row.seen(r.get("ts"))

    def row_of(job_id: str) -> RunRow:
        rid = run_of(job_id)
        return rows.setdefault(rid, RunRow(rid))

    for p in paid:
        jid = p["job"]["id"] if p.get("t") == "response" else p.get("job_id", "")
        row = row_of(jid)
        row.requests += 1
        row.judge_requests += p.get("t") == "judge"
        row.tokens.update({k: v for k, v in (p.get("usage") or {}).items() if k in TOKEN_KEYS})
        row.cost += p.get("cost") or 0.0
        if "custom_id" in p:
            row.batch_requests += 1
            row.batch_cost += p.get("cost") or 0.0
        row.seen(p.get("ts"))
        if not row.provider and p.get("provider"):
            row.provider = p["provider"]
        if not row.model and p.get("model"):
            row.model = p["model"]
    for f in state.failed.values():
        row_of(f["job"]["id"]).failed += 1
        row_of(f["job"]["id"]).seen(f.get("ts"))
    for v in state.verdicts.values():
        row = row_of(v["job_id"])
        if v["ok"]:
            row.accepted += 1
        else:
            row.rejected += 1
    for jid in state.unjudged():
        row_of(jid).unjudged += 1
    return list(rows.values())


def gather(lib: Library, out: Path) -> RunData:
    out = Path(out)
    state, verdicts, paid, marks = read_journal(out)
    planned = planned_mix(lib, state)
    stats, note = load_stats(out, state)
    if stats is None:  # as --status builds them; distinct-n follows in finish_stats
        stats = build_stats(lib, state, planned)
    return RunData(out=out, state=state, stats=stats, stats_note=note, rows=run_rows(state, verdicts, paid),
                   planned=planned or {}, verdict_order=verdicts, paid_order=paid, marks=marks)


def rejection_series(data: RunData, bins: int = 24) -> tuple[list[int], dict[str, list[int]]]:
    """Rejections by code over the course of the run: (bin ends in judged conversations, code ->
    rejections in each bin). Re-judged jobs count as they were judged at the time."""
    n = len(data.verdict_order)
    bins = max(1, min(bins, n))
    ends = [round(n * (i + 1) / bins) for i in range(bins)]
    series: dict[str, list[int]] = {}
    b = 0
    for i, v in enumerate(data.verdict_order):
        while i >= ends[b]:
            b += 1
        if v.get("ok"):
            continue
        for code in dict.fromkeys(r.split(":", 1)[0] for r in v.get("reasons", [])):
            series.setdefault(code, [0] * bins)[b] += 1
    return ends, series


def examples(data: RunData) -> dict[str, tuple[str, str]]:
    """reason code -> (job id, the first reason line with that code)."""
    out: dict[str, tuple[str, str]] = {}
    for v in data.rejected():
        for r in v.get("reasons", []):
            out.setdefault(r.split(":", 1)[0], (v["job_id"], r))
    return out


def cumulative(data: RunData, points: int = 600) -> dict[str, list[float]]:
    """Cumulative cost and tokens after each paid request, thinned to about `points` points."""
    x, cost, tin, tout, tcache = [0], [0.0], [0], [0], [0]
    c, i, o, k = 0.0, 0, 0, 0
    n = len(data.paid_order)
    step = max(1, n // points)
    for idx, p in enumerate(data.paid_order, 1):
        u = p.get("usage") or {}
        c += p.get("cost") or 0.0
        i += u.get("input_tokens", 0) + u.get("cache_write_tokens", 0)
        k += u.get("cache_read_tokens", 0)
        o += u.get("output_tokens", 0)
        if idx % step == 0 or idx == n:
            x.append(idx)
            cost.append(c)
            tin.append(i)
            tout.append(o)
            tcache.append(k)
    return {"requests": x, "cost": cost, "input": tin, "output": tout, "cache_read": tcache}
