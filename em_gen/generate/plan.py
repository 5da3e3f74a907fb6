"""Spec -> a deterministic list of jobs with stable ids and the exact planned mix.

Every dimension (engagement, channel, topic, length, core pattern) is apportioned over the n jobs
with the largest-remainder method, so each count is within rounding of its weight. Political
topics only land in channels that allow them (#culture-war). Core jobs are spread so that every
sub-scenario meets as many engagement levels and channels as the counts allow.

Every job, core jobs included, gets a premise of its topic (the opening situation of the chat) and
a cast: a nick and a one-line voice for each other speaker, all dealt without replacement
(generate/deal.py). A replacement job keeps the premise and cast of the job it replaces (that
job's log is not in the dataset) and gets fresh message counts.
"""
from __future__ import annotations

import math
import random
from collections import Counter, deque
from dataclasses import asdict, dataclass, fields, replace

from em_gen.generate.deal import Dealer, rng_for
from em_gen.library import BadInput, Library

NATURAL = "natural"
DIMENSIONS = ("engagement", "channel", "topic", "bucket", "pattern")


@dataclass(frozen=True)
class Job:
    id: str
    pattern: str  # a core pattern id, or "natural"
    scenario: str | None  # "pattern/sub" for core jobs
    engagement: str
    channel: str
    topic: str
    bucket: str
    premise: str  # the opening situation (scenarios/premises/), never about Em
    messages: int
    em_messages: int
    nicks: tuple[str, ...]  # the other speakers
    voices: tuple[str, ...] = ()  # one voice per nick, in the same order
    parent: str | None = None  # the job this one replaces after a rejection
    replacement: int = 0

    @property
    def cell(self) -> tuple:
        return (self.pattern, self.scenario, self.engagement, self.channel, self.topic, self.bucket)

    @property
    def cast(self) -> list[tuple[str, str]]:
        """(nick, voice) for each other speaker."""
        return list(zip(self.nicks, self.voices or ("",) * len(self.nicks)))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["nicks"], d["voices"] = list(self.nicks), list(self.voices)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Job":
        """A journaled job; one journaled before premises existed gets an empty premise and cast voices."""
        known = {f.name for f in fields(cls)}
        d = {k: v for k, v in d.items() if k in known}
        d.setdefault("premise", "")
        return cls(**{**d, "nicks": tuple(d["nicks"]), "voices": tuple(d.get("voices") or ())})


def apportion(n: int, weights: dict[str, float]) -> dict[str, int]:
    """Largest-remainder apportionment of n items over weights (ties go to the earlier key)."""
    total = sum(weights.values())
    quotas = {k: n * w / total for k, w in weights.items()}
    counts = {k: math.floor(q) for k, q in quotas.items()}
    left = n - sum(counts.values())
    order = sorted(weights, key=lambda k: (-(quotas[k] - counts[k]), list(weights).index(k)))
    for k in order[:left]:
        counts[k] += 1
    return counts


class _Pool:
    """A shuffled multiset of values. `pop()` takes the last item; `take_spread(used)` takes the
    value this group has used least (earliest in pool order on ties). O(values) per take."""

    def __init__(self, counts: dict[str, int], rng: random.Random):
        items = [k for k, c in counts.items() for _ in range(c)]
        rng.shuffle(items)
        self.items = items
        self.heads: dict[str, deque] = {}
        for i, v in enumerate(items):
            self.heads.setdefault(v, deque()).append(i)

    def pop(self) -> str:
        v = max((q[-1], v) for v, q in self.heads.items() if q)[1]
        self.heads[v].pop()
        return v

    def take_spread(self, used: Counter) -> str:
        v = min((used[v], q[0], v) for v, q in self.heads.items() if q)[2]
        self.heads[v].popleft()
        used[v] += 1
        return v


def _counts(lib: Library, rng: random.Random, engagement: str, bucket: str) -> dict:
    lo, hi = lib.buckets()[bucket]
    n = rng.randint(lo, hi)
    band_lo, band_hi = lib.band(engagement)
    k_lo, k_hi = max(1, math.ceil(band_lo * n)), math.floor(band_hi * n)
    # inside the band, at least 1; if the band holds no whole count, the nearest to its middle
    k = rng.randint(k_lo, k_hi) if k_lo <= k_hi else max(1, round((band_lo + band_hi) / 2 * n))
    return {"messages": n, "em_messages": k}


def cast_size(rng: random.Random, bucket: str) -> int:
    return rng.randint(4, 7) if bucket == "short" else rng.randint(5, 9)


_rng = rng_for


def make_plan(lib: Library, n: int, seed: int, prefix: str, dealer: Dealer | None = None) -> list[Job]:
    """n jobs with ids `<prefix>-00000`..; the same (library, n, seed, prefix) gives the same plan.
    Premises and casts come from `dealer` (a fresh one for `seed` unless given): pass the dealer of
    the folder's earlier runs to continue their decks (plan_runs)."""
    if n < 0:
        raise BadInput(f"number of jobs must be positive, got {n}")
    dealer = dealer or Dealer(lib, seed)
    rng = _rng(seed, f"plan:{prefix}:{n}")
    mix = lib.mix
    split = apportion(n, {"core": mix["core_share"], NATURAL: 1 - mix["core_share"]})
    patterns = lib.core["patterns"]
    per_pattern = apportion(split["core"], {p: v["weight"] for p, v in patterns.items()})
    core_slots: list[tuple[str, str]] = []  # (pattern, scenario) round-robin over sub-scenarios
    for p, count in per_pattern.items():
        subs = list(patterns[p]["scenarios"])
        core_slots += [(p, f"{p}/{subs[i % len(subs)]}") for i in range(count)]
    engagement = _Pool(apportion(n, {k: v["weight"] for k, v in mix["engagement"].items()}), rng)
    channels = _Pool(apportion(n, {k: v["weight"] for k, v in mix["channels"].items()}), rng)
    buckets = _Pool(apportion(n, {k: v["weight"] for k, v in mix["lengths"].items()}), rng)

    slots = core_slots + [(NATURAL, None)] * split[NATURAL]
    seen_eng: dict[str | None, Counter] = {}
    seen_chan: dict[str | None, Counter] = {}
    rows = []
    for pattern, scenario in slots:
        if scenario is None:
            eng, chan = engagement.pop(), channels.pop()
        else:  # spread each sub-scenario over engagement levels and channels
            eng = engagement.take_spread(seen_eng.setdefault(scenario, Counter()))
            chan = channels.take_spread(seen_chan.setdefault(scenario, Counter()))
        rows.append({"pattern": pattern, "scenario": scenario, "engagement": eng, "channel": chan,
                     "bucket": buckets.pop()})

    # Topics: restricted topics (political) go only to jobs in their allowed channels.
    topic_counts = apportion(n, {k: v["weight"] for k, v in lib.topics.items()})
    restricted = {t: set(v["channels"]) for t, v in lib.topics.items() if v.get("channels")}
    order = list(range(n))
    rng.shuffle(order)
    for t, allowed in restricted.items():
        fits = [i for i in order if rows[i]["channel"] in allowed and "topic" not in rows[i]]
        if len(fits) < topic_counts[t]:
            raise BadInput(f"scenarios/topics.yaml: $.topics.{t}: {topic_counts[t]} jobs planned but only "
                           f"{len(fits)} are in its channels {sorted(allowed)}; raise those channels' weight")
        for i in fits[: topic_counts[t]]:
            rows[i]["topic"] = t
    free = _Pool({t: c for t, c in topic_counts.items() if t not in restricted}, rng)
    for i in order:
        if "topic" not in rows[i]:
            rows[i]["topic"] = free.pop()

    jobs = []
    for i, row in enumerate(rows):
        job_id = f"{prefix}-{i:05d}"
        jrng = _rng(seed, job_id)
        det = _counts(lib, jrng, row["engagement"], row["bucket"])
        premise = dealer.premise(row["topic"])
        nicks, voices = dealer.cast(cast_size(jrng, row["bucket"]))
        jobs.append(Job(id=job_id, **row, premise=premise, **det, nicks=nicks, voices=voices))
    return jobs


def plan_runs(lib: Library, runs: list[dict]) -> tuple[dict[str, list[Job]], Dealer | None]:
    """The plans of an output folder's runs (journal run records, extensions included; --test runs
    aside), dealt in journal order from one dealer seeded by the first run: (prefix -> jobs, dealer)."""
    planned: list[tuple[str, int, int]] = []
    for r in runs:
        if r.get("n") and r.get("mode") != "test":
            prefix = r["run"] if not r.get("extension") else f"{r['run']}x{r['extension']}"
            if not any(p[0] == prefix for p in planned):
                planned.append((prefix, r["n"], r.get("seed", 0)))
    if not planned:
        return {}, None
    dealer = Dealer(lib, planned[0][2])
    return {prefix: make_plan(lib, n, seed, prefix, dealer) for prefix, n, seed in planned}, dealer


def run_plan(plans: dict[str, list[Job]], run_id: str) -> list[Job]:
    """One run's jobs (its extensions included) out of plan_runs()."""
    return [j for prefix, jobs in plans.items() if prefix == run_id or prefix.startswith(run_id + "x") for j in jobs]


def replacement_for(lib: Library, job: Job, seed: int) -> Job:
    """A fresh job for the same cell (pattern, scenario, engagement, channel, topic, bucket), with
    the same premise and cast (the rejected log is not kept, so they stay used once) and fresh counts."""
    root = job.parent or job.id
    k = job.replacement + 1
    new_id = f"{root}r{k}"
    det = _counts(lib, _rng(seed, new_id), job.engagement, job.bucket)
    return replace(job, id=new_id, parent=root, replacement=k, **det)


def average_bytes(lib: Library) -> float:
    mix = lib.mix
    return sum(v["weight"] * mix["bytes_per_conversation"][k] for k, v in mix["lengths"].items())


def jobs_for_bytes(lib: Library, target_bytes: int) -> int:
    return max(1, math.ceil(target_bytes / average_bytes(lib)))


def mix_of(jobs: list[Job]) -> dict[str, dict[str, int]]:
    return {d: dict(Counter(getattr(j, d) for j in jobs)) for d in DIMENSIONS}
