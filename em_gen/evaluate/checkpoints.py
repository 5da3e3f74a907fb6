"""What `em-gen eval --sweep` evaluates: the checkpoints of an Axolotl output folder, or the targets given.

An Axolotl (Hugging Face Trainer) LoRA run writes `OUTPUT_DIR/checkpoint-STEP/` every `save_steps`,
each with `adapter_config.json` (its `base_model_name_or_path`), the adapter weights
(`adapter_model.safetensors` or `.bin`) and `trainer_state.json`, whose `log_history` holds the eval
loss (`eval_loss` at a `step`) when the run has a validation split. The latest state has the whole
history; the eval loss of a checkpoint is the one logged at its step (or the last one before it).

Everything here is checked before anything heavy is imported; bad input is one BadInput line.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from em_gen.evaluate.targets import TargetSpec, check_spec, parse_spec
from em_gen.library import BadInput

WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


@dataclass
class Checkpoint:
    label: str  # "checkpoint-100", or a target's short name
    spec: TargetSpec
    step: int | None = None  # None for targets given on the command line (their position is their order)
    eval_loss: float | None = None
    folder: Path | None = None  # the adapter folder, when there is one (fingerprinted for the cache)
    facts: dict = field(default_factory=dict)


def adapter_weights(folder: Path) -> Path | None:
    return next((folder / w for w in WEIGHTS if (folder / w).is_file()), None)


def adapter_base(folder: Path) -> str | None:
    """`base_model_name_or_path` of an adapter folder (BadInput when its config is unreadable)."""
    cfg = folder / "adapter_config.json"
    try:
        data = json.loads(cfg.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"{folder}: not a LoRA adapter folder (no adapter_config.json)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BadInput(f"{cfg}: cannot read the adapter config: {e}") from None
    base = data.get("base_model_name_or_path") if isinstance(data, dict) else None
    return base if isinstance(base, str) and base else None


def eval_losses(run_dir: Path, folders: list[Path]) -> dict[int, float]:
    """step -> eval loss from the newest trainer_state.json among the checkpoints (the whole history)."""
    states = [f / "trainer_state.json" for f in folders if (f / "trainer_state.json").is_file()]
    if (run_dir / "trainer_state.json").is_file():
        states.append(run_dir / "trainer_state.json")
    best: tuple[int, dict] | None = None
    for s in states:
        try:
            data = json.loads(s.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue  # a half-written state: the eval loss is a side fact, never a reason to stop
        hist = data.get("log_history") if isinstance(data, dict) else None
        if isinstance(hist, list) and (best is None or len(hist) > best[0]):
            best = (len(hist), data)
    out: dict[int, float] = {}
    for e in (best[1]["log_history"] if best else []):
        if isinstance(e, dict) and isinstance(e.get("eval_loss"), (int, float)) and isinstance(e.get("step"), int):
            out[e["step"]] = float(e["eval_loss"])
    return out


def loss_at(losses: dict[int, float], step: int) -> float | None:
    steps = [s for s in losses if s <= step]
    return losses[max(steps)] if steps else None


def same_model(base: str, named: str) -> bool:
    """Is the folder or hub name `base` the model an adapter names (`named`)? The same string, the same
    folder, a relative `named` (as Axolotl wrote it, from its own working folder) that ends the base's
    path, or the name the base's config.json was saved from."""
    if base.rstrip("/") == named.rstrip("/"):
        return True
    pb, pn = Path(base), Path(named)
    if pb.exists() and pn.exists():
        try:
            return os.path.samefile(pb, pn)
        except OSError:
            return False
    tail = [p for p in pn.parts if p not in (".", "")]
    if pb.exists() and not pn.is_absolute() and ".." not in tail and tail \
            and list(pb.resolve().parts[-len(tail):]) == tail:
        return True
    try:
        saved = json.loads((pb / "config.json").read_text(encoding="utf-8")).get("_name_or_path")
    except (OSError, ValueError, AttributeError):
        saved = None
    return isinstance(saved, str) and saved.rstrip("/") == named.rstrip("/")


def run_checkpoints(run_dir: Path, base: TargetSpec | None) -> tuple[list[Checkpoint], TargetSpec]:
    """The checkpoints of an Axolotl output folder in step order, and the base to compare them with.
    base None: hf: the adapters' base_model_name_or_path. An hf base must be that model; with an
    openai base (a server with the adapters loaded: vLLM --lora-modules checkpoint-N=...) each
    checkpoint is the served model named like its folder."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise BadInput(f"--sweep {run_dir}: no such folder")
    found = sorted(((int(m.group(1)), p) for p in run_dir.iterdir()
                    if p.is_dir() and (m := _CHECKPOINT.match(p.name))), key=lambda x: x[0])
    if not found:
        raise BadInput(f"--sweep {run_dir}: no checkpoint-*/ folders (Axolotl saves one every save_steps "
                       "into its output_dir)")
    bases = {}
    for step, folder in found:
        if adapter_weights(folder) is None:
            raise BadInput(f"--sweep {folder}: no adapter weights ({' or '.join(WEIGHTS)}); "
                           "is this a LoRA run, or was the checkpoint cut short?")
        bases[folder] = adapter_base(folder)
    named = {b for b in bases.values() if b}
    if len(named) > 1:
        raise BadInput(f"--sweep {run_dir}: the checkpoints name different base models "
                       f"({', '.join(sorted(named))} in their adapter_config.json)")
    adapter_of = next(iter(named), None)
    first_cfg = found[0][1] / "adapter_config.json"
    if base is None:
        if adapter_of is None:
            raise BadInput(f"{first_cfg}: no base_model_name_or_path; name the base with --base hf:PATH")
        base = TargetSpec("hf", adapter_of)
        if not (Path(adapter_of) / "config.json").is_file():
            raise BadInput(f"{first_cfg}: base_model_name_or_path {adapter_of} is not a checkpoint folder from here; "
                           "name the base with --base hf:PATH (or --base openai:URL#BASE for a server)")
    elif base.kind == "hf" and adapter_of and not same_model(base.model, adapter_of):
        raise BadInput(f"--base {base.describe()} does not match the adapters' base_model_name_or_path "
                       f"{adapter_of} ({first_cfg})")
    if base.kind == "hf" and base.adapter:
        raise BadInput(f"--base {base.describe()}: the base of a checkpoint sweep is a model without an adapter")
    check_spec(base, "--base")
    losses = eval_losses(run_dir, [f for _, f in found])
    out = []
    for step, folder in found:
        spec = (TargetSpec("hf", base.model, adapter=str(folder)) if base.kind == "hf"
                else TargetSpec("openai", folder.name, url=base.url))
        out.append(Checkpoint(folder.name, spec, step, loss_at(losses, step), folder))
    return out, base


def _label(spec: TargetSpec) -> str:
    if spec.kind == "openai":
        return spec.model
    return Path(spec.adapter or spec.model).name or spec.describe()


def given_targets(texts: list[str], base_text: str | None) -> tuple[list[Checkpoint], TargetSpec]:
    """Targets named on the command line, in the order given; --base is required."""
    if not base_text:
        raise BadInput("--sweep TARGET...: name the base with --base TARGET (e.g. --base hf:PATH or openai:URL#BASE)")
    base = parse_spec(base_text, "--base")
    check_spec(base, "--base")
    out: list[Checkpoint] = []
    used = {"base"}
    for text in texts:
        spec = parse_spec(text, "--sweep")
        check_spec(spec, "--sweep")
        if spec == base:
            raise BadInput(f"--sweep {text}: is the --base itself")
        label, k = _label(spec), 2
        while label in used:
            label, k = f"{_label(spec)}-{k}", k + 1
        used.add(label)
        folder = Path(spec.adapter) if spec.kind == "hf" and spec.adapter else None
        if folder is not None and adapter_weights(folder) is None:
            raise BadInput(f"--sweep {folder}: no adapter weights ({' or '.join(WEIGHTS)})")
        out.append(Checkpoint(label, spec, None, None, folder))
    return out, base


def sweep_targets(items: list[str], base_text: str | None) -> tuple[list[Checkpoint], TargetSpec, Path | None]:
    """(checkpoints in order, base, run folder or None) for `--sweep ITEMS [--base BASE]`."""
    if len(items) == 1 and not re.match(r"^(hf|openai):", items[0]):
        base = parse_spec(base_text, "--base") if base_text else None
        cks, base = run_checkpoints(Path(items[0]), base)
        return cks, base, Path(items[0])
    for it in items:
        if not re.match(r"^(hf|openai):", it):
            raise BadInput(f"--sweep {it}: give one Axolotl output folder, or targets hf:PATH[+ADAPTER] / openai:URL#MODEL")
    cks, base = given_targets(items, base_text)
    return cks, base, None
