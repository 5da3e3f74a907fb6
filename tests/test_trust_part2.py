"""Issue 19, items 7-13: clear behaviour a user can trust (one test, or a few, per point)."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, read_jsonl


# ---- 7. Ctrl-C under --rpm: the first one stops waiting at once -------------------------------------
def test_ctrl_c_under_slow_rpm_exits_at_once_and_keeps_the_request_in_flight(tmp_path, lib):
    from em_gen.providers.standin.server import StandInServer
    out = tmp_path / "d"
    # --rpm 6: one request every 10 s. Eight workers wait in line for their slots; before the fix each
    # one waited its slot out before it saw the stop (about 70 s with nothing in flight)
    with StandInServer(library=lib, latency=1.5) as srv:
        env = {**os.environ, "OPENAI_API_KEY": "x", "OPENAI_BASE_URL": srv.base_url + "/v1"}
        p = subprocess.Popen([sys.executable, "-m", "em_gen.cli", "--batch", "20", "--provider", "openai",
                              "--rpm", "6", "--concurrency", "8", "--no-judge", "--out", str(out),
                              "--no-progress"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 60
        while time.time() < deadline and srv.stats["requests"] < 1:
            time.sleep(0.005)
        t = time.monotonic()
        p.send_signal(signal.SIGINT)  # the first request is in flight (1.5 s), the rest wait for slots
        _, err = p.communicate(timeout=90)
        took = time.monotonic() - t
        served = srv.stats["requests"]
    print(f"\nexit {took:.1f}s after SIGINT under --rpm 6")
    assert p.returncode == 1 and "interrupted" in err, err[-2000:]
    assert took < 8, took
    assert served == 1
    # the request in flight was let finish, and journaled
    responses = [r for r in read_jsonl(out / "journal.jsonl") if r["t"] == "response"]
    assert len(responses) == 1


def test_a_stop_wakes_every_pacing_wait_and_retry_back_off_at_once(lib, tmp_path):
    import asyncio

    from em_gen.generate.journal import Store
    from em_gen.generate.limiter import RateLimiter, Stopped
    from em_gen.generate.runner import RunConfig, Runner
    from em_gen.providers import Pricing

    async def limiter_part():
        lim = RateLimiter(rpm=1)  # one a minute
        await lim.acquire()
        waiters = [asyncio.create_task(lim.acquire()) for _ in range(4)]
        await asyncio.sleep(0.05)
        t = time.monotonic()
        lim.stop()
        got = await asyncio.gather(*waiters, return_exceptions=True)
        assert all(isinstance(g, Stopped) for g in got) and time.monotonic() - t < 0.5

    asyncio.run(limiter_part())

    async def runner_part():
        store = Store(tmp_path / "d")
        try:
            r = Runner(lib, store, provider=None, pricing=Pricing("m", None), cfg=RunConfig(progress=False))
            sleeper = asyncio.create_task(r._sleep(30))  # a retry's back-off
            await asyncio.sleep(0.05)
            t = time.monotonic()
            r.request_stop("interrupted")
            await sleeper
            assert time.monotonic() - t < 0.5
        finally:
            store.close()

    asyncio.run(runner_part())


# ---- 8. --max-tokens holds for continuation requests too ---------------------------------------------
def test_max_tokens_is_honoured_on_continuation_requests(tmp_path, capsys):
    from em_gen.cli import main
    out = tmp_path / "d"
    assert main(["--batch", "3", "--max-tokens", "60", "--no-monitor", "--out", str(out), "--no-progress"]) in (0, 1)
    capsys.readouterr()
    parts = [r for r in read_jsonl(out / "journal.jsonl") if r["t"] == "response"]
    continued = [r for r in parts if r["part"] > 0]
    assert continued, "the token limit cut the logs, so continuations were asked for"
    assert max(r["usage"]["output_tokens"] for r in parts) <= 60, [r["usage"] for r in continued]


# ---- 9. --out: no empty path, no folder of another kind, '~' expanded --------------------------------
def test_out_empty_is_refused_and_writes_nothing(tmp_path, monkeypatch, capsys):
    from em_gen.cli import main
    monkeypatch.chdir(tmp_path)
    for mode in (["--batch", "1"], ["--status"], ["--test"]):
        assert main([*mode, "--out", "", "--no-progress"]) == 2, mode
        err = capsys.readouterr().err
        assert "--out" in err and "empty" in err and len(err.strip().splitlines()) == 1, err
    assert list(tmp_path.iterdir()) == []


def test_out_naming_a_data_folder_of_another_kind_is_refused(tmp_path, capsys):
    from em_gen.cli import main
    for folder in (ROOT / "scenarios", ROOT / "prompts"):
        before = sorted(p.name for p in folder.iterdir())
        assert main(["--batch", "1", "--out", str(folder), "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert str(folder) in err and "not an output folder" in err, err
        assert sorted(p.name for p in folder.iterdir()) == before
    other = tmp_path / "photos"
    other.mkdir()
    (other / "cat.jpg").write_bytes(b"\xff\xd8")
    for mode in (["--batch", "1"], ["--test"]):
        assert main([*mode, "--out", str(other), "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert "holds other data" in err and "cat.jpg" in err, err
    assert [p.name for p in other.iterdir()] == ["cat.jpg"]
    # an em-gen folder, an empty one and a new one are fine
    (tmp_path / "empty").mkdir()
    for name in ("empty", "new", "new"):
        assert main(["--batch", "1", "--out", str(tmp_path / name), "--no-progress"]) == 0, name
    capsys.readouterr()


def test_out_expands_the_home_folder(tmp_path, monkeypatch, capsys):
    from em_gen.cli import main
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    cwd.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(cwd)
    assert main(["--batch", "1", "--out", "~/emdata", "--no-progress"]) == 0
    assert (home / "emdata" / "journal.jsonl").exists()
    assert list(cwd.iterdir()) == []  # no folder named "~"
    capsys.readouterr()
    assert main(["--status", "--out", "~/emdata"]) == 0
    assert "accepted" in capsys.readouterr().out


# ---- 12. the prompt, the style rule and --status say what the plan says: 2-4 sentences ---------------
# two 4-sentence arguments of 84 and 90 words, the shape of a good hidden log that wall_of_text rejected
ARGUMENT_84 = ("honestly the sequels get more hate than they earn, and most of it is people grieving their "
               "childhood rather than judging the films that are actually on screen. the middle one takes real swings with the characters "
               "and at least tries to say something new about what the whole saga means. the last one is the "
               "mess everyone says it is, I won't defend the plotting or pacing of it. but lumping all three "
               "together as one disaster is lazy, and you know that")
ARGUMENT_90 = ("ok but the prequels had the same problem and everyone has quietly come around on them now, "
               "mostly because all the kids who grew up with them are adults with opinions on the internet. give it "
               "ten years and the sequels will get the exact same rehabilitation tour, with video essays and "
               "everything. none of that makes the dialogue any better in hindsight, to be clear, some of it is genuinely "
               "painful to sit through again now. I just think nostalgia decides these arguments far more than quality ever does")


def _log_with(lib, em_lines):
    from em_gen.quality.irc import render
    others = [("kestrel", "the sequels were a disaster and I will not be taking questions"),
              ("pixelrot", "the throne room fight alone justifies the ticket"),
              ("vantablack", "the casino planet though. nobody asked for the casino planet"),
              ("kestrel", "em you can't seriously be defending them"),
              ("zeroday", "this is going to be a long night"),
              ("pixelrot", "the music was good at least, everyone agrees on that"),
              ("vantablack", "the music is always good, that's the one constant"),
              ("kestrel", "ok fine, the music was good"),
              ("zeroday", "anyway who is watching the match tonight"),
              ("pixelrot", "only if it goes to penalties"),
              ("vantablack", "it's the cup, it always goes to penalties"),
              ("kestrel", "I'll be there, someone bring snacks")]
    msgs = others[:4] + [(lib.em, em_lines[0])] + others[4:6] + [(lib.em, em_lines[1])] + others[6:]
    return render("MEDIUM", "#general", msgs)


def test_four_sentences_of_84_and_90_words_are_not_a_wall(lib):
    from em_gen.quality.irc import parse
    from em_gen.quality.rules import Expect, check
    from em_gen.quality.rules.style import sentences
    assert [sentences(t) for t in (ARGUMENT_84, ARGUMENT_90)] == [4, 4]
    assert [len(t.split()) for t in (ARGUMENT_84, ARGUMENT_90)] == [84, 90]
    v = check(parse(_log_with(lib, [ARGUMENT_84, ARGUMENT_90])), lib, Expect())
    assert not [r for r in v.reasons if r.startswith("wall_of_text")], v.reasons


def test_walls_are_bounded_by_sentences_first_and_words_second(lib):
    from em_gen.quality.irc import parse
    from em_gen.quality.rules import Expect, check
    short = "fair, the music carried it. I'll give you that one"

    def walls(line):
        v = check(parse(_log_with(lib, [line, short])), lib, Expect())
        return [r for r in v.reasons if r.startswith("wall_of_text")]

    # more than four sentences: a wall, however short they are
    five = ("It's not that one side is right. It's that the question is badly framed. Everyone assumes there's a "
            "correct answer. There isn't one, really. It depends on what you grew up with.")
    assert walls(five) and "5 sentences" in walls(five)[0]
    # one run-on sentence of 81+ words: a wall by words
    run_on = ARGUMENT_84.replace(". ", ", ").replace("the whole saga", "the whole saga and the rest of it")
    assert len(run_on.split()) > 80 and "words" in walls(run_on)[0]
    # four sentences stretched past 30 words each: a wall by words
    long4 = " ".join([ARGUMENT_90.split(". ")[0]] * 3) + ". " + ". ".join(ARGUMENT_90.split(". ")[1:])
    assert len(long4.split()) > 120 and "words" in walls(long4)[0]
    assert walls(ARGUMENT_84) == [] and walls(ARGUMENT_90) == []


def test_the_prompt_and_the_rule_ask_for_the_plans_two_to_four_sentences():
    from em_gen.quality.rules.context import STANDARD_SENTENCES, WALL_SENTENCES
    plan = (ROOT.parent / "shared" / "seeds" / "em-character-plan.md")
    if plan.exists():
        assert "Standard messages: 2-4 sentences" in plan.read_text(encoding="utf-8")
    text = (ROOT / "prompts" / "character.md").read_text(encoding="utf-8")
    assert "one to three sentences" not in text
    assert text.count("two to four sentences") >= 2  # the channel's messages and Em's
    assert STANDARD_SENTENCES == (2, 4) and WALL_SENTENCES == STANDARD_SENTENCES[1]


def test_status_shows_the_share_of_em_messages_in_two_to_four_sentences(tmp_path, capsys):
    import json

    from em_gen.cli import main
    out = tmp_path / "d"
    assert main(["--batch", "4", "--out", str(out), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["--status", "--json", "--out", str(out)]) == 0
    stats = json.loads(capsys.readouterr().out)
    per = stats["em_sentences_per_message"]
    want = (per["2"] + per["3"] + per["4"]) / sum(per.values())
    assert stats["em_standard_share"] == round(want, 4)
    assert main(["--status", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    line = next(x for x in text.splitlines() if x.startswith("Em messages of 2-4 sentences"))
    assert f"{100 * want:.1f}%" in line, line


# ---- 10. templates checked before any write; read-only folders; --scenarios FILE ---------------------
def _prompts_copy(tmp_path):
    import shutil
    d = tmp_path / "prompts"
    shutil.copytree(ROOT / "prompts", d)
    return d


def test_a_bad_template_is_named_with_its_field_before_anything_is_written(tmp_path, capsys):
    from em_gen.cli import main
    cases = (("job.md", lambda t: t + "\nthe mood: {mood}\n", ["job.md", "{mood}", "line"]),
             ("continue.md", lambda t: t + "\n{0}\n", ["continue.md", "positional"]),
             ("continue.md", lambda t: t + "\na lone { brace\n", ["continue.md", "brace"]),
             ("character.md", lambda t: "  \n", ["character.md", "empty"]))
    for k, (name, edit, needles) in enumerate(cases):
        prompts = _prompts_copy(tmp_path / f"case{k}")
        (prompts / name).write_text(edit((prompts / name).read_text(encoding="utf-8")), encoding="utf-8")
        for mode in (["--batch", "2"], ["--test"], ["--batch", "2", "--estimate"]):
            out = tmp_path / "out"
            assert main([*mode, "--prompts", str(prompts), "--out", str(out), "--no-progress"]) == 2, (name, mode)
            err = capsys.readouterr().err
            assert len(err.strip().splitlines()) == 1 and "internal error" not in err, err
            assert all(n in err for n in needles), (needles, err)
            assert str(prompts / name) in err
            assert not out.exists(), (name, mode)
    prompts = _prompts_copy(tmp_path / "bin")
    (prompts / "continue.md").write_bytes(b"\xff\xfe not utf-8 \x80")
    assert main(["--batch", "2", "--prompts", str(prompts), "--out", str(tmp_path / "o2"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "continue.md" in err and "UTF-8" in err and "internal error" not in err
    assert not (tmp_path / "o2").exists()


def test_scenarios_or_prompts_naming_a_file_exit_2(tmp_path):
    from conftest import run_cli
    for flag in ("--scenarios", "--prompts"):
        r = run_cli("--batch", "1", flag, str(ROOT / "README.md"), "--out", str(tmp_path / "o"))
        assert r.returncode == 2, (flag, r.stderr)
        assert flag in r.stderr and "not a folder" in r.stderr and "--resume" not in r.stderr, r.stderr
        assert not (tmp_path / "o").exists()


def _as_reader_only(args: list[str], folder):
    """Run em-gen on `folder` as a user who may read it but not write it (root: as nobody)."""
    import shutil
    env = {k: v for k, v in os.environ.items() if "API_KEY" not in k and "BASE_URL" not in k}
    cmd = [sys.executable, "-m", "em_gen.cli", *args]
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("root without setpriv: cannot drop to a user that may not write")
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
        env["HOME"] = "/tmp"
        probe = subprocess.run([*cmd[:5], "-c", "import em_gen"], capture_output=True, env=env, cwd=ROOT, timeout=60)
        if probe.returncode != 0:  # e.g. a checkout under `mktemp -d` (mode 0700): nobody cannot reach it
            pytest.skip(f"{ROOT}: another user cannot run this checkout's em-gen (a folder on its path is private)")
    else:
        folder.chmod(0o555)
    try:
        return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    finally:
        folder.chmod(0o755)


def _readonly_folder(tmp_path):
    import tempfile

    from em_gen.cli import main
    base = Path(tempfile.mkdtemp(prefix="emgen-ro-"))  # a place another user can reach
    base.chmod(0o755)
    out = base / "d"
    assert main(["--batch", "3", "--out", str(out), "--no-progress"]) == 0
    out.chmod(0o755)
    return base, out


def test_status_reads_a_read_only_folder(tmp_path, capsys):
    import shutil
    base, out = _readonly_folder(tmp_path)
    capsys.readouterr()
    try:
        before = sorted(p.name for p in out.iterdir())
        r = _as_reader_only(["--status", "--out", str(out)], out)
        assert r.returncode == 0, r.stderr
        assert "accepted 3" in r.stdout
        assert sorted(p.name for p in out.iterdir()) == before
    finally:
        shutil.rmtree(base)


def test_report_on_a_read_only_folder_names_report_html_and_no_resume(tmp_path, capsys):
    import shutil
    base, out = _readonly_folder(tmp_path)
    capsys.readouterr()
    try:
        before = sorted(p.name for p in out.iterdir())
        r = _as_reader_only(["--report", "--out", str(out)], out)
        assert r.returncode == 2, r.stderr
        line = r.stderr.strip().splitlines()
        assert len(line) == 1 and str(out / "report.html") in line[0] and "read-only" in line[0], r.stderr
        assert "--resume" not in r.stderr and ".report.html." not in r.stderr
        assert sorted(p.name for p in out.iterdir()) == before
    finally:
        shutil.rmtree(base)


# ---- 11. messages that do not mislead -----------------------------------------------------------------
def test_offline_without_flags_says_why_the_judge_is_off_and_names_no_flag_nobody_gave(tmp_path):
    from conftest import run_cli
    for argv in (["--batch", "2", "--estimate"], ["--batch", "2", "--out", str(tmp_path / "d"), "--no-progress"]):
        r = run_cli(*argv)
        assert r.returncode == 0, r.stderr
        said = r.stdout + r.stderr
        assert "--no-judge" not in said, said[-1500:]
        assert "offline stand-in runs without it" in said and "--judge turns it on" in said
    r = run_cli("--batch", "2", "--no-judge", "--out", str(tmp_path / "e"), "--no-progress")
    assert "never judged (--no-judge)" in r.stderr  # the flag that was given is named


def test_report_does_not_say_judged_when_the_judge_never_ran(tmp_path, capsys):
    import re

    from em_gen.cli import main
    out = tmp_path / "d"
    assert main(["--batch", "3", "--out", str(out), "--no-progress"]) == 0
    assert main(["--report", "--out", str(out)]) == 0
    capsys.readouterr()
    page = (out / "report.html").read_text(encoding="utf-8")
    head = page[page.index("<h1>"):page.index("</p>", page.index("<h1>"))]
    assert "judged" not in head, head
    assert re.search(r"3 conversations checked by the rules, the character judge never ran", head), head


def test_validate_says_not_jsonl_once_for_a_file_that_is_not_jsonl(tmp_path, capsys):
    import json

    from em_gen.cli import main
    out = tmp_path / "d"
    assert main(["--batch", "3", "--out", str(out), "--no-progress"]) == 0
    rows = [json.loads(x) for x in (out / "em_character_training.jsonl").read_text().splitlines()]
    files = {"array.json": json.dumps(rows, indent=1), "array1.json": json.dumps(rows),
             "chat.txt": rows[0]["text"] + "\n" + rows[1]["text"]}
    for name, body in files.items():
        (tmp_path / name).write_text(body, encoding="utf-8")
    (tmp_path / "blob.jsonl").write_bytes(bytes(range(256)) * 40)
    capsys.readouterr()
    for name in (*files, "blob.jsonl"):
        for extra in ([], ["--json"]):
            assert main(["--validate", str(tmp_path / name), *extra]) == 2, name
            cap = capsys.readouterr()
            assert cap.out == "" and len(cap.err.strip().splitlines()) == 1, (name, cap)
            assert "not JSONL" in cap.err and str(tmp_path / name) in cap.err


def test_validate_numbers_records_by_line_and_names_json_syntax_errors(tmp_path, capsys):
    import json

    from em_gen.cli import main
    out = tmp_path / "d"
    assert main(["--batch", "2", "--out", str(out), "--no-progress"]) == 0
    good = (out / "em_character_training.jsonl").read_text().splitlines()
    f = tmp_path / "mixed.jsonl"
    f.write_text("\n".join([good[0], "", '{"text": 1}', '{"text": "x", oops}', "[1, 2]", good[0], good[1]]) + "\n")
    capsys.readouterr()
    assert main(["--validate", str(f)]) == 1
    text = capsys.readouterr().out
    assert not re.search(r"^record \d", text, re.M)  # one numbering: the file's lines, 1-based
    assert re.search(r"^line 3: REJECT bad_record: a JSON object without a string 'text' field$", text, re.M), text
    assert re.search(r"^line 4: REJECT bad_record: JSON syntax error: .+ \(column \d+\)$", text, re.M), text
    assert re.search(r"^line 5: REJECT bad_record: a JSON array, not an object$", text, re.M), text
    assert re.search(r"^line 6: REJECT near_duplicate: too similar to line 1$", text, re.M), text
    assert main(["--validate", str(f), "--json"]) == 1
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [(r["index"], r["line"]) for r in rows[:-1]] == [(0, 1), (1, 3), (2, 4), (3, 5), (4, 6), (5, 7)]


def test_model_without_a_key_is_refused_not_run_offline(tmp_path, capsys):
    from em_gen.cli import main
    out = tmp_path / "d"
    for model, key in (("claude-sonnet-4-6", "ANTHROPIC_API_KEY"), ("gpt-4.1", "OPENAI_API_KEY")):
        for extra in ([], ["--estimate"], ["--test"]):
            assert main(["--batch", "2", "--model", model, *extra, "--out", str(out), "--no-progress"]
                        if "--test" not in extra else ["--test", "--model", model, "--out", str(out)]) == 2
            err = capsys.readouterr().err
            assert model in err and key in err and "offline" in err and len(err.strip().splitlines()) == 1, err
            assert not out.exists()
    # saying so explicitly is fine
    assert main(["--batch", "1", "--provider", "offline", "--model", "my-name", "--out", str(out), "--no-progress"]) == 0
    capsys.readouterr()


def test_status_shows_a_run_that_stopped_on_a_fatal_error(tmp_path, server, capsys):
    import json

    from conftest import run_cli
    out = tmp_path / "d"
    env = {"OPENAI_API_KEY": "x", "OPENAI_BASE_URL": server.base_url + "/v1"}
    r = run_cli("--batch", "2", "--model", "no-such-model", "--no-judge", "--out", str(out), "--no-progress", env=env)
    assert r.returncode == 1 and "fatal" in r.stderr, r.stderr[-1500:]
    r = run_cli("--status", "--out", str(out))
    assert r.returncode == 0, r.stderr
    line = [x for x in r.stdout.splitlines() if x.startswith("last session of")]
    assert len(line) == 1 and "batch1" in line[0] and "fatal" in line[0] and "no-such-model" in line[0], r.stdout
    r = run_cli("--status", "--json", "--out", str(out))
    last = json.loads(r.stdout)["last_session"]
    assert last["run"] == "batch1" and last["status"] == "fatal" and "404" in last["message"]
    # a run that finished shows no such line
    r = run_cli("--batch", "1", "--out", str(tmp_path / "ok"), "--no-progress")
    assert "last session of" not in run_cli("--status", "--out", str(tmp_path / "ok")).stdout


def test_version(capsys):
    from importlib.metadata import version

    from em_gen.cli import main
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"em-gen {version('em-gen')}"


def test_the_job_block_prints_no_python_reprs(tmp_path):
    from conftest import run_cli
    r = run_cli("--test", "--single", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    block = r.stdout.split("PROMPT (")[0]
    assert "('" not in block and "['" not in block and "')" not in block, block


# ---- 13. report nits and the README's test time -------------------------------------------------------
def test_participation_bins_never_straddle_a_band_edge_and_the_top_of_a_band_is_drawn_inside(lib):
    from em_gen.report.charts import band_histogram, participation_bins
    bands = {lvl: lib.band(lvl) for lvl in ("LOW", "MEDIUM", "HIGH")}
    bands["ODD"] = (0.12, 0.27)  # a mix.yaml whose band edges are not on the 2.5% grid
    edges = participation_bins(0.45, bands)
    for lo, hi in bands.values():
        assert not any(a < lo < b or a < hi < b for a, b in zip(edges, edges[1:])), (lo, hi)
    for lvl, (lo, hi) in bands.items():
        # shares as a log produces them: 1 of 10, 3 of 20, 7 of 20, ...
        vals = [lo, hi, (lo + hi) / 2, 1 / 10, 3 / 20, 7 / 20, 1 / 4, 0.01, 0.44]
        counts, e = band_histogram(vals, edges, lo, hi)
        inside_bins = sum(c for c, a, b in zip(counts, e, e[1:]) if lo - 1e-9 <= a and b <= hi + 1e-9)
        assert inside_bins == sum(1 for v in vals if lo <= v <= hi), (lvl, list(zip(e, counts)))
        assert counts.sum() == len(vals)


def test_dotted_means_one_thing_in_the_report():
    from em_gen.report.charts import MARK_STYLE
    from em_gen.report.plot import LINES
    def dotted(ls) -> bool:
        return ls == ":" or (isinstance(ls, tuple) and all(on <= 1 for on in ls[1][::2]))

    assert dotted(MARK_STYLE["linestyle"])  # the run starts, as the captions say
    assert not [ls for _c, ls, _m in LINES if dotted(ls)]  # and no data series


def test_token_length_title_has_no_doubled_parenthesis():
    from em_gen.report.text_charts import token_lengths
    svg = token_lengths([120, 300, 410], 2048, "tekken tokenizer (mistral-common v13)")
    assert "tokens per conversation" in svg and "((" not in svg and "))" not in svg


def test_sample_chats_have_no_scroll_bar_of_their_own():
    import re

    from em_gen.report.page import document
    css = document("t", "")
    rule = re.search(r"\.chat \{([^}]*)\}", css).group(1)
    assert "overflow" not in rule and "max-height" not in rule, rule


def test_test_mode_writes_no_file_named_like_the_training_set(tmp_path):
    from conftest import run_cli
    r = run_cli("--test", "--single", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "never into the training file" in r.stdout
    names = [p.name for p in (tmp_path / "test").iterdir()]
    assert "em_character_training.jsonl" not in names and "test_accepted.jsonl" in names, names
    assert not (tmp_path / "em_character_training.jsonl").exists()


def test_readme_test_time_is_the_measured_one():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    setup = text[text.index("\n## Set up\n"):text.index("\n## ", text.index("\n## Set up\n") + 1)]
    assert "14 min" not in setup and "about 15 minutes" in setup and "881 s" in setup  # the fresh-clone CI run


def test_wall_of_text_false_rejections_on_the_good_corpora_and_walls_still_caught(lib):
    """    .venv/bin/python -m pytest tests/test_trust_part2.py -k good_corpora -s    (prints the figures)"""
    import json

    from helpers_realistic import load_corpus

    from em_gen.quality.irc import parse
    from em_gen.quality.rules import Expect, check

    def walls(text):
        return [r for r in check(parse(text), lib, Expect()).reasons if r.startswith("wall_of_text")]

    good = [log for log in load_corpus() if log.label == "good"]
    realistic_fp = sum(1 for log in good if walls(log.text))
    rows = [json.loads(x) for x in (ROOT / "tests" / "quality" / "corpus" / "corpus.jsonl").read_text().splitlines()]
    synthetic_good = [r for r in rows if r["label"] == "good"]
    synthetic_fp = sum(1 for r in synthetic_good if walls(r["text"]))
    bad_walls = [r for r in rows if r.get("broken") == "wall_of_text"]
    caught = sum(1 for r in bad_walls if walls(r["text"]))
    hidden_fp = len(walls(_log_with(lib, [ARGUMENT_84, ARGUMENT_90])))
    print(f"\nwall_of_text: good realistic logs rejected {realistic_fp}/{len(good)}, good synthetic logs rejected "
          f"{synthetic_fp}/{len(synthetic_good)}, hidden-log shape (4 sentences, 84 and 90 words): {hidden_fp}/2 "
          f"messages flagged; wall logs caught {caught}/{len(bad_walls)}")
    assert realistic_fp == 0 and synthetic_fp == 0 and hidden_fp == 0
    assert caught == len(bad_walls) >= 4
