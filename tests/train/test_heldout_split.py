"""The held-out split is decided once per dataset (#19 item 5): a changed --holdout would leave training
conversations in the held-out file eval scores on."""
from __future__ import annotations

import json

from conftest import read_jsonl
from em_gen.cli import main
from helpers_records import make_records, write_dataset


def _ids(path):
    return {r["meta"]["job_id"] for r in read_jsonl(path)}


def test_another_holdout_is_refused_and_forced_rewrites_every_export(tmp_path, capsys):
    out = tmp_path / "d"
    write_dataset(out / "em_character_training.jsonl", make_records(200))
    args = ["--out", str(out), "--allow-offline"]
    assert main(["--export", "completion", *args]) == 0
    assert json.loads((out / "export" / "split.json").read_text()) == {"holdout": 0.05}
    held = _ids(out / "export" / "heldout.jsonl")
    assert main(["--export", "turns", "--fraction", "0.5", *args]) == 0
    assert _ids(out / "export" / "heldout.jsonl") == held  # every format and fraction: one split
    capsys.readouterr()
    assert main(["--export", "em", "--holdout", "0.4", *args]) == 2
    err = capsys.readouterr().err
    assert "--holdout 0.4" in err and "0.05" in err and "--force" in err and len(err.strip().splitlines()) == 1
    assert _ids(out / "export" / "heldout.jsonl") == held  # the refusal changed nothing
    assert main(["--export", "em", "--holdout", "0.4", "--force", *args]) == 0
    new_held = _ids(out / "export" / "heldout.jsonl")
    assert len(new_held) > len(held)
    assert not (out / "export" / "em_turns_50pct.jsonl").exists()  # cut from the old split: removed
    for f in ("em_completion.jsonl", "em_em.jsonl", "em_turns.jsonl"):  # all rewritten from the new split
        assert len(read_jsonl(out / "export" / f)) == 200 - len(new_held), f


def test_a_first_export_with_a_holdout_records_it(tmp_path):
    out = tmp_path / "d"
    write_dataset(out / "em_character_training.jsonl", make_records(100))
    assert main(["--export", "em", "--holdout", "0.2", "--out", str(out), "--allow-offline"]) == 0
    assert json.loads((out / "export" / "split.json").read_text()) == {"holdout": 0.2}
    assert main(["--export", "turns", "--out", str(out), "--allow-offline"]) == 0  # no flag: the recorded share
    assert json.loads((out / "export" / "split.json").read_text()) == {"holdout": 0.2}
