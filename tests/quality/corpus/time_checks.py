"""CPU time of the quality gate per conversation (not a test; run by hand):

    .venv/bin/python tests/quality/corpus/time_checks.py

For the corpus's good short and long logs: check() (the Parsed is given, as in the pipeline), then
Diversity.near_duplicate() + add() of the same text (add reuses the work of near_duplicate), with
4000 conversations already kept. The kept set is synthetic: conversations whose lines are spliced
from halves of corpus lines, so they are distinct but share everyday phrasing. `--adversarial`
keeps whole corpus lines instead (every line reused ~130 times: very long posting lists).
Each figure is the best of 5 rounds of time.process_time(), which filters out noise from other
processes on a shared machine; a reference loop is printed so machines can be compared.
"""
from __future__ import annotations

import json
import random
import sys
import time
import timeit
from pathlib import Path

from em_gen.quality.rules import Diversity, Expect, check
from em_gen.quality.irc import parse, render
from em_gen.library import load_library

CORPUS = Path(__file__).parent / "corpus.jsonl"


def main() -> None:
    adversarial = "--adversarial" in sys.argv
    lib = load_library()
    recs = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    good = [r for r in recs if r["label"] == "good"]
    parsed = [(parse(r["text"]), Expect(**r["expect"]) if r["expect"] else None) for r in good]
    pool = [t.split() for p, _ in parsed for _, t in p.messages]
    nicks = sorted({n for p, _ in parsed for n, _ in p.messages})
    rng = random.Random(0)

    def line() -> str:
        if adversarial:
            return " ".join(rng.choice(pool))
        a, b = rng.choice(pool), rng.choice(pool)
        return " ".join(a[: len(a) // 2] + b[len(b) // 2:])

    base = Diversity()
    kept = []
    for i in range(4000):
        k = 14 if rng.random() < 0.6 else 100
        kept.append(render("LOW", "#general", [(rng.choice(nicks), line()) for _ in range(k)]))
    ref = min(timeit.repeat(lambda: sum(range(10000)), number=100, repeat=5)) / 100 * 1e3
    print(f"reference: sum(range(10000)) takes {ref:.3f} ms on this machine")
    groups = {"short": [x for x in parsed if len(x[0].messages) <= 20],
              "long": [x for x in parsed if len(x[0].messages) >= 80]}
    for name, group in groups.items():
        items = group * max(1, 1000 // len(group))
        texts = [p.text() for p, _ in items]
        best_check = best_div = float("inf")
        for _round in range(5):
            t0 = time.process_time()
            for p, e in items:
                check(p, lib, e)
            best_check = min(best_check, (time.process_time() - t0) / len(items))
            div = Diversity()
            for j, t in enumerate(kept):
                div.add(f"k{j}", t)
            t0 = time.process_time()
            for j, s in enumerate(texts):
                if div.near_duplicate(s) is None:
                    div.add(f"{name}{j}", s)
            best_div = min(best_div, (time.process_time() - t0) / len(items))
        n = sum(len(p.messages) for p, _ in group) / len(group)
        print(f"{name:5} ({len(group)} logs, avg {n:.0f} messages): check {best_check * 1e3:.3f} ms + "
              f"diversity {best_div * 1e3:.3f} ms = {(best_check + best_div) * 1e3:.3f} ms CPU per conversation")
    del base


if __name__ == "__main__":
    main()
