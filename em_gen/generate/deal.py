"""Dealing premises and casts to the jobs of a plan, without replacement.

Each pool (the premises of one topic, the nicks, the voices) is a deck shuffled by the seed. A deal
takes the least-used item, in deck order; once every item of a deck has been dealt as often as the
others, the next round is shuffled afresh, so no two rounds repeat the same order and the same
speakers are not always dealt together. A plan that needs more premises of a topic than the
library holds therefore reuses the least-used ones, and `reused` says how many it had to.

One `Dealer` serves every run of an output folder in journal order (`plan.plan_runs`), so a second
`--batch` run or a `--full` extension continues the decks instead of starting them again.
"""
from __future__ import annotations

import hashlib
import random
from collections import Counter, deque

from em_gen.library import BadInput, Library


def rng_for(seed: int, key: str) -> random.Random:
    return random.Random(int.from_bytes(hashlib.sha256(f"{seed}:{key}".encode()).digest()[:8], "big"))


class Deck:
    """Least-used first, ties in (per-round shuffled) deck order; O(1) per deal in practice."""

    def __init__(self, items, rng: random.Random):
        order = list(dict.fromkeys(items))
        rng.shuffle(order)
        self.rng = rng
        self.size = len(order)
        self.levels: dict[int, deque] = {0: deque(order)} if order else {}
        self.shuffled = {0}

    def take(self, avoid=()) -> tuple[str, int]:
        """(item, how often it had been dealt before). Items in `avoid` are skipped while any other is left."""
        for strict in (True, False):
            for lvl in sorted(self.levels):
                q = self.levels[lvl]
                if lvl not in self.shuffled:
                    items = list(q)
                    self.rng.shuffle(items)
                    q = self.levels[lvl] = deque(items)
                    self.shuffled.add(lvl)
                for idx, x in enumerate(q):
                    if strict and x in avoid:
                        continue
                    del q[idx]
                    if not q:
                        del self.levels[lvl]
                    self.levels.setdefault(lvl + 1, deque()).append(x)
                    return x, lvl
        raise BadInput("nothing to deal from an empty pool")


class Dealer:
    def __init__(self, lib: Library, seed: int):
        self.premises = {t: Deck(ps, rng_for(seed, f"premises:{t}")) for t, ps in (lib.premises or {}).items()}
        self.nicks = Deck(lib.other_nicks, rng_for(seed, "nicks"))
        self.voices = Deck(lib.voices, rng_for(seed, "voices"))
        self.reused: Counter = Counter()  # topic -> premises dealt again because the library ran short
        self.dealt: Counter = Counter()  # topic -> premises dealt

    def premise(self, topic: str) -> str:
        deck = self.premises.get(topic)
        if deck is None or not deck.size:
            raise BadInput(f"scenarios/premises/: no premises for topic {topic!r}")
        text, uses = deck.take()
        self.dealt[topic] += 1
        if uses:
            self.reused[topic] += 1
        return text

    def cast(self, size: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """`size` distinct nicks (as many as the pool has) and a voice for each."""
        size = min(size, self.nicks.size)
        nicks: list[str] = []
        voices: list[str] = []
        for _ in range(size):
            nicks.append(self.nicks.take(nicks)[0])
            voices.append(self.voices.take(voices)[0] if self.voices.size else "")
        return tuple(nicks), tuple(voices)


def shortfall(lib: Library, dealer: Dealer) -> dict[str, tuple[int, int, int]]:
    """topic -> (premises dealt, premises in the library, dealt again) for the topics that ran short."""
    return {t: (dealer.dealt[t], len(lib.premises[t]), n) for t, n in dealer.reused.items() if n}


def shortfall_line(lib: Library, dealer: Dealer) -> str | None:
    """One line for --estimate and --full: how many premises the library lacks, or None."""
    short = shortfall(lib, dealer)
    if not short:
        return None
    total = sum(n for _, _, n in short.values())
    parts = ", ".join(f"{t} {n} (needs {d}, has {h})" for t, (d, h, n) in sorted(short.items(), key=lambda x: -x[1][2]))
    first = max(short, key=lambda t: short[t][2])
    return (f"premises: the library is {total} short for this plan: {parts}; the least-used are reused. "
            f"Add more with `em-gen premises --expand {short[first][2]} --topic {first}`")
