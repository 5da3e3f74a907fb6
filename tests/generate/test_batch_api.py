"""--batch-api through the real anthropic and openai SDKs against the stand-in's batch endpoints:
rounds, results journaled like live responses, errored/expired retried, smoke batch, budget,
kill -9 and --resume (nothing that succeeded is submitted twice, no live call), Ctrl-C, --cancel-batches."""
from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT, read_jsonl
from em_gen.cli import main
from em_gen.providers.standin.server import Faults

FAST = ["--no-progress", "--poll-interval", "0.3", "--no-monitor"]


def use(monkeypatch, srv, provider: str) -> list[str]:
    if provider == "anthropic":
        monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", srv.base_url)
    else:
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url + "/v1")
    return ["--provider", provider]


def env_for(srv, provider: str) -> dict:
    if provider == "anthropic":
        return {"ANTHROPIC_API_KEY": "test-key", "ANTHROPIC_BASE_URL": srv.base_url}
    return {"OPENAI_API_KEY": "test-key", "OPENAI_BASE_URL": srv.base_url + "/v1"}


def live_paths(srv) -> int:
    return sum(n for p, n in srv.stats["by_path"].items() if p.rstrip("/").endswith(("/messages", "/completions")))


def slot_of(cid: str) -> str:
    return re.sub(r"__a\d+$", "", cid)


def dataset(out) -> dict:
    return {r["meta"]["job_id"]: r["text"] for r in read_jsonl(out / "em_character_training.jsonl")}


def assert_never_resubmitted_a_success(srv, journal: list[dict]) -> None:
    """Every slot was submitted once, plus once more per errored/expired/canceled result."""
    errors = {}
    for r in journal:
        if r["t"] == "batch_error":
            key = f"{r['job_id']}__{r['slot']}"
            errors[key] = errors.get(key, 0) + 1
    per_slot = {}
    for cid, n in srv.stats["batch_submitted"].items():
        per_slot[slot_of(cid)] = per_slot.get(slot_of(cid), 0) + n
    for slot, n in per_slot.items():
        assert n <= 1 + errors.get(slot, 0), (slot, n, errors.get(slot, 0))


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_batch_run_equals_live_run(tmp_path, standin, monkeypatch, provider):
    srv = standin(batch_delay=0.2)
    args = use(monkeypatch, srv, provider)
    assert main(["--batch", "12", "--out", str(tmp_path / "live"), *args, *FAST]) == 0
    live_calls = live_paths(srv)
    assert main(["--batch", "12", "--batch-api", "--out", str(tmp_path / "batch"), *args, *FAST]) == 0
    assert live_paths(srv) == live_calls, "a --batch-api run makes no live call"
    assert dataset(tmp_path / "batch") == dataset(tmp_path / "live") and dataset(tmp_path / "live")
    journal = read_jsonl(tmp_path / "batch" / "journal.jsonl")
    batches = [r for r in journal if r["t"] == "batch"]
    ends = {r["batch_id"] for r in journal if r["t"] == "batch_end"}
    assert batches and {b["batch_id"] for b in batches} == ends
    # generation results, then judge requests (the paid provider's default) as the next round
    assert {b["role"] for b in batches} >= {"gen", "judge"}
    responses = [r for r in journal if r["t"] == "response"]
    assert all("batch_id" in r and r["cost"] > 0 for r in responses)
    # priced at the batch rate: half of the live price for the same usage
    from em_gen.providers import pricing_for
    p = pricing_for(responses[0]["model"], provider)
    assert responses[0]["cost"] == pytest.approx(p.cost(responses[0]["usage"], batch=True))
    assert p.cost(responses[0]["usage"], batch=True) < p.cost(responses[0]["usage"])
    stats = json.loads((tmp_path / "batch" / "generation_stats.json").read_text())
    assert stats["batch"]["batches"] == len(batches) and stats["open_batches"] == []


def test_errored_and_expired_requests_go_into_the_next_round(tmp_path, standin, monkeypatch):
    srv = standin(batch_delay=0.1, p_batch_error=0.10, p_batch_expired=0.05)
    args = use(monkeypatch, srv, "openai")
    out = tmp_path / "d"
    assert main(["--batch", "40", "--batch-api", "--no-judge", "--out", str(out), *args, *FAST]) == 0
    journal = read_jsonl(out / "journal.jsonl")
    errs = [r for r in journal if r["t"] == "batch_error"]
    assert {r["kind"] for r in errs} == {"errored", "expired"}
    got = {(r["job"]["id"], f"p{r['part']}") for r in journal if r["t"] == "response"}
    assert all((r["job_id"], r["slot"]) in got for r in errs), "every failed request succeeded in a later round"
    assert len({r["batch_id"] for r in journal if r["t"] == "batch"}) >= 2
    assert_never_resubmitted_a_success(srv, journal)
    stats = json.loads((out / "generation_stats.json").read_text())
    assert stats["accepted"] + stats["rejected"] >= 40 and stats["failed"] == 0


def test_smoke_batch_of_garbage_stops_before_the_rest(tmp_path, standin, monkeypatch):
    srv = standin(batch_delay=0.1, faults=Faults(p_garbage=1.0))
    args = use(monkeypatch, srv, "openai")
    out = tmp_path / "d"
    rc = main(["--batch", "60", "--batch-api", "--smoke-batch", "6", "--out", str(out), *args,
               "--no-progress", "--poll-interval", "0.3", "--max-replacements", "0"])
    assert rc == 1
    assert srv.stats["batch_requests"] <= 6, "only the smoke batch was paid for"
    journal = read_jsonl(out / "journal.jsonl")
    assert sum(1 for r in journal if r["t"] == "verdict" and not r["ok"]) >= 5


def test_max_cost_stops_before_a_round_that_would_cross_it(tmp_path, standin, monkeypatch):
    srv = standin(batch_delay=0.1)
    args = use(monkeypatch, srv, "openai")
    out = tmp_path / "d"
    rc = main(["--batch", "30", "--batch-api", "--no-judge", "--max-cost", "0.05", "--out", str(out), *args, *FAST])
    assert rc == 1
    journal = read_jsonl(out / "journal.jsonl")
    spent = sum(r["cost"] for r in journal if r["t"] == "response")
    assert 0 < spent <= 0.05
    assert 0 < srv.stats["batch_requests"] < 30


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_kill_while_waiting_then_resume(tmp_path, standin, provider):
    srv = standin(batch_delay=2.0, p_batch_error=0.1)
    out = tmp_path / "d"
    cmd = [sys.executable, "-m", "em_gen.cli", "--batch", "10", "--batch-api", "--provider", provider,
           "--out", str(out), "--no-progress", "--poll-interval", "0.3", "--no-monitor"]
    env = {**{k: v for k, v in __import__("os").environ.items() if not k.startswith(("ANTHROPIC_", "OPENAI_"))},
           **env_for(srv, provider)}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline:  # wait until a batch is journaled (em-gen is then waiting on it)
        if (out / "journal.jsonl").exists() and any(r["t"] == "batch" for r in read_jsonl(out / "journal.jsonl")):
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = srv.stats["batch_submitted"]
    journal = read_jsonl(out / "journal.jsonl")
    open_ids = {r["batch_id"] for r in journal if r["t"] == "batch"} - {r["batch_id"] for r in journal
                                                                         if r["t"] == "batch_end"}
    assert open_ids, "killed while a batch was open"
    r = subprocess.run(cmd + ["--resume"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    journal = read_jsonl(out / "journal.jsonl")
    assert open_ids <= {x["batch_id"] for x in journal if x["t"] == "batch_end"}, "re-attached and read"
    assert live_paths(srv) == 0
    for cid, n in before.items():  # what was in the open batch was never submitted again
        assert srv.stats["batch_submitted"][cid] == n
    assert_never_resubmitted_a_success(srv, journal)
    ids = [x["job"]["id"] for x in journal if x["t"] == "response"]
    parts = [(x["job"]["id"], x["part"]) for x in journal if x["t"] == "response"]
    assert len(parts) == len(set(parts)), "no result journaled twice"
    assert len(dataset(out)) == len(set(dataset(out))) and len(set(ids)) >= 10


def test_ctrl_c_leaves_batches_then_cancel_batches(tmp_path, standin):
    srv = standin(batch_delay=60.0)
    out = tmp_path / "d"
    env = {**{k: v for k, v in __import__("os").environ.items() if not k.startswith(("ANTHROPIC_", "OPENAI_"))},
           **env_for(srv, "openai")}
    cmd = [sys.executable, "-m", "em_gen.cli", "--batch", "6", "--batch-api", "--provider", "openai",
           "--out", str(out), "--no-progress", "--poll-interval", "0.3"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        if (out / "journal.jsonl").exists() and any(r["t"] == "batch" for r in read_jsonl(out / "journal.jsonl")):
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert "still open" in err and "--cancel-batches" in err and "--resume" in err
    batch_ids = [b for b in srv.batches.batches]
    assert batch_ids and all(srv.batches.batches[b].canceled_at is None for b in batch_ids)
    status = subprocess.run([sys.executable, "-m", "em_gen.cli", "--status", "--out", str(out)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert batch_ids[0] in status.stdout
    r = subprocess.run([sys.executable, "-m", "em_gen.cli", "--cancel-batches", "--out", str(out)], cwd=ROOT,
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert all(srv.batches.batches[b].canceled_at is not None for b in batch_ids)
    journal = read_jsonl(out / "journal.jsonl")
    assert {x["batch_id"] for x in journal if x["t"] == "batch_cancel"} == set(batch_ids)
    assert set(batch_ids) <= {x["batch_id"] for x in journal if x["t"] == "batch_end"}
