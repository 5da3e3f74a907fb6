"""`em-gen eval --sweep` on CPU: time per checkpoint, and what the cache saves on a rerun.

    .venv/bin/python benchmarks/bench_sweep.py [RUN_DIR] [--limit N] [--samples S] [--checkpoints K] [--threads T]

Without RUN_DIR it smoke-trains the tiny random Mistral for K steps (default 3), saving a checkpoint
every step with an eval split (the train venv, .venv-train). Then it runs the sweep in the train venv
twice with one cache: the first run generates everything (the base loaded once, the adapters
swapped onto it), the second reads every checkpoint from the cache. It prints the sampling and
loading seconds per checkpoint, the wall time of both runs, and their ratio.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from em_gen.train import smoke  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir", nargs="?", type=Path)
    ap.add_argument("--limit", type=int, default=16, help="hand-written probes (default 16)")
    ap.add_argument("--samples", type=int, default=2)
    ap.add_argument("--checkpoints", type=int, default=3)
    ap.add_argument("--line-tokens", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (OMP_NUM_THREADS, default 1)")
    a = ap.parse_args()
    venv = ROOT / ".venv-train"
    work = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    run_dir = a.run_dir
    if run_dir is None:
        from helpers_records import make_records, write_dataset

        ds = write_dataset(work / "em_character_training.jsonl", make_records(24, n_messages=(6, 14)))
        t = time.monotonic()
        res = smoke.smoke_train(ds, None, "completion", work / "train", steps=a.checkpoints, venv=venv, cpu=True,
                                sequence_len=1024, check=False, checkpoints=a.checkpoints, eval_share=0.15)
        print(f"smoke training ({a.checkpoints} checkpoints): {time.monotonic() - t:.1f}s")
        run_dir = Path(res["workdir"]) / "out"
    cmd = [str(venv / "bin" / "python"), "-m", "em_gen.cli", "eval", "--sweep", str(run_dir), "--device", "cpu",
           "--heldout", "none", "--limit", str(a.limit), "--samples", str(a.samples), "--turns", "3",
           "--line-tokens", str(a.line_tokens), "--no-progress", "--cache", str(work / "cache")]
    walls = []
    env = smoke.train_env({"OMP_NUM_THREADS": str(a.threads)})
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; torch threads {a.threads}")
    for name in ("first", "rerun"):
        t = time.monotonic()
        p = subprocess.run([*cmd, "--out", str(work / f"{name}.json")], cwd=ROOT, env=env,
                           capture_output=True, text=True)
        walls.append(time.monotonic() - t)
        if p.returncode:
            print(p.stderr[-3000:])
            return 1
        r = json.loads((work / f"{name}.json").read_text())
        print(f"{name}: {walls[-1]:.1f}s wall (process start and imports included), sweep {r['timing']['wall_seconds']}s, "
              f"cache hits {r['timing']['cache_hits']}, base loads {r['timing']['base_loads']}")
        if name == "first":
            b = r["base"]
            print(f"  base: load {b['load_seconds']}s, sampling {b['seconds']}s")
            for c in r["checkpoints"]:
                print(f"  {c['label']}: adapter load {c['load_seconds']}s, sampling {c['seconds']}s "
                      f"({r['settings']['probes']} probes x {a.samples} samples)")
    print(f"rerun / first: {walls[1] / walls[0]:.3f}; load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
