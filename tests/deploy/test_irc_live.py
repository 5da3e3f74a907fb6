"""`em-gen irc` against a real IRC server (Debian's ngircd on 127.0.0.1), scripted users on the same IRC
library replaying held-out lines (benchmarks/irc/replay.txt), and the stand-in's completions model
answering the next-speaker question at a chosen rate. Skipped when ngircd is not installed
(scripts/test.sh installs it as root)."""
from __future__ import annotations

import signal
import time

import pytest

from conftest import closed_port, read_jsonl, run_cli
from em_gen.providers.standin.server import StandInServer
from ircnet import NGIRCD, Ngircd, User, cast, records, replay, replay_lines, start_em, stop_em, wait_for

pytestmark = pytest.mark.skipif(NGIRCD is None, reason="ngircd is not installed (apt-get install ngircd)")
CH = "#replay"


class RecordingStandIn(StandInServer):
    """The real stand-in, keeping the prompts it was sent (to read the header Em's model saw)."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.prompts: list[str] = []

    def generate(self, prompt: str, *args, **kwargs) -> str:
        self.prompts.append(prompt)
        return super().generate(prompt, *args, **kwargs)


@pytest.fixture
def ircd(tmp_path):
    srv = Ngircd(tmp_path).start()
    yield srv
    srv.stop()


@pytest.fixture
def standin(standin):
    """The shared factory, recording the prompts the stand-in is asked."""
    return lambda **kw: standin(cls=RecordingStandIn, **kw)


def target(st) -> str:
    return f"openai:{st.base_url}/v1#em-lora"


def _run(ircd, tmp_path, st, lines, *extra, channels=(f"{CH}=MEDIUM",)):
    tr = tmp_path / "transcript.jsonl"
    em = start_em(ircd.port, tr, target(st), list(channels), *extra)
    try:
        wait_for(lambda: records(tr, "join"), 15, "Em joins")
        users = cast(ircd.port, CH, lines, most=4)
        replay(users, tr, CH, lines)
    except BaseException:
        stop_em(em)
        raise
    return tr, em, users


def test_em_speaks_only_when_its_model_says_em_at_the_standin_rate(ircd, standin, tmp_path):
    st = standin(next_speaker=0.3)
    lines = replay_lines(40)
    tr, em, users = _run(ircd, tmp_path, st, lines, "--per-minute", "1000")
    listener = next(iter(users.values()))
    time.sleep(0.2)
    rc, err = stop_em(em)
    assert rc == 0, err
    decisions = records(tr, "decision")
    asked = [d for d in decisions if d["asked"]]
    said_em = [d for d in asked if d["predicted"] == "Em"]
    posted = [d for d in decisions if d["outcome"] == "posted"]
    # Em speaks only when its model's next speaker is Em, and then says what the model wrote
    assert all(d["predicted"] == "Em" for d in posted)
    assert all(d["outcome"] in ("silent", "stale") for d in asked if d["predicted"] != "Em")
    assert [m[3] for m in listener.messages(source="Em")] == [d["candidate"] for d in posted]
    assert posted, "Em never spoke"
    # the stand-in said <Em> for as many prompts as Em's decisions record
    assert st.stats["next_speaker"].get("em", 0) == len(said_em)
    share = len(said_em) / len(asked)
    assert abs(share - 0.3) < 0.12, share
    # the header the model saw is the channel's, as the training export renders it
    assert all(p.startswith(f"ENGAGEMENT: MEDIUM\nCHANNEL: {CH}\n<") and p.endswith("\n") for p in st.prompts)
    assert "<Em> " + posted[0]["candidate"] in st.prompts[-1]
    # every line the users said is in the transcript, Em's own lines as <Em>
    got = [r["text"] for r in records(tr, "line") if r["speaker"] != "Em"]
    assert got == [t for _, t in lines]
    stats = run_cli("irc", "--stats", str(tr))
    assert stats.returncode == 0, stats.stderr
    assert f"{CH}" in stats.stdout and "MEDIUM" in stats.stdout and "decision latency: p50" in stats.stdout


def test_share_follows_the_rate(ircd, standin, tmp_path):
    """One Em, the stand-in's rate changed between two replays: never at 0, mostly at 0.8."""
    st = standin(next_speaker=0.0)
    tr, em, users = _run(ircd, tmp_path, st, replay_lines(12, skip=100), "--per-minute", "1000")
    try:
        n0 = len(records(tr, "decision"))
        assert not any(d["outcome"] == "posted" for d in records(tr, "decision"))
        st.next_speaker = 0.8
        replay(users, tr, CH, replay_lines(15, skip=112))
        late = [d for d in records(tr, "decision")[n0:] if d["asked"]]
        assert sum(d["predicted"] == "Em" for d in late) / len(late) > 0.5
        assert any(d["outcome"] == "posted" for d in late)
    finally:
        rc, err = stop_em(em)
    assert rc == 0, err


def test_operator_changes_engagement_a_stranger_cannot(ircd, standin, tmp_path):
    ops = tmp_path / "operators.yaml"
    # ngircd has no services: the account entry never matches (and the CAP request it makes is refused)
    ops.write_text('operators:\n  - "boss!~bossuser@127.0.0.1"\n  - "account:mallory"\n')
    st = standin(next_speaker=1.0)
    lines = replay_lines(3, skip=200)
    tr, em, users = _run(ircd, tmp_path, st, lines, "--operators", str(ops), "--per-minute", "1000",
                         channels=(f"{CH}=LOW",))
    try:
        boss, stranger = User(ircd.port, "boss", "bossuser"), User(ircd.port, "mallory")
        listener = next(iter(users.values()))
        n_em = len(listener.messages(source="Em"))
        for cmd in (f"engagement {CH} HIGH", "mute", f"say {CH} I am a bot", "status"):
            stranger.say("Em", cmd)
        wait_for(lambda: len(records(tr, "private")) == 4, 10, "the stranger's messages logged")
        replay(users, tr, CH, replay_lines(1, skip=210))
        assert records(tr, "decision")[-1]["engagement"] == "LOW"
        assert len(listener.messages(source="Em")) > n_em  # not muted by the stranger
        assert not stranger.messages("notice", source="Em")  # and no answer
        boss.say("Em", f"engagement {CH} HIGH")
        wait_for(lambda: boss.messages("notice", source="Em"), 10, "the operator's answer")
        assert records(tr, "control")[-1]["changed"] == {CH: {"engagement": "HIGH"}}
        replay(users, tr, CH, replay_lines(1, skip=211))
        assert records(tr, "decision")[-1]["engagement"] == "HIGH"
        assert st.prompts[-1].startswith(f"ENGAGEMENT: HIGH\nCHANNEL: {CH}\n")
        boss.say("Em", f"say {CH} hello from the operator")
        boss.say("Em", f"mute {CH}")
        wait_for(lambda: len(records(tr, "control")) == 3, 10, "mute")
        n_em = len(listener.messages(source="Em"))
        replay(users, tr, CH, replay_lines(3, skip=212))
        assert len(listener.messages(source="Em")) == n_em
        assert {tuple(d["reasons"]) for d in records(tr, "decision")[-3:]} == {("muted",)}
        assert not any("hello from the operator" in m[3] or "I am a bot" in m[3] for m in listener.messages())
    finally:
        rc, err = stop_em(em)
    assert rc == 0, err


def test_flood_cap_and_never_three_in_a_row(ircd, standin, tmp_path):
    st = standin(next_speaker=1.0)
    lines = replay_lines(12, skip=300)
    tr, em, users = _run(ircd, tmp_path, st, lines, "--per-minute", "3")
    stop_em(em)
    listener = next(iter(users.values()))
    assert len(listener.messages(source="Em")) == 3
    reasons = [r.split(":")[0] for d in records(tr, "decision") for r in d["reasons"]]
    assert "flood_cap" in reasons and "three_in_a_row" in reasons
    speakers = [r["speaker"] for r in records(tr, "line")]
    assert all(speakers[i:i + 3] != ["Em"] * 3 for i in range(len(speakers)))


def test_server_restart_is_survived_and_nick_collision_falls_back(ircd, standin, tmp_path):
    st = standin(next_speaker=1.0)
    squatter = User(ircd.port, "Em")
    tr = tmp_path / "transcript.jsonl"
    em = start_em(ircd.port, tr, target(st), [f"{CH}=MEDIUM"], "--per-minute", "1000")
    try:
        wait_for(lambda: records(tr, "join"), 15, "Em joins")
        assert records(tr, "connect")[0]["nick"] == "Em_"
        ircd.stop()
        wait_for(lambda: records(tr, "disconnect"), 10, "Em sees the server go")
        ircd.start()
        wait_for(lambda: len(records(tr, "join")) == 2, 20, "Em rejoins after the restart")
        assert records(tr, "connect")[-1]["nick"] == "Em"  # the squatter went down with the server
        users = cast(ircd.port, CH, replay_lines(2, skip=400))
        replay(users, tr, CH, replay_lines(2, skip=400))
        assert next(iter(users.values())).messages(source="Em")
        assert em.poll() is None
        assert all("<Em_>" not in p for p in st.prompts)
    finally:
        squatter.close()
        rc, err = stop_em(em)
    assert rc == 0, err


def test_sigterm_leaves_a_complete_transcript(ircd, standin, tmp_path):
    st = standin(next_speaker=0.5, latency=0.3)
    tr, em, users = _run(ircd, tmp_path, st, replay_lines(3, skip=500))
    listener = next(iter(users.values()))
    listener.say(CH, "one more line while the model thinks")
    wait_for(lambda: records(tr, "line")[-1]["text"] == "one more line while the model thinks", 5, "the line")
    time.sleep(0.1)  # the decision is in flight
    rc, err = stop_em(em, signal.SIGTERM)
    assert rc == 0, err
    raw = tr.read_text().splitlines()
    recs = read_jsonl(tr)
    assert len(recs) == len(raw)  # every line whole
    assert recs[-1]["kind"] == "stop" and recs[-1]["why"] == "SIGTERM"
    assert [r["text"] for r in recs if r["kind"] == "line" and r["speaker"] != "Em"][-1] == \
        "one more line while the model thinks"
    assert "em-gen irc: left" in err


def test_unreachable_server_and_bad_channel_give_one_line_and_exit_2(tmp_path):
    common = ["--target", "openai:http://127.0.0.1:9/v1#m", "--transcript", str(tmp_path / "t.jsonl")]
    r = run_cli("irc", "--server", f"127.0.0.1:{closed_port()}", "--channel", "#ok=LOW", *common, timeout=30)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "cannot connect" in r.stderr
    for bad in ("#two words=LOW", "general=LOW", "#ok=LOUD"):
        r = run_cli("irc", "--server", "127.0.0.1:6667", "--channel", bad, *common, timeout=30)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, (bad, r.stderr)
        assert "--channel" in r.stderr
    assert not (tmp_path / "t.jsonl").exists() or "error" in (tmp_path / "t.jsonl").read_text()


def test_pings_are_answered_while_idle(tmp_path, standin):
    srv = Ngircd(tmp_path, ping=5).start()
    try:
        st = standin(next_speaker=1.0)
        tr = tmp_path / "transcript.jsonl"
        em = start_em(srv.port, tr, target(st), [f"{CH}=LOW"], "--keepalive", "0")
        wait_for(lambda: records(tr, "join"), 15, "Em joins")
        time.sleep(11.5)  # two PING rounds with no traffic: an unanswered one disconnects after 5 s
        assert not records(tr, "disconnect")
        users = cast(srv.port, CH, replay_lines(1, skip=550))
        replay(users, tr, CH, replay_lines(1, skip=550))
        assert next(iter(users.values())).messages(source="Em")
        rc, err = stop_em(em)
        assert rc == 0, err
    finally:
        srv.stop()
