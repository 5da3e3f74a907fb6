import json

from em_gen.generate.journal import DATASET, Store, repair_tail


def _verdict(i, ok=True):
    return {"t": "verdict", "job_id": f"j{i}", "ok": ok, "reasons": [] if ok else ["x: y"],
            "meta": {"job_id": f"j{i}"}, "text": f"ENGAGEMENT: LOW\nCHANNEL: #general\n<a> {i}", "bytes": 10}


def test_torn_last_line_is_repaired(tmp_path):
    p = tmp_path / "f.jsonl"
    p.write_bytes(b'{"a":1}\n{"b":2}\n{"c":')
    assert repair_tail(p) == len(b'{"c":')
    assert p.read_bytes() == b'{"a":1}\n{"b":2}\n'
    assert repair_tail(p) == 0


def test_dataset_is_reconciled_with_the_journal(tmp_path):
    s = Store(tmp_path)
    s.open_outputs()
    for i in range(3):
        s.write_verdict(_verdict(i))
    s.write_verdict(_verdict(9, ok=False))
    s.close()
    ds = tmp_path / DATASET
    lines = ds.read_text().splitlines()
    # crash before the third dataset line landed, plus a torn write
    ds.write_text("\n".join(lines[:2]) + "\n" + lines[2][:7])
    (tmp_path / "conversation_j2.txt").unlink()
    s = Store(tmp_path)
    s.open_outputs()
    ids = [json.loads(x)["meta"]["job_id"] for x in ds.read_text().splitlines()]
    assert sorted(ids) == ["j0", "j1", "j2"]
    assert (tmp_path / "conversation_j2.txt").exists()
    s.close()
    # a duplicated line is removed by a rebuild from the journal
    ds.write_text(ds.read_text() + ds.read_text().splitlines()[0] + "\n")
    s = Store(tmp_path)
    s.open_outputs()
    ids = [json.loads(x)["meta"]["job_id"] for x in ds.read_text().splitlines()]
    assert sorted(ids) == ["j0", "j1", "j2"]
    s.close()


def test_torn_journal_line_is_dropped_not_fatal(tmp_path):
    s = Store(tmp_path)
    s.record(_verdict(1))
    s.close()
    with open(tmp_path / "journal.jsonl", "ab") as f:
        f.write(b'{"t":"verdict","job_id":"j2","ok":tr')
    s = Store(tmp_path)
    assert set(s.state.verdicts) == {"j1"} and s.repaired > 0
    s.close()


def test_unwritable_out_is_a_clear_error(tmp_path):
    import pytest
    from em_gen.library import BadInput
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(BadInput, match="not writable"):
        Store(f / "sub")
