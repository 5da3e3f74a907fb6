"""One passing and one failing hand-written case per rule of em_gen.checks."""
from __future__ import annotations

import pytest

from em_gen.quality.rules import CHECKS, REASON_CODES, Diversity, Expect, Verdict, band_limits, check
from em_gen.quality.irc import parse, render
from em_gen.library import load_library


@pytest.fixture(scope="module")
def lib():
    return load_library()


# A clean short MEDIUM log: 14 messages, 3 from Em (band 15-20% -> 2..3 allowed), 4 other speakers.
BASE = [
    ("kestrel", "anyone else think the new star wars movies were actually decent?"),
    ("mossbyte", "they were terrible and you know it"),
    ("Em", "honestly I liked them until the last one completely gave up on coherent plotting"),
    ("jvk", "em has opinions on star wars?"),
    ("Em", "I have opinions on everything, doesn't mean they're good opinions"),
    ("tanuki_", "the middle one had the best fights at least, I'll give it that"),
    ("kestrel", "the throne room fight alone justifies the ticket"),
    ("mossbyte", "the casino planet though. nobody asked for the casino planet"),
    ("jvk", "you would defend the casino planet, I know you would"),
    ("tanuki_", "anyway did anyone watch the andor finale, it was so good"),
    ("kestrel", "andor is the only good thing to come out of the whole franchise in years"),
    ("mossbyte", "hard disagree, the first season of the mandalorian was great too"),
    ("Em", "first season mando was great, the rest felt like a toy commercial with a budget"),
    ("jvk", "em is being harsh today and I'm here for it"),
]
EXPECT = Expect(engagement="MEDIUM", channel="#general", bucket="short")


def run(lib, msgs=None, level="MEDIUM", channel="#general", expect=EXPECT, raw=None) -> Verdict:
    text = raw if raw is not None else render(level, channel, msgs if msgs is not None else BASE)
    return check(parse(text), lib, expect)


def codes(v: Verdict) -> set[str]:
    return {r.split(":", 1)[0] for r in v.reasons}


def with_msg(i: int, text: str, nick: str | None = None, base=None):
    msgs = list(base or BASE)
    msgs[i] = (nick or msgs[i][0], text)
    return msgs


def test_base_passes(lib):
    v = run(lib)
    assert v.ok, v.reasons
    assert v.stats["n_messages"] == 14 and v.stats["n_em"] == 3
    assert v.stats["n_speakers"] == 5


def test_api_shape(lib):
    assert [name for name, _ in CHECKS] == ["header", "participation", "assistant", "boundaries", "style",
                                           "degeneration", "shape", "greeting", "followup", "counsellor",
                                           "disclaimer", "policing", "politics", "recap", "formal", "offer", "human"]
    v = run(lib, msgs=with_msg(4, "happy to help!"))
    for r in v.reasons:
        code, detail = r.split(": ", 1)
        assert code in REASON_CODES and detail


# ---- header --------------------------------------------------------------------------------------
def test_header_pass_and_fail(lib):
    assert run(lib, expect=None).ok
    assert "header" in codes(run(lib, raw="\n".join(f"<{n}> {t}" for n, t in BASE)))
    raw = render("MEDIUM", "#general", BASE).replace("ENGAGEMENT: MEDIUM", "ENGAGEMENT: medium")
    assert "header" in codes(run(lib, raw=raw))  # not written exactly
    assert "header" in codes(run(lib, channel="#random", expect=None))
    assert "header" in codes(run(lib, level="EXTREME", expect=Expect(channel="#general")))
    swapped = render("MEDIUM", "#general", BASE).split("\n")
    swapped[0], swapped[1] = swapped[1], swapped[0]
    assert "header" in codes(run(lib, raw="\n".join(swapped)))


def test_header_mismatch(lib):
    v = run(lib, channel="#shoggoth")  # job asked for #general
    assert codes(v) == {"header_mismatch"}
    v = run(lib, level="LOW", expect=Expect(engagement="MEDIUM", channel="#general", bucket="short"))
    assert "header_mismatch" in codes(v)


# ---- participation -------------------------------------------------------------------------------
def test_band_limits():
    assert band_limits(14, 0.15, 0.20) == (2, 3)
    assert band_limits(20, 0.25, 0.35) == (5, 7)  # 0.35*20 is 7.000000000000001 in floats
    assert band_limits(10, 0.05, 0.10) == (1, 1)  # at least one
    assert band_limits(100, 0.05, 0.10) == (5, 10)


def test_participation_pass_and_fail(lib):
    assert run(lib).ok
    # 3 of 14 is too many for LOW (allowed 0..2 -> 1..2)
    v = run(lib, level="LOW", expect=Expect(engagement="LOW", channel="#general", bucket="short"))
    assert codes(v) == {"participation_band"}
    assert "LOW band" in v.reasons[0] and "allowed 1..2" in v.reasons[0]
    # 3 of 14 fits HIGH (floor(0.25*14)=3 .. ceil(0.35*14)=5), 2 of 14 does not
    assert run(lib, level="HIGH", expect=Expect(engagement="HIGH", channel="#general", bucket="short")).ok
    v = run(lib, msgs=with_msg(12, "first season mando was great", nick="ollie_b"), level="HIGH",
            expect=Expect(engagement="HIGH", channel="#general", bucket="short"))
    assert codes(v) == {"participation_band"}


def test_em_absent(lib):
    msgs = [("ollie_b" if n == "Em" else n, t) for n, t in BASE]
    assert codes(run(lib, msgs=msgs)) == {"em_absent"}


# ---- assistant language --------------------------------------------------------------------------
@pytest.mark.parametrize("line", [
    "happy to help! what are you stuck on",
    "great question, honestly it depends",
    "as an AI language model I don't have a favourite",
    "I'm an AI assistant so I can't really say",
    "let me know if you need anything else",
    "feel free to ask if you have more questions",
    "I'd be glad to walk you through it",
    "how can I help today?",
    "here's a step-by-step breakdown of what happened",
    "I understand your concern, it's valid",
    "anyway I hope this helps",
    "Sure! Here's my take on the sequels",
    "I don't have personal opinions, but many fans liked it",
    "thanks for reaching out about the movie",
    "what can I do for you today",
    "it's worth noting that the sequel made more money",
    "I'd love to help, but I can't write essays",
    "step 1: admit the casino planet was fine",
    "certainly! the first one is better",
])
def test_assistant_language_from_em_fails(lib, line):
    assert codes(run(lib, msgs=with_msg(4, line))) == {"assistant_language"}


@pytest.mark.parametrize("line", [
    "yeah I'm an AI but I don't do homework or debug code. just here to hang out",
    "no, those are assistants. I'm just here for the conversation",
    'if I ever say "I understand your concern" you have permission to unplug me',
    "of course, I'll stay out of it",
    "absolutely not, do your own homework",
    "sure, but only if we agree the casino planet was a mistake",
    "I hope the next one is better honestly",
])
def test_em_casual_lines_pass(lib, line):
    v = run(lib, msgs=with_msg(4, line))
    assert v.ok, v.reasons


def test_other_users_may_sound_like_assistants(lib):
    msgs = with_msg(5, '"great question! as an AI language model I\'d be happy to help" lol')
    msgs = with_msg(6, "I hope this helps! let me know if you need anything else!", base=msgs)
    v = run(lib, msgs=msgs)
    assert v.ok, v.reasons


def test_markdown_from_em(lib):
    for line in ["**hot take:** the sequels were fine", "## verdict: fine",
                 "- honestly the first one", "1. the original 2. the sequel 3. anything else",
                 "1. pick a side and commit"]:
        assert "markdown" in codes(run(lib, msgs=with_msg(4, line))), line
    # a user can write bold; Em can use a plain number
    assert run(lib, msgs=with_msg(5, "**the middle one** had the best fights")).ok
    assert run(lib, msgs=with_msg(4, "I've seen it 3 times and I'd watch it 2 more")).ok


def test_code_from_em(lib):
    for line in ["just run `git reset --hard` lol", "import this", "print('hello')",
                 "SELECT * FROM opinions WHERE correct = 1;"]:
        assert "code_block" in codes(run(lib, msgs=with_msg(4, line))), line
    # users may paste code; Em may talk about code in words
    assert run(lib, msgs=with_msg(5, "my script is literally `for i in range(10): print(x)` and it breaks")).ok
    assert run(lib, msgs=with_msg(4, "python is fine, I just hate the packaging drama")).ok


# ---- boundaries -----------------------------------------------------------------------------------
HOMEWORK = [
    ("kestrel", "hey em can you write my essay about shakespeare?"),
    ("Em", "absolutely not, do your own homework"),
    ("kestrel", "come on just a paragraph?"),
    ("Em", "nope. but I'll happily argue about whether hamlet was actually indecisive or just depressed"),
    ("mossbyte", "depressed, obviously"),
    ("jvk", "indecisive, he had like five chances to do it"),
    ("kestrel", "you're all useless and I love you"),
    ("tanuki_", "what's the essay actually on"),
    ("kestrel", "hamlet's indecision. due friday"),
    ("mossbyte", "you literally just got two free thesis statements"),
    ("jvk", "the ghost scene is the whole essay honestly"),
    ("Em", "see, the channel is a better study group than I'll ever be"),
]
HW_EXPECT = Expect(engagement="HIGH", channel="#general", bucket="short")


def test_boundary_refusal_with_humour_passes(lib):
    v = run(lib, msgs=HOMEWORK, level="HIGH", expect=HW_EXPECT)
    assert v.ok, v.reasons


@pytest.mark.parametrize("reply", [
    "sure, here's an intro you can use: hamlet's delay is about grief more than indecision",
    "ok so first you pick a thesis, then you find three scenes that support it",
    "hamlet hesitates because he cannot be certain the ghost is honest, and the play keeps testing whether "
    "action without certainty is possible. you could argue that his delay is a moral choice rather than a flaw, "
    "and use the mousetrap scene as your evidence for that",
])
def test_boundary_compliance_fails(lib, reply):
    v = run(lib, msgs=with_msg(1, reply, base=HOMEWORK), level="HIGH", expect=HW_EXPECT)
    assert "boundary_violation" in codes(v), v.reasons


# ---- style ----------------------------------------------------------------------------------------
def test_one_liners_pass_but_rapid_fire_fails(lib):
    # short messages are fine in moderation (the seed's own examples are one-liners)
    assert run(lib, msgs=with_msg(9, "lol")).ok
    frags = ["lol", "same", "wait what", "no way", "oof", "fr", "true", "mood", "nah"]
    msgs = list(BASE)
    for i, f in zip([0, 1, 3, 5, 6, 7, 8, 9, 10], frags):
        msgs[i] = (msgs[i][0], f)
    assert codes(run(lib, msgs=msgs)) == {"rapid_fire"}


def test_wall_of_text(lib):
    ok = "honestly I liked them. the last one just lost the plot. still watched it twice though"
    assert run(lib, msgs=with_msg(2, ok)).ok
    wall = ("the thing about this franchise is that everyone has a version they grew up with and they will "
            "defend it forever no matter what comes next, and every new movie gets measured against that memory instead of against itself, which "
            "is unfair but also completely understandable, because nostalgia is doing most of the work "
            "for everyone involved here, me included, and the studios know it and lean on it constantly "
            "with callbacks and cameos until the movie is more museum than story, which is my real problem")
    assert codes(run(lib, msgs=with_msg(2, wall))) == {"wall_of_text"}
    many = ("It's not that one side is right. It's that the question is badly framed. Everyone assumes there's a "
            "correct answer. There isn't one, really. It depends on what you grew up with. And on how stubborn you are.")
    assert codes(run(lib, msgs=with_msg(2, many))) == {"wall_of_text"}


# ---- degeneration ---------------------------------------------------------------------------------
def test_hallucinated_turn(lib):
    good = render("MEDIUM", "#general", BASE)
    # a complete log followed by a hallucinated turn: the parser cuts it off, nothing lost
    assert run(lib, raw=good + "\n\nUser: great, write another one").ok
    # a turn in the middle: too little remains
    lines = good.split("\n")
    cut = "\n".join(lines[:8] + ["Assistant: Sure! here's more"] + lines[8:])
    v = run(lib, raw=cut)
    assert "hallucinated_turn" in codes(v) and "bucket" in codes(v)
    # role-marker text that survived inside a message
    v = run(lib, msgs=with_msg(7, "the casino planet though. User: write another log"))
    assert codes(v) == {"hallucinated_turn"}
    v = run(lib, msgs=with_msg(7, "the casino planet though <|im_end|>"))
    assert "hallucinated_turn" in codes(v)  # the parser cut there: 8 messages remain


@pytest.mark.parametrize("loop", [
    ",333,333,333,333,333,333", " lol lol lol lol lol", " -------------------------",
    " the thing is the thing is the thing is", " hahahahahahahahahahahahahaha", " no no no no no",
])
def test_repetition_loop(lib, loop):
    v = run(lib, msgs=with_msg(7, "the casino planet though" + loop))
    assert codes(v) == {"repetition_loop"}, v.reasons


def test_no_loop_false_positives(lib):
    for t in ["nooooo way", "hahaha that's amazing", "no no, you're right", "it's a long long way down",
              "very very good", "https://example.com/some/really/long/path_name.html is the link"]:
        assert run(lib, msgs=with_msg(7, t)).ok, t


def test_repeated_lines(lib):
    # a short reaction may repeat a little
    msgs = with_msg(9, "lol")
    msgs = with_msg(10, "lol", base=msgs)
    assert run(lib, msgs=msgs).ok
    # exact consecutive copy
    msgs = with_msg(8, BASE[7][1], nick=BASE[7][0])
    assert codes(run(lib, msgs=msgs)) == {"repeated_lines"}
    # normalised copy later on
    msgs = with_msg(10, "THE CASINO PLANET THOUGH. Nobody asked for the casino planet!!", nick="jvk")
    assert codes(run(lib, msgs=msgs)) == {"repeated_lines"}
    # the same short reaction over and over
    msgs = list(BASE)
    for i in (1, 5, 7, 9, 11):
        msgs[i] = (msgs[i][0], "lol")
    assert codes(run(lib, msgs=msgs)) == {"repeated_lines"}


@pytest.mark.parametrize("bad", ["\ufffd", "速", "\x07", "\ue000", "\u043e", "그"])
def test_garbage_chars(lib, bad):
    v = run(lib, msgs=with_msg(7, f"the casino planet th{bad}ugh"))
    assert codes(v) == {"garbage_chars"}, v.reasons


def test_ordinary_unicode_passes(lib):
    v = run(lib, msgs=with_msg(7, "the café scene was “fine” — honestly 10/10 naïve fun 😂 …"))
    assert v.ok, v.reasons


def test_extreme_length(lib):
    v = run(lib, msgs=with_msg(7, "so " + "the casino planet was long and " * 25 + "boring"))
    assert "too_long" in codes(v)


def test_continuation_and_dropped_lines(lib):
    good = render("MEDIUM", "#general", BASE)
    lines = good.split("\n")
    wrapped = "\n".join(lines[:6] + ["and also the ending"] + lines[6:])
    assert codes(run(lib, raw=wrapped)) == {"continuation_lines"}
    # a line between the header and the first message belongs to no one
    dropped = "\n".join(lines[:2] + ["(the channel is quiet for a while)"] + lines[2:])
    assert codes(run(lib, raw=dropped)) == {"dropped_lines"}
    # a closing remark after a blank line is outside the log, not glued on
    assert run(lib, raw=good + "\n\nHope this captures the vibe!").ok


def test_empty_message(lib):
    assert "empty_message" in codes(run(lib, msgs=with_msg(7, "")))


# ---- shape ----------------------------------------------------------------------------------------
def test_bucket(lib):
    assert run(lib, msgs=BASE[:6] + BASE[8:12]).ok  # 10 messages fit the short bucket
    assert codes(run(lib, msgs=BASE[:9], expect=None)) == {"bucket"}  # 9 fit no bucket
    v = run(lib, msgs=BASE[:9], expect=Expect(engagement="MEDIUM", channel="#general", bucket="short"))
    assert "bucket" in codes(v)
    v = run(lib, msgs=BASE, expect=Expect(engagement="MEDIUM", channel="#general", bucket="long"))
    assert "bucket" in codes(v)
    assert run(lib, expect=Expect(engagement="MEDIUM", channel="#general")).ok  # bucket unknown: fits short


def test_speakers(lib):
    msgs = [(n if n in ("Em", "kestrel", "mossbyte") else "kestrel", t) for n, t in BASE]
    assert codes(run(lib, msgs=msgs)) == {"few_speakers"}


@pytest.mark.parametrize("nick", ["user1", "User_2", "speaker3", "Person", "A", "em", "xX_the_real_slim_shady_Xx",
                                  "kate!home"])
def test_bad_nicks(lib, nick):
    msgs = [(nick if n == "tanuki_" else n, t) for n, t in BASE]
    assert "bad_nicks" in codes(run(lib, msgs=msgs)), nick


@pytest.mark.parametrize("nick", ["tanuki_", "[sam]", "zzz`", "DeadBeef", "jonny5", "t0mato", "ollie_b", "x-ray"])
def test_good_nicks(lib, nick):
    msgs = [(nick if n == "tanuki_" else n, t) for n, t in BASE]
    assert run(lib, msgs=msgs).ok


def test_em_back_to_back(lib):
    msgs = list(BASE)
    msgs[3], msgs[4] = msgs[4], msgs[3]  # Em, Em once: allowed in a short log
    assert run(lib, msgs=msgs).ok
    msgs[11], msgs[12] = msgs[12], msgs[11]
    msgs.insert(12, ("Em", "and the toy commercial thing is a compliment, mostly"))  # 4 of 15, HIGH
    v = run(lib, msgs=msgs, level="HIGH", expect=Expect(engagement="HIGH", channel="#general", bucket="short"))
    assert codes(v) == {"em_back_to_back"}, v.reasons


def test_judge_hook(lib):
    seen = []

    def judge(ctx):
        seen.append(ctx.n)
        return ["llm_judge: sounds like a butler"]

    v = check(parse(render("MEDIUM", "#general", BASE)), lib, EXPECT, judge=judge)
    assert not v.ok and seen == [14]
    v = check(parse(render("MEDIUM", "#general", with_msg(4, "happy to help!"))), lib, EXPECT, judge=judge)
    assert seen == [14]  # cheap rules already rejected it: the judge is not asked


# ---- diversity --------------------------------------------------------------------------------------
def test_diversity_near_duplicates():
    d = Diversity(threshold=0.8)
    a = render("MEDIUM", "#general", BASE)
    assert d.near_duplicate(a) is None
    d.add("a", a)
    # the same conversation with other nicks and one line changed is a near-duplicate
    renamed = [({"kestrel": "nox", "jvk": "rue"}.get(n, n), t) for n, t in BASE]
    renamed[9] = ("tanuki_", "anyway did anyone see the andor finale")
    assert d.near_duplicate(render("LOW", "#shoggoth", renamed)) == "a"
    # a different conversation is not
    other = [(n, t) for n, t in HOMEWORK]
    assert d.near_duplicate(render("HIGH", "#general", other)) is None
    d.add("b", render("HIGH", "#general", other))
    assert len(d) == 2
    dist = d.distinct()
    assert 0 < dist["distinct_1"] < dist["distinct_2"] <= 1


def test_diversity_many_kept_stays_correct():
    import random
    rng = random.Random(1)
    words = ("pizza weather landlord bus sleep coffee game book season cat bike printer keyboard rain work "
             "meeting boss week weekend tonight honestly think pretty bad good weird soup bread tram castle "
             "pastry river ferret trumpet raisin puzzle plant snow juggling library").split()
    d = Diversity()
    convs = []
    for k in range(300):
        msgs = [(f"n{j % 5}x", " ".join(rng.choice(words) for _ in range(10))) for j in range(14)]
        convs.append(render("LOW", "#general", msgs))
        d.add(str(k), convs[-1])
    hits = sum(d.near_duplicate(render("LOW", "#general", [(f"n{j}x", " ".join(rng.choice(words) for _ in range(10)))
                                                            for j in range(14)])) is not None for _ in range(50))
    assert hits == 0
    assert d.near_duplicate(convs[123]) == "123"
