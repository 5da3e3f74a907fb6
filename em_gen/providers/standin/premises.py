"""The stand-in's answer to `em-gen premises --expand`: `- ` lines of premises composed from the
phrase grammar's `premises` section (scenarios/grammar.yaml), seeded by the prompt. Honest filler
for trying the command offline, never for the library."""
from __future__ import annotations

import random
import re

from em_gen.providers.standin.jobs import _SLOT, load_grammar, seed_of

_ASK = re.compile(r"Write (\d+) new premises for the topic \"([^\"]+)\"")


def answer(prompt: str, grammar: dict | None = None) -> str:
    g = (grammar or load_grammar())["premises"]
    m = _ASK.search(prompt)
    k = int(m.group(1)) if m else 10
    rng = random.Random(seed_of(prompt, "premises"))
    pools = {name: rng.sample(values, len(values)) for name, values in g.items() if name != "templates"}
    lines = []
    for i in range(k):
        tpl = g["templates"][i % len(g["templates"])] if i < len(g["templates"]) else rng.choice(g["templates"])

        def fill(slot: re.Match) -> str:
            pool = pools[slot.group(1)]
            value = pool.pop() if pool else rng.choice(g[slot.group(1)])
            return value

        lines.append("- " + _SLOT.sub(fill, tpl))
    return "\n".join(lines) + "\n"
