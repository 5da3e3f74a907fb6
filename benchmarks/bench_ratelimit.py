"""Rate-limit benchmark: em-gen against a stand-in that admits L requests per W-second sliding window.

    .venv/bin/python benchmarks/bench_ratelimit.py                 # both cases, 3 rounds each
    .venv/bin/python benchmarks/bench_ratelimit.py headers 1       # with rate-limit headers, once
    .venv/bin/python benchmarks/bench_ratelimit.py none 1          # without (429s keep retry-after)
    .venv/bin/python benchmarks/bench_ratelimit.py both 3 10 10 0.5 30 16   # ROUNDS L W LATENCY N CONCURRENCY

The workload of issue 13: 10 requests admitted per 10 s, 0.5 s latency, 30 requests (`--batch 30
--max-replacements 0 --no-judge`), up to 16 in flight, no `--rpm`. Timed at the server (its stats):
from the first request received to the last answer sent; em-gen's start-up is not counted. The ideal
time is what the limit allows: a full window per L requests after the first L, plus one latency:
floor((n - 1) / L) x W + latency for n answered requests. `ratio` = ideal / measured (1.0 at best);
`429_per_served` = 429s / answered requests, both counted at the server.
"""
from __future__ import annotations

import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_generation import run_em_gen, start_server, stop_server


def one(headers: bool, limit: int, window: float, latency: float, n: int, concurrency: int) -> dict:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        args = ["--rate-limit", f"{limit}/{window}", "--latency", str(latency)]
        srv, url, stats_file = start_server(tmp, *args, *([] if headers else ["--no-rate-headers"]))
        try:
            run_em_gen(url, "--batch", str(n), "--out", str(tmp / "out"), "--concurrency", str(concurrency),
                       "--max-replacements", "0", "--no-judge")
        finally:
            stats = stop_server(srv, stats_file)
    by = {str(k): v for k, v in stats["by_status"].items()}
    ok, refused = by.get("200", 0), by.get("429", 0)
    ideal = ((ok - 1) // limit) * window + latency
    return {"headers": headers, "served": ok, "http_429": refused, "span_s": round(stats["span_s"], 3),
            "ideal_s": ideal, "ratio": round(ideal / stats["span_s"], 4),
            "429_per_served": round(refused / max(1, ok), 3)}


def main(argv: list[str]) -> None:
    which = argv[0] if argv else "both"
    rounds = int(argv[1]) if len(argv) > 1 else 3
    limit, window, latency, n, conc = (int(argv[2]) if len(argv) > 2 else 10, float(argv[3]) if len(argv) > 3 else 10.0,
                                       float(argv[4]) if len(argv) > 4 else 0.5, int(argv[5]) if len(argv) > 5 else 30,
                                       int(argv[6]) if len(argv) > 6 else 16)
    cases = {"both": (True, False), "headers": (True,), "none": (False,)}[which]
    for headers in cases:
        runs = [one(headers, limit, window, latency, n, conc) for _ in range(rounds)]
        for r in runs:
            print(json.dumps({"bench": "ratelimit", **r}), flush=True)
        print(json.dumps({"bench": "ratelimit-summary", "headers": headers, "limit": f"{limit}/{window}s",
                          "latency_s": latency, "requests": n, "concurrency": conc, "rounds": rounds,
                          "ratio_min": min(r["ratio"] for r in runs),
                          "ratio_median": statistics.median(r["ratio"] for r in runs),
                          "429_per_served_max": max(r["429_per_served"] for r in runs),
                          "429_per_served_median": statistics.median(r["429_per_served"] for r in runs)}),
              flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
