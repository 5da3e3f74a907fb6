"""DPO smoke training: a few steps of axolotl/em-dpo.yaml on exported pairs, on CPU with a tiny model.

Like the SFT smoke run (smoke.py), it writes a config made from the bundled one with only what the
machine needs overridden (paths, step counts, CPU settings, the tiny model's sequence length), runs
Axolotl's own `axolotl preprocess` and `axolotl train --launcher python` in the train venv, and reads
the trainer's log: every loss must be finite, and the reward margin (TRL's `rewards/margins`: beta x
(chosen minus rejected log-probability, each relative to the reference model)) must rise between the
first and the last step. At the first step the policy is the reference (a fresh LoRA adds nothing), so
the margin starts at 0 and a working DPO step moves it up.

Two overrides beyond the SFT smoke's: the learning rate (the bundled 3e-5 moves a random 2-layer
model's margin by ~1e-5 in a few steps; SMOKE_LR lets the check see the optimisation work, constant,
no warmup) and the micro batch (SMOKE_MICRO_BATCH pairs a step, so a step's margin is not one pair's
noise). Nothing else about the DPO setup changes (beta, LoRA, loss, data mapping).
"""
from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path

import yaml

from em_gen.library import ROOT, BadInput
from em_gen.train.axolotl_env import (
    SmokeFailure,
    _run,
    bundled_config,
    smoke_config,
    train_env,
    train_python,
)

DPO_CONFIG = "em-dpo.yaml"
SMOKE_LR = 0.002
SMOKE_PAIRS = 16  # the shortest pairs of the export: seconds on a CPU
SMOKE_MICRO_BATCH = 4  # pairs a step: each step's margin is a mean over 4 pairs, not one pair's noise


def read_log(output_dir: Path) -> list[dict]:
    states = sorted(Path(output_dir).rglob("trainer_state.json"), key=lambda p: p.stat().st_mtime)
    if not states:
        raise SmokeFailure(f"{output_dir}: no trainer_state.json: did training run?")
    hist = json.loads(states[-1].read_text(encoding="utf-8")).get("log_history", [])
    return [e for e in hist if "loss" in e and "rewards/margins" in e]


def check_log(steps: list[dict], log: Path | None = None) -> dict:
    """{"losses", "margins"} or SmokeFailure: no step logged, a non-finite loss, a margin that did not rise."""
    where = f"; log: {log}" if log else ""
    if len(steps) < 2:
        raise SmokeFailure(f"{len(steps)} DPO step(s) logged, need at least 2{where}")
    losses = [float(e["loss"]) for e in steps]
    margins = [float(e["rewards/margins"]) for e in steps]
    bad = [x for x in losses + margins if not math.isfinite(x)]
    if bad:
        raise SmokeFailure(f"non-finite value {bad[0]} in losses {losses} / margins {margins}{where}")
    if not margins[-1] > margins[0]:
        raise SmokeFailure(f"the reward margin did not rise: first {margins[0]:.6f}, last {margins[-1]:.6f}{where}")
    return {"losses": losses, "margins": margins}


def _shortest(pairs_file: Path, n: int) -> list[dict]:
    rows = []
    for i, line in enumerate(Path(pairs_file).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise BadInput(f"{pairs_file}: line {i}: not JSON") from None
        if not all(isinstance(row.get(k), str) and row[k] for k in ("prompt", "chosen", "rejected")):
            raise BadInput(f"{pairs_file}: line {i}: needs non-empty prompt, chosen and rejected")
        rows.append(row)
    if not rows:
        raise BadInput(f"{pairs_file}: no pairs; run em-gen --pairs first")
    return sorted(rows, key=lambda r: len(r["prompt"]))[:n]


def dpo_config(base_model: Path, data: Path, workdir: Path, steps: int, sequence_len: int, cpu: bool = True) -> dict:
    """axolotl/em-dpo.yaml pointed at `data`/`base_model`/`workdir` for `steps` steps: the SFT smoke's
    overrides (smoke_config: paths, steps, no eval, one checkpoint, CPU settings) plus SMOKE_LR."""
    dpo = bundled_config(DPO_CONFIG)
    sft = bundled_config("completion")
    smoke = smoke_config("completion", base_model, data, workdir, steps, cpu=cpu, sequence_len=sequence_len)
    changed = {k: v for k, v in smoke.items() if sft.get(k) != v and k != "datasets"}
    out = {**dpo, **changed, "dataset_prepared_path": str(workdir / "prepared"),
           "datasets": [dict(dpo["datasets"][0], path=str(data))],
           "learning_rate": SMOKE_LR, "warmup_ratio": 0.0, "lr_scheduler": "constant",
           "micro_batch_size": SMOKE_MICRO_BATCH}
    out = {k: v for k, v in out.items() if v is not None and not (k == "eval_steps")}
    return out


def dpo_smoke(pairs_file: Path, workdir: Path, base_model: Path | None = None, steps: int = 6,
              n_pairs: int = SMOKE_PAIRS, venv: Path | None = None, sequence_len: int = 4096,
              timeout: float = 900) -> dict:
    """Train `steps` DPO steps on the `n_pairs` shortest pairs of `pairs_file`; check and report."""
    python = train_python(venv)
    workdir = Path(workdir).resolve()
    if workdir.exists() and any(workdir.iterdir()) and not (workdir / "axolotl.log").exists():
        raise BadInput(f"{workdir}: not empty and not a smoke workdir; give an empty or new folder")
    shutil.rmtree(workdir, ignore_errors=True)
    (workdir / "data").mkdir(parents=True)
    log = workdir / "axolotl.log"
    start = time.monotonic()
    if base_model is None:
        base_model = workdir / "tiny-model"
        _run([python, "-m", "em_gen.train.smoke", "tiny-model", base_model], log, ROOT, train_env(), timeout)
    rows = _shortest(Path(pairs_file), n_pairs)
    data = workdir / "data" / "em_dpo.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    cfg = dpo_config(Path(base_model).resolve(), data, workdir, steps, sequence_len)
    cfg_path = workdir / "config.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    cmd = [python, "-m", "em_gen.train.smoke", "pipeline", cfg_path, workdir / "prepared", data, base_model, "-",
           workdir / "labels.json"]
    seconds = _run(cmd, log, workdir, train_env({"CUDA_VISIBLE_DEVICES": ""}), timeout)
    got = check_log(read_log(workdir / "out"), log)
    return {**got, "pairs": len(rows), "steps": len(got["losses"]), "config": str(cfg_path), "workdir": str(workdir),
            "seconds": {"axolotl": round(seconds, 1), "total": round(time.monotonic() - start, 1)}}
