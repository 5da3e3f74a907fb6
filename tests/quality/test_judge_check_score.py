"""judge-check's figures (em_gen/quality/judge_check.py) on hand-made answers to the shipped corpus."""
from __future__ import annotations

import dataclasses
import json

import pytest

from em_gen.quality.irc import parse
from em_gen.quality.judge_check import format_figures, rubric_id, score, verdict_line
from helpers_realistic import load_corpus

PASS = json.dumps({"verdict": "pass", "failures": []})


def _fail(log, family, why="x"):
    em = next(i for i, (nick, _) in enumerate(parse(log.text).messages, 1) if nick == "Em")
    return json.dumps({"verdict": "fail", "failures": [{"message": em, "family": family, "why": why}]})


@pytest.fixture(scope="module")
def corpus():
    return load_corpus()


def test_a_perfect_judge(lib, corpus):
    answers = {log.key: [_fail(log, log.family) if log.label == "bad" else PASS] for log in corpus}
    fig = score(lib, corpus, answers)
    assert fig.recall == fig.precision == 1.0 and fig.passed() and not fig.wrong
    assert all(c["named"] == c["caught"] == c["n"] for f, c in fig.families.items() if c["n"])
    assert verdict_line(fig, "m").startswith("verdict: PASS")


def test_wrong_family_good_log_citation_and_unreadable(lib, corpus):
    bad = [log for log in corpus if log.label == "bad"]
    good = [log for log in corpus if log.label == "good"]
    answers = {log.key: [_fail(log, log.family) if log.label == "bad" else PASS] for log in corpus}
    answers[bad[0].key] = [_fail(bad[0], "recap")]                      # caught, wrong family
    answers[good[0].key] = [_fail(good[0], "other", "narrates its own actions")]  # a false fail as other
    answers[bad[1].key] = ["not json", "still not json"]                # unreadable twice
    del answers[bad[2].key]                                              # never answered
    fig = score(lib, corpus, answers)
    assert fig.caught == len(bad) - 2 and fig.false_fails == 1 and fig.unjudged == 2
    assert fig.recall == (len(bad) - 2) / len(bad) and fig.precision == (len(bad) - 2) / (len(bad) - 1)
    n_recap = sum(1 for log in bad if log.family == "recap")
    assert bad[0].family != "recap" and fig.families["recap"]["cited"] == fig.families["recap"]["cited_bad"] == n_recap + 1
    assert fig.families[bad[0].family]["named"] == fig.families[bad[0].family]["caught"] - 1
    assert fig.families["other"]["cited"] == 1 and fig.families["other"]["cited_bad"] == 0
    assert fig.other_reasons == [f"character_other: message {_em(good[0])}: narrates its own actions"]
    kinds = {w["file"]: w["what"] for w in fig.wrong}
    assert kinds == {good[0].file: "false fail", bad[1].file: "unreadable", bad[2].file: "unreadable"}
    text = format_figures(fig, "m", "corpus")
    assert "narrates its own actions" in text and "character_other reasons (verbatim" in text
    # the gate: the rules catch some bad logs the judge left, so its recall is at least the judge's
    assert fig.gate_recall >= fig.recall


def _em(log):
    return next(i for i, (nick, _) in enumerate(parse(log.text).messages, 1) if nick == "Em")


def test_rubric_id_follows_the_judge_prompt(lib):
    other = dataclasses.replace(lib, prompts={**lib.prompts, "judge.md": lib.prompts["judge.md"] + "\nmore"})
    assert rubric_id(other) != rubric_id(lib) == rubric_id(lib)


def test_panel_prompts_carry_no_label(tmp_path, corpus):
    """scripts/judge_prompts.py writes exactly em-gen's judge prompt per log, named by its key."""
    import importlib.util

    from conftest import ROOT
    from em_gen.quality.judge import judge_request
    spec = importlib.util.spec_from_file_location("judge_prompts", ROOT / "scripts" / "judge_prompts.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    picked = [log for log in corpus if log.file.startswith("w8/")][:3]
    assert mod.main([str(tmp_path), *(str(ROOT / "tests/quality/realistic" / log.file) for log in picked)]) == 0
    from em_gen.library import load_library
    lib = load_library()
    for log in picked:
        text = (tmp_path / f"{log.key}.txt").read_text(encoding="utf-8")
        req = judge_request(lib, "panel", parse(log.text))
        assert text == f"SYSTEM\n{req.system}\n\nUSER\n{req.user}\n"
        assert "# label" not in text and log.note not in text and "claims_human-" not in text
