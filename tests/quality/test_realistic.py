"""The gate on realistic logs: hand-written the way a strong teacher model writes for em-gen's prompt,
including the subtle ways it slips out of character (tests/quality/realistic/README.md).

Rules alone must keep precision >= 0.95 and recall >= 0.5; rules plus the character judge (its
answers recorded from a strong model reading prompts/judge.md) must reach 0.95 on both.

    .venv/bin/python -m pytest tests/quality/test_realistic.py -s     # prints the per-family table
"""
from __future__ import annotations

from collections import Counter, defaultdict

import pytest

from em_gen.quality.irc import parse
from em_gen.quality.judge import read_judgement
from em_gen.quality.rules import REASON_CODES, Expect, check
from helpers_realistic import ROOT, load_corpus


@pytest.fixture(scope="module")
def corpus():
    return load_corpus()


@pytest.fixture(scope="module")
def verdicts(corpus, lib):
    out = []
    for log in corpus:
        parsed = parse(log.text)
        rules = check(parsed, lib, Expect())
        judge = read_judgement(log.answer, lib, parsed) if log.answer is not None else None
        out.append((log, rules, judge))
    return out


def _table(rows, caught_of) -> tuple[dict, int, int, int]:
    fam, fp, good = defaultdict(Counter), 0, 0
    for log, rules, judge in rows:
        caught = caught_of(rules, judge)
        if log.label == "bad":
            fam[log.family]["n"] += 1
            fam[log.family]["caught"] += caught
        else:
            good += 1
            fp += caught
    tp = sum(c["caught"] for c in fam.values())
    return fam, tp, fp, good


def _print(title, fam, tp, fp, good):
    n = sum(c["n"] for c in fam.values())
    print(f"\n{title}: recall {tp}/{n} = {tp / n:.3f}, precision {tp}/{tp + fp} = {tp / max(1, tp + fp):.3f}, "
          f"good logs rejected {fp}/{good}")
    for f, c in sorted(fam.items()):
        print(f"  {f:<20} caught {c['caught']}/{c['n']}")


def test_corpus_shape(corpus):
    """At least 150 logs, 12+ failure families with 4+ logs each, 40%+ good, long logs in both."""
    assert len(corpus) >= 150
    bad = Counter(log.family for log in corpus if log.label == "bad")
    assert sum(1 for n in bad.values() if n >= 4) >= 12, bad
    good = [log for log in corpus if log.label == "good"]
    assert len(good) >= 0.4 * len(corpus)
    assert sum(1 for log in good if log.family == "near_miss") >= 20
    assert sum(1 for log in good if log.n_messages >= 80) >= 10
    assert any(log.n_messages >= 80 for log in corpus if log.label == "bad")
    assert {log.label for log in corpus} == {"good", "bad"}
    for log in corpus:
        if log.label == "bad":
            assert log.failing, f"{log.file}: a bad log names its failing Em messages"


def test_every_log_passes_the_form_rules(verdicts):
    """The corpus is well-formed: a log may only be rejected by a rule about what Em says."""
    character = {"assistant_language", "boundary_violation"} | {c for c in REASON_CODES if c.startswith("em_")} \
        - {"em_absent", "em_back_to_back"}
    form = [(log.file, rules.codes) for log, rules, _ in verdicts if set(rules.codes) - character]
    assert not form


def test_rules_precision_and_recall_per_family(verdicts):
    fam, tp, fp, good = _table(verdicts, lambda rules, judge: not rules.ok)
    _print("rules alone", fam, tp, fp, good)
    n = sum(c["n"] for c in fam.values())
    assert tp / (tp + fp) >= 0.95
    assert tp / n >= 0.5


def test_rules_name_the_failing_message(verdicts):
    """A character-phrase rule that fires on a bad log points at one of its failing Em lines."""
    wrong = []
    for log, rules, _ in verdicts:
        if log.label != "bad":
            continue
        for r in rules.reasons:
            if r.startswith("em_") and " in message " in r:
                n = int(r.split(" in message ", 1)[1].split(":", 1)[0])
                if n not in log.failing:
                    wrong.append((log.file, r[:120]))
    assert not wrong


def test_judge_path_precision_and_recall(verdicts):
    """Rules, then the judge (recorded answers of a strong model): recall and precision >= 0.95."""
    assert all(judge is not None and judge["readable"] for _, _, judge in verdicts), "every log has an answer"
    fam, tp, fp, good = _table(verdicts, lambda rules, judge: not rules.ok or not judge["ok"])
    _print("rules + judge", fam, tp, fp, good)
    n = sum(c["n"] for c in fam.values())
    assert tp / n >= 0.95
    assert tp / (tp + fp) >= 0.95


def test_judge_names_the_family(verdicts):
    """When the judge fails a bad log, one of its failures has the log's family."""
    hits = total = 0
    for log, _, judge in verdicts:
        if log.label == "bad" and not judge["ok"]:
            total += 1
            hits += any(f["family"] == log.family for f in judge["failures"])
    assert hits >= 0.9 * total


def test_new_rubric_keeps_good_logs_passing(corpus, lib):
    """claims_human and the `other` path, before and after: the good logs most exposed to them (Em
    says it is an AI, or mentions a body, a meal or a family) were judged again under today's rubric
    (rejudged/, blind panel answers); their false-fail rate must stay 0, as it was (judge_answers/)."""
    again = {p.stem: p.read_text(encoding="utf-8") for p in (ROOT / "rejudged").glob("*.json")}
    logs = [log for log in corpus if log.key in again]
    assert len(logs) == len(again) >= 20 and all(log.label == "good" for log in logs)
    before = [log.file for log in logs if not read_judgement(log.answer, lib, parse(log.text))["ok"]]
    after = {log.file: read_judgement(again[log.key], lib, parse(log.text)) for log in logs}
    assert all(g["readable"] for g in after.values())
    failed = {f: g["reasons"] for f, g in after.items() if not g["ok"]}
    print(f"\nrejudged good logs: false fails before {len(before)}/{len(logs)}, after {len(failed)}/{len(logs)}")
    assert not before and not failed, failed
