"""Rate-limit benchmark: em-gen (the real openai SDK) against a stand-in whose limits its headers state
exactly, not at all, or only in part (quantized), with this limiter and with the one before it.

    .venv/bin/python benchmarks/bench_ratelimit.py                     # all four modes, new and old, 1 round
    .venv/bin/python benchmarks/bench_ratelimit.py q10 q1 --rounds 3 --limiter new
    .venv/bin/python benchmarks/bench_ratelimit.py exact --no-judge --conversations 30

Modes (the server states 60 requests per minute in each; `ideal` is what its enforced window admits):
- exact: 10 per 10 s sliding window; `remaining`/`reset` describe that window exactly;
- none:  the same window, no rate-limit headers (429s keep `retry-after`);
- q10:   stated 60 per minute, enforced 10 per 10 s; `remaining` = 60 less what the 10 s window holds,
         `reset` that window's (`--rate-quantum 10 --quantum-remaining window`);
- q1:    stated 60 per minute, enforced 1 per second; `remaining`/`reset` of the minute bucket
         (`--rate-quantum 1 --quantum-remaining minute`).
The workload (issue 20): `--batch 30 --concurrency 16 --max-replacements 0`, the judge on (about 60
requests: the stand-in's judge is the generation model, so both share one limiter), 0.5 s latency.
Timed at the server (its stats): from the first request received to the last answer sent; em-gen's
start-up is not counted. ideal = floor((n - 1) / L) x W + latency for n answered requests and the
enforced L per W s; `ratio` = ideal / measured (1.0 at best); `429_per_served` = 429s / answers.

`--limiter old` runs em-gen with limiter.py and budgets.py as they were at `--old REF` (default: the
commit before pacing.py was added), loaded in place of the current ones (nothing else changes).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_generation import ROOT, start_server, stop_server

PY = sys.executable
STATED = ["--rate-limit", "60/60"]
MODES = {  # name: (stand-in flags, enforced L, per W seconds)
    "exact": (["--rate-limit", "10/10"], 10, 10.0),
    "none": (["--rate-limit", "10/10", "--no-rate-headers"], 10, 10.0),
    "q10": ([*STATED, "--rate-quantum", "10", "--quantum-remaining", "window"], 10, 10.0),
    "q1": ([*STATED, "--rate-quantum", "1", "--quantum-remaining", "minute"], 1, 1.0),
}
LAUNCHER = '''import importlib.util, runpy, sys
old = sys.argv.pop(1)
import em_gen.generate
for name in ("budgets", "limiter"):
    spec = importlib.util.spec_from_file_location("em_gen.generate." + name, old + "/" + name + ".py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    setattr(em_gen.generate, name, mod)
sys.argv[0] = "em-gen"
runpy.run_module("em_gen.cli", run_name="__main__", alter_sys=True)
'''


def old_ref() -> str:
    added = subprocess.run(["git", "log", "--diff-filter=A", "--format=%H", "--", "em_gen/generate/pacing.py"],
                           cwd=ROOT, capture_output=True, text=True).stdout.split()
    return f"{added[-1]}^" if added else "HEAD"


def checkout_old(ref: str, into: Path) -> list[str]:
    """The old limiter's modules from git, and the command that runs em-gen with them."""
    into.mkdir()
    for name in ("budgets", "limiter"):
        text = subprocess.run(["git", "show", f"{ref}:em_gen/generate/{name}.py"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout
        (into / f"{name}.py").write_text(text)
    (into / "launch.py").write_text(LAUNCHER)
    return [PY, str(into / "launch.py"), str(into)]


def one(mode: str, command: list[str], args) -> dict:
    flags, limit, window = MODES[mode]
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        srv, url, stats_file = start_server(tmp, *flags, "--latency", str(args.latency))
        try:
            env = {**os.environ, "OPENAI_API_KEY": "bench", "OPENAI_BASE_URL": url + "/v1"}
            p = subprocess.run([*command, "--provider", "openai", "--no-progress", "--no-monitor",
                                "--batch", str(args.conversations), "--out", str(tmp / "out"),
                                "--concurrency", str(args.concurrency), "--max-replacements", "0",
                                *(["--no-judge"] if args.no_judge else [])],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            if p.returncode not in (0, 1):  # 1: some jobs failed after every retry (counted below)
                raise SystemExit(f"em-gen failed ({p.returncode}): {p.stderr[-2000:]}")
        finally:
            stats = stop_server(srv, stats_file)
    by = {str(k): v for k, v in stats["by_status"].items()}
    ok, refused = by.get("200", 0), by.get("429", 0)
    ideal = ((ok - 1) // limit) * window + args.latency
    return {"mode": mode, "exit": p.returncode, "served": ok, "http_429": refused, "span_s": round(stats["span_s"], 3),
            "ideal_s": ideal, "ratio": round(ideal / stats["span_s"], 4),
            "429_per_served": round(refused / max(1, ok), 3)}


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("modes", nargs="*", help=f"any of {', '.join(MODES)} (default: all)")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--limiter", default="new,old", help="new, old or new,old")
    ap.add_argument("--old", default=None, metavar="REF", help="git ref of the old limiter")
    ap.add_argument("--conversations", type=int, default=30)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--latency", type=float, default=0.5)
    ap.add_argument("--no-judge", action="store_true")
    args = ap.parse_args(argv)
    bad = [m for m in args.modes if m not in MODES] + [x for x in args.limiter.split(",") if x not in ("new", "old")]
    if bad:
        ap.error(f"unknown mode or limiter: {', '.join(bad)}")
    with tempfile.TemporaryDirectory() as d:
        commands = {"new": [PY, "-m", "em_gen.cli"]}
        if "old" in args.limiter.split(","):
            ref = args.old or old_ref()
            commands["old"] = checkout_old(ref, Path(d) / "old")
            print(json.dumps({"bench": "ratelimit-old", "ref": ref}), flush=True)
        table = []
        for mode in args.modes or list(MODES):
            for which in args.limiter.split(","):
                runs = [one(mode, commands[which], args) for _ in range(args.rounds)]
                for r in runs:
                    print(json.dumps({"bench": "ratelimit", "limiter": which, **r}), flush=True)
                table.append((mode, which, statistics.median(r["served"] for r in runs),
                              min(r["ratio"] for r in runs), statistics.median(r["ratio"] for r in runs),
                              max(r["429_per_served"] for r in runs),
                              statistics.median(r["429_per_served"] for r in runs)))
    print(f"\n{args.conversations} conversations, --concurrency {args.concurrency}, judge "
          f"{'off' if args.no_judge else 'on'}, latency {args.latency}s, {args.rounds} round(s); timed at the server")
    print("| mode | limiter | served | ratio min | ratio median | 429/served max | 429/served median |")
    print("|---|---|---|---|---|---|---|")
    for row in table:
        print("| " + " | ".join(str(x) for x in row) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
