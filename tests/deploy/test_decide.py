"""The decision path without a network: prompt rendering, next-speaker parsing, the line rules, the
IRC byte limit, the caps, operator commands, the transcript and its stats. The target is the real
stand-in over HTTP (openai SDK)."""
from __future__ import annotations

import json

import pytest

from em_gen.deploy.config import Operators, load_operators, parse_channel, parse_server
from em_gen.deploy.controls import run_command
from em_gen.deploy.decide import Caps, ChannelState, Decider, TokenBudget, next_line, render_prompt
from em_gen.deploy.linecheck import IRC_LINE_BYTES, byte_budget, check_line, fit_bytes
from em_gen.deploy.stats import transcript_stats
from em_gen.deploy.transcript import Transcript, read_transcript
from em_gen.evaluate.targets import open_target, parse_spec
from em_gen.library import BadInput
from em_gen.train.export import to_completion

CTX = [("kestrel", "anyone else think the new star wars movies were actually decent?"),
       ("mossbyte", "the last one was fine, the one before was a mess"),
       ("bramblejack", "rogue one is the only good one and I will die on this hill")]


def test_prompt_is_the_training_render_and_keeps_the_newest_lines_in_budget():
    msgs = [(f"user{i % 4}", f"line number {i} with a few words in it") for i in range(200)]
    tok = TokenBudget()
    prompt, kept, used = render_prompt("LOW", "#general", msgs, 300, tok)
    assert prompt.startswith("ENGAGEMENT: LOW\nCHANNEL: #general\n<") and prompt.endswith("\n")
    assert 0 < kept < 200 and used <= 300 and tok.count(prompt) <= 300
    assert prompt.rstrip("\n").endswith("line number 199 with a few words in it")  # newest kept, oldest dropped
    assert f"line number {200 - kept} with" in prompt and f"line number {199 - kept} with" not in prompt
    # exactly what the completion export trains on for the same log
    rec = {"text": prompt.rstrip("\n")}
    assert to_completion(rec)["text"] == prompt.rstrip("\n")
    bigger = render_prompt("LOW", "#general", msgs, 3000, tok)[1]
    assert bigger > kept


def test_next_line_reads_the_first_speaker():
    assert next_line("<Em> honestly rogue one is overrated\n<kestrel> boo") == ("Em", "honestly rogue one is overrated\n<kestrel> boo")
    assert next_line("\n<@kestrel> hi")[0] == "kestrel"
    assert next_line("User: hello")[0] is None
    assert next_line("")[0] is None


def test_line_rules_pass_a_good_line_and_fail_assistant_speak(lib):
    good = check_line(lib, "MEDIUM", "#general", CTX, " rogue one rules, the rest are theme park rides", "Em")
    assert good.ok, good.reasons
    bad = check_line(lib, "MEDIUM", "#general", CTX, " Great question! I'd be happy to help you rank them.", "Em")
    assert not bad.ok and any(r.startswith("assistant_language") for r in bad.reasons)
    md = check_line(lib, "MEDIUM", "#general", CTX, " **ranking:** rogue one first", "Em")
    assert not md.ok and any(r.startswith("markdown") for r in md.reasons)
    # a line of other people's that would fail does not blame Em's candidate
    noisy = CTX + [("kestrel", "as an AI language model, what do you think lol")]
    assert check_line(lib, "MEDIUM", "#general", noisy, " ask the wookiee", "Em").ok


def test_line_is_cut_at_the_first_newline_and_fits_512_bytes(lib):
    v = check_line(lib, "LOW", "#general", CTX, " first line only\n<kestrel> not this", "Em")
    assert v.ok and v.text == "first line only" and v.trimmed
    long = " " + "ünïcödé wörds " * 60
    budget = byte_budget("Em_", "#general")
    text, cut = fit_bytes(long.strip(), budget)
    assert cut and len(text.encode("utf-8")) <= budget
    wire = f":Em_!{'u' * 10}@{'h' * 63} PRIVMSG #general :{text}\r\n".encode()
    assert len(wire) <= IRC_LINE_BYTES
    text.encode("utf-8").decode("utf-8")  # never cut inside a character


def _decider(lib, st, tmp_path, **kw):
    target = open_target(parse_spec(f"openai:{st.base_url}/v1#em"), concurrency=1, timeout=10)
    tr = Transcript(tmp_path / "t.jsonl")
    return Decider(lib, target, tr, **kw), tr


def test_decisions_follow_the_model_and_the_caps_hold(lib, standin, tmp_path):
    st = standin(next_speaker=1.0)
    clock = [1000.0]
    d, tr = _decider(lib, st, tmp_path, caps=Caps(per_minute=3), clock=lambda: clock[0])
    ch = ChannelState("#test", "MEDIUM")
    sent = []
    outcomes = []
    for i in range(6):
        ch.add(f"user{i % 3}", f"user line {i} about the trains again")
        for _ in range(3):  # Em may go on after its own line, up to the caps
            rec = d.decide(ch, "Em", lambda c, t: sent.append(t))
            outcomes.append((rec["outcome"], [r.split(":")[0] for r in rec["reasons"]]))
            if rec["outcome"] != "posted":
                break
    assert len(sent) == 3  # flood cap: 3 a minute
    assert ("suppressed", ["three_in_a_row"]) in outcomes
    assert any("flood_cap" in r for _, r in outcomes)
    clock[0] += 61  # a minute later Em may speak again
    ch.add("user1", "what about the buses")
    assert d.decide(ch, "Em", lambda c, t: sent.append(t))["outcome"] == "posted"
    speakers = [s for _, s, _ in ch.log]
    assert all(speakers[i:i + 3] != ["Em"] * 3 for i in range(len(speakers)))
    ch.muted = True
    assert d.decide(ch, "Em", lambda c, t: sent.append(t))["reasons"] == ["muted"]
    tr.close()
    recs = read_transcript(tmp_path / "t.jsonl")
    assert [r["text"] for r in recs if r["kind"] == "line"] == sent
    assert all(r["latency_s"] is not None for r in recs if r["kind"] == "decision" and r["asked"])


def test_silent_when_the_model_names_someone_else_and_an_error_is_logged(lib, standin, tmp_path):
    st = standin(next_speaker=0.0)
    d, tr = _decider(lib, st, tmp_path)
    ch = ChannelState("#test", "LOW")
    ch.add("kestrel", "so who is watching the match tonight")
    rec = d.decide(ch, "Em", lambda c, t: pytest.fail("Em spoke"))
    assert rec["outcome"] == "silent" and rec["predicted"] not in (None, "Em")
    st.stop()
    rec = d.decide(ch, "Em", lambda c, t: pytest.fail("Em spoke"))
    assert rec["outcome"] == "error" and rec["reasons"][0].startswith("target_error")


def test_controls_change_engagement_and_mute(lib):
    chans = {"#a": ChannelState("#a", "LOW"), "#b": ChannelState("#b", "LOW")}
    levels = list(lib.mix["engagement"])
    assert run_command("engagement #A high", chans, levels)[1] == {"#a": {"engagement": "HIGH"}}
    assert chans["#a"].engagement == "HIGH"
    assert run_command("engagement #a LOUD", chans, levels)[1] == {} and chans["#a"].engagement == "HIGH"
    assert run_command("mute", chans, levels)[1] == {"#a": {"muted": True}, "#b": {"muted": True}}
    run_command("unmute #b", chans, levels)
    assert chans["#a"].muted and not chans["#b"].muted
    for cmd in ("say #a hello", "privmsg #a hi", "raw PRIVMSG #a :hi"):
        assert run_command(cmd, chans, levels)[1] == {}


def test_operators_match_masks_and_nicks(tmp_path):
    ops = Operators(["boss!~boss@10.0.0.*", "carol"])
    assert ops.allows("boss!~boss@10.0.0.7") and ops.allows("Carol!x@y")
    assert not ops.allows("boss!~boss@10.9.9.9") and not ops.allows("mallory!m@10.0.0.7")
    acct = Operators(["account:Dave"])
    assert acct.allows("anyone!x@y", account="dave")
    assert not acct.allows("dave!dave@host") and not acct.allows("x!y@z", account="*")  # no tag, logged out
    f = tmp_path / "ops.yaml"
    f.write_text("operators: [1, 2]\n")
    with pytest.raises(BadInput, match="operators"):
        load_operators(str(f))
    with pytest.raises(BadInput, match="no such file"):
        load_operators(str(tmp_path / "missing.yaml"))


def test_channel_and_server_specs(lib):
    assert parse_channel("#general=low", lib) == ("#general", "#general", "LOW")
    assert parse_channel("#python=#general=HIGH", lib) == ("#python", "#general", "HIGH")
    for bad in ("#a b=LOW", "general=LOW", "#x=LOUD", "#x", "#" + "x" * 60 + "=LOW"):
        with pytest.raises(BadInput, match="--channel"):
            parse_channel(bad, lib)
    assert parse_server("irc.example.org", False) == ("irc.example.org", 6667)
    assert parse_server("irc.example.org", True) == ("irc.example.org", 6697)
    assert parse_server("127.0.0.1:7000", False) == ("127.0.0.1", 7000)
    with pytest.raises(BadInput, match="--server"):
        parse_server("host:99999", False)


def test_stats_participation_against_the_band_and_a_torn_last_line(lib, tmp_path):
    tr = Transcript(tmp_path / "t.jsonl")
    tr.write("start", channels={"#a": "LOW"})
    for i in range(20):
        tr.write("line", channel="#a", seq=i, nick="u", speaker="Em" if i % 10 == 0 else "u", text="x")
    tr.write("decision", channel="#a", asked=True, predicted="Em", outcome="suppressed", latency_s=0.01,
             reasons=["flood_cap: 4 Em lines"])
    tr.write("control", changed={"#a": {"engagement": "HIGH"}})
    for i in range(4):
        tr.write("line", channel="#a", seq=30 + i, nick="u", speaker="u", text="y")
    tr.close()
    with open(tmp_path / "t.jsonl", "a") as f:
        f.write('{"t": 1, "kind": "li')  # killed mid-write
    s = transcript_stats(tmp_path / "t.jsonl", lib)
    low = next(p for p in s["participation"] if p["engagement"] == "LOW")
    high = next(p for p in s["participation"] if p["engagement"] == "HIGH")
    assert (low["em_lines"], low["lines"], low["verdict"]) == (2, 20, "in band")
    assert (high["lines"], high["verdict"]) == (4, "below")
    assert s["suppressed_by_reason"] == {"flood_cap": 1} and s["latency_s"]["p50"] == 0.01
    (tmp_path / "bad.jsonl").write_text('{"kind": "line"}\nnot json\n{"kind": "stop"}\n')
    with pytest.raises(BadInput, match="line 2"):
        read_transcript(tmp_path / "bad.jsonl")
    json.dumps(s)


def test_prompt_budget_with_mistrals_tokenizer():
    pytest.importorskip("mistral_common")
    from em_gen.train.tokens import load_counter
    tok = TokenBudget(load_counter("tekken"))
    msgs = [(f"user{i % 5}", f"message {i}: the ferry was late again and nobody said why") for i in range(300)]
    prompt, kept, used = render_prompt("HIGH", "#shoggoth", msgs, 512, tok)
    assert used <= 512 and len(tok.counter.encode(prompt)) <= 512 + 2  # joins may merge a token or two
    assert 0 < kept < 300 and kept > render_prompt("HIGH", "#shoggoth", msgs, 512, TokenBudget())[1]
