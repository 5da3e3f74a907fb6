"""`em-gen --import-logs`: real logs in four formats -> windows around Em's lines, pseudonymised, through
the gate, deduplicated against the synthetic dataset, into OUT/real/ only."""
from __future__ import annotations

import hashlib
import json

import pytest

from conftest import read_jsonl, run_cli
from em_gen.deploy.importlogs import import_logs
from em_gen.deploy.logformats import guess_channel, read_log
from em_gen.deploy.transcript import Transcript
from em_gen.quality.irc import parse
from em_gen.quality.rules import check
from helpers_realistic import load_corpus


@pytest.fixture(scope="module")
def good_logs(lib):
    """Hand-written good short logs that pass the rules as they are."""
    out = []
    for log in load_corpus():
        p = parse(log.text)
        if log.label == "good" and 10 <= len(p.messages) <= 20 and p.channel == "#general" and check(p, lib).ok:
            out.append(p)
    assert len(out) >= 4
    return out


def _transcript(path, logs, channel="#real"):
    tr = Transcript(path)
    tr.write("start", channels={channel: logs[0].engagement})
    seq = 0
    for p in logs:
        tr.write("control", changed={channel: {"engagement": p.engagement}})
        for nick, text in p.messages:
            seq += 1
            tr.write("line", channel=channel, seq=seq, nick="Em_" if nick == "Em" else nick,
                     speaker=nick, text=text)
            if nick == "Em":
                tr.write("decision", channel=channel, outcome="posted")
    tr.close()
    return path


def test_transcript_import_keeps_good_windows_pseudonymised(lib, good_logs, tmp_path):
    logs = good_logs[:4]
    tr = _transcript(tmp_path / "t.jsonl", logs)
    out = tmp_path / "out"
    f = import_logs(lib, [str(tr)], "transcript", out, {"#real": ("#general", None)})
    assert f["windows"] >= 4 and f["kept"] >= 3, f
    kept = read_jsonl(out / "real" / "real_training.jsonl")
    assert len(kept) == f["kept"] and all(r["meta"]["source"] == "real" for r in kept)
    originals = {n for p in logs for n, _ in p.messages if n != "Em"}
    for r in kept:
        p = parse(r["text"])
        assert p.channel == "#general" and p.engagement == r["meta"]["engagement"]
        assert "Em" in {n for n, _ in p.messages}
        assert not originals & {n for n, _ in p.messages}  # no real nick as a speaker
        for nick in originals:
            if len(nick) >= 3:
                assert nick.lower() not in r["text"].lower().replace("<em>", ""), nick  # nor mentioned
        assert check(p, lib).ok
    # importing the same file again appends nothing
    again = import_logs(lib, [str(tr)], "transcript", out, {"#real": ("#general", None)})
    assert again["already_imported"] == again["windows"] == f["windows"] and again["kept"] == 0
    assert len(read_jsonl(out / "real" / "real_training.jsonl")) == f["kept"]
    # the same person gets the same pseudonym in a later import into the same folder
    nick, text = next((n, t) for n, t in logs[0].messages if n != "Em")
    tr2 = _transcript(tmp_path / "t2.jsonl", [logs[0]])
    import_logs(lib, [str(tr2)], "transcript", out, {"#real": ("#general", None)})
    rows = read_jsonl(out / "real" / "real_training.jsonl") + read_jsonl(out / "real" / "real_rejected.jsonl")
    names = {n for r in rows for n, t in parse(r["text"]).messages if t == text}
    assert len(names) == 1 and nick not in names


def test_near_duplicates_of_the_synthetic_dataset_are_rejected_and_it_is_untouched(lib, good_logs, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    synthetic = out / "em_character_training.jsonl"
    # the synthetic dataset already holds the first log (under other nicks: a copy is still a copy)
    p = good_logs[0]
    renamed = [(n if n == "Em" else f"x{i % 4}", t) for i, (n, t) in enumerate(p.messages)]
    from em_gen.quality.irc import render
    synthetic.write_text(json.dumps({"text": render(p.engagement, p.channel, renamed),
                                     "meta": {"job_id": "j1", "provider": "anthropic"}}) + "\n")
    before = hashlib.sha256(synthetic.read_bytes()).hexdigest()
    tr = _transcript(tmp_path / "t.jsonl", good_logs[:3])
    f = import_logs(lib, [str(tr)], "transcript", out, {"#real": ("#general", None)})
    assert f["near_duplicate_synthetic"] >= 1
    rej = read_jsonl(out / "real" / "real_rejected.jsonl")
    assert any(r["reasons"][0].startswith("near_duplicate") for r in rej)
    assert hashlib.sha256(synthetic.read_bytes()).hexdigest() == before
    assert not (out / "export").exists()


def test_a_bad_em_line_is_rejected_with_its_reason(lib, good_logs, tmp_path):
    p = good_logs[1]
    msgs = list(p.messages)
    i = next(k for k, (n, _) in enumerate(msgs) if n == "Em")
    msgs[i] = ("Em", "Great question! I'd be happy to help you with that. Let me know if you need anything else!")
    p.messages = msgs
    tr = _transcript(tmp_path / "t.jsonl", [p])
    f = import_logs(lib, [str(tr)], "transcript", tmp_path / "out", {"#real": ("#general", None)})
    assert f["rejected"] >= 1 and "assistant_language" in f["by_reason"]


FOREIGN = {
    "weechat": ("irc.libera.#books.weechatlog",
                "2024-05-01 12:00:00\t-->\tkestrel (~k@host) has joined #books\n"
                "2024-05-01 12:00:01\t@kestrel\t{0}\n"
                "2024-05-01 12:00:02\t \t*kestrel waves\n"
                "2024-05-01 12:00:03\tEm\t{1}\n"
                "2024-05-01 12:00:04\t+mossbyte\t{2}\n"),
    "irssi": ("#books.log",
              "--- Log opened Wed May 01 12:00:00 2024\n"
              "12:00 -!- kestrel [~k@host] has joined #books\n"
              "12:00 <@kestrel> {0}\n"
              "12:00  * kestrel waves\n"
              "12:01 < Em_> {1}\n"
              "12:01 <+mossbyte> {2}\n"),
    "znc": ("libera_#books_20240501.log",
            "[12:00:00] *** Joins: kestrel (~k@host)\n"
            "[12:00:01] <kestrel> {0}\n"
            "[12:00:02] * kestrel waves\n"
            "[12:00:03] <Em> {1}\n"
            "[12:00:04] <mossbyte> {2}\n"),
}


@pytest.mark.parametrize("fmt", sorted(FOREIGN))
def test_foreign_formats(lib, fmt, tmp_path):
    name, body = FOREIGN[fmt]
    path = tmp_path / name
    path.write_text(body.format("anyone reading anything good", "the new le guin reissue, the covers are great",
                                "kestrel: I second that"))
    assert guess_channel(path) == "#books"
    log = read_log(path, fmt, "Em")
    assert [(ln.nick, ln.em) for ln in log.lines] == [("kestrel", False), ("Em" if fmt != "irssi" else "Em_", True),
                                                      ("mossbyte", False)]
    assert log.skipped >= 2  # the join and the action
    assert log.lines[0].channel == "#books"


def test_cli_import_and_its_bad_input(lib, good_logs, tmp_path):
    tr = _transcript(tmp_path / "t.jsonl", good_logs[:2])
    r = run_cli("--import-logs", str(tr), "--out", str(tmp_path / "out"), "--channel", "#real=#general=LOW")
    assert r.returncode == 0, r.stderr
    assert "windows:" in r.stdout and "kept" in r.stdout and "nicks pseudonymised" in r.stdout
    assert "rules only" in r.stderr
    assert (tmp_path / "out" / "real" / "pseudonym.key").stat().st_mode & 0o077 == 0
    kept = read_jsonl(tmp_path / "out" / "real" / "real_training.jsonl")
    levels = {p.engagement for p in good_logs[:2]}
    assert kept and {r["meta"]["engagement"] for r in kept} <= levels  # the transcript's levels, not --channel's
    assert all(r["meta"]["channel_header"] == "#general" for r in kept)
    # rules, then the character judge (the stand-in's, here), as for generated data
    r = run_cli("--import-logs", str(tr), "--out", str(tmp_path / "judged"), "--channel", "#real=#general=LOW",
                "--judge", "--provider", "offline")
    assert r.returncode == 0, r.stderr
    assert "character judge:" in r.stderr and "rules only" not in r.stderr
    (tmp_path / "w.log").write_text("[12:00:01] <kestrel> hello\n")
    for args, what in [(["--import-logs", str(tmp_path / "missing.jsonl")], "no such file"),
                       (["--import-logs", str(tmp_path / "w.log"), "--format", "weechat"], "--channel"),
                       (["--import-logs", str(tmp_path / "w.log"), "--format", "irssi", "--channel", "#b=LOW"],
                        "no irssi message lines"),
                       (["--status", "--channel", "#b=LOW"], "go with --import-logs")]:
        r = run_cli(*args, "--out", str(tmp_path / "out2"))
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and what in r.stderr, (args, r.stderr)
