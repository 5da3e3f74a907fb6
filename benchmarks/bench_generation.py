"""Generation benchmarks against the stand-in server (run in its own process).

    .venv/bin/python benchmarks/bench_generation.py rate    # achieved request rate / server limit
    .venv/bin/python benchmarks/bench_generation.py full    # CPU per conversation and peak RSS of --full

`rate`: the server admits L requests per 1 s window (429 with retry-after beyond) and adds latency;
em-gen runs `--batch N --rpm 60L --no-judge`. Achieved rate = requests the server answered 200 / wall
time of the request phase, divided by L (and `server_over_limit`: the same, timed at the server).
`bench_ratelimit.py`: the 10-per-10 s workload of issue 13, with and without rate-limit headers.
`full`: `em-gen --full --target-mb X` against an unlimited server; CPU time of the em-gen process
(user+sys, from wait4) per conversation, and its peak RSS.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def start_server(tmp: Path, *args: str) -> tuple[subprocess.Popen, str, Path]:
    port_file, stats_file = tmp / "port", tmp / "server-stats.json"
    p = subprocess.Popen([PY, "-m", "em_gen.providers.standin.server", "--port-file", str(port_file),
                          "--stats-file", str(stats_file), *args], cwd=ROOT, stderr=subprocess.DEVNULL)
    for _ in range(200):
        if port_file.exists():
            break
        time.sleep(0.05)
    return p, f"http://127.0.0.1:{port_file.read_text().strip()}", stats_file


def stop_server(p: subprocess.Popen, stats_file: Path) -> dict:
    p.terminate()
    p.wait(timeout=10)
    return json.loads(stats_file.read_text())


def run_em_gen(url: str, *args: str) -> tuple[float, float, int, str]:
    env = {**os.environ, "OPENAI_API_KEY": "bench", "OPENAI_BASE_URL": url + "/v1"}
    t = time.monotonic()
    p = subprocess.Popen([PY, "-m", "em_gen.cli", "--provider", "openai", "--no-progress", "--no-monitor", *args],
                         cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t
    err = p.stderr.read()
    rc = os.waitstatus_to_exitcode(status)
    if rc != 0:
        raise SystemExit(f"em-gen failed ({rc}): {err}")
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss, err


def bench_rate(limit: int = 20, n: int = 300, latency: float = 0.2) -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        srv, url, stats_file = start_server(tmp, "--rate-limit", f"{limit}/1", "--latency", str(latency))
        wall, cpu, rss, err = run_em_gen(url, "--batch", str(n), "--out", str(tmp / "out"),
                                          "--rpm", str(limit * 60), "--concurrency", "16", "--no-judge")
        stats = stop_server(srv, stats_file)
        journal = [json.loads(x) for x in (tmp / "out" / "journal.jsonl").read_text().splitlines()]
        ts = sorted(r["ts"] for r in journal if r["t"] == "response")
        ok = stats["by_status"].get("200", stats["by_status"].get(200, 0))
        # the request phase: from the first response back to the last, plus one request's latency
        span = ts[-1] - ts[0] + 1.0 / limit
        rate = (len(ts) - 1) / (ts[-1] - ts[0]) if len(ts) > 1 else 0
        print(json.dumps({"bench": "rate", "limit_per_s": limit, "latency_s": latency, "requests_ok": ok,
                          "http_429": stats["by_status"].get("429", 0), "wall_s": round(wall, 2),
                          "achieved_per_s": round(rate, 3), "achieved_over_limit": round(rate / limit, 3),
                          "span_s": round(span, 2),
                          # at the server: answers per second from the first request received to the
                          # last answer sent (the first answer's latency included), over the limit
                          "server_over_limit": round((ok - 1) / (stats["span_s"] - latency) / limit, 3)}))


def bench_full(target_mb: float = 2.0) -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        srv, url, stats_file = start_server(tmp)
        wall, cpu, rss, err = run_em_gen(url, "--full", "--target-mb", str(target_mb), "--out", str(tmp / "out"),
                                          "--concurrency", "8")
        stop_server(srv, stats_file)
        n = sum(1 for _ in open(tmp / "out" / "journal.jsonl") if '"t":"verdict"' in _)
        print(json.dumps({"bench": "full", "target_mb": target_mb, "conversations_judged": n,
                          "wall_s": round(wall, 2), "process_cpu_s": round(cpu, 2),
                          "process_cpu_ms_per_conversation": round(1000 * cpu / max(1, n), 2),
                          "peak_rss_mb": round(rss / 1024, 1)}))


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "rate"
    if which == "rate":
        bench_rate(*(float(x) if "." in x else int(x) for x in sys.argv[2:]))
    elif which == "full":
        bench_full(*(float(x) for x in sys.argv[2:]))
    else:
        raise SystemExit("usage: bench_generation.py rate [LIMIT N LATENCY] | full [TARGET_MB]")
