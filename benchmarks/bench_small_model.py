"""Close the loop on a real model: Gemma 3 270M (base), LoRA-trained on em-gen data with Axolotl, then
`em-gen eval --compare` base vs tuned. Does the data move a real model toward Em's participation bands?

    .venv/bin/python benchmarks/bench_small_model.py                   # CPU: a quarter of the data, ~45 min
    .venv/bin/python benchmarks/bench_small_model.py --device cuda     # a GPU box: all of it, minutes
    .venv/bin/python benchmarks/bench_small_model.py --fraction 1      # CPU, all of it (~70 min of training)

Steps (each reuses what an earlier run left when its inputs are the same):
1. the model: scripts/small-model.sh (--setup makes .venv-small) -> models/gemma-3-270m/
2. the data: `em-gen --full --target-mb 1 --allow-offline` (composed stand-in logs whose Em share follows
   the engagement bands exactly) -> `--export completion --holdout H` (the held-out split is never
   trained on) + the realistic corpus's good logs (tests/quality/realistic/, comment lines dropped)
   -> em_character_data/small/export/em_small_train.jsonl
3. training: axolotl/em-small.yaml for one epoch in .venv-train (scripts/setup-train-venv.sh), with
   --fraction of the export (default: 0.25 on a CPU, where one 2048-token row takes ~45 s on 2 cores;
   all on cuda) and the --device's precision; the adapter goes to outputs/em-small-lora/
4. eval: `em-gen eval --compare hf:BASE hf:BASE+LORA --next-speaker probability` on the held-out split
   (who speaks next from the model's probabilities at every line of every held-out log; Em's forced
   lines sampled for clean_boundaries) and scenarios/probes.yaml (--limit of them, sampled)
5. the table: per engagement level, participation against the band, em_next_when_due,
   em_next_when_not_due and clean_boundaries for base and tuned, each with its 95% CI, and tuned - base
   with its paired-bootstrap CI; whether participation moved toward the band.

Writes benchmarks/results/small_model.json (settings, timings, load average, training losses, the
table) beside the eval report (small_model_eval.json + .samples.jsonl); --commit commits the three.
Run the long steps niced on a shared machine (`nice -n 19`). Exit 0 done, 1 a step failed, 2 bad usage.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from em_gen.train.axolotl_env import train_env  # noqa: E402
from em_gen.train.export import output_name, unit_hash  # noqa: E402

MODEL = ROOT / "models" / "gemma-3-270m"
DATA = ROOT / "em_character_data" / "small"
EXPORT = DATA / "export"
TRAIN_FILE = EXPORT / "em_small_train.jsonl"
CONFIG = ROOT / "axolotl" / "em-small.yaml"
LORA = ROOT / "outputs" / "em-small-lora"
WORK = ROOT / "outputs" / "em-small-bench"
REALISTIC = ROOT / "tests" / "quality" / "realistic"
RESULTS = ROOT / "benchmarks" / "results"
TRAIN_PY = ROOT / ".venv-train" / "bin" / "python"
EM_GEN = [sys.executable, "-m", "em_gen.cli"]
METRICS = ("participation", "em_next_when_due", "em_next_when_not_due", "clean_boundaries")
# Axolotl's final save calls peft's save_pretrained, which writes a model card from huggingface_hub's
# template before the adapter weights; a venv whose huggingface_hub lacks templates/ (seen in this
# project's shared .venv-train) then loses the whole run at the very end. The card is not needed.
NO_MODEL_CARD = """
import runpy, sys
import peft
peft.PeftModel.create_or_update_model_card = lambda self, output_dir: None
sys.argv = ["em_gen.train.smoke", *sys.argv[1:]]
runpy.run_module("em_gen.train.smoke", run_name="__main__")
"""
# what --device cuda changes over the CPU recipe in em-small.yaml
CUDA_OVERRIDES = {"bf16": "auto", "optimizer": "adamw_torch_fused", "attn_implementation": "sdpa"}


def say(msg: str) -> None:
    print(f"[bench-small {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run(cmd: list[str], log: Path | None = None, env: dict | None = None, cwd: Path = ROOT) -> str:
    """Run a step; its output goes to `log` (and is returned); exit 1 with the log's tail on failure."""
    say("$ " + " ".join(str(c) for c in cmd))
    log = log or WORK / "step.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w", encoding="utf-8") as f:  # written as it runs: `tail -f` the log to follow a step
        proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, stdout=f, stderr=subprocess.STDOUT, text=True)
    proc.stdout = log.read_text(encoding="utf-8", errors="replace")
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.strip().splitlines()[-25:])
        print(tail, file=sys.stderr)
        sys.exit(f"bench-small: step failed (exit {proc.returncode}): {' '.join(map(str, cmd[:4]))} ..."
                 + f"; log: {log}")
    return proc.stdout


# ------------------------------------------------------------------------------------------------ steps


def ensure_model() -> None:
    check = subprocess.run(["bash", str(ROOT / "scripts" / "small-model.sh"), "--check"], capture_output=True, text=True)
    if check.returncode == 0:
        return
    if not (ROOT / ".venv-small" / "bin" / "python").exists():
        run(["bash", ROOT / "scripts" / "small-model.sh", "--setup"])
    run(["bash", ROOT / "scripts" / "small-model.sh"])


def ensure_train_venv() -> None:
    if not TRAIN_PY.exists():
        run(["bash", ROOT / "scripts" / "setup-train-venv.sh"])


def realistic_good(seed: int = 0) -> list[dict]:
    """The realistic corpus's good logs as completion rows (the `# label:` comment lines dropped), in a
    seed-stable shuffled order, so that a --fraction of them mixes every writer."""
    rows = []
    files = sorted(REALISTIC.glob("w*/*.txt"), key=lambda f: unit_hash(f"small{seed}", f"{f.parent.name}/{f.name}"))
    for f in files:
        lines = f.read_text(encoding="utf-8").splitlines()
        if "# label: good" not in lines[:3]:
            continue
        text = "\n".join(ln for ln in lines if not ln.startswith("# ")).strip()
        rows.append({"text": text})
    return rows


def build_data(args) -> dict:
    dataset = DATA / "em_character_training.jsonl"
    if not dataset.exists():
        run([*EM_GEN, "--full", "--target-mb", "1", "--allow-offline", "--seed", str(args.seed), "--out", DATA],
            log=WORK / "generate.log")
    out = run([*EM_GEN, "--export", "completion", "--allow-offline", "--holdout", str(args.holdout),
               "--fraction", str(args.fraction), "--seed", str(args.seed), "--base-model", MODEL, "--out", DATA],
              log=WORK / "export.log")
    export = EXPORT / output_name("completion", args.fraction)
    rows = [json.loads(line) for line in export.read_text(encoding="utf-8").splitlines() if line.strip()]
    good = realistic_good(args.seed)
    good = good[: round(len(good) * args.fraction)] if args.fraction < 1 else good  # --fraction of these too
    TRAIN_FILE.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows + good), encoding="utf-8")
    held = sum(1 for line in (EXPORT / "heldout.jsonl").read_text(encoding="utf-8").splitlines() if line.strip())
    say(f"data: {len(rows)} export rows + {len(good)} realistic good logs -> {TRAIN_FILE} "
        f"({TRAIN_FILE.stat().st_size / 1e6:.2f} MB); {held} held out")
    return {"export_rows": len(rows), "realistic_good": len(good), "train_bytes": TRAIN_FILE.stat().st_size,
            "heldout_conversations": held, "export_log": out.strip().splitlines()}


def train(args) -> dict:
    cfg = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    cfg["base_model"] = str(MODEL)
    cfg["datasets"][0]["path"] = str(TRAIN_FILE)
    cfg["dataset_prepared_path"] = str(WORK / "prepared")
    cfg["output_dir"] = str(LORA)
    if args.device == "cuda":
        cfg.update(CUDA_OVERRIDES)
    WORK.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(WORK / "prepared", ignore_errors=True)  # the data may have changed: tokenize it again
    shutil.rmtree(LORA, ignore_errors=True)
    path = WORK / "em-small.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    env = train_env({} if args.device == "cuda" else {"CUDA_VISIBLE_DEVICES": ""})
    env["PYTHONPATH"] = str(ROOT)
    # preprocess + train in one process (one import of Axolotl); no label check: completion labels all
    t1 = time.monotonic()
    log = run([TRAIN_PY, "-c", NO_MODEL_CARD, "pipeline", path, WORK / "prepared", TRAIN_FILE, MODEL, "-",
               WORK / "labels.json"], log=WORK / "train.log", env=env)
    t2 = time.monotonic()
    if not (LORA / "adapter_config.json").exists():
        sys.exit(f"bench-small: training wrote no adapter to {LORA}; log: {WORK / 'train.log'}")
    out = {"config": str(path.relative_to(ROOT)), "seconds": round(t2 - t1, 1), **train_log(log)}
    say(f"trained in {out['seconds']:.0f} s: {out['steps']} steps, losses {out['losses']}")
    return out


def train_log(log: str) -> dict:
    """Losses and runtime from the trainer's log lines ({'loss': ..., 'train_runtime': ...})."""
    losses = [float(x) for x in re.findall(r"'loss': '?([0-9.]+)", log)]
    runtime = re.findall(r"'train_runtime': '?([0-9.]+)", log)
    return {"losses": losses, "steps": len(losses), "train_runtime": float(runtime[-1]) if runtime else None}


def evaluate(args) -> tuple[Path, dict]:
    out = RESULTS / "small_model_eval.json"
    env = train_env({"PYTHONPATH": str(ROOT)})
    cmd = [TRAIN_PY, "-m", "em_gen.cli", "eval", "--compare", f"hf:{MODEL.relative_to(ROOT)}",
           f"hf:{MODEL.relative_to(ROOT)}+{LORA.relative_to(ROOT)}", "--heldout", EXPORT.relative_to(ROOT) / "heldout.jsonl",
           "--next-speaker", args.next_speaker,
           "--max-heldout", str(args.max_heldout), "--samples", str(args.samples), "--turns", str(args.turns),
           "--line-tokens", str(args.line_tokens),
           "--context", str(args.context), "--batch-size", str(args.batch_size), "--device", args.device,
           "--seed", str(args.seed), "--out", out.relative_to(ROOT), "--no-progress"]
    if args.limit:
        cmd += ["--limit", str(args.limit)]
    t0 = time.monotonic()
    run(cmd, log=WORK / "eval.log", env=env)
    return out, {"eval_seconds": round(time.monotonic() - t0, 1), "command": " ".join(map(str, cmd[1:]))}


# ------------------------------------------------------------------------------------------------ table


def toward_band(base: dict, diff: dict, band: list[float]) -> str:
    """Did tuned participation move toward the band, judged by the paired CI of tuned - base?"""
    if base.get("mean") is None or not diff or diff.get("mean") is None:
        return "no data"
    lo, hi = band
    want = 1 if base["mean"] < lo else (-1 if base["mean"] > hi else 0)
    d, (clo, chi) = diff["mean"], diff["ci"]
    if want == 0:
        return "base already in band" + ("; tuned moved (CI excludes 0)" if diff["significant"] else "")
    if (want > 0 and clo > 0) or (want < 0 and chi < 0):
        return "toward the band (CI excludes 0)"
    if (want > 0 and chi < 0) or (want < 0 and clo > 0):
        return "away from the band (CI excludes 0)"
    return f"no clear move ({'toward' if d * want > 0 else 'away'}, CI includes 0)"


def heldout_share(report: dict, samples: Path) -> dict[str, float]:
    """Per level, Em's real share of the held-out lines the probabilities were read at (the mean over
    conversations, as participation): what a model that had learned the data exactly would score."""
    level = {p["id"]: p["engagement"] for p in report["probes"]}
    per: dict[str, list[float]] = {}
    for line in samples.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row.get("target") == "base" and row.get("kind") == "speakers" and row.get("lines"):
            per.setdefault(level[row["probe"]], []).append(
                sum(r["em_due"] for r in row["lines"]) / len(row["lines"]))
    return {lv: round(sum(v) / len(v), 4) for lv, v in per.items()}


def _cell(stat: dict | None, signed: bool = False) -> str:
    if not stat or stat.get("mean") is None:
        return "-"
    f = "+.2f" if signed else ".2f"
    return f"{stat['mean']:{f}} [{stat['ci'][0]:{f}}, {stat['ci'][1]:{f}}]"


def table(report: dict, data_share: dict[str, float] | None = None) -> tuple[dict, str]:
    base, tuned = report["targets"]["base"]["metrics"], report["targets"]["tuned"]["metrics"]
    data_share = data_share or {}
    comp = report.get("compare", {})
    out: dict = {}
    lines = [f"{'level':<7} {'metric':<21} {'base':<22} {'tuned':<22} {'tuned - base':<24} band / n"]
    for lv in report["levels"]:
        out[lv] = {}
        for m in METRICS:
            b = base.get(m, {}).get("by_engagement", {}).get(lv)
            t = tuned.get(m, {}).get("by_engagement", {}).get(lv)
            d = comp.get(m, {}).get("by_engagement", {}).get(lv)
            row = {"base": b, "tuned": t, "difference": d}
            extra = f"n={d['n']}" if d else ""
            if m == "participation" and b:
                row["band"] = b["band"]
                row["moved"] = toward_band(b, d, b["band"])
                extra = f"{b['band'][0]:.0%}-{b['band'][1]:.0%}: {row['moved']}; n={d['n'] if d else 0}"
                if lv in data_share:
                    row["heldout_share"] = data_share[lv]
                    extra += f"; held-out logs' own share {data_share[lv]:.2f}"
            out[lv][m] = row
            star = "*" if d and d.get("significant") else " "
            lines.append(f"{lv:<7} {m:<21} {_cell(b):<22} {_cell(t):<22} {_cell(d, True) + star:<24} {extra}")
    return out, "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--fraction", type=float, default=None,
                   help="share of the export and of the realistic good logs to train on (default: 0.25 on cpu, 1 on cuda)")
    p.add_argument("--holdout", type=float, default=0.2, help="share of conversations held out for eval (default: 0.2)")
    p.add_argument("--max-heldout", type=int, default=60, help="held-out conversations to cut (default: 60)")
    p.add_argument("--limit", type=int, default=24, help="at most N hand-written probes (default: 24)")
    p.add_argument("--samples", type=int, default=2, help="continuations per sampled probe (default: 2)")
    p.add_argument("--turns", type=int, default=3, help="lines written per sampled probe (default: 3)")
    p.add_argument("--line-tokens", type=int, default=32, help="token budget per line (default: 32)")
    p.add_argument("--next-speaker", choices=["probability", "sample"], default="probability",
                   help="how eval reads who speaks next on the held-out split (default: probability)")
    p.add_argument("--context", type=int, default=24, help="messages of context per probe (default: 24)")
    p.add_argument("--batch-size", type=int, default=16, help="rows per generate call (default: 16)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--skip-train", action="store_true", help="reuse the adapter in outputs/em-small-lora/")
    p.add_argument("--commit", action="store_true", help="git commit the results when done")
    args = p.parse_args(argv)
    if args.fraction is None:
        args.fraction = 1.0 if args.device == "cuda" else 0.25
    if not 0 < args.fraction <= 1 or not 0 < args.holdout < 1:
        p.error("--fraction must be in (0, 1] and --holdout in (0, 1)")
    load0, t0 = os.getloadavg(), time.monotonic()
    ensure_model()
    ensure_train_venv()
    data = build_data(args)
    if args.skip_train and (LORA / "adapter_config.json").exists():  # the adapter an earlier run trained
        log = WORK / "train.log"
        training = {"reused": str(LORA.relative_to(ROOT)),
                    **train_log(log.read_text(encoding="utf-8", errors="replace") if log.exists() else "")}
    else:
        training = train(args)
    eval_path, ev = evaluate(args)
    report = json.loads(eval_path.read_text(encoding="utf-8"))
    samples = ROOT / report["samples_file"]
    per_level, text = table(report, heldout_share(report, samples) if args.next_speaker == "probability" else None)
    print(text)
    summary = {
        "benchmark": "bench_small_model", "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "model": json.loads((MODEL / "em-gen-source.json").read_text(encoding="utf-8")),
        "device": args.device, "cpus": os.cpu_count(), "loadavg_start": load0, "loadavg_end": os.getloadavg(),
        "settings": vars(args), "data": data, "training": training,
        "eval": {**ev, "report": str(eval_path.relative_to(ROOT)), "settings": report["settings"],
                 "generation_seconds": {k: v["generation_seconds"] for k, v in report["targets"].items()},
                 "next_speaker": {k: v.get("next_speaker") for k, v in report["targets"].items()}},
        "per_level": per_level, "table": text.splitlines(), "total_seconds": round(time.monotonic() - t0, 1),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "small_model.json"
    path.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    say(f"results: {path} ({summary['total_seconds']:.0f} s in all)")
    if args.commit:
        files = [path, eval_path, samples]
        subprocess.run(["git", "add", *map(str, files)], cwd=ROOT, check=True)
        subprocess.run(["git", "commit", "-m", f"bench_small_model: results ({args.device}, fraction {args.fraction:g}, "
                        f"{args.samples} samples)", "--", *map(str, files)], cwd=ROOT, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
