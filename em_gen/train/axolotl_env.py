"""The train venv and Axolotl: where it lives, how it is run, the bundled configs and the smoke
config made from them, and Axolotl's own validation of the bundled configs."""
from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import yaml

from em_gen.library import ROOT, BadInput

AXOLOTL_DIR = ROOT / "axolotl"
TRAIN_VENV = ROOT / ".venv-train"
CONFIG_FOR_FORMAT = {"completion": "em.yaml", "em": "em-masked.yaml", "turns": "em-turns.yaml"}
BUNDLED_CONFIGS = ("em.yaml", "em-masked.yaml", "em-turns.yaml", "em-multigpu.yaml", "em-dpo.yaml")
IGNORE = -100

# What a CPU and a tiny model need, over the bundled config. Nothing else is changed.
CPU_OVERRIDES = {
    "bf16": False,                 # no bf16 matmuls worth having on CPU; fp32
    "fp16": False,
    "tf32": False,
    "attn_implementation": "eager",  # flash-attn is GPU only
    "lora_mlp_kernel": False,      # Triton kernels: GPU only
    "lora_qkv_kernel": False,
    "lora_o_kernel": False,
}


class SmokeFailure(RuntimeError):
    """The smoke run trained but something is wrong: non-finite loss or wrong labels."""


# --------------------------------------------------------------------------------------------------
# the train venv


def train_python(venv: Path | None = None) -> Path:
    """The train venv's python; BadInput if the venv is missing or has no axolotl."""
    venv = Path(venv) if venv is not None else Path(os.environ.get("EM_GEN_TRAIN_VENV", TRAIN_VENV))
    py = venv / "bin" / "python"
    if not py.exists():
        raise BadInput(f"{venv}: no train venv; run scripts/setup-train-venv.sh first")
    return py


def train_env(extra: dict | None = None) -> dict:
    """Environment for Axolotl subprocesses: offline, no experiment trackers, no telemetry."""
    env = dict(os.environ)
    env.update({
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "WANDB_MODE": "disabled",
        "WANDB_DISABLED": "true",
        "AXOLOTL_DO_NOT_TRACK": "1",
        "DO_NOT_TRACK": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "PYTHONUNBUFFERED": "1",
    })
    env.pop("PYTHONPATH", None)
    if extra:
        env.update(extra)
    return env


def _run(cmd: list[str], log: Path, cwd: Path, env: dict, timeout: float) -> float:
    start = time.monotonic()
    with log.open("a", encoding="utf-8") as f:
        f.write(f"$ {' '.join(map(str, cmd))}\n")
        f.flush()
        try:
            proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, stdout=f,
                                  stderr=subprocess.STDOUT, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise SmokeFailure(f"{cmd[2] if len(cmd) > 2 else cmd[0]} ran past {timeout:.0f} s; log: {log}") from None
    if proc.returncode != 0:
        tail = "".join(log.read_text(encoding="utf-8", errors="replace").splitlines(True)[-40:])
        raise SmokeFailure(f"{' '.join(map(str, cmd[:3]))} exited {proc.returncode}; log: {log}\n{tail}")
    return time.monotonic() - start


def _run_json(python: Path, args: list[str], cwd: Path, timeout: float = 600) -> dict:
    proc = subprocess.run([str(python), "-m", "em_gen.train.smoke", *args], cwd=cwd, env=train_env(),
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise SmokeFailure(f"em_gen.train.smoke {args[0]} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------------
# configs


def bundled_config(name_or_fmt: str) -> dict:
    """A bundled Axolotl config as a dict, by file name ("em.yaml") or export format ("turns")."""
    name = CONFIG_FOR_FORMAT.get(name_or_fmt, name_or_fmt)
    path = AXOLOTL_DIR / name
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"{path}: no such bundled config") from None


def smoke_config(fmt: str, base_model: Path, data_path: Path, workdir: Path, steps: int = 5,
                 cpu: bool = True, sequence_len: int | None = None, checkpoints: int = 1,
                 eval_share: float = 0.0) -> dict:
    """The bundled config for `fmt`, pointed at `data_path`/`base_model`/`workdir`, for `steps` steps.

    Besides paths and step counts, it overrides only CPU_OVERRIDES (when cpu) and, for the tiny
    model, the sequence length. By default eval is off and one checkpoint is saved at the last step
    (for its trainer_state.json): a smoke run trains and logs. `checkpoints` N > 1 saves every
    steps/N steps and keeps them all (a run to sweep with `em-gen eval --sweep`); `eval_share` > 0
    holds that share of the rows out and logs the eval loss at every checkpoint.
    """
    if checkpoints < 1 or steps % checkpoints:
        raise BadInput(f"checkpoints: {checkpoints} does not divide {steps} steps")
    every = steps // checkpoints
    cfg = bundled_config(fmt)
    ds = dict(cfg["datasets"][0])
    ds["path"] = str(data_path)
    cfg["datasets"] = [ds]
    cfg.update({
        "base_model": str(base_model),
        "dataset_prepared_path": str(workdir / "prepared"),
        "output_dir": str(workdir / "out"),
        "max_steps": steps,
        "gradient_accumulation_steps": 1,   # `steps` micro-batches, not 16 x steps
        "val_set_size": eval_share,  # default 0: train on (and check) every exported row
        "eval_steps": every if eval_share else None,
        "save_steps": every,       # default: one checkpoint at the end: its trainer_state.json has the losses
        "save_total_limit": checkpoints,
        "logging_steps": 1,
        "dataset_num_proc": 1,     # tokenizing a few dozen rows: no worker processes
    })
    if sequence_len:
        cfg["sequence_len"] = sequence_len
    if cpu:
        cfg.update(CPU_OVERRIDES)
    return {k: v for k, v in cfg.items() if v is not None}



# --------------------------------------------------------------------------------------------------
# config validation (runs in the train venv)

# A GPU box as Axolotl's validator sees it (the bundled configs ask for bf16 and flash attention).
GPU_CAPABILITIES = {"bf16": True, "fp8": False, "tf32": True, "compute_capability": "sm_90"}


def validate_bundled(config: Path, base_model: Path, n_gpu: int = 1) -> dict:
    """Axolotl 0.19's own validation of a bundled config, as on a GPU box with `n_gpu` GPUs:
    `validate_config` (the pydantic schema with capability checks), then `normalize_config` and
    `normalize_cfg_datasets`, which `load_cfg` runs after it. `base_model` replaces the config's
    (normalize reads the model's config.json). Returns a few resolved values; raises on a bad config."""
    import torch
    from axolotl.utils.config import (
        normalize_cfg_datasets,
        normalize_config,
        validate_config,
    )
    from axolotl.utils.dict import DictDefault

    raw = yaml.safe_load(Path(config).read_text(encoding="utf-8"))
    raw["base_model"] = str(base_model)
    cfg = DictDefault(raw)
    caps = dict(GPU_CAPABILITIES, n_gpu=n_gpu)
    env_caps = {"torch_version": str(torch.__version__).split("+", 1)[0]}
    cfg = validate_config(cfg, capabilities=caps, env_capabilities=env_caps)
    normalize_config(cfg)
    normalize_cfg_datasets(cfg)
    keys = ("sequence_len", "sample_packing", "train_on_inputs", "adapter", "lora_r", "lora_alpha",
            "lora_dropout", "learning_rate", "num_epochs", "micro_batch_size", "gradient_accumulation_steps",
            "attn_implementation", "bf16", "gradient_checkpointing", "save_steps", "save_total_limit",
            "val_set_size", "fsdp_version", "model_config_type", "lora_mlp_kernel", "rl", "rl_beta")
    out = {k: cfg.get(k) for k in keys}
    out["datasets"] = [{"path": d["path"], "type": d.get("type")} for d in cfg.datasets]
    out["fsdp_config"] = dict(cfg.fsdp_config) if cfg.get("fsdp_config") else None
    return json.loads(json.dumps(out, default=str))


def validate_configs(configs: list[Path], base_model: Path | None = None) -> dict:
    """`validate_bundled` for each config (multi-GPU ones as on 4 GPUs); base_model defaults to a
    stub folder holding a Mistral Small 24B config.json. Returns {config path: resolved values, or
    {"error": message} for a config Axolotl rejects}."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        stub = Path(base_model) if base_model else write_config_stub(Path(tmp) / "mistral-24b-config")
        out = {}
        for c in configs:
            raw = yaml.safe_load(Path(c).read_text(encoding="utf-8"))
            n_gpu = 4 if raw.get("fsdp_config") or raw.get("deepspeed") else 1
            try:
                out[str(c)] = validate_bundled(Path(c), stub, n_gpu)
            except Exception as e:  # a rejected config: report it, go on with the others
                out[str(c)] = {"error": f"{type(e).__name__}: {e}"}
        return out


MISTRAL_24B_CONFIG = {  # config.json of a Mistral Small 24B (2501) base, for validation without weights
    "architectures": ["MistralForCausalLM"], "model_type": "mistral", "hidden_size": 5120,
    "intermediate_size": 32768, "num_hidden_layers": 40, "num_attention_heads": 32,
    "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 131072, "max_position_embeddings": 32768,
    "rope_theta": 100000000.0, "rms_norm_eps": 1e-05, "sliding_window": None, "torch_dtype": "bfloat16",
    "bos_token_id": 1, "eos_token_id": 2, "tie_word_embeddings": False,
}


def write_config_stub(dest: Path) -> Path:
    """A folder with only a 24B Mistral config.json: enough for Axolotl's config normalisation."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "config.json").write_text(json.dumps(MISTRAL_24B_CONFIG, indent=1), encoding="utf-8")
    return dest
