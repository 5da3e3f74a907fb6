"""What `--out` may name: a path that is not empty (`~` expanded), and for a generating run a folder
that is new, empty or em-gen's own, never one that holds data of another kind (`--out scenarios`,
`--out .` in a source tree): em-gen would write its journal and hundreds of conversation files
among someone else's files."""
from __future__ import annotations

import os
from pathlib import Path

from em_gen.library import PROMPTS_DIR, ROOT, SCENARIOS_DIR, BadInput

# what em-gen writes into an output folder: one of them marks the folder as em-gen's
_OURS = ("journal.jsonl", "em_character_training.jsonl", "rejected.jsonl", "generation_progress.json",
         "generation_stats.json", "report.html", "premises_journal.jsonl")
_OUR_FOLDERS = {"test": "journal.jsonl", "export": "*.jsonl", "real": "*.jsonl"}  # folder -> what em-gen put in it


def out_path(text: str) -> Path:
    """The --out value as a folder path: refused when empty, `~` and `~user` expanded."""
    if not text.strip():
        raise BadInput("--out: empty path; name a folder (default: em_character_data), em-gen creates it if missing")
    return Path(os.path.expanduser(text))


def _own_data_folders() -> list[Path]:
    return [ROOT, SCENARIOS_DIR, PROMPTS_DIR, ROOT / "em_gen", ROOT / "tests", ROOT / "axolotl"]


def check_generation_folder(out: Path, scenarios: str | None = None, prompts: str | None = None) -> None:
    """Refuse an --out that holds data of another kind (before anything is written)."""
    if not out.is_dir():
        return
    real = out.resolve()
    data = _own_data_folders() + [Path(p) for p in (scenarios, prompts) if p]
    for d in data:
        try:
            same = d.resolve() == real
        except OSError:
            same = False
        if same:
            raise BadInput(f"--out {out}: that is em-gen's own {d.name or d}/ folder, not an output folder; "
                           "name a new or empty folder")
    names = [p.name for p in out.iterdir() if not p.name.startswith(".")]
    if not names or any(n in _OURS or n.startswith("conversation_") for n in names) \
            or any(next((out / d).glob(pat), None) for d, pat in _OUR_FOLDERS.items() if d in names):
        return
    shown = ", ".join(sorted(names)[:3]) + (", ..." if len(names) > 3 else "")
    raise BadInput(f"--out {out}: the folder holds other data ({len(names)} entries: {shown}) and no em-gen output; "
                   "name a new or empty folder")
