"""CPU time of the rule gate per conversation, on the realistic corpus (tests/quality/realistic/).

    .venv/bin/python benchmarks/bench_rules.py                 # mean and p95 per conversation, short and long
    .venv/bin/python benchmarks/bench_rules.py --rules         # plus each rule's own cost
    .venv/bin/python benchmarks/bench_rules.py --profile       # plus the top functions under cProfile

What is timed is what the pipeline runs per response (em_gen/quality/verdict.py `rules`): every rule
together, `check(parsed, lib, expect)` on an already parsed log, with the job's expectations
(engagement, channel, bucket), no LLM judge and no near-duplicate search. Parsing is not timed.
Each conversation is checked `--reps` times in a row and its time is time.process_time() over the
loop divided by the repetitions (after one untimed warm-up call); the figures are the mean and the
95th percentile of those per-conversation times, for short logs (10-20 messages) and long ones
(80-120) separately, over the corpus as a whole (85% short) and weighted by the plan's length mix
(scenarios/mix.yaml: 60% short, 40% long), which is what a real run sees. Target: at most 2 ms per conversation on average.

`--rules` times each rule alone: Context.build plus the rule, minus Context.build alone, so a rule
is charged the shared lazy facts (lowercased text, word set, ...) it needs itself; the rules' costs
therefore add up to a little more than the gate's.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import math
import pstats
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from em_gen.library import load_library  # noqa: E402
from em_gen.quality.irc import parse  # noqa: E402
from em_gen.quality.rules import CHECKS, Context, Expect, check  # noqa: E402
from helpers_realistic import load_corpus  # noqa: E402


def p95(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, math.ceil(0.95 * len(xs)) - 1)]


def cases(lib):
    """(bucket, parsed, expect) for every corpus log, with the expectations a job would carry."""
    out = []
    for log in load_corpus():
        parsed = parse(log.text)
        n = len(parsed.messages)
        bucket = next((k for k, (lo, hi) in lib.buckets().items() if lo <= n <= hi), None)
        out.append((bucket or "other", parsed,
                    Expect(engagement=parsed.engagement, channel=parsed.channel, bucket=bucket, messages=n)))
    return out


def per_conversation(fn, reps: int) -> float:
    """ms of CPU per call of fn, over reps calls."""
    fn()  # warm-up: lazy imports, regex caches
    t = time.process_time()
    for _ in range(reps):
        fn()
    return (time.process_time() - t) / reps * 1000


def summary(rows: list[tuple[str, float]], label: str) -> None:
    groups: dict[str, list[float]] = {}
    for bucket, ms in rows:
        groups.setdefault(bucket, []).append(ms)
    groups["all"] = [ms for _, ms in rows]
    print(f"\n{label}")
    print(f"  {'logs':<6} {'n':>4} {'mean ms':>9} {'p95 ms':>9} {'max ms':>9}")
    for k in [*sorted(g for g in groups if g != "all"), "all"]:
        xs = groups[k]
        print(f"  {k:<6} {len(xs):>4} {statistics.fmean(xs):>9.3f} {p95(xs):>9.3f} {max(xs):>9.3f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=200, help="checks per conversation (default 200)")
    ap.add_argument("--rules", action="store_true", help="also time each rule alone")
    ap.add_argument("--profile", action="store_true", help="also profile the whole gate with cProfile")
    ap.add_argument("--target-ms", type=float, default=2.0)
    a = ap.parse_args()

    lib = load_library()
    cs = cases(lib)
    counts = {b: sum(1 for x in cs if x[0] == b) for b in sorted({x[0] for x in cs})}
    print(f"realistic corpus: {len(cs)} logs ({', '.join(f'{v} {k}' for k, v in counts.items())}), "
          f"{sum(len(p.messages) for _, p, _ in cs)} messages; {a.reps} checks per log; "
          f"python {sys.version.split()[0]}")

    rows = [(b, per_conversation(lambda p=p, e=e: check(p, lib, e), a.reps)) for b, p, e in cs]
    summary(rows, "check(parsed, lib, expect), all rules together, CPU per conversation")
    mean = statistics.fmean(ms for _, ms in rows)
    # the corpus is mostly short logs; the plan's mix (scenarios/mix.yaml lengths) is 60/40
    w = {k: v["weight"] for k, v in lib.mix["lengths"].items()}
    by = {k: [ms for b, ms in rows if b == k] for k in w}
    planned = sum(w[k] * statistics.fmean(by[k]) for k in w if by[k]) / sum(w[k] for k in w if by[k])
    for name, m in (("corpus", mean), (f"plan mix ({' / '.join(f'{k} {v:.0%}' for k, v in w.items())})", planned)):
        verdict = "within" if m <= a.target_ms else "ABOVE"
        print(f"  mean over the {name}: {m:.3f} ms per conversation, {verdict} the {a.target_ms:g} ms target")

    if a.rules:
        reps = max(1, a.reps // 4)
        build = {id(p): per_conversation(lambda p=p, e=e: Context.build(p, lib, e), reps) for _, p, e in cs}
        print(f"\neach rule alone (Context.build + rule - Context.build; {reps} reps), mean ms per conversation")
        print(f"  {'rule':<14} {'short':>8} {'long':>8} {'all':>8}")
        table = [("(Context.build)", {b: [build[id(p)] for bb, p, _ in cs if bb == b] for b in counts})]
        for name, fn in CHECKS:
            per = {b: [] for b in counts}
            for b, p, e in cs:
                ms = per_conversation(lambda p=p, e=e, fn=fn: fn(Context.build(p, lib, e)), reps)
                per[b].append(max(0.0, ms - build[id(p)]))
            table.append((name, per))
        total = len(cs)
        for name, per in sorted(table, key=lambda r: -sum(map(sum, r[1].values()))):
            cells = [f"{statistics.fmean(per[b]):>8.3f}" if per.get(b) else f"{'-':>8}" for b in ("short", "long")]
            allm = sum(map(sum, per.values())) / total
            print(f"  {name:<14} {' '.join(cells)} {allm:>8.3f}")

    if a.profile:
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(max(1, a.reps // 10)):
            for _, p, e in cs:
                check(p, lib, e)
        prof.disable()
        s = io.StringIO()
        pstats.Stats(prof, stream=s).sort_stats("cumulative").print_stats(30)
        print("\n" + s.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
