"""kill -9 at random moments, then --resume: the final dataset is what an uninterrupted run makes,
with no duplicate, nothing lost and no torn line. And a run through heavy injected faults completes
with every job accounted for."""
import json
import os
import random
import signal
import subprocess
import sys
import time

from conftest import ROOT, read_jsonl, run_cli
from em_gen.library import load_library
from em_gen.generate.plan import jobs_for_bytes, make_plan, replacement_for
from em_gen.providers.standin.server import Faults, StandInServer

TARGET_MB = "0.05"


def _dataset(out):
    raw = (out / "em_character_training.jsonl").read_bytes()
    assert raw == b"" or raw.endswith(b"\n"), "torn last line"
    return [json.loads(x) for x in raw.decode().splitlines()]


def _full(out, env, *extra):
    return [sys.executable, "-m", "em_gen.cli", "--full", "--target-mb", TARGET_MB, "--provider", "openai",
            "--out", str(out), "--concurrency", "4", "--no-progress", "--no-monitor", *extra]


def _size(path) -> int:
    return path.stat().st_size if path.exists() else 0


def test_sigkill_at_random_moments_then_resume_matches_uninterrupted(tmp_path):
    rng = random.Random(1234)
    with StandInServer(library=load_library(), latency=0.3) as srv:
        env = {**os.environ, "OPENAI_API_KEY": "x", "OPENAI_BASE_URL": srv.base_url + "/v1"}
        ref = tmp_path / "ref"
        r = subprocess.run(_full(ref, env), env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        expected = {(d["meta"]["job_id"], d["text"]) for d in _dataset(ref)}

        out = tmp_path / "killed"
        kills = 0
        for i in range(10):
            args = _full(out, env) if i == 0 else _full(out, env, "--resume")
            before = _size(out / "journal.jsonl")
            p = subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            # a random moment once this attempt journals something, not during start-up (slow on a loaded machine)
            start = time.monotonic()
            while _size(out / "journal.jsonl") <= before and p.poll() is None and time.monotonic() - start < 60:
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 1.0))
            if p.poll() is not None:
                break  # finished before this kill: the final resume below must change nothing
            p.send_signal(signal.SIGKILL)
            p.wait(timeout=60)
            kills += 1
            if kills == 5:
                break
            if out.joinpath("em_character_training.jsonl").exists():
                _dataset(out)  # parses: no torn line even right after a kill
        r = subprocess.run(_full(out, env, "--resume"), env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
    assert kills >= 3
    data = _dataset(out)
    ids = [d["meta"]["job_id"] for d in data]
    assert len(ids) == len(set(ids)), "duplicate conversation"
    assert {(d["meta"]["job_id"], d["text"]) for d in data} == expected
    # every accepted conversation of the journal is in the dataset and has its .txt
    journal = read_jsonl(out / "journal.jsonl")
    accepted = {r["job_id"] for r in journal if r["t"] == "verdict" and r["ok"]}
    assert accepted == set(ids)
    assert all((out / f"conversation_{i}.txt").exists() for i in ids)


def test_full_run_through_injected_faults_accounts_for_every_job(tmp_path):
    lib = load_library()
    faults = Faults(p429=0.30, p500=0.05, p529=0.05, p_garbage=0.05, p_hallucination=0.05, retry_after=0.2, seed=7)
    with StandInServer(library=lib, faults=faults) as srv:
        env = {"OPENAI_API_KEY": "x", "OPENAI_BASE_URL": srv.base_url + "/v1"}
        out = tmp_path / "d"
        r = run_cli("--full", "--target-mb", TARGET_MB, "--provider", "openai", "--out", str(out),
                    "--concurrency", "6", "--no-progress", "--no-monitor", env=env, timeout=300)
        assert r.returncode == 0, r.stderr
        stats = srv.stats
    assert stats["by_status"].get(429, stats["by_status"].get("429", 0)) > 0
    journal = read_jsonl(out / "journal.jsonl")
    verdicts = {r["job_id"]: r for r in journal if r["t"] == "verdict"}
    failed = {r["job"]["id"] for r in journal if r["t"] == "failed"}
    runs = [r for r in journal if r["t"] == "run"]
    plan = []
    for run in runs:
        prefix = run["run"] if not run.get("extension") else f"{run['run']}x{run['extension']}"
        plan += make_plan(lib, run["n"], run["seed"], prefix)
    assert len(plan) >= jobs_for_bytes(lib, int(float(TARGET_MB) * 1e6))
    for job in plan:  # every chain ends accepted, or rejected with no replacement left
        j = job
        while True:
            assert j.id in verdicts or j.id in failed, f"{j.id} unaccounted"
            v = verdicts.get(j.id)
            if v is None or v["ok"] or j.replacement >= lib.mix["max_replacements"]:
                break
            assert v["reasons"], "a rejection without reasons"
            j = replacement_for(lib, j, run["seed"])
    data = _dataset(out)
    assert sum(len(d["text"].encode()) for d in data) >= float(TARGET_MB) * 1e6
    # whatever content faults were injected, none reached the dataset
    for d in data:
        for junk in ("\ufffd", "User:", "Assistant:", "<|im_start|>", "### Human", "I hope this helps"):
            assert junk not in d["text"], junk
