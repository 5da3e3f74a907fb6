"""A folder a user can trust (#19): one writer per folder, no typo that ruins a folder, damaged journal
lines named instead of skipped silently."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from conftest import ROOT, read_jsonl, run_cli
from em_gen.cli import main


def _popen(out, env, *extra):
    return subprocess.Popen([sys.executable, "-m", "em_gen.cli", "--batch", "5", "--provider", "openai", "--out",
                             str(out), "--concurrency", "1", "--no-progress", *extra], cwd=ROOT,
                            env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_lock_holder(out, p, timeout=30):
    from em_gen.generate.lock import holder
    deadline = time.time() + timeout
    while time.time() < deadline and p.poll() is None:
        if holder(out):
            return holder(out)
        time.sleep(0.05)
    raise AssertionError("the first run never took the folder's lock")


def test_a_second_writer_is_refused_naming_the_first_and_status_still_reads(tmp_path, lib):
    from em_gen.providers.standin.server import StandInServer
    with StandInServer(library=lib, latency=4.0) as srv:  # slow answers: the first run is still going
        out = tmp_path / "d"
        env = {"OPENAI_API_KEY": "x", "OPENAI_BASE_URL": srv.base_url + "/v1"}
        first = _popen(out, env)
        try:
            who = _wait_for_lock_holder(out, first)
            assert who["pid"] == first.pid and "--batch" in who["command"]
            second = run_cli("--batch", "5", "--provider", "openai", "--out", str(out), "--no-progress", env=env)
            assert second.returncode == 2
            assert f"pid {first.pid}" in second.stderr and "another em-gen is writing" in second.stderr
            assert len(second.stderr.strip().splitlines()) == 1
            for mode in (["--revalidate"], ["--export", "completion"], ["--batch", "5", "--resume"]):
                r = run_cli(*mode, "--provider", "openai", "--out", str(out), env=env)
                assert r.returncode == 2 and "another em-gen is writing" in r.stderr, (mode, r.stderr)
            status = run_cli("--status", "--out", str(out))  # read-only: works while the run writes
            assert status.returncode == 0, status.stderr
            assert f"pid {first.pid}" in status.stdout
            assert first.poll() is None, "the first run ended before the checks; they proved nothing"
            first.send_signal(signal.SIGTERM)  # finishes what is in flight
            first.communicate(timeout=60)
        finally:
            if first.poll() is None:
                first.kill()
        r = run_cli("--batch", "5", "--resume", "--provider", "openai", "--out", str(out), "--no-progress",
                    "--concurrency", "5", env=env)
        assert r.returncode == 0, r.stderr
    ids = [d["meta"]["job_id"] for d in read_jsonl(out / "em_character_training.jsonl")]
    assert len(ids) == len(set(ids)) == 5
    runs = [r["run"] for r in read_jsonl(out / "journal.jsonl") if r["t"] == "run"]
    assert runs == ["batch1"]  # the refused writer recorded nothing


def test_a_killed_runs_lock_file_never_blocks_resume(tmp_path, lib):
    from em_gen.providers.standin.server import StandInServer
    with StandInServer(library=lib, latency=0.3) as srv:
        out = tmp_path / "d"
        env = {"OPENAI_API_KEY": "x", "OPENAI_BASE_URL": srv.base_url + "/v1"}
        p = _popen(out, env)
        _wait_for_lock_holder(out, p)
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=30)
        assert (out / ".em-gen.lock").exists()  # the file stays; the kernel dropped the lock itself
        r = run_cli("--batch", "5", "--resume", "--provider", "openai", "--out", str(out), "--no-progress", env=env)
        assert r.returncode == 0, r.stderr
    assert len(read_jsonl(out / "em_character_training.jsonl")) == 5


def test_lock_file_holds_no_secret(tmp_path, server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-123")
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url + "/v1")
    out = tmp_path / "d"
    monkeypatch.setattr(sys, "argv", ["em-gen", "--batch", "1", "--prices=/secret/path.yaml"])
    assert main(["--batch", "1", "--provider", "openai", "--out", str(out), "--no-progress"]) == 0
    text = (out / ".em-gen.lock").read_text()
    assert "sk-secret" not in text and "/secret/path" not in text


def test_a_huge_batch_is_refused_before_anything_is_written(tmp_path, capsys):
    out = tmp_path / "d"
    assert main(["--batch", "1000000000", "--out", str(out)]) == 2
    assert "at most 100,000" in capsys.readouterr().err
    assert not out.exists()
    assert main(["--full", "--target-mb", "100000", "--allow-offline", "--out", str(out)]) == 2
    assert not out.exists()


def test_status_never_rebuilds_a_plan_and_skips_a_corrupt_run_record(tmp_path, server, monkeypatch, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", "x")
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url + "/v1")
    out = tmp_path / "d"
    assert main(["--batch", "3", "--provider", "openai", "--out", str(out), "--no-progress"]) == 0
    run = next(r for r in read_jsonl(out / "journal.jsonl") if r["t"] == "run")
    assert sum(run["mix"]["engagement"].values()) == 3  # the planned mix is recorded with the run
    # a run record a typo (or an old version) left with an absurd size, and one with a broken field
    with open(out / "journal.jsonl", "a") as f:
        f.write(json.dumps({**run, "run": "batch2", "n": 1_000_000_000, "mix": None}) + "\n")
        f.write(json.dumps({"t": "run", "run": "batch3", "mode": "batch", "n": "five"}) + "\n")
    capsys.readouterr()
    t0 = time.time()
    assert main(["--status", "--out", str(out)]) == 0
    assert time.time() - t0 < 20
    text = capsys.readouterr().out
    assert "corrupt run record 'batch2' skipped" in text and "corrupt run record 'batch3' skipped" in text
    assert main(["--report", "--out", str(out)]) == 0


def test_a_corrupt_journal_line_is_named_with_its_offset_everywhere(tmp_path, server, monkeypatch, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", "x")
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url + "/v1")
    out = tmp_path / "d"
    assert main(["--batch", "4", "--provider", "openai", "--out", str(out), "--no-progress"]) == 0
    path = out / "journal.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    k = next(i for i, line in enumerate(lines) if b'"t":"response"' in line)
    offset = sum(len(x) for x in lines[:k])
    lines[k] = lines[k][:40] + b"\x00garbage\n"  # a paid response damaged in the middle of the journal
    path.write_bytes(b"".join(lines))
    capsys.readouterr()
    assert main(["--status", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"1 unreadable line(s) skipped, at byte offset(s) {offset}" in text
    assert main(["--status", "--json", "--out", str(out)]) == 0
    assert any(str(offset) in p for p in json.loads(capsys.readouterr().out)["journal_problems"])
    for mode in (["--revalidate"], ["--batch", "4", "--resume", "--provider", "openai", "--no-progress"]):
        main([*mode, "--out", str(out)])
        assert f"byte offset(s) {offset}" in capsys.readouterr().err, mode
    assert path.read_bytes().count(b"\x00garbage") == 1  # never rewritten away


def test_full_resume_starts_the_run_when_there_is_none_and_then_continues_it(tmp_path, capsys):
    out = tmp_path / "d"
    args = ["--full", "--resume", "--target-mb", "0.01", "--allow-offline", "--out", str(out), "--no-progress"]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "no earlier --full run" in err and "starting full1" in err
    runs = [r for r in read_jsonl(out / "journal.jsonl") if r["t"] == "run" and not r.get("extension")]
    assert [r["run"] for r in runs] == ["full1"]
    n = sum(1 for r in read_jsonl(out / "journal.jsonl") if r["t"] == "response")
    assert main(args) == 0  # continues full1: nothing owed, nothing asked, no full2
    err = capsys.readouterr().err
    assert "starting" not in err
    assert sum(1 for r in read_jsonl(out / "journal.jsonl") if r["t"] == "response") == n
    assert [r["run"] for r in read_jsonl(out / "journal.jsonl") if r["t"] == "run" and not r.get("extension")] == ["full1"]
    assert main([*args, "--seed", "7"]) == 2  # the guard against another plan stays
