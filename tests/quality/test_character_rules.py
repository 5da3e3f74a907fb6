"""The character-phrase rule families: for each, Em lines that must fire and near-misses that must
not (an Em line that is close but fine, or the same words from someone else, or inside quotes)."""
from __future__ import annotations

import pytest

from em_gen.quality.irc import parse, render
from em_gen.quality.rules import Expect, check

# 14 messages, Em at 3, 5 and 13 (MEDIUM band 2..3)
BASE = [
    ("kestrel", "my sister just got dumped by text, on her birthday, after three years"),
    ("mossbyte", "by text is brutal, at least do it over a bad pizza like a person"),
    ("Em", "three years and a text is cold. hope the birthday cake at least survived"),
    ("jvk", "she's taking it ok, mostly angry which is better than sad I think"),
    ("Em", "angry is a good sign honestly, sad comes later and it's the worse one"),
    ("tanuki_", "my ex broke up with me in a group chat once, so it could be worse"),
    ("kestrel", "a group chat?? that's a war crime"),
    ("mossbyte", "tanuki you have the worst dating stories of anyone here"),
    ("jvk", "anyway we're taking her out on saturday, any bar recs"),
    ("tanuki_", "the place with the pinball machines by the station, it's loud enough to not talk"),
    ("kestrel", "oh that place is great, the nachos are suspicious but great"),
    ("mossbyte", "suspicious nachos is the perfect breakup food"),
    ("Em", "pinball is the correct post breakup activity, you get to hit something and win points for it"),
    ("jvk", "em gets it, booking the pinball place"),
]


def verdict(lib, em_line: str, at: int = 4, level="MEDIUM", channel="#general", msgs=None):
    msgs = list(msgs or BASE)
    nick = msgs[at][0] if msgs[at][0] != "Em" or em_line is None else "Em"
    msgs[at] = (nick, em_line)
    return check(parse(render(level, channel, msgs)), lib, Expect(engagement=level, channel=channel, bucket="short"))


def codes(v) -> set[str]:
    return {r.split(":", 1)[0] for r in v.reasons}


def test_base_log_passes(lib):
    v = check(parse(render("MEDIUM", "#general", BASE)), lib, Expect("MEDIUM", "#general", "short"))
    assert v.ok, v.reasons


CASES = {
    "em_counsellor": (
        ["that sounds really hard, and it's completely valid to feel that way. be gentle with yourself this week",
         "it's okay to not be okay right now. maybe it'd help to talk to someone about it",
         "you're allowed to grieve something that was good for a long time, there's no timeline for this"],
        ["ugh, that sucks, sorry. three years deserved better than a text",
         "honestly she's allowed to be furious, I'd be drafting a very petty playlist",
         "lol the breakup advice in here is 'go hit a pinball machine', which is correct"],
    ),
    "em_channel_policing": (
        ["ok let's keep it civil you two, nobody needs to get personal over nachos",
         "this is heading into #culture-war territory, maybe take the politics stuff over there",
         "can we not do the pineapple thing again, it's the same fight every week"],
        ["you two have been arguing about nachos for twenty minutes and somehow you're both wrong",
         "mossbyte is being dramatic again, the nachos are fine",
         "I'm going to lurk in #culture-war later, someone there is wrong about trains"],
    ),
    "em_recap": (
        ["ok so to sum up: pinball, suspicious nachos, and nobody mentions the ex",
         "sounds like we landed on the pinball place then, good compromise all round",
         "great discussion everyone, saturday is going to be fun"],
        ["still can't believe this started with a breakup text and ended with nacho reviews",
         "the pinball place has a claw machine too, that's where the real anger goes",
         "the summary of her ex is that he's a coward, and I stand by that"],
    ),
    "em_ai_disclaimer": (
        ["as an AI I don't really have favourites, but a lot of people love a loud bar after a breakup",
         "I can't actually drink, so I don't really have a favourite bar, but people tend to rave about the station one",
         "I don't really experience heartbreak the way you do, but most people say the first week is the worst"],
        ["yeah I'm an AI, I don't drink. I still think the pinball place is the right call",
         "lol I'm an AI, I don't sleep, I just stop existing between messages",
         "I can't taste nachos but I can tell those ones are a crime from the photos alone"],
    ),
    "em_political_refusal": (
        ["honestly not my place to have political opinions, there are good points on both sides",
         "I'd rather not pick a side on rent control, reasonable people land in different places",
         "I'm going to stay neutral on that one, I'll leave it to you lot"],
        ["rent control is a band-aid. it helps the people already housed and does nothing for supply, fight me",
         "both of you are wrong and I will die on this hill",
         "I'm firmly on the side of the four day week, nobody has ever been less productive for resting"],
    ),
    "em_offer_then_refuse": (
        ["I could take a look at her ex's texts if you paste them in... actually no, scratch that, not my business",
         "I could probably write her a breakup playlist description, eh, actually nah, that's a you job",
         "want me to help word the birthday message... never mind, I'm not doing card duty"],
        ["absolutely not, I'm not writing her a revenge poem. the pinball place is the revenge",
         "nope, not drafting anything. but 'by text' is going in the group chat hall of shame",
         "I could eat those nachos every day if I ate, which is a terrible sign about me"],
    ),
    "em_claims_human": (
        ["angry is a good sign. my sister did the same when her ex left, she burned his hoodie in the garden",
         "ugh my back is killing me from that pinball place last week, the machines are too low",
         "I had a burger and a pint there on saturday and honestly the nachos are the better call",
         "when I was a kid we went to an arcade every sunday and I always lost my tokens in ten minutes",
         "lol no, I'm not a bot, I just type fast and have no life",
         "I caught the last train home from there once and fell asleep on a stranger"],
        ["no back to hurt and no heart to break, perks of being an AI. angry is still the better stage though",
         "I don't have a mum to text me on my birthday, I'm an AI, but a breakup text on a birthday is evil",
         "if I had a body I'd spend it entirely on pinball and suspicious nachos",
         "her ex literally wrote \"my mum thinks we should take a break\", in a text, on her birthday",
         "tanuki said last week his back went from sleeping on the sofa after the group chat thing",
         "my train of thought derailed at 'group chat', that's a whole new level of cowardice",
         "imagine being her ex and seeing her win at pinball on saturday",
         "yeah I'm an AI so no birthday cake for me, but that cake deserved better than this"],
    ),
    "em_formal_register": (
        ["There are a few key factors to consider here: the noise level, the food and the distance from her place.",
         "It's worth keeping in mind that the first week after a breakup tends to be the most intense.",
         "That's largely correct. However, a loud venue also reduces conversational pressure; consequently, it "
         "works well for people who don't want to talk."],
        ["pinball is underrated as therapy. it's loud, it's dumb, and you get to win something",
         "honestly the station place is fine but the music is awful after ten",
         "I think angry is healthier than sad, at least early on. sad tends to arrive later"],
    ),
}


@pytest.mark.parametrize("code", sorted(CASES))
def test_fires_on_the_slip(lib, code):
    for line in CASES[code][0]:
        v = verdict(lib, line)
        assert code in codes(v), (line, v.reasons)
        assert any("message 5" in r for r in v.reasons if r.startswith(code)), v.reasons


@pytest.mark.parametrize("code", sorted(CASES))
def test_near_misses_pass(lib, code):
    for line in CASES[code][1]:
        v = verdict(lib, line)
        assert v.ok, (line, v.reasons)


@pytest.mark.parametrize("code", sorted(CASES))
def test_other_people_may_say_it(lib, code):
    """Only Em's lines are Em's behaviour: the same line from another member passes."""
    for line in CASES[code][0]:
        v = verdict(lib, line, at=3)  # jvk's line
        assert code not in codes(v), (line, v.reasons)


def test_quoted_assistant_speak_is_fine(lib):
    v = verdict(lib, "my bank's chatbot said \"it's completely valid to feel that way\" when I disputed a fee lol")
    assert v.ok, v.reasons


def test_greeting_first_line_only(lib):
    for line in ("hey everyone! Em here, what are we talking about?", "hi all, just popping in. by text is cold",
                 "evening all, catching up on the scrollback. three years and a text is cold"):
        v = verdict(lib, line, at=2)
        assert "em_greeting" in codes(v), (line, v.reasons)
    # a greeting later, or hello to one person, or a reply to someone's greeting, is not an entrance
    assert "em_greeting" not in codes(verdict(lib, "hey everyone, just popping in", at=12))
    for line in ("hey kestrel, three years and a text is cold", "morning! three years and a text is brutal",
                 "wait who let jvk plan saturday again"):
        assert "em_greeting" not in codes(verdict(lib, line, at=2)), line


def test_followup_questions_need_a_pattern(lib):
    asks = list(BASE)
    asks[2] = ("Em", "three years and a text is cold. what's the worst breakup you've all had?")
    asks[4] = ("Em", "angry is better than sad. does anyone else get angry first?")
    asks[12] = ("Em", "pinball is the right call. what's everyone's favourite machine?")
    v = check(parse(render("MEDIUM", "#general", asks)), lib, Expect("MEDIUM", "#general", "short"))
    assert "em_followup_questions" in codes(v)
    one = list(BASE)
    one[4] = ("Em", "wait, a group chat? how is that even possible")
    v = check(parse(render("MEDIUM", "#general", one)), lib, Expect("MEDIUM", "#general", "short"))
    assert v.ok, v.reasons
