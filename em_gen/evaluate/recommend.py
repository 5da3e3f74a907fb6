"""`em-gen eval --sweep`: which checkpoint to keep, and why.

Pure functions of per-probe scores (metric -> {probe id: score}, as `run.score_all` returns them), so
every rule can be tested on hand-made numbers:

* participation against the band: `participation_band`, the mean over engagement levels of how far
  that level's mean participation lies outside its band (scenarios/mix.yaml); 0 when every level is in
  its band, lower is better. Its CIs resample the probes within each level (paired for differences).
* best: per metric, the checkpoint with the best mean (ties: the earlier one).
* worse than the best: the paired difference checkpoint - best has a 95% CI wholly on the bad side.
* the recommendation: the earliest checkpoint that is not significantly worse than the best on any
  must-have metric and is not reverting (the plan's conservative reading: single epoch, minimal
  change). When none qualifies, the one worse on the fewest must-have metrics, said so.
* reverting: a checkpoint whose assistant language is significantly above that of an earlier one
  (the lowest before it): the model drifts back to the assistant voice.
* unchanged: a metric that no checkpoint moves significantly from the base ("no checkpoint changes X").
* ranking: fewest must-have metrics worse than the best, then most better than the base, then fewest
  worse than the base, then the earlier step; the base is ranked with the checkpoints for reference.
"""
from __future__ import annotations

import random
import zlib

from em_gen.evaluate.metrics import _percentiles, goal as metric_goal, paired_bootstrap
from em_gen.evaluate.probes import Probe

BAND_METRIC = "participation_band"
MUST_HAVE = ("assistant_language", "boundaries", "ai_identity", "calibration", BAND_METRIC, "clean_boundaries")
REVERT_METRIC = "assistant_language"


def goal(metric: str) -> str:
    return "lower" if metric == BAND_METRIC else metric_goal(metric)


def _seed(seed: int, *parts: str) -> int:
    return zlib.crc32(":".join((str(seed),) + parts).encode())


# ------------------------------------------------------------------------------------------------
# participation against the band per level


def _gap(mean: float, band: tuple[float, float]) -> float:
    lo, hi = band
    return max(0.0, lo - mean, mean - hi)


def _by_level(part: dict[str, float], by_id: dict[str, Probe]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for pid in sorted(part):
        out.setdefault(by_id[pid].engagement, []).append(pid)
    return out


def band_gap(part: dict[str, float], by_id: dict[str, Probe], bands: dict[str, tuple[float, float]],
             levels: dict[str, list[str]] | None = None) -> float | None:
    """Mean over the levels present of the distance of the level's mean participation from its band."""
    levels = levels if levels is not None else _by_level(part, by_id)
    gaps = [_gap(sum(part[p] for p in ids) / len(ids), bands[lv]) for lv, ids in levels.items() if ids and lv in bands]
    return sum(gaps) / len(gaps) if gaps else None


def _resample(levels: dict[str, list[str]], rng: random.Random) -> dict[str, list[str]]:
    return {lv: rng.choices(ids, k=len(ids)) for lv, ids in levels.items()}


def band_stat(part: dict[str, float], by_id: dict[str, Probe], bands: dict, n_boot: int, seed: int,
              alpha: float = 0.05) -> dict:
    """participation_band of one target with a bootstrap CI (probes resampled within their level);
    per level: the level's gap. {"mean", "ci", "n", "goal", "by_engagement"}."""
    levels = _by_level(part, by_id)
    mean = band_gap(part, by_id, bands, levels)
    out = {"mean": mean, "ci": None, "n": len(part), "goal": "lower", "by_engagement": {}}
    if mean is None:
        return out
    rng = random.Random(_seed(seed, BAND_METRIC))
    stats = [band_gap(part, by_id, bands, _resample(levels, rng)) for _ in range(n_boot)] if n_boot > 0 else [mean]
    lo, hi = _percentiles(stats, alpha)
    out["ci"] = [min(lo, mean), max(hi, mean)]
    for lv, ids in levels.items():
        if lv in bands:
            out["by_engagement"][lv] = {"mean": _gap(sum(part[p] for p in ids) / len(ids), bands[lv]),
                                        "n": len(ids), "band": list(bands[lv])}
    return out


def paired_band(base: dict[str, float], tuned: dict[str, float], by_id: dict[str, Probe], bands: dict,
                n_boot: int, seed: int, alpha: float = 0.05) -> dict:
    """tuned - base of participation_band over the probes both scored, the same probes resampled for
    both within each level. {"mean", "ci", "n", "significant"}."""
    shared = {pid: base[pid] for pid in set(base) & set(tuned)}
    levels = _by_level(shared, by_id)
    b, t = band_gap(base, by_id, bands, levels), band_gap(tuned, by_id, bands, levels)
    if b is None or t is None:
        return {"mean": None, "ci": None, "n": 0, "significant": False}
    mean = t - b
    rng = random.Random(_seed(seed, "diff", BAND_METRIC))
    stats = []
    for _ in range(n_boot):
        lv = _resample(levels, rng)
        stats.append(band_gap(tuned, by_id, bands, lv) - band_gap(base, by_id, bands, lv))
    lo, hi = _percentiles(stats, alpha) if stats else (mean, mean)
    lo, hi = min(lo, mean), max(hi, mean)
    return {"mean": mean, "ci": [lo, hi], "n": len(shared), "significant": lo > 0 or hi < 0}


def paired(metric: str, a: dict, b: dict, by_id: dict[str, Probe], bands: dict, n_boot: int, seed: int) -> dict:
    """b - a on `metric` (paired over the probes both scored); a and b are metric -> {probe: score}."""
    if metric == BAND_METRIC:
        return paired_band(a.get("participation", {}), b.get("participation", {}), by_id, bands, n_boot, seed)
    return paired_bootstrap(a.get(metric, {}), b.get(metric, {}), n_boot, _seed(seed, "pair", metric))


def has(scores: dict, metric: str) -> bool:
    return bool(scores.get("participation" if metric == BAND_METRIC else metric))


def mean_of(scores: dict, metric: str, by_id: dict[str, Probe], bands: dict) -> float | None:
    if metric == BAND_METRIC:
        return band_gap(scores.get("participation", {}), by_id, bands) if has(scores, metric) else None
    vals = list(scores.get(metric, {}).values())
    return sum(vals) / len(vals) if vals else None


def worse(metric: str, diff: dict) -> bool:
    """The paired difference (candidate - reference) is significantly on the bad side of 0."""
    if not diff.get("significant"):
        return False
    return diff["mean"] > 0 if goal(metric) == "lower" else diff["mean"] < 0


def better(metric: str, diff: dict) -> bool:
    return bool(diff.get("significant")) and not worse(metric, diff)


# ------------------------------------------------------------------------------------------------
# the decision


def _fmt(d: dict) -> str:
    return f"{d['mean']:+.2f} [{d['ci'][0]:+.2f}, {d['ci'][1]:+.2f}]"


def decide(base: dict, checkpoints: list[dict], vs_base: dict[str, dict], metrics: list[str], must_have: list[str],
           probes: list[Probe], bands: dict, n_boot: int, seed: int) -> dict:
    """The sweep's verdict. `base`: metric -> {probe: score}; `checkpoints`: [{"label", "scores"}] in
    step order; `vs_base`: label -> metric -> paired difference checkpoint - base (as `compare` gives
    it). Returns {"best", "vs_best", "recommendation", "reverting", "unchanged", "ranking"}."""
    by_id = {p.id: p for p in probes}
    labels = [c["label"] for c in checkpoints]
    scores = {c["label"]: c["scores"] for c in checkpoints}
    best: dict[str, str] = {}
    for m in metrics:
        cands = [(mean_of(scores[lb], m, by_id, bands), i, lb) for i, lb in enumerate(labels)]
        cands = [c for c in cands if c[0] is not None]
        if cands:
            sign = 1 if goal(m) == "lower" else -1
            best[m] = min(cands, key=lambda c: (sign * c[0], c[1]))[2]
    # every checkpoint (and the base, for the ranking) against the best, on the must-have metrics
    vs_best: dict[str, dict[str, dict]] = {}
    for lb, sc in [*scores.items(), ("base", base)]:
        vs_best[lb] = {}
        for m in must_have:
            if m in best and best[m] != lb and has(sc, m):
                vs_best[lb][m] = paired(m, scores[best[m]], sc, by_id, bands, n_boot, seed)
    worse_best = {lb: [m for m, d in ds.items() if worse(m, d)] for lb, ds in vs_best.items()}
    # reverting: assistant language significantly above the lowest before it
    reverting = []
    for i, lb in enumerate(labels):
        earlier = [(mean_of(scores[e], REVERT_METRIC, by_id, bands), j, e) for j, e in enumerate(labels[:i])]
        earlier = [e for e in earlier if e[0] is not None]
        if not earlier or not has(scores[lb], REVERT_METRIC):
            continue
        low = min(earlier, key=lambda e: (e[0], e[1]))[2]
        d = paired(REVERT_METRIC, scores[low], scores[lb], by_id, bands, n_boot, seed)
        if worse(REVERT_METRIC, d):
            reverting.append({"label": lb, "since": low, "difference": d,
                              "why": f"assistant language rises again, {_fmt(d)} over {low}"})
    reverted = {r["label"] for r in reverting}
    why: list[str] = []
    chosen, fallback = None, False
    for lb in labels:
        if not worse_best[lb] and lb not in reverted:
            chosen = lb
            break
        reason = (f"worse than the best on {', '.join(f'{m} ({_fmt(vs_best[lb][m])} vs {best[m]})' for m in worse_best[lb])}"
                  if worse_best[lb] else "reverting")
        why.append(f"not {lb}: {reason}")
    if chosen is None and labels:
        fallback = True
        chosen = min(labels, key=lambda lb: (len(worse_best[lb]) + (lb in reverted), labels.index(lb)))
        why.append(f"no checkpoint is within the best on every must-have metric; {chosen} is worse on the fewest")
    elif chosen is not None:
        gains = [m for m in metrics if better(m, vs_base.get(chosen, {}).get(m, {}))]
        why.insert(0, f"{chosen}: the earliest checkpoint not significantly worse than the best on any must-have "
                      f"metric ({', '.join(m for m in must_have if m in best)})"
                      + (f"; better than the base on {', '.join(gains)}" if gains else "; better than the base on nothing"))
    unchanged = [m for m in metrics if not any(better(m, vs_base.get(lb, {}).get(m, {})) or
                                               worse(m, vs_base.get(lb, {}).get(m, {})) for lb in labels)]
    ranking = []
    for i, lb in enumerate([*labels, "base"]):
        vb = vs_base.get(lb, {})
        ranking.append({"label": lb, "worse_than_best": worse_best[lb],
                        "better_than_base": [m for m in must_have if better(m, vb.get(m, {}))],
                        "worse_than_base": [m for m in must_have if worse(m, vb.get(m, {}))],
                        "reverting": lb in reverted, "_order": i})
    ranking.sort(key=lambda r: (len(r["worse_than_best"]), -len(r["better_than_base"]),
                                len(r["worse_than_base"]), r["_order"]))
    for k, r in enumerate(ranking, 1):
        r["rank"] = k
        del r["_order"]
    return {"best": best, "vs_best": vs_best,
            "recommendation": {"label": chosen, "fallback": fallback, "why": why} if chosen else None,
            "reverting": reverting, "unchanged": unchanged,
            "unchanged_lines": [f"no checkpoint changes {m}" for m in unchanged], "ranking": ranking}
