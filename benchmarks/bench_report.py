"""`em-gen --report` on a dataset of TARGET_MB (default 15) built without HTTP, as bench_dataset.py
builds it (the stand-in's composer, judged and journaled by em-gen's own code, stats written as a
run's end writes them).

    .venv/bin/python benchmarks/bench_report.py [TARGET_MB] [--dir DIR]

--dir keeps the dataset in DIR (reused when DIR already holds a journal), else a temporary folder.
Times the whole command (a subprocess: interpreter start, imports, journal read, tokenizer, charts,
page) twice: with generation_stats.json as the run left it, and with it deleted (rebuilt from the
journal, as `--status` does). Prints one JSON line: wall and CPU seconds (em-gen and its helper
processes; wall time depends on free cores, see load_average_before), page size; the budget is 10 s.
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from em_gen.generate.journal import STATS, Store  # noqa: E402
from em_gen.generate.orchestrate import write_snapshots  # noqa: E402
from em_gen.generate.plan import jobs_for_bytes, make_plan  # noqa: E402
from em_gen.generate.prompting import build_request  # noqa: E402
from em_gen.generate.runner import Outcome  # noqa: E402
from em_gen.library import load_library  # noqa: E402
from em_gen.providers.standin.compose import Composer  # noqa: E402
from em_gen.quality.rules import Diversity  # noqa: E402
from em_gen.quality.verdict import judge  # noqa: E402

BUDGET_S = 10.0


def build(out: Path, target_mb: float) -> None:
    """A --full-like run of target_mb accepted bytes in `out` (journal, dataset, stats)."""
    lib = load_library()
    composer = Composer(lib)
    store = Store(out)
    n = int(jobs_for_bytes(lib, int(target_mb * 1e6)) * 1.1)
    run = {"t": "run", "run": "full1", "mode": "full", "n": n, "n_requested": None,
           "target_bytes": int(target_mb * 1e6), "seed": 0, "fingerprint": lib.fingerprint,
           "provider": "offline", "model": "offline-stand-in", "ts": round(time.time(), 3)}
    store.record(run)
    store.open_outputs()
    jobs = make_plan(lib, n, 0, "full1")
    div = Diversity()
    total = 0
    for job in jobs:
        raw = composer.respond(build_request(lib, job).prompt())
        rec = {"t": "response", "job": job.to_dict(), "part": 0, "raw": raw, "stop_reason": "end",
               "usage": {"input_tokens": 1000, "output_tokens": len(raw) // 4}, "cost": 0.0,
               "model": "offline-stand-in", "provider": "offline", "ts": round(time.time(), 3)}
        store.record(rec)
        v = judge(lib, job, [rec], div, "offline", "offline-stand-in")
        store.write_verdict(v)
        total += v.get("bytes", 0)
        if total >= target_mb * 1e6:
            break
    write_snapshots(store, lib, run, jobs, Outcome())
    store.close()


def time_report(out: Path) -> tuple[float, float, int, str]:
    """(wall seconds, CPU seconds of em-gen and its helper processes, page bytes, what it printed)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "em_gen.cli", "--report", "--out", str(out)], cwd=ROOT,
                       capture_output=True, text=True)
    took = time.monotonic() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise SystemExit(f"em-gen --report failed ({r.returncode}): {r.stderr.strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return took, cpu, (out / "report.html").stat().st_size, r.stdout.strip()


def main(argv: list[str]) -> None:
    keep = None
    if "--dir" in argv:
        i = argv.index("--dir")
        keep = Path(argv[i + 1])
        argv = argv[:i] + argv[i + 2:]
    target_mb = float(argv[0]) if argv else 15.0
    with tempfile.TemporaryDirectory() as d:
        out = keep or Path(d) / "out"
        if not (out / "journal.jsonl").exists():
            t = time.monotonic()
            build(out, target_mb)
            print(f"built {out} in {time.monotonic() - t:.0f}s", file=sys.stderr)
        dataset = out / "em_character_training.jsonl"
        load = os.getloadavg()[0]
        with_stats, cpu, size, line = time_report(out)
        (out / STATS).unlink()
        rebuilt, cpu2, _size, _line = time_report(out)
        print(json.dumps({
            "bench": "report", "dataset_mb": round(dataset.stat().st_size / 1e6, 2),
            "journal_mb": round((out / "journal.jsonl").stat().st_size / 1e6, 2),
            "conversations": sum(1 for _ in dataset.open("rb")),
            "report_wall_s": round(with_stats, 2), "report_cpu_s": round(cpu, 2),
            "report_wall_s_stats_rebuilt": round(rebuilt, 2), "report_cpu_s_stats_rebuilt": round(cpu2, 2),
            "report_kb": round(size / 1024, 1), "budget_s": BUDGET_S, "cpus": os.cpu_count(),
            "load_average_before": round(load, 2),
            "within_budget": max(with_stats, rebuilt) <= BUDGET_S, "em_gen_says": line}))


if __name__ == "__main__":
    main(sys.argv[1:])
