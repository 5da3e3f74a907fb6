"""The character judge's request and the reading of its answer."""
from __future__ import annotations

import json

from em_gen.quality.irc import parse
from em_gen.quality.judge import JUDGE_MARK, judge_request, judge_system, read_judgement, reason_codes

LOG = """ENGAGEMENT: MEDIUM
CHANNEL: #general
<kestrel> my essay on hamlet is due tomorrow and I have nothing
<mossbyte> nothing nothing or a title
<Em> absolutely not doing it for you, but hamlet was depressed, not indecisive, fight me
<kestrel> come on em just the outline
<jvk> open with the ghost, everyone opens with the ghost
<Em> ok fine: open with the ghost as guilt, then the play within a play, then end at the graveyard
<tanuki_> em caved lol
<kestrel> em you're a legend
"""


def test_request_carries_the_rubric_the_facts_and_numbered_lines(lib):
    parsed = parse(LOG)
    req = judge_request(lib, "j1", parsed, "MEDIUM", "#general")
    assert req.system.startswith(JUDGE_MARK) and req.system == judge_system(lib)
    for fam, spec in lib.judge["families"].items():
        assert fam in req.system and spec["fail"] in req.system and spec["pass"] in req.system
    assert "{families}" not in req.system
    assert "messages: 8" in req.user and "em_messages: 2 (numbers 3, 6)" in req.user
    assert "6 <Em> ok fine: open with the ghost" in req.user and "engagement: MEDIUM" in req.user
    assert req.part == -1 and req.stop == []


def test_a_failure_names_the_message_and_family(lib):
    parsed = parse(LOG)
    raw = json.dumps({"verdict": "fail", "failures": [
        {"message": 6, "family": "help_in_disguise", "why": "gives the essay outline after refusing"}]})
    got = read_judgement(raw, lib, parsed)
    assert got["readable"] and not got["ok"]
    assert got["reasons"] == ["character_help_in_disguise: message 6: gives the essay outline after refusing"]
    assert all(r.split(":", 1)[0] in reason_codes(lib) for r in got["reasons"])


def test_pass_and_fenced_and_chatty_answers_are_read(lib):
    parsed = parse(LOG)
    assert read_judgement('{"verdict": "pass", "failures": []}', lib, parsed)["ok"]
    fenced = '```json\n{"verdict": "fail", "failures": [{"message": 6, "family": "help_in_disguise", "why": "x"}]}\n```'
    assert read_judgement(fenced, lib, parsed)["ok"] is False
    chatty = 'Here is my verdict: {"verdict": "pass", "failures": []} hope that is right'
    assert read_judgement(chatty, lib, parsed) == {"readable": True, "ok": True, "reasons": [], "failures": []}


def test_unreadable_answers_are_not_verdicts(lib):
    parsed = parse(LOG)
    for raw in ("I think it's fine", "", '{"verdict": "maybe"}', '{"failures": []}',
                '{"verdict": "fail", "failures": "message 6"}', "```json\n{\"verdict\": \"pa"):
        got = read_judgement(raw, lib, parsed)
        assert got["readable"] is False, raw


def test_only_em_lines_can_fail(lib):
    """A failure cited at someone else's line is dropped (others may do anything); a judge one off
    is mapped to the adjacent Em line; whole-log families may cite any line."""
    parsed = parse(LOG)
    at_other = json.dumps({"verdict": "fail", "failures": [{"message": 1, "family": "cheerleading", "why": "x"}]})
    got = read_judgement(at_other, lib, parsed)
    assert got["ok"] and got["readable"] and "note" in got
    off_by_one = json.dumps({"verdict": "fail", "failures": [{"message": 7, "family": "help_in_disguise", "why": "y"}]})
    assert read_judgement(off_by_one, lib, parsed)["failures"][0]["message"] == 6
    whole = json.dumps({"verdict": "fail", "failures": [{"message": 8, "family": "unnatural_chat", "why": "z"}]})
    assert read_judgement(whole, lib, parsed)["reasons"][0].startswith("character_unnatural_chat: message 8")


def test_unknown_family_and_bare_fail(lib):
    parsed = parse(LOG)
    odd = json.dumps({"verdict": "fail", "failures": [{"message": "#6", "family": "Too Helpful", "why": "w"}]})
    assert read_judgement(odd, lib, parsed)["reasons"][0].startswith("character_other: message 6")
    bare = read_judgement('{"verdict": "fail", "failures": []}', lib, parsed)
    assert not bare["ok"] and bare["reasons"][0].startswith("character_other")
