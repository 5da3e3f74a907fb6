"""Export formats, loss masks, ablation subsets, the held-out split, token lengths, bundled configs.

Runs in the base venv (no torch, no axolotl); the token-length tests need the `tokens` extra
(mistral-common) and skip without it. tests/train/test_smoke_train.py checks the same masks again on what
Axolotl really tokenizes.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from em_gen.train import export as ex
from em_gen.train import tokens
from em_gen.quality.irc import render
from em_gen.library import ROOT, BadInput
from helpers_records import EDGE_LOGS, make_records, write_dataset

FORMATS = ex.FORMATS


def texts_of(path: Path) -> list[str]:
    return [ex.sample_text(json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def dataset(tmp_path):
    return write_dataset(tmp_path / "em_character_training.jsonl", make_records(400))


# ---- lossless split ----------------------------------------------------------------------------


@pytest.mark.parametrize("rec", make_records(30), ids=lambda r: r["meta"]["job_id"])
def test_split_log_is_lossless(rec):
    header, msgs = ex.split_log(rec["text"])
    assert header + "".join(m.text for m in msgs) == rec["text"]
    assert header.startswith("ENGAGEMENT: ") and "\nCHANNEL: " in header and header.endswith("\n")
    assert all(m.tag == f"<{m.nick}>" for m in msgs)


def test_split_log_keeps_continuations_and_empty_messages():
    text = render(*EDGE_LOGS[1])
    _, msgs = ex.split_log(text)
    assert [m.nick for m in msgs] == ["Em", "jvk", "Em", "tanuki_"]
    assert msgs[1].body == " which noise\nthe grinding one or the screaming one\n"
    _, msgs = ex.split_log(render(*EDGE_LOGS[2]))
    assert msgs[1].nick == "quietriot" and msgs[1].body == " \n"


# ---- the three formats -------------------------------------------------------------------------

SMALL = render("LOW", "#general", [("kestrel", "anyone around?"), ("Em", "yeah, lurking"),
                                   ("mossbyte", "same"), ("Em", "welcome back")])


def test_completion_format():
    assert ex.to_completion({"text": SMALL}) == {"text": SMALL}
    # an older export with a literal EOS at the end loses it: Axolotl appends the EOS itself
    assert ex.to_completion({"text": SMALL + "</s>"}) == {"text": SMALL}


def test_em_format_labels_only_em_lines():
    segs = ex.to_em({"text": SMALL})["segments"]
    assert segs == [
        {"label": False, "text": "<s>"},
        {"label": False, "text": "ENGAGEMENT: LOW\nCHANNEL: #general\n<kestrel> anyone around?\n"},
        {"label": True, "text": "<Em> yeah, lurking\n"},
        {"label": False, "text": "<mossbyte> same\n"},
        {"label": True, "text": "<Em> welcome back"},
        {"label": True, "text": "</s>"},
    ]


def test_turns_format_labels_tags_and_em_text():
    segs = ex.to_turns({"text": SMALL})["segments"]
    assert segs == [
        {"label": False, "text": "<s>"},
        {"label": False, "text": "ENGAGEMENT: LOW\nCHANNEL: #general\n"},
        {"label": True, "text": "<kestrel>"},
        {"label": False, "text": " anyone around?\n"},
        {"label": True, "text": "<Em> yeah, lurking\n<mossbyte>"},
        {"label": False, "text": " same\n"},
        {"label": True, "text": "<Em> welcome back"},
        {"label": True, "text": "</s>"},
    ]


@pytest.mark.parametrize("fmt", ["em", "turns"])
@pytest.mark.parametrize("rec", make_records(12), ids=lambda r: r["meta"]["job_id"])
def test_segments_rebuild_the_text_with_one_bos_and_one_eos(rec, fmt):
    segs = ex.transform(rec, fmt)["segments"]
    joined = "".join(s["text"] for s in segs)
    assert joined == "<s>" + rec["text"] + "</s>"
    assert joined.count("<s>") == 1 and joined.count("</s>") == 1
    assert segs[0] == {"label": False, "text": "<s>"} and segs[-1] == {"label": True, "text": "</s>"}
    # adjacent segments never share a label (canonical form) and none is empty
    assert all(a["label"] != b["label"] for a, b in zip(segs[1:-2], segs[2:-1]))
    assert all(s["text"] for s in segs)


@pytest.mark.parametrize("rec", make_records(12), ids=lambda r: r["meta"]["job_id"])
def test_em_labels_exactly_em_lines(rec):
    _, msgs = ex.split_log(rec["text"])
    labelled = "".join(s["text"] for s in ex.to_em(rec)["segments"] if s["label"])
    assert labelled == "".join(m.text for m in msgs if m.nick == "Em") + "</s>"


@pytest.mark.parametrize("rec", make_records(12), ids=lambda r: r["meta"]["job_id"])
def test_turns_labels_exactly_tags_and_em_text(rec):
    _, msgs = ex.split_log(rec["text"])
    labelled = "".join(s["text"] for s in ex.to_turns(rec)["segments"] if s["label"])
    assert labelled == "".join(m.tag + (m.body if m.nick == "Em" else "") for m in msgs) + "</s>"


def test_nick_containing_em_is_not_em():
    segs = ex.to_em({"text": render(*EDGE_LOGS[3])})["segments"]
    assert not any(s["label"] and "<Emma>" in s["text"] for s in segs)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("rec", make_records(10), ids=lambda r: r["meta"]["job_id"])
def test_transforms_are_idempotent_and_convertible(rec, fmt):
    once = ex.transform(rec, fmt)
    assert ex.transform(once, fmt) == once
    for other in FORMATS:  # any exported sample converts to any format, losslessly
        assert ex.transform(ex.transform(once, other), fmt) == once


def test_special_tokens_inside_the_log_are_refused():
    with pytest.raises(BadInput, match="special token"):
        ex.to_em({"text": render("LOW", "#general", [("kestrel", "a </s> b")])})


def test_custom_special_tokens_from_a_model_folder(tmp_path):
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"bos_token": "<|bos|>", "eos_token": {"content": "<|eos|>"}}))
    special = ex.special_tokens_of(tmp_path)
    assert special == ex.Special("<|bos|>", "<|eos|>")
    segs = ex.to_em({"text": SMALL}, special)["segments"]
    assert segs[0]["text"] == "<|bos|>" and segs[-1]["text"] == "<|eos|>"
    assert ex.special_tokens_of(None) == ex.Special("<s>", "</s>")
    with pytest.raises(BadInput):
        ex.special_tokens_of(tmp_path / "missing")


# ---- files, subsets and the held-out split ---------------------------------------------------


def test_output_names():
    assert ex.output_name("completion") == "em_completion.jsonl"
    assert ex.output_name("turns", 0.25) == "em_turns_25pct.jsonl"
    assert ex.output_name("em", 0.125) == "em_em_12.5pct.jsonl"
    with pytest.raises(BadInput):
        ex.output_name("chatml")


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_writes_files_and_report(dataset, fmt):
    rep = ex.export_dataset(dataset, fmt=fmt)
    out = dataset.parent / "export"
    assert rep["path"] == str(out / f"em_{fmt}.jsonl") and rep["heldout_path"] == str(out / "heldout.jsonl")
    assert rep["records"] == 400 and rep["train"] + rep["heldout"] == 400
    assert 0 < rep["heldout"] < 40  # ~5%
    rows = [json.loads(line) for line in Path(rep["path"]).read_text().splitlines()]
    assert len(rows) == rep["train"]
    assert all(set(r) == ({"text"} if fmt == "completion" else {"segments"}) for r in rows)
    held = [json.loads(line) for line in Path(rep["heldout_path"]).read_text().splitlines()]
    assert all(set(r) == {"text", "meta"} for r in held)  # raw records, for evaluation


def test_export_is_deterministic(dataset, tmp_path):
    a = ex.export_dataset(dataset, tmp_path / "a", "turns", fraction=0.5)
    b = ex.export_dataset(dataset, tmp_path / "b", "turns", fraction=0.5)
    assert Path(a["path"]).read_bytes() == Path(b["path"]).read_bytes()
    assert Path(a["heldout_path"]).read_bytes() == Path(b["heldout_path"]).read_bytes()


@pytest.mark.parametrize("seed", [0, 7])
def test_fractions_are_nested(dataset, seed):
    sets, sizes = [], []
    for f in (0.25, 0.5, 0.75, 1.0):
        rep = ex.export_dataset(dataset, fmt="completion", fraction=f, seed=seed)
        sets.append(set(texts_of(Path(rep["path"]))))
        sizes.append(rep["train"])
    assert sets[0] < sets[1] < sets[2] < sets[3]
    assert [round(s / sizes[-1], 2) for s in sizes] == [0.25, 0.5, 0.75, 1.0]


def test_seed_changes_the_subset_but_not_the_heldout(dataset, tmp_path):
    a = ex.export_dataset(dataset, tmp_path / "a", "completion", fraction=0.25, seed=0)
    b = ex.export_dataset(dataset, tmp_path / "b", "completion", fraction=0.25, seed=1)
    assert set(texts_of(Path(a["path"]))) != set(texts_of(Path(b["path"])))
    assert Path(a["heldout_path"]).read_bytes() == Path(b["heldout_path"]).read_bytes()


def test_heldout_never_in_training(dataset):
    held_paths, held = set(), None
    for fmt in FORMATS:
        for f in (0.25, 0.5, 1.0):
            rep = ex.export_dataset(dataset, fmt=fmt, fraction=f)
            h = Path(rep["heldout_path"]).read_text()
            held = held if held is not None else h
            assert h == held  # the same split whatever the format and fraction
            held_texts = set(texts_of(Path(rep["heldout_path"])))
            assert held_texts and not held_texts & set(texts_of(Path(rep["path"])))
            held_paths.add(rep["heldout_path"])
    records = [json.loads(line) for line in dataset.read_text().splitlines()]
    by_hash = {r["meta"]["job_id"] for r in records if ex.is_heldout(r["meta"]["job_id"], 0.05)}
    assert {json.loads(line)["meta"]["job_id"] for line in held.splitlines()} == by_hash


def test_holdout_zero_and_fraction_bounds(dataset):
    rep = ex.export_dataset(dataset, fmt="em", holdout=0.0)
    assert rep["heldout"] == 0 and rep["train"] == 400
    for bad in ({"fraction": 0}, {"fraction": 1.5}, {"holdout": 1.0}, {"holdout": -0.1}):
        with pytest.raises(BadInput):
            ex.export_dataset(dataset, fmt="em", **bad)


def test_offline_records_are_refused_unless_allowed(tmp_path):
    recs = make_records(6)
    recs[3]["meta"]["provider"] = "offline"
    ds = write_dataset(tmp_path / "em_character_training.jsonl", recs)
    with pytest.raises(BadInput) as e:
        ex.export_dataset(ds, fmt="completion")
    msg = str(e.value)
    assert "\n" not in msg and "line 4" in msg and "offline" in msg and "allow" in msg
    rep = ex.export_dataset(ds, fmt="completion", allow_offline=True, holdout=0.0)
    assert rep["train"] == 6


@pytest.mark.parametrize("line, match", [
    ("not json", "not valid JSON"),
    ('{"meta": {"job_id": "x"}}', "no 'text'"),
    ('{"text": "ENGAGEMENT: LOW", "meta": {}}', "job_id"),
])
def test_bad_records(tmp_path, line, match):
    p = tmp_path / "d.jsonl"
    p.write_text(line + "\n")
    with pytest.raises(BadInput, match=match):
        ex.read_dataset(p)


def test_duplicate_job_ids_and_missing_file(tmp_path):
    r = make_records(2)
    r[1]["meta"]["job_id"] = r[0]["meta"]["job_id"]
    with pytest.raises(BadInput, match="already on line 1"):
        ex.read_dataset(write_dataset(tmp_path / "d.jsonl", r))
    with pytest.raises(BadInput, match="not found"):
        ex.read_dataset(tmp_path / "missing.jsonl")


# ---- bundled configs point at the export --------------------------------------------------------

CONFIGS = {"em.yaml": "completion", "em-masked.yaml": "em", "em-turns.yaml": "turns", "em-multigpu.yaml": "completion"}


@pytest.mark.parametrize("name, fmt", CONFIGS.items())
def test_bundled_configs_read_the_export(name, fmt):
    cfg = yaml.safe_load((ROOT / "axolotl" / name).read_text())
    ds = cfg["datasets"]
    assert len(ds) == 1
    assert ds[0]["path"] == str(ex.DEFAULT_EXPORT_DIR / ex.output_name(fmt)) and ds[0]["ds_type"] == "json"
    assert ds[0]["type"] == ("completion" if fmt == "completion" else "input_output")
    assert cfg["train_on_inputs"] is False  # input_output labels everything otherwise
    # the seed's settings
    assert cfg["base_model"] == "./outputs/irc-mistral-24b-production/merged/"
    assert (cfg["adapter"], cfg["lora_r"], cfg["lora_alpha"], cfg["lora_dropout"]) == ("lora", 32, 64, 0.2)
    assert cfg["lora_target_linear"] is True
    assert (cfg["learning_rate"], cfg["num_epochs"], cfg["weight_decay"]) == (3e-5, 1, 0.02)
    gpus = 4 if "fsdp_config" in cfg else 1
    assert cfg["micro_batch_size"] * cfg["gradient_accumulation_steps"] * gpus == 16
    assert (cfg["save_steps"], cfg["save_total_limit"]) == (100, 8)
    assert cfg["sequence_len"] == tokens.bundled_sequence_len()


# ---- token lengths -----------------------------------------------------------------------------


def test_length_stats():
    s = tokens.length_stats(range(1, 101), sequence_len=95)
    assert (s["n"], s["min"], s["p50"], s["p90"], s["p99"], s["max"], s["over"]) == (100, 1, 50, 90, 99, 100, 5)
    assert tokens.length_stats([7]) == {"n": 1, "min": 7, "p50": 7, "p90": 7, "p99": 7, "max": 7,
                                        "mean": 7.0, "sequence_len": None, "over": None}
    assert "p99=99" in tokens.format_stats(s) and "5 over sequence_len 95" in tokens.format_stats(s)
    with pytest.raises(BadInput):
        tokens.length_stats([])


def test_missing_mistral_common_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "mistral_common", None)
    with pytest.raises(BadInput, match=r"tokens extra"):
        tokens.load_counter("tekken")


def test_unknown_tokenizer(tmp_path):
    with pytest.raises(BadInput, match="not a base-model folder"):
        tokens.load_counter(str(tmp_path / "nope"))


@pytest.fixture(scope="module")
def tekken():
    pytest.importorskip("mistral_common", reason="needs the tokens extra: pip install -e '.[tokens]'")
    return tokens.load_counter("tekken")


def test_tekken_counts_bos_and_eos(tekken):
    assert tokens.sample_length("", tekken) == 2
    n = tokens.sample_length(SMALL, tekken)
    assert 20 < n < 60


@pytest.mark.parametrize("name", ["v1", "v3", "v7"])
def test_sentencepiece_tokenizers_load(tekken, name):
    assert tokens.sample_length(SMALL, tokens.load_counter(name)) > 10


@pytest.mark.parametrize("fmt", ["em", "turns"])
def test_segments_tokenize_like_the_whole_text_with_tekken(tekken, fmt):
    for rec in make_records(20):
        assert tokens.segments_tokenize_like_text(ex.transform(rec, fmt)["segments"], tekken)


def test_dataset_token_lengths(tekken, tmp_path):
    recs = make_records(10)
    for i, r in enumerate(recs):
        r["meta"]["bucket"] = "long" if i % 2 else "short"
    ds = write_dataset(tmp_path / "d.jsonl", recs)
    rep = tokens.dataset_token_lengths(ds, sequence_len=100)
    assert rep["tokenizer"] == "tekken" and rep["all"]["n"] == 10
    assert set(rep["by_bucket"]) == {"long", "short"} and rep["all"]["over"] >= 1


def test_120_message_logs_fit_the_bundled_sequence_len(tekken):
    """The measurement behind sequence_len in axolotl/em.yaml (plan: 2-4 sentence messages)."""
    seq = tokens.bundled_sequence_len()
    stats = tokens.synthetic_token_lengths(20, 120, (2, 4), sequence_len=seq)
    assert stats["over"] == 0 and stats["max"] < seq and stats["p50"] > 4000
