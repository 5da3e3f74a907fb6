"""The prompt teaches what the gate checks.

* Every example log in prompts/examples.md fits its label's engagement band (scenarios/mix.yaml) and
  passes em-gen's rule gate exactly as a generated log would (rendered with its header, parsed,
  checked): a teacher model copies the rhythm of the examples, so an example outside its band
  teaches conversations the gate then rejects and pays for twice. "Fits" is the stricter of two
  readings: the gate's count (`band_limits`: floor(lo*n)..ceil(hi*n), at least 1) and the count a
  job can ask for (plan.py: Em's share lo <= k/n <= hi; 2 of 11 passes the gate at LOW, but no LOW
  job of 11 messages asks for 2).
* prompts/character.md's "Em never" list names every failure family of scenarios/judge.yaml with a
  marker `<!-- family -->` on the family's bullet, and each bullet carries a concrete quoted line
  that is not the rubric's own `fail` line (so the prompt does not teach the judge's examples).
"""
from __future__ import annotations

import math
import re

import pytest

from em_gen.library import load_library
from em_gen.quality.irc import parse, render
from em_gen.quality.rules import Expect, band_limits, check

_HEADING = re.compile(r"^## (.+?) \((LOW|MEDIUM|HIGH), (#[\w-]+)\)\s*$")
_MESSAGE = re.compile(r"^<([^<>\s]+)> (.+)$")
_MARKER = re.compile(r"<!--\s*([a-z_]+)\s*-->")


def parse_examples(text: str) -> list[dict]:
    """Each `## Title (LEVEL, #channel)` section and its `<nick> message` lines. Any other `## `
    heading, or a `<` line that is not a message inside a section, is an error (so a new example
    with a malformed label cannot slip past the band check)."""
    out: list[dict] = []
    cur = None
    for no, line in enumerate(text.splitlines(), 1):
        if line.startswith("## "):
            m = _HEADING.match(line)
            assert m, f"examples.md:{no}: heading without '(LEVEL, #channel)': {line!r}"
            cur = {"title": m.group(1), "level": m.group(2), "channel": m.group(3), "messages": []}
            out.append(cur)
        elif line.startswith("<"):
            m = _MESSAGE.match(line)
            assert cur is not None and m, f"examples.md:{no}: not a message inside an example: {line!r}"
            cur["messages"].append((m.group(1), m.group(2)))
    return out


@pytest.fixture(scope="module")
def library():
    return load_library()


@pytest.fixture(scope="module")
def examples(library):
    ex = parse_examples(library.prompts["examples.md"])
    assert len(ex) >= 4, "examples.md should hold several example logs"
    return ex


def job_limits(n: int, lo: float, hi: float) -> tuple[int, int]:
    """Em counts a job of n messages can ask for (em_gen/generate/plan.py `_details`): a share inside
    the band, at least 1; when no whole count is inside, the one nearest the band's middle."""
    a, b = max(1, math.ceil(lo * n - 1e-9)), math.floor(hi * n + 1e-9)
    if a > b:
        a = b = max(1, round((lo + hi) / 2 * n))
    return a, b


def test_examples_fit_their_band(examples, library):
    bad = []
    for e in examples:
        n = len(e["messages"])
        k = sum(1 for nick, _ in e["messages"] if nick == library.em)
        lo, hi = library.band(e["level"])
        a, b = band_limits(n, lo, hi)
        ja, jb = job_limits(n, lo, hi)
        if not (a <= k <= b and ja <= k <= jb):
            bad.append(f"{e['title']} ({e['level']}): {library.em} writes {k} of {n} ({k / n:.0%}), the "
                       f"{lo:.0%}-{hi:.0%} band allows {ja}..{jb} (gate {a}..{b})")
    assert not bad, "examples outside their engagement band:\n  " + "\n  ".join(bad)


def test_examples_pass_the_rule_gate(examples, library):
    bad = []
    for e in examples:
        text = render(e["level"], e["channel"], e["messages"])
        parsed = parse(text)
        assert parsed.messages == e["messages"], f"{e['title']}: the log does not survive render + parse"
        verdict = check(parsed, library, Expect(engagement=e["level"], channel=e["channel"]))
        if not verdict.ok:
            bad.append(f"{e['title']}: {'; '.join(verdict.reasons)}")
    assert not bad, "example logs the rule gate rejects:\n  " + "\n  ".join(bad)


def _never_section(character: str) -> str:
    m = re.search(r"^# Em never\s*$(.*?)(?=^# |\Z)", character, re.MULTILINE | re.DOTALL)
    assert m, "character.md has no '# Em never' section"
    return m.group(1)


def test_character_names_every_judge_family(library):
    families = list(library.judge["families"])
    section = _never_section(library.prompts["character.md"])
    bullets = [b for b in re.split(r"^- ", section, flags=re.MULTILINE)[1:]]
    by_family: dict[str, str] = {}
    for b in bullets:
        for f in _MARKER.findall(b):
            assert f not in by_family, f"family {f} is marked on two bullets of 'Em never'"
            by_family[f] = b
    missing = [f for f in families if f not in by_family]
    assert not missing, f"'Em never' in character.md has no bullet marked <!-- family --> for: {missing}"
    unknown = [f for f in by_family if f not in families]
    assert not unknown, f"character.md marks families scenarios/judge.yaml does not have: {unknown}"
    for f in families:
        quoted = re.findall(r'"([^"]{8,})"', _MARKER.sub("", by_family[f]))
        assert quoted, f"the {f} bullet of 'Em never' has no concrete quoted line"
        fail = library.judge["families"][f]["fail"].lower()
        same = [q for q in quoted if q.lower() in fail or fail in q.lower()]
        assert not same, f"the {f} bullet copies the judge rubric's fail line: {same}"
