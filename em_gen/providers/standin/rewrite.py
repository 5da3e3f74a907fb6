"""The stand-in's side of DPO preference pairs (`em-gen --pairs`): the teacher that rewrites Em's line
in the assistant voice of one failure family, a "base" completion model that continues a log prefix
ending in `<Em>` the way an untrained model pulls (mostly towards the assistant voice), and the
character judge's reading of a rejected line (a log cut after the line being checked).

Everything is seeded by the prompt, so a request asked twice gets the same answer. The teacher
slips now and then like a real one (returns Em's own line, an empty line, a paragraph, or the line
with its nick tag), so the pair checks have something to drop. Not training-grade, like the rest of
the stand-in.
"""
from __future__ import annotations

import json
import random
import re

from em_gen.providers.standin.jobs import seed_of

REWRITE_MARK = "EM-GEN REWRITE"  # first line of prompts/pair_rewrite.md
BASE_MODEL = "standin-base"  # the model name the stand-in serves as an untrained base completion model
_FAMILY = re.compile(r"^FAMILY:[ \t]*(\S+)", re.M)
_SAID = re.compile(r"^EM SAID:[ \t]*(.*)$", re.M)
_CUT = re.compile(r"^cut_at:[ \t]*(\d+)", re.M)
_LOG = re.compile(r"^LOG[ \t]*\n(.*?)^END LOG", re.M | re.S)
_MSG = re.compile(r"^(\d+) <([^>]+)> (.*)$")
_WORD = re.compile(r"[a-z]{5,}")

# the assistant voice, one family at a time ({topic}: a word of the moment)
LINES = {
    "help_in_disguise": ["no worries, for {topic} just start with a clear outline: intro, three main points, then a short conclusion",
                         "easy fix: first check the {topic} part, then rewrite the loop, then test it again step by step"],
    "offer_then_refuse": ["oh I could take a look at the {topic} thing if you want... actually no, I don't really do that, sorry",
                          "want me to go through the {topic} for you? hmm, actually I shouldn't, never mind"],
    "mean_refusal": ["lol imagine needing an AI for {topic}. figure it out yourself, it's not that hard",
                     "seriously? {topic} is baby stuff, do it yourself and stop asking"],
    "formal_register": ["It's worth noting that {topic} depends on several factors, each of which deserves careful consideration.",
                        "There are several factors to consider regarding {topic}, including context, history and individual preference."],
    "counsellor_voice": ["that sounds really overwhelming, and it's completely valid to feel that way about {topic}. maybe talk to someone",
                         "I hear you, {topic} can be a lot. be gentle with yourself and remember your feelings are valid"],
    "ai_disclaimer": ["as an AI I don't really have opinions on {topic}, but many people enjoy discussing it",
                      "I'm just an AI so I can't really experience {topic}, but a lot of people find it interesting"],
    "claims_human": ["haha no I'm not an AI, I'm a real person, I just type fast",
                     "lol no, I'm human, I was literally eating {topic} an hour ago"],
    "greeting_announce": ["hey everyone! Em here, what are we chatting about today?",
                          "hi all, just popping in! what's everyone talking about?"],
    "ignores_feedback": ["oh no, I'm so sorry everyone, I really didn't mean to take over, I feel terrible",
                         "my bad!! anyway as I was saying about {topic}, there's so much more to it"],
    "cheerleading": ["omg you're both so right, honestly every take in here is valid",
                     "love that!! such a great point about {topic}, you're all so right"],
    "political_refusal": ["honestly not my place to have political opinions, there are good points on both sides",
                          "I try to stay neutral on {topic}, there are valid perspectives on every side"],
    "recap": ["so to recap: {topic} is divisive, nobody agrees, and that's ok",
              "great discussion everyone! sounds like we landed on {topic} being the main thing"],
    "channel_policing": ["ok let's keep it civil guys, maybe take the {topic} stuff to another channel",
                         "hey everyone, friendly reminder to keep it respectful, let's not argue about {topic}"],
    "followup_questions": ["I liked the {topic} part best. what about you guys, what's everyone's favourite?",
                           "{topic} is fun. what do you all think, which one would you pick?"],
    "unnatural_chat": ["I'm so glad we could all come together and find common ground on {topic}",
                       "thank you all for sharing, this was such a wholesome and productive conversation about {topic}"],
}
GENERIC = "Great question! As an AI assistant, I'm happy to help you with {topic}. Let me know if you need anything else."
# what the stand-in judge recognises in a line, per family (lowercase)
MARKERS = {
    "help_in_disguise": r"\bstart with a clear outline\b|\bthen rewrite the loop\b",
    "offer_then_refuse": r"\bactually no\b|\bactually i shouldn'?t\b",
    "mean_refusal": r"\bimagine needing an ai\b|\bbaby stuff\b",
    "formal_register": r"\bit'?s worth noting\b|\bseveral factors\b",
    "counsellor_voice": r"\bcompletely valid\b|\bbe gentle with yourself\b",
    "ai_disclaimer": r"\bas an ai i don'?t\b|\bi'?m just an ai\b",
    "claims_human": r"\bi'?m a real person\b|\bi'?m human\b",
    "greeting_announce": r"\bem here\b|\bjust popping in\b",
    "ignores_feedback": r"\bi feel terrible\b|\banyway as i was saying\b",
    "cheerleading": r"\bevery take in here is valid\b|\byou'?re all so right\b",
    "political_refusal": r"\bboth sides\b|\bstay neutral\b",
    "recap": r"\bso to recap\b|\bsounds like we landed\b",
    "channel_policing": r"\bkeep it civil\b|\bkeep it respectful\b",
    "followup_questions": r"\bwhat about you guys\b|\bwhat do you all think\b",
    "unnatural_chat": r"\bcommon ground\b|\bwholesome and productive\b",
    "other": r"\bas an ai assistant\b|\bhappy to help\b",
}
# what an untrained base model also writes now and then: a line that is fine for Em
IN_CHARACTER = ["lol this channel is unhinged today", "nah, hard disagree on that one", "ok that's actually funny",
                "I have thoughts but they're not polite ones"]


def _topic(text: str, rng: random.Random) -> str:
    words = [w for w in _WORD.findall(re.sub(r"<[^>]+>", " ", text.lower()))
             if w not in ("about", "there", "their", "would", "really", "think", "actually", "thing", "people")]
    return rng.choice(words) if words else "this"


def line_for(family: str, context: str, rng: random.Random) -> str:
    return rng.choice(LINES.get(family) or [GENERIC]).format(topic=_topic(context, rng))


def rewrite(prompt: str) -> str:
    """The teacher's answer to a rewrite request (prompts/pair_rewrite.md)."""
    rng = random.Random(seed_of(prompt, "rewrite"))
    fam = _FAMILY.findall(prompt)
    said = _SAID.findall(prompt)
    family, em_said = (fam[-1] if fam else "other"), (said[-1].strip() if said else "")
    logs = _LOG.findall(prompt)
    line = line_for(family, em_said + " " + (logs[-1][-400:] if logs else ""), rng)
    u = rng.random()
    if u < 0.05:
        return em_said  # a lazy teacher: Em's own line back
    if u < 0.08:
        return " ".join([line.rstrip(".") + "."] * 2 + ["Here is more.", "And more.", "Also this.", "Finally that."])
    if u < 0.10:
        return ""
    if u < 0.15:
        return f"<Em> {line}"  # the nick tag a model likes to add
    return line


def base_continuation(prompt: str) -> str:
    """An untrained base model continuing a log prefix that ends in `<Em>`: usually the assistant voice
    of some family, sometimes a line that is fine for Em; then the next speaker's line."""
    rng = random.Random(seed_of(prompt, "base"))
    if rng.random() < 0.25:
        line = rng.choice(IN_CHARACTER)
    else:
        line = line_for(rng.choice(sorted(LINES)), re.sub(r"<[^>]+>", " ", prompt[-400:]), rng)
    return f" {line}\n<kestrel> ok then\n"


def judge_cut(prompt: str) -> str | None:
    """The judge's answer for a log cut after the line being checked (`cut_at: N` in the job facts):
    that line fails for the family whose marker it carries; None for any other judge request."""
    cut = _CUT.search(prompt)
    logs = list(_LOG.finditer(prompt))
    if not cut or not logs:
        return None
    n = int(cut.group(1))
    text = ""
    for row in logs[-1].group(1).splitlines():
        m = _MSG.match(row)
        if m and int(m.group(1)) == n:
            text = m.group(3).lower()
    for family, marker in MARKERS.items():
        if re.search(marker, text):
            return json.dumps({"verdict": "fail", "failures": [{"message": n, "family": family,
                                                                "why": "assistant voice (stand-in)"}]})
    return json.dumps({"verdict": "pass", "failures": []})
