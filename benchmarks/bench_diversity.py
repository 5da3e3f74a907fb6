"""How diverse is the plan the teacher is asked to write? Measured on the job prompts alone, no key needed.

    .venv/bin/python benchmarks/bench_diversity.py [--seed 1] [--target-mb 15] [--scenarios DIR] [--json]

On the `--full` plan (the same jobs `em-gen --full --seed 1` plans):
- premises: distinct, reused (jobs minus distinct), the largest reuse of any one, and how many the
  library lacks for the plan (a plan from before premises existed reports its subjects instead);
- cast: each nick's and each voice's share of logs (the largest, and how many are over the 1% / 3% caps);
- job prompts: the share that are near-duplicates of another (MinHash, 128 permutations, estimated
  Jaccard >= 0.8 on word 3-grams of the JOB block), and the largest group of identical user prompts
  once the nicks and the message counts are taken out.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from em_gen.generate.plan import jobs_for_bytes, make_plan  # noqa: E402
try:  # a checkout from before premises has no dealer
    from em_gen.generate.deal import Dealer, shortfall  # noqa: E402
except ImportError:  # pragma: no cover
    Dealer = shortfall = None
from em_gen.generate.prompting import build_request  # noqa: E402
from em_gen.library import load_library  # noqa: E402
from em_gen.quality.similar import MinHasher  # noqa: E402

_JOB = re.compile(r"^JOB[ \t]*\n(.*?)^END JOB", re.M | re.S)
_DIGITS = re.compile(r"\d+")


def job_block(user: str) -> str:
    m = _JOB.search(user)
    return m.group(1) if m else user


def without_nicks_and_counts(user: str, nicks) -> str:
    """The prompt with the nick list taken out (every nick, and a run of them, is one NICKS) and every
    number made #: what is left is what the job asks for besides who and how much."""
    for nick in sorted(nicks, key=len, reverse=True):
        user = re.sub(rf"(?<![\w\-\[\]`^{{}}|]){re.escape(nick)}(?![\w\-\[\]`^{{}}|])", "NICK", user)
    user = re.sub(r"NICK(?:, NICK)*", "NICKS", user)
    return _DIGITS.sub("#", user)


def measure(lib, seed: int, target_mb: float) -> dict:
    n = jobs_for_bytes(lib, int(target_mb * 1e6))
    t0 = time.perf_counter()
    dealer = Dealer(lib, seed) if Dealer else None
    jobs = make_plan(lib, n, seed, "full1", dealer) if dealer else make_plan(lib, n, seed, "full1")
    t_plan = time.perf_counter() - t0
    missing = sum(x[2] for x in shortfall(lib, dealer).values()) if dealer else None
    users = [build_request(lib, j).user for j in jobs]
    has_premise = hasattr(jobs[0], "premise")
    seeds = Counter(j.premise if has_premise else (j.topic, j.subject) for j in jobs)
    nick_logs = Counter(x for j in jobs for x in dict.fromkeys(j.nicks))  # ordered: ties name the same nick every run
    voice_logs = Counter(v for j in jobs for v in dict.fromkeys(getattr(j, "voices", ()) or ()))
    groups = Counter(without_nicks_and_counts(u, j.nicks) for u, j in zip(users, jobs))
    t1 = time.perf_counter()
    mh = MinHasher(128, seed=1)
    sigs = [mh.signature(job_block(u)) for u in users]
    pairs = mh.all_pairs(sigs, 0.8)
    t_minhash = time.perf_counter() - t1
    in_pair = {i for p in pairs for i in p[:2]}
    top_nick, top_nick_n = nick_logs.most_common(1)[0]
    top_voice = voice_logs.most_common(1)[0] if voice_logs else (None, 0)
    return {
        "jobs": n, "seed": seed,
        "seed_material": "premise" if has_premise else "(topic, subject): no premises in this plan",
        "distinct": len(seeds), "reused_jobs": n - len(seeds), "largest_reuse": seeds.most_common(1)[0][1],
        "missing_premises": missing,
        "nicks_in_pool": len(lib.other_nicks), "nicks_used": len(nick_logs),
        "max_nick_share": round(top_nick_n / n, 4), "max_nick": top_nick,
        "nicks_over_1pct": sum(1 for c in nick_logs.values() if c / n > 0.01),
        "voices_used": len(voice_logs), "max_voice_share": round(top_voice[1] / n, 4), "max_voice": top_voice[0],
        "voices_over_3pct": sum(1 for c in voice_logs.values() if c / n > 0.03),
        "near_duplicate_pairs": len(pairs), "near_duplicate_share": round(len(in_pair) / n, 4),
        "largest_identical_group": max(groups.values()),
        "seconds": {"plan": round(t_plan, 2), "minhash": round(t_minhash, 2)},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--target-mb", type=float, default=15.0)
    ap.add_argument("--scenarios", type=Path)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    lib = load_library(a.scenarios)
    r = measure(lib, a.seed, a.target_mb)
    if a.json:
        print(json.dumps(r, indent=2))
        return
    n = r["jobs"]
    print(f"--full plan at seed {r['seed']}: {n:,} jobs")
    print(f"seed material: {r['seed_material']}")
    print(f"  distinct {r['distinct']:,}; jobs that reuse one {r['reused_jobs']:,}; largest reuse {r['largest_reuse']}"
          + (f"; missing from the library {r['missing_premises']:,}" if r["missing_premises"] is not None else ""))
    print(f"nicks: {r['nicks_used']:,} of {r['nicks_in_pool']:,} used; largest share of logs "
          f"{r['max_nick_share']:.2%} ({r['max_nick']}); over 1%: {r['nicks_over_1pct']}")
    if r["voices_used"]:
        print(f"voices: {r['voices_used']:,} used; largest share of logs {r['max_voice_share']:.2%}; "
              f"over 3%: {r['voices_over_3pct']}")
    else:
        print("voices: none in this plan")
    print(f"job prompts: near-duplicates (MinHash >= 0.8 on the JOB block) {r['near_duplicate_share']:.2%} of jobs "
          f"({r['near_duplicate_pairs']:,} pairs); largest group identical without nicks and counts "
          f"{r['largest_identical_group']}")
    print(f"time: plan {r['seconds']['plan']}s, minhash {r['seconds']['minhash']}s")


if __name__ == "__main__":
    main()
