"""Smoke training: a few LoRA steps with Axolotl before a real run, and the checks that go with it.

`smoke_train` runs from any Python (it needs no torch): it exports the dataset in the chosen format,
writes an Axolotl config made from the bundled one (axolotl/em.yaml, em-masked.yaml, em-turns.yaml)
with only what the machine needs overridden, and runs Axolotl's own `axolotl preprocess` and
`axolotl train --launcher python` in the train venv (`.venv-train`, made by
scripts/setup-train-venv.sh), in one subprocess. Between the two it decodes the prepared (tokenized)
dataset and checks that exactly the intended tokens carry labels (training only starts if they do);
after training it reads the losses from trainer_state.json and raises SmokeFailure if one is not
finite. The labels it wants:

  completion: every token, one BOS at the start and one EOS at the end;
  em:         Em's lines (`<Em> text\\n`) and the final EOS, nothing else;
  turns:      every `<nick>` tag, Em's message text and the final EOS, nothing else.

With base_model None it builds a tiny random Mistral (2 layers, hidden 64) whose tokenizer is
Mistral's v3 sentencepiece model from mistral-common, so it runs offline on a CPU in seconds. With
a real base model folder it uses that model and its tokenizer, on whatever device the train venv's
torch has; CPU-only settings are applied only when torch sees no CUDA.

Functions that need torch/transformers/datasets/axolotl run inside the train venv through this
module's command line (`.venv-train/bin/python -m em_gen.train.smoke tiny-model DIR | check-labels ... |
validate-config CONFIG... | pipeline ... | axolotl ARGS... | run DATASET ...`); importing this
module needs none of them.
"""
from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from pathlib import Path

import yaml

from em_gen.library import ROOT, BadInput
from em_gen.train import export as ex

# re-exported: the smoke-training entry point's public names
from em_gen.train.axolotl_env import (  # noqa: F401,E402
    BUNDLED_CONFIGS,
    CONFIG_FOR_FORMAT,
    CPU_OVERRIDES,
    SmokeFailure,
    _run,
    _run_json,
    bundled_config,
    smoke_config,
    train_env,
    train_python,
    validate_configs,
)
from em_gen.train.labels import _runs, check_labels, expected_runs, labels_ok  # noqa: F401,E402
from em_gen.train.tiny_model import build_tiny_model

# --------------------------------------------------------------------------------------------------
# the smoke run


def read_losses(output_dir: Path) -> list[float]:
    """Training losses, in step order, from the trainer_state.json Axolotl's trainer writes."""
    states = sorted(Path(output_dir).rglob("trainer_state.json"), key=lambda p: p.stat().st_mtime)
    if not states:
        raise SmokeFailure(f"{output_dir}: no trainer_state.json: did training run?")
    state = json.loads(states[-1].read_text(encoding="utf-8"))
    return [float(e["loss"]) for e in state.get("log_history", []) if "loss" in e]


def check_losses(losses: list[float], log: Path | None = None) -> list[float]:
    """The losses, or SmokeFailure when none was logged or one is NaN/inf."""
    where = f"; log: {log}" if log else ""
    if not losses:
        raise SmokeFailure(f"no loss logged{where}")
    bad = [x for x in losses if not math.isfinite(x)]
    if bad:
        raise SmokeFailure(f"non-finite loss {bad[0]} in {losses}{where}")
    return losses


def smoke_train(dataset: Path, base_model: Path | None = None, fmt: str = "completion",
                workdir: Path | None = None, steps: int = 5, *, allow_offline: bool = True,
                venv: Path | None = None, cpu: bool | None = None, sequence_len: int | None = None,
                check: bool = True, timeout: float = 900, checkpoints: int = 1, eval_share: float = 0.0) -> dict:
    """Train `steps` LoRA steps with the bundled config for `fmt` on `dataset`, and check the result.

    dataset:      an accepted dataset (em_character_training.jsonl) - the user's own data.
    base_model:   a Hugging Face model folder; None builds the tiny random Mistral in workdir.
    fmt:          "completion" (axolotl/em.yaml), "em" (em-masked.yaml) or "turns" (em-turns.yaml).
    workdir:      scratch folder (export, config, prepared data, adapter, logs); default
                  `<dataset folder>/smoke/<fmt>`. Emptied first if it holds an earlier smoke run;
                  any other non-empty folder is refused.
    steps:        optimizer steps (micro batch 1, no accumulation).
    allow_offline: accept offline stand-in records (default True: a smoke run tests the plumbing).
    cpu:          apply CPU_OVERRIDES; default: when base_model is None, or torch in the train venv
                  sees no CUDA.
    sequence_len: override the bundled sequence_len (default: 4096 for the tiny model, else keep).
    check:        run the label check on the prepared dataset.
    checkpoints:  save this many checkpoints, evenly spaced (default 1, at the end).
    eval_share:   hold this share of the rows out and log the eval loss at each checkpoint.

    Raises SmokeFailure on a failed subprocess, a non-finite loss or wrong labels; BadInput when
    the train venv is missing or the dataset is bad. Returns {"format", "losses", "final_loss",
    "labels": check_labels(...) result, "config", "seconds", "workdir", "export"}.
    """
    if fmt not in CONFIG_FOR_FORMAT:
        raise BadInput(f"unknown format {fmt!r} (expected one of: {', '.join(CONFIG_FOR_FORMAT)})")
    python = train_python(venv)
    dataset = Path(dataset).resolve()
    workdir = Path(workdir).resolve() if workdir is not None else dataset.parent / "smoke" / fmt
    if workdir.exists() and any(workdir.iterdir()) and not (workdir / "axolotl.log").exists():
        raise BadInput(f"{workdir}: not empty and not a smoke workdir; give an empty or new folder")
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    log = workdir / "axolotl.log"
    start = time.monotonic()
    if base_model is None:
        base_model = workdir / "tiny-model"
        _run([python, "-m", "em_gen.train.smoke", "tiny-model", base_model], log, ROOT, train_env(), timeout)
        cpu = True if cpu is None else cpu
        sequence_len = sequence_len or 4096  # fits 120-message logs (~3.6k v3 tokens); 8192 eager attention is slow on CPU
    base_model = Path(base_model).resolve()
    if cpu is None:
        cpu = not _run_json(python, ["cuda"], ROOT)["cuda"]
    report = ex.export_dataset(dataset, workdir / "data", fmt, holdout=0.0, allow_offline=allow_offline,
                               tokenizer=base_model)
    cfg = smoke_config(fmt, base_model, Path(report["path"]), workdir, steps, cpu=cpu, sequence_len=sequence_len,
                       checkpoints=checkpoints, eval_share=eval_share)
    cfg_path = workdir / "config.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    env = train_env({} if not cpu else {"CUDA_VISIBLE_DEVICES": ""})
    # Axolotl's own CLI commands `axolotl preprocess CFG` and `axolotl train CFG --launcher python`,
    # with the label check between them, in one subprocess of the train venv (see _main "pipeline").
    # Run with this module as __main__, so the workers `datasets` spawns to save the prepared data
    # re-import this light module rather than all of Axolotl.
    labels_out = workdir / "labels.json"
    cmd = [python, "-m", "em_gen.train.smoke", "pipeline", cfg_path, workdir / "prepared", report["path"], base_model,
           fmt if check else "-", labels_out]
    try:
        seconds = _run(cmd, log, workdir, env, timeout)
    except SmokeFailure:
        if check and labels_out.exists() and not labels_ok(json.loads(labels_out.read_text(encoding="utf-8"))):
            raise SmokeFailure(f"label check failed for {fmt}: {labels_out.read_text(encoding='utf-8')}") from None
        raise
    losses = check_losses(read_losses(workdir / "out"), log)
    labels = json.loads(labels_out.read_text(encoding="utf-8")) if check else None
    return {
        "format": fmt,
        "losses": losses,
        "final_loss": losses[-1],
        "labels": labels,
        "config": str(cfg_path),
        "seconds": {"axolotl": round(seconds, 1), "total": round(time.monotonic() - start, 1)},
        "workdir": str(workdir),
        "export": report,
    }


# --------------------------------------------------------------------------------------------------
# command line for the train venv side


def _main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m em_gen.train.smoke")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("tiny-model", help="build the tiny random Mistral into DIR")
    s.add_argument("dir", type=Path)
    s = sub.add_parser("check-labels", help="check the labels of a prepared dataset (prints JSON)")
    s.add_argument("prepared", type=Path)
    s.add_argument("export_file", type=Path)
    s.add_argument("tokenizer_dir", type=Path)
    s.add_argument("fmt", choices=list(CONFIG_FOR_FORMAT))
    s = sub.add_parser("validate-config", help="validate configs with axolotl as on a GPU box (prints JSON "
                       "{config: resolved values}); FSDP/DeepSpeed configs as on 4 GPUs")
    s.add_argument("configs", type=Path, nargs="+")
    s.add_argument("--base-model", type=Path, help="model folder for normalisation (default: a 24B config stub)")
    sub.add_parser("cuda", help="print whether torch sees CUDA (JSON)")
    sub.add_parser("axolotl", help="run Axolotl's CLI: axolotl ARGS...")
    sub.add_parser("pipeline", help="axolotl preprocess CFG, check-labels (FMT '-' skips it), axolotl train "
                   "CFG: CFG PREPARED EXPORT_FILE TOKENIZER_DIR FMT OUT_JSON")
    s = sub.add_parser("run", help="smoke_train from the command line (prints JSON)")
    s.add_argument("dataset", type=Path)
    s.add_argument("--base-model", type=Path)
    s.add_argument("--format", default="completion", choices=list(CONFIG_FOR_FORMAT))
    s.add_argument("--workdir", type=Path)
    s.add_argument("--steps", type=int, default=5)
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["pipeline"]:
        # `axolotl preprocess CFG`, the label check on what it wrote, then `axolotl train CFG
        # --launcher python` (which loads that same prepared data), in one process: one import of
        # Axolotl instead of three. Exit 3 without training when the labels are wrong.
        cfg, prepared, export_file, tokenizer_dir, fmt, out = argv[1:7]
        from axolotl.cli.main import cli as axolotl_cli

        axolotl_cli.main(args=["preprocess", cfg], prog_name="axolotl", standalone_mode=False)
        if fmt != "-":
            result = check_labels(Path(prepared), Path(export_file), Path(tokenizer_dir), fmt)
            Path(out).write_text(json.dumps(result), encoding="utf-8")
            if not labels_ok(result):
                print(f"label check failed: {json.dumps(result)}", file=sys.stderr)
                return 3
        axolotl_cli.main(args=["train", cfg, "--launcher", "python"], prog_name="axolotl", standalone_mode=False)
        return 0
    if argv[:1] == ["axolotl"]:
        # Axolotl's console script (`axolotl ...`) with this module as __main__: spawned workers
        # import em_gen.train.smoke (light) instead of axolotl.cli.* (torch, transformers, ...).
        from axolotl.cli.main import main as axolotl_main

        sys.argv = ["axolotl", *argv[1:]]
        axolotl_main()
        return 0
    a = p.parse_args(argv)
    try:
        if a.cmd == "tiny-model":
            out = {"path": str(build_tiny_model(a.dir))}
        elif a.cmd == "check-labels":
            out = check_labels(a.prepared, a.export_file, a.tokenizer_dir, a.fmt)
        elif a.cmd == "validate-config":
            out = validate_configs(a.configs, a.base_model)
            print(json.dumps(out, default=str))
            return 1 if any("error" in v for v in out.values()) else 0
        elif a.cmd == "cuda":
            import torch

            out = {"cuda": bool(torch.cuda.is_available())}
        else:
            out = smoke_train(a.dataset, a.base_model, a.format, a.workdir, a.steps)
    except BadInput as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(out, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(_main())
