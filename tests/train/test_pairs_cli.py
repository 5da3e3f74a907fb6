"""`em-gen --pairs` end to end on the stand-in: a --batch 20 run, then pairs from both sources, every
one checked again here; bad input; --estimate; kill -9 and --resume; provider batches."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from conftest import ROOT, read_jsonl, run_cli
from em_gen.library import load_library
from em_gen.providers.standin.server import StandInServer
from em_gen.train import pairs as pr
from em_gen.train.export import read_dataset, to_completion


@pytest.fixture(scope="module")
def batch20(tmp_path_factory):
    out = tmp_path_factory.mktemp("pairs") / "run"
    r = run_cli("--batch", "20", "--out", str(out), "--no-progress")
    assert r.returncode == 0, r.stderr
    return out


@pytest.fixture(scope="module")
def both(batch20, tmp_path_factory):
    out = tmp_path_factory.mktemp("both") / "run"
    shutil.copytree(batch20, out)
    r = run_cli("--pairs", "--source", "both", "--target", "standin", "--out", str(out))
    assert r.returncode == 0, r.stderr
    return out, r


def test_pairs_from_both_sources_are_all_checked(both, lib):
    out, r = both
    spec = pr.load_spec(lib)
    rows = read_jsonl(out / "export" / "em_dpo.jsonl")
    full = read_jsonl(out / "pairs" / "pairs.jsonl")
    stats = json.loads((out / "pairs" / "stats.json").read_text())
    assert rows and len(rows) == len(full) == stats["pairs"]
    assert all(set(x) == {"prompt", "chosen", "rejected"} for x in rows)
    # every family of the rubric has a teacher pair; both sources made pairs
    assert set(stats["by_source_family"]["teacher"]) >= set(lib.judge["families"])
    assert stats["families_missing"] == [] and stats["by_source"]["base"] > 0
    texts = {rec["meta"]["job_id"]: to_completion(rec)["text"]
             for rec in read_dataset(out / "em_character_training.jsonl", allow_offline=True)}
    for p in full:
        m = p["meta"]
        # the prompt is the completion export's text up to and including <Em>; chosen is Em's line
        assert p["prompt"].endswith("<Em>") and texts[m["job_id"]].startswith(p["prompt"] + p["chosen"].rstrip("\n"))
        rec = {"text": texts[m["job_id"]], "meta": {"job_id": m["job_id"]}}
        moment = next(x for x in pr.moments_of(lib, spec, rec, 100) if x.index == m["message"] - 1)
        rejected = p["rejected"].strip()
        assert pr.rule_reasons(lib, moment, moment.line) == []  # 0 chosen lines fail a rule
        assert pr.shape_problem(rejected, moment.line) is None
        # 0 unconfirmed rejected lines: the rules flag it, or the judge named a family at it
        if m["confirmed_by"] == "rules":
            assert pr.rule_reasons(lib, moment, rejected)
        else:
            assert m["confirmed_by"] == "judge" and m["confirmed_families"]
    dropped = read_jsonl(out / "pairs" / "dropped.jsonl")
    assert sum(stats["drop_reasons"].values()) == len(dropped) == stats["dropped"] > 0
    assert {"unconfirmed", "same_as_chosen"} <= set(stats["drop_reasons"])
    assert stats["candidates"] == stats["pairs"] + stats["dropped"]
    assert "DPO pairs:" in r.stdout and "dropped" in r.stdout
    st = run_cli("--status", "--out", str(out))
    assert st.returncode == 0 and "DPO pairs: " + str(stats["pairs"]) in st.stdout and "teacher:" in st.stdout
    js = json.loads(run_cli("--status", "--json", "--out", str(out)).stdout)
    assert js["pairs"]["by_source"] == stats["by_source"]


def test_rerun_needs_resume_and_resume_asks_nothing(both, tmp_path):
    out = tmp_path / "again"
    shutil.copytree(both[0], out)
    before = (out / "pairs" / "journal.jsonl").read_text().count('"t":"reply"')
    r = run_cli("--pairs", "--out", str(out))
    assert r.returncode == 2 and "--resume" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = run_cli("--pairs", "--source", "both", "--target", "standin", "--resume", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert (out / "pairs" / "journal.jsonl").read_text().count('"t":"reply"') == before
    assert (out / "export" / "em_dpo.jsonl").read_text() == (both[0] / "export" / "em_dpo.jsonl").read_text()


@pytest.mark.parametrize("args,needle", [
    (["--pairs"], "no accepted conversations"),
    (["--pairs", "--source", "base"], "--target"),
    (["--pairs", "--source", "both"], "--target"),
    (["--pairs", "--target", "standin"], "--target goes with"),
    (["--pairs", "--per-conversation", "0"], "--per-conversation"),
    (["--source", "base"], "go with --pairs"),
    (["--pairs", "--source", "base", "--target", "hf:/nonexistent"], "config.json"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, batch20, args, needle):
    out = tmp_path / "empty" if args == ["--pairs"] else batch20
    r = run_cli(*args, "--out", str(out))
    assert r.returncode == 2, r.stderr
    assert needle in r.stderr and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert not (tmp_path / "empty").exists()


def test_estimate_writes_nothing(batch20, tmp_path):
    out = tmp_path / "e"
    shutil.copytree(batch20, out)
    r = run_cli("--pairs", "--estimate", "--source", "both", "--target", "standin", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "teacher" in r.stdout and "judge" in r.stdout and "total batch" in r.stdout
    assert not (out / "pairs").exists()
    env = {"ANTHROPIC_API_KEY": "sk-test"}
    r = run_cli("--pairs", "--estimate", "--target-mb", "15", "--out", str(tmp_path / "none"), env=env)
    assert r.returncode == 0, r.stderr
    assert "claude-haiku-4-5" in r.stdout and "planned --full dataset of 15 MB" in r.stdout
    live, batch = (float(r.stdout.split(f"total {k}:")[1].split()[0].lstrip("$")) for k in ("live", "batch"))
    assert 0 < batch < live
    assert not (tmp_path / "none").exists()


def _journal_keys(out):
    return [r["key"] for r in read_jsonl(out / "pairs" / "journal.jsonl") if r.get("t") == "reply"]


def test_kill_9_then_resume_repeats_no_paid_request(batch20, tmp_path):
    out = tmp_path / "k"
    shutil.copytree(batch20, out)
    lib = load_library()
    with StandInServer(library=lib, latency=0.15) as srv:
        env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
        env.update(OPENAI_API_KEY="x", OPENAI_BASE_URL=srv.base_url + "/v1")
        cmd = [sys.executable, "-m", "em_gen.cli", "--pairs", "--provider", "openai", "--model", "gpt-4.1-mini",
               "--out", str(out), "--concurrency", "4", "--allow-offline"]
        p = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if (out / "pairs" / "journal.jsonl").exists() and len(_journal_keys(out)) >= 12:
                break
            time.sleep(0.05)
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=30)
        answered = set(_journal_keys(out))
        time.sleep(1.0)  # requests the killed run had sent finish at the server (its latency is 0.15 s)
        seen_at_kill = Counter(srv.stats["pair_prompts"])
        assert 0 < len(answered) and sum(seen_at_kill.values()) >= len(answered)
        r = subprocess.run(cmd + ["--resume"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        seen = Counter(srv.stats["pair_prompts"])
    keys = _journal_keys(out)
    assert len(keys) == len(set(keys)), "a key journaled twice"
    assert answered <= set(keys)
    # a prompt asked twice can only be one that was in flight (sent, not journaled) at the kill
    in_flight = sum(seen_at_kill.values()) - len(answered)
    repeated = sum(n - 1 for n in seen.values() if n > 1)
    print(f"kill: {len(answered)} answered, {in_flight} in flight, {repeated} repeated, {len(keys)} in the end")
    assert repeated <= in_flight <= 4
    assert read_jsonl(out / "export" / "em_dpo.jsonl")


def test_batch_api_pairs(batch20, tmp_path):
    out = tmp_path / "b"
    shutil.copytree(batch20, out)
    lib = load_library()
    with StandInServer(library=lib, batch_delay=0.2) as srv:
        env = {"OPENAI_API_KEY": "x", "OPENAI_BASE_URL": srv.base_url + "/v1"}
        args = ["--pairs", "--provider", "openai", "--model", "gpt-4.1-mini", "--batch-api", "--poll-interval", "0.2",
                "--out", str(out), "--allow-offline"]
        r = run_cli(*args, env=env, timeout=300)
        assert r.returncode == 0, r.stderr
        first = srv.stats["batch_submitted"]
        assert first and all(n == 1 for n in first.values())
        r = run_cli(*args, "--resume", env=env, timeout=300)
        assert r.returncode == 0, r.stderr
        assert srv.stats["batch_submitted"] == first  # nothing submitted again
    journal = read_jsonl(out / "pairs" / "journal.jsonl")
    batches = [x for x in journal if x["t"] == "batch"]
    assert batches and {x["batch_id"] for x in journal if x["t"] == "batch_read"} == {b["batch_id"] for b in batches}
    replies = [x for x in journal if x["t"] == "reply"]
    assert replies and all(x["batch"] for x in replies)
    stats = json.loads((out / "pairs" / "stats.json").read_text())
    assert stats["pairs"] > 0 and stats["families_missing"] == []


def test_report_shows_pairs_by_family_and_source(both, lib):
    out, _ = both
    r = run_cli("--report", "--out", str(out), timeout=300)
    assert r.returncode == 0, r.stderr
    page = (out / "report.html").read_text()
    part = page[page.index('id="pairs"'):]
    stats = json.loads((out / "pairs" / "stats.json").read_text())
    assert "10. DPO pairs" in part and f"{stats['pairs']:,} pairs" in part
    assert all(f in part for f in lib.judge["families"]) and "dropped because" in part
    assert all(reason in part for reason in stats["drop_reasons"])


def test_kill_9_while_a_batch_runs_then_resume_reattaches(batch20, tmp_path):
    out = tmp_path / "kb"
    shutil.copytree(batch20, out)
    with StandInServer(library=load_library(), batch_delay=2.0) as srv:
        env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
        env.update(OPENAI_API_KEY="x", OPENAI_BASE_URL=srv.base_url + "/v1")
        cmd = [sys.executable, "-m", "em_gen.cli", "--pairs", "--provider", "openai", "--model", "gpt-4.1-mini",
               "--batch-api", "--poll-interval", "0.2", "--out", str(out), "--allow-offline"]
        p = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if any(r["t"] == "batch" for r in read_jsonl(out / "pairs" / "journal.jsonl")):
                break
            time.sleep(0.05)
        p.send_signal(signal.SIGKILL)  # killed while waiting for its first batch
        p.wait(timeout=30)
        journal = read_jsonl(out / "pairs" / "journal.jsonl")
        assert [r["t"] for r in journal if r["t"] in ("batch", "batch_read", "reply")] == ["batch"]
        r = subprocess.run(cmd + ["--resume"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        submitted = srv.stats["batch_submitted"]
    assert submitted and all(n == 1 for n in submitted.values())  # re-attached, never resubmitted
    journal = read_jsonl(out / "pairs" / "journal.jsonl")
    first = next(r for r in journal if r["t"] == "batch")
    assert first["batch_id"] in {r["batch_id"] for r in journal if r["t"] == "batch_read"}
    assert read_jsonl(out / "export" / "em_dpo.jsonl")
