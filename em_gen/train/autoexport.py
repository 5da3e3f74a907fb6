"""The files the bundled Axolotl configs read, kept up to date with no manual step.

`em-gen --test --single`, then `em-gen --full --resume`, then `axolotl train axolotl/em.yaml`: at the
end of every `--batch` or `--full` run and after `--revalidate`, `refresh` rewrites
`OUT/export/em_completion.jsonl`, `em_em.jsonl`, `em_turns.jsonl` and `heldout.jsonl` from the
accepted dataset, with the defaults of `em-gen --export FMT` (5% held out by job id, fraction 1,
Mistral BOS/EOS), so each file is what that command writes. Each is written atomically (temp file,
fsync, rename): Axolotl never reads half a file. Records made by the offline stand-in are never
exported this way (`em-gen --export FMT --allow-offline` still can, on purpose).
"""
from __future__ import annotations

import json
from pathlib import Path

from em_gen.generate.journal import DATASET, atomic_write
from em_gen.library import BadInput
from em_gen.train.export import (
    EM_NICK,
    FORMATS,
    HELDOUT_FILE,
    Special,
    decide_holdout,
    output_name,
    read_dataset,
    split_records,
    transform,
)

NOTHING_YET = "no accepted conversation yet"


def _jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def refresh(out: Path, em_nick: str = EM_NICK) -> dict:
    """Rewrite the four export files from `OUT/em_character_training.jsonl`, stand-in records left
    out. Returns {"paths", "train", "heldout", "offline"}, or {"skipped": why} when nothing was
    written (no dataset yet, only stand-in records, nothing left after the held-out split)."""
    out = Path(out)
    dataset = out / DATASET
    if not dataset.is_file() or dataset.stat().st_size == 0:
        return {"skipped": NOTHING_YET}
    try:
        records = read_dataset(dataset, allow_offline=True)
    except BadInput as e:
        return {"skipped": str(e)}
    paid = [r for r in records if r["meta"].get("provider") != "offline"]
    if not paid:
        return {"skipped": "the dataset holds only offline stand-in conversations, which are not training data "
                           "(em-gen --export FMT --allow-offline writes them anyway)"}
    folder = out / "export"
    holdout, _ = decide_holdout(folder)  # the folder's recorded split (5% the first time)
    train, held = split_records(paid, fraction=1.0, holdout=holdout, seed=0)
    if not train:
        return {"skipped": f"no training conversation left after holding out {holdout:g}"}
    special = Special()
    try:
        files = {fmt: _jsonl([transform(r, fmt, special, em_nick) for r in train]) for fmt in FORMATS}
    except BadInput as e:
        return {"skipped": str(e)}
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt, text in files.items():
        paths.append(folder / output_name(fmt))
        atomic_write(paths[-1], text)
    paths.append(folder / HELDOUT_FILE)
    atomic_write(paths[-1], _jsonl(held))
    return {"paths": [str(p) for p in paths], "train": len(train), "heldout": len(held),
            "offline": len(records) - len(paid)}


def refresh_and_say(out: Path, em_nick: str = EM_NICK, stream=None) -> dict:
    """`refresh`, then one line saying what the Axolotl configs will read."""
    import sys
    rep = refresh(out, em_nick)
    stream = stream or sys.stderr
    if rep.get("skipped") == NOTHING_YET:
        pass  # nothing accepted, nothing to say
    elif "skipped" in rep:
        print(f"export/: not refreshed: {rep['skipped']}", file=stream)
    else:
        folder = Path(rep["paths"][0]).parent
        print(f"export/: {rep['train']} training conversations -> {folder}/em_{{completion,em,turns}}.jsonl "
              f"(what axolotl/*.yaml read), {rep['heldout']} held out -> {folder / HELDOUT_FILE}"
              + (f"; {rep['offline']} stand-in conversations left out" if rep["offline"] else ""), file=stream)
    return rep


def rewrite_after_split_change(out: Path, just_written: Path, em_nick: str = EM_NICK) -> list[str]:
    """After a forced change of the held-out share: rewrite the standard exports with the new split and
    remove every other subset export cut from the old one. Returns what was done, a line each."""
    rep = refresh(out, em_nick)
    lines = [f"held-out split changed: rewrote {len(rep.get('paths', []))} export file(s)"
             + (f" ({rep['skipped']})" if "skipped" in rep else "")]
    for path in sorted((Path(out) / "export").glob("em_*pct.jsonl")):
        if path != just_written:
            path.unlink()
            lines.append(f"removed {path.name}: cut from the old split (export it again with --fraction)")
    return lines
