"""The judge's `other` path: a line out of character that fits no family fails as character_other
with the judge's own reason, and --status and --report list those reasons verbatim (they are where
the next family comes from)."""
from __future__ import annotations

import json

from conftest import read_jsonl

from em_gen.cli import main
from em_gen.providers.standin.server import StandInServer
from em_gen.quality.irc import parse
from helpers_realistic import load_corpus

WHY = "talks about its engagement setting, breaking the fourth wall"


def _other(log) -> str:
    em = next(i for i, (nick, _) in enumerate(parse(log.text).messages, 1) if nick == "Em")
    return json.dumps({"verdict": "fail", "failures": [{"message": em, "family": "other", "why": WHY}]})


def test_status_and_report_list_character_other_reasons_verbatim(lib, tmp_path, monkeypatch, capsys):
    corpus = [log for log in load_corpus() if log.label == "good"]
    srv = StandInServer(library=lib, judge_answers={log.key: _other(log) for log in corpus},
                        replay_logs=[log.text for log in corpus])
    srv.start()
    try:
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url + "/v1")
        out = tmp_path / "d"
        main(["--batch", "12", "--out", str(out), "--no-progress", "--no-monitor", "--max-replacements", "0"])
    finally:
        srv.stop()
    verdicts = [r for r in read_jsonl(out / "journal.jsonl") if r["t"] == "verdict"]
    other = {r["job_id"]: x for r in verdicts for x in r["reasons"] if x.startswith("character_other")}
    assert other, "the judge failed replayed logs as other"
    assert all(x.endswith(WHY) and ": message " in x for x in other.values())
    capsys.readouterr()
    assert main(["--status", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"character_other: {len(other)} line(s)" in text
    for jid, reason in other.items():
        assert f"  {jid}: {reason}" in text
    assert main(["--status", "--json", "--out", str(out)]) == 0
    listed = json.loads(capsys.readouterr().out)["judge"]["other_reasons"]
    assert {o["id"]: o["reason"] for o in listed} == other
    assert main(["--report", "--out", str(out)]) == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    assert f"character_other: {len(other)} line(s) the judge failed outside every family" in page
    assert WHY in page and all(jid in page for jid in other)


def test_an_unknown_family_is_other_with_its_reason(lib):
    from em_gen.quality.judge import read_judgement
    log = next(log for log in load_corpus() if log.label == "good")
    parsed = parse(log.text)
    em = next(i for i, (nick, _) in enumerate(parsed.messages, 1) if nick == "Em")
    raw = json.dumps({"verdict": "fail", "failures": [{"message": em, "family": "narrates_actions", "why": "*waves*"}]})
    got = read_judgement(raw, lib, parsed)
    assert not got["ok"] and got["failures"][0]["family"] == "other"
    assert got["reasons"] == [f"character_other: message {em}: *waves*"]
