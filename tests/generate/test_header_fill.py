"""Issue 13, 2.7: a paid log's header is filled or normalised from the job em-gen asked for; only a
header that contradicts the job is rejected. `--validate` of a training file keeps the strict rule."""
from __future__ import annotations

import json

import pytest

from em_gen.generate.plan import make_plan
from em_gen.generate.prompting import build_request
from em_gen.providers.standin.compose import Composer
from em_gen.quality.verdict import judge, rules


def _codes(reasons):
    return {r.split(":", 1)[0] for r in reasons}


@pytest.fixture(scope="module")
def cases(lib):
    """(job, canonical log) pairs whose canonical log passes every rule."""
    comp = Composer(lib)
    out = []
    for job in make_plan(lib, 40, 3, "hdr"):
        req = build_request(lib, job, None, None)
        raw = comp.respond(req.system + "\n\n" + req.user)
        if not rules(lib, job, [{"raw": raw, "stop_reason": "end"}])[2]:
            out.append((job, raw))
        if len(out) == 3:
            break
    assert len(out) == 3
    return out


def _body(raw: str) -> str:
    lines = raw.split("\n")
    assert lines[0].startswith("ENGAGEMENT: ") and lines[1].startswith("CHANNEL: ")
    return "\n".join(lines[2:])


def _variants(job, raw):
    body = _body(raw)
    e, c = job.engagement, job.channel
    return {
        "missing": body,
        "bold": f"**ENGAGEMENT:** {e}\n**CHANNEL:** {c}\n{body}",
        "lower": f"engagement: {e.lower()}\nchannel: {c}\n{body}",
        "mixed case channel": f"Engagement: {e.title()}\nChannel: {c.upper()}\n{body}",
        "channel only": f"CHANNEL: {c}\n{body}",
        "engagement only": f"ENGAGEMENT: {e}\n{body}",
        "swapped order": f"CHANNEL: {c}\nENGAGEMENT: {e}\n{body}",
        "no hash": f"ENGAGEMENT: {e}\nCHANNEL: {c.lstrip('#')}\n{body}",
    }


@pytest.mark.parametrize("kind", ["missing", "bold", "lower", "mixed case channel", "channel only",
                                  "engagement only", "swapped order", "no hash"])
def test_paid_header_is_filled_or_normalised_from_the_job(lib, cases, kind):
    for job, raw in cases:
        text = _variants(job, raw)[kind]
        parts = [{"raw": text, "stop_reason": "end"}]
        _, _, reasons = rules(lib, job, parts)
        assert not reasons, (kind, reasons)
        v = judge(lib, job, parts, None, "anthropic", "m")
        assert v["ok"] and v["text"] == raw  # the canonical header, written by em-gen


def test_a_header_that_contradicts_the_job_is_rejected(lib, cases):
    job, raw = cases[0]
    other_level = next(x for x in lib.mix["engagement"] if x != job.engagement)
    other_chan = next(x for x in lib.mix["channels"] if x != job.channel)
    body = _body(raw)
    for text in (f"ENGAGEMENT: {other_level}\nCHANNEL: {job.channel}\n{body}",
                 f"**engagement:** {other_level.lower()}\n{body}",
                 f"ENGAGEMENT: {job.engagement}\nCHANNEL: {other_chan}\n{body}",
                 f"ENGAGEMENT: EXTREME\nCHANNEL: {job.channel}\n{body}"):
        v = judge(lib, job, [{"raw": text, "stop_reason": "end"}], None, "anthropic", "m")
        assert not v["ok"] and "header_mismatch" in _codes(v["reasons"]), (text[:60], v["reasons"])


def test_a_continuation_keeps_the_filled_header(lib, cases):
    job, raw = cases[0]
    lines = _body(raw).split("\n")
    first = "\n".join(lines[: len(lines) // 2] + ["<cut> half a mess"])
    rest = "\n".join(lines[len(lines) // 2:])
    parts = [{"raw": first, "stop_reason": "max_tokens"}, {"raw": rest, "stop_reason": "end"}]
    v = judge(lib, job, parts, None, "anthropic", "m")
    assert v["ok"], v["reasons"]
    assert v["text"] == raw


def test_validate_keeps_the_strict_header_rule(lib, cases, tmp_path):
    from em_gen.quality.validate import validate_file
    job, raw = cases[0]
    f = tmp_path / "train.jsonl"
    f.write_text(json.dumps({"text": raw}) + "\n" + json.dumps({"text": _variants(job, raw)["lower"]}) + "\n"
                 + json.dumps({"text": _variants(job, raw)["missing"]}) + "\n")
    import io
    buf = io.StringIO()
    summary = validate_file(lib, f, True, out=buf)
    rows = [json.loads(x) for x in buf.getvalue().splitlines()][:-1]
    assert rows[0]["ok"] is True
    assert not rows[1]["ok"] and "header" in _codes(rows[1]["reasons"])
    assert not rows[2]["ok"] and "header" in _codes(rows[2]["reasons"])
    assert summary["rejected"] == 2
