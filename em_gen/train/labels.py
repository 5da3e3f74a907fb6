"""Which tokens carry labels: decode the prepared (tokenized) dataset and compare with what each
export format intends (completion: all; em: Em's lines; turns: nick tags and Em's text)."""
from __future__ import annotations

import json
from pathlib import Path

from em_gen.train import export as ex
from em_gen.train.axolotl_env import IGNORE, SmokeFailure

# --------------------------------------------------------------------------------------------------
# label check (runs in the train venv)


def _runs(ids: list[int], labels: list[int]) -> list[tuple[bool, list[int]]]:
    out: list[tuple[bool, list[int]]] = []
    for i, lab in zip(ids, labels):
        on = lab != IGNORE
        if out and out[-1][0] == on:
            out[-1][1].append(i)
        else:
            out.append((on, [i]))
    return out


def expected_runs(sample: dict, fmt: str, special: ex.Special = ex.Special()) -> list[tuple[bool, str]]:
    """The (labelled?, text) runs a prepared row must decode to, from the raw log, built without the
    export code's segment logic: the spec written out once more."""
    text = ex.sample_text(sample, special)
    header, messages = ex.split_log(text)
    parts: list[tuple[bool, str]] = [(False, special.bos)]
    if fmt == "completion":
        parts = [(True, special.bos + text + special.eos)]
    else:
        parts.append((False, header))
        for m in messages:
            if fmt == "em":
                parts.append((m.nick == ex.EM_NICK, m.tag + m.body))
            else:
                parts.append((True, m.tag))
                parts.append((m.nick == ex.EM_NICK, m.body))
        parts.append((True, special.eos))
    merged: list[tuple[bool, str]] = []
    for on, t in parts:
        if not t:
            continue
        if merged and merged[-1][0] == on:
            merged[-1] = (on, merged[-1][1] + t)
        else:
            merged.append((on, t))
    return merged


def labels_ok(result: dict) -> bool:
    """A check_labels result with every row matched and nothing else wrong."""
    return bool(result["rows"]) and not result["errors"] and result["matched"] == result["rows"]


def check_labels(prepared: Path, export_file: Path, tokenizer_dir: Path, fmt: str) -> dict:
    """Decode every prepared row and compare its labelled/unlabelled runs with `expected_runs` of the
    exported sample it came from. Also checks BOS first, EOS last and exactly one EOS per row.
    Returns {"rows", "matched", "labelled_tokens", "tokens", "errors": [...first few...]}."""
    from datasets import load_from_disk
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    special = ex.Special(tok.bos_token, tok.eos_token)
    samples = [json.loads(line) for line in Path(export_file).read_text(encoding="utf-8").splitlines() if line]
    expected = {}
    for s in samples:
        runs = expected_runs(s, fmt, special)
        expected["".join(t for _, t in runs)] = runs
    dirs = [p.parent for p in Path(prepared).rglob("dataset_info.json")]
    if not dirs:
        raise SmokeFailure(f"{prepared}: no prepared dataset found")
    rows = matched = labelled = total = 0
    errors: list[str] = []
    seen: set[str] = set()
    for d in sorted(dirs):
        ds = load_from_disk(str(d))
        for row in ds:
            rows += 1
            ids, labels = list(row["input_ids"]), list(row["labels"])
            total += len(ids)
            labelled += sum(1 for x in labels if x != IGNORE)
            full = tok.decode(ids)
            problems = []
            if ids[0] != tok.bos_token_id:
                problems.append("does not start with BOS")
            if ids[-1] != tok.eos_token_id or ids.count(tok.eos_token_id) != 1:
                problems.append(f"{ids.count(tok.eos_token_id)} EOS, last token {ids[-1]}")
            want = expected.get(full)
            if want is None:
                problems.append("decodes to no exported sample")
            else:
                got = [(on, tok.decode(chunk)) for on, chunk in _runs(ids, labels)]
                if got != want:
                    for k, (g, w) in enumerate(zip(got + [None] * len(want), want + [None] * len(got))):
                        if g != w:
                            problems.append(f"run {k}: got {g!r}, want {w!r}")
                            break
                seen.add(full)
            if problems:
                if len(errors) < 5:
                    errors.append(f"row {rows - 1}: " + "; ".join(problems))
            else:
                matched += 1
    return {"rows": rows, "matched": matched, "samples": len(samples), "samples_seen": len(seen),
            "labelled_tokens": labelled, "tokens": total, "errors": errors}
