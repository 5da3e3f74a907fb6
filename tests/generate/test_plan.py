import math

import pytest

from em_gen.generate.plan import apportion, jobs_for_bytes, make_plan, mix_of, replacement_for


@pytest.mark.parametrize("n", [1, 7, 20, 37, 100, 333, 3400])
def test_every_weight_within_rounding(lib, n):
    jobs = make_plan(lib, n, 0, "t")
    mix = mix_of(jobs)
    weights = {
        "engagement": {k: v["weight"] for k, v in lib.mix["engagement"].items()},
        "channel": {k: v["weight"] for k, v in lib.mix["channels"].items()},
        "topic": {k: v["weight"] for k, v in lib.topics.items()},
        "bucket": {k: v["weight"] for k, v in lib.mix["lengths"].items()},
    }
    for dim, w in weights.items():
        for k, share in w.items():
            assert abs(mix[dim].get(k, 0) - share * n) < 1, (dim, k, mix[dim], n)
    n_core = sum(1 for j in jobs if j.scenario)
    assert abs(n_core - lib.mix["core_share"] * n) < 1
    for p, spec in lib.core["patterns"].items():
        assert abs(mix["pattern"].get(p, 0) - spec["weight"] * n_core) < 1


def test_apportion_is_largest_remainder():
    assert apportion(10, {"a": 0.45, "b": 0.35, "c": 0.2}) == {"a": 5, "b": 3, "c": 2}  # 4.5, 3.5, 2 -> a gets the tie
    assert apportion(3, {"a": 1 / 3, "b": 1 / 3, "c": 1 / 3}) == {"a": 1, "b": 1, "c": 1}
    assert sum(apportion(101, {"x": 0.7, "y": 0.2, "z": 0.1}).values()) == 101


def test_plan_is_deterministic_with_stable_ids(lib):
    a, b = make_plan(lib, 50, 3, "full1"), make_plan(lib, 50, 3, "full1")
    assert a == b and [j.id for j in a] == [f"full1-{i:05d}" for i in range(50)]
    assert make_plan(lib, 50, 4, "full1") != a


def test_political_only_in_culture_war_and_counts_in_band(lib):
    for j in make_plan(lib, 500, 1, "t"):
        if j.topic == "political":
            assert j.channel == "#culture-war"
        lo, hi = lib.band(j.engagement)
        assert math.floor(lo * j.messages) <= j.em_messages <= math.ceil(hi * j.messages) and j.em_messages >= 1
        blo, bhi = lib.buckets()[j.bucket]
        assert blo <= j.messages <= bhi
        assert lib.em not in j.nicks and len(set(j.nicks)) == len(j.nicks) >= 4


def test_core_sub_scenarios_spread_over_engagement(lib):
    jobs = make_plan(lib, 200, 0, "t")
    by_sub = {}
    for j in jobs:
        if j.scenario:
            by_sub.setdefault(j.scenario, set()).add(j.engagement)
    assert len(by_sub) == sum(len(p["scenarios"]) for p in lib.core["patterns"].values())
    assert all(len(levels) == 3 for levels in by_sub.values())


def test_replacement_keeps_the_cell_with_a_new_id(lib):
    job = make_plan(lib, 10, 0, "t")[3]
    r1 = replacement_for(lib, job, 0)
    r2 = replacement_for(lib, r1, 0)
    assert r1.cell == job.cell == r2.cell
    assert (r1.id, r2.id) == (f"{job.id}r1", f"{job.id}r2") and r2.parent == job.id
    assert r1 == replacement_for(lib, job, 0)


def test_jobs_for_target(lib):
    assert jobs_for_bytes(lib, 15_000_000) > 2000
    assert jobs_for_bytes(lib, 1) == 1
