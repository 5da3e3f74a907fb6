"""The premise, voice and nick pools (scenarios/premises/, voices.yaml, nicks.yaml): big enough for the
--full plan, free of near-duplicates, never about Em; and the loader's refusals of bad premise files."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from em_gen.generate.plan import jobs_for_bytes, make_plan
from em_gen.library import ROOT, BadInput, load_library
from em_gen.quality.similar import jaccard, near_pairs, shingles

NEAR = 0.5  # MinHash/Jaccard on word 3-grams: two premises this close are one premise


def test_pools_are_big_enough(lib):
    total = sum(map(len, lib.premises.values()))
    assert total >= 1500
    assert len(lib.voices) >= 300 and len(lib.other_nicks) >= 1500
    assert lib.em not in lib.other_nicks


def test_every_topic_has_a_premise_for_each_of_its_full_plan_jobs(lib):
    """Spread by the mix's weights: the --full plan never has to reuse one."""
    jobs = make_plan(lib, jobs_for_bytes(lib, 15_000_000), 1, "full1")
    need: dict[str, int] = {}
    for j in jobs:
        need[j.topic] = need.get(j.topic, 0) + 1
    short = {t: (n, len(lib.premises[t])) for t, n in need.items() if len(lib.premises[t]) < n}
    assert not short, f"topic: (jobs, premises) {short}"


def test_no_near_duplicate_premises_across_all_files(lib):
    texts = [p for ps in lib.premises.values() for p in ps]
    pairs = near_pairs(texts, NEAR)
    assert not pairs, "near-duplicates (Jaccard >= 0.5 on word 3-grams):\n" + "\n".join(
        f"  {s:.2f}: {texts[i]!r} ~ {texts[j]!r}" for i, j, s in pairs[:20])


def test_near_pairs_finds_what_it_should():
    a = "someone's flatmate has labelled every shelf of the fridge with their initials, the butter included"
    b = "someone's flatmate has labelled every shelf of the fridge with their initials, even the eggs"
    c = "a regular's cat has learned to open the fridge and now steals butter at night"
    assert jaccard(shingles(a), shingles(b)) >= NEAR > jaccard(shingles(a), shingles(c))
    assert near_pairs([a, c, b], NEAR) == [(0, 2, pytest.approx(jaccard(shingles(a), shingles(b))))]
    assert near_pairs([a, c], NEAR) == []


def test_no_premise_or_voice_speaks_of_em(lib):
    import re
    em = re.compile(rf"\b{lib.em}\b", re.I)
    assert not [p for ps in lib.premises.values() for p in ps if em.search(p) and "em dash" not in p.lower()]
    assert not [v for v in lib.voices if em.search(v)]


# ---- the loader --------------------------------------------------------------------------------
@pytest.fixture
def sdir(tmp_path):
    d = tmp_path / "scenarios"
    shutil.copytree(ROOT / "scenarios", d)
    return d


def _write(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def test_expanded_files_are_loaded_after_the_hand_written_ones(sdir):
    base = load_library(sdir)
    new = ["a pensioner in Ghent has started timing the tram with an egg timer and posts the results on the shelter"]
    _write(sdir / "premises" / "expanded" / "everyday_life-20261204T190000.yaml",
           {"topic": "everyday_life", "source": "test", "premises": new})
    lib = load_library(sdir)
    assert lib.premises["everyday_life"] == base.premises["everyday_life"] + tuple(new)
    assert lib.premise_files[-1] == "premises/expanded/everyday_life-20261204T190000.yaml"
    assert lib.fingerprint != base.fingerprint


@pytest.mark.parametrize("data,needle", [
    ({"topic": "gardening", "premises": ["someone has grown a marrow so big it needs its own chair now"]},
     "$.topic: unknown topic 'gardening'"),
    ({"topic": "everyday_life", "premises": ["too short"]}, "$.premises[0]"),
    ({"topic": "everyday_life", "premises": ["Em has been asked to name the channel's new mascot pigeon"]},
     "never speaks of Em"),
    ({"topic": "everyday_life"}, "'premises' is a required property"),
])
def test_bad_premise_files_are_one_clear_line(sdir, data, needle):
    _write(sdir / "premises" / "extra" / "bad.yaml", data)
    with pytest.raises(BadInput) as e:
        load_library(sdir)
    msg = str(e.value)
    assert "bad.yaml" in msg and needle in msg and "\n" not in msg


def test_a_premise_in_two_files_is_refused(sdir):
    first = yaml.safe_load((sdir / "premises" / "everyday_life.yaml").read_text())["premises"][0]
    _write(sdir / "premises" / "expanded" / "dup.yaml", {"topic": "everyday_life", "premises": [first.upper()]})
    with pytest.raises(BadInput, match=r"dup\.yaml: \$\.premises\[0\]: the same premise is already in premises/everyday_life\.yaml"):
        load_library(sdir)


def test_missing_topic_or_folder_is_refused(sdir):
    (sdir / "premises" / "political.yaml").unlink()
    with pytest.raises(BadInput, match="no premises for topic\\(s\\) political"):
        load_library(sdir)
    shutil.rmtree(sdir / "premises")
    with pytest.raises(BadInput, match="premises: folder not found"):
        load_library(sdir)


def test_a_voice_naming_em_is_refused(sdir):
    data = yaml.safe_load((sdir / "voices.yaml").read_text())
    data["voices"].append("Em's biggest fan, types fast")
    _write(sdir / "voices.yaml", data)
    with pytest.raises(BadInput, match=r"voices\.yaml: \$\.voices\[\d+\]: a voice is for the other speakers"):
        load_library(sdir)
