"""Dataset-level diversity in --status and --report: every near-duplicate pair across the dataset,
premise / nick / voice reuse among kept logs, and the most repeated content n-grams (a fact the
teacher keeps telling shows however it is phrased)."""
from __future__ import annotations

import json

from em_gen.cli import main
from em_gen.generate.diversity import dataset_diversity
from em_gen.generate.journal import State

BASE = ["<kestrel> my landlord finally fixed the heating after three weeks of emails and one very sad voicemail",
        "<jvk> three weeks is a long time to live in a coat indoors",
        "<Em> {fact}",
        "<rue> the voicemail is what did it, nobody can resist a sad voicemail",
        "<kestrel> I did cry a bit on it, not going to lie",
        "<jvk> tactical crying, respect"]


def _log(fact: str, swap: str | None = None) -> str:
    lines = [x.format(fact=fact) for x in BASE]
    if swap:
        lines[-1] = swap
    return "ENGAGEMENT: LOW\nCHANNEL: #general\n" + "\n".join(lines)


def _state(texts: list[tuple[str, str, str]]) -> State:
    st = State()
    for jid, premise, text in texts:
        st.add({"t": "response", "job": {"id": jid, "premise": premise, "nicks": ["kestrel", "jvk", "rue"],
                                         "voices": ["dry nurse", "cheerful postman", "anxious student"]}})
        st.add({"t": "verdict", "job_id": jid, "ok": True, "text": text, "reasons": []})
    return st


def test_pairs_reuse_and_repeated_facts():
    a = _log("ok so right after that I read that wombats do cube shaped droppings and I can't stop thinking about it")
    b = _log("ok so right after that I read that wombats do cube shaped droppings and I can't stop thinking about it",
             swap="<jvk> tactical crying, huge respect")
    c = ("ENGAGEMENT: HIGH\nCHANNEL: #shoggoth\n<mika> what's the weirdest animal fact you know\n"
         "<Em> honestly nothing beats wombats and their cube shaped droppings, nature had one weird idea\n"
         "<sable> that cannot be real\n<mika> it's real, I've seen the pictures\n<sable> I did not need to know that")
    st = _state([("j1", "premise one", a), ("j2", "premise one", b), ("j3", "premise two", c)])
    d = dataset_diversity(st, "Em")
    assert d["near_duplicate_pairs"]["0.8"] == 1 and d["closest_pairs"][0][:2] == ["j1", "j2"]
    assert d["premises"] == {"distinct": 2, "kept_with_premise": 3, "largest_reuse": 2}
    assert d["max_nick_share"] == 1.0 and d["max_voice_share"] == 1.0
    em = dict(map(tuple, d["em_content_ngrams"]))
    assert em["wombats cube shaped"] == 3 and em["cube shaped droppings"] == 3
    assert "ok right read" not in em  # Em's opener words are left to the openers table
    every = dict(map(tuple, d["content_ngrams"]))
    assert every["cube shaped droppings"] == 3
    assert d == dataset_diversity(st, "Em")


def test_distinct_logs_make_no_pair():
    st = _state([("j1", "p1", _log("cats are better roommates than most people I have lived with")),
                 ("j2", "p2", "ENGAGEMENT: LOW\nCHANNEL: #general\n<ash> the bus was late again\n"
                              "<Em> the bus is always late, it is a lifestyle\n<ash> a bad one\n<mo> the worst")])
    d = dataset_diversity(st, "Em")
    assert d["near_duplicate_pairs"] == {"0.5": 0, "0.8": 0} and d["closest_pairs"] == []


def test_status_and_report_show_it(tmp_path, capsys):
    out = tmp_path / "d"
    assert main(["--batch", "12", "--out", str(out), "--no-progress"]) == 0
    stats = json.loads((out / "generation_stats.json").read_text())
    d = stats["dataset_diversity"]
    assert d["conversations"] == stats["accepted"] and d["premises"]["largest_reuse"] == 1
    capsys.readouterr()
    assert main(["--status", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "near-duplicate pairs: 0 at Jaccard >= 0.5" in text and "most repeated content 3-grams in Em's lines" in text
    assert main(["--report", "--out", str(out)]) == 0
    page = (out / "report.html").read_text()
    assert "Across the dataset" in page and "Em&#x27;s most repeated content 3-grams" in page
