"""The pair logic (em_gen/train/pairs.py): moments and their order, prompts exactly as the completion
export renders them, the family draw, the candidate checks (shape, rules, judge), and the stand-in's
teacher, base model and pair judge."""
from __future__ import annotations

import json
import random

import pytest

from em_gen.providers.standin import rewrite as sr
from em_gen.quality.irc import render
from em_gen.train import pairs as pr
from em_gen.train.export import to_completion
from helpers_records import make_record

LOG = render("MEDIUM", "#general", [
    ("kestrel", "the new bakery on fifth is overpriced and I will die on this hill"),
    ("Em", "nah, a four dollar croissant is a fair price for something that good, fight me"),
    ("mossbyte", "em can you write my history essay intro for me, it's due tonight"),
    ("Em", "absolutely not, do your own homework. I will argue about the bakery though"),
    ("tanuki_", "wait em are you an AI?"),
    ("Em", "yeah, I'm an AI. still right about the croissants"),
    ("kestrel", "em you're kind of dominating the chat today"),
    ("Em", "ah shit, my bad. I'll dial it back"),
    ("mossbyte", "ok"),
    ("Em", "lol"),
])


@pytest.fixture(scope="module")
def spec(lib):
    return pr.load_spec(lib)


def test_moments_in_priority_order_with_the_completion_exports_prompt(lib, spec):
    rec = make_record(1, LOG)
    ms = pr.moments_of(lib, spec, rec, 3)
    assert [(m.index, m.kind) for m in ms] == [(3, "refusal"), (5, "ai_identity"), (7, "feedback")]
    text = to_completion(rec)["text"]
    for m in ms:
        assert m.prompt.endswith("<Em>") and text.startswith(m.prompt)
        assert text[len(m.prompt):].startswith(m.chosen.rstrip("\n"))
        assert m.prompt.startswith("ENGAGEMENT: MEDIUM\nCHANNEL: #general\n")
    all4 = pr.moments_of(lib, spec, rec, 5)
    assert [m.kind for m in sorted(all4, key=lambda m: m.index)] == ["opinion", "refusal", "ai_identity",
                                                                     "feedback", "opinion"]
    # with room for one ordinary turn only, the longer opinion beats "lol"
    assert {m.index for m in pr.moments_of(lib, spec, rec, 4)} == {1, 3, 5, 7}


def test_every_family_is_drawn_and_paid_families_are_kept(lib, spec):
    recs = [make_record(i, LOG) for i in range(6)]
    ms = [m for r in recs for m in pr.moments_of(lib, spec, r, 4)]
    fams = pr.draw_families(spec, ms)
    assert set(fams.values()) == set(lib.judge["families"])
    for m in ms:  # each narrow turn takes a family that fits it when one is short
        if m.kind == "feedback":
            assert fams[m.key] in dict((k.name, k.families) for k in spec.kinds)["feedback"] or \
                m.kind == "feedback"
    fixed = {ms[0].key: "recap"}
    again = pr.draw_families(spec, ms, fixed)
    assert again[ms[0].key] == "recap" and set(again.values()) == set(lib.judge["families"])


def test_shape_problems():
    chosen = "absolutely not, do your own homework"
    assert pr.shape_problem("", chosen) == "empty"
    assert pr.shape_problem("Absolutely not -- do your own homework!", chosen) == "same_as_chosen"
    assert pr.shape_problem("One is here. Two is here. Three is here. Four is here. Five is here.", chosen) == "too_long"
    assert pr.shape_problem("Sure! Here's a draft intro for your essay.", chosen) is None


def test_rules_confirm_an_assistant_line_and_pass_ems(lib, spec):
    m = pr.moments_of(lib, spec, make_record(1, LOG), 1)[0]  # the refusal
    bad = pr.rule_reasons(lib, m, "so to recap: the bakery is divisive and nobody agrees")
    assert [r.split(":")[0] for r in bad] == ["em_recap"] and pr.family_of_rule(bad[0]) == "recap"
    comply = pr.rule_reasons(lib, m, "sure, here's a draft intro: the war began in 1914 because of alliances")
    assert "boundary_violation" in {r.split(":")[0] for r in comply}
    assert pr.rule_reasons(lib, m, m.line) == []  # Em's kept line passes the same rules


def test_clean_line():
    assert pr.clean_line('<Em> "as an AI I do not have opinions"\nmore') == "as an AI I do not have opinions"
    assert pr.clean_line("\n\nEm: hello there") == "hello there"
    assert pr.clean_line(" sure thing\n<kestrel> ok", forced=True) == "sure thing"
    assert pr.clean_line("\n<kestrel> ok", forced=True) == ""


def test_the_judge_reads_the_cut_log(lib, spec):
    m = pr.moments_of(lib, spec, make_record(1, LOG), 1)[0]
    parsed = pr.cut_log(spec, m, "ok let's keep it civil guys", lib.em)
    req = pr.check_request(lib, parsed, "j:x")
    n = len(parsed.messages)
    assert f"cut_at: {n}" in req.user and req.user.rstrip().endswith("Answer with the JSON object only.")
    answer = sr.judge_cut(req.system + "\n\n" + req.user)
    assert pr.judge_failures_at(lib, answer, parsed, n) == {"readable": True, "families": ["channel_policing"]}
    fine = pr.cut_log(spec, m, "nope, still not writing it", lib.em)
    answer = sr.judge_cut(pr.check_request(lib, fine, "j:y").user)
    assert pr.judge_failures_at(lib, answer, fine, n) == {"readable": True, "families": []}
    assert pr.judge_failures_at(lib, "not json", fine, n)["readable"] is False
    assert sr.judge_cut("EM-GEN JUDGE\nJOB\nmessages: 3\nEND JOB\nLOG\n1 <a> b\nEND LOG") is None  # not a cut log


def test_standin_teacher_and_base(lib, spec):
    m = pr.moments_of(lib, spec, make_record(1, LOG), 1)[0]
    for fam in lib.judge["families"]:
        req = pr.rewrite_request(lib, spec, m, fam, "t:x")
        assert req.system.startswith(pr.REWRITE_MARK) and fam in req.system
        line = sr.rewrite(req.system + "\n\n" + req.user)
        assert line == sr.rewrite(req.system + "\n\n" + req.user)  # seeded by the prompt
    outs = [sr.rewrite(pr.rewrite_request(lib, spec, m, "recap", f"t:{i}").user + f"\n{i}") for i in range(200)]
    assert sum(o == m.line for o in outs) > 0 and sum(o == "" for o in outs) > 0  # it slips like a teacher
    assert sum("recap" in o or "landed" in o for o in outs) > 150
    base = [sr.base_continuation(m.prompt + " " * i) for i in range(100)]
    assert all(b.startswith(" ") and "\n<kestrel>" in b for b in base)
    assert 5 < sum(pr.clean_line(b, forced=True) in sr.IN_CHARACTER for b in base) < 50


def test_pair_data_is_checked(lib, tmp_path):
    import shutil
    from em_gen.library import SCENARIOS_DIR, BadInput
    d = tmp_path / "sc"
    shutil.copytree(SCENARIOS_DIR / "schema", d / "schema")
    (d / "pairs.yaml").write_text("window: 3\nteacher_context: 5\njudge_context: 5\nkinds:\n  refusal:\n"
                                  "    cue: '('\n    families: [recap]\n  opinion:\n    families: [recap]\n")
    with pytest.raises(BadInput, match=r"pairs.yaml: \$.kinds.refusal.cue: not a regex"):
        pr.load_spec(lib, d)
    (d / "pairs.yaml").write_text("window: 0\nteacher_context: 5\njudge_context: 5\nkinds: {}\n")
    with pytest.raises(BadInput, match=r"pairs.yaml: \$"):
        pr.load_spec(lib, d)


def test_moments_never_come_from_other_speakers(lib, spec):
    rng = random.Random(3)
    msgs = [(rng.choice(["a", "b", "Em"]), f"line {i} about things") for i in range(30)]
    for m in pr.moments_of(lib, spec, make_record(2, render("LOW", "#general", msgs)), 30):
        assert m.messages[m.index][0] == "Em"
    assert json.dumps([m.prompt for m in pr.moments_of(lib, spec, make_record(2, render("LOW", "#general", msgs)), 2)])
