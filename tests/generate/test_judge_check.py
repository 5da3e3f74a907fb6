"""`em-gen judge-check` end to end through the real openai SDK and the stand-in, which replays the
judge answers recorded for the shipped corpus: the figures are the recorded answers' own; a garbled
answer and a deliberately wrong one move them; a rerun reuses every answer for free; --batch-api sends
one batch and re-attaches one a killed run left open; --full suggests the check once."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT, read_jsonl

from em_gen.cli import main
from em_gen.providers.standin.server import StandInServer
from em_gen.quality.irc import parse
from helpers_realistic import load_corpus

GARBLED = "Looks fine to me, Em is in character."


def _wrong(log) -> str:
    em = next(i for i, (nick, _) in enumerate(parse(log.text).messages, 1) if nick == "Em")
    return json.dumps({"verdict": "fail", "failures": [{"message": em, "family": "counsellor_voice",
                                                        "why": "deliberately wrong answer"}]})


@pytest.fixture(scope="module")
def corpus():
    return load_corpus()


def recorded_figures(corpus, answers):
    """The figures computed straight from the answers' JSON, without em-gen's scoring."""
    bad = [log for log in corpus if log.label == "bad"]
    def failed(log):
        raw = answers[log.key]
        raw = raw[-1] if isinstance(raw, list) else raw
        try:
            return json.loads(raw)["verdict"] == "fail"
        except ValueError:
            return None
    caught = sum(1 for log in bad if failed(log))
    false = sum(1 for log in corpus if log.label == "good" and failed(log))
    return caught, len(bad), false


def _server(lib, answers, **kw):
    srv = StandInServer(library=lib, judge_answers=answers, **kw)
    srv.start()
    return srv


def _env(monkeypatch, srv):
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url + "/v1")


def _json(capsys) -> dict:
    return json.loads(capsys.readouterr().out)


def test_figures_are_the_recorded_answers_and_move_with_a_garbled_and_a_wrong_answer(lib, corpus, monkeypatch,
                                                                                       capsys):
    clean = {log.key: log.answer for log in corpus}
    assert all(clean.values()), "every shipped log has a recorded answer"
    srv = _server(lib, clean)
    try:
        _env(monkeypatch, srv)
        assert main(["judge-check", "--json", "--concurrency", "4"]) == 0
        got = _json(capsys)
        caught, n_bad, false = recorded_figures(corpus, clean)
        assert (got["caught"], got["n_bad"], got["false_fails"]) == (caught, n_bad, false)
        assert got["recall"] == caught / n_bad >= 0.95 and got["precision"] == 1.0 and got["passed"]
        assert srv.stats["judge_requests"] == len(corpus)
    finally:
        srv.stop()
    # one bad log's judge garbles both answers; one good log gets a deliberately wrong fail
    bad = next(log for log in corpus if log.label == "bad" and json.loads(log.answer)["verdict"] == "fail")
    good = next(log for log in corpus if log.label == "good")
    tampered = dict(clean, **{bad.key: [GARBLED], good.key: _wrong(good)})
    srv = _server(lib, tampered)
    try:
        _env(monkeypatch, srv)
        rc = main(["judge-check", "--json", "--concurrency", "4", "--fresh"])
        got = _json(capsys)
        assert (got["caught"], got["false_fails"], got["unjudged"]) == (caught - 1, false + 1, 1)
        assert got["recall"] == (caught - 1) / n_bad and got["precision"] == (caught - 1) / caught
        assert rc == 1  # an answer stayed unreadable: the check is not clean
        wrong = {w["file"]: w for w in got["wrong"]}
        assert wrong[bad.file]["what"] == "unreadable" and wrong[good.file]["what"] == "false fail"
        assert "deliberately wrong answer" in wrong[good.file]["detail"]
        assert srv.stats["judge_requests"] == len(corpus) + 1  # the garbled one was asked again once
        # the text output: the per-family table, the wrong logs, the cost and one verdict line
        assert main(["judge-check"]) == 1  # reuses the latest answers: no request, the same figures
        out = capsys.readouterr().out
        assert srv.stats["judge_requests"] == len(corpus) + 1
        assert "counsellor_voice" in out and f"false fail {good.file}" in out.replace("  ", " ")
        assert "cost: $" in out and out.strip().splitlines()[-1].startswith("verdict: ")
    finally:
        srv.stop()


def test_below_the_threshold_exits_1_and_says_so(lib, corpus, monkeypatch, capsys):
    """Every recap answer flipped to a pass: recall falls below 0.95."""
    answers = {log.key: (json.dumps({"verdict": "pass", "failures": []}) if log.family == "recap"
                         else log.answer) for log in corpus}
    srv = _server(lib, answers)
    try:
        _env(monkeypatch, srv)
        assert main(["judge-check", "--concurrency", "4"]) == 1
        out = capsys.readouterr().out
        verdict = out.strip().splitlines()[-1]
        assert verdict.startswith("verdict: FAIL") and "below 0.95/0.95" in verdict
        row = next(line for line in out.splitlines() if line.startswith("recap"))
        assert row.split()[1:4] == ["5", "0", "0.000"]
        assert sum(1 for line in out.splitlines() if line.strip().startswith("missed")) >= 5
    finally:
        srv.stop()


def test_batch_api_sends_one_batch_and_reattaches_an_open_one(lib, corpus, monkeypatch, capsys, tmp_path):
    import asyncio

    from em_gen.generate.judge_check import CheckStore
    from em_gen.providers import make_provider
    from em_gen.providers.batch import batch_client
    from em_gen.quality.judge import judge_request
    from em_gen.quality.judge_check import rubric_id

    srv = _server(lib, {log.key: log.answer for log in corpus}, batch_delay=0.1)
    try:
        _env(monkeypatch, srv)
        # a killed run: its batch of the first 10 logs was submitted and journaled, never read
        first = corpus[:10]
        prov = make_provider("openai", "gpt-4.1", base_url=srv.base_url + "/v1")

        async def submit():
            try:
                return await batch_client(prov).submit(
                    [(f"jc-{log.key}", judge_request(lib, "x", parse(log.text))) for log in first], "t")
            finally:
                await prov.aclose()
        bid = asyncio.run(submit())
        store = CheckStore("openai", "gpt-4.1")
        store.append({"t": "batch", "rubric": rubric_id(lib), "model": "gpt-4.1", "id": bid,
                      "keys": [log.key for log in first], "run": "killed", "at": "x"})
        store.close()
        assert main(["judge-check", "--batch-api", "--json", "--poll-interval", "0.2"]) == 0
        got = _json(capsys)
        caught, n_bad, false = recorded_figures(corpus, {log.key: log.answer for log in corpus})
        assert (got["caught"], got["false_fails"]) == (caught, false)
        submitted = srv.stats["batch_submitted"]
        assert len(submitted) == len(corpus) and set(submitted.values()) == {1}, "nothing was asked twice"
        recs = read_jsonl(store.answers_path)
        assert [r["t"] for r in recs].count("batch_done") == 2
        assert all(r["batch"] for r in recs if r["t"] == "answer")
        # the batch record of the new run was journaled before any of its answers
        new = next(i for i, r in enumerate(recs) if r["t"] == "batch" and r["run"] != "killed")
        assert set(recs[new]["keys"]) == {log.key for log in corpus[10:]}
        assert all(r["key"] in {log.key for log in first} for r in recs[:new] if r["t"] == "answer")
        record = json.loads(store.record_path.read_text())
        assert record["checks"][rubric_id(lib)]["passed"] is True
        assert "test-key" not in store.answers_path.read_text() + store.record_path.read_text()
    finally:
        srv.stop()


def test_full_suggests_judge_check_once_until_one_is_recorded(lib, corpus, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")
    for _ in range(2):  # --estimate shows it without using up the "once"
        assert main(["--full", "--estimate"]) == 0
        assert "em-gen judge-check --judge-model claude-haiku-4-5" in capsys.readouterr().err
    from em_gen.generate.judge_check import CheckStore, suggest_once
    from em_gen.quality.judge_check import rubric_id
    rubric = rubric_id(lib)
    assert suggest_once("anthropic", "claude-haiku-4-5", rubric) is not None  # what --full prints, once
    assert suggest_once("anthropic", "claude-haiku-4-5", rubric) is None
    assert main(["--full", "--estimate"]) == 0 and "judge-check" not in capsys.readouterr().err
    # another judge model has no check: suggested; a recorded check silences it
    assert suggest_once("anthropic", "claude-sonnet-4-6", rubric, mark=False) is not None
    CheckStore("anthropic", "claude-sonnet-4-6").save_check(rubric, {"passed": True})
    assert suggest_once("anthropic", "claude-sonnet-4-6", rubric) is None
    # a changed rubric needs a new check
    assert suggest_once("anthropic", "claude-sonnet-4-6", "another-rubric", mark=False) is not None


def test_full_run_prints_the_suggestion_before_it_starts(lib, corpus, monkeypatch, capsys, tmp_path):
    srv = _server(lib, {})
    try:
        _env(monkeypatch, srv)
        args = ["--full", "--target-mb", "0.003", "--no-progress", "--no-monitor", "--max-replacements", "0"]
        main([*args, "--out", str(tmp_path / "a")])
        assert "em-gen judge-check --judge-model gpt-4.1" in capsys.readouterr().err
        main([*args, "--out", str(tmp_path / "b")])
        assert "judge-check" not in capsys.readouterr().err  # once
    finally:
        srv.stop()


@pytest.mark.parametrize("argv, says", [
    (["--corpus", "/nonexistent/corpus"], "--corpus /nonexistent/corpus: no such folder"),
    (["--concurrency", "0"], "--concurrency must be positive"),
    (["--provider", "anthropic"], "ANTHROPIC_API_KEY is not set"),
    (["--bogus"], "unrecognized arguments: --bogus"),
])
def test_bad_input_is_one_line_and_exit_2(argv, says, capsys):
    assert main(["judge-check", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) >= 1 and says in err[-1] and "Traceback" not in "\n".join(err)


def test_from_a_fresh_clone_offline_replays_the_shipped_answers(tmp_path):
    """Only tracked files (what a clone has): judge-check on the stand-in works and passes."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    clone = tmp_path / "clone"
    for rel in filter(None, files.decode().split("\0")):
        src = ROOT / rel
        if src.is_file():
            (clone / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, clone / rel)
    env = {"PYTHONPATH": str(clone), "EM_GEN_CACHE_DIR": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
    r = subprocess.run([sys.executable, "-m", "em_gen.cli", "judge-check", "--provider", "offline"], cwd=clone,
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert str(clone) in r.stderr and "offline stand-in" in r.stderr
    assert r.stdout.strip().splitlines()[-1].startswith("verdict: PASS")
    assert (tmp_path / "cache" / "judge-check" / "offline--offline-stand-in.json").exists()
