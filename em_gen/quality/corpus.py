"""A labelled corpus of IRC logs (tests/quality/realistic/ ships with em-gen; its README gives the
format): one log per `<writer>/<NNN>-<label>-<family>.txt` file whose `# label:`, `# family:`,
`# failing:` and `# note:` lines come before the log, and optionally `judge_answers/<key>.json`, a
recorded judge answer per log, keyed by `judge_key` of its messages. `em-gen judge-check` measures a
judge model on it; the tests measure the rules and the recorded answers on it."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from em_gen.library import ROOT, BadInput
from em_gen.quality.irc import parse
from em_gen.quality.judge import judge_key

DEFAULT_CORPUS = ROOT / "tests" / "quality" / "realistic"
ANSWERS = "judge_answers"


@dataclass
class Log:
    file: str
    label: str            # good | bad
    family: str           # a failure family for bad logs; none | near_miss for good ones
    failing: list[int]    # bad logs: Em's failing message numbers (1-based)
    note: str
    text: str             # the log as the teacher wrote it (header + messages)
    n_messages: int = 0
    key: str = ""         # judge_key of its messages
    answer: str | None = field(default=None, repr=False)  # the recorded judge answer


def log_key(parsed) -> str:
    return judge_key([f"<{n}> {t}" for n, t in parsed.messages])


def read_log(path: Path, rel: str, answers: Path | None) -> Log:
    meta, lines = {}, []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# ") and ":" in line and not lines:
            k, _, v = line[2:].partition(":")
            meta[k.strip()] = v.strip()
        else:
            lines.append(line)
    label = meta.get("label")
    if label not in ("good", "bad"):
        raise BadInput(f"{path}: '# label:' must be good or bad, got {label!r}")
    if label == "bad" and not meta.get("family"):
        raise BadInput(f"{path}: a bad log needs '# family:'")
    text = "\n".join(lines).strip() + "\n"
    parsed = parse(text)
    key = log_key(parsed)
    ans = answers / f"{key}.json" if answers else None
    return Log(file=rel, label=label, family=meta.get("family", "none"),
               failing=[int(x) for x in re.findall(r"\d+", meta.get("failing", ""))],
               note=meta.get("note", ""), text=text, n_messages=len(parsed.messages), key=key,
               answer=ans.read_text(encoding="utf-8") if ans is not None and ans.exists() else None)


def load_corpus(root: Path | None = None) -> list[Log]:
    """Every labelled log under `root` (default: the corpus that ships with em-gen), sorted by path."""
    root = Path(root or DEFAULT_CORPUS)
    if not root.is_dir():
        raise BadInput(f"--corpus {root}: no such folder (a labelled corpus: <writer>/<NNN>-<label>-<family>.txt files)")
    answers = root / ANSWERS
    files = sorted(p for p in root.rglob("*.txt") if ANSWERS not in p.relative_to(root).parts)
    logs = [read_log(p, p.relative_to(root).as_posix(), answers if answers.is_dir() else None) for p in files]
    if not logs:
        raise BadInput(f"--corpus {root}: no labelled .txt logs in it")
    return logs
