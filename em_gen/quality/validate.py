"""`--validate FILE`: re-check any training JSONL with the same rules, without a request."""
from __future__ import annotations

import json
import multiprocessing
import os
import sys
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from em_gen.library import BadInput, Library
from em_gen.quality.irc import parse
from em_gen.quality.rules import Diversity, Expect, check


def _check_lines(lib: Library, lines: list[tuple[int, bytes]]) -> list[tuple[list[str], list[int] | None]]:
    """Rule checks of raw JSONL lines: (reasons, near-duplicate sketch of a passing record)."""
    sketcher = Diversity()
    out = []
    for lineno, line in lines:
        try:
            rec = json.loads(line)
            text = rec["text"]
            if not isinstance(text, str):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            out.append(([f"bad_record: line {lineno} is not a JSON object with a string 'text' field"], None))
            continue
        meta = rec.get("meta") if isinstance(rec.get("meta"), dict) else {}
        expect = Expect(bucket=meta.get("bucket") if meta.get("bucket") in lib.buckets() else None)
        parsed = parse(text)
        reasons = list(check(parsed, lib, expect).reasons)
        if parsed.truncated_at and not any(r.startswith("hallucinated_turn") for r in reasons):
            # in a training file the text is the data: everything after the marker would be trained on
            reasons.append(f"hallucinated_turn: a role-marker line {parsed.truncated_at!r} in the record's text")
        out.append((reasons, None if reasons else sketcher.sketch(text)))
    return out


class EmptyFile(Exception):
    """A training file with no record: nothing to train on (exit 1)."""


def _emit(write, as_json: bool, counts: Counter, reasons: Counter, index: int, rs: list[str]) -> None:
    counts["ok" if not rs else "rejected"] += 1
    reasons.update(r.split(":", 1)[0] for r in rs)
    if as_json:
        write(json.dumps({"index": index, "ok": not rs, "reasons": rs}, ensure_ascii=False) + "\n")
    elif rs:
        write(f"record {index}: REJECT " + "; ".join(rs) + "\n")


def _records(path: Path):
    """(line number, record) of the non-blank lines, in order (blank lines are not records)."""
    with open(path, "rb") as f:
        n = 0
        for line in f:
            if line.strip():
                n += 1
                try:
                    yield n, json.loads(line)
                except ValueError:
                    continue


_WORKER_LIB: Library | None = None


def _init_worker(lib: Library) -> None:
    global _WORKER_LIB
    _WORKER_LIB = lib


def _work(lines):
    return _check_lines(_WORKER_LIB, lines)


def _chunks(f, size: int):
    chunk = []
    for i, line in enumerate(f):
        if line.strip():
            chunk.append((i + 1, line))
            if len(chunk) == size:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def validate_file(lib: Library, path: Path, as_json: bool, out=None, workers: int | None = None,
                  judge=None) -> dict:
    """Check every record of a training JSONL in input order. The rules run on every core; the
    near-duplicate pass runs in input order in this process. `judge(texts: dict[index, text]) ->
    dict[index, reasons]` (optional) reads the records that passed. Returns the summary."""
    try:
        f = open(path, "rb")
    except OSError as e:
        raise BadInput(f"--validate {path}: {e.strerror or e}") from None
    workers = workers or min(4, os.cpu_count() or 1)
    diversity = Diversity()
    counts, reasons = Counter(), Counter()
    write = (out or sys.stdout).write
    rows: list[list] = []  # [index, reasons]; written as they come unless a judge must read them first
    with f:
        size = max(1, os.fstat(f.fileno()).st_size)
        if workers > 1 and size > 2_000_000:
            pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                                       initializer=_init_worker, initargs=(lib,))
            results = pool.map(_work, _chunks(f, 100))
        else:
            pool, results = None, (_check_lines(lib, c) for c in _chunks(f, 100))
        try:
            for chunk in results:
                for rs, sketch in chunk:
                    index = counts["records"]
                    counts["records"] += 1
                    if sketch is not None:
                        dup = diversity.near_duplicate(None, sketch)
                        if dup:
                            rs = rs + [f"near_duplicate: too similar to record {dup}"]
                        else:
                            diversity.add(str(index), sketch=sketch)
                    if judge is None:
                        _emit(write, as_json, counts, reasons, index, rs)
                    else:
                        rows.append([index, rs])
        finally:
            if pool is not None:
                pool.shutdown()
    if judge is not None:
        ok = {i for i, rs in rows if not rs}
        texts = {n - 1: rec["text"] for n, rec in _records(path) if n - 1 in ok} if ok else {}
        verdicts = judge(texts) if texts else {}
        for index, rs in rows:
            _emit(write, as_json, counts, reasons, index, rs + verdicts.get(index, []))
    if counts["records"] == 0:
        raise EmptyFile(f"--validate {path}: no records")
    summary = {"records": counts["records"], "ok": counts["ok"], "rejected": counts["rejected"],
               "rejected_by_reason": dict(reasons.most_common())}
    if as_json:
        write(json.dumps({"summary": summary}) + "\n")
    else:
        write(f"{summary['records']} records: {summary['ok']} pass, {summary['rejected']} rejected\n")
        for code, n in reasons.most_common():
            write(f"  {code:<22} {n}\n")
    return summary
