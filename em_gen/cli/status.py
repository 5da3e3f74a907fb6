"""--status: read-only (no lock, no repair, nothing written), so it works while a run writes."""
from __future__ import annotations

import json
from pathlib import Path

from em_gen.generate.diversity import dataset_diversity
from em_gen.generate.journal import journal_problems, read_state
from em_gen.generate.lock import holder
from em_gen.generate.orchestrate import distinct_of, last_session
from em_gen.generate.preflight import read_runs
from em_gen.generate.stats import build_stats, format_status, planned_mix
from em_gen.library import BadInput, Library


def status(lib: Library, out: Path, as_json: bool) -> int:
    """Read-only: no lock, no repair, nothing written; works while a run is writing to the folder."""
    if not read_runs(out):
        raise BadInput(f"--status: {out} holds no em-gen run (no run in its journal.jsonl); start one with --batch N or --full")
    state = read_state(out)
    stats = build_stats(lib, state, planned_mix(lib, state), distinct_of(state))
    stats["dataset_diversity"] = dataset_diversity(state, lib.em)
    stats["journal_problems"] = journal_problems(state)
    who = holder(out)
    if who is not None:
        stats["writing_now"] = who
    stopped = last_session(out)
    stats["last_session"] = stopped
    from em_gen.cli.pairs import status_lines
    stats["pairs"], pair_text = status_lines(out)
    if as_json:
        print(json.dumps(stats, indent=2))
        return 0
    print(format_status(stats) + pair_text)
    if stopped:
        print(f"last session of {stopped['run']} stopped ({stopped['status']})"
              + (f": {stopped['message']}" if stopped["message"] else "") + RESUME_HINT.get(stopped["status"], ""))
    for line in stats["journal_problems"]:
        print(f"warning: {line}")
    if who is not None:
        print(f"a run is writing to this folder now (pid {who.get('pid', '?')}, `{who.get('command', '')}`): "
              "these figures are a snapshot")
    return 0


RESUME_HINT = {"fatal": "; fix that, then continue with --resume", "budget": "; continue with --resume",
               "interrupted": "; continue with --resume", "incomplete": "; retry with --resume",
               "quality": "; see the rejections above"}


