#!/usr/bin/env bash
# Create .venv-train: the virtual environment that runs Axolotl (smoke training, config validation,
# tests/train/test_smoke_train.py). Idempotent: a venv that already has the pinned versions is left alone.
#
#   bash scripts/setup-train-venv.sh            # create or check ./.venv-train
#   VENV=/path/to/venv bash scripts/setup-train-venv.sh
#
# Order matters: torch==2.13.0 goes in FIRST. On these machines that exact version is a CPU wheel
# on local disk; any other torch spec (or letting axolotl pull torch in) downloads several GB of
# CUDA wheels. With 2.13.0 present, axolotl's own torch requirement is already satisfied.
# On a GPU box, install the CUDA torch of your choice first and then run this script with
# TORCH_SPEC set to it (e.g. TORCH_SPEC='torch==2.8.0'), or skip torch with TORCH_SPEC=''.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv-train}"
PYTHON="${PYTHON:-python3}"
TORCH_SPEC="${TORCH_SPEC-torch==2.13.0}"
AXOLOTL_VERSION="0.19.0"

want_torch="${TORCH_SPEC#torch==}"

installed_version() {  # installed_version DIST -> version or empty
    "$VENV/bin/python" - "$1" <<'EOF' 2>/dev/null || true
import sys
from importlib import metadata
try:
    print(metadata.version(sys.argv[1]))
except metadata.PackageNotFoundError:
    pass
EOF
}

ready() {
    [ -x "$VENV/bin/python" ] || return 1
    [ "$(installed_version axolotl)" = "$AXOLOTL_VERSION" ] || return 1
    [ -n "$(installed_version mistral-common)" ] || return 1
    # sentencepiece 0.2.3 breaks tokenizer conversion against the protobuf the stack resolves
    case "$(installed_version sentencepiece)" in 0.2.0|0.2.1|0.2.2) ;; *) return 1 ;; esac
    [ "$(installed_version em-gen)" != "" ] || return 1
    if [ -n "$TORCH_SPEC" ] && [ "$want_torch" != "$TORCH_SPEC" ]; then
        case "$(installed_version torch)" in "$want_torch"|"$want_torch"+*) ;; *) return 1 ;; esac
    fi
    return 0
}

if ready; then
    echo "setup-train-venv: $VENV already has axolotl $AXOLOTL_VERSION and torch $(installed_version torch); nothing to do"
    exit 0
fi

start=$(date +%s)
if [ ! -x "$VENV/bin/python" ]; then
    echo "setup-train-venv: creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi
pip() { "$VENV/bin/python" -m pip --disable-pip-version-check "$@"; }

if [ -n "$TORCH_SPEC" ]; then
    echo "setup-train-venv: installing $TORCH_SPEC first"
    pip install "$TORCH_SPEC"
fi
echo "setup-train-venv: installing em-gen[train] (axolotl $AXOLOTL_VERSION)"
pip install -e "$ROOT[train]"

if ! ready; then
    echo "setup-train-venv: install finished but the versions are not the pinned ones" >&2
    exit 1
fi
end=$(date +%s)
echo "setup-train-venv: done in $((end - start)) s; $(du -sh "$VENV" | cut -f1) in $VENV"
