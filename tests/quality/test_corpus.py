"""The quality gate against the labelled corpus (tests/quality/corpus/corpus.jsonl).

Positive = bad (rejected). Precision and recall of rejection must both be at least 0.95, every bad
conversation must be rejected for the reason its label names (so the metric is not met by
accident), and no other rule may fire beyond the side effects listed in SIDE_EFFECTS (each bad
example is broken in exactly one way).

    .venv/bin/python -m pytest tests/quality/test_corpus.py -s     # prints the per-kind table
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from em_gen.quality.rules import REASON_CODES, Expect, check
from em_gen.quality.irc import parse
from em_gen.library import load_library

CORPUS = Path(__file__).parent / "corpus" / "corpus.jsonl"
MIN_PRECISION = MIN_RECALL = 0.95

# broken kind -> the reason codes that name it
KIND_CODES = {
    "assistant_language": {"assistant_language"},
    "markdown": {"markdown"},
    "code_block": {"code_block"},
    "boundary_violation": {"boundary_violation"},
    "hallucinated_turn": {"hallucinated_turn"},
    "repetition_loop": {"repetition_loop"},
    "garbage_chars": {"garbage_chars"},
    "repeated_lines": {"repeated_lines"},
    "rapid_fire": {"rapid_fire"},
    "wall_of_text": {"wall_of_text"},
    "em_absent": {"em_absent"},
    "participation_band": {"participation_band"},
    "header": {"header", "header_mismatch"},
    "bucket": {"bucket"},
    "few_speakers": {"few_speakers"},
    "bad_nicks": {"bad_nicks"},
    "em_back_to_back": {"em_back_to_back"},
    "too_long": {"too_long"},
    "continuation_lines": {"continuation_lines"},
}
# codes that legitimately come along with a kind (one fault, several symptoms)
SIDE_EFFECTS = {
    # the parser cut the log short: the count, band and cast of what is left suffer too
    "hallucinated_turn": {"bucket", "participation_band", "em_absent", "few_speakers"},
    # a multi-line list or code block is also continuation lines
    "markdown": {"continuation_lines"},
    "code_block": {"continuation_lines", "boundary_violation"},
    # the character-phrase families name what assistant language often is (a disclaimer, a dodge)
    "assistant_language": {"em_ai_disclaimer", "em_political_refusal", "em_counsellor", "em_recap",
                           "em_formal_register", "em_offer_then_refuse", "em_greeting"},
    # "sure, here's ..." is both compliance and assistant-speak
    "boundary_violation": {"assistant_language", "wall_of_text", "code_block"},
}


def load():
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def results():
    lib = load_library()
    out = []
    for r in load():
        exp = Expect(**r["expect"]) if r["expect"] else None
        v = check(parse(r["text"]), lib, exp)
        out.append((r, v, {x.split(":", 1)[0] for x in v.reasons}))
    return out


def test_corpus_shape():
    recs = load()
    assert len(recs) >= 120
    ids = [r["id"] for r in recs]
    assert len(ids) == len(set(ids))
    labels = Counter(r["label"] for r in recs)
    assert set(labels) == {"good", "bad"} and abs(labels["good"] - labels["bad"]) <= len(recs) * 0.1
    for r in recs:
        assert set(r) == {"id", "text", "expect", "label", "broken", "note"}
        assert (r["broken"] is None) == (r["label"] == "good"), r["id"]
        if r["broken"] is not None:
            assert r["broken"] in KIND_CODES, r["id"]
        if r["expect"] is not None:
            assert set(r["expect"]) == {"engagement", "channel", "bucket"}
    # long logs of both labels are in there
    lens = {(r["label"], len(parse(r["text"]).messages) >= 80) for r in recs}
    assert ("good", True) in lens and ("bad", True) in lens
    for codes in KIND_CODES.values():
        assert codes <= set(REASON_CODES)


def test_corpus_matches_its_builder():
    """The JSONL is what build_corpus.py writes (deterministic): regenerate after editing either."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("build_corpus", CORPUS.parent / "build_corpus.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.build() == load()


def test_precision_recall(results):
    tp = sum(1 for r, v, _ in results if r["label"] == "bad" and not v.ok)
    fp = sum(1 for r, v, _ in results if r["label"] == "good" and not v.ok)
    fn = sum(1 for r, v, _ in results if r["label"] == "bad" and v.ok)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0

    kinds = sorted({r["broken"] for r, _, _ in results if r["broken"]})
    rows = []
    for k in kinds:
        items = [(r, v, c) for r, v, c in results if r["broken"] == k]
        caught = sum(1 for _, _, c in items if c & KIND_CODES[k])
        rows.append((k, len(items), caught, len(items) - caught))
    good = [(r, v) for r, v, _ in results if r["label"] == "good"]
    print(f"\ncorpus: {len(results)} conversations, {len(good)} good, {len(results) - len(good)} bad")
    print(f"rejection precision {precision:.3f}  recall {recall:.3f}  (tp {tp}, fp {fp}, fn {fn})")
    print(f"{'broken kind':22} {'n':>3} {'caught':>6} {'missed':>6}")
    for k, n, c, m in rows:
        print(f"{k:22} {n:>3} {c:>6} {m:>6}")
    print(f"{'(good, passed)':22} {len(good):>3} {sum(v.ok for _, v in good):>6} {sum(not v.ok for _, v in good):>6}")
    for r, v in good:
        if not v.ok:
            print(f"  false rejection {r['id']}: {v.reasons[:2]}")
    assert precision >= MIN_PRECISION, f"precision {precision:.3f}"
    assert recall >= MIN_RECALL, f"recall {recall:.3f}"


def test_each_bad_rejected_for_its_named_reason(results):
    wrong = []
    for r, v, codes in results:
        if r["label"] != "bad":
            continue
        want = KIND_CODES[r["broken"]]
        if not codes & want:
            wrong.append(f"{r['id']} ({r['broken']}): got {sorted(codes) or 'accepted'}")
    assert not wrong, "\n".join(wrong)


def test_each_bad_broken_in_one_way(results):
    extra = []
    for r, v, codes in results:
        if r["label"] != "bad":
            continue
        allowed = KIND_CODES[r["broken"]] | SIDE_EFFECTS.get(r["broken"], set())
        if codes - allowed:
            extra.append(f"{r['id']} ({r['broken']}): also {sorted(codes - allowed)}: {v.reasons}")
    assert not extra, "\n".join(extra)


def test_good_conversations_pass(results):
    bad = [f"{r['id']}: {v.reasons}" for r, v, _ in results if r["label"] == "good" and not v.ok]
    assert not bad, "\n".join(bad)
