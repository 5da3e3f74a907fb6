"""Axolotl accepts the bundled configs, and a few CPU LoRA steps train on each export format with
exactly the intended tokens labelled.

The Axolotl parts need the train venv (.venv-train, made by scripts/setup-train-venv.sh, which CI
runs first); without it they skip with the reason. They run Axolotl as subprocesses of the train
venv's python, from this (base) venv, as em_gen.train.smoke does for users. About 2-3 minutes on 2 cores.
The pure-Python checks at the top always run.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from em_gen.train import smoke
from em_gen.quality.irc import render
from em_gen.library import ROOT, BadInput
from helpers_records import make_records, write_dataset

# ---- always: the checking code itself ----------------------------------------------------------

SMALL = render("LOW", "#general", [("kestrel", "anyone around?"), ("Em", "yeah, lurking"), ("mossbyte", "same")])


def test_expected_runs_spell_out_the_masks():
    assert smoke.expected_runs({"text": SMALL}, "completion") == [(True, "<s>" + SMALL + "</s>")]
    assert smoke.expected_runs({"text": SMALL}, "em") == [
        (False, "<s>ENGAGEMENT: LOW\nCHANNEL: #general\n<kestrel> anyone around?\n"),
        (True, "<Em> yeah, lurking\n"),
        (False, "<mossbyte> same"),
        (True, "</s>")]
    assert smoke.expected_runs({"text": SMALL}, "turns") == [
        (False, "<s>ENGAGEMENT: LOW\nCHANNEL: #general\n"),
        (True, "<kestrel>"), (False, " anyone around?\n"),
        (True, "<Em> yeah, lurking\n<mossbyte>"), (False, " same"),
        (True, "</s>")]


def test_runs_group_labels():
    assert smoke._runs([1, 5, 6, 7, 2], [-100, -100, 6, 7, 2]) == [(False, [1, 5]), (True, [6, 7, 2])]


def test_non_finite_loss_aborts(tmp_path):
    ck = tmp_path / "out" / "checkpoint-5"
    ck.mkdir(parents=True)
    (ck / "trainer_state.json").write_text(json.dumps({"log_history": [
        {"loss": 2.5, "step": 1}, {"loss": float("nan"), "step": 2}, {"train_loss": 1.0}]}))
    losses = smoke.read_losses(tmp_path / "out")
    assert len(losses) == 2 and math.isnan(losses[1])
    with pytest.raises(smoke.SmokeFailure, match="non-finite"):
        smoke.check_losses(losses)
    with pytest.raises(smoke.SmokeFailure, match="no loss"):
        smoke.check_losses([])
    with pytest.raises(smoke.SmokeFailure, match="trainer_state"):
        smoke.read_losses(tmp_path / "nothing")
    assert smoke.check_losses([2.5, 2.4]) == [2.5, 2.4]


def test_smoke_config_overrides_only_what_cpu_needs(tmp_path):
    for fmt, name in smoke.CONFIG_FOR_FORMAT.items():
        bundled = smoke.bundled_config(name)
        cfg = smoke.smoke_config(fmt, tmp_path / "m", tmp_path / "d.jsonl", tmp_path, steps=3, sequence_len=1024)
        changed = {k for k in set(bundled) | set(cfg) if bundled.get(k) != cfg.get(k)}
        allowed = set(smoke.CPU_OVERRIDES) | {
            "base_model", "datasets", "dataset_prepared_path", "output_dir", "max_steps",
            "gradient_accumulation_steps", "val_set_size", "eval_steps", "save_steps", "save_total_limit",
            "logging_steps", "dataset_num_proc", "sequence_len"}
        assert changed <= allowed, changed - allowed
        assert cfg["datasets"][0]["type"] == bundled["datasets"][0]["type"]
        for k in ("adapter", "lora_r", "lora_alpha", "lora_dropout", "lora_target_linear", "train_on_inputs",
                  "sample_packing", "micro_batch_size", "weight_decay", "excess_length_strategy",
                  "learning_rate", "lr_scheduler", "warmup_ratio"):
            assert cfg[k] == bundled[k]


def test_missing_train_venv_is_bad_input(tmp_path):
    with pytest.raises(BadInput, match="setup-train-venv"):
        smoke.train_python(tmp_path / "no-venv")


# ---- with the train venv -----------------------------------------------------------------------

FORMATS = ("completion", "em", "turns")
VENV = Path(os.environ.get("EM_GEN_TRAIN_VENV", ROOT / ".venv-train"))
needs_venv = pytest.mark.skipif(not (VENV / "bin" / "python").exists(),
                                reason=f"no train venv at {VENV}: run scripts/setup-train-venv.sh")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("smoke")


@pytest.fixture(scope="module")
def tiny_model(workdir):
    dest = workdir / "tiny-model"
    proc = subprocess.run([str(smoke.train_python(VENV)), "-m", "em_gen.train.smoke", "tiny-model", str(dest)],
                          cwd=ROOT, env=smoke.train_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return dest


@pytest.fixture(scope="module")
def dataset(workdir):
    return write_dataset(workdir / "em_character_training.jsonl", make_records(24, n_messages=(6, 14)))


@needs_venv
def test_axolotl_accepts_the_bundled_configs(workdir):
    """Axolotl 0.19's own validate_config + normalize_config on every bundled config (as on a GPU
    box; FSDP as on 4 GPUs), and a broken config as a control that the validator does reject."""
    bad = workdir / "broken.yaml"
    cfg = yaml.safe_load((ROOT / "axolotl" / "em-multigpu.yaml").read_text())
    cfg["fsdp_config"]["auto_wrap_policy"] = "SIZE_BASED_WRAP"  # without min_num_params: invalid
    bad.write_text(yaml.safe_dump(cfg))
    configs = [ROOT / "axolotl" / c for c in smoke.BUNDLED_CONFIGS]
    proc = subprocess.run([str(smoke.train_python(VENV)), "-m", "em_gen.train.smoke", "validate-config",
                           *map(str, configs), str(bad)],
                          cwd=ROOT, env=smoke.train_env(), capture_output=True, text=True, timeout=300)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "min_num_params" in out[str(bad)].get("error", "")
    for c in configs:
        got = out[str(c)]
        assert "error" not in got, got
        assert got["model_config_type"] == "mistral" and got["adapter"] == "lora"
        assert (got["lora_r"], got["lora_alpha"], got["lora_dropout"]) == (32, 64, 0.2)
        assert got["train_on_inputs"] is False and got["bf16"] is True
        assert got["attn_implementation"] == "flash_attention_2"
        assert (got["save_steps"], got["save_total_limit"]) == (100, 8)
    dpo = out[str(ROOT / "axolotl" / "em-dpo.yaml")]
    assert (dpo["rl"], dpo["rl_beta"], dpo["num_epochs"]) == ("dpo", 0.1, 1.0)
    assert dpo["datasets"][0]["type"]["field_prompt"] == "prompt"
    assert out[str(ROOT / "axolotl" / "em-multigpu.yaml")]["fsdp_version"] == 2
    assert out[str(ROOT / "axolotl" / "em-multigpu.yaml")]["fsdp_config"]["transformer_layer_cls_to_wrap"] == "MistralDecoderLayer"


@pytest.fixture(scope="module")
def stand_in_pairs(workdir):
    """DPO pairs exported from a stand-in run (--batch 12, then --pairs from both sources)."""
    from conftest import run_cli
    out = workdir / "pairs-run"
    for args in (["--batch", "12", "--no-progress"], ["--pairs", "--source", "both", "--target", "standin"]):
        r = run_cli(*args, "--out", str(out))
        assert r.returncode == 0, r.stderr
    return out / "export" / "em_dpo.jsonl"


@pytest.fixture(scope="module")
def smoke_runs(dataset, tiny_model, workdir, stand_in_pairs):
    """The three formats' smoke runs, a run that saves 3 checkpoints with an eval split (for
    `em-gen eval --sweep`, test_sweep_over_smoke_checkpoints) and the DPO smoke run, two at a time:
    each is mostly one subprocess importing Axolotl, so two side by side keep both cores of a CI
    machine busy."""
    from em_gen.train.dpo_smoke import dpo_smoke

    def run(fmt):
        try:
            if fmt == "dpo":
                return dpo_smoke(stand_in_pairs, workdir / "dpo", tiny_model, steps=6, venv=VENV, timeout=600)
            if fmt == "sweep":
                return smoke.smoke_train(dataset, tiny_model, "completion", workdir / fmt, steps=3, venv=VENV,
                                         cpu=True, sequence_len=1024, timeout=600, check=False, checkpoints=3,
                                         eval_share=0.15)
            return smoke.smoke_train(dataset, tiny_model, fmt, workdir / fmt, steps=4, venv=VENV, cpu=True,
                                     sequence_len=2048, timeout=600)
        except Exception as e:  # reported by the test of that format
            return e

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(FORMATS + ("sweep", "dpo"), pool.map(run, FORMATS + ("sweep", "dpo"))))


@needs_venv
@pytest.mark.parametrize("fmt", FORMATS)
def test_smoke_train(fmt, smoke_runs):
    res = smoke_runs[fmt]
    if isinstance(res, Exception):
        raise res
    losses = res["losses"]
    assert len(losses) == 4 and all(math.isfinite(x) for x in losses)
    assert 5.0 < losses[0] < 12.0  # ~ln(32768) = 10.4 for a random model
    labels = res["labels"]
    # every prepared row decodes to an exported sample with exactly the intended tokens labelled
    assert labels["errors"] == [] and labels["rows"] == labels["matched"] == labels["samples"] == 24
    assert labels["samples_seen"] == 24
    share = labels["labelled_tokens"] / labels["tokens"]
    if fmt == "completion":
        assert share == 1.0
    elif fmt == "em":
        assert 0.02 < share < 0.5
    else:
        assert 0.1 < share < 0.8
    # the run used the bundled config, overridden only by smoke_config
    cfg = yaml.safe_load(Path(res["config"]).read_text())
    assert cfg["datasets"][0]["type"] == ("completion" if fmt == "completion" else "input_output")
    assert cfg["lora_dropout"] == 0.2 and cfg["train_on_inputs"] is False
    assert (Path(res["workdir"]) / "out" / "adapter_model.safetensors").exists()


@needs_venv
def test_dpo_smoke_finite_loss_and_rising_margin(smoke_runs):
    """A few DPO steps of axolotl/em-dpo.yaml on stand-in pairs: finite losses, and the reward margin
    (chosen minus rejected log-probability, relative to the reference, times beta) rising from 0."""
    from em_gen.train.dpo_smoke import SMOKE_LR
    res = smoke_runs["dpo"]
    if isinstance(res, Exception):
        raise res
    losses, margins = res["losses"], res["margins"]
    print(f"DPO smoke: losses {['%.4f' % x for x in losses]}, margins {['%.4f' % x for x in margins]}")
    assert len(losses) == 6 and all(math.isfinite(x) for x in losses + margins)
    assert abs(losses[0] - math.log(2)) < 1e-3 and margins[0] == 0.0  # step 1: the policy is the reference
    assert margins[-1] > margins[0] and losses[-1] < losses[0]
    cfg = yaml.safe_load(Path(res["config"]).read_text())
    bundled = smoke.bundled_config("em-dpo.yaml")
    changed = {k for k in set(bundled) | set(cfg) if bundled.get(k) != cfg.get(k)}
    allowed = set(smoke.CPU_OVERRIDES) | {"base_model", "datasets", "dataset_prepared_path", "output_dir", "max_steps",
                                          "gradient_accumulation_steps", "val_set_size", "eval_steps", "save_steps",
                                          "save_total_limit", "dataset_num_proc", "sequence_len", "learning_rate",
                                          "warmup_ratio", "lr_scheduler", "micro_batch_size"}
    assert changed <= allowed, changed - allowed
    assert cfg["learning_rate"] == SMOKE_LR and (cfg["rl"], cfg["rl_beta"]) == ("dpo", 0.1)
    assert cfg["datasets"][0]["type"] == bundled["datasets"][0]["type"]
    assert (Path(res["workdir"]) / "out" / "adapter_model.safetensors").exists()


@needs_venv
def test_label_check_catches_a_wrong_mask(smoke_runs, tiny_model):
    """Control: the em run's prepared data, checked as if it were turns, must fail."""
    res = smoke_runs["em"]
    if isinstance(res, Exception):
        pytest.skip(f"em smoke run failed: {res}")
    wd = Path(res["workdir"])
    proc = subprocess.run([str(smoke.train_python(VENV)), "-m", "em_gen.train.smoke", "check-labels", str(wd / "prepared"),
                           res["export"]["path"], str(tiny_model), "turns"],
                          cwd=ROOT, env=smoke.train_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["rows"] == 24 and out["matched"] == 0 and out["errors"]
    assert not smoke.labels_ok(out)


def test_workdir_that_is_not_a_smoke_dir_is_refused(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    ds = write_dataset(tmp_path / "d" / "em_character_training.jsonl", make_records(4))
    if not (VENV / "bin" / "python").exists():
        pytest.skip("needs the train venv path check to pass first")
    with pytest.raises(BadInput, match="not a smoke workdir"):
        smoke.smoke_train(ds, None, "em", tmp_path, venv=VENV)
    assert (tmp_path / "keep.txt").exists()


@needs_venv
def test_sweep_over_smoke_checkpoints(smoke_runs, tiny_model, tmp_path):
    """`em-gen eval --sweep` over the 3 checkpoints a smoke run saved (plus a 4th whose weights are
    broken: reported and skipped), on the tiny model in the train venv: the base is loaded once and
    the adapters swapped onto it, one checkpoint is recommended and the page is written; a rerun
    comes wholly from the cache and loads no model."""
    res = smoke_runs["sweep"]
    if isinstance(res, Exception):
        raise res
    out = Path(res["workdir"]) / "out"
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-1", "checkpoint-2", "checkpoint-3"]
    broken = out / "checkpoint-4"
    shutil.copytree(out / "checkpoint-3", broken)
    (broken / "adapter_model.safetensors").write_bytes(b"not a safetensors file")
    cmd = [str(smoke.train_python(VENV)), "-m", "em_gen.cli", "eval", "--sweep", str(out), "--device", "cpu",
           "--heldout", "none", "--limit", "8", "--samples", "2", "--turns", "2", "--line-tokens", "6",
           "--bootstrap", "200", "--no-progress", "--cache", str(tmp_path / "cache")]
    env = {**smoke.train_env(), "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run([*cmd, "--out", str(tmp_path / "sweep.json"), "--report"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "sweep.json").read_text())
    cks = report["checkpoints"]
    assert [c["step"] for c in cks] == [1, 2, 3]
    assert all(isinstance(c["eval_loss"], float) and math.isfinite(c["eval_loss"]) for c in cks)
    assert report["base"]["target"] == f"hf:{tiny_model}"
    assert [f["label"] for f in report["failed"]] == ["checkpoint-4"] and "checkpoint-4: failed, skipped" in proc.stderr
    assert report["recommendation"]["label"] in {c["label"] for c in cks}
    assert (report["timing"]["base_loads"], report["timing"]["adapter_loads"]) == (1, 3)
    for c in cks:  # random weights: the mechanics, not the values
        assert c["metrics"] and all(d["ci"][0] <= d["mean"] <= d["ci"][1] for d in c["compare"].values()
                                    if d["mean"] is not None)
    html = (tmp_path / "sweep.html").read_text()
    assert "Recommended: " + report["recommendation"]["label"] in html and "<svg" in html
    assert "eval loss" in html and "<script" not in html
    again = subprocess.run([*cmd, "--out", str(tmp_path / "again.json")], cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    rerun = json.loads((tmp_path / "again.json").read_text())
    assert rerun["timing"]["cache_hits"] == 4 and rerun["timing"]["base_loads"] == 0
    assert [c["metrics"] for c in rerun["checkpoints"]] == [c["metrics"] for c in cks]


# config.json of Gemma 3 270M as scripts/small-model.sh writes it (no weights needed to validate)
GEMMA3_270M_CONFIG = {
    "architectures": ["Gemma3ForCausalLM"], "model_type": "gemma3_text", "hidden_size": 640,
    "intermediate_size": 2048, "num_hidden_layers": 18, "num_attention_heads": 4, "num_key_value_heads": 1,
    "head_dim": 256, "vocab_size": 262144, "max_position_embeddings": 32768, "sliding_window": 512,
    "query_pre_attn_scalar": 256, "rms_norm_eps": 1e-06, "hidden_activation": "gelu_pytorch_tanh",
    "bos_token_id": 2, "eos_token_id": 1, "pad_token_id": 0, "tie_word_embeddings": True, "dtype": "float32",
}


@needs_venv
def test_axolotl_accepts_the_small_model_config(workdir):
    """axolotl/em-small.yaml (Gemma 3 270M on CPU) passes Axolotl's own validation against the model's
    config, with the CPU settings it needs and the em.yaml recipe otherwise."""
    stub = workdir / "gemma-3-270m-config"
    stub.mkdir(exist_ok=True)
    (stub / "config.json").write_text(json.dumps(GEMMA3_270M_CONFIG))
    cfg = ROOT / "axolotl" / "em-small.yaml"
    proc = subprocess.run([str(smoke.train_python(VENV)), "-m", "em_gen.train.smoke", "validate-config", str(cfg),
                           "--base-model", str(stub)],
                          cwd=ROOT, env=smoke.train_env(), capture_output=True, text=True, timeout=300)
    got = json.loads(proc.stdout.strip().splitlines()[-1])[str(cfg)]
    assert "error" not in got, got
    assert got["model_config_type"] == "gemma3_text" and got["adapter"] == "lora"
    assert got["bf16"] is False and got["attn_implementation"] == "eager" and got["lora_mlp_kernel"] is False
    assert got["datasets"] == [{"path": "em_character_data/small/export/em_small_train.jsonl", "type": "completion"}]
    assert got["num_epochs"] == 1 and got["train_on_inputs"] is False
    em = yaml.safe_load((ROOT / "axolotl" / "em.yaml").read_text())
    small = yaml.safe_load(cfg.read_text())
    lines = cfg.read_text().splitlines()
    for key in (k for k in small if em.get(k) != small[k]):  # each change says why, on its line or above it
        at = next(i for i, ln in enumerate(lines) if ln.startswith(f"{key}:"))
        assert any("changed" in ln for ln in lines[max(0, at - 6): at + 1]), key
