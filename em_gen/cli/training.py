"""--export, --token-lengths and --smoke-train: from the accepted dataset to Axolotl."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from em_gen.generate.lock import FolderLock
from em_gen.library import BadInput, Library


def training_command(args, lib: Library, out: Path) -> int:
    """--export and --smoke-train write into the folder: they are its one writer while they run;
    --token-lengths only reads."""
    if args.token_lengths or not (out / "em_character_training.jsonl").exists():
        return training_step(args, lib, out)  # (the latter says there is nothing to work from)
    lock = FolderLock(out)
    try:
        return training_step(args, lib, out)
    finally:
        lock.release()


def training_step(args, lib: Library, out: Path) -> int:
    """--export, --token-lengths and --smoke-train: from the accepted dataset to Axolotl."""
    dataset = out / "em_character_training.jsonl"
    if not dataset.exists():
        raise BadInput(f"--out {out}: no em_character_training.jsonl to work from; generate with --batch N or --full")
    if args.export:
        from em_gen.train.export import export_dataset
        rep = export_dataset(dataset, fmt=args.export, fraction=args.fraction, holdout=args.holdout,
                             seed=args.seed or 0, allow_offline=args.allow_offline, tokenizer=args.base_model,
                             em_nick=lib.em, force=args.force)
        print(f"{rep['format']}: {rep['train']} training conversations -> {rep['path']}")
        print(f"held out for eval: {rep['heldout']} ({rep['holdout']:g}, decided once for this dataset) -> "
              f"{rep['heldout_path']}")
        if rep["holdout_changed"]:
            from em_gen.train.autoexport import rewrite_after_split_change
            for line in rewrite_after_split_change(out, Path(rep["path"]), lib.em):
                print(line)
        return 0
    if args.token_lengths:
        from em_gen.train.tokens import (
            bundled_sequence_len,
            dataset_token_lengths,
            format_stats,
        )
        seq = args.sequence_len or bundled_sequence_len()
        rep = dataset_token_lengths(dataset, tokenizer=args.base_model or args.tokenizer, sequence_len=seq)
        print(f"token lengths with {rep['tokenizer']} (sequence_len {seq}):")
        print(format_stats(rep["all"], "all"))
        for bucket, st in rep["by_bucket"].items():
            print(format_stats(st, bucket))
        return 0
    from em_gen.train.smoke import SmokeFailure, smoke_train
    try:
        rep = smoke_train(dataset, base_model=Path(args.base_model) if args.base_model else None,
                          fmt=args.smoke_train, workdir=out / "smoke" / args.smoke_train, steps=args.steps,
                          allow_offline=True)  # a pipeline check, not training: stand-in data is fine
    except SmokeFailure as e:
        print(f"em-gen: smoke training failed: {e}", file=sys.stderr)
        return 1
    print(f"smoke training ({args.smoke_train}, {len(rep['losses'])} steps, {rep['seconds']['total']:.0f}s): "
          f"losses {', '.join(f'{x:.4f}' for x in rep['losses'])}")
    print(f"label check: {json.dumps(rep['labels'])}")
    print(f"work folder: {rep['workdir']}")
    return 0


