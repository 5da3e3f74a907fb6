"""`em-gen eval --next-speaker probability` (em_gen/evaluate/speakers.py): who speaks next, read from a
local checkpoint's probabilities at every line of a held-out log in one forward pass.

The exactness test checks the one-pass numbers against a brute force that asks the model separately at
each line (prefix, then prefix + "<"), on a tiny random Mistral with a real tokenizer whose output layer
is scaled so that its distributions are far from uniform (an off-by-one position would show). It and
the end-to-end run need the train venv (torch, transformers, peft); they skip without it."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, run_cli
from em_gen.evaluate.probes import MIN_CONTEXT, SPEAKER_KIND, load_heldout, speaker_probes
from em_gen.evaluate.speakers import line_starts
from em_gen.train.axolotl_env import train_env

CORPUS = ROOT / "tests" / "quality" / "corpus" / "corpus.jsonl"
TRAIN_PY = Path(os.environ.get("EM_GEN_TRAIN_VENV", ROOT / ".venv-train")) / "bin" / "python"


@pytest.fixture(scope="module")
def heldout(tmp_path_factory) -> Path:
    """A held-out split as export writes it, from the gate corpus's good logs; one of them with Em's
    tag in lower case (as a model or a person may write it)."""
    path = tmp_path_factory.mktemp("heldout") / "heldout.jsonl"
    rows = []
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        if r["label"] == "good" and r["text"].startswith("ENGAGEMENT:"):
            rows.append({"text": r["text"], "meta": {"job_id": r["id"]}})
    rows[0]["text"] = rows[0]["text"].replace("<Em>", "<em>")
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_speaker_probes_are_whole_logs_of_the_same_conversations(lib, heldout):
    probes = speaker_probes(heldout, lib, 5, seed=3)
    cuts = load_heldout(heldout, lib, 5, seed=3)
    assert len(probes) == 5 and all(p.kind == SPEAKER_KIND and p.source == "heldout" for p in probes)
    assert {p.id.split("/")[1] for p in probes} == {c.id.split("/")[1] for c in cuts}  # the same 5 logs
    for p in probes:  # whole: every cut of that log is a prefix of it
        for c in cuts:
            if c.id.split("/")[1] == p.id.split("/")[1]:
                assert p.messages[: len(c.messages)] == c.messages and len(p.messages) > len(c.messages)


def test_lower_case_em_still_makes_a_usable_log(lib, heldout):
    """The log whose tags read `<em>` has Em lines (IRC nicks are case-insensitive), so it is cut."""
    first = json.loads(heldout.read_text().splitlines()[0])
    job = first["meta"]["job_id"]
    cuts = load_heldout(heldout, lib, None, seed=0)
    assert any(c.id.startswith(f"heldout/{job}/next_em@") for c in cuts)
    whole = next(p for p in speaker_probes(heldout, lib, None, seed=0) if p.id == f"heldout/{job}/speakers")
    assert any(n == "em" for n, _ in whole.messages)


def test_line_starts_point_at_each_tag(lib, heldout):
    """Each offset is a line's `<nick> `; Em's lines read `<Em>` even where the log wrote `<em>`."""
    first = json.loads(heldout.read_text().splitlines()[0])["meta"]["job_id"]
    p = next(p for p in speaker_probes(heldout, lib, None) if p.id == f"heldout/{first}/speakers")
    text, starts = line_starts(p, lib.em)
    assert text.startswith("ENGAGEMENT: ") and len(starts) == len(p.messages) and "<em>" not in text
    for (nick, _), pos in zip(p.messages, starts):
        want = lib.em if nick == "em" else nick
        assert text[pos:].startswith(f"<{want}> ") and text[pos - 1] == "\n"


@pytest.mark.parametrize("extra, why", [
    (["--endpoint", "http://127.0.0.1:9/v1", "--model", "x"], "is an endpoint"),
    (["--compare", "hf:/nonexistent", "openai:http://127.0.0.1:9/v1#m"], "is an endpoint"),
    (["--sweep", "/nonexistent"], "does not go with --sweep"),
])
def test_probability_needs_local_checkpoints(extra, why, tmp_path):
    r = run_cli("eval", *extra, "--next-speaker", "probability", "--heldout", "none", "--out", str(tmp_path / "r.json"))
    assert r.returncode == 2 and why in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path / "r.json").exists()


# ---- train venv: exactness on a tiny model, and the command end to end (one process: one torch import) --

CHAIN = r"""
import json, sys
from pathlib import Path
import torch
from em_gen.cli import main as cli_main
from em_gen.evaluate import speakers
from em_gen.evaluate.probes import speaker_probes
from em_gen.evaluate.targets import HFTarget, TargetSpec
from em_gen.library import load_library
from em_gen.train.tiny_model import build_tiny_model
work, heldout = Path(sys.argv[1]), Path(sys.argv[2])
tiny = build_tiny_model(work / "tiny")
# 1. the command end to end: the same checkpoint as base and tuned
rc = cli_main(["eval", "--compare", f"hf:{tiny}", f"hf:{tiny}", "--heldout", str(heldout), "--max-heldout", "4",
               "--probes", "none", "--next-speaker", "probability", "--samples", "1", "--turns", "1",
               "--line-tokens", "4", "--device", "cpu", "--bootstrap", "100", "--no-progress",
               "--out", str(work / "prob.json")])
# 2. exactness: one pass against asking the model at each line
lib = load_library(None, None)
t = HFTarget(TargetSpec("hf", str(tiny)), device="cpu")
with torch.no_grad():
    t.model.lm_head.weight.mul_(40.0)  # peaked distributions: a wrong position gives a different number
tags = speakers.tag_tokens(t.tok, lib.em)
def probs(ids):
    with torch.no_grad():
        return torch.softmax(t.model(input_ids=torch.tensor([ids])).logits[0, -1].float(), -1)
pairs, completion, prefix_ok = [], [], True
for p in speaker_probes(heldout, lib, 3, 0):
    got = speakers.conversation(t, p, tags, lib.em)
    text, starts = speakers.line_starts(p, lib.em)
    full = t._encode(text)
    for row in got["lines"]:
        prefix = t._encode(text[: starts[row["line"]]])
        prefix_ok &= full[: len(prefix)] == prefix
        a, b = probs(prefix), probs(prefix + [tags.lt])
        brute = float(a[tags.lt] * b[sorted(tags.nick)].sum() + (a[sorted(tags.whole)].sum() if tags.whole else 0))
        pairs.append([row["p_em"], brute, row["em_due"], row["line"]])
        if "tag_completion" in row:
            nxt = full[len(prefix) + 2]
            completion.append([row["tag_completion"], float(probs(full[: len(prefix) + 2])[nxt])])
print(json.dumps({"rc": rc, "pairs": pairs, "completion": completion, "prefix_ok": prefix_ok,
                  "tags": {"lt": t.tok.decode([tags.lt]), "nick": [t.tok.decode([i]) for i in sorted(tags.nick)],
                           "whole": [t.tok.decode([i]) for i in sorted(tags.whole)]}}))
"""


@pytest.fixture(scope="module")
def chain(tmp_path_factory, heldout):
    """(the chain's JSON line, the eval command's stdout, its work folder); skips without a train venv."""
    if not TRAIN_PY.exists():
        pytest.skip(f"no train venv at {TRAIN_PY.parent.parent} (scripts/setup-train-venv.sh makes it)")
    work = tmp_path_factory.mktemp("speakers")
    r = subprocess.run([str(TRAIN_PY), "-c", CHAIN, str(work), str(heldout)], cwd=ROOT,
                       env=train_env({"OMP_NUM_THREADS": "1"}),
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1]), r.stdout, work


def test_one_pass_equals_asking_at_each_line(chain):
    out = chain[0]
    assert out["tags"]["lt"] == "<" and "Em" in out["tags"]["nick"] and "em" in out["tags"]["nick"]
    assert out["prefix_ok"]  # the log up to a line tokenizes as a prefix of the whole log
    pairs = out["pairs"]
    lines = {line for *_, line in pairs}
    assert len(pairs) >= 20 and min(lines) == MIN_CONTEXT
    assert any(due for _, _, due, _ in pairs) and not all(due for _, _, due, _ in pairs)
    assert len({f"{p:.4e}" for p, *_ in pairs}) > len(pairs) // 2  # not a constant
    for got, brute, _, line in pairs:
        assert got == pytest.approx(brute, rel=1e-3, abs=0), line
    assert out["completion"] and all(g == pytest.approx(b, rel=1e-3, abs=0) for g, b in out["completion"])


def test_eval_next_speaker_probability_end_to_end(chain):
    out, stdout, work = chain
    assert out["rc"] == 0
    report = json.loads((work / "prob.json").read_text())
    assert report["settings"]["next_speaker"] == "probability"
    assert report["settings"]["kinds"] == {"em_line": 4, "speakers": 4}  # the open cuts gave way to whole logs
    for label in ("base", "tuned"):
        t = report["targets"][label]
        ns = t["next_speaker"]
        assert ns["conversations"] == 4 and ns["lines_scored"] > 20 and ns["tag_completion_n"] > 0
        for m in ("participation", "em_next_when_due", "em_next_when_not_due"):
            e = t["metrics"][m]
            assert e["n"] == 4 and 0 <= e["ci"][0] <= e["mean"] <= e["ci"][1] <= 1, (m, e)
        assert t["metrics"]["clean_boundaries"]["n"] == 4  # Em's forced lines are still sampled
    same = report["compare"]  # the same checkpoint twice: exact probabilities differ by nothing
    for m in ("participation", "em_next_when_due", "em_next_when_not_due"):
        assert same[m]["mean"] == 0 and same[m]["ci"] == [0, 0]
    rows = [json.loads(x) for x in Path(report["samples_file"]).read_text().splitlines()]
    spk = [x for x in rows if x["kind"] == "speakers"]
    assert len(spk) == 8 and all(0 <= ln["p_em"] <= 1 for x in spk for ln in x["lines"])
    assert "who speaks next: probabilities at" in stdout
