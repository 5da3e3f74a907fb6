"""The offline stand-in's conversation composer: prompt text in, IRC log text out.

It reads the `JOB ... END JOB` block of em-gen's prompt (or a continuation prompt, or a bare IRC log
prefix) and composes a log from the scenario's and topic's example lines plus a phrase grammar
(scenarios/grammar.yaml). Everything is seeded from a hash of the prompt, so the same prompt always
gives the same text. It is an honest stand-in, not a model: the logs are well-formed and varied,
not clever. The content faults (garbage, hallucinated turns) live here too, as text transforms.
"""
from __future__ import annotations

import collections
import random
import re

from em_gen.library import Library
from em_gen.providers.standin.cast import Styler, content_words, first_person
from em_gen.providers.standin.jobs import (
    _HEADER,
    _SLOT,
    EM_MOVES,
    LONG,
    SECOND,
    USER_MOVES,
    Continuation,
    Job,
    load_grammar,
    norm,
    parse_continuation,
    parse_job,
    seed_of,
    spread,
)
from em_gen.quality import irc


class Composer:
    def __init__(self, library: Library, grammar: dict | None = None):
        self.lib = library
        self.em = library.em
        self.g = grammar or load_grammar()
        self.words = self.g["words"]
        self.things, self.vocab = {}, {}
        for tid, t in library.topics.items():
            self.things[tid] = list(dict.fromkeys(self.g["topic_words"].get(tid, []) + list(t["subjects"])))
            text = norm(" ".join(self.things[tid] + t["user_lines"] + t["em_lines"]))
            self.vocab[tid] = {w for w in text.split() if len(w) > 3}

    # ---- entry point --------------------------------------------------------------------------
    def respond(self, prompt: str) -> str:
        """The completion for a prompt: a whole log for a JOB, the rest for a continuation prompt,
        a few more lines for a bare log prefix."""
        rng = random.Random(seed_of(prompt))
        cont = parse_continuation(prompt)
        job = parse_job(prompt)
        if job is not None:
            self._resolve(job)
        if cont is not None:
            return self.continue_log(cont, job, rng)
        if job is not None:
            return irc.render(job.engagement, job.channel, self.compose(job, rng))
        headers = list(_HEADER.finditer(prompt))
        if headers:
            return self.extend(prompt[headers[-1].start():], rng)
        topic = rng.choice(self._topics("#general"))
        job = Job(engagement=rng.choice(list(self.lib.mix["engagement"])), topic_id=topic, messages=12, em_messages=2)
        return irc.render(job.engagement, job.channel, self.compose(job, rng))

    # ---- the three modes ----------------------------------------------------------------------
    def compose(self, job: Job, rng: random.Random) -> list[tuple[str, str]]:
        n, em = job.messages, min(job.em_messages, job.messages)
        scen = self._scenario(job.scenario_id)
        em_pos = spread(n, em, rng, start=1, early=scen is not None)
        log = _Log(self, job, rng, n, em_pos)
        if scen is not None:
            log.place_scenario(scen, job.scenario_id.split("/")[0])
        log.place_premise()
        log.place_topic_lines(opening=True)
        return log.fill()

    def continue_log(self, cont: Continuation, job: Job | None, rng: random.Random) -> str:
        parsed = irc.parse(cont.log)
        n, em = cont.remaining, min(cont.em_remaining, cont.remaining)
        if n == 0:
            return ""
        last_em = bool(parsed.messages) and parsed.messages[-1][0] == self.em
        if job is None:
            job = Job(engagement=parsed.engagement or "MEDIUM", channel=parsed.channel or "#general")
            job.nicks = [m for m, _ in parsed.messages if m != self.em]
            job.topic_id = self._guess_topic(cont.log, job.channel, rng)
            job.voices = dict(cont.voices)
        log = _Log(self, job, rng, n, spread(n, em, rng, start=1 if last_em else 0), parsed.messages)
        log.place_topic_lines(opening=False)
        return "\n".join(f"<{nick}> {text}" for nick, text in log.fill())

    def extend(self, prefix: str, rng: random.Random, first_em: bool | None = None) -> str:
        """A few plausible next lines after a bare log prefix (evaluation through /v1/completions).
        `first_em` fixes whether the first new line is Em's (the next-speaker rate of server.py)."""
        tag = f"<{self.em}>"
        stripped = prefix.rstrip(" ")
        ends_em = stripped.endswith(tag)
        parsed = irc.parse(stripped[: -len(tag)] if ends_em else prefix)
        job = Job(engagement=parsed.engagement or "MEDIUM", channel=parsed.channel or "#general")
        job.nicks = [m for m, _ in parsed.messages if m != self.em]
        job.topic_id = self._guess_topic(prefix, job.channel, rng)
        band = self.lib.mix["engagement"].get(job.engagement, {"band": [0.15, 0.2]})["band"]
        p_em = (band[0] + band[1]) / 2
        k = rng.randint(3, 6)
        em_pos = [0] if ends_em else []
        prev_em = ends_em or (bool(parsed.messages) and parsed.messages[-1][0] == self.em)
        if first_em is not None and not ends_em:
            em_pos, prev_em = ([0], True) if first_em else ([], False)
        for i in range(len(em_pos) if first_em is None else 1, k):
            prev_em = not prev_em and rng.random() < p_em
            if prev_em:
                em_pos.append(i)
        log = _Log(self, job, rng, k, em_pos, parsed.messages)
        lines = log.fill()
        out = []
        for i, (nick, text) in enumerate(lines):
            if i == 0 and ends_em:
                out.append(("" if prefix.endswith(" ") else " ") + text)
            else:
                out.append(f"<{nick}> {text}")
        lead = "" if ends_em or prefix.endswith("\n") else "\n"
        return lead + "\n".join(out) + "\n"

    # ---- helpers ------------------------------------------------------------------------------
    def _resolve(self, job: Job) -> None:
        """Topic and scenario ids from the names the JOB block gives (`topic: everyday life`,
        `scenario: homework refusal. Someone asks...`); ids given as such are kept."""
        if job.topic_id not in self.lib.topics:
            name = job.topic_name.lower()
            job.topic_id = next((t for t, spec in self.lib.topics.items() if spec["name"].lower() == name
                                 or t == name), job.topic_id)
        if job.scenario_id in ("", "none") and job.scenario_name:
            name = job.scenario_name.lower()
            for pid, pattern in self.lib.core["patterns"].items():
                for sid, sc in pattern["scenarios"].items():
                    if name.startswith(sc["name"].lower() + ".") or name.startswith(sc["name"].lower() + ":"):
                        job.scenario_id = f"{pid}/{sid}"

    def _scenario(self, scenario_id: str) -> dict | None:
        if not scenario_id or "/" not in scenario_id:
            return None
        try:
            return self.lib.scenario(scenario_id)
        except KeyError:
            return None

    def _topics(self, channel: str) -> list[str]:
        ok = [t for t, spec in self.lib.topics.items() if channel in spec.get("channels", [channel])]
        return ok or list(self.lib.topics)

    def _guess_topic(self, text: str, channel: str, rng: random.Random) -> str:
        words = set(norm(text).split())
        best, best_score = None, 0
        for tid in self._topics(channel):
            score = len(words & self.vocab[tid])
            if score > best_score:
                best, best_score = tid, score
        return best or rng.choice(self._topics(channel))


class _Log:
    """One log being composed: who speaks where, then what they say."""

    def __init__(self, c: Composer, job: Job, rng: random.Random, n: int, em_pos: list[int], before=()):
        self.c, self.job, self.rng, self.n = c, job, rng, n
        self.em_pos = em_pos
        em_set = set(em_pos)
        self.before = list(before)
        self.used = {norm(t) for _, t in self.before}
        self.tpl_used: dict[str, int] = {}
        tid = job.topic_id if job.topic_id in c.lib.topics else rng.choice(c._topics(job.channel))
        self.topic = c.lib.topics[tid]
        words = content_words(job.premise) if job.premise else []
        self.things = words + words + c.things[tid]  # the premise's own words come up most
        self.subject = job.subject or (rng.choice(words) if words else rng.choice(self.topic["subjects"]))
        self.styler = Styler(job.voices or {})
        others = [t for t in c._topics(job.channel) if t != tid] or [tid]
        self.other_things = [w for t in others for w in c.things[t]]
        self.cast = self._cast(n - len(em_set))
        self.nicks = self._assign(em_set)
        self.texts: list[str | None] = [None] * n

    def _cast(self, user_slots: int) -> list[str]:
        em = self.c.em.lower()
        cast = list(dict.fromkeys(x for x in self.job.nicks if x and x.lower() != em))
        spare = [x for x in self.c.lib.nicks if x not in cast]
        self.rng.shuffle(spare)
        while len(cast) < 3 and spare:
            cast.append(spare.pop())
        if not self.before:
            self.rng.shuffle(cast)
            size = len(cast) if self.n > LONG else self.rng.randint(3, 5)
            cast = cast[: max(3, min(size, user_slots))]
        return cast

    def _assign(self, em_set: set[int]) -> list[str]:
        weights = {x: self.rng.uniform(0.5, 2.0) for x in self.cast}
        prev = self.before[-1][0] if self.before else None
        out = []
        for i in range(self.n):
            if i in em_set:
                out.append(self.c.em)
            else:
                pool = [x for x in self.cast if x != prev] or self.cast
                out.append(self.rng.choices(pool, [weights[x] for x in pool])[0])
            prev = out[-1]
        # at least three other speakers over the whole log (what came before included)
        earlier = [x for x, _ in self.before]
        seen = set(earlier + out) - {self.c.em}
        for missing in [x for x in self.cast if x not in seen][: max(0, 3 - len(seen))]:
            counts = collections.Counter(earlier + out)
            for i in (i for i in range(self.n) if i not in em_set):
                nb = {out[j] for j in (i - 1, i + 1) if 0 <= j < self.n}
                if counts[out[i]] > 1 and missing not in nb:
                    out[i] = missing
                    break
        return out

    def place_scenario(self, scen: dict, pattern: str) -> None:
        rng, em_pos = self.rng, self.em_pos
        users, ems = list(scen["user_lines"]), list(scen["em_lines"])
        rng.shuffle(users)
        rng.shuffle(ems)
        if not em_pos:
            self.texts[min(1, self.n - 1)] = users[0]
            return
        k0 = 1 if pattern == "calibration" and len(em_pos) >= 2 else 0
        want = min(3, len(users)) if self.n > LONG else 1 + (len(em_pos) >= 3 and rng.random() < 0.5)
        rounds = max(1, min(want, len(users), len(ems), len(em_pos) - k0))
        asker = None
        for r in range(rounds):
            p = em_pos[k0 + r]
            if p >= 1 and self.nicks[p - 1] != self.c.em:
                if asker is None:
                    asker = self.nicks[p - 1]
                elif (p < 2 or self.nicks[p - 2] != asker) and self.nicks.count(self.nicks[p - 1]) > 1:
                    self.nicks[p - 1] = asker  # the same person keeps asking (never losing a speaker)
                self.texts[p - 1] = users[r]
            self.texts[p] = ems[r]
        self.used.update(norm(t) for t in self.texts if t)

    def place_premise(self) -> None:
        """The first free line of someone in the cast tells the premise in the first person."""
        if not self.job.premise:
            return
        for i in range(min(3, self.n)):
            if self.texts[i] is None and self.nicks[i] != self.c.em:
                self.texts[i] = first_person(self.job.premise, self.rng)
                self.used.add(norm(self.texts[i]))
                return

    def place_topic_lines(self, opening: bool) -> None:
        rng, t = self.rng, self.topic
        long = self.n > LONG
        users = [x for x in t["user_lines"] if norm(x) not in self.used]
        ems = [x for x in t["em_lines"] if norm(x) not in self.used]
        rng.shuffle(users)
        rng.shuffle(ems)
        k_u = rng.randint(2, max(2, len(users))) if long else rng.randint(1, 2)
        k_e = rng.randint(1, max(1, len(ems))) if long else rng.randint(0, 1)
        free_u = [i for i in range(self.n) if self.texts[i] is None and self.nicks[i] != self.c.em]
        free_e = [i for i in range(self.n) if self.texts[i] is None and self.nicks[i] == self.c.em]
        if opening and free_u and free_u[0] == 0 and users and rng.random() < 0.5:
            self.texts[0] = users.pop()
            k_u -= 1
        for pool, free, k in ((users, [i for i in free_u if self.texts[i] is None and i > 0], k_u), (ems, free_e, k_e)):
            for i, line in zip(sorted(rng.sample(free, min(k, len(free), len(pool)))), pool):
                self.texts[i] = line
                self.used.add(norm(line))

    def fill(self) -> list[tuple[str, str]]:
        em = self.c.em
        for i in range(self.n):
            if self.texts[i] is not None:
                continue
            who = "em" if self.nicks[i] == em else "user"
            prev = self.nicks[i - 1] if i > 0 else (self.before[-1][0] if self.before else None)
            nxt_em = i + 1 < self.n and self.nicks[i + 1] == em
            if who == "user" and i == 0 and not self.before:
                move = "opening"
            elif who == "user" and nxt_em and self.rng.random() < 0.25:
                move = "to_em"
            else:
                moves = USER_MOVES if who == "user" else EM_MOVES
                if prev is None:
                    moves = {m: w for m, w in moves.items() if m not in ("reaction", "agree", "disagree")}
                move = self.rng.choices(list(moves), list(moves.values()))[0]
            self.texts[i] = self._line(who, move, self.nicks[i], prev)
        styled = [t if nick == em else self.styler.apply(nick, t, self.rng) for nick, t in zip(self.nicks, self.texts)]
        return list(zip(self.nicks, styled))

    def _line(self, who: str, move: str, speaker: str, prev: str | None) -> str:
        g, rng = self.c.g[who], self.rng
        for attempt in range(12):
            taken: set[str] = set()  # topic words already in this line: never say one twice
            text = self._fill(self._template(g[move]), speaker, prev, taken)
            extra = (rng.random() < 0.45) + (rng.random() < 0.12) if who == "user" else (rng.random() < 0.3)
            for _ in range(extra + (attempt >= 6)):  # a second (third) sentence; always one after 6 collisions
                kind = "followup" if rng.random() < 0.6 else rng.choice(SECOND[who])
                text = _join(text, self._fill(self._template(g[kind]), speaker, prev, taken))
            if rng.random() < 0.22:
                opener = rng.choice(self.c.g["openers"][who])
                if not norm(text).startswith(norm(opener)):
                    text = f"{opener}{rng.choice([' ', ', '])}{text}"
            key = norm(text)
            if key not in self.used:
                self.used.add(key)
                return text
        return text  # 12 collisions in a row: practically impossible with this grammar

    def _template(self, options: list[str]) -> str:
        best = None
        for _ in range(3):
            tpl = self.rng.choice(options)
            if best is None or self.tpl_used.get(tpl, 0) < self.tpl_used.get(best, 0):
                best = tpl
            if not self.tpl_used.get(tpl):
                break
        self.tpl_used[best] = self.tpl_used.get(best, 0) + 1
        return best

    def _fill(self, tpl: str, speaker: str, prev: str | None, taken: set[str]) -> str:
        rng, vals = self.rng, {}

        def fresh(pool: list[str], first: str | None = None) -> str:
            value = first if first is not None else rng.choice(pool)
            for _ in range(4):
                if value not in taken:
                    break
                value = rng.choice(pool)
            taken.add(value)
            return value

        def val(m: re.Match) -> str:
            name = m.group(1)
            if name not in vals:
                if name in ("thing", "subject"):
                    first = self.subject if name == "subject" or rng.random() < 0.12 else None
                    vals[name] = fresh(self.things, first)
                elif name in ("other", "other2"):
                    vals[name] = fresh(self.other_things)
                elif name == "nick":
                    vals[name] = self._addressee(speaker, prev, allow_em="em" not in tpl.split())
                elif name == "adj2":
                    vals[name] = rng.choice([a for a in self.c.words["adj"] if a != vals.get("adj")])
                else:
                    vals[name] = rng.choice(self.c.words.get(name) or [name])
            return vals[name]

        return _SLOT.sub(val, tpl)

    def _addressee(self, speaker: str, prev: str | None, allow_em: bool) -> str:
        em = self.c.em
        if prev == em and speaker != em and allow_em and self.rng.random() < 0.5:
            return "em"
        if prev and prev not in (speaker, em) and self.rng.random() < 0.8:
            return prev
        pool = [x for x in self.cast if x != speaker] or self.cast
        return self.rng.choice(pool)


def _join(a: str, b: str) -> str:
    return f"{a} {b}" if a.endswith(("?", "!", ".")) else f"{a}. {b}"
