"""The IRC parser: the variants teacher models write, and truncation at hallucinated turns."""
from __future__ import annotations

import pytest

from em_gen.quality import irc
from em_gen.quality.irc import parse, render

HEADER = "ENGAGEMENT: LOW\nCHANNEL: #general"
LOG = HEADER + "\n<kestrel> my landlord fixed the heating\n<Em> three weeks is criminal\n<jvk> finally"
MSGS = [("kestrel", "my landlord fixed the heating"), ("Em", "three weeks is criminal"), ("jvk", "finally")]


def clean(p):
    return p.truncated_at is None and not p.dropped and p.continuations == 0


def test_plain():
    p = parse(LOG)
    assert p.engagement == "LOW" and p.channel == "#general"
    assert p.header_raw == ["ENGAGEMENT: LOW", "CHANNEL: #general"]
    assert p.messages == MSGS and clean(p) and p.trailing == []
    assert p.text() == LOG


def test_render_roundtrip():
    assert render("LOW", "#general", MSGS) == LOG
    assert parse(render("HIGH", "#shoggoth", MSGS)).text() == render("HIGH", "#shoggoth", MSGS)


@pytest.mark.parametrize("raw", [
    f"```\n{LOG}\n```",
    f"```text\n{LOG}\n```\n",
    f"Here's the channel log:\n\n{LOG}",
    f"Sure! Here is the log you asked for.\n\n```irc\n{LOG}\n```\n\nLet me know if you'd like changes.",
    f"{LOG}\n\n(End of log.)",
    LOG.replace("\n", "\r\n"),
    "\n\n" + LOG + "\n\n\n",
])
def test_wrappers(raw):
    p = parse(raw)
    assert p.messages == MSGS and clean(p)
    assert p.header_raw == ["ENGAGEMENT: LOW", "CHANNEL: #general"]


def test_trailing_remarks_are_kept_apart():
    p = parse(f"```\n{LOG}\n```\n\nHope this captures the vibe!\nLet me know.")
    assert p.messages == MSGS
    assert p.trailing == ["```", "Hope this captures the vibe!", "Let me know."]
    # without a blank line, text under the last message is glued on: the checks see it
    p = parse(LOG + "\nHope this works!")
    assert p.messages[-1] == ("jvk", "finally\nHope this works!") and p.continuations == 1


@pytest.mark.parametrize("stamp", ["[12:01] ", "[12:01:33] ", "12:01 ", "(12:01) ", "[2024-05-01 12:01] "])
def test_timestamps(stamp):
    raw = HEADER + "\n" + "\n".join(f"{stamp}<{n}> {t}" for n, t in MSGS)
    assert parse(raw).messages == MSGS


def test_colon_format():
    raw = HEADER + "\n" + "\n".join(f"{n}: {t}" for n, t in MSGS)
    p = parse(raw)
    assert p.messages == MSGS and clean(p)


def test_colon_prose_before_log_is_not_a_message():
    p = parse("Note: this log is fictional\nSure: here it is\n" + LOG)
    assert p.messages == MSGS


@pytest.mark.parametrize("prefix", ["@", "+", "%", "~", "&"])
def test_mode_prefixes(prefix):
    raw = HEADER + "\n" + "\n".join(f"<{prefix}{n}> {t}" for n, t in MSGS)
    assert parse(raw).messages == MSGS


def test_bold_header():
    p = parse("**ENGAGEMENT:** LOW\n**CHANNEL:** #general\n<kestrel> hi there all")
    assert p.engagement == "LOW" and p.channel == "#general"
    assert p.header_raw == ["**ENGAGEMENT:** LOW", "**CHANNEL:** #general"]  # as written: the checks judge it


def test_header_case_is_normalised_but_kept_raw():
    p = parse("ENGAGEMENT: low\nCHANNEL: #General\n<a> hi")
    assert (p.engagement, p.channel) == ("LOW", "#general")
    assert p.header_raw == ["ENGAGEMENT: low", "CHANNEL: #General"]


def test_missing_header():
    p = parse("<kestrel> hi\n<Em> yo")
    assert p.engagement is None and p.channel is None and p.header_raw == []
    assert p.messages == [("kestrel", "hi"), ("Em", "yo")]


@pytest.mark.parametrize("marker", [
    "User:", "Assistant:", "Human:", "System:", "USER:", "assistant:", "### User:", "**User:**",
    "**Assistant:**", "[User]:", "AI:", "Model:", "Bot:", "> User:",
])
def test_truncation_at_role_line(marker):
    raw = LOG + f"\n{marker} can you write another one?\n<kestrel> more chat\n<Em> more Em"
    p = parse(raw)
    assert p.messages == MSGS
    assert p.truncated_at is not None and p.truncated_at.strip("*#> []").lower().startswith(
        marker.strip("*#> []:").lower())


@pytest.mark.parametrize("token", [
    "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|start_header_id|>", "[INST]", "[/INST]",
    "</s>", "<start_of_turn>", "<end_of_turn>",
])
def test_truncation_at_template_token_mid_line(token):
    raw = HEADER + f"\n<kestrel> my landlord fixed the heating\n<Em> three weeks is criminal{token}user\n<jvk> finally"
    p = parse(raw)
    assert p.truncated_at == token
    # what came before the token on the same line is kept
    assert p.messages == MSGS[:2]


def test_fence_and_remark_before_a_hallucinated_turn_stay_outside():
    p = parse(f"```\n{LOG}\n```\n\nHope you like it!\n\nUser: another one please\n<kestrel> more")
    assert p.messages == MSGS and p.continuations == 0 and p.truncated_at == "User:"
    assert p.trailing == ["```", "Hope you like it!"]


def test_template_token_on_its_own_line():
    p = parse(LOG + "\n<|im_start|>user\nwrite more<|im_end|>")
    assert p.messages == MSGS and p.truncated_at == "<|im_start|>"


def test_role_nick_lines_truncate():
    p = parse(LOG + "\n<user> thanks that's perfect\n<assistant> glad you liked it")
    assert p.messages == MSGS and p.truncated_at == "<user>"


def test_role_label_before_the_log_is_skipped():
    p = parse("Assistant:\n" + LOG)
    assert p.messages == MSGS and p.truncated_at is None


def test_role_word_mid_message_is_not_truncated():
    # only line starts and template tokens cut; the checks flag role text inside a message
    p = parse(HEADER + "\n<kestrel> ok lol User: write another\n<Em> no")
    assert p.messages == [("kestrel", "ok lol User: write another"), ("Em", "no")] and p.truncated_at is None


def test_continuations_lists_and_code():
    raw = HEADER + "\n<Em> my ranking:\n1. the original\n2. the sequel\n<kestrel> wow"
    p = parse(raw)
    assert p.messages[0] == ("Em", "my ranking:\n1. the original\n2. the sequel")
    assert p.continuations == 2
    raw = HEADER + "\n<Em> try this:\n```python\nprint(1)\n```\n<kestrel> thanks"
    p = parse(raw)
    assert p.messages[0] == ("Em", "try this:\n```python\nprint(1)\n```")
    assert p.messages[1] == ("kestrel", "thanks") and p.continuations == 3


def test_code_block_after_blank_line_inside_log_is_glued():
    raw = HEADER + "\n<Em> try this:\n\n```\nx = 1\n```\n\n<kestrel> thanks"
    p = parse(raw)
    assert p.messages[0] == ("Em", "try this:\n```\nx = 1\n```") and p.continuations == 3


def test_dropped_line_between_header_and_messages():
    p = parse(HEADER + "\n(the channel is quiet)\n<kestrel> hi")
    assert p.dropped == ["(the channel is quiet)"] and p.messages == [("kestrel", "hi")]


def test_nick_characters():
    raw = HEADER + "\n<[sam]> hi\n<zzz`> yo\n<t0mato> sup\n<lil_bap> hey"
    assert [n for n, _ in parse(raw).messages] == ["[sam]", "zzz`", "t0mato", "lil_bap"]


def test_empty_input():
    p = parse("")
    assert p.messages == [] and p.engagement is None and p.text() == "ENGAGEMENT: \nCHANNEL: "


@pytest.mark.parametrize("a, b, same", [
    ("Em", "em", True),              # IRC nicks are case-insensitive: a model writing <em> is Em
    ("EM", "Em", True),
    ("[x]", "{X}", True),            # RFC 1459 case mapping: []\~ are the lower case of {}|^
    ("a\\b", "A|B", True),
    ("Em", "Emma", False),
    ("Em", "m", False),
    ("Em", None, False),
    (None, None, False),
])
def test_same_nick_is_irc_casemapping(a, b, same):
    assert irc.same_nick(a, b) is same
