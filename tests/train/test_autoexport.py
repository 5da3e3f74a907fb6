"""Issue 13, part 3: `em-gen --full` (or `--batch`, or `--revalidate`) leaves the files the bundled
Axolotl configs read up to date, written atomically, never from stand-in records."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, read_jsonl, run_cli
from helpers_records import make_records, write_dataset

from em_gen.train import export as ex
from em_gen.train.autoexport import refresh

CONFIG_FILES = ("em_completion.jsonl", "em_em.jsonl", "em_turns.jsonl", "heldout.jsonl")


# axolotl/em-small.yaml reads what benchmarks/bench_small_model.py exports (stand-in logs plus the realistic
# corpus for the 270M CPU loop), never a run's refresh
BENCHMARK_CONFIGS = {"em-small.yaml"}


def _bundled_paths(rl: bool = False) -> set[str]:
    """Every data file the bundled SFT configs read (the DPO config's with rl=True: em-gen --pairs
    writes it, with paid requests, never a run's refresh), and the held-out file their comments name."""
    paths = set()
    for cfg in (ROOT / "axolotl").glob("*.yaml"):
        if cfg.name in BENCHMARK_CONFIGS:
            continue
        data = yaml.safe_load(cfg.read_text())
        if bool(data.get("rl")) == rl:
            paths |= {d["path"] for d in data["datasets"]}
    return paths if rl else paths | {"em_character_data/export/heldout.jsonl"}


def test_the_refreshed_files_are_the_ones_the_configs_read():
    assert _bundled_paths() == {f"em_character_data/export/{n}" for n in CONFIG_FILES}
    from em_gen.train.pair_run import DPO_FILE
    assert _bundled_paths(rl=True) == {f"em_character_data/export/{DPO_FILE}"}
    bench = (ROOT / "benchmarks" / "bench_small_model.py").read_text()
    for name in BENCHMARK_CONFIGS:  # left out above because the benchmark writes their data
        for d in yaml.safe_load((ROOT / "axolotl" / name).read_text())["datasets"]:
            assert d["path"].startswith("em_character_data/small/") and Path(d["path"]).name in bench


def test_refresh_writes_what_export_writes(tmp_path):
    write_dataset(tmp_path / "em_character_training.jsonl", make_records(60))
    rep = refresh(tmp_path)
    assert rep["train"] + rep["heldout"] == 60 and rep["heldout"] > 0 and rep["offline"] == 0
    for fmt in ex.FORMATS:
        mine = (tmp_path / "export" / f"em_{fmt}.jsonl").read_bytes()
        manual = ex.export_dataset(tmp_path / "em_character_training.jsonl", out_dir=tmp_path / "manual", fmt=fmt)
        assert mine == (tmp_path / "manual" / f"em_{fmt}.jsonl").read_bytes()
        assert (tmp_path / "export" / "heldout.jsonl").read_bytes() == \
            (tmp_path / "manual" / "heldout.jsonl").read_bytes()
        assert manual["train"] == rep["train"]
    assert sorted(os.listdir(tmp_path / "export")) == sorted([*CONFIG_FILES, "split.json"])  # no temp file left


def test_refresh_replaces_each_file_whole(tmp_path):
    write_dataset(tmp_path / "em_character_training.jsonl", make_records(20))
    refresh(tmp_path)
    path = tmp_path / "export" / "em_completion.jsonl"
    with open(path, "rb") as reader:  # a reader of the old file (Axolotl mid-read) keeps it whole
        old = path.read_bytes()
        write_dataset(tmp_path / "em_character_training.jsonl", make_records(40))
        refresh(tmp_path)
        assert reader.read() == old
    assert len(path.read_bytes().splitlines()) > len(old.splitlines())
    assert (path.stat().st_mode & 0o777) == (tmp_path / "em_character_training.jsonl").stat().st_mode & 0o777


def test_stand_in_records_are_never_exported(tmp_path):
    recs = make_records(30)
    for r in recs[::2]:
        r["meta"]["provider"] = "offline"
    write_dataset(tmp_path / "em_character_training.jsonl", recs)
    rep = refresh(tmp_path)
    assert rep["offline"] == 15
    rows = [json.loads(x) for n in CONFIG_FILES for x in (tmp_path / "export" / n).read_text().splitlines()]
    texts = {r["text"] for r in recs[::2]}
    assert rows and not any(ex.sample_text(r) in texts for r in rows)
    # only stand-in records: nothing is written, and what is there is left alone
    only = tmp_path / "only"
    write_dataset(only / "em_character_training.jsonl", make_records(10, provider="offline"))
    assert "skipped" in refresh(only) and not (only / "export").exists()


def test_batch_and_revalidate_keep_the_exports_up_to_date(tmp_path, server):
    env = {"OPENAI_API_KEY": "x", "OPENAI_BASE_URL": server.base_url + "/v1"}
    out = tmp_path / "d"
    r = run_cli("--batch", "12", "--provider", "openai", "--out", str(out), "--no-progress", env=env)
    assert r.returncode == 0, r.stderr
    assert "export/" in r.stderr

    def exported_ids():
        held = {d["meta"]["job_id"] for d in read_jsonl(out / "export" / "heldout.jsonl")}
        n = {f: len(read_jsonl(out / "export" / f"em_{f}.jsonl")) for f in ex.FORMATS}
        assert len(set(n.values())) == 1
        return n["completion"], held

    data = read_jsonl(out / "em_character_training.jsonl")
    n, held = exported_ids()
    assert n + len(held) == len(data) > 0
    # a second batch: the exports follow
    assert run_cli("--batch", "6", "--provider", "openai", "--out", str(out), "--no-progress", env=env).returncode == 0
    data = read_jsonl(out / "em_character_training.jsonl")
    n, held = exported_ids()
    assert n + len(held) == len(data)
    # --revalidate rebuilds the dataset: the exports follow it too
    shutil.rmtree(out / "export")
    r = run_cli("--revalidate", "--out", str(out), env=env)
    assert r.returncode == 0, r.stderr
    n, held = exported_ids()
    assert n + len(held) == len(read_jsonl(out / "em_character_training.jsonl"))


def test_full_run_alone_gives_axolotl_its_data(tmp_path, server):
    """`em-gen --full` from the repo layout: the paths in axolotl/*.yaml exist right after it."""
    env = {"OPENAI_API_KEY": "x", "OPENAI_BASE_URL": server.base_url + "/v1"}
    r = run_cli("--full", "--target-mb", "0.01", "--provider", "openai", "--no-progress", env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    for rel in _bundled_paths():  # (the held-out split of a tiny run may be empty)
        assert (tmp_path / rel).is_file() and ((tmp_path / rel).stat().st_size > 0 or "heldout" in rel), rel
    rows = read_jsonl(tmp_path / "em_character_data" / "export" / "em_completion.jsonl")
    assert rows and all(set(r) == {"text"} and r["text"].startswith("ENGAGEMENT: ") for r in rows)


def test_an_offline_run_writes_no_export(tmp_path):
    out = tmp_path / "d"
    r = run_cli("--batch", "3", "--out", str(out), "--no-progress")
    assert r.returncode == 0, r.stderr
    assert not (out / "export").exists() and "stand-in" in r.stderr


@pytest.mark.parametrize("fmt", ex.FORMATS)
def test_manual_export_still_matches(tmp_path, fmt):
    """`em-gen --export FMT` after a run rewrites the same bytes the run left."""
    write_dataset(tmp_path / "em_character_training.jsonl", make_records(25))
    refresh(tmp_path)
    before = (tmp_path / "export" / f"em_{fmt}.jsonl").read_bytes()
    ex.export_dataset(tmp_path / "em_character_training.jsonl", fmt=fmt)
    assert (tmp_path / "export" / f"em_{fmt}.jsonl").read_bytes() == before
