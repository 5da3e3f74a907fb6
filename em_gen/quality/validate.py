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
        why = _not_a_record(line)
        if why:
            out.append((lineno, [f"bad_record: {why}"], None))
            continue
        rec = json.loads(line)
        text = rec["text"]
        meta = rec.get("meta") if isinstance(rec.get("meta"), dict) else {}
        expect = Expect(bucket=meta.get("bucket") if meta.get("bucket") in lib.buckets() else None)
        parsed = parse(text)
        reasons = list(check(parsed, lib, expect).reasons)
        if parsed.truncated_at and not any(r.startswith("hallucinated_turn") for r in reasons):
            # in a training file the text is the data: everything after the marker would be trained on
            reasons.append(f"hallucinated_turn: a role-marker line {parsed.truncated_at!r} in the record's text")
        out.append((lineno, reasons, None if reasons else sketcher.sketch(text)))
    return out


def _not_a_record(line: bytes) -> str | None:
    """Why a JSONL line is not a training record (None when it is one)."""
    try:
        rec = json.loads(line)
    except UnicodeDecodeError as e:
        return f"not UTF-8 text (byte {e.start})"
    except json.JSONDecodeError as e:
        return f"JSON syntax error: {e.msg} (column {e.colno})"
    if not isinstance(rec, dict):
        return f"a JSON {type(rec).__name__.replace('dict', 'object').replace('list', 'array')}, not an object"
    if not isinstance(rec.get("text"), str):
        return "a JSON object without a string 'text' field"
    return None


def _sniff(path: Path, f) -> None:
    """A file that is not JSONL at all (binary, a JSON array, plain text) is one line, exit 2, not one
    reject per line: judged by its first non-blank line."""
    head = f.read(65536)
    f.seek(0)
    if b"\0" in head:
        raise BadInput(f"--validate {path}: not JSONL (a binary file); --validate reads one JSON object per line")
    first = next((ln for ln in head.splitlines() if ln.strip()), None)
    if first is None:
        return
    if first.strip().startswith(b"[") and _not_a_record(first):
        raise BadInput(f"--validate {path}: not JSONL (a JSON array); write one JSON object per line")
    why = _not_a_record(first)
    if why and "'text'" not in why:
        raise BadInput(f"--validate {path}: not JSONL (line 1: {why}); --validate reads one JSON object per line, "
                       "each with a string 'text'")


class EmptyFile(Exception):
    """A training file with no record: nothing to train on (exit 1)."""


def _emit(write, as_json: bool, counts: Counter, reasons: Counter, index: int, lineno: int, rs: list[str]) -> None:
    counts["ok" if not rs else "rejected"] += 1
    reasons.update(r.split(":", 1)[0] for r in rs)
    if as_json:  # index: 0-based among the records; line: 1-based in the file
        write(json.dumps({"index": index, "line": lineno, "ok": not rs, "reasons": rs}, ensure_ascii=False) + "\n")
    elif rs:
        write(f"line {lineno}: REJECT " + "; ".join(rs) + "\n")


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
        _sniff(path, f)
        size = max(1, os.fstat(f.fileno()).st_size)
        if workers > 1 and size > 2_000_000:
            pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                                       initializer=_init_worker, initargs=(lib,))
            results = pool.map(_work, _chunks(f, 100))
        else:
            pool, results = None, (_check_lines(lib, c) for c in _chunks(f, 100))
        try:
            for chunk in results:
                for lineno, rs, sketch in chunk:
                    index = counts["records"]
                    counts["records"] += 1
                    if sketch is not None:
                        dup = diversity.near_duplicate(None, sketch)
                        if dup:
                            rs = rs + [f"near_duplicate: too similar to line {dup}"]
                        else:
                            diversity.add(str(lineno), sketch=sketch)
                    if judge is None:
                        _emit(write, as_json, counts, reasons, index, lineno, rs)
                    else:
                        rows.append([index, lineno, rs])
        finally:
            if pool is not None:
                pool.shutdown()
    if judge is not None:
        ok = {i for i, _, rs in rows if not rs}
        texts = {n - 1: rec["text"] for n, rec in _records(path) if n - 1 in ok} if ok else {}
        verdicts = judge(texts) if texts else {}
        for index, lineno, rs in rows:
            _emit(write, as_json, counts, reasons, index, lineno, rs + verdicts.get(index, []))
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
