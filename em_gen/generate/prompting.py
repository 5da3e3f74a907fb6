"""Job -> provider request.

The system prompt (Em's character, concrete phrasings, output format) is the same for every job,
so providers can cache it (Anthropic `cache_control`). The user message carries the job.
"""
from __future__ import annotations

from em_gen.generate.plan import Job
from em_gen.library import Library
from em_gen.providers.base import STOP_SEQUENCES, Request  # noqa: F401 (Request re-exported)
from em_gen.quality.irc import render

TOKENS_PER_MESSAGE = 45  # generous: measured IRC lines average ~25 tokens, plus header and slack


def system_prompt(lib: Library) -> str:
    """Em's character, example logs and the output format: the same for every job, so it is the
    cached prefix (kept above Anthropic's minimum cacheable length, 1,024-2,048 tokens by model)."""
    return "\n\n".join(lib.prompts[n].rstrip() for n in ("character.md", "examples.md", "format.md")) + "\n"


def max_tokens_for(messages: int, override: int | None = None) -> int:
    return override or max(1024, messages * TOKENS_PER_MESSAGE + 100)


NATURAL_SCENARIO = "none, a natural conversation"


def scenario_instruction(lib: Library, job: Job) -> str:
    if not job.scenario:
        return ("There is no scenario: Em joins organically, and nothing is forced to a resolution.")
    return ("The scenario must happen in the log, growing out of the chat about the premise rather than "
            "replacing it.")


def scenario_line(lib: Library, job: Job) -> str:
    if not job.scenario:
        return NATURAL_SCENARIO
    sc = lib.scenario(job.scenario)
    return f"{sc['name']}. {sc['brief']}"


def cast_lines(job: Job) -> str:
    """One `- nick: voice` line per other speaker (`- nick` for a voiceless one)."""
    return "\n".join(f"- {nick}: {voice}" if voice else f"- {nick}" for nick, voice in job.cast)


def build_request(lib: Library, job: Job, temperature: float | None = None, max_tokens: int | None = None) -> Request:
    topic = lib.topics[job.topic]
    user = lib.prompts["job.md"].format(
        engagement=job.engagement,
        channel=job.channel,
        channel_description=lib.mix["channels"][job.channel]["description"],
        topic_name=topic["name"],
        premise=job.premise,
        scenario=scenario_line(lib, job),
        messages=job.messages,
        em_messages=job.em_messages,
        cast=cast_lines(job),
        scenario_instruction=scenario_instruction(lib, job),
    )
    return Request(job_id=job.id, system=system_prompt(lib), user=user,
                   max_tokens=max_tokens_for(job.messages, max_tokens), temperature=temperature)


def continuation_request(lib: Library, job: Job, first: Request, messages: list[tuple[str, str]], part: int,
                         max_tokens: int | None = None) -> Request:
    """Ask for the rest of a log that the token limit cut off (`max_tokens`: the user's --max-tokens,
    which holds for continuations too)."""
    em_have = sum(1 for n, _ in messages if n == lib.em)
    remaining = max(1, job.messages - len(messages))
    user = lib.prompts["continue.md"].format(
        have=len(messages), messages=job.messages, em_have=em_have, em_messages=job.em_messages,
        remaining=remaining, em_remaining=max(0, job.em_messages - em_have), cast=cast_lines(job),
        log=render(job.engagement, job.channel, messages),
    )
    return Request(job_id=job.id, system=first.system, user=user, temperature=first.temperature,
                   max_tokens=max_tokens_for(remaining, max_tokens), part=part)
