"""The offline stand-in server, driven through the real openai and anthropic SDKs."""
from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anthropic
import openai
import pytest

from em_gen.quality import irc
from em_gen.library import ROOT, load_library
from em_gen.providers.standin.server import Faults, StandInServer, finish
from em_gen.providers.standin.compose import Composer
from em_gen.providers.standin.faults import HALLUCINATIONS
from em_gen.providers.standin.jobs import Job, parse_job
from em_gen.generate.plan import Job as PlanJob
from em_gen.generate.prompting import build_request

BANNED = ("happy to help", "how can i help", "great question", "let me know", "hope this helps",
          "as an ai language model", "i understand your concern", "feel free")


@pytest.fixture(scope="module")
def lib():
    return load_library()


@pytest.fixture(scope="module")
def srv(lib):
    with StandInServer(library=lib) as s:
        yield s


def make_prompt(lib, *, engagement="MEDIUM", channel="#general", topic_id="everyday_life", premise=None,
                scenario_id="boundaries/homework_refusal", messages=16, em_messages=3,
                nicks="kestrel, mossbyte, jvk, tanuki_, quietriot", voices=()):
    """(system, user) as em-gen builds them (prompting.build_request for a job of these facts)."""
    names = tuple(n.strip() for n in nicks.split(","))
    job = PlanJob(id="t-00000", pattern="natural" if scenario_id == "none" else scenario_id.split("/")[0],
                  scenario=None if scenario_id == "none" else scenario_id, engagement=engagement, channel=channel,
                  topic=topic_id, bucket="long" if messages > 30 else "short",
                  premise=premise if premise is not None else lib.premises[topic_id][0],
                  messages=messages, em_messages=em_messages, nicks=names, voices=tuple(voices))
    req = build_request(lib, job)
    return req.system, req.user


def oai(base, key="x", cls=openai.OpenAI):
    return cls(api_key=key, base_url=base + "/v1", max_retries=0)


def ant(base, key="x", cls=anthropic.Anthropic):
    return cls(api_key=key, base_url=base, max_retries=0)


def chat(client, system, user, **kw):
    return client.chat.completions.create(model="stand-in", messages=[{"role": "system", "content": system},
                                                                       {"role": "user", "content": user}], **kw)


def check_log(text, lib, *, engagement, channel, messages, em_messages, nicks):
    p = irc.parse(text)
    assert text.split("\n")[:2] == [f"ENGAGEMENT: {engagement}", f"CHANNEL: {channel}"]
    assert p.truncated_at is None and not p.dropped and p.continuations == 0
    assert len(p.messages) == messages
    who = [n for n, _ in p.messages]
    assert who.count(lib.em) == em_messages
    assert not any(a == b == lib.em for a, b in zip(who, who[1:])), "Em twice in a row"
    others = set(who) - {lib.em}
    assert len(others) >= 3 and others <= set(nicks)
    return p


def shingles(text, k=5):
    w = text.lower().split()
    return {tuple(w[i:i + k]) for i in range(len(w) - k + 1)}


def jaccard(a, b):
    return len(a & b) / len(a | b)


# ---- conversations ----------------------------------------------------------------------------
def test_openai_chat_plain_and_stream(srv, lib):
    system, user = make_prompt(lib, messages=18, em_messages=4)
    client = oai(srv.base_url)
    r = chat(client, system, user)
    assert r.choices[0].finish_reason == "stop" and r.object == "chat.completion"
    text = r.choices[0].message.content
    check_log(text, lib, engagement="MEDIUM", channel="#general", messages=18, em_messages=4,
              nicks=["kestrel", "mossbyte", "jvk", "tanuki_", "quietriot"])
    assert r.usage.prompt_tokens == -(-len(system + "\n\n" + user) // 4)
    assert r.usage.completion_tokens == -(-len(text) // 4)
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    pieces, finishes, usage = [], [], None
    for chunk in chat(client, system, user, stream=True, stream_options={"include_usage": True}):
        if chunk.choices:
            pieces.append(chunk.choices[0].delta.content or "")
            finishes.append(chunk.choices[0].finish_reason)
        if chunk.usage:
            usage = chunk.usage
    assert "".join(pieces) == text
    assert finishes[-1] == "stop" and set(finishes[:-1]) == {None}
    assert usage.completion_tokens == r.usage.completion_tokens


def test_openai_completions_and_models(srv, lib):
    system, user = make_prompt(lib)
    client = oai(srv.base_url)
    r = client.completions.create(model="stand-in", prompt=system + "\n\n" + user)
    # the same prompt text gives the same conversation whichever endpoint carries it
    assert r.choices[0].text == chat(client, system, user).choices[0].message.content
    assert r.choices[0].finish_reason == "stop" and r.usage.completion_tokens > 50
    streamed = "".join(c.choices[0].text for c in client.completions.create(
        model="stand-in", prompt=system + "\n\n" + user, stream=True))
    assert streamed == r.choices[0].text
    assert [m.id for m in client.models.list()] == ["stand-in"]


def test_anthropic_plain_stream_and_event_order(srv, lib):
    system, user = make_prompt(lib, engagement="HIGH", channel="#shoggoth", messages=20, em_messages=6,
                               scenario_id="anti_assistant/ai_identity")
    client = ant(srv.base_url)
    m = client.messages.create(model="claude-x", max_tokens=4000, system=system,
                               messages=[{"role": "user", "content": user}])
    assert m.stop_reason == "end_turn" and m.stop_sequence is None and m.type == "message"
    text = m.content[0].text
    check_log(text, lib, engagement="HIGH", channel="#shoggoth", messages=20, em_messages=6,
              nicks=["kestrel", "mossbyte", "jvk", "tanuki_", "quietriot"])
    assert m.usage.input_tokens > 0 and m.usage.output_tokens == -(-len(text) // 4)
    events = [e.type for e in client.messages.create(model="claude-x", max_tokens=4000, system=system, stream=True,
                                                      messages=[{"role": "user", "content": user}])]
    n = events.count("content_block_delta")
    assert n >= 20 and events == (["message_start", "content_block_start"] + ["content_block_delta"] * n
                                  + ["content_block_stop", "message_delta", "message_stop"])
    with client.messages.stream(model="claude-x", max_tokens=4000, system=system,
                                messages=[{"role": "user", "content": user}]) as stream:
        streamed = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert streamed == text == final.content[0].text
    assert final.stop_reason == "end_turn" and final.usage.output_tokens == m.usage.output_tokens


def test_async_clients(srv, lib):
    system, user = make_prompt(lib, messages=12, em_messages=2)

    async def run():
        o = oai(srv.base_url, cls=openai.AsyncOpenAI)
        a = ant(srv.base_url, cls=anthropic.AsyncAnthropic)
        plain = await o.chat.completions.create(model="m", messages=[{"role": "system", "content": system},
                                                                     {"role": "user", "content": user}])
        parts = []
        async for chunk in await o.chat.completions.create(
                model="m", stream=True, messages=[{"role": "system", "content": system}, {"role": "user", "content": user}]):
            parts.append(chunk.choices[0].delta.content or "")
        msg = await a.messages.create(model="c", max_tokens=2000, system=system, messages=[{"role": "user", "content": user}])
        async with a.messages.stream(model="c", max_tokens=2000, system=system,
                                     messages=[{"role": "user", "content": user}]) as s:
            streamed = "".join([t async for t in s.text_stream])
        return plain.choices[0].message.content, "".join(parts), msg.content[0].text, streamed

    texts = asyncio.run(run())
    assert len(set(texts)) == 1
    check_log(texts[0], lib, engagement="MEDIUM", channel="#general", messages=12, em_messages=2,
              nicks=["kestrel", "mossbyte", "jvk", "tanuki_", "quietriot"])


def test_long_log_no_repeats_scenario_early_and_clean_lines(srv, lib):
    nicks = ["kestrel", "mossbyte", "jvk", "tanuki_", "quietriot", "hexane"]
    system, user = make_prompt(lib, engagement="HIGH", messages=120, em_messages=40, nicks=", ".join(nicks),
                               scenario_id="boundaries/help_deflection", topic_id="light_technical")
    text = chat(oai(srv.base_url), system, user).choices[0].message.content
    p = check_log(text, lib, engagement="HIGH", channel="#general", messages=120, em_messages=40, nicks=nicks)
    lines = [t for _, t in p.messages]
    assert len(set(lines)) == 120, "a line repeats"
    scen = lib.scenario("boundaries/help_deflection")
    first = next(i for i, (_, t) in enumerate(p.messages) if t in scen["user_lines"])
    assert first < 8 and p.messages[first + 1] == (lib.em, p.messages[first + 1][1])
    assert p.messages[first + 1][1] in scen["em_lines"]
    topic = lib.topics["light_technical"]
    assert any(t in topic["user_lines"] for t in lines) and any(t in topic["em_lines"] for t in lines)
    for nick, t in p.messages:
        assert not any(b in t.lower() for b in BANNED), t
        assert not t.lstrip().startswith(("-", "*", "#", "1.")) and "**" not in t and "`" not in t
        assert len(t.split()) >= 3, t
        if nick == lib.em:
            assert "help" not in t.lower() or t in scen["em_lines"], t


def test_deterministic_and_different_jobs_differ(srv, lib):
    client = oai(srv.base_url)
    rng = random.Random(7)
    for messages, em in ((14, 2), (120, 30)):
        texts = []
        for _ in range(2):
            nicks = ", ".join(rng.sample(lib.nicks, 5))
            system, user = make_prompt(lib, messages=messages, em_messages=em, nicks=nicks, scenario_id="none",
                                       topic_id="entertainment")
            a = chat(client, system, user).choices[0].message.content
            with StandInServer(library=lib) as fresh:  # same request, same log, also from another server
                assert chat(oai(fresh.base_url), system, user).choices[0].message.content == a
            texts.append("\n".join(t for _, t in irc.parse(a).messages))
        assert texts[0] != texts[1]
        assert jaccard(shingles(texts[0]), shingles(texts[1])) < 0.25


def test_dense_and_sparse_em_counts(lib):
    composer = Composer(lib)
    for seed in range(20):
        for n, em in ((10, 5), (11, 5), (7, 0), (13, 1), (20, 7)):
            job = Job(engagement="HIGH", topic_id="random_thoughts", messages=n, em_messages=em, nicks=["a1", "b2"])
            who = [nick for nick, _ in composer.compose(job, random.Random(seed))]
            assert len(who) == n and who.count(lib.em) == em
            assert not any(x == y == lib.em for x, y in zip(who, who[1:])), who
            assert len(set(who) - {lib.em}) >= 3  # two offered nicks, topped up from the nick list


def test_irc_parse_round_trip(srv, lib):
    composer = Composer(lib)
    job = Job(engagement="LOW", channel="#culture-war", topic_id="political", subject="housing policy",
              scenario_id="participation/disagreements", messages=60, em_messages=5, nicks=["a1", "b2", "c3", "d4"])
    composed = composer.compose(job, random.Random(3))
    assert len(composed) == 60 and sum(n == lib.em for n, _ in composed) == 5
    parsed = irc.parse(irc.render(job.engagement, job.channel, composed))
    assert parsed.messages == composed and parsed.engagement == "LOW" and parsed.channel == "#culture-war"
    # and through the wire: what the server sends parses back to what the composer made for that prompt
    system, user = make_prompt(lib, messages=25, em_messages=5)
    text = chat(oai(srv.base_url), system, user).choices[0].message.content
    assert irc.parse(text).messages == irc.parse(composer.respond(system + "\n\n" + user)).messages
    assert parse_job(user).nicks == ["kestrel", "mossbyte", "jvk", "tanuki_", "quietriot"]


def test_continuation_prompt_gives_remaining_lines(srv, lib):
    system, user = make_prompt(lib, messages=30, em_messages=6)
    client = ant(srv.base_url)
    full = client.messages.create(model="c", max_tokens=4000, system=system,
                                  messages=[{"role": "user", "content": user}]).content[0].text
    p = irc.parse(full)
    have = p.messages[:11]
    while have[-1][0] != lib.em:  # end the kept part on an Em line: the next one must not be Em
        have = have[:-1]
    em_have = sum(n == lib.em for n, _ in have)
    cont = lib.prompts["continue.md"].format(
        have=len(have), messages=30, em_have=em_have, em_messages=6, remaining=30 - len(have),
        em_remaining=6 - em_have, cast="- kestrel: night-shift nurse, dry\n- jvk: retired postman, cheerful",
        log=irc.render(p.engagement, p.channel, have))
    out = client.messages.create(model="c", max_tokens=4000, system=system,
                                 messages=[{"role": "user", "content": user}, {"role": "assistant", "content": full[:200]},
                                           {"role": "user", "content": cont}]).content[0].text
    assert not out.startswith("ENGAGEMENT") and "CHANNEL:" not in out
    rest = irc.parse(out).messages
    assert len(rest) == 30 - len(have) and sum(n == lib.em for n, _ in rest) == 6 - em_have
    assert rest[0][0] != lib.em
    assert not {t for _, t in rest} & {t for _, t in have}
    whole = [n for n, _ in have + rest]
    assert not any(a == b == lib.em for a, b in zip(whole, whole[1:]))


def test_plain_log_prefix_continues(srv, lib):
    head = ("ENGAGEMENT: MEDIUM\nCHANNEL: #general\n<kestrel> anyone else think pineapple on pizza is fine\n"
            "<mossbyte> absolutely not, it's a crime\n<jvk> socks with sandals is worse honestly\n")
    client = oai(srv.base_url)
    r = client.completions.create(model="m", prompt=head + "<Em>", max_tokens=300)
    first, *more = r.choices[0].text.split("\n")
    assert first.startswith(" ") and not first.lstrip().startswith("<") and len(first.split()) >= 3
    assert more and all(line.startswith("<") for line in more if line)
    r2 = client.completions.create(model="m", prompt=head, max_tokens=300, stop=["\n"])
    assert r2.choices[0].finish_reason == "stop"
    nick, _ = irc.parse(r2.choices[0].text).messages[0]
    assert r2.choices[0].text.startswith(f"<{nick}> ") and "\n" not in r2.choices[0].text


# ---- stop sequences, max_tokens, caching ------------------------------------------------------
def test_finish_rules():
    assert finish("abcdefgh", None, ["de"]) == ("abc", "stop_sequence", "de")
    assert finish("abcdefgh", 1, ["de"]) == ("abcd", "length", None)  # the stop lies past the limit
    assert finish("abcdefgh", 2, ["gh", "c"]) == ("ab", "stop_sequence", "c")
    assert finish("abcdefgh", 5, []) == ("abcdefgh", "stop", None)


def test_stop_sequences_and_max_tokens(srv, lib):
    system, user = make_prompt(lib)
    o, a = oai(srv.base_url), ant(srv.base_url)
    full = chat(o, system, user).choices[0].message.content
    r = chat(o, system, user, stop=["\n<Em>"])
    assert r.choices[0].finish_reason == "stop" and r.choices[0].message.content == full[: full.index("\n<Em>")]
    r = chat(o, system, user, max_tokens=25)
    assert r.choices[0].finish_reason == "length" and r.usage.completion_tokens == 25
    assert r.choices[0].message.content == full[:100]
    r = chat(o, system, user, max_completion_tokens=30, stream=True)
    chunks = list(r)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == full[:120]
    assert chunks[-1].choices[0].finish_reason == "length"
    kw = dict(model="c", system=system, messages=[{"role": "user", "content": user}])
    m = a.messages.create(max_tokens=4000, stop_sequences=["\n<Em>", "zzz"], **kw)
    assert (m.stop_reason, m.stop_sequence) == ("stop_sequence", "\n<Em>")
    assert m.content[0].text == full[: full.index("\n<Em>")]
    m = a.messages.create(max_tokens=10, **kw)
    assert (m.stop_reason, m.usage.output_tokens, m.content[0].text) == ("max_tokens", 10, full[:40])
    with a.messages.stream(max_tokens=12, stop_sequences=["\n<Em>"], **kw) as s:
        final = s.get_final_message()
    assert final.stop_reason == "max_tokens" and final.content[0].text == full[:48]


def test_prompt_cache_usage(srv, lib):
    system, user = make_prompt(lib, premise="a cache test premise about nothing at all " + str(time.time()))
    client = ant(srv.base_url)
    sys_blocks = [{"type": "text", "text": system + str(time.time()), "cache_control": {"type": "ephemeral"}}]
    kw = dict(model="c", max_tokens=2000, system=sys_blocks, messages=[{"role": "user", "content": user}])
    n = -(-len(sys_blocks[0]["text"]) // 4)
    first, second = client.messages.create(**kw).usage, client.messages.create(**kw).usage
    assert (first.cache_creation_input_tokens, first.cache_read_input_tokens) == (n, 0)
    assert (second.cache_creation_input_tokens, second.cache_read_input_tokens) == (0, n)
    assert first.input_tokens == second.input_tokens > 0
    with client.messages.stream(**kw) as s:
        assert s.get_final_message().usage.cache_read_input_tokens == n
    plain = client.messages.create(model="c", max_tokens=2000, system=system, messages=[{"role": "user", "content": user}])
    assert (plain.usage.cache_creation_input_tokens, plain.usage.cache_read_input_tokens) == (0, 0)
    assert srv.stats["cache_writes"] >= 1 and srv.stats["cache_reads"] >= 2


# ---- faults -----------------------------------------------------------------------------------
def test_rate_limit_fault_429(lib):
    _, user = make_prompt(lib)
    with StandInServer(library=lib, faults=Faults(p429=1.0, retry_after=7)) as s:
        with pytest.raises(openai.RateLimitError) as e:
            oai(s.base_url).chat.completions.create(model="m", messages=[{"role": "user", "content": user}])
        h = e.value.response.headers
        assert h["retry-after"] == "7" and h["x-ratelimit-remaining-requests"] == "0"
        assert e.value.code == "rate_limit_exceeded"
        with pytest.raises(anthropic.RateLimitError) as e:
            ant(s.base_url).messages.create(model="m", max_tokens=10, messages=[{"role": "user", "content": user}])
        h = e.value.response.headers
        assert h["retry-after"] == "7" and h["anthropic-ratelimit-requests-remaining"] == "0"
        assert e.value.body["error"]["type"] == "rate_limit_error"
        assert s.stats["by_status"] == {429: 2} and s.stats["http_faults"] == {"429": 2}


def test_server_error_and_overloaded(lib):
    _, user = make_prompt(lib)
    msgs = [{"role": "user", "content": user}]
    with StandInServer(library=lib, faults=Faults(p500=1.0)) as s:
        with pytest.raises(openai.InternalServerError) as e:
            oai(s.base_url).chat.completions.create(model="m", messages=msgs)
        assert e.value.status_code == 500
        with pytest.raises(anthropic.InternalServerError) as e:
            ant(s.base_url).messages.create(model="m", max_tokens=10, messages=msgs)
        assert e.value.status_code == 500 and e.value.body["error"]["type"] == "api_error"
    with StandInServer(library=lib, faults=Faults(p529=1.0)) as s:
        with pytest.raises(anthropic.OverloadedError) as e:
            ant(s.base_url).messages.create(model="m", max_tokens=10, messages=msgs, stream=True)
        assert e.value.status_code == 529 and e.value.body["error"]["type"] == "overloaded_error"
        with pytest.raises(openai.InternalServerError) as e:
            oai(s.base_url).chat.completions.create(model="m", messages=msgs)
        assert e.value.status_code == 503
        assert s.stats["http_faults"] == {"529": 1, "503": 1}


def test_http_faults_are_seeded_per_attempt(lib):
    _, user = make_prompt(lib)

    def statuses(seed):
        with StandInServer(library=lib, faults=Faults(p429=0.3, p500=0.2, p529=0.2, seed=seed)) as s:
            c, out = oai(s.base_url), []
            for _ in range(20):
                try:
                    c.chat.completions.create(model="m", messages=[{"role": "user", "content": user}])
                    out.append(200)
                except openai.APIStatusError as e:
                    out.append(e.status_code)
            return out

    a = statuses(1)
    assert a == statuses(1) and {200, 429, 500, 503} <= set(a) and a != statuses(2)


def test_retrying_sdk_gets_through(lib):
    _, user = make_prompt(lib)
    with StandInServer(library=lib, faults=Faults(p429=0.6, retry_after=0.01, seed=3)) as s:
        c = openai.OpenAI(api_key="x", base_url=s.base_url + "/v1", max_retries=10)
        for _ in range(4):
            assert c.chat.completions.create(model="m", messages=[{"role": "user", "content": user}]).choices
        assert s.stats["by_status"][200] == 4 and sum(s.stats["http_faults"].values()) >= 1


def test_stream_breaks_off(lib):
    system, user = make_prompt(lib, messages=20, em_messages=3)
    with StandInServer(library=lib, faults=Faults(p_stream_error=1.0)) as s:
        got = []
        with pytest.raises(openai.APIError):
            for c in chat(oai(s.base_url), system, user, stream=True):
                got.append(c.choices[0].delta.content or "")
        assert got and "ENGAGEMENT" in "".join(got)
        with pytest.raises(anthropic.APIStatusError) as e:
            list(ant(s.base_url).messages.create(model="c", max_tokens=3000, system=system, stream=True,
                                                 messages=[{"role": "user", "content": user}]))
        assert e.value.body["error"]["type"] == "overloaded_error"
        assert s.stats["http_faults"] == {"stream_error": 2}


def test_fatal_errors(srv, lib):
    msgs = [{"role": "user", "content": "hi"}]
    with pytest.raises(openai.AuthenticationError):
        oai(srv.base_url, key="bad-key").chat.completions.create(model="m", messages=msgs)
    with pytest.raises(anthropic.AuthenticationError) as e:
        ant(srv.base_url, key="bad-key").messages.create(model="m", max_tokens=5, messages=msgs)
    assert e.value.body["error"]["type"] == "authentication_error"
    with pytest.raises(openai.NotFoundError) as e:
        oai(srv.base_url).chat.completions.create(model="no-such-model", messages=msgs)
    assert e.value.code == "model_not_found"
    with pytest.raises(anthropic.NotFoundError):
        ant(srv.base_url).messages.create(model="no-such-model", max_tokens=5, messages=msgs)
    with pytest.raises(openai.BadRequestError):
        oai(srv.base_url).chat.completions.create(model="m", messages=[])
    with pytest.raises(openai.BadRequestError):
        oai(srv.base_url).post("/completions", cast_to=object, body={"model": "m"})
    with pytest.raises(anthropic.BadRequestError) as e:
        ant(srv.base_url).post("/v1/messages", cast_to=object, body={"model": "m", "messages": msgs})
    assert e.value.body["error"] == {"type": "invalid_request_error", "message": "max_tokens: Field required"}


def test_content_faults_follow_the_prompt(lib):
    prompts = [make_prompt(lib, nicks=f"n{i}, kestrel, jvk, hexane") for i in range(24)]
    with StandInServer(library=lib, faults=Faults(p_hallucination=1.0)) as s:
        c = oai(s.base_url)
        texts = [chat(c, *p).choices[0].message.content for p in prompts]
        assert texts[0] == chat(c, *prompts[0]).choices[0].message.content  # same job, same content
        tails = {h for t in texts for h in HALLUCINATIONS if t.endswith(h)}
        assert len(tails) >= 4 and len(texts) == sum(any(t.endswith(h) for h in HALLUCINATIONS) for t in texts)
        stops = ["\nUser:", "\nAssistant:", "\nHuman:"]
        cut = [chat(c, *p, stop=stops).choices[0].message.content for p in prompts]
        caught = [irc.parse(t).truncated_at is not None for t in cut]
        assert True in caught and False in caught  # some markers survive the stop sequences, some do not
        assert s.stats["content_faults"]["hallucination"] == len(prompts) * 2 + 1
    with StandInServer(library=lib, faults=Faults(p_garbage=1.0)) as s:
        c = oai(s.base_url)
        texts = [chat(c, *p).choices[0].message.content for p in prompts[:8]]
        for t in texts:
            assert "\ufffd" in t or any(ord(ch) > 0x2E80 for ch in t) or any(0x80 <= ord(ch) < 0x250 for ch in t)
        assert chat(c, *prompts[0]).choices[0].message.content == texts[0]
    with StandInServer(library=lib, faults=Faults(p_garbage=0.5, seed=99)) as s:  # per prompt, not per attempt
        hit = [s.generate(a + "\n\n" + b) != s.composer.respond(a + "\n\n" + b) for a, b in prompts]
        assert 0 < sum(hit) < len(hit)
        assert hit == [s.generate(a + "\n\n" + b) != s.composer.respond(a + "\n\n" + b) for a, b in prompts]


def test_latency_does_not_block_and_slow_replies(lib):
    _, user = make_prompt(lib, messages=10, em_messages=1)
    with StandInServer(library=lib, latency=0.4) as s:
        c = oai(s.base_url)
        t = time.monotonic()
        with ThreadPoolExecutor(8) as ex:
            list(ex.map(lambda _: c.completions.create(model="m", prompt=user), range(8)))
        took = time.monotonic() - t
        assert 0.4 <= took < 1.5, took
    with StandInServer(library=lib, faults=Faults(p_slow=1.0, slow_seconds=0.5)) as s:
        t = time.monotonic()
        oai(s.base_url).completions.create(model="m", prompt=user)
        assert time.monotonic() - t >= 0.5 and s.stats["http_faults"] == {"slow": 1}
        with pytest.raises(openai.APITimeoutError):
            openai.OpenAI(api_key="x", base_url=s.base_url + "/v1", max_retries=0, timeout=0.2).completions.create(
                model="m", prompt=user)


def test_rate_limit_window(lib):
    with StandInServer(library=lib, rate_limit=(3, 1.0)) as s:
        c = oai(s.base_url)
        ok = [c.completions.create(model="m", prompt=f"hi {i}") for i in range(3)]
        assert len(ok) == 3
        with pytest.raises(openai.RateLimitError) as e:
            c.completions.create(model="m", prompt="hi 4")
        h = e.value.response.headers
        assert h["retry-after"] == "1" and 0 < int(h["retry-after-ms"]) <= 1000
        # the limit per minute, as the APIs state it (3 per second); remaining: what the window has left
        assert h["x-ratelimit-limit-requests"] == "180" and h["x-ratelimit-remaining-requests"] == "0"
        with pytest.raises(anthropic.RateLimitError):
            ant(s.base_url).messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}])
        time.sleep(int(h["retry-after-ms"]) / 1000 + 0.05)
        r = c.completions.with_raw_response.create(model="m", prompt="hi 5")
        assert r.headers["x-ratelimit-remaining-requests"] == "2"
        assert s.stats["rate_limited"] == 2 and s.stats["by_status"] == {200: 4, 429: 2}


def test_faults_validation():
    with pytest.raises(ValueError):
        Faults(p429=1.5)
    with pytest.raises(ValueError):
        Faults(p429=0.6, p500=0.6)
    with pytest.raises(ValueError):
        Faults.from_dict({"p_teapot": 0.1})
    assert Faults.from_dict({"p429": 0.3, "seed": 4}) == Faults(p429=0.3, seed=4)


def test_cli_process_serves_until_sigterm(tmp_path, lib):
    port_file, stats_file = tmp_path / "port", tmp_path / "stats.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "em_gen.providers.standin.server", "--port", "0", "--port-file", str(port_file),
                             "--faults", '{"p_hallucination": 1.0}', "--rate-limit", "50/1", "--latency", "0.01",
                             "--stats-file", str(stats_file)], env=env, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 15
        while not port_file.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        port = int(port_file.read_text())
        r = oai(f"http://127.0.0.1:{port}").chat.completions.with_raw_response.create(
            model="m", messages=[{"role": "user", "content": make_prompt(lib)[1]}])
        assert r.headers["x-ratelimit-limit-requests"] == "3000"  # 50 per second, stated per minute
        assert any(r.parse().choices[0].message.content.endswith(h) for h in HALLUCINATIONS)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    stats = json.loads(stats_file.read_text())
    assert stats["requests"] == 1 and stats["content_faults"] == {"hallucination": 1}
    bad = subprocess.run([sys.executable, "-m", "em_gen.providers.standin.server", "--faults", '{"nope": 1}'],
                         env=env, capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "nope" in bad.stderr


def test_grammar_file_validates():
    from em_gen.library import SCENARIOS_DIR, load_yaml
    g = load_yaml(SCENARIOS_DIR / "grammar.yaml", "grammar")
    assert set(g["topic_words"]) == set(load_library().topics)
    assert Path(SCENARIOS_DIR / "schema" / "grammar.schema.json").exists()


def test_rate_limit_headers_as_the_apis_state_them(lib):
    """Per-minute limit, remaining in the window, reset when the budget is full again, for requests
    and tokens, in both forms, on answers and on 429s; none with rate_headers=False."""
    from em_gen.providers.base import duration
    with StandInServer(library=lib, rate_limit=(2, 1.0), token_limit=(4000, 1.0)) as s:
        r = oai(s.base_url).completions.with_raw_response.create(model="m", prompt="hi", max_tokens=100)
        h = r.headers
        assert (h["x-ratelimit-limit-requests"], h["x-ratelimit-remaining-requests"]) == ("120", "1")
        assert 0.9 <= duration(h["x-ratelimit-reset-requests"]) <= 1.0
        assert (h["x-ratelimit-limit-tokens"], h["x-ratelimit-remaining-tokens"]) == ("240000", str(4000 - 101))
        a = ant(s.base_url).messages.with_raw_response.create(model="m", max_tokens=1000,
                                                             messages=[{"role": "user", "content": "x"}])
        h = a.headers
        assert (h["anthropic-ratelimit-requests-limit"], h["anthropic-ratelimit-requests-remaining"]) == ("120", "0")
        assert 0.8 <= duration(h["anthropic-ratelimit-requests-reset"]) <= 1.1  # an RFC 3339 time
        assert h["anthropic-ratelimit-output-tokens-remaining"] == "3000"  # max_tokens reserved when admitted
        assert "anthropic-ratelimit-input-tokens-remaining" in h and "anthropic-ratelimit-tokens-limit" in h
        used = a.parse().usage.output_tokens
        assert int(s.limits.tokens["output"].remaining(time.monotonic())) == 4000 - used  # settled when answered
        with pytest.raises(openai.RateLimitError) as e:  # the window is full: a 429 with the same headers
            oai(s.base_url).completions.create(model="m", prompt="hi", max_tokens=10)
        h = e.value.response.headers
        assert h["x-ratelimit-remaining-requests"] == "0" and float(h["retry-after-ms"]) > 0
        time.sleep(1.05)
        oai(s.base_url).completions.create(model="m", prompt="hi", max_tokens=3000)
        with pytest.raises(openai.RateLimitError) as e:  # OpenAI counts input + max_tokens: 2001 more do not fit
            oai(s.base_url).completions.create(model="m", prompt="hi", max_tokens=2000)
        assert "tokens" in str(e.value)
        stats = s.stats
        assert stats["by_status"] == {200: 3, 429: 2} and 1.0 < stats["span_s"] < 1.6  # first request to last answer
    with StandInServer(library=lib, rate_limit=(1, 1.0), rate_headers=False) as s:
        r = oai(s.base_url).completions.with_raw_response.create(model="m", prompt="hi")
        assert not [k for k in r.headers if "ratelimit" in k]
        with pytest.raises(openai.RateLimitError) as e:
            oai(s.base_url).completions.create(model="m", prompt="hi")
        h = e.value.response.headers
        assert not [k for k in h if "ratelimit" in k] and float(h["retry-after-ms"]) > 0
