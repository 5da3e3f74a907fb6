"""The teacher prompt with a premise and a cast: the JOB block reads as prose facts (no Python
reprs, nothing unfilled), Em is never in the cast, and the stand-in reads back what em-gen wrote."""
from __future__ import annotations

import re
from dataclasses import replace

from em_gen.generate.plan import make_plan
from em_gen.generate.prompting import build_request, continuation_request
from em_gen.providers.standin.compose import Composer
from em_gen.providers.standin.jobs import parse_continuation, parse_job
from em_gen.quality import irc

_BLOCK = re.compile(r"^JOB\n(.*?)^END JOB", re.M | re.S)


def _jobs(lib):
    jobs = make_plan(lib, 60, 5, "t")
    return next(j for j in jobs if j.scenario), next(j for j in jobs if not j.scenario)


def test_job_block_has_the_premise_and_the_cast_and_no_python(lib):
    for job in _jobs(lib):
        user = build_request(lib, job).user
        block = _BLOCK.search(user).group(1)
        assert f"premise: {job.premise}\n" in block
        cast = block.split("cast:\n", 1)[1].splitlines()
        assert cast == [f"- {n}: {v}" for n, v in zip(job.nicks, job.voices)]
        assert not re.search(r"\(['\"]|['\"]\)|\[['\"]|\{|\}|None\b|\bsubject\b", user), "a repr or an unfilled slot"
        assert not any(line.lower().startswith(f"- {lib.em.lower()}:") for line in cast)
        assert "premise" in user.split("END JOB", 1)[1], "the instructions say what to do with it"
        if job.scenario:
            sc = lib.scenario(job.scenario)
            assert f"scenario: {sc['name']}. {sc['brief']}\n" in block
        else:
            assert "scenario: none, a natural conversation\n" in block


def test_the_stand_in_reads_the_job_back(lib):
    composer = Composer(lib)
    for job in _jobs(lib):
        req = build_request(lib, job)
        got = parse_job(req.user)
        composer._resolve(got)
        assert (got.engagement, got.channel, got.topic_id, got.premise) == (job.engagement, job.channel, job.topic,
                                                                           job.premise)
        assert got.scenario_id == (job.scenario or "none")
        assert (got.messages, got.em_messages, got.nicks) == (job.messages, job.em_messages, list(job.nicks))
        assert got.voices == dict(zip(job.nicks, job.voices))


def test_the_stand_in_opens_with_the_premise_and_uses_the_cast(lib):
    composer = Composer(lib)
    natural = _jobs(lib)[1]
    req = build_request(lib, natural)
    log = irc.parse(composer.respond(req.prompt()))
    first_user = next(t for n, t in log.messages if n != lib.em)
    words = set(re.findall(r"[a-z]+", natural.premise.lower()))
    assert len(words & set(re.findall(r"[a-z]+", first_user.lower()))) >= len(words) * 0.6
    assert {n for n, _ in log.messages} - {lib.em} <= set(natural.nicks)


def test_a_lower_case_voice_types_in_lower_case(lib):
    composer = Composer(lib)
    job = _jobs(lib)[1]
    voices = tuple("night-shift nurse, dry, all lower case" for _ in job.nicks)
    loud = replace(job, voices=voices, messages=20, em_messages=3)
    log = irc.parse(composer.respond(build_request(lib, loud).prompt()))
    others = [t for n, t in log.messages if n != lib.em]
    assert others and all(t == t.lower() for t in others)


def test_continuation_carries_the_cast(lib):
    job = _jobs(lib)[0]
    first = build_request(lib, job)
    cut = [(job.nicks[i % 3], f"line number {i} about the thing") for i in range(5)]
    cont = continuation_request(lib, job, first, cut, 1)
    assert f"- {job.nicks[0]}: {job.voices[0]}" in cont.user
    parsed = parse_continuation(cont.user)
    assert parsed.voices[job.nicks[0]] == job.voices[0]
    assert irc.parse(parsed.log).messages == cut
