"""Render every prompt template against a sample job before a run writes anything, so a bad
template (an unknown `{field}`, a lone brace, a positional `{}`) is one line naming the file, the
line and the field, exit 2, and not an "internal error" after the run record is journaled."""
from __future__ import annotations

import re
from pathlib import Path

from em_gen.generate.plan import make_plan
from em_gen.generate.prompting import build_request, continuation_request
from em_gen.library import PROMPTS_DIR, BadInput, Library
from em_gen.quality.judge import judge_request
from em_gen.quality.irc import parse


def _line_of(text: str, needle: str) -> str:
    i = text.find(needle)
    return f" (line {text.count(chr(10), 0, i) + 1})" if i >= 0 else ""


def _bad_template(path: Path, text: str, e: Exception) -> BadInput:
    if isinstance(e, KeyError):
        name = str(e.args[0]) if e.args else "?"
        fields = sorted(set(re.findall(r"(?<!\{)\{([A-Za-z_]\w*)\}(?!\})", text)) - {name})
        return BadInput(f"{path}{_line_of(text, '{' + name)}: unknown field {{{name}}} in the template "
                        f"(write {{{{ and }}}} for literal braces; the other fields it uses: {', '.join(fields)})")
    if isinstance(e, IndexError):
        return BadInput(f"{path}{_line_of(text, '{}')}: a positional field {{}} in the template; "
                        "fields are named, like {engagement}")
    return BadInput(f"{path}: the template does not render ({e}); write {{{{ and }}}} for a literal brace")


def check_templates(lib: Library, prompts_dir: str | Path | None = None) -> None:
    """Build the first request, a continuation and a judge request for a sample job, as a run would."""
    pdir = Path(prompts_dir or PROMPTS_DIR)
    job = make_plan(lib, 1, 0, "check")[0]
    stages = (("job.md", lambda: build_request(lib, job)),
              ("continue.md", lambda: continuation_request(lib, job, first, [("someone", "hi")], part=1)),
              ("judge.md", lambda: judge_request(lib, job.id, parse(f"ENGAGEMENT: {job.engagement}\n"
                                                                    f"CHANNEL: {job.channel}\n<a> b\n"),
                                                 job.engagement, job.channel, None)))
    first = None
    for name, render in stages:
        try:
            req = render()
        except (KeyError, IndexError, ValueError, AttributeError) as e:
            raise _bad_template(pdir / name, lib.prompts.get(name, ""), e) from None
        if first is None:
            first = req
