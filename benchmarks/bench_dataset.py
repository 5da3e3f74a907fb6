"""Dataset-scale benchmarks on a 15 MB dataset built without HTTP (the stand-in's composer).

    .venv/bin/python benchmarks/bench_dataset.py [TARGET_MB]

- em-gen's own CPU per conversation: judge() (parse + every check + near-duplicate index) plus
  the journal and dataset appends (with fsync), i.e. everything em-gen does per response besides
  the SDK's HTTP work;
- `em-gen --validate FILE --json` wall time on the dataset (subprocess, whole command);
- resume start-up: opening the output folder (journal read, reconcile, near-duplicate index,
  pending jobs) as `--resume` does before its first request.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from em_gen.quality.rules import Diversity  # noqa: E402
from em_gen.generate.orchestrate import load_diversity, pending  # noqa: E402
from em_gen.generate.journal import Store  # noqa: E402
from em_gen.library import load_library  # noqa: E402
from em_gen.generate.plan import jobs_for_bytes, make_plan  # noqa: E402
from em_gen.generate.prompting import build_request  # noqa: E402
from em_gen.providers.standin.compose import Composer  # noqa: E402
from em_gen.quality.verdict import judge  # noqa: E402


def main(target_mb: float = 15.0) -> None:
    lib = load_library()
    composer = Composer(lib)
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "out"
        store = Store(out)
        n = int(jobs_for_bytes(lib, int(target_mb * 1e6)) * 1.1)
        run = {"t": "run", "run": "full1", "mode": "full", "n": n, "n_requested": None,
               "target_bytes": int(target_mb * 1e6), "seed": 0, "fingerprint": lib.fingerprint,
               "provider": "offline", "model": "bench"}
        store.record(run)
        store.open_outputs()
        jobs = make_plan(lib, n, 0, "full1")
        raws = [composer.respond(build_request(lib, j).prompt()) for j in jobs]  # not timed: the "model"
        div = Diversity()
        cpu0 = time.process_time()
        total = 0
        for job, raw in zip(jobs, raws):
            rec = {"t": "response", "job": job.to_dict(), "part": 0, "raw": raw, "stop_reason": "end",
                   "usage": {"input_tokens": 1000, "output_tokens": len(raw) // 4}, "cost": 0.0,
                   "model": "bench", "provider": "offline", "ts": 0}
            store.record(rec)
            v = judge(lib, job, [rec], div, "offline", "bench")
            store.write_verdict(v)
            total += v.get("bytes", 0)
            if total >= target_mb * 1e6:
                break
        cpu = time.process_time() - cpu0
        judged = len(store.state.verdicts)
        accepted = len(store.state.accepted())
        store.close()
        dataset = out / "em_character_training.jsonl"
        size = dataset.stat().st_size

        t = time.monotonic()
        subprocess.run([sys.executable, "-m", "em_gen.cli", "--validate", str(dataset), "--json"], cwd=ROOT,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        validate_s = time.monotonic() - t

        t = time.monotonic()
        store = Store(out)
        store.open_outputs()
        load_diversity(store)
        todo = pending(lib, make_plan(lib, n, 0, "full1"), store, lib.mix["max_replacements"], 0)
        resume_s = time.monotonic() - t
        store.close()
        print(json.dumps({
            "bench": "dataset", "dataset_mb": round(size / 1e6, 2), "conversations_judged": judged,
            "accepted": accepted, "em_gen_cpu_ms_per_conversation": round(1000 * cpu / judged, 3),
            "validate_wall_s": round(validate_s, 2), "resume_startup_s": round(resume_s, 3),
            "pending_after_resume": len(todo)}))


if __name__ == "__main__":
    main(*(float(x) for x in sys.argv[1:]))
