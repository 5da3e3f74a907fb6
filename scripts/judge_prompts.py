"""Write the judge prompt for each log of a corpus to DIR/<judge_key>.txt, exactly as em-gen renders it
(system, then user), for a blind panel to answer; the file names are the logs' judge keys, so the
answers can be recorded as tests/quality/realistic/judge_answers/<key>.json. No label is written.

    .venv/bin/python scripts/judge_prompts.py OUT_DIR LOG_FILE...
"""
from __future__ import annotations

import sys
from pathlib import Path

from em_gen.library import load_library
from em_gen.providers.standin.replay import judge_key
from em_gen.quality.irc import parse
from em_gen.quality.judge import judge_request


def body(path: Path) -> str:
    """The log without the corpus's `# key: value` label lines."""
    lines = path.read_text(encoding="utf-8").splitlines()
    while lines and lines[0].startswith("# "):
        lines.pop(0)
    return "\n".join(lines).strip() + "\n"


def main(argv: list[str]) -> int:
    out, files = Path(argv[0]), [Path(a) for a in argv[1:]]
    out.mkdir(parents=True, exist_ok=True)
    lib = load_library()
    for f in files:
        parsed = parse(body(f))
        key = judge_key([f"<{n}> {t}" for n, t in parsed.messages])
        req = judge_request(lib, "panel", parsed)
        (out / f"{key}.txt").write_text(f"SYSTEM\n{req.system}\n\nUSER\n{req.user}\n", encoding="utf-8")
        print(key, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
