"""The realistic labelled corpus (tests/quality/realistic/, see its README) and its recorded judge
answers, for the rule, judge and end-to-end tests."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from em_gen.providers.standin.replay import judge_key
from em_gen.quality.irc import parse

ROOT = Path(__file__).resolve().parent / "quality" / "realistic"
ANSWERS = ROOT / "judge_answers"


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


def load_corpus() -> list[Log]:
    out = []
    for p in sorted(ROOT.glob("w*/*.txt")):
        meta, lines = {}, []
        for line in p.read_text(encoding="utf-8").splitlines():
            if line.startswith("# ") and ":" in line and not lines:
                k, _, v = line[2:].partition(":")
                meta[k.strip()] = v.strip()
            else:
                lines.append(line)
        text = "\n".join(lines).strip() + "\n"
        parsed = parse(text)
        key = judge_key([f"<{n}> {t}" for n, t in parsed.messages])
        ans = ANSWERS / f"{key}.json"
        out.append(Log(file=f"{p.parent.name}/{p.name}", label=meta["label"], family=meta["family"],
                       failing=[int(x) for x in re.findall(r"\d+", meta.get("failing", ""))],
                       note=meta.get("note", ""), text=text, n_messages=len(parsed.messages), key=key,
                       answer=ans.read_text(encoding="utf-8") if ans.exists() else None))
    return out
