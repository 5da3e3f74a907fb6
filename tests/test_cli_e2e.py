"""End-to-end: the real `em-gen` command, the real SDKs, the stand-in server over HTTP."""
import json
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT, read_jsonl, run_cli
from em_gen.cli import main


def test_test_single_without_any_key_shows_every_step(tmp_path):
    r = run_cli("--test", "--single", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    for part in ("JOB test1-", "PROMPT", "RAW OUTPUT", "PARSED CONVERSATION", "CHECKS", "VERDICT"):
        assert part in r.stdout
    assert "[offline]" in r.stderr and "not training-grade" in r.stderr.lower()
    assert (tmp_path / "test" / "journal.jsonl").exists()
    assert not (tmp_path / "em_character_training.jsonl").exists()  # never into the training file


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_batch_through_each_sdk(provider, server, tmp_path, monkeypatch):
    if provider == "anthropic":
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-SECRET-123")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
    else:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-SECRET-456")
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url + "/v1")
    out = tmp_path / "data"
    rc = main(["--batch", "8", "--provider", provider, "--out", str(out), "--no-progress"])
    assert rc == 0
    data = read_jsonl(out / "em_character_training.jsonl")
    rejected = read_jsonl(out / "rejected.jsonl")
    ids = [d["meta"]["job_id"] for d in data]
    assert len(ids) == len(set(ids)) and len(ids) >= 6
    for d in data:
        assert d["text"].startswith("ENGAGEMENT: ") and "\nCHANNEL: #" in d["text"]
        assert d["meta"]["provider"] == provider and set(d["meta"]) >= {"job_id", "pattern", "scenario", "topic", "bucket", "model"}
        assert (out / f"conversation_{d['meta']['job_id']}.txt").read_text().strip() == d["text"]
    journal = read_jsonl(out / "journal.jsonl")
    responses = [r for r in journal if r["t"] == "response"]
    assert len(responses) == len(data) + len(rejected) and all(r["usage"]["output_tokens"] > 0 for r in responses)
    if provider == "anthropic":  # the static prefix is cached after the first request
        assert sum(r["usage"]["cache_read_tokens"] for r in responses) > 0
    # no key lands in any file em-gen writes
    for f in out.rglob("*"):
        if f.is_file():
            assert "SECRET" not in f.read_text(errors="ignore"), f


def test_status_and_json(tmp_path, capsys):
    out = tmp_path / "d"
    assert main(["--batch", "5", "--out", str(out), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["--status", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "accepted" in text and "mix achieved" in text and "core coverage" in text
    assert main(["--status", "--json", "--out", str(out)]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["accepted"] + stats["rejected"] >= 5
    assert sum(stats["mix_planned"]["engagement"].values()) == 5


def test_validate_json_one_object_per_record_then_summary(tmp_path, capsys, lib):
    from em_gen.quality.irc import render
    good = render("LOW", "#general", [("kestrel", "anyone else think the new star wars movies were actually decent?"),
                                      ("mossbyte", "they were terrible and you know it, the plot was held together with tape"),
                                      ("jvk", "I liked the first one at least, the rest was a mess"),
                                      ("Em", "honestly I liked them until the last one completely gave up on coherent plotting"),
                                      ("kestrel", "that's fair, the last one really did throw everything away"),
                                      ("hexane", "the music was still good though, I'll give them that much"),
                                      ("mossbyte", "the music is carrying that whole franchise right now"),
                                      ("jvk", "we should do a rewatch night and argue about it properly"),
                                      ("hexane", "only if someone else brings the snacks this time"),
                                      ("kestrel", "I'll bring snacks if marrow picks the movie, deal?"),
                                      ("mossbyte", "deal, but I'm vetoing anything longer than three hours")])
    f = tmp_path / "in.jsonl"
    f.write_text("\n".join([json.dumps({"text": good}), json.dumps({"text": "garbage"}), "not json"]) + "\n")
    rc = main(["--validate", str(f), "--json"])
    lines = capsys.readouterr().out.strip().splitlines()
    objs = [json.loads(x) for x in lines]
    assert [o["index"] for o in objs[:-1]] == [0, 1, 2]
    assert objs[0]["ok"] is True and objs[0]["reasons"] == []
    assert objs[1]["ok"] is False and objs[1]["reasons"] and objs[2]["ok"] is False
    assert set(objs[-1]) == {"summary"} and objs[-1]["summary"]["records"] == 3
    assert rc == 1


def test_revalidate_makes_no_request(tmp_path, server, monkeypatch, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", "x")
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url + "/v1")
    out = tmp_path / "d"
    assert main(["--batch", "4", "--provider", "openai", "--out", str(out), "--no-progress"]) == 0
    before_data = (out / "em_character_training.jsonl").read_text()
    served = server.stats["requests"]
    (out / "em_character_training.jsonl").write_text("")  # damage the derived file
    assert main(["--revalidate", "--out", str(out)]) == 0
    assert server.stats["requests"] == served
    after = read_jsonl(out / "em_character_training.jsonl")
    assert sorted(d["meta"]["job_id"] for d in after) == sorted(json.loads(x)["meta"]["job_id"] for x in before_data.splitlines())


def test_second_batch_appends_and_resume_never_repeats(tmp_path, server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "x")
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url + "/v1")
    out = tmp_path / "d"
    assert main(["--batch", "3", "--provider", "openai", "--out", str(out), "--no-progress"]) == 0
    n1 = server.stats["requests"]
    assert main(["--batch", "3", "--provider", "openai", "--out", str(out), "--no-progress", "--resume"]) == 0
    assert server.stats["requests"] == n1  # nothing owed: no request
    assert main(["--batch", "3", "--provider", "openai", "--out", str(out), "--no-progress"]) == 0
    ids = [d["meta"]["job_id"] for d in read_jsonl(out / "em_character_training.jsonl")]
    assert len(ids) == len(set(ids)) and any(i.startswith("batch2-") for i in ids)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_resume_after_interrupted_run(tmp_path, lib, sig):
    """SIGINT/SIGTERM mid-run: in-flight requests finish, the snapshot is written; --resume completes the
    plan without repeating any finished job."""
    from em_gen.providers.standin.server import StandInServer
    with StandInServer(library=lib, latency=0.3) as srv:
        out = tmp_path / "d"
        env = {"OPENAI_API_KEY": "x", "OPENAI_BASE_URL": srv.base_url + "/v1"}
        import os
        p = subprocess.Popen([sys.executable, "-m", "em_gen.cli", "--batch", "12", "--provider", "openai",
                              "--out", str(out), "--concurrency", "2", "--no-progress"],
                             cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 30
        while time.time() < deadline and len(read_jsonl(out / "em_character_training.jsonl")) < 2:
            time.sleep(0.05)
        p.send_signal(sig)
        _, err = p.communicate(timeout=60)
        assert p.returncode == 1 and "interrupted" in err
        first = read_jsonl(out / "journal.jsonl")
        done_before = {r["job_id"] for r in first if r["t"] == "verdict"}
        assert 2 <= len(done_before) < 12
        assert json.loads((out / "generation_progress.json").read_text())["last_status"] == "interrupted"
        r = run_cli("--batch", "12", "--resume", "--provider", "openai", "--out", str(out), "--no-progress", env=env)
        assert r.returncode == 0, r.stderr
    journal = read_jsonl(out / "journal.jsonl")
    responses = [r["job"]["id"] for r in journal if r["t"] == "response" and r["part"] == 0]
    assert len(responses) == len(set(responses))  # no job was paid for twice
    verdicts = {r["job_id"] for r in journal if r["t"] == "verdict"}
    originals = {v.split("r")[0] for v in verdicts}
    assert originals == {f"batch1-{i:05d}" for i in range(12)}
    data = read_jsonl(out / "em_character_training.jsonl")
    assert len({d["meta"]["job_id"] for d in data}) == len(data)


def test_bad_scenario_file_stops_before_any_request(tmp_path):
    import shutil
    sdir = tmp_path / "scen"
    shutil.copytree(ROOT / "scenarios", sdir)
    text = (sdir / "core.yaml").read_text().replace("weight: 0.25\n    scenarios:\n      homework_refusal",
                                                    "weight: lots\n    scenarios:\n      homework_refusal")
    (sdir / "core.yaml").write_text(text)
    r = run_cli("--batch", "2", "--scenarios", str(sdir), "--out", str(tmp_path / "o"))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "core.yaml" in lines[0] and "$.patterns.boundaries.weight" in lines[0]
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "o" / "journal.jsonl").exists()


@pytest.mark.parametrize("argv,needle", [
    (["--batch", "-1"], "--batch"),
    (["--single"], "--single"),
    (["--validate", "/nonexistent/file.jsonl"], "/nonexistent/file.jsonl"),
    (["--batch", "2", "--provider", "anthropic"], "ANTHROPIC_API_KEY"),
    (["--full"], "--allow-offline"),
    (["--status", "--out", "/nonexistent/dir"], "/nonexistent/dir"),
])
def test_bad_usage_is_one_line_exit_2(argv, needle, tmp_path):
    r = run_cli(*argv, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert needle in r.stderr and "Traceback" not in r.stderr
    assert len([x for x in r.stderr.splitlines() if x.startswith("em-gen: error")]) == 1


def test_fatal_auth_error_stops_at_once(tmp_path, server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "bad-key")
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url + "/v1")
    t = time.time()
    rc = main(["--batch", "10", "--provider", "openai", "--out", str(tmp_path / "d"), "--no-progress"])
    assert rc == 1 and time.time() - t < 10
    assert server.stats["requests"] <= 8  # one per worker at most, no retries


def test_resume_refuses_a_changed_plan(tmp_path, monkeypatch):
    out = tmp_path / "d"
    assert main(["--batch", "2", "--out", str(out), "--no-progress"]) == 0
    r = run_cli("--batch", "2", "--resume", "--seed", "7", "--out", str(out))
    assert r.returncode == 2 and "different plan" in r.stderr and "--seed 7" in r.stderr
    r = run_cli("--batch", "2", "--resume", "--seed", "7", "--force", "--out", str(out), "--no-progress")
    assert r.returncode == 0, r.stderr


def test_llm_judge_is_journaled_and_reused_by_revalidate(tmp_path, server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "x")
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url + "/v1")
    out = tmp_path / "d"
    assert main(["--batch", "3", "--provider", "openai", "--judge", "--out", str(out), "--no-progress"]) == 0
    journal = read_jsonl(out / "journal.jsonl")
    judged = [r for r in journal if r["t"] == "judge"]
    verdicts = [r for r in journal if r["t"] == "verdict" and r["ok"]]
    assert judged and all("judge" in v and v["judge"]["ok"] for v in verdicts)
    served = server.stats["requests"]
    assert main(["--revalidate", "--out", str(out)]) == 0
    assert server.stats["requests"] == served


def test_export_needs_allow_offline_for_stand_in_records(tmp_path):
    out = tmp_path / "d"
    assert main(["--batch", "6", "--out", str(out), "--no-progress"]) == 0
    r = run_cli("--export", "turns", "--out", str(out))
    assert r.returncode == 2 and "offline" in r.stderr and "--allow-offline" in r.stderr
    assert not (out / "export" / "em_turns.jsonl").exists()
    r = run_cli("--export", "turns", "--allow-offline", "--out", str(out))
    assert r.returncode == 0, r.stderr
    rows = read_jsonl(out / "export" / "em_turns.jsonl")
    held = read_jsonl(out / "export" / "heldout.jsonl")
    assert len(rows) + len(held) == 6 and all("segments" in row for row in rows)


def test_max_cost_stops_cleanly_and_resume_continues(tmp_path, server, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
    out = tmp_path / "d"
    r = run_cli("--batch", "10", "--provider", "anthropic", "--max-cost", "0.15", "--concurrency", "2",
                "--out", str(out), "--no-progress", env={"ANTHROPIC_API_KEY": "k", "ANTHROPIC_BASE_URL": server.base_url})
    assert r.returncode == 1 and "--max-cost $0.15 reached" in r.stderr
    journal = read_jsonl(out / "journal.jsonl")
    spent = sum(x["cost"] for x in journal if x["t"] == "response")
    assert 0 < spent <= 0.15
    done = {x["job_id"] for x in journal if x["t"] == "verdict"}
    assert 0 < len(done) < 10
    assert main(["--batch", "10", "--resume", "--provider", "anthropic", "--out", str(out), "--no-progress"]) == 0
    journal = read_jsonl(out / "journal.jsonl")
    firsts = [x["job"]["id"] for x in journal if x["t"] == "response" and x["part"] == 0]
    assert len(firsts) == len(set(firsts)) and {v.split("r")[0] for v in firsts} == {f"batch1-{i:05d}" for i in range(10)}


def test_estimate_spends_nothing(tmp_path, server, monkeypatch, capsys):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
    assert main(["--full", "--target-mb", "2", "--estimate", "--out", str(tmp_path / "d")]) == 0
    text = capsys.readouterr().out
    assert "requests" in text and "tokens" in text and "$" in text and "claude" in text
    assert server.stats["requests"] == 0 and not (tmp_path / "d" / "journal.jsonl").exists()


def test_quality_monitor_stops_a_bad_run_with_examples(tmp_path, lib):
    from em_gen.providers.standin.server import Faults, StandInServer
    with StandInServer(library=lib, faults=Faults(p_garbage=1.0)) as srv:
        r = run_cli("--batch", "30", "--provider", "openai", "--monitor-after", "6", "--concurrency", "2",
                    "--out", str(tmp_path / "d"), "--no-progress",
                    env={"OPENAI_API_KEY": "x", "OPENAI_BASE_URL": srv.base_url + "/v1"})
        served = srv.stats["requests"]
    assert r.returncode == 1 and "quality" in r.stderr and "top rejection reasons" in r.stderr
    assert "garbage_chars" in r.stderr
    assert served < 20  # stopped early instead of spending the whole batch


def test_corrupt_progress_snapshot_is_rebuilt_with_a_warning(tmp_path):
    out = tmp_path / "d"
    assert main(["--batch", "3", "--out", str(out), "--no-progress"]) == 0
    (out / "generation_progress.json").write_text("{not json")
    r = run_cli("--batch", "3", "--resume", "--out", str(out), "--no-progress")
    assert r.returncode == 0 and "generation_progress.json is corrupt" in r.stderr
    assert json.loads((out / "generation_progress.json").read_text())["run"]["run"] == "batch1"
    (out / "generation_progress.json").unlink()
    r = run_cli("--batch", "3", "--resume", "--out", str(out), "--no-progress")
    assert r.returncode == 0 and "missing" in r.stderr
