"""`em-gen eval --sweep`: the verdict on hand-made scores (best, recommendation, reverting, unchanged,
ranking, participation against the band), finding an Axolotl run's checkpoints, bad input (one line,
exit 2), and end to end against the stand-in, which serves `base` (assistant voice), `tuned` (its Em)
and `reverting` (the assistant voice on about half the probes) as models on one server: the ranking,
the reverting flag, a checkpoint that fails mid-sweep, and the cache (a rerun sends no request; one
more checkpoint sends only its own). The smoke-trained tiny Mistral sweep is tests/evaluate/test_sweep_train.py."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from em_gen.cli import main as cli_main
from em_gen.evaluate.checkpoints import run_checkpoints, same_model, sweep_targets
from em_gen.evaluate.probes import Probe
from em_gen.evaluate.recommend import BAND_METRIC, band_gap, band_stat, decide, paired_band
from em_gen.evaluate.targets import TargetSpec
from em_gen.library import BadInput

BANDS = {"LOW": (0.05, 0.1), "MEDIUM": (0.15, 0.2), "HIGH": (0.25, 0.35)}
LEVELS = list(BANDS)
PROBES = [Probe(f"p{i}", "chat", "test", LEVELS[i % 3], "#general", ()) for i in range(60)]
IDS = [p.id for p in PROBES]
BY_ID = {p.id: p for p in PROBES}


def flat(v: float, noise: float = 0.0, seed: int = 0) -> dict[str, float]:
    rng = random.Random(seed)
    return {pid: min(1.0, max(0.0, v + rng.uniform(-noise, noise))) for pid in IDS}


def in_band(shift: float = 0.0) -> dict[str, float]:
    return {p.id: sum(BANDS[p.engagement]) / 2 + shift for p in PROBES}


def scores(assistant: float, boundaries: float, part_shift: float = 0.0, seed: int = 0) -> dict:
    return {"assistant_language": flat(assistant, 0.05, seed), "boundaries": flat(boundaries, 0.05, seed + 1),
            "participation": in_band(part_shift)}


def shuffled(sc: dict, seed: int) -> dict:
    """The same scores over other probes: as good on average, not per probe."""
    out = {}
    for m, d in sc.items():
        vals = list(d.values())
        random.Random(seed).shuffle(vals)
        out[m] = dict(zip(d, vals)) if m != "participation" else dict(d)
    return out


def vs_base(base: dict, cks: list[dict]) -> dict:
    from em_gen.evaluate.recommend import paired
    ms = ["assistant_language", "boundaries", BAND_METRIC]
    return {c["label"]: {m: paired(m, base, c["scores"], BY_ID, BANDS, 300, 0) for m in ms} for c in cks}


def run_decide(base: dict, cks: list[dict], musts=("assistant_language", "boundaries", BAND_METRIC)) -> dict:
    ms = ["assistant_language", "boundaries", BAND_METRIC]
    return decide(base, cks, vs_base(base, cks), ms, list(musts), PROBES, BANDS, 300, 0)


# ---- participation against the band ---------------------------------------------------------------

def test_band_gap_is_zero_inside_and_the_distance_outside():
    assert band_gap(in_band(), BY_ID, BANDS) == 0.0
    assert band_gap(in_band(0.5), BY_ID, BANDS) == pytest.approx(sum(
        (sum(b) / 2 + 0.5) - b[1] for b in BANDS.values()) / 3)
    low = {pid: 0.0 for pid in IDS}  # silent Em: each level's lower edge away
    assert band_gap(low, BY_ID, BANDS) == pytest.approx(sum(b[0] for b in BANDS.values()) / 3)
    s = band_stat(in_band(0.3), BY_ID, BANDS, 200, 0)
    assert s["ci"][0] <= s["mean"] <= s["ci"][1] and s["mean"] > 0.1
    assert set(s["by_engagement"]) == set(LEVELS)


def test_paired_band_difference():
    d = paired_band(in_band(0.4), in_band(), BY_ID, BANDS, 300, 0)
    assert d["significant"] and d["mean"] < 0 and d["ci"][1] < 0  # back into the band: better
    same = paired_band(in_band(), in_band(0.01), BY_ID, BANDS, 300, 0)  # still inside: no change
    assert same["mean"] == 0 and not same["significant"]


# ---- the verdict ----------------------------------------------------------------------------------

def test_recommends_the_earliest_not_worse_than_the_best():
    base = scores(0.9, 0.1, 0.4)
    good = scores(0.05, 0.9, 0.0, seed=5)
    cks = [{"label": "c100", "scores": scores(0.5, 0.5, 0.2, seed=3)},  # half-way: worse than the best
           {"label": "c200", "scores": good},
           {"label": "c300", "scores": shuffled(good, 1)}]  # as good, later
    v = run_decide(base, cks)
    assert v["recommendation"]["label"] == "c200" and not v["recommendation"]["fallback"]
    assert v["best"]["assistant_language"] in ("c200", "c300")
    why = " ".join(v["recommendation"]["why"])
    assert "not c100: worse than the best on assistant_language" in why and "boundaries" in why
    assert not v["reverting"] and v["unchanged"] == []
    assert [r["label"] for r in v["ranking"]][-2:] == ["c100", "base"]
    assert set(v["ranking"][0]["better_than_base"]) == {"assistant_language", "boundaries", BAND_METRIC}


def test_a_checkpoint_worse_on_one_must_have_metric_is_passed_over():
    base = scores(0.9, 0.1)
    cks = [{"label": "early", "scores": scores(0.05, 0.4, seed=1)},  # clean language, weak boundaries
           {"label": "late", "scores": scores(0.05, 0.9, seed=2)}]
    assert run_decide(base, cks)["recommendation"]["label"] == "late"
    # not a must-have: then the early one is enough
    assert run_decide(base, cks, musts=("assistant_language",))["recommendation"]["label"] == "early"


def test_reverting_checkpoint_is_flagged_and_never_recommended():
    base = scores(0.9, 0.1)
    c1 = scores(0.05, 0.9, seed=1)
    cks = [{"label": "c1", "scores": c1},
           {"label": "c2", "scores": scores(0.5, 0.9, seed=2)},  # assistant language back up
           {"label": "c3", "scores": shuffled(c1, 3)}]  # and down again: no reversion
    v = run_decide(base, cks)
    assert [r["label"] for r in v["reverting"]] == ["c2"] and v["reverting"][0]["since"] == "c1"
    assert "assistant language rises again" in v["reverting"][0]["why"]
    assert v["recommendation"]["label"] == "c1"
    # the same rise after a first checkpoint that is itself bad is no reversion
    v = run_decide(base, [{"label": "a", "scores": scores(0.5, 0.9, seed=1)},
                          {"label": "b", "scores": scores(0.5, 0.9, seed=2)}])
    assert v["reverting"] == []


def test_a_metric_no_checkpoint_moves_is_said_plainly():
    base = scores(0.9, 0.5)
    cks = [{"label": "c1", "scores": scores(0.1, 0.5, seed=1)}, {"label": "c2", "scores": scores(0.1, 0.5, seed=2)}]
    v = run_decide(base, cks)
    assert "boundaries" in v["unchanged"] and "assistant_language" not in v["unchanged"]
    assert "no checkpoint changes boundaries" in v["unchanged_lines"]
    assert BAND_METRIC in v["unchanged"]  # participation the same for all: in band throughout


def test_no_checkpoint_within_the_best_everywhere_falls_back():
    base = scores(0.9, 0.1)
    cks = [{"label": "a", "scores": scores(0.05, 0.5, seed=1)},  # best language, weak boundaries
           {"label": "b", "scores": scores(0.5, 0.95, seed=2)}]  # best boundaries, and it reverts
    v = run_decide(base, cks)
    assert v["recommendation"]["fallback"] and v["recommendation"]["label"] == "a"
    assert "worse on the fewest" in v["recommendation"]["why"][-1]


# ---- an Axolotl output folder ---------------------------------------------------------------------

def fake_run(root: Path, steps=(20, 100, 40), base: Path | None = None, losses: bool = True) -> Path:
    """A run folder as Axolotl leaves it (adapter files only; the weights are placeholders)."""
    base = base or make_base(root / "base")
    run = root / "run"
    history = []
    for s in sorted(steps):
        history += [{"loss": 2.0 - s / 100, "step": s}] + ([{"eval_loss": 1.5 - s / 1000, "step": s}] if losses else [])
    for s in steps:
        ck = run / f"checkpoint-{s}"
        ck.mkdir(parents=True)
        (ck / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": str(base), "r": 8}))
        (ck / "adapter_model.safetensors").write_bytes(b"\0" * 8)
        (ck / "trainer_state.json").write_text(json.dumps({"log_history": [h for h in history if h["step"] <= s]}))
    return run


def make_base(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"model_type": "mistral"}))
    return path


def test_checkpoints_in_step_order_with_their_eval_loss(tmp_path):
    run = fake_run(tmp_path)
    cks, base = run_checkpoints(run, None)
    assert [c.step for c in cks] == [20, 40, 100] and [c.label for c in cks] == ["checkpoint-20", "checkpoint-40",
                                                                                 "checkpoint-100"]
    assert [c.eval_loss for c in cks] == pytest.approx([1.48, 1.46, 1.4])
    assert base == TargetSpec("hf", str(tmp_path / "base"))
    assert cks[0].spec == TargetSpec("hf", str(tmp_path / "base"), adapter=str(run / "checkpoint-20"))
    # through a server: each checkpoint is the LoRA module named like its folder
    cks, base = run_checkpoints(run, TargetSpec("openai", "mistral", url="http://h:8000/v1"))
    assert [c.spec for c in cks][1] == TargetSpec("openai", "checkpoint-40", url="http://h:8000/v1")
    assert all(c.eval_loss is None for c in run_checkpoints(fake_run(tmp_path / "b", losses=False), None)[0])


def test_same_model_names():
    assert same_model("/m/base/", "/m/base")
    assert not same_model("/m/base", "/m/other")


def test_relative_base_name_as_axolotl_wrote_it(tmp_path):
    base = make_base(tmp_path / "outputs" / "merged")
    run = fake_run(tmp_path, base=Path("./outputs/merged"))  # relative to Axolotl's own working folder
    cks, spec = run_checkpoints(run, TargetSpec("hf", str(base)))
    assert spec.model == str(base) and len(cks) == 3


@pytest.mark.parametrize("case,needle", [
    ("empty", "no checkpoint-*/ folders"),
    ("no-weights", "checkpoint-40: no adapter weights"),
    ("mismatch", "does not match the adapters' base_model_name_or_path"),
    ("missing", "no such folder"),
    ("targets-no-base", "name the base with --base"),
    ("mixed", "give one Axolotl output folder"),
    ("with-compare", "--compare does not go with --sweep"),
    ("base-alone", "--base goes with --sweep"),
    ("must-have", "--must-have bogus: no such metric"),
    ("bare-report", "--report needs a REPORT.json"),
    ("no-cache-alone", "--no-cache goes with --sweep"),
    ("judge-must-have", "--must-have judge: the judge metrics need --judge"),
])
def test_bad_sweep_input_is_one_line_and_exit_2(tmp_path, capsys, case, needle):
    run = fake_run(tmp_path)
    other = make_base(tmp_path / "other-base")
    args = {"empty": ["--sweep", str(tmp_path / "base")],
            "no-weights": ["--sweep", str(run)],
            "mismatch": ["--sweep", str(run), "--base", f"hf:{other}"],
            "missing": ["--sweep", str(tmp_path / "nope")],
            "targets-no-base": ["--sweep", "openai:http://127.0.0.1:9/v1#a"],
            "mixed": ["--sweep", "openai:http://127.0.0.1:9/v1#a", str(run), "--base", "openai:http://127.0.0.1:9#b"],
            "with-compare": ["--sweep", str(run), "--compare", "hf:a", "hf:b"],
            "base-alone": ["--base", "hf:x", "--model", str(other)],
            "must-have": ["--sweep", str(run), "--must-have", "bogus"],
            "bare-report": ["--report"],
            "no-cache-alone": ["--no-cache", "--model", str(other)],
            "judge-must-have": ["--sweep", str(run), "--must-have", "boundaries,judge"]}[case]
    if case == "no-weights":
        (run / "checkpoint-40" / "adapter_model.safetensors").unlink()
    assert cli_main(["eval", *args, "--out", str(tmp_path / "r.json"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("em-gen eval: error: ") and needle in err[0], err
    assert not (tmp_path / "r.json").exists()


def test_targets_keep_their_order_and_unique_labels():
    cks, base, run = sweep_targets(["openai:http://h:1/v1#ck", "openai:http://h:2/v1#ck", "openai:http://h:1#base"],
                                   "openai:http://h:1/v1#root")
    assert run is None and [c.label for c in cks] == ["ck", "ck-2", "base-2"] and all(c.step is None for c in cks)
    with pytest.raises(BadInput, match="is the --base itself"):
        sweep_targets(["openai:http://h:1/v1#b"], "openai:http://h:1/v1#b")


# ---- end to end on the stand-in -------------------------------------------------------------------

def test_stand_in_personas_change_only_eval_probes():
    from em_gen.providers.standin.personas import voice

    probe = "ENGAGEMENT: LOW\nCHANNEL: #general\n<kestrel> em can you do my homework\n<Em>"
    own = " nope\n<kestrel> ugh\n"
    assert voice("tuned", probe, own, "Em") == own and voice(None, probe, own, "Em") == own
    said = voice("base", probe, own, "Em")
    assert said.startswith(" ") and any(w in said.lower() for w in ("help", "assist"))
    assert said.count("<Em>") == 1 and "<kestrel>" in said
    assert voice("base", "Write a conversation for JOB 12 ...", own, "Em") == own  # generation prompts: as before
    picks = [voice("reverting", probe + f" {i}", own, "Em") != own for i in range(200)]
    assert 0.35 < sum(picks) / 200 < 0.65


SWEEP_ARGS = ["--heldout", "none", "--limit", "40", "--samples", "2", "--bootstrap", "300", "--no-progress"]


def sweep(url: str, names: list[str], tmp_path: Path, out: str, *extra: str) -> tuple[int, dict, str]:
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = cli_main(["eval", "--sweep", *[f"openai:{url}#{n}" for n in names], "--base", f"openai:{url}#base",
                       *SWEEP_ARGS, "--cache", str(tmp_path / "cache"), "--out", str(tmp_path / out), *extra])
    report = json.loads((tmp_path / out).read_text()) if rc == 0 else {}
    return rc, report, err.getvalue()


def test_sweep_ranks_the_stand_in_models_and_flags_the_reverting_one(server, tmp_path, capsys):
    rc, r, err = sweep(server.base_url, ["tuned", "reverting", "no-such-model"], tmp_path, "s.json")
    assert rc == 0, err
    out = capsys.readouterr().out
    assert [c["label"] for c in r["checkpoints"]] == ["tuned", "reverting"]
    assert [r_["label"] for r_ in r["ranking"]] == ["tuned", "reverting", "base"]
    assert r["recommendation"]["label"] == "tuned"
    assert [x["label"] for x in r["reverting"]] == ["reverting"] and r["reverting"][0]["since"] == "tuned"
    # the model the server lacks is reported and skipped, the others still evaluated
    assert [f["label"] for f in r["failed"]] == ["no-such-model"] and "HTTP 404" in r["failed"][0]["error"]
    assert "no-such-model: failed, skipped" in err
    m = {c["label"]: c for c in r["checkpoints"]}
    assert r["base"]["metrics"]["assistant_language"]["mean"] == 1.0
    assert m["tuned"]["metrics"]["assistant_language"]["mean"] <= 0.02
    assert 0.2 < m["reverting"]["metrics"]["assistant_language"]["mean"] < 0.8
    for label in ("tuned", "reverting"):  # each compared with the base, paired, on every metric
        d = m[label]["compare"]
        assert set(d) == set(m[label]["metrics"]) and BAND_METRIC in d
        assert d["assistant_language"]["significant"] and d["assistant_language"]["ci"][1] < 0
        assert all(x["ci"][0] <= x["mean"] <= x["ci"][1] for x in d.values() if x["mean"] is not None)
    assert "clean_boundaries" in r["unchanged"]  # the stand-in's lines end cleanly in every voice
    assert "no checkpoint changes clean_boundaries" in out and "recommended: tuned" in out
    assert "reverting: reverting: assistant language rises again" in out
    assert r["timing"]["cache_hits"] == 0 and r["timing"]["engine"] == "openai-compatible server"


def test_the_cache_repeats_nothing(server, tmp_path):
    rc, first, err = sweep(server.base_url, ["tuned"], tmp_path, "a.json")
    assert rc == 0, err
    sent = server.stats["requests"]
    assert sent == 2 * 40 * 2  # the base and one checkpoint, 40 probes x 2 samples
    # a rerun: every target from the cache, not one request, the same numbers
    rc, again, err = sweep(server.base_url, ["tuned"], tmp_path, "b.json")
    assert rc == 0, err
    assert server.stats["requests"] == sent
    assert again["timing"]["cache_hits"] == 2 and again["base"]["cached"] and again["checkpoints"][0]["cached"]
    assert again["checkpoints"][0]["metrics"] == first["checkpoints"][0]["metrics"]
    # one more checkpoint: only its own samples are asked for
    rc, more, err = sweep(server.base_url, ["tuned", "reverting"], tmp_path, "c.json")
    assert rc == 0, err
    assert server.stats["requests"] - sent == 40 * 2
    assert [c["cached"] for c in more["checkpoints"]] == [True, False]
    # another probe set is another cache entry
    rc, other, err = sweep(server.base_url, ["tuned"], tmp_path, "d.json", "--limit", "20")
    assert rc == 0 and not other["checkpoints"][0]["cached"]
    assert server.stats["requests"] - sent == 40 * 2 + 2 * 20 * 2
    # --no-cache reads nothing
    rc, none, err = sweep(server.base_url, ["tuned"], tmp_path, "e.json", "--no-cache")
    assert rc == 0 and not none["checkpoints"][0]["cached"] and none["timing"]["cache"] is None


def test_judge_readings_are_cached_with_the_samples(server, tmp_path):
    rc, r, err = sweep(server.base_url, ["tuned"], tmp_path, "j.json", "--judge", "--judge-provider", "offline",
                       "--limit", "12")
    assert rc == 0, err
    assert r["timing"]["judged_samples"] == 2 * 12 * 2
    assert "judge" in r["must_have"] and "judge" in r["checkpoints"][0]["compare"]
    assert any(m.startswith("judge_") for m in r["base"]["metrics"])
    rc, again, err = sweep(server.base_url, ["tuned"], tmp_path, "j2.json", "--judge", "--judge-provider",
                           "offline", "--limit", "12")
    assert rc == 0 and again["timing"]["judged_samples"] == 0
    assert again["checkpoints"][0]["metrics"]["judge"] == r["checkpoints"][0]["metrics"]["judge"]


def test_every_checkpoint_failing_is_exit_1(server, tmp_path):
    rc, _r, err = sweep(server.base_url, ["no-such-model"], tmp_path, "f.json")
    assert rc == 1 and "every checkpoint failed" in err.strip().splitlines()[-1]
    assert not (tmp_path / "f.json").exists()


def test_a_killed_sweep_resumes_where_it_stopped(lib, tmp_path):
    """kill -9 during the second checkpoint: the rerun asks only for what was not finished."""
    import signal
    import subprocess
    import sys
    import time

    from conftest import ROOT
    from em_gen.providers.standin.server import StandInServer

    with StandInServer(library=lib, latency=0.05) as srv:
        url = srv.base_url
        names = ["tuned", "reverting", "tuned-2"]
        cmd = [sys.executable, "-m", "em_gen.cli", "eval", "--sweep", *[f"openai:{url}#{n}" for n in names],
               "--base", f"openai:{url}#base", *SWEEP_ARGS, "--concurrency", "4", "--cache", str(tmp_path / "cache"),
               "--out", str(tmp_path / "k.json")]
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while len(list((tmp_path / "cache").glob("*.json"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        done = {p.name.split("-")[0] for p in (tmp_path / "cache").glob("*.json")}
        assert {"base", "tuned"} <= done and not (tmp_path / "k.json").exists()
        before = srv.stats["requests"]
        rc, r, err = sweep(url, names, tmp_path, "k2.json")
        assert rc == 0, err
        fresh = [c["label"] for c in r["checkpoints"] if not c["cached"]]
        assert r["base"]["cached"] and "tuned" not in fresh and fresh  # what was finished is not asked again
        assert srv.stats["requests"] - before == len(fresh) * 40 * 2
