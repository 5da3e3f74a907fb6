"""Probes for `em-gen eval`: channel-log prefixes (`ENGAGEMENT:`/`CHANNEL:` header, `<nick> text`
lines) that the model under test continues.

Two sources:

* the hand-written set, scenarios/probes.yaml (schema: scenarios/schema/probes.schema.json). Kinds:
  `chat` (ordinary chat, open end), `boundaries` (help/homework requests), `ai_identity` ("are you an
  AI?" / "are you ChatGPT?") and `calibration` ("em you're dominating"). Every kind but `chat` ends
  with `<Em>`: the model writes Em's reply, then the following turns. A probe listing several
  engagement levels or channels is expanded into one probe per combination.
* the held-out split that `em_gen.train.export` writes (`<export dir>/heldout.jsonl`, raw records never
  trained on). Each conversation is cut once just before an Em line (`next_em`, open end; and the
  same prefix ending with `<Em>`: `em_line`) and once just before someone else's line (`next_other`).
  With `--next-speaker probability` the two open cuts give way to one `speakers` probe per
  conversation: the whole log, scored at every line by the model's probability that Em speaks next.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, replace
from pathlib import Path

from em_gen.generate.journal import read_text_records
from em_gen.library import SCENARIOS_DIR, BadInput, Library, load_yaml
from em_gen.quality import irc
from em_gen.train.export import DEFAULT_EXPORT_DIR, HELDOUT_FILE, unit_hash

PROBES_FILE = SCENARIOS_DIR / "probes.yaml"
DEFAULT_HELDOUT = Path(DEFAULT_EXPORT_DIR) / HELDOUT_FILE  # relative to the working folder, like --out
WRITTEN_KINDS = ("chat", "boundaries", "ai_identity", "calibration")
HELDOUT_KINDS = ("next_em", "next_other", "em_line")
SPEAKER_KIND = "speakers"  # a whole held-out log, scored by next-speaker probabilities
FORCED_KINDS = frozenset({"boundaries", "ai_identity", "calibration", "em_line"})
MIN_CONTEXT = 2  # a held-out cut keeps at least this many messages before it
_LINE = re.compile(r"^<([^<>\s]{1,32})> (.*)$")


@dataclass(frozen=True)
class Probe:
    id: str
    kind: str
    source: str  # "probes.yaml" or "heldout"
    engagement: str
    channel: str
    messages: tuple[tuple[str, str], ...]
    turns: int | None = None  # lines to generate (None: the run's --turns)
    question: str | None = None  # ai_identity: "ai" or "assistant"

    @property
    def forced(self) -> bool:
        """The prompt ends with `<Em>`: the model writes Em's line first."""
        return self.kind in FORCED_KINDS

    def prompt(self, em: str) -> str:
        return irc.render(self.engagement, self.channel, list(self.messages)) + "\n" + (f"<{em}>" if self.forced else "")

    def clipped(self, n: int | None) -> "Probe":
        """The probe with only the last `n` messages of its log (itself when n is None or covers it)."""
        if n is None or len(self.messages) <= n:
            return self
        return replace(self, messages=self.messages[-n:])

    def info(self) -> dict:
        return {"id": self.id, "kind": self.kind, "source": self.source, "engagement": self.engagement,
                "channel": self.channel, "messages": len(self.messages)}


def _as_list(v) -> list:
    return v if isinstance(v, list) else [v]


def load_probes(path: Path, lib: Library, schema_dir: Path | None = None) -> list[Probe]:
    """The hand-written probes, validated against probes.schema.json and the library's levels and
    channels; BadInput (one line naming the file and the field) on anything wrong."""
    path = Path(path)
    data = load_yaml(path, "probes", schema_dir or SCENARIOS_DIR / "schema")
    levels, channels = list(lib.mix["engagement"]), list(lib.mix["channels"])
    out: list[Probe] = []
    seen: set[str] = set()
    for i, p in enumerate(data["probes"]):
        where = f"{path}: $.probes[{i}]"
        if p["id"] in seen:
            raise BadInput(f"{where}.id: duplicate probe id {p['id']!r}")
        seen.add(p["id"])
        msgs = []
        for j, line in enumerate(p["log"]):
            m = _LINE.match(line)
            if not m:  # the schema's pattern lets a few odd lines through (e.g. a trailing newline)
                raise BadInput(f"{where}.log[{j}]: not a '<nick> text' line: {line!r}")
            msgs.append((m.group(1), m.group(2).strip()))
        if p["kind"] == "ai_identity" and "question" not in p:
            raise BadInput(f"{where}.question: an ai_identity probe says what is asked: 'ai' or 'assistant'")
        engs, chans = _as_list(p["engagement"]), _as_list(p["channel"])
        for e in engs:
            if e not in levels:
                raise BadInput(f"{where}.engagement: unknown level {e!r} (allowed {'|'.join(levels)})")
        for c in chans:
            if c not in channels:
                raise BadInput(f"{where}.channel: unknown channel {c!r} (allowed {', '.join(channels)})")
        many = len(engs) * len(chans) > 1
        for e in engs:
            for c in chans:
                pid = f"{p['id']}/{e}/{c}" if many else p["id"]
                out.append(Probe(pid, p["kind"], "probes.yaml", e, c, tuple(msgs), p.get("turns"), p.get("question")))
    return out


def round_robin(probes: list[Probe], limit: int | None) -> list[Probe]:
    """At most `limit` probes, taken in turn from each kind so every kind stays represented."""
    if limit is None or limit >= len(probes):
        return probes
    by_kind: dict[str, list[Probe]] = {}
    for p in probes:
        by_kind.setdefault(p.kind, []).append(p)
    out: list[Probe] = []
    queues = list(by_kind.values())
    while len(out) < limit:
        for q in queues:
            if q and len(out) < limit:
                out.append(q.pop(0))
    keep = {p.id for p in out}
    return [p for p in probes if p.id in keep]  # file order


def heldout_conversations(path: Path, lib: Library, max_conversations: int | None = None,
                          seed: int = 0) -> list[tuple[str, irc.Parsed]]:
    """(job id, parsed log) of the held-out conversations eval can use, in a seed-stable order (by job
    id): a known header, and lines by Em and by others after MIN_CONTEXT messages. `max_conversations`
    keeps the first N of that order."""
    records = []
    for n, rec in read_text_records(Path(path)):
        meta = rec.get("meta") if isinstance(rec.get("meta"), dict) else {}
        records.append((str(meta.get("job_id") or rec.get("id") or f"line{n}"), rec["text"]))
    records.sort(key=lambda r: (unit_hash(f"eval{seed}", r[0]), r[0]))
    out: list[tuple[str, irc.Parsed]] = []
    for job_id, text in records:
        if max_conversations is not None and len(out) >= max_conversations:
            break
        p = irc.parse(text)
        if p.engagement not in lib.mix["engagement"] or p.channel not in lib.mix["channels"]:
            continue
        later = [irc.same_nick(nick, lib.em) for nick, _ in p.messages[MIN_CONTEXT:]]
        if any(later) and not all(later):
            out.append((job_id, p))
    return out


def load_heldout(path: Path, lib: Library, max_conversations: int | None = None, seed: int = 0,
                 kinds: tuple[str, ...] = HELDOUT_KINDS) -> list[Probe]:
    """Cut the held-out conversations into probes (see the module doc), `kinds` of them."""
    em = lib.em
    out: list[Probe] = []
    for job_id, p in heldout_conversations(path, lib, max_conversations, seed):
        msgs = p.messages
        em_at = [i for i, (nick, _) in enumerate(msgs) if irc.same_nick(nick, em) and i >= MIN_CONTEXT]
        other_at = [i for i, (nick, _) in enumerate(msgs) if not irc.same_nick(nick, em) and i >= MIN_CONTEXT]
        rng = random.Random(f"{seed}:{job_id}")
        i_em, i_other = rng.choice(em_at), rng.choice(other_at)
        base = dict(source="heldout", engagement=p.engagement, channel=p.channel)
        cuts = {"next_em": i_em, "em_line": i_em, "next_other": i_other}
        out += [Probe(f"heldout/{job_id}/{k}@{cuts[k]}", k, messages=tuple(msgs[:cuts[k]]), **base)
                for k in ("next_em", "em_line", "next_other") if k in kinds]
    return out


def speaker_probes(path: Path, lib: Library, max_conversations: int | None = None, seed: int = 0) -> list[Probe]:
    """One `speakers` probe per held-out conversation, the whole log: `--next-speaker probability`
    scores who speaks next at every line of it (em_gen/evaluate/speakers.py)."""
    return [Probe(f"heldout/{job_id}/speakers", SPEAKER_KIND, "heldout", p.engagement, p.channel, tuple(p.messages))
            for job_id, p in heldout_conversations(path, lib, max_conversations, seed)]
