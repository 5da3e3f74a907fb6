#!/usr/bin/env bash
# The project's test command (README "Run the tests"; .ci/run calls exactly this).
# 1. .venv: em-gen with its dev extra (no torch).
# 2. .venv-train: axolotl 0.19.0 beside torch==2.13.0 (CPU), for the smoke-training tests
#    (scripts/setup-train-venv.sh; idempotent, ~2.5 min the first time). Set EM_GEN_SKIP_TRAIN=1 to skip.
# 3. chromium (Debian package), for the report's real-browser test; installed only when missing
#    (CI runs as root with apt; elsewhere the test is skipped).
# 4. ngircd (Debian package), a real IRC server on 127.0.0.1 for em-gen irc's tests; installed only when
#    missing (as root with apt; elsewhere those tests are skipped).
# 5. pytest over tests/ (slow, opt-in tests such as the real-model run are marked `slow`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --disable-pip-version-check -q -e '.[dev,tokens]'
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
        || echo "test.sh: could not install chromium; the report's browser test will be skipped" >&2
fi
if ! command -v ngircd >/dev/null 2>&1 && [ ! -x /usr/sbin/ngircd ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ngircd >/dev/null; } \
        || echo "test.sh: could not install ngircd; the live IRC tests (tests/deploy/test_irc_live.py) will be skipped" >&2
fi
if [ "${EM_GEN_SKIP_TRAIN:-0}" != "1" ]; then
    bash scripts/setup-train-venv.sh
fi
exec .venv/bin/python -m pytest -q -m "not slow" "$@"
