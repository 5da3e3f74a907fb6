"""The character judge end to end, through the real openai SDK and the stand-in: the stand-in serves
the realistic corpus's logs as the teacher's output and replays the judge answers a strong model
gave to them. A paid provider judges by default; every answer is journaled before it is read; an
unreadable answer is asked again once; unreadable twice holds the conversation (neither kept nor
rejected); --revalidate reuses every stored answer for free and asks again about held ones."""
from __future__ import annotations

import json

import pytest

from conftest import read_jsonl
from em_gen.cli import main
from em_gen.providers.standin.server import StandInServer
from helpers_realistic import load_corpus

GARBLED = "Looks fine to me overall, Em stays in character."


@pytest.fixture
def judge_server(lib):
    corpus = load_corpus()
    answers, kind = {}, {}
    for i, log in enumerate(corpus):
        if i % 5 == 4:
            answers[log.key], kind[log.key] = [GARBLED], "held"            # unreadable every time
        elif i % 5 == 2:
            answers[log.key], kind[log.key] = [GARBLED, log.answer], "reask"  # readable on the re-ask
        else:
            answers[log.key], kind[log.key] = log.answer, "plain"
    srv = StandInServer(library=lib, judge_answers=answers, replay_logs=[log.text for log in corpus])
    srv.start()
    yield srv, corpus, kind
    srv.stop()


def _env(monkeypatch, srv):
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url + "/v1")


def test_judge_path(tmp_path, judge_server, monkeypatch, lib):
    srv, corpus, kind = judge_server
    by_text = {log.text.strip(): log for log in corpus}
    _env(monkeypatch, srv)
    out = tmp_path / "d"
    rc = main(["--batch", "30", "--out", str(out), "--no-progress", "--concurrency", "1", "--no-monitor",
               "--max-replacements", "0"])
    journal = read_jsonl(out / "journal.jsonl")
    run = next(r for r in journal if r["t"] == "run")
    # judge on by default; an OPENAI_BASE_URL server judges with the generation model
    assert run["provider"] == "openai" and run["judge_model"] == run["model"] == "gpt-4.1"
    served = {}
    for r in journal:
        if r["t"] == "response" and r["raw"].strip() in by_text:
            served[r["job"]["id"]] = by_text[r["raw"].strip()]
    assert len(served) >= 10, "the stand-in served corpus logs for the jobs they fit"
    answers = {}
    for r in journal:
        if r["t"] == "judge":
            answers.setdefault(r["job_id"], []).append(r)
    verdicts = {r["job_id"]: r for r in journal if r["t"] == "verdict"}
    held = {r["job_id"] for r in journal if r["t"] == "held"}
    seen = {"plain": 0, "reask": 0, "held": 0}
    for jid, log in served.items():
        k = kind[log.key]
        v = verdicts.get(jid)
        if v is not None and v["reasons"] and not v["reasons"][0].startswith("character_") and jid not in answers:
            continue  # the rules rejected it: the judge is not paid for it
        seen[k] += 1
        if k == "held":
            assert jid in held and jid not in verdicts and len(answers[jid]) == 2
        else:
            assert len(answers[jid]) == (2 if k == "reask" else 1)
            assert answers[jid][-1]["raw"] == log.answer
            assert v["ok"] == (log.label == "good"), (log.file, v["reasons"])
            if not v["ok"]:
                assert any(r.startswith(("character_", "em_", "assistant_language")) for r in v["reasons"])
            # the answer was journaled before the verdict that reads it
            order = [i for i, r in enumerate(journal) if r.get("job_id") == jid and r["t"] in ("judge", "verdict")]
            assert [journal[i]["t"] for i in order][-1] == "verdict"
    assert seen["plain"] and seen["held"] and seen["reask"], seen
    assert rc == 1  # held conversations: the run is not finished
    dataset = read_jsonl(out / "em_character_training.jsonl")
    assert not {d["meta"]["job_id"] for d in dataset} & held
    stats = json.loads((out / "generation_stats.json").read_text())
    assert stats["judge"]["held_unreadable"] == len(held) and stats["judge"]["kept_never_judged"] == 0

    # --revalidate: stored answers are reused; held ones are asked again (still garbled: 2 requests each)
    before = srv.stats["requests"]
    assert main(["--revalidate", "--out", str(out)]) == 1
    assert srv.stats["requests"] - before == 2 * len(held)
    # the judge recovers: --revalidate asks again and the held conversations get verdicts
    for log in corpus:
        if kind[log.key] == "held":
            srv.replay.judge_answers[log.key] = log.answer
    before = srv.stats["requests"]
    assert main(["--revalidate", "--out", str(out)]) == 0
    assert srv.stats["requests"] - before == len(held)
    journal = read_jsonl(out / "journal.jsonl")
    verdicts = {r["job_id"]: r for r in journal if r["t"] == "verdict"}
    for jid in held:
        assert verdicts[jid]["ok"] == (served[jid].label == "good")
    # and once nothing is held, --revalidate makes no request at all
    before = srv.stats["requests"]
    assert main(["--revalidate", "--out", str(out)]) == 0
    assert srv.stats["requests"] == before


def test_no_judge_is_counted(tmp_path, judge_server, monkeypatch):
    srv, _, _ = judge_server
    _env(monkeypatch, srv)
    out = tmp_path / "d"
    assert main(["--batch", "4", "--no-judge", "--out", str(out), "--no-progress", "--no-monitor"]) == 0
    journal = read_jsonl(out / "journal.jsonl")
    assert not [r for r in journal if r["t"] == "judge"]
    stats = json.loads((out / "generation_stats.json").read_text())
    assert stats["judge"]["kept_never_judged"] == stats["accepted"] > 0


def test_default_judge_models(monkeypatch):
    from em_gen.providers import default_judge_model
    assert default_judge_model("anthropic", "claude-sonnet-4-6") == "claude-haiku-4-5"
    assert default_judge_model("openai", "gpt-4.1") == "gpt-4.1-mini"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1")
    assert default_judge_model("openai", "my-local-model") == "my-local-model"


def test_estimate_shows_the_judge_separately(monkeypatch, capsys):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")
    assert main(["--full", "--estimate"]) == 0
    out = capsys.readouterr().out
    assert "generation claude-sonnet-4-6" in out and "judge      claude-haiku-4-5" in out
    assert "% of generation" in out
    assert main(["--full", "--estimate", "--no-judge"]) == 0
    assert "judge      off" in capsys.readouterr().out
