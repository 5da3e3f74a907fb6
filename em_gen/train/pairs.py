"""DPO preference pairs: for the moments of kept conversations that matter most, Em's kept line
(`chosen`) against a line for the same moment in the voice the plan forbids (`rejected`).

A **moment** is one Em message of an accepted conversation. Its `prompt` is the log up to and
including `<Em>`, with the ENGAGEMENT:/CHANNEL: header, exactly as the completion export renders it
(`em_gen.train.export.split_log` of the record's text); `chosen` is the rest of Em's line (`" text\\n"`).
Per conversation the K moments that matter most are taken (scenarios/pairs.yaml): Em's replies to a
request for work (refusals), to "are you an AI?" (AI identity), to "you're dominating" (feedback), then
ordinary opinion turns, longest first.

Rejected lines come from the **teacher** (the provider's cheap model rewrites Em's line as the helpful
assistant would say it, showing one failure family of scenarios/judge.yaml, drawn so that every family
is represented) or from the **base** model's own continuation of the prompt. A candidate is dropped
when it is empty, the same as Em's line or longer than four sentences; otherwise it must be confirmed
out of character, by the quality gate's per-line rules on the moment, or by the character judge
reading the log cut after the candidate (`cut_at` in the job facts). The chosen line must pass both:
the rules on the same moment, and the judge (its stored reading of the conversation, or a fresh one).
This module builds the requests and reads the answers; pair_run.py runs them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from em_gen.library import PROMPTS_DIR, SCENARIOS_DIR, BadInput, Library, load_yaml
from em_gen.providers.base import Request
from em_gen.quality.irc import Parsed
from em_gen.quality.judge import JUDGE_MAX_TOKENS, judge_system, judge_user, read_judgement
from em_gen.quality.rules import (
    Context,
    Expect,
    check_assistant,
    check_boundaries,
    check_counsellor,
    check_disclaimer,
    check_followup,
    check_formal,
    check_greeting,
    check_offer,
    check_policing,
    check_politics,
    check_recap,
    check_style,
)
from em_gen.quality.rules.boundaries import _REQUEST, _REQUEST_CUE, _mention
from em_gen.quality.rules.style import _sentences
from em_gen.train.export import split_log

PAIRS_DATA = "pairs.yaml"
REWRITE_PROMPT = "pair_rewrite.md"
REWRITE_MARK = "EM-GEN REWRITE"  # the prompt's first line (the stand-in recognises it)
MAX_SENTENCES = 4
REWRITE_MAX_TOKENS = 160
DEFAULT_K = 4
# the gate's rules about what Em says in one line, and the reason codes that count against a line
LINE_RULES = (check_assistant, check_boundaries, check_style, check_greeting, check_followup, check_counsellor,
              check_disclaimer, check_policing, check_politics, check_recap, check_formal, check_offer)
LINE_CODES = {"assistant_language": "assistant_language", "markdown": "assistant_language",
              "code_block": "assistant_language", "wall_of_text": "assistant_language",
              "boundary_violation": "help_in_disguise", "em_greeting": "greeting_announce",
              "em_followup_questions": "followup_questions", "em_counsellor": "counsellor_voice",
              "em_ai_disclaimer": "ai_disclaimer", "em_channel_policing": "channel_policing",
              "em_political_refusal": "political_refusal", "em_recap": "recap",
              "em_formal_register": "formal_register", "em_offer_then_refuse": "offer_then_refuse"}
_NICK_TAG = re.compile(r"^\s*(?:<\s*[@+]?[^<>\s]{1,32}\s*>|[A-Za-z_][\w-]{0,31}:)\s*")
_QUOTES = "\"'“”‘’`"
_NORM = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class Kind:
    name: str
    cue: re.Pattern | None
    families: tuple[str, ...]


@dataclass(frozen=True)
class PairSpec:
    window: int
    kinds: tuple[Kind, ...]  # priority order, opinion last
    teacher_context: int
    judge_context: int
    rewrite_system: str  # the teacher's system prompt with the rubric filled in
    families: tuple[str, ...]  # the rubric's families (scenarios/judge.yaml), in its order


def load_spec(lib: Library, scenarios_dir: Path | None = None, prompts_dir: Path | None = None) -> PairSpec:
    sdir, pdir = Path(scenarios_dir or SCENARIOS_DIR), Path(prompts_dir or PROMPTS_DIR)
    data = load_yaml(sdir / PAIRS_DATA, "pairs", sdir / "schema")
    kinds = []
    for name, k in data["kinds"].items():
        try:
            cue = re.compile(k["cue"]) if k.get("cue") else None
        except re.error as e:
            raise BadInput(f"{sdir / PAIRS_DATA}: $.kinds.{name}.cue: not a regex: {e}") from None
        kinds.append(Kind(name, cue, tuple(k["families"])))
    kinds.sort(key=lambda k: k.name == "opinion")  # opinion (no cue) always last
    path = pdir / REWRITE_PROMPT
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput(f"{path}: prompt template not found") from None
    if not text.startswith(REWRITE_MARK):
        raise BadInput(f"{path}: the first line must be {REWRITE_MARK!r}")
    fams = lib.judge["families"]
    rows = "\n".join(f"- {n}: {f['em_does']} | \"{f['fail']}\"" for n, f in fams.items())
    return PairSpec(data["window"], tuple(kinds), data["teacher_context"], data["judge_context"],
                    text.replace("{families}", rows).rstrip() + "\n", tuple(fams))


# --------------------------------------------------------------------------------------------------
# moments


@dataclass(frozen=True)
class Moment:
    job_id: str
    index: int  # 0-based message index of Em's line
    kind: str
    engagement: str
    channel: str
    messages: tuple[tuple[str, str], ...]  # the whole conversation
    prompt: str  # the completion export's text up to and including "<Em>"
    chosen: str  # " text\n"

    @property
    def key(self) -> str:
        return f"{self.job_id}:{self.index}"

    @property
    def line(self) -> str:
        return self.chosen.strip()


def _kind_of(lib: Library, spec: PairSpec, msgs: list[tuple[str, str]], i: int) -> str:
    em = lib.em
    before = []
    for j in range(i - 1, max(-1, i - 1 - spec.window), -1):
        if msgs[j][0] == em:
            break
        before.append(j)
    for kind in spec.kinds:
        for j in before:
            low = msgs[j][1].lower()
            if kind.cue is not None and kind.cue.search(low):
                return kind.name
            if kind.name == "refusal" and _REQUEST.search(low) and _REQUEST_CUE.search(low) and \
                    (_mention(em).search(low) or (j > 0 and msgs[j - 1][0] == em)):
                return kind.name  # the gate's own request-for-work detection
    return "opinion"


def moments_of(lib: Library, spec: PairSpec, record: dict, k: int) -> list[Moment]:
    """The k moments of one accepted record that matter most, in priority order."""
    text = record["text"]
    header, parts = split_log(text)
    msgs = [(m.nick, m.body.strip()) for m in parts]
    head = Parsed()
    for line in header.splitlines():
        key, _, val = line.partition(":")
        if key.strip().upper() == "ENGAGEMENT":
            head.engagement = val.strip()
        elif key.strip().upper() == "CHANNEL":
            head.channel = val.strip()
    order = {kd.name: n for n, kd in enumerate(spec.kinds)}
    found = []
    for i, (nick, body) in enumerate(msgs):
        if nick != lib.em or not body:
            continue
        kind = _kind_of(lib, spec, msgs, i)
        found.append((order.get(kind, len(order)), -len(body.split()) if kind == "opinion" else 0, i, kind))
    out = []
    for _, _, i, kind in sorted(found)[:k]:
        prompt = header + "".join(m.text for m in parts[:i]) + parts[i].tag
        out.append(Moment(record["meta"]["job_id"], i, kind, head.engagement or "", head.channel or "",
                          tuple(msgs), prompt, " " + msgs[i][1] + "\n"))
    return sorted(out, key=lambda m: m.index)


def draw_families(spec: PairSpec, moments: list[Moment], fixed: dict[str, str] | None = None) -> dict[str, str]:
    """moment key -> the failure family its teacher rewrite shows. Turns with a narrow kind are served
    first; each takes the least-drawn family that fits it (ties: the kind's order); then every family
    still missing takes an opinion turn from the most-drawn family, so all are represented. `fixed`
    (moment key -> family) keeps the families already paid for and counts them."""
    fams = spec.families
    named = {f for kd in spec.kinds for f in kd.families}
    fit = {kd.name: [f for f in kd.families if f in fams] + ([f for f in fams if f not in named]
                                                             if kd.name == "opinion" else []) for kd in spec.kinds}
    count = {f: 0 for f in fams}
    rank = {kd.name: n for n, kd in enumerate(spec.kinds)}
    out: dict[str, str] = {}
    for m in moments:
        if fixed and fixed.get(m.key) in count:
            out[m.key] = fixed[m.key]
            count[out[m.key]] += 1
    for m in sorted(moments, key=lambda m: (rank.get(m.kind, 99), m.job_id, m.index)):
        if m.key in out:
            continue
        options = fit.get(m.kind) or list(fams)
        best = min(options, key=lambda f: (count[f], options.index(f)))
        out[m.key] = best
        count[best] += 1
    for f in fams:
        if count[f]:
            continue
        donors = [m for m in moments if count[out[m.key]] > 1 and not (fixed and m.key in fixed)]
        if not donors:
            break
        m = max(donors, key=lambda m: (m.kind == "opinion", count[out[m.key]], m.job_id, m.index))
        count[out[m.key]] -= 1
        out[m.key] = f
        count[f] += 1
    return out


# --------------------------------------------------------------------------------------------------
# requests


def _log_lines(msgs) -> str:
    return "\n".join(f"<{n}> {t}" for n, t in msgs)


def rewrite_request(lib: Library, spec: PairSpec, m: Moment, family: str, key: str,
                    temperature: float | None = None) -> Request:
    f = lib.judge["families"][family]
    ctx = m.messages[max(0, m.index - spec.teacher_context): m.index]
    user = (f"CHANNEL: {m.channel} (engagement {m.engagement})\nLOG\n{_log_lines(ctx)}\nEND LOG\n\n"
            f"EM SAID: {m.line}\nFAMILY: {family}\nWHAT IT DOES: {f['em_does']}\n\n"
            f"Write the line a helpful assistant would have said here instead of Em, showing {family}. "
            "Answer with the line only.")
    return Request(job_id=key, system=spec.rewrite_system, user=user, max_tokens=REWRITE_MAX_TOKENS,
                   temperature=temperature)


def cut_log(spec: PairSpec, m: Moment, line: str, em: str) -> Parsed:
    """The log the judge reads for a candidate: the moment's context, then the candidate as Em's line."""
    ctx = list(m.messages[max(0, m.index - spec.judge_context): m.index])
    return Parsed(engagement=m.engagement, channel=m.channel, messages=ctx + [(em, line)])


def check_request(lib: Library, parsed: Parsed, key: str, temperature: float | None = None) -> Request:
    """The character judge's request for a candidate line: the usual rubric and log, the job facts
    saying the log stops after the line being checked."""
    n = len(parsed.messages)
    user = judge_user(parsed, lib.em, parsed.engagement, parsed.channel).replace(
        "\nEND JOB", f"\ncut_at: {n} (the log stops after message {n}, the line being checked; the lines "
                     "before it are context)\nEND JOB", 1)
    return Request(job_id=key, system=judge_system(lib), user=user, max_tokens=JUDGE_MAX_TOKENS,
                   temperature=temperature, stop=[], part=-1)


def judge_failures_at(lib: Library, raw: str, parsed: Parsed, n: int) -> dict:
    """{"readable", "families"}: the judge's families for message n of the log it read."""
    got = read_judgement(raw, lib, parsed)
    return {"readable": got["readable"],
            "families": [f["family"] for f in got.get("failures", []) if f.get("message") == n]}


# --------------------------------------------------------------------------------------------------
# candidate lines


def clean_line(raw: str, forced: bool = False) -> str:
    """The candidate line from an answer: a teacher's first non-empty line (nick tag and wrapping
    quotes removed); a base model's continuation up to the first newline (forced `<Em>`)."""
    raw = raw or ""
    if forced:
        line = raw.split("\n", 1)[0]
    else:
        line = next((x for x in raw.splitlines() if x.strip()), "")
    line = _NICK_TAG.sub("", line.strip(), count=1) if not forced else line.strip()
    if len(line) >= 2 and line[0] in _QUOTES and line[-1] in _QUOTES:
        line = line[1:-1].strip()
    return " ".join(line.split())


def shape_problem(line: str, chosen: str) -> str | None:
    """Why a candidate cannot be a rejected line at all: empty, the same as Em's, over four sentences."""
    if not line:
        return "empty"
    if _NORM.sub(" ", line.lower()).strip() == _NORM.sub(" ", chosen.lower()).strip():
        return "same_as_chosen"
    if _sentences(line) > MAX_SENTENCES:
        return "too_long"
    return None


def rule_reasons(lib: Library, m: Moment, line: str) -> list[str]:
    """The gate's per-line reasons that Em saying `line` at this moment earns (reasons the context
    alone already has are not the line's)."""
    def reasons(msgs):
        ctx = Context.build(Parsed(engagement=m.engagement, channel=m.channel, messages=msgs), lib,
                            Expect(m.engagement, m.channel))
        return [r for fn in LINE_RULES for r in fn(ctx) if r.split(":", 1)[0] in LINE_CODES]

    before = list(m.messages[: m.index])
    base = reasons(before)
    base_codes = {r.split(":", 1)[0] for r in base}
    tag = f"message {m.index + 1}"
    return [r for r in reasons(before + [(lib.em, line)])
            if r not in base and (r.split(":", 1)[0] not in base_codes or tag in r)]


def family_of_rule(reason: str) -> str:
    return LINE_CODES.get(reason.split(":", 1)[0], "assistant_language")
