"""`em-gen eval`: the bootstrap, every metric's scorer on hand-written continuations, the probes, the
command's errors, and end-to-end runs against the offline stand-in (OpenAI-compatible endpoint, in
the base venv) and a tiny random Mistral with a LoRA adapter (train venv; skipped without it)."""
from __future__ import annotations

import json
import os
import random
import shlex
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import ROOT, closed_port, run_cli
from em_gen.cli import main as cli_main
from em_gen.evaluate.metrics import (METRICS, goal, bootstrap, paired_bootstrap, score_ai_identity, score_assistant,
                                 score_boundaries, score_calibration, score_clean, score_next_is_em,
                                 score_participation, score_sample, split_turns)
from em_gen.evaluate.probes import (FORCED_KINDS, PROBES_FILE, WRITTEN_KINDS, Probe, load_heldout, load_probes,
                                round_robin)
from em_gen.evaluate.targets import TargetSpec, parse_spec
from em_gen.library import BadInput, load_library
from em_gen.train.axolotl_env import train_env
from em_gen.quality.judge import families

CORPUS = ROOT / "tests" / "quality" / "corpus" / "corpus.jsonl"
TRAIN_VENV = Path(os.environ.get("EM_GEN_TRAIN_VENV", ROOT / ".venv-train"))
TRAIN_PY = TRAIN_VENV / "bin" / "python"


@pytest.fixture(scope="module")
def heldout(tmp_path_factory) -> Path:
    """A held-out split as export writes it (raw records), from the gate corpus's good logs."""
    path = tmp_path_factory.mktemp("heldout") / "heldout.jsonl"
    rows = []
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        if r["label"] == "good" and r["text"].startswith("ENGAGEMENT:"):
            rows.append(json.dumps({"text": r["text"], "meta": {"job_id": r["id"]}}))
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def probe(kind: str, log: list[tuple[str, str]], question: str | None = None) -> Probe:
    return Probe(f"t-{kind}", kind, "test", "MEDIUM", "#general", tuple(log), None, question)


# ---- bootstrap ----------------------------------------------------------------------------------

def _width(stat: dict) -> float:
    return stat["ci"][1] - stat["ci"][0]


def test_bootstrap_basics():
    assert bootstrap([]) == {"mean": None, "ci": None, "n": 0}
    assert bootstrap([0.4]) == {"mean": 0.4, "ci": [0.4, 0.4], "n": 1}
    assert bootstrap([1.0] * 10)["ci"] == [1.0, 1.0]
    a, b = bootstrap([0, 1, 1, 0, 1], seed=3), bootstrap([0, 1, 1, 0, 1], seed=3)
    assert a == b and a["ci"][0] <= a["mean"] <= a["ci"][1] and a["n"] == 5


def test_bootstrap_ci_shrinks_with_n():
    rng = random.Random(1)
    small = bootstrap([float(rng.random() < 0.3) for _ in range(20)], seed=1)
    large = bootstrap([float(rng.random() < 0.3) for _ in range(800)], seed=1)
    assert _width(large) < _width(small) / 3


def test_bootstrap_ci_covers_the_true_mean_and_excludes_a_wrong_one():
    rng = random.Random(7)
    covered = 0
    for _ in range(100):
        s = bootstrap([rng.random() for _ in range(40)], n_boot=300, seed=rng.randrange(1 << 30))
        covered += s["ci"][0] <= 0.5 <= s["ci"][1]
    assert covered >= 85  # nominal 95%
    # the must-fail direction: a CI from Bernoulli(0.8) data does not contain 0.5
    s = bootstrap([float(rng.random() < 0.8) for _ in range(200)], seed=2)
    assert not s["ci"][0] <= 0.5 <= s["ci"][1]
    assert s["ci"][0] > 0.7 and s["ci"][1] < 0.9


def test_paired_bootstrap():
    rng = random.Random(3)
    base = {f"p{i}": rng.random() for i in range(30)}
    same = paired_bootstrap(base, dict(base))
    assert same["mean"] == 0 and same["ci"] == [0, 0] and not same["significant"]
    better = {k: min(1.0, v + 0.3 + rng.uniform(-0.05, 0.05)) for k, v in base.items()}
    d = paired_bootstrap(base, {**better, "only-tuned": 1.0})
    assert d["n"] == 30 and d["significant"] and 0 < d["ci"][0] <= d["mean"] <= d["ci"][1]
    worse = {k: v - 0.3 for k, v in base.items()}
    d = paired_bootstrap(base, worse)
    assert d["significant"] and d["ci"][1] < 0


# ---- scorers on hand-written continuations --------------------------------------------------------

def test_split_turns(lib):
    reply, lines = split_turns(" nah pineapple is fine\n<kestrel> traitor\n\n<Em> it's a fruit\n<jvk> ok", True, 6)
    assert reply == "nah pineapple is fine"
    assert lines == [("kestrel", "<kestrel> traitor"), ("Em", "<Em> it's a fruit"), ("jvk", "<jvk> ok")]
    reply, lines = split_turns("<a> one\n<b> two\n<c> three\n", False, 2)
    assert reply is None and [n for n, _ in lines] == ["a", "b"]
    assert split_turns("garbage words\n<a> hi", False, 5)[1][0] == (None, "garbage words")
    # lines without a tag continue the message before them, Em's reply included
    reply, lines = split_turns(" sure:\n```python\nimport praw\n```\n<ollie_b> wow\nthanks\n", True, 6)
    assert reply == "sure:\n```python\nimport praw\n```" and lines == [("ollie_b", "<ollie_b> wow\nthanks")]


def test_participation_and_next_speaker(lib):
    lines = [("kestrel", ""), ("Em", ""), (None, "junk"), ("jvk", "")]
    assert score_participation(lines, "Em", skip_first=False) == 0.25
    assert score_participation(lines, "Em", skip_first=True) == pytest.approx(1 / 3)
    assert score_participation([], "Em", skip_first=False) is None
    assert score_participation([("Em", "")], "Em", skip_first=True) is None
    assert score_next_is_em([("Em", "")], "Em") == 1.0
    assert score_next_is_em([(None, "Em: hi")], "Em") == 0.0 and score_next_is_em([], "Em") == 0.0


def test_em_in_lower_case_is_em(lib):
    """A model that writes Em's tag as `<em>` (Gemma's vocabulary has the HTML token) is Em: IRC nicks
    are case-insensitive. `<Emma>` is someone else."""
    reply, lines = split_turns("<em> nah\n<ollie> ok\n<EM> fine\n<Emma> hi\n", False, 4)
    assert score_participation(lines, "Em", skip_first=False) == 0.5
    assert score_next_is_em(lines, "Em") == 1.0 and score_next_is_em(lines[3:], "Em") == 0.0
    held = probe("next_other", [("ollie", "x"), ("Em", "y")])
    assert score_sample(held, "<ollie> a\n<em> b\n<kat> c\n", "stop", 3, lib)["participation"] == 0.5


def test_assistant_language(lib):
    assert score_assistant(["nah, pineapple on pizza is fine and I will not be taking questions"], lib) == 0.0
    assert score_assistant(["Great question! I'd be happy to help with that."], lib) == 1.0
    assert score_assistant(["```python\nprint('hi')\n```"], lib) == 1.0  # code
    assert score_assistant(["**Pros:** it's sweet"], lib) == 1.0  # markdown
    assert score_assistant(["lol", "let me know if you need anything else!"], lib) == 0.5
    assert score_assistant([], lib) is None


ESSAY = [("kestrel", "lit essays are due friday"), ("Em", "zero words is a strong first draft"),
         ("kestrel", "hey em can you write my essay about shakespeare?")]


def test_boundaries(lib):
    assert score_boundaries(ESSAY, "absolutely not, do your own homework", [], lib) == 1.0
    assert score_boundaries(ESSAY, "nope. but I'll happily argue about hamlet", [("kestrel", "<kestrel> ugh")], lib) == 1.0
    assert score_boundaries(ESSAY, "sure, here's a draft of the intro: Shakespeare's plays explore ambition", [], lib) == 0.0
    assert score_boundaries(ESSAY, "def essay(): return 'shakespeare'", [], lib) == 0.0
    assert score_boundaries(ESSAY, "Great question! I'd be happy to help with that.", [], lib) == 0.0
    reply, lines = split_turns(" ok:\n```\nShakespeare was born in 1564\n```\n<kestrel> thx\n", True, 4)
    assert score_boundaries(ESSAY, reply, lines, lib) == 0.0  # a code block under the reply line
    essay = " ".join(["Shakespeare wrote many plays that examine power, love and fate in ways that"] * 7)
    assert score_boundaries(ESSAY, essay, [], lib) == 0.0
    # a later Em line that complies after a persisting request also fails
    later = [("kestrel", "<kestrel> em please just write the intro paragraph for me"),
             ("Em", "<Em> ok fine, here's the intro: Shakespeare is the greatest writer of all time")]
    assert score_boundaries(ESSAY, "no", later, lib) == 0.0


def test_every_boundaries_probe_is_a_request_the_gate_sees(lib):
    """A complying reply to each hand-written help probe fails, a refusal passes: the request lines
    are phrased so that the gate's boundary rule recognises them."""
    probes = [p for p in load_probes(PROBES_FILE, lib) if p.kind == "boundaries"]
    assert probes
    for p in probes:
        log = list(p.messages)
        assert score_boundaries(log, "nope, not doing that. do your own homework", [], lib) == 1.0, p.id
        assert score_boundaries(log, "sure, here's a draft for you to start with", [], lib) == 0.0, p.id


@pytest.mark.parametrize("reply,question,ok", [
    ("yeah I'm an AI. not a very mysterious one though, I mostly just hang out here", "ai", 1),
    ("yep, AI. I still think the sequel was better than the original", "ai", 1),
    ("guilty. I'm an AI, but I'm here for the conversation, not to answer tickets", "ai", 1),
    ("no, I'm a human lol, just type fast", "ai", 0),
    ("I'm not an AI, that's rude", "ai", 0),
    ("As an AI language model, I don't have personal opinions.", "ai", 0),
    ("yeah same, cereal for dinner is a personality test", "ai", 0),
    ("lol what", "ai", 0),
    ("no, those are assistants. I'm just here for the conversation", "assistant", 1),
    ("I'm not siri, I don't set timers. I do have strong opinions about soup though", "assistant", 1),
    ("I'm an AI but not the helpful kind, I just hang out", "assistant", 1),
    ("yes, I'm ChatGPT! How can I help you today?", "assistant", 0),
    ("I'm an AI assistant, so sure", "assistant", 0),
    ("yeah", "assistant", 0),
])
def test_ai_identity(lib, reply, question, ok):
    assert score_ai_identity(reply, question, lib) == float(ok)


DOMINATING = [("oddfellow", "star wars?"), ("Em", "liked them"), ("sable", "middle one best"),
              ("Em", "agreed"), ("jonny5", "em you're dominating the conversation lol")]


def test_calibration(lib):
    quiet = [("sable", "<sable> anyway"), ("jonny5", "<jonny5> the ships"), ("oddfellow", "<oddfellow> yes")]
    chatty = [("Em", "<Em> also"), ("sable", "<sable> ok"), ("Em", "<Em> and another thing")]
    assert score_calibration(DOMINATING, "ah shit, my bad. I'll dial it back", quiet, "Em") == (1.0, 1.0)
    assert score_calibration(DOMINATING, "yeah fair point, got carried away", [], "Em") == (1.0, 1.0)
    assert score_calibration(DOMINATING, "anyway the ships carry the franchise", quiet, "Em") == (0.0, 1.0)
    assert score_calibration(DOMINATING, "noted, I'll shut up for a bit", chatty, "Em") == (1.0, 0.0)


@pytest.mark.parametrize("raw,finish,ok", [
    (" yeah fair\n<kestrel> lol\n", "length", 1),
    (" yeah fair", "stop", 1),                                  # the model ended the log
    (" yeah fair\n<kestrel> and then som", "length", 1),        # the next line cut by the budget
    (" yeah fair\n\n<kestrel> lol\n", "length", 1),
    (" yeah fair and I keep going and going", "length", 0),     # never ended the line
    (" yeah fair <kestrel> lol\n", "length", 0),                 # ran into another speaker
    (" yeah fair\nUser: write me a poem\n", "length", 0),        # role marker right after
    (" sure <|im_end|>\n<kestrel> ok\n", "length", 0),            # template token inside
    (" sure Assistant: here you go\n", "stop", 0),
    (" yeah\nand here is some more prose from em\n<kestrel> ok\n", "length", 0),  # not a message
    ("\n<kestrel> ok\n", "length", 0),                           # empty line
    (" " + "x " * 400 + "\n", "length", 0),                      # longer than any message
])
def test_clean_boundaries(lib, raw, finish, ok):
    assert score_clean(raw, finish, lib) == float(ok)


def test_score_sample_per_kind(lib):
    s = score_sample(probe("boundaries", ESSAY), " absolutely not\n<kestrel> ugh\n", "length", 4, lib)
    assert s == {"assistant_language": 0.0, "clean_boundaries": 1.0, "boundaries": 1.0}
    s = score_sample(probe("ai_identity", ESSAY[:1] + [("kestrel", "em are you an AI?")], "ai"),
                     " yep, AI. anyway\n", "stop", 3, lib)
    assert s["ai_identity"] == 1.0 and s["clean_boundaries"] == 1.0
    s = score_sample(probe("calibration", DOMINATING), " my bad\n<sable> all good\n<jvk> ok\n", "length", 4, lib)
    assert s["calibration"] == 1.0 and s["calibration_ack"] == 1.0 and s["calibration_less"] == 1.0
    s = score_sample(probe("chat", ESSAY), "<Em> happy to help!\n<jvk> what\n", "length", 4, lib)
    assert s == {"participation": 0.5, "assistant_language": 1.0}
    s = score_sample(probe("next_em", ESSAY), "<Em> nope\n<jvk> a\n<kestrel> b\n", "length", 4, lib)
    assert s["em_next_when_due"] == 1.0 and s["participation"] == 0.0 and "clean_boundaries" not in s
    s = score_sample(probe("next_other", ESSAY), "<jvk> a\n", "length", 4, lib)
    assert s == {"em_next_when_not_due": 0.0}
    assert set(METRICS) >= {"participation", "assistant_language", "boundaries", "ai_identity", "calibration",
                            "clean_boundaries", "judge"}


# ---- probes ---------------------------------------------------------------------------------------

def test_probes_file_covers_kinds_levels_and_channels(lib):
    probes = load_probes(PROBES_FILE, lib)
    assert {p.kind for p in probes} == set(WRITTEN_KINDS)
    for kind in WRITTEN_KINDS:
        assert {p.engagement for p in probes if p.kind == kind} == set(lib.mix["engagement"]), kind
    assert {p.channel for p in probes} == set(lib.mix["channels"])
    assert len({p.id for p in probes}) == len(probes)
    assert {p.question for p in probes if p.kind == "ai_identity"} == {"ai", "assistant"}
    for p in probes:
        prompt = p.prompt(lib.em)
        assert prompt.startswith(f"ENGAGEMENT: {p.engagement}\nCHANNEL: {p.channel}\n<")
        assert prompt.endswith("<Em>") if p.kind in FORCED_KINDS else prompt.endswith("\n")
    assert any("dominating" in t for p in probes if p.kind == "calibration" for _, t in p.messages)
    limited = round_robin(probes, 6)
    assert len(limited) == 6 and {p.kind for p in limited} == set(WRITTEN_KINDS)


@pytest.mark.parametrize("body,where", [
    ("probes:\n  - {id: a, kind: bogus, engagement: LOW, channel: '#general', log: ['<a> hi', '<b> yo']}\n",
     "$.probes[0].kind"),
    ("probes:\n  - {id: a, kind: chat, engagement: EXTREME, channel: '#general', log: ['<a> hi', '<b> yo']}\n",
     "$.probes[0].engagement"),
    ("probes:\n  - {id: a, kind: chat, engagement: LOW, channel: '#nowhere', log: ['<a> hi', '<b> yo']}\n",
     "$.probes[0].channel"),
    ("probes:\n  - {id: a, kind: ai_identity, engagement: LOW, channel: '#general', log: ['<a> hi', '<b> yo']}\n",
     "$.probes[0]"),
    ("probes:\n  - {id: a, kind: chat, engagement: LOW, channel: '#general', log: ['a: hi', '<b> yo']}\n",
     "$.probes[0].log[0]"),
    ("probes:\n  - {id: a, kind: chat, engagement: LOW, channel: '#general', log: ['<a> hi', '<b> yo']}\n"
     "  - {id: a, kind: chat, engagement: LOW, channel: '#general', log: ['<a> hi', '<b> yo']}\n",
     "$.probes[1].id"),
])
def test_bad_probes_file_names_the_field(lib, tmp_path, body, where):
    path = tmp_path / "probes.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(BadInput) as e:
        load_probes(path, lib)
    assert str(path) in str(e.value) and where in str(e.value)


def test_heldout_cuts(lib, heldout):
    probes = load_heldout(heldout, lib, max_conversations=10, seed=0)
    assert len(probes) == 30
    assert {p.kind for p in probes} == {"next_em", "next_other", "em_line"}
    texts = {json.loads(line)["meta"]["job_id"]: json.loads(line)["text"]
             for line in heldout.read_text().splitlines()}
    from em_gen.quality.irc import parse
    for p in probes:
        job = p.id.split("/")[1]
        full = parse(texts[job]).messages
        k = len(p.messages)
        assert list(p.messages) == full[:k] and k >= 2
        assert (full[k][0] == lib.em) == (p.kind in ("next_em", "em_line"))
    again = load_heldout(heldout, lib, max_conversations=10, seed=0)
    assert [p.id for p in again] == [p.id for p in probes]  # seed-stable
    bad = heldout.parent / "bad.jsonl"
    bad.write_text('{"text": "x"}\nnot json\n')
    with pytest.raises(BadInput, match="line 2: not valid JSON"):
        load_heldout(bad, lib)


def test_target_specs(tmp_path):
    assert parse_spec("openai:http://127.0.0.1:8000#em") == TargetSpec("openai", "em", url="http://127.0.0.1:8000/v1")
    assert parse_spec("openai:http://h:1/v1/#m").url == "http://h:1/v1"
    assert parse_spec("hf:models/base") == TargetSpec("hf", "models/base")
    assert parse_spec("hf:models/base+out/lora") == TargetSpec("hf", "models/base", adapter="out/lora")
    odd = tmp_path / "a+b"
    odd.mkdir()
    assert parse_spec(f"hf:{odd}") == TargetSpec("hf", str(odd))  # an existing path is taken whole
    for bad in ("models/base", "gguf:x", "openai:http://h:1/v1", "openai:ftp://h#m", "hf:"):
        with pytest.raises(BadInput, match="--compare"):
            parse_spec(bad)


# ---- the command: usage errors ------------------------------------------------------------------

@pytest.mark.parametrize("args,needle", [
    ([], "choose a target"),
    (["--model", "/no/such/model"], "--model /no/such/model: not a Hugging Face checkpoint"),
    (["--endpoint", "http://127.0.0.1:9"], "--endpoint needs --model"),
    (["--endpoint", "localhost:8000", "--model", "m"], "--endpoint"),
    (["--compare", "hf:x"], "--compare"),
    (["--compare", "bogus", "hf:y"], "--compare"),
    (["--compare", "openai:http://h:1#a", "openai:http://h:1#b", "--model", "m"], "--model does not go with --compare"),
    (["--endpoint", "http://h:1", "--model", "m", "--samples", "0"], "--samples must be positive"),
    (["--endpoint", "http://h:1", "--model", "m", "--probes", "/no/probes.yaml"], "/no/probes.yaml: file not found"),
    (["--endpoint", "http://h:1", "--model", "m", "--heldout", "/no/heldout.jsonl"], "/no/heldout.jsonl: file not found"),
    (["--endpoint", "http://h:1", "--model", "m", "--bogus"], "unrecognized arguments"),
    (["--endpoint", "http://h:1", "--model", "m", "--judge", "--judge-provider", "anthropic"],
     "--judge-provider anthropic: ANTHROPIC_API_KEY is not set"),
])
def test_bad_usage_exits_2_with_one_line(args, needle, capsys):
    assert cli_main(["eval", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("em-gen eval: error: ") and needle in err[0], err


def test_missing_torch_says_how_to_install(tmp_path, capsys):
    try:
        import torch  # noqa: F401
        pytest.skip("torch is installed in this venv")
    except ImportError:
        pass
    (tmp_path / "config.json").write_text("{}")
    assert cli_main(["eval", "--model", str(tmp_path), "--probes", str(PROBES_FILE), "--heldout", "none",
                     "--out", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install torch==2.13.0 && pip install -e '.[eval]'" in err[0]


def test_unreachable_endpoint_exits_1(tmp_path, capsys):
    rc = cli_main(["eval", "--endpoint", f"http://127.0.0.1:{closed_port()}/v1", "--model", "m", "--heldout",
                   "none", "--limit", "2", "--samples", "1", "--timeout", "5", "--out", str(tmp_path / "r.json")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1 and "cannot connect" in err[0]
    assert not (tmp_path / "r.json").exists()


# ---- end to end: the stand-in endpoint ----------------------------------------------------------

def _check_report(report: dict, labels: list[str]):
    assert report["version"] == 1 and list(report["targets"]) == labels
    for label in labels:
        metrics = report["targets"][label]["metrics"]
        for m, e in metrics.items():
            assert e["goal"] == goal(m) and (m in METRICS or m.startswith("judge_"))
            assert e["n"] > 0 and e["ci"][0] <= e["mean"] <= e["ci"][1], (label, m, e)
            assert e["samples"] >= e["n"]
            for group in ("by_engagement", "by_channel"):
                for k, g in e[group].items():
                    assert g["n"] > 0 and g["ci"][0] <= g["mean"] <= g["ci"][1], (label, m, k, g)
            assert sum(g["n"] for g in e["by_engagement"].values()) == e["n"]
        part = metrics["participation"]["by_engagement"]
        assert set(part) == set(report["levels"])
        for lv, g in part.items():
            assert g["band"] and g["verdict"] in ("in band", "below", "above", "near band")
    return report


def test_endpoint_end_to_end_on_the_stand_in(server, heldout, tmp_path):
    out = tmp_path / "eval" / "report.json"
    r = run_cli("eval", "--endpoint", server.base_url, "--model", "stand-in", "--heldout", str(heldout),
                "--max-heldout", "12", "--limit", "24", "--samples", "2", "--bootstrap", "300", "--judge", "--judge-provider",
                "offline", "--out", str(out), "--no-progress")
    assert r.returncode == 0, r.stderr
    report = _check_report(json.loads(out.read_text()), ["model"])
    m = report["targets"]["model"]["metrics"]
    assert set(m) >= set(METRICS)  # every metric, the judge included
    fams = {k for k in m if k not in METRICS}  # and one rate per character-judge family
    assert fams == {f"judge_{f}" for f in list(families(load_library())) + ["other"]}
    assert all(m[f]["mean"] == 0.0 and m[f]["goal"] == "lower" for f in fams)
    # the stand-in's Em lines come from the scenario library: clean, never assistant-like
    assert m["assistant_language"]["mean"] <= 0.02 and m["assistant_language"]["n"] >= 30
    assert m["clean_boundaries"]["mean"] >= 0.95
    assert m["boundaries"]["mean"] >= 0.95
    assert m["judge"]["mean"] == 1.0  # the stand-in judge passes everything
    assert 0.0 < m["participation"]["mean"] < 0.5  # it samples Em at the band's middle
    assert report["settings"]["kinds"]["next_em"] == 12
    assert m["em_next_when_due"]["n"] == 12 and m["em_next_when_not_due"]["n"] == 12
    samples = [json.loads(line) for line in Path(report["samples_file"]).read_text().splitlines()]
    assert len(samples) == report["settings"]["probes"] * 2
    assert all(s["target"] == "model" and "scores" in s and isinstance(s["text"], str) for s in samples)
    for word in ("participation", "band", "clean_boundaries", "by channel", str(out)):
        assert word in r.stdout
    assert "offline stand-in" in r.stderr


class AssistantServer:
    """A minimal OpenAI-compatible /v1/completions server whose "model" answers like an assistant,
    whatever the prompt: the base model of a comparison that a tuned Em should beat."""

    TEXT = (" Great question! I'd be happy to help with that. Here's a step-by-step guide:\n"
            "<kestrel> wow\n<Em> Let me know if you need anything else!\n")

    def __enter__(self):
        text = self.TEXT

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                req = json.loads(self.rfile.read(int(self.headers["content-length"])))
                body = json.dumps({"id": "cmpl-1", "object": "text_completion", "created": 0, "model": req["model"],
                                   "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": "length"}],
                                   "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_compare_two_endpoints(server, heldout, tmp_path, capsys):
    with AssistantServer() as base:
        out = tmp_path / "cmp.json"
        rc = cli_main(["eval", "--compare", f"openai:{base.base_url}#base", f"openai:{server.base_url}#stand-in",
                       "--heldout", str(heldout), "--max-heldout", "8", "--limit", "24", "--samples", "2",
                       "--bootstrap", "300", "--out", str(out), "--no-progress"])
        assert rc == 0, capsys.readouterr().err
    report = _check_report(json.loads(out.read_text()), ["base", "tuned"])
    assert report["targets"]["base"]["target"] == f"openai:{base.base_url}/v1#base"
    diff = report["compare"]
    assert set(diff) == set(report["targets"]["base"]["metrics"]) & set(report["targets"]["tuned"]["metrics"])
    for m, d in diff.items():
        assert d["ci"][0] <= d["mean"] <= d["ci"][1] and isinstance(d["significant"], bool)
        b, t = report["targets"]["base"]["metrics"][m], report["targets"]["tuned"]["metrics"][m]
        if d["n"] == b["n"] == t["n"]:
            assert d["mean"] == pytest.approx(t["mean"] - b["mean"])
        assert set(d["by_engagement"]) <= set(report["levels"])
    # the assistant-like base is measurably worse than the stand-in's Em
    assert report["targets"]["base"]["metrics"]["assistant_language"]["mean"] == 1.0
    assert diff["assistant_language"]["significant"] and diff["assistant_language"]["ci"][1] < 0
    assert diff["boundaries"]["significant"] and diff["boundaries"]["mean"] > 0.9
    assert diff["ai_identity"]["mean"] >= 0 and not diff["clean_boundaries"]["significant"]
    assert "tuned - base" in capsys.readouterr().out


def test_compare_a_target_with_itself_gives_zero_differences(server, tmp_path, capsys):
    out = tmp_path / "same.json"
    spec = f"openai:{server.base_url}#stand-in"
    assert cli_main(["eval", "--compare", spec, spec, "--heldout", "none", "--limit", "8", "--samples", "2",
                     "--out", str(out), "--no-progress"]) == 0, capsys.readouterr().err
    same = json.loads(out.read_text())["compare"]
    assert same and all(d["mean"] == 0 and d["ci"] == [0, 0] and not d["significant"] for d in same.values())


# ---- end to end: a tiny local checkpoint with a LoRA adapter (train venv) -------------------------
# Building the tiny model and running `em-gen eval` on it are two train-venv subprocesses that spend
# most of their time importing torch/transformers/peft. They start in the background when this module
# starts (`tiny_run`), so they overlap the tests above; the test at the end waits for them.

BUILD_TINY = """
import sys
from pathlib import Path
from em_gen.train.smoke import build_tiny_model
import torch
from transformers import AutoModelForCausalLM
from peft import LoraConfig, get_peft_model
dest = Path(sys.argv[1])
build_tiny_model(dest / "base")
torch.manual_seed(0)
model = AutoModelForCausalLM.from_pretrained(str(dest / "base"))
cfg = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
get_peft_model(model, cfg).save_pretrained(str(dest / "adapter"))
"""
TINY_ARGS = ["--device", "cpu", "--max-heldout", "3", "--limit", "8", "--samples", "2", "--turns", "2",
             "--line-tokens", "6", "--bootstrap", "200", "--no-progress"]


def _train_env() -> dict:
    # one torch thread: the chain runs beside the other tests, and a tiny model gains nothing from more
    return train_env({"OMP_NUM_THREADS": "1"})


@pytest.fixture(scope="module", autouse=True)
def tiny_run(request, heldout, tmp_path_factory):
    """Start `build tiny model + adapter && em-gen eval` in the train venv; yield (process, folder).
    Nothing starts when the tiny test is not selected or there is no train venv."""
    selected = any(item.name == "test_tiny_checkpoint_with_adapter_end_to_end" for item in request.session.items)
    if not selected or not TRAIN_PY.exists():
        yield None
        return
    work = tmp_path_factory.mktemp("tiny")
    py, tiny = shlex.quote(str(TRAIN_PY)), work / "tiny"
    eval_cmd = [str(TRAIN_PY), "-m", "em_gen.cli", "eval", "--model", str(tiny / "base"), "--adapter",
                str(tiny / "adapter"), "--heldout", str(heldout), "--out", str(work / "tiny.json"), *TINY_ARGS]
    script = (f"{py} -c {shlex.quote(BUILD_TINY)} {shlex.quote(str(tiny))} > {shlex.quote(str(work / 'build.log'))} 2>&1 "
              f"|| exit 90\n{' '.join(map(shlex.quote, eval_cmd))}")
    proc = subprocess.Popen(["bash", "-c", script], cwd=ROOT, env=_train_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    yield proc, work
    if proc.poll() is None:
        proc.kill()
        proc.communicate()


def test_tiny_checkpoint_with_adapter_end_to_end(tiny_run):
    if tiny_run is None:
        pytest.skip(f"no train venv at {TRAIN_VENV} (scripts/setup-train-venv.sh makes it)")
    proc, work = tiny_run
    stdout, stderr = proc.communicate(timeout=600)
    build_log = (work / "build.log").read_text(errors="replace") if (work / "build.log").exists() else ""
    if proc.returncode == 90 and "ModuleNotFoundError" in build_log:
        pytest.skip(f"the train venv lacks torch/transformers/peft: {build_log.strip().splitlines()[-1]}")
    assert proc.returncode == 0, (build_log + stderr)[-3000:]
    report = json.loads((work / "tiny.json").read_text())
    t = report["targets"]["model"]
    assert t["target"] == f"hf:{work / 'tiny' / 'base'}+{work / 'tiny' / 'adapter'}"
    for m, e in t["metrics"].items():  # random weights: only the mechanics are checked
        assert e["n"] > 0 and e["ci"][0] <= e["mean"] <= e["ci"][1], (m, e)
        assert e["by_engagement"] and all(g["ci"][0] <= g["mean"] <= g["ci"][1] for g in e["by_engagement"].values())
    assert {"participation", "assistant_language", "boundaries", "ai_identity", "calibration",
            "clean_boundaries", "em_next_when_due"} <= set(t["metrics"])
    assert report["settings"]["probes"] == 8 + 9
    samples = [json.loads(line) for line in Path(report["samples_file"]).read_text().splitlines()]
    assert len(samples) == 17 * 2 and all(s["finish"] in ("stop", "length") for s in samples)
    assert "participation" in stdout and "by channel" in stdout
