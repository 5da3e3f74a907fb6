"""Accepted-dataset records for the export and smoke-training tests, built with em_gen.irc.render."""
from __future__ import annotations

import json
from pathlib import Path

from em_gen.quality.irc import render
from em_gen.train.tokens import sample_conversation

EDGE_LOGS = [
    # Em speaks last, so the EOS follows one of Em's lines
    ("LOW", "#general", [("kestrel", "anyone else think the new star wars movies were actually decent?"),
                         ("mossbyte", "they were terrible and you know it"),
                         ("Em", "honestly I liked them until the last one gave up on coherent plotting")]),
    # Em speaks first; a message wraps onto a second line (a continuation, no <nick>)
    ("HIGH", "#shoggoth", [("Em", "morning all, the coffee machine is making that noise again"),
                           ("jvk", "which noise\nthe grinding one or the screaming one"),
                           ("Em", "the screaming one. it sounds like it has opinions 🛑"),
                           ("tanuki_", "same as you then")]),
    # nobody is Em; an empty message; unicode
    ("MEDIUM", "#culture-war", [("hexane", "café talk: is pineapple on pizza a political issue?"),
                                ("quietriot", ""),
                                ("ollie_b", "ça dépend — in this channel everything is political")]),
    # Em twice in a row, and a nick that contains Em but is not Em
    ("MEDIUM", "#general", [("Emma", "hi Em"), ("Em", "hey Emma"), ("Em", "how was the trip?"),
                            ("kestrel", "she got lost in a museum of clocks")]),
]


def make_record(i: int, text: str, provider: str = "anthropic", bucket: str = "short") -> dict:
    engagement, channel = text.split("\n")[0].split(": ")[1], text.split("\n")[1].split(": ")[1]
    return {"text": text, "meta": {
        "job_id": f"test-{i:05d}", "pattern": None, "scenario": None, "topic": "everyday_life",
        "bucket": bucket, "engagement": engagement, "channel": channel, "model": "test-model",
        "provider": provider}}


def make_records(n: int = 40, n_messages: tuple[int, int] = (6, 14), provider: str = "anthropic",
                 edge: bool = True) -> list[dict]:
    """`n` records: the edge-case logs first (when `edge`), then synthetic logs of varying length."""
    texts = [render(e, c, m) for e, c, m in EDGE_LOGS] if edge else []
    i = 0
    while len(texts) < n:
        k = n_messages[0] + (i * 7) % (n_messages[1] - n_messages[0] + 1)
        texts.append(sample_conversation(k, (1, 2), seed=1000 + i,
                                         engagement=("LOW", "MEDIUM", "HIGH")[i % 3],
                                         channel=("#general", "#shoggoth", "#culture-war")[i % 3]))
        i += 1
    return [make_record(j, t, provider) for j, t in enumerate(texts[:n])]


def write_dataset(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path
