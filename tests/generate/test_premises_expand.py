"""`em-gen premises --expand`: through the stand-in (live and batch), answers journaled before they are
read, deduplicated against the library, written as a data file the library loads; --resume never
asks again what was answered."""
from __future__ import annotations

import json
import shutil

import pytest

from conftest import read_jsonl
from em_gen.cli import main
from em_gen.generate.premises import JOURNAL, dedupe, parse_answer
from em_gen.library import ROOT, load_library
from em_gen.quality.similar import near_pairs
from em_gen.providers.standin.server import StandInServer


@pytest.fixture
def sdir(tmp_path):
    d = tmp_path / "scenarios"
    shutil.copytree(ROOT / "scenarios", d, ignore=shutil.ignore_patterns("expanded"))
    return d


def _new(before, after):
    return {t: [p for p in after.premises[t] if p not in set(before.premises[t])] for t in after.premises}


def test_expand_spreads_over_topics_and_writes_files_the_library_loads(sdir, tmp_path):
    before = load_library(sdir)
    out = tmp_path / "o"
    assert main(["premises", "--expand", "40", "--scenarios", str(sdir), "--out", str(out)]) == 0
    after = load_library(sdir)
    new = _new(before, after)
    assert sum(map(len, new.values())) == 40
    assert len(new["everyday_life"]) == 8 and len(new["political"]) == 2  # by the mix's weights
    files = sorted((sdir / "premises" / "expanded").glob("*.yaml"))
    assert len(files) == 8 and all("source: em-gen premises --expand" in f.read_text() for f in files)
    every = [p for ps in after.premises.values() for p in ps]
    assert not near_pairs(every, 0.5), "no near-duplicate made it into the library"
    journal = read_jsonl(out / JOURNAL)
    kinds = [r["t"] for r in journal]
    assert kinds[0] == "expand" and kinds[-1] == "premises_written"
    assert kinds.count("premises_answer") == len({r["id"] for r in journal if r["t"] == "premises_answer"}) >= 8


def test_expand_one_topic_through_the_batch_api(sdir, tmp_path):
    out = tmp_path / "o"
    before = load_library(sdir)
    assert main(["premises", "--expand", "12", "--topic", "philosophy", "--batch-api", "--poll-interval", "0.1",
                 "--scenarios", str(sdir), "--out", str(out)]) == 0
    new = _new(before, load_library(sdir))
    assert len(new["philosophy"]) == 12 and not any(new[t] for t in new if t != "philosophy")
    journal = read_jsonl(out / JOURNAL)
    batch = next(r for r in journal if r["t"] == "premises_batch")
    answers = [r for r in journal if r["t"] == "premises_answer"]
    assert answers and all(a["batch"] == batch["batch_id"] for a in answers)
    order = [r["t"] for r in journal]
    assert order.index("premises_batch") < order.index("premises_answer") < order.index("premises_batch_end")


def test_resume_never_asks_again(sdir, tmp_path, monkeypatch):
    out = tmp_path / "o"
    with StandInServer(library=load_library(sdir)) as srv:
        monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url + "/v1")
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        args = ["premises", "--expand", "60", "--topic", "everyday_life", "--per-request", "20",
                "--provider", "openai", "--scenarios", str(sdir), "--out", str(out)]
        assert main(args) == 0
        full = read_jsonl(out / JOURNAL)
        asked = srv.stats["premise_requests"]
        assert asked >= 3
        # as if killed after the first answer: the journal ends there
        first = next(i for i, r in enumerate(full) if r["t"] == "premises_answer")
        (out / JOURNAL).write_text("".join(json.dumps(r) + "\n" for r in full[: first + 1]))
        shutil.rmtree(sdir / "premises" / "expanded")
        assert main(args) == 2, "an unfinished expansion is not silently abandoned"
        assert main(args + ["--resume"]) == 0
        assert srv.stats["premise_requests"] - asked == asked - 1, "the answered request is not sent again"
        resumed = read_jsonl(out / JOURNAL)
        assert resumed[first] == full[first] and resumed[-1]["t"] == "premises_written"
        assert resumed[-1]["kept"] == {"everyday_life": 60}


def test_dedupe_drops_near_duplicates_em_and_repeats(lib):
    known = lib.premises["everyday_life"][0]
    words = known.split()
    close = " ".join(words[:-1] + ["again"]) if len(words) > 12 else known + " again today"
    fresh = "a tram driver in Zagreb has started leaving a single boiled sweet on every tenth seat of the night tram"
    twin = "a tram driver in Zagreb has started leaving a single boiled sweet on every tenth seat of the morning tram"
    cands = [("everyday_life", close), ("everyday_life", fresh), ("everyday_life", twin),
             ("everyday_life", "someone keeps asking Em to rate their sourdough starter out of ten"),
             ("everyday_life", known.upper()), ("everyday_life", "too short")]
    kept, dropped = dedupe(lib, cands)
    assert kept == {"everyday_life": [fresh]}
    why = dict(dropped)
    assert why[close].startswith("near-duplicate") and why[twin].startswith("near-duplicate")
    assert "Em" in why[cands[3][1]] and why[known.upper()] == "already in the library" and why["too short"] == "length"


def test_parse_answer_reads_list_lines_only():
    raw = 'Here you go:\n- "someone\'s kettle whistles in a minor key."\n2. a regular found a tenner in a library book\n\nthanks'
    assert parse_answer(raw) == ["someone's kettle whistles in a minor key", "a regular found a tenner in a library book"]


@pytest.mark.parametrize("argv,needle", [
    (["--expand", "0"], "--expand"),
    (["--expand", "5", "--topic", "gardening"], "unknown topic 'gardening'"),
    (["--expand", "5", "--resume"], "no unfinished premises expansion"),
])
def test_bad_usage_is_one_line_exit_2(argv, needle, tmp_path, capsys):
    assert main(["premises", *argv, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1
