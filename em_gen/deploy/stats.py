"""`em-gen irc --stats TRANSCRIPT`: participation per channel and engagement level against the band,
decisions by outcome, suppressions by reason, and decision latency.

Participation counts channel lines (everyone's, Em's included) under the engagement level in force
when each line arrived (the start record's level, then each operator change)."""
from __future__ import annotations

import collections

from em_gen.deploy.decide import percentile
from em_gen.deploy.transcript import read_transcript
from em_gen.library import Library


def transcript_stats(path, lib: Library) -> dict:
    recs = read_transcript(path)
    em = lib.em
    level: dict[str, str] = {}
    part: dict[tuple[str, str], list[int]] = collections.defaultdict(lambda: [0, 0])  # (channel, level) -> [lines, em]
    outcomes: collections.Counter = collections.Counter()
    suppressed: collections.Counter = collections.Counter()
    skipped: collections.Counter = collections.Counter()
    latency: list[float] = []
    predicted_em = asked = 0
    controls = {"authorized": 0, "ignored": 0}
    runs = reconnects = 0
    for r in recs:
        k = r["kind"]
        if k == "start":
            runs += 1
            level.update(r.get("channels") or {})
        elif k == "control":
            controls["authorized"] += 1
            for ch, change in (r.get("changed") or {}).items():
                if "engagement" in change:
                    level[ch] = change["engagement"]
        elif k == "private":
            controls["ignored"] += 1
        elif k == "disconnect" and not r.get("quitting"):
            reconnects += 1
        elif k == "line":
            ch = r.get("channel", "?")
            cell = part[(ch, level.get(ch, "?"))]
            cell[0] += 1
            cell[1] += r.get("speaker") == em
        elif k == "decision":
            outcomes[r.get("outcome", "?")] += 1
            if r.get("asked"):
                asked += 1
                if r.get("latency_s") is not None:
                    latency.append(float(r["latency_s"]))
            if r.get("predicted") == em:
                predicted_em += 1
            if r.get("outcome") == "suppressed":
                for why in r.get("reasons") or []:
                    suppressed[why.split(":", 1)[0]] += 1
            elif r.get("outcome") == "skipped":
                for why in r.get("reasons") or []:
                    skipped[why.split(":", 1)[0]] += 1
    participation = []
    for (ch, lv), (n, k) in sorted(part.items()):
        band = lib.band(lv) if lv in lib.mix["engagement"] else None
        share = k / n if n else 0.0
        where = None if band is None else ("below" if share < band[0] else "above" if share > band[1] else "in band")
        participation.append({"channel": ch, "engagement": lv, "lines": n, "em_lines": k, "share": round(share, 4),
                              "band": list(band) if band else None, "verdict": where})
    return {
        "transcript": str(path), "records": len(recs), "runs": runs, "disconnects": max(0, reconnects),
        "participation": participation,
        "decisions": dict(outcomes), "asked": asked, "predicted_em": predicted_em,
        "suppressed_by_reason": dict(suppressed.most_common()), "skipped_by_reason": dict(skipped.most_common()),
        "latency_s": {"n": len(latency), "p50": _r(percentile(latency, 0.5)), "p95": _r(percentile(latency, 0.95)),
                      "max": _r(max(latency) if latency else None)},
        "controls": controls,
    }


def _r(x):
    return None if x is None else round(x, 4)


def format_stats(s: dict) -> str:
    out = [f"{s['transcript']}: {s['records']} records, {s['runs']} run(s), {s['disconnects']} disconnect(s)",
           "participation (Em's share of channel lines):"]
    for p in s["participation"]:
        band = f"band {p['band'][0]:.0%}-{p['band'][1]:.0%}, {p['verdict']}" if p["band"] else "no band"
        out.append(f"  {p['channel']:<16} {p['engagement']:<7} {p['em_lines']:>4}/{p['lines']:<5} "
                   f"{p['share']:6.1%}  ({band})")
    d = s["decisions"]
    out.append("decisions: " + ", ".join(f"{k} {v}" for k, v in sorted(d.items())) +
               f"; asked {s['asked']}, model said <Em> {s['predicted_em']}")
    if s["suppressed_by_reason"]:
        out.append("suppressed by reason: " + ", ".join(f"{k} {v}" for k, v in s["suppressed_by_reason"].items()))
    if s["skipped_by_reason"]:
        out.append("not asked: " + ", ".join(f"{k} {v}" for k, v in s["skipped_by_reason"].items()))
    lat = s["latency_s"]
    if lat["n"]:
        out.append(f"decision latency: p50 {lat['p50'] * 1000:.1f} ms, p95 {lat['p95'] * 1000:.1f} ms, "
                   f"max {lat['max'] * 1000:.1f} ms over {lat['n']} asks")
    out.append(f"operator commands {s['controls']['authorized']}, ignored private messages {s['controls']['ignored']}")
    return "\n".join(out)
