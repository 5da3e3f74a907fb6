"""`em-gen judge-check`'s figures: how well a judge model's answers separate a labelled corpus's bad
logs from its good ones, overall and per family, and what the gate (rules, then that judge) does.

A bad log is caught when the judge fails it (any family); a good log the judge fails is a false fail.
An answer that was unreadable twice leaves the log unjudged: the gate would hold it, so a bad one
counts as missed (recall) and a good one as not failed, and both are listed among the wrong logs.
Per family: recall over the bad logs labelled with it; precision over the logs the judge cited it
for (a citation is right when the log is bad); `named` counts the caught logs where the judge named
the labelled family. Pure: the asking and the recording live in em_gen/generate/judge_check.py."""
from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field

from em_gen.library import Library
from em_gen.quality.corpus import Log
from em_gen.quality.irc import parse
from em_gen.quality.judge import OTHER, families, judge_system, read_judgement
from em_gen.quality.rules import Expect, check

THRESHOLD = 0.95  # precision and recall a judge model needs on the corpus


def rubric_id(lib: Library) -> str:
    """The judge rubric's digest (the system prompt every judge request carries): an answer, and a
    check, is only valid for the rubric it was given."""
    return hashlib.sha256(judge_system(lib).encode("utf-8")).hexdigest()[:12]


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


@dataclass
class Figures:
    n_bad: int = 0
    n_good: int = 0
    caught: int = 0          # bad logs the judge failed
    false_fails: int = 0     # good logs the judge failed
    unjudged: int = 0        # answers unreadable twice
    gate_caught: int = 0     # rules or judge
    gate_false: int = 0
    families: dict = field(default_factory=dict)   # family -> n, caught, named, cited, cited_bad
    wrong: list = field(default_factory=list)      # {"file", "what", "detail"}
    other_reasons: list = field(default_factory=list)  # character_other reasons, verbatim

    @property
    def recall(self) -> float | None:
        return _ratio(self.caught, self.n_bad)

    @property
    def precision(self) -> float | None:
        return _ratio(self.caught, self.caught + self.false_fails)

    @property
    def gate_recall(self) -> float | None:
        return _ratio(self.gate_caught, self.n_bad)

    @property
    def gate_precision(self) -> float | None:
        return _ratio(self.gate_caught, self.gate_caught + self.gate_false)

    def passed(self, threshold: float = THRESHOLD) -> bool:
        return (self.recall or 0.0) >= threshold and (self.precision or 0.0) >= threshold

    def as_dict(self) -> dict:
        return {"n_bad": self.n_bad, "n_good": self.n_good, "caught": self.caught, "false_fails": self.false_fails,
                "unjudged": self.unjudged, "recall": self.recall, "precision": self.precision,
                "gate_recall": self.gate_recall, "gate_precision": self.gate_precision,
                "families": self.families, "wrong": self.wrong, "other_reasons": self.other_reasons,
                "passed": self.passed()}


def score(lib: Library, logs: list[Log], answers: dict[str, list[str]]) -> Figures:
    """Figures from each log's judge answers (key -> raw answers in the order given; the latest
    readable one counts, as in the gate). A log with no answer at all is unjudged."""
    fig = Figures()
    fams = defaultdict(lambda: {"n": 0, "caught": 0, "named": 0, "cited": 0, "cited_bad": 0})
    for f in list(families(lib)) + [OTHER]:
        fams[f]  # every family of the rubric has a row, in rubric order
    for log in logs:
        parsed = parse(log.text)
        got = next((g for g in (read_judgement(raw, lib, parsed) for raw in reversed(answers.get(log.key, [])))
                    if g["readable"]), None)
        rules_ok = check(parsed, lib, Expect()).ok
        failed = got is not None and not got["ok"]
        cited = {f["family"] for f in got["failures"]} if failed else set()
        bad = log.label == "bad"
        for f in cited:
            fams[f]["cited"] += 1
            fams[f]["cited_bad"] += bad
        if got is not None:
            fig.other_reasons += [r for r in got["reasons"] if r.startswith(f"character_{OTHER}")]
        if bad:
            fig.n_bad += 1
            row = fams[log.family]
            row["n"] += 1
            row["caught"] += failed
            row["named"] += log.family in cited
            fig.caught += failed
            fig.gate_caught += failed or not rules_ok
        else:
            fig.n_good += 1
            fig.false_fails += failed
            fig.gate_false += failed or not rules_ok
        if got is None:
            fig.unjudged += 1
            fig.wrong.append({"file": log.file, "what": "unreadable",
                              "detail": "no readable answer (the gate would hold this log)"})
        elif bad and not failed:
            fig.wrong.append({"file": log.file, "what": "missed",
                              "detail": f"{log.family}, failing message(s) {', '.join(map(str, log.failing))}: "
                                        "the judge passed it"})
        elif not bad and failed:
            fig.wrong.append({"file": log.file, "what": "false fail", "detail": "; ".join(got["reasons"])})
    fig.families = {f: dict(v) for f, v in fams.items()}
    return fig


def _r(x: float | None) -> str:
    return "  n/a" if x is None else f"{x:5.3f}"


def format_figures(fig: Figures, model: str, corpus: str) -> str:
    out = [f"{'family':<20} {'bad':>4} {'caught':>6} {'recall':>6} {'cited':>6} {'precision':>9} {'named':>6}"]
    for f, c in fig.families.items():
        if not c["n"] and not c["cited"]:
            continue
        rec = _r(_ratio(c["caught"], c["n"])) if c["n"] else "    -"
        named = f"{c['named']}/{c['caught']}" if c["n"] else "-"
        out.append(f"{f:<20} {c['n'] or '-':>4} {c['caught'] if c['n'] else '-':>6} {rec:>6} {c['cited']:>6} "
                   f"{_r(_ratio(c['cited_bad'], c['cited'])) if c['cited'] else '    -':>9} {named:>6}")
    out.append(f"judge alone ({model}): recall {fig.caught}/{fig.n_bad} = {_r(fig.recall).strip()}, precision "
               f"{fig.caught}/{fig.caught + fig.false_fails} = {_r(fig.precision).strip()}, good logs failed "
               f"{fig.false_fails}/{fig.n_good}, unreadable {fig.unjudged}")
    out.append(f"rules + judge (the gate): recall {fig.gate_caught}/{fig.n_bad} = {_r(fig.gate_recall).strip()}, "
               f"precision {fig.gate_caught}/{fig.gate_caught + fig.gate_false} = {_r(fig.gate_precision).strip()}")
    if fig.wrong:
        out.append(f"wrong ({len(fig.wrong)}), in {corpus}:")
        out += [f"  {w['what']:<10} {w['file']}: {w['detail']}" for w in fig.wrong]
    else:
        out.append("wrong: none")
    if fig.other_reasons:
        out.append("character_other reasons (verbatim; where the next family comes from):")
        out += [f"  {r}" for r in fig.other_reasons]
    return "\n".join(out)


def verdict_line(fig: Figures, model: str, threshold: float = THRESHOLD, replay: bool = False) -> str:
    """One line. `replay`: the answers are the corpus's recorded ones (the offline stand-in), not a
    judgement by `model`."""
    p, r = _r(fig.precision).strip(), _r(fig.recall).strip()
    if replay:
        return (f"verdict: {'PASS' if fig.passed(threshold) else 'FAIL'}: the recorded answers replayed offline score "
                f"precision {p} and recall {r} (needs {threshold}/{threshold}); this says nothing about your judge "
                "model: run judge-check with your key")
    if fig.passed(threshold):
        return (f"verdict: PASS: {model} judges this rubric at precision {p} and recall {r} "
                f"(needs {threshold}/{threshold}); fine to use for --full")
    return (f"verdict: FAIL: {model} judges this rubric at precision {p} and recall {r}, below "
            f"{threshold}/{threshold}; pick another --judge-model, or read the wrong logs above before --full")
