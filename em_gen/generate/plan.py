"""Spec -> a deterministic list of jobs with stable ids and the exact planned mix.

Every dimension (engagement, channel, topic, length, core pattern) is apportioned over the n jobs
with the largest-remainder method, so each count is within rounding of its weight. Political
topics only land in channels that allow them (#culture-war). Core jobs are spread so that every
sub-scenario meets as many engagement levels and channels as the counts allow.
"""
from __future__ import annotations

import hashlib
import math
import random
from collections import Counter, deque
from dataclasses import asdict, dataclass, replace

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
    subject: str
    messages: int
    em_messages: int
    nicks: tuple[str, ...]
    parent: str | None = None  # the job this one replaces after a rejection
    replacement: int = 0

    @property
    def cell(self) -> tuple:
        return (self.pattern, self.scenario, self.engagement, self.channel, self.topic, self.bucket)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["nicks"] = list(self.nicks)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Job":
        return cls(**{**d, "nicks": tuple(d["nicks"])})


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


def _details(lib: Library, rng: random.Random, engagement: str, topic: str, bucket: str) -> dict:
    lo, hi = lib.buckets()[bucket]
    n = rng.randint(lo, hi)
    band_lo, band_hi = lib.band(engagement)
    k_lo, k_hi = max(1, math.ceil(band_lo * n)), math.floor(band_hi * n)
    # inside the band, at least 1; if the band holds no whole count, the nearest to its middle
    k = rng.randint(k_lo, k_hi) if k_lo <= k_hi else max(1, round((band_lo + band_hi) / 2 * n))
    nicks = tuple(rng.sample(lib.other_nicks, rng.randint(4, 7) if bucket == "short" else rng.randint(5, 9)))
    subject = rng.choice(lib.topics[topic]["subjects"])
    return {"messages": n, "em_messages": k, "nicks": nicks, "subject": subject}


def _rng(seed: int, key: str) -> random.Random:
    return random.Random(int.from_bytes(hashlib.sha256(f"{seed}:{key}".encode()).digest()[:8], "big"))


def make_plan(lib: Library, n: int, seed: int, prefix: str) -> list[Job]:
    """n jobs with ids `<prefix>-00000`..; the same (library, n, seed, prefix) gives the same plan."""
    if n < 0:
        raise BadInput(f"number of jobs must be positive, got {n}")
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
        det = _details(lib, _rng(seed, job_id), row["engagement"], row["topic"], row["bucket"])
        jobs.append(Job(id=job_id, **row, **det))
    return jobs


def replacement_for(lib: Library, job: Job, seed: int) -> Job:
    """A fresh job for the same cell (pattern, scenario, engagement, channel, topic, bucket)."""
    root = job.parent or job.id
    k = job.replacement + 1
    new_id = f"{root}r{k}"
    det = _details(lib, _rng(seed, new_id), job.engagement, job.topic, job.bucket)
    return replace(job, id=new_id, parent=root, replacement=k, **det)


def average_bytes(lib: Library) -> float:
    mix = lib.mix
    return sum(v["weight"] * mix["bytes_per_conversation"][k] for k, v in mix["lengths"].items())


def jobs_for_bytes(lib: Library, target_bytes: int) -> int:
    return max(1, math.ceil(target_bytes / average_bytes(lib)))


def mix_of(jobs: list[Job]) -> dict[str, dict[str, int]]:
    return {d: dict(Counter(getattr(j, d) for j in jobs)) for d in DIMENSIONS}
