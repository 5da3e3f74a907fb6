"""--validate on training files: role-marker lines are rejected (the text is the data), an empty file
is an error, and --judge reads a foreign file's records that passed the rules."""
from __future__ import annotations

import json

from conftest import run_cli
from em_gen.cli import main
from em_gen.providers.standin.server import StandInServer
from em_gen.quality.irc import parse
from em_gen.quality.judge import read_judgement
from helpers_realistic import load_corpus


def _write(path, texts):
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    return path


def test_role_marker_lines_are_rejected(tmp_path, capsys):
    good = next(log for log in load_corpus() if log.label == "good" and log.n_messages < 30)
    lines = good.text.splitlines()
    marked = "\n".join(lines[:8] + ["Assistant: Sure! Here is a summary of the conversation."] + lines[8:])
    f = _write(tmp_path / "t.jsonl", [good.text, marked])
    assert main(["--validate", str(f), "--json"]) == 1
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert rows[0]["ok"] and not rows[1]["ok"]
    assert any(r.startswith("hallucinated_turn") for r in rows[1]["reasons"])


def test_empty_file_is_an_error(tmp_path):
    f = tmp_path / "empty.jsonl"
    f.write_text("\n\n")
    r = run_cli("--validate", str(f))
    assert r.returncode == 1 and "no records" in r.stderr and "Traceback" not in r.stderr


def test_validate_judge_needs_a_key(tmp_path):
    f = _write(tmp_path / "t.jsonl", [load_corpus()[0].text])
    r = run_cli("--validate", str(f), "--judge")
    assert r.returncode == 2 and "--validate FILE --judge" in r.stderr


def test_validate_judge_reads_a_foreign_file(tmp_path, lib, monkeypatch, capsys):
    corpus = [log for log in load_corpus() if log.n_messages < 30][:24]
    srv = StandInServer(library=lib, judge_answers={log.key: log.answer for log in corpus})
    srv.start()
    try:
        monkeypatch.setenv("OPENAI_API_KEY", "k")
        monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url + "/v1")
        f = _write(tmp_path / "t.jsonl", [log.text for log in corpus])
        main(["--validate", str(f), "--json", "--judge"])
        rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()][:-1]
    finally:
        srv.stop()
    passed_rules = sum(1 for r in rows if not any(not x.startswith("character_") for x in r["reasons"]))
    assert srv.stats["judge_requests"] == passed_rules > 0  # the judge read exactly what passed the rules
    assert len(rows) == len(corpus)
    for log, row in zip(corpus, rows):  # a record passes when the rules and the recorded judgement pass it
        rules_ok = not any(not x.startswith("character_") for x in row["reasons"])
        judged = read_judgement(log.answer, lib, parse(log.text))
        assert row["ok"] == (rules_ok and judged["ok"]), (log.file, row["reasons"])
        if rules_ok and not judged["ok"]:
            assert row["reasons"] == judged["reasons"]
