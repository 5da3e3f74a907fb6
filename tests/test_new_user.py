"""Issue 13, part 2: what a new user ran into on a fresh clone (one test, or a few, per point)."""
from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import time

import pytest
from conftest import ROOT, closed_port, read_jsonl, run_cli

from em_gen.cli import main

README = ROOT / "README.md"


def _section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def _runs(out):
    return [r["run"] for r in read_jsonl(out / "journal.jsonl") if r["t"] == "run"]


# ---- 1. a wrong endpoint fails fast, naming the URL and the cause -----------------------------------
def test_unreachable_endpoint_fails_within_30s_naming_the_url_and_the_cause(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}/v1"
    t = time.monotonic()
    r = run_cli("--batch", "2", "--out", str(tmp_path / "d"), env={"OPENAI_BASE_URL": url}, timeout=60)
    took = time.monotonic() - t
    assert r.returncode == 1 and took < 30, (took, r.stderr[-2000:])
    named = [line for line in r.stderr.splitlines() if url in line]
    assert len(named) == 1 and "connection refused" in named[0].lower(), r.stderr[-2000:]
    assert "failed after every retry" not in r.stderr
    # the retries showed live in the progress line: the last error and the attempt count
    assert re.search(r"attempt \d+/10\b[^\r\n]*Connection refused", r.stderr), r.stderr[-2000:]


def test_reach_guard_only_before_the_first_answer():
    import asyncio

    from em_gen.generate.reach import ReachGuard
    from em_gen.providers import ProviderError, Reply

    class Flaky:
        name, model = "openai", "m"

        def __init__(self):
            self.replies = []

        async def complete(self, req):
            r = self.replies.pop(0)
            if isinstance(r, Exception):
                raise r
            return r

    def conn():
        return ProviderError("connection error (Connection refused)", retryable=True, cause="Connection refused")

    async def go():
        inner = Flaky()
        g = ReachGuard(inner, grace=0.05)
        assert g.name == "openai" and g.model == "m"
        inner.replies = [conn(), conn()]
        with pytest.raises(ProviderError) as e:
            await g.complete(None)
        assert e.value.retryable
        await asyncio.sleep(0.06)
        with pytest.raises(ProviderError) as e:
            await g.complete(None)
        assert not e.value.retryable and "cannot reach" in str(e.value) and "Connection refused" in str(e.value)
        g2 = ReachGuard(inner, grace=0.0)
        inner.replies = [Reply("x", "end", {}, "m"), conn()]
        await g2.complete(None)
        with pytest.raises(ProviderError) as e:  # after an answer: retried as usual
            await g2.complete(None)
        assert e.value.retryable

    asyncio.run(go())


# ---- 2 and 6. the README's Set up section ----------------------------------------------------------
def test_setup_says_how_em_gen_gets_on_path():
    s = _section("Set up")
    assert "source .venv/bin/activate" in s
    # every later example types bare `em-gen`: the set-up must have put it on PATH first
    assert s.index("source .venv/bin/activate") < s.index("bash scripts/test.sh")


def test_setup_says_the_test_command_is_heavy_and_how_to_skip_it():
    s = _section("Set up")
    assert "EM_GEN_SKIP_TRAIN=1" in s
    assert re.search(r"\d+(\.\d+)? ?GB", s) and re.search(r"\d+ ?min", s)


# ---- 3. refused commands write nothing ---------------------------------------------------------------
def test_a_refused_command_writes_nothing(tmp_path, capsys):
    out = tmp_path / "d"
    assert main(["--batch", "2", "--provider", "anthropic", "--out", str(out), "--no-progress"]) == 2
    assert "ANTHROPIC_API_KEY" in capsys.readouterr().err
    assert not out.exists()
    assert main(["--batch", "2", "--resume", "--provider", "anthropic", "--out", str(out), "--no-progress"]) == 2
    assert not out.exists()
    out.mkdir()
    # (--resume with no earlier run starts one, #19: it is no longer a refusal)
    for argv in (["--full", "--resume"], ["--full"],  # --full offline needs --allow-offline
                 ["--batch", "2", "--provider", "openai"], ["--revalidate"],
                 ["--batch", "2", "--max-cost", "1", "--provider", "openai", "--model", "nobody-knows"],
                 ["--test", "--provider", "anthropic"]):
        assert main([*argv, "--out", str(out), "--no-progress"]) == 2, argv
        assert list(out.iterdir()) == [], argv
    capsys.readouterr()
    assert main(["--batch", "2", "--out", str(out), "--no-progress"]) == 0
    assert _runs(out) == ["batch1"]  # no phantom run before it


def test_status_of_a_folder_with_no_run_says_so_and_exits_2(tmp_path, capsys):
    out = tmp_path / "d"
    out.mkdir()
    (out / "journal.jsonl").write_text("")  # what an earlier refused --resume left behind
    assert main(["--status", "--out", str(out)]) == 2
    assert "no em-gen run" in capsys.readouterr().err
    assert main(["--status", "--json", "--out", str(out)]) == 2


# ---- 4. --resume keeps the run's provider and model ---------------------------------------------------
def test_resume_refuses_another_provider_or_model_unless_forced(tmp_path, server, monkeypatch, capsys):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
    out = tmp_path / "d"
    assert main(["--batch", "3", "--out", str(out), "--no-progress"]) == 0
    run = next(r for r in read_jsonl(out / "journal.jsonl") if r["t"] == "run")
    assert run["provider"] == "anthropic" and run["model"] == "claude-sonnet-4-6"
    before = (out / "journal.jsonl").read_bytes()
    served = server.stats["requests"]
    capsys.readouterr()
    # the run's provider without its key: refused, not continued on the offline stand-in
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    assert main(["--batch", "3", "--resume", "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "anthropic" in err and "ANTHROPIC_API_KEY" in err
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")
    monkeypatch.setenv("OPENAI_API_KEY", "x")
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url + "/v1")
    for argv, needle in ((["--provider", "openai"], "provider"), (["--provider", "offline"], "provider"),
                         (["--model", "claude-haiku-4-5"], "model")):
        assert main(["--batch", "3", "--resume", *argv, "--out", str(out), "--no-progress"]) == 2, argv
        err = capsys.readouterr().err
        assert needle in err and "--force" in err, err
    assert (out / "journal.jsonl").read_bytes() == before and server.stats["requests"] == served
    # the run's own provider: continues (nothing owed here)
    assert main(["--batch", "3", "--resume", "--out", str(out), "--no-progress"]) == 0
    assert main(["--batch", "3", "--resume", "--provider", "openai", "--force", "--out", str(out),
                 "--no-progress"]) == 0
    forced = [r for r in read_jsonl(out / "journal.jsonl") if r["t"] == "run"][-1]
    assert forced["run"] == "batch1" and forced["provider"] == "openai" and forced.get("forced")


# ---- 5. Ctrl-C: no new request once a stop was asked for ---------------------------------------------
def test_ctrl_c_with_rpm_starts_no_new_request(tmp_path, lib):
    from em_gen.providers.standin.server import StandInServer
    with StandInServer(library=lib, latency=1.0) as srv:
        env = {**os.environ, "OPENAI_API_KEY": "x", "OPENAI_BASE_URL": srv.base_url + "/v1"}
        p = subprocess.Popen([sys.executable, "-m", "em_gen.cli", "--batch", "30", "--provider", "openai",
                              "--rpm", "120", "--concurrency", "8", "--no-judge", "--out", str(tmp_path / "d"),
                              "--no-progress"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 60
        while time.time() < deadline and srv.stats["requests"] < 4:
            time.sleep(0.005)
        p.send_signal(signal.SIGINT)  # right after a request arrived: the next one is ~0.5 s away
        at_signal = srv.stats["requests"]
        _, err = p.communicate(timeout=60)
        after = srv.stats["requests"] - at_signal
    assert p.returncode == 1 and "interrupted" in err
    print(f"\nrequests started after SIGINT with --rpm 120: {after}")
    assert after == 0


# ---- 8. small things ---------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", [["--batch", "2"], ["--test"], ["--revalidate"], ["--status"],
                                  ["--export", "completion"]])
def test_out_pointing_at_a_file_says_it_is_not_a_folder(tmp_path, capsys, mode):
    f = tmp_path / "afile"
    f.write_text("x")
    assert main([*mode, "--out", str(f), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "not a folder" in err and "File exists" not in err and len(err.strip().splitlines()) == 1
    assert f.read_text() == "x"


def test_export_refusal_names_only_the_flag(tmp_path):
    from em_gen.library import BadInput
    from em_gen.train.export import export_dataset
    ds = tmp_path / "em_character_training.jsonl"
    ds.write_text(json.dumps({"text": "ENGAGEMENT: LOW\nCHANNEL: #general\n<a> b",
                              "meta": {"job_id": "j1", "provider": "offline"}}) + "\n")
    with pytest.raises(BadInput) as e:
        export_dataset(ds)
    assert "--allow-offline" in str(e.value) and "allow_offline" not in str(e.value)


def test_help_prints_one_default_per_flag(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "(default: None)" not in out and "(default: False)" not in out
    blocks = re.split(r"\n(?=  -)", out)
    twice = [b.split("\n")[0] for b in blocks if len(re.findall(r"\bdefault\b", b)) > 1]
    assert not twice
    assert re.search(r"--concurrency CONCURRENCY\s+most requests in flight.*\(default: 8\)", out, re.DOTALL)


def test_test_output_ends_with_the_not_training_grade_line(tmp_path):
    r = run_cli("--test", "--single", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    last = r.stdout.strip().splitlines()[-1]
    assert "[offline]" in last and "not training-grade" in last.lower()


def test_text_status_names_the_provider(tmp_path, capsys):
    out = tmp_path / "d"
    assert main(["--batch", "2", "--out", str(out), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["--status", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert re.search(r"provider.*offline", text) and "offline-stand-in" in text


def test_progress_and_stats_files_have_the_mode_of_the_other_outputs(tmp_path):
    out = tmp_path / "d"
    assert main(["--batch", "2", "--out", str(out), "--no-progress"]) == 0
    want = stat.S_IMODE((out / "em_character_training.jsonl").stat().st_mode)
    for name in ("generation_progress.json", "generation_stats.json", "journal.jsonl"):
        assert stat.S_IMODE((out / name).stat().st_mode) == want, name
