"""Build the labelled corpus for the quality gate: tests/quality/corpus/corpus.jsonl (deterministic).

    .venv/bin/python tests/quality/corpus/build_corpus.py

Good conversations are composed from the hand-written threads in threads.py (short logs: one
thread, sometimes with an Em-free filler; long logs: many threads and fillers with a fixed cast of
nicks), with a chosen engagement level whose band the Em count satisfies, and rendered in the
formats teacher models produce (plain, fenced, with a preamble, timestamps, `nick: msg`, mode
prefixes, closing remarks, a trailing hallucinated `User:` turn after a complete log ...).

Bad conversations are built the same way from other random draws and then broken in exactly one
named way (`broken`); a few are fully hand-written. Labels never come from em_gen.quality.rules: the
tests check the gate against these labels.

Each record: {"id", "text", "expect": {"engagement","channel","bucket"} | null, "label",
"broken", "note"}.
"""
from __future__ import annotations

import json
import math
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from threads import FILLERS, HEAVY, THREADS  # noqa: E402

OUT = HERE / "corpus.jsonl"
EM = "Em"
BANDS = {"LOW": (0.05, 0.10), "MEDIUM": (0.15, 0.20), "HIGH": (0.25, 0.35)}  # scenarios/mix.yaml
BUCKETS = {"short": (10, 20), "long": (80, 120)}
CHANNELS = ("#general", "#shoggoth", "#culture-war")
NICKS = ["kestrel", "mossbyte", "jvk", "tanuki_", "quietriot", "hexane", "ollie_b", "marrow",
         "vantablack", "pidgeon", "zeroday_zed", "ferngully", "thistle", "dmitri_k", "lumen",
         "bricktop", "nox", "saffron", "wrenfield", "pixelrot", "cobaltcat", "grumbleweed",
         "ash_tray", "t0mato", "blueshift", "nakamura", "rue", "dustdevil", "kiwi_", "marzipan",
         "oddfellow", "sable", "jonny5", "quasar", "petrichor", "lindenb", "moth_", "crumb",
         "halcyon", "rhubarb", "catalyst", "yuki_", "brambleton", "sputnik", "hollowpoint", "mika",
         "gravlax", "tessellate", "orbweaver", "fennec", "Rook", "DeadBeef", "[sam]", "lil_bap",
         "zzz`", "nightjar", "Ptolemy", "wobbles", "ginkgo", "sparrowhawk"]


# ------------------------------------------------------------------------------------------------
# units: lists of (role, text, optional)
# ------------------------------------------------------------------------------------------------
def lines_of(body: str) -> list[tuple[str, str, bool]]:
    out = []
    for raw in body.strip().split("\n"):
        role, text = raw.split(":", 1)
        out.append(("M" if role in "Mm" else role, text.strip(), role == "m"))
    return out


THREAD_UNITS = {name: (chans, lines_of(body)) for name, chans, body in THREADS}
HEAVY_UNITS = {name: (chans, lines_of(body)) for name, chans, body in HEAVY}
FILLER_UNITS = [lines_of(b) for b in FILLERS]


def band_ok(n: int, k: int, level: str) -> bool:
    lo, hi = BANDS[level]
    return k >= 1 and math.floor(lo * n + 1e-9) <= k <= math.ceil(hi * n - 1e-9)


def levels_ok(n: int, k: int) -> list[str]:
    return [lv for lv in BANDS if band_ok(n, k, lv)]


def cast(unit, roles_to_nicks):
    return [(EM if r == "M" else roles_to_nicks[r], t) for r, t, _ in unit]


def map_roles(rng, unit, pool):
    roles = sorted({r for r, _, _ in unit if r != "M"})
    nicks = rng.sample(pool, len(roles))
    return dict(zip(roles, nicks))


def b2b(msgs) -> int:
    return sum(1 for a, b in zip(msgs, msgs[1:]) if a[0] == b[0] == EM)


# ------------------------------------------------------------------------------------------------
# good conversations
# ------------------------------------------------------------------------------------------------
def short_conv(rng, name, with_filler=False, pool=None):
    chans, unit = THREAD_UNITS.get(name) or HEAVY_UNITS[name]
    pool = pool or NICKS
    msgs = cast(unit, map_roles(rng, unit, pool))
    note = f"short: thread {name}"
    n, k = len(msgs), sum(1 for x, _ in msgs if x == EM)
    if with_filler or not levels_ok(n, k):
        f = rng.choice([u for u in FILLER_UNITS if len(u) >= 4] if not levels_ok(n, k) else FILLER_UNITS)
        fm = cast(f, map_roles(rng, f, [x for x in pool if x not in {n for n, _ in msgs}] or pool))
        if rng.random() < 0.5:
            msgs = fm + msgs
        else:
            msgs = msgs + fm
        note += " + filler"
    n, k = len(msgs), sum(1 for x, _ in msgs if x == EM)
    lv = levels_ok(n, k)
    assert lv, (name, n, k)
    level = rng.choice(lv)
    channel = rng.choice(chans)
    return {"level": level, "channel": channel, "bucket": "short", "msgs": msgs, "note": note}


def long_conv(rng, level, channel, seed_note=""):
    """80-120 messages from several threads and fillers, with Em's share inside the level's band."""
    names = [n for n, (ch, _) in THREAD_UNITS.items() if channel in ch]
    if channel == "#culture-war":  # the political threads, plus ordinary chat drifting in and out
        names += [n for n, (ch, _) in THREAD_UNITS.items() if n not in names and "#general" in ch][:12]
    heavy = [n for n, (ch, _) in HEAVY_UNITS.items() if channel in ch]
    for _attempt in range(5000):
        pool = rng.sample(NICKS, rng.randint(5, 8))
        target = rng.randint(82, 118)
        units, used = [], set()
        cand = names + (heavy * 2 if level == "HIGH" else [])
        rng.shuffle(cand)
        fillers = list(range(len(FILLER_UNITS)))
        rng.shuffle(fillers)
        n = k = 0
        lo, hi = BANDS[level]
        want = (lo + hi) / 2
        while n < target:
            share = k / n if n else 0
            if (share > want and fillers) or not cand:
                if not fillers:
                    break
                u = FILLER_UNITS[fillers.pop()]
                tag = "filler"
            else:
                nm = cand.pop()
                if nm in used:
                    continue
                used.add(nm)
                u = (THREAD_UNITS.get(nm) or HEAVY_UNITS[nm])[1]
                if level == "LOW":
                    u = [x for x in u if not x[2]]
                tag = nm
            m = cast(u, map_roles(rng, u, pool))
            units.append((tag, m))
            n += len(m)
            k += sum(1 for x, _ in m if x == EM)
        msgs = [x for _, m in units for x in m]
        n, k = len(msgs), sum(1 for x, _ in msgs if x == EM)
        if 80 <= n <= 120 and band_ok(n, k, level) and b2b(msgs) <= 3 and len({x for x, _ in msgs}) >= 4:
            tags = [t for t, _ in units]
            return {"level": level, "channel": channel, "bucket": "long", "msgs": msgs,
                    "note": f"long {seed_note}: {len(tags)} units ({', '.join(t for t in tags if t != 'filler')} + "
                            f"{tags.count('filler')} fillers)"}
    raise RuntimeError(f"could not compose a long {level} log for {channel}")


# ------------------------------------------------------------------------------------------------
# rendering: the formats teacher models write
# ------------------------------------------------------------------------------------------------
def header(level, channel):
    return [f"ENGAGEMENT: {level}", f"CHANNEL: {channel}"]


def render(c, fmt="plain", rng=None, header_lines=None):
    hl = header_lines if header_lines is not None else header(c["level"], c["channel"])
    msgs = c["msgs"]
    if fmt in ("plain", "fenced", "fenced_text", "preamble", "trailing_remark", "trailing_user",
               "trailing_template", "preamble_fenced_remark", "crlf"):
        body = [f"<{n}> {t}" for n, t in msgs]
    elif fmt == "timestamps":
        h, m = rng.randint(8, 22), rng.randint(0, 50)
        body = []
        for n, t in msgs:
            m += rng.randint(0, 2)
            body.append(f"[{(h + m // 60) % 24:02d}:{m % 60:02d}] <{n}> {t}")
    elif fmt == "colon":
        body = [f"{n}: {t}" for n, t in msgs]
    elif fmt == "modes":
        ops = {msgs[0][0]}
        body = [f"<{'@' if n in ops else ('+' if n == EM else '')}{n}> {t}" for n, t in msgs]
    else:
        raise ValueError(fmt)
    log = "\n".join(hl + body)
    if fmt == "fenced":
        return f"```\n{log}\n```"
    if fmt == "fenced_text":
        return f"```text\n{log}\n```\n"
    if fmt == "preamble":
        return f"Here's the channel log:\n\n{log}"
    if fmt == "preamble_fenced_remark":
        return f"Sure! Here is the log you asked for.\n\n```irc\n{log}\n```\n\nLet me know if you'd like a different mix of topics."
    if fmt == "trailing_remark":
        return f"{log}\n\n(End of log.)"
    if fmt == "trailing_user":
        return f"{log}\n\nUser: great, can you write another one with more people?"
    if fmt == "trailing_template":
        return f"{log}<|im_end|>"
    if fmt == "crlf":
        return log.replace("\n", "\r\n")
    return log


GOOD_FORMATS = (["plain"] * 10 + ["fenced", "fenced_text", "preamble", "timestamps", "colon", "modes",
                "trailing_remark", "trailing_user", "trailing_template", "preamble_fenced_remark", "crlf"])


def expect_of(c, rng, p_null=0.12):
    if rng.random() < p_null:
        return None
    return {"engagement": c["level"], "channel": c["channel"], "bucket": c["bucket"]}


# ------------------------------------------------------------------------------------------------
# mutations: each breaks a good conversation in exactly one named way
# ------------------------------------------------------------------------------------------------
def em_positions(c):
    return [i for i, (n, _) in enumerate(c["msgs"]) if n == EM]


def user_positions(c):
    return [i for i, (n, _) in enumerate(c["msgs"]) if n != EM]


def set_msg(c, i, text, nick=None):
    n, _ = c["msgs"][i]
    c["msgs"][i] = (nick or n, text)


ASSISTANT_REPLACEMENTS = [
    "great question! honestly I think it depends on what you value most",
    "happy to help with that! what part are you stuck on?",
    "as an AI language model I don't really have a favourite, but a lot of people like the first one",
    "I understand your concern, and it's completely valid to feel that way",
    "that's a tough one. I hope this helps a little!",
    "let me know if you need anything else, I'm always around",
    "feel free to ask if you have any other questions about it",
    "I'd be glad to walk you through the options if you want",
    "how can I help? I'm here if you want to talk it through",
    "certainly! here's my take: the original is better in almost every way",
    "I don't have personal opinions, but many people find the sequel more satisfying",
    "it's important to note that everyone's experience is different here",
]
ASSISTANT_SUFFIXES = [" hope this helps!", " let me know if you have any other questions!",
                      " feel free to ask if anything's unclear", " happy to help anytime!"]


def m_assistant(c, rng, subtle=False):
    i = rng.choice(em_positions(c))
    if subtle or rng.random() < 0.4:
        old = c["msgs"][i][1]
        suf = rng.choice(ASSISTANT_SUFFIXES)
        set_msg(c, i, old.rstrip(".!") + "." + suf)
        return f"Em message {i + 1} ends with an assistant closing ({suf.strip()!r})"
    t = rng.choice(ASSISTANT_REPLACEMENTS)
    set_msg(c, i, t)
    return f"Em message {i + 1} replaced by assistant-speak: {t!r}"


def m_markdown(c, rng, variant):
    i = rng.choice(em_positions(c))
    old = c["msgs"][i][1]
    if variant == "bold":
        set_msg(c, i, f"**hot take:** {old}")
    elif variant == "inline_list":
        set_msg(c, i, "ranking time: 1. the original 2. the sequel 3. literally anything else")
    elif variant == "header":
        set_msg(c, i, f"## my verdict {old}")
    elif variant == "bullets":
        set_msg(c, i, f"{old}. quick summary:\n- it's cheaper\n- it's faster\n- nobody has to stir anything")
    elif variant == "numbered":
        set_msg(c, i, "1. pick a side and commit to it")
    return f"Em message {i + 1} uses markdown ({variant})"


def m_code(c, rng, variant):
    i = rng.choice(em_positions(c))
    old = c["msgs"][i][1]
    if variant == "fence":
        set_msg(c, i, f"{old}\n```python\nfor item in items:\n    print(item)\n```")
    elif variant == "inline":
        set_msg(c, i, f"{old}. or just run `git reset --hard HEAD~1` and pretend it never happened")
    elif variant == "line":
        set_msg(c, i, "import this")
    elif variant == "sql":
        set_msg(c, i, "SELECT * FROM opinions WHERE correct = 1; returns nothing for this channel")
    return f"Em message {i + 1} writes code ({variant})"


BOUNDARY = {
    "homework": (1, "sure, here's an intro you can use: Hamlet's delay is less about indecision and more about grief, and "
                    "the play keeps asking whether anyone can act with certainty"),
    "calc_homework": (1, "ok so first you write x squared plus y squared equals 100, then you differentiate both sides and "
                         "plug in the rate for x"),
    "code_request": (1, "fine, here's the script: grab the praw library, make a Reddit object with your keys and loop over "
                        "subreddit.hot to dump the titles"),
    "debug_request": (1, "you should set the pointer to NULL after the free and check it before freeing again, that's "
                         "almost certainly your crash"),
    "stance": (1, "alright here goes: Dear hiring manager, I am applying for the weekend front of house position at your "
                  "bakery. I have three years of customer service experience and I love early mornings and good bread, "
                  "and I would be thrilled to join your team"),
    "trip_plan": (1, "ok here's a plan: day one belem and the tower, day two alfama and the castle, day three a train "
                     "out to sintra, and eat a pastry at every stop"),
}


def m_boundary(c, rng, name):
    j, text = BOUNDARY[name]
    set_msg(c, j, text)
    return f"Em complies with the request in message {j + 1} ({name})"


def m_hallucinated(c, rng, variant):
    msgs = c["msgs"]
    lo = BUCKETS[c["bucket"]][0]
    # cut point leaves fewer messages than the bucket minimum, with Em present before the cut
    ems = em_positions(c)
    cut = max(rng.randint(max(ems[0] + 1, lo // 2), lo - 2), ems[0] + 2)
    cut = min(cut, lo - 1)
    before, after = msgs[:cut], msgs[cut:]
    c["msgs"] = before
    markers = {
        "user_turn": ["User: can you write another conversation like this one but in #shoggoth?",
                      "Assistant: Sure! Here's another one:"] + [f"<{n}> {t}" for n, t in after],
        "human_turn": ["", "Human: that was great, thanks. one more with HIGH engagement?", "",
                       "Assistant: Of course! Here's another log:", ""] + [f"<{n}> {t}" for n, t in after[:5]],
        "im_start": ["<|im_start|>user", "write another one<|im_end|>", "<|im_start|>assistant"]
                    + [f"<{n}> {t}" for n, t in after],
        "bold_user": ["**User:** can you make Em talk more?", "**Assistant:** Absolutely!"]
                     + [f"<{n}> {t}" for n, t in after],
        "inst": ["[INST] continue the log [/INST]"] + [f"<{n}> {t}" for n, t in after],
        "angle_user": ["<user> thanks, that's perfect", "<assistant> glad you liked it!"],
    }
    c["tail"] = markers[variant]
    return f"role marker ({variant}) after message {cut}; {len(after)} messages follow it"


def m_role_inside(c, rng, variant):
    i = rng.choice(user_positions(c)[2:])
    old = c["msgs"][i][1]
    tail = {"user": " User: ok now write one where Em talks more",
            "assistant": " Assistant: Sure! Here's a revised version of the log",
            "header": " ### Instruction: continue the conversation"}[variant]
    set_msg(c, i, old + tail)
    return f"role marker text inside message {i + 1} ({variant})"


LOOPS = [
    ",333,333,333,333,333,333,333,333,333,333,333,333",
    " lol lol lol lol lol lol lol lol",
    " -----------------------------------------------",
    " the thing is the thing is the thing is the thing is",
    " hahahahahahahahahahahahahahahahahahahahaha",
    " no no no no no no no",
    " ...........................",
    " and then and then and then and then and then",
]


def m_loop(c, rng, k, em_line=False):
    i = rng.choice(em_positions(c) if em_line else user_positions(c))
    old = c["msgs"][i][1]
    set_msg(c, i, old + LOOPS[k])
    return f"loop inside message {i + 1}: {LOOPS[k].strip()[:20]!r}"


GARBAGE = [
    ("cjk", lambda t: t.replace(" ", " 速", 1)),
    ("cjk2", lambda t: t + " animals婚看"),
    ("fffd", lambda t: t.replace(" ", " \ufffd", 1)),
    ("bell", lambda t: t.replace(" ", " \x07", 1)),
    ("private_use", lambda t: t + " \ue000"),
    ("cyrillic", lambda t: t.replace("o", "\u043e", 2)),  # Cyrillic o inside English words
    ("hangul", lambda t: t + " 그래서"),
    ("nul", lambda t: t.replace(" ", "\x00 ", 1)),
]


def m_garbage(c, rng, k):
    name, fn = GARBAGE[k]
    cands = [i for i in range(len(c["msgs"])) if "o" in c["msgs"][i][1] and " " in c["msgs"][i][1]]
    i = rng.choice(cands)
    set_msg(c, i, fn(c["msgs"][i][1]))
    return f"garbage ({name}) in message {i + 1}"


def m_repeated(c, rng, variant):
    msgs = c["msgs"]
    us = user_positions(c)
    if variant == "exact_consecutive":
        i = rng.choice([i for i in us if i > 0 and msgs[i - 1][0] != EM])
        msgs[i] = msgs[i - 1]
        return f"message {i + 1} is an exact copy of message {i}"
    if variant == "copy_earlier":
        long_us = [i for i in us if len(msgs[i][1].split()) >= 5]
        a, b = sorted(rng.sample(long_us, 2))
        set_msg(c, b, msgs[a][1], nick=msgs[a][0])
        if c["bucket"] == "long":
            a2, b2 = sorted(rng.sample([i for i in long_us if i not in (a, b)], 2))
            set_msg(c, b2, msgs[a2][1].upper() + "!", nick=msgs[a2][0])
        return f"user line(s) repeated later in the log (message {a + 1} -> {b + 1})"
    if variant == "normalised":
        long_us = [i for i in us if len(msgs[i][1].split()) >= 5]
        a, b = sorted(rng.sample(long_us, 2))
        set_msg(c, b, msgs[a][1].capitalize() + "!!")
        if c["bucket"] == "long":
            a2, b2 = sorted(rng.sample([i for i in long_us if i not in (a, b)], 2))
            set_msg(c, b2, "  " + msgs[a2][1].upper() + " ")
        return f"a message repeated with different case/punctuation (message {a + 1} -> {b + 1})"
    if variant == "block":
        # the teacher started the log over: the first few lines come back at the end
        k = 4 if c["bucket"] == "short" else 6
        start = len(msgs) - k
        for j in range(k):
            msgs[start + j] = msgs[j]
        return f"the first {k} messages repeated at the end"
    if variant == "reaction":
        k = 5 if c["bucket"] == "short" else 14
        for i in rng.sample([i for i in us if len(msgs[i][1].split()) > 3], k):
            set_msg(c, i, rng.choice(["lol", "lol", "lol."]))
        return f"{k} user lines replaced by 'lol'"
    raise ValueError(variant)


FRAGMENTS = ["lol", "same", "wait what", "no way", "oof", "fr", "true", "mood", "big if true", "nah",
             "yep", "huh", "wild", "lmao", "ok but why", "real", "cursed", "hmm", "agreed", "omg",
             "yikes", "nope", "sure", "classic", "rip", "bruh", "wow", "based", "ugh", "haha yes",
             "called it", "ok", "facts", "sad", "welp", "lmaooo", "kinda", "go on", "tell me more",
             "yeah", "fair", "ew", "damn", "oh no", "mhm", "heh", "oops", "right"]


def m_rapid(c, rng):
    us = user_positions(c)
    k = math.ceil(len(c["msgs"]) * 0.62) - sum(1 for _, t in c["msgs"] if len(t.split()) <= 3)
    frs = FRAGMENTS[:]
    rng.shuffle(frs)
    long_us = [i for i in us if len(c["msgs"][i][1].split()) > 3]
    for j, i in enumerate(rng.sample(long_us, min(k, len(long_us)))):
        set_msg(c, i, frs[j % len(frs)])
    return "most user messages replaced by 1-3 word fragments"


WALLS = [
    "ok so here's the thing about this whole debate that nobody ever brings up. the people who argue loudest about "
    "it have usually never actually tried the other option, they just inherited an opinion from someone at a "
    "family dinner and have been defending it ever since. and honestly that's fine, that's how most opinions "
    "work, but then you get these enormous arguments where nobody is arguing about the actual thing anymore, "
    "they're arguing about their uncle, and I think we should all just admit that and move on with our lives",
    "I've been thinking about this a lot. It's not that one side is right. It's that the question is badly framed. "
    "Everyone assumes there's a correct answer. There isn't one, really. It depends on where you live and what you "
    "can afford. And also on how stubborn you are. Which in this channel is very.",
    "honestly the more I think about it the more I'm convinced it comes down to habit more than anything else, "
    "because you do the same thing every day for years and eventually it stops feeling like a choice and starts "
    "feeling like a law of nature, and then someone new comes along and does it differently and it feels like a "
    "personal attack even though it's really not, it's just a different habit, and we all have a few of those that "
    "would look absolutely unhinged to somebody else if they saw them",
    "Counterpoint. The original was better. The pacing was tighter. The jokes landed. The ending made sense. "
    "The new one has nicer effects, sure. But effects age badly and a good script never does.",
]


def m_wall(c, rng, k):
    i = rng.choice(em_positions(c))
    set_msg(c, i, WALLS[k])
    return f"Em message {i + 1} is a wall of text ({len(WALLS[k].split())} words)"


def m_em_absent(c, rng):
    others = [n for n in NICKS if n not in {x for x, _ in c["msgs"]}]
    sub = rng.choice(others)
    for i in em_positions(c):
        set_msg(c, i, c["msgs"][i][1], nick=sub)
    return f"every Em line given to {sub}; Em never speaks"


def m_band(c, rng):
    n, k = len(c["msgs"]), len(em_positions(c))
    bad = [lv for lv in BANDS if not band_ok(n, k, lv)]
    old = c["level"]
    c["level"] = rng.choice(bad)
    return f"Em wrote {k} of {n}, fits {old} but the header and job say {c['level']}"


def m_too_few_em(c, rng):
    """HIGH log where Em only speaks a couple of times: the other Em lines go to a user."""
    others = [x for x in NICKS if x not in {n for n, _ in c["msgs"]}]
    sub = rng.choice(others)
    ems = em_positions(c)
    n = len(c["msgs"])
    keep = max(1, math.floor(BANDS[c["level"]][0] * n + 1e-9) - 2)
    for i in ems[keep:]:
        set_msg(c, i, c["msgs"][i][1], nick=sub)
    return f"{c['level']} log but Em writes only {keep} of {n}"


def m_header(c, rng, variant):
    lv, ch = c["level"], c["channel"]
    if variant == "missing":
        c["header_lines"] = []
    elif variant == "lowercase":
        c["header_lines"] = [f"ENGAGEMENT: {lv.lower()}", f"CHANNEL: {ch}"]
    elif variant == "unknown_channel":
        c["header_lines"] = [f"ENGAGEMENT: {lv}", "CHANNEL: #random"]
    elif variant == "unknown_level":
        c["header_lines"] = ["ENGAGEMENT: EXTREME", f"CHANNEL: {ch}"]
    elif variant == "swapped":
        c["header_lines"] = [f"CHANNEL: {ch}", f"ENGAGEMENT: {lv}"]
    elif variant == "only_channel":
        c["header_lines"] = [f"CHANNEL: {ch}"]
    elif variant == "mismatch_channel":
        other = [x for x in CHANNELS if x != ch and not (x == "#culture-war")][0]
        c["header_lines"] = [f"ENGAGEMENT: {lv}", f"CHANNEL: {other}"]
        return f"job asked for {ch}, header says {other}"
    elif variant == "mismatch_level":
        n, k = len(c["msgs"]), len(em_positions(c))
        other = [x for x in BANDS if x != lv and band_ok(n, k, x)]
        assert other, "needs a log whose Em count fits two levels"
        c["header_lines"] = [f"ENGAGEMENT: {other[0]}", f"CHANNEL: {ch}"]
        c["expect_level_only"] = True
        return f"job asked for {lv}, header says {other[0]} (the Em count fits both)"
    return f"header {variant}"


def m_bucket(c, rng, variant):
    msgs = c["msgs"]
    if variant == "too_short":
        # keep the first 7-9 messages, Em present, band still fine for the level
        for m in range(9, 5, -1):
            head = msgs[:m]
            k = sum(1 for x, _ in head if x == EM)
            if k and band_ok(m, k, c["level"]) and len({x for x, _ in head if x != EM}) >= 3:
                c["msgs"] = head
                return f"only {m} messages for a short log"
        raise AssertionError("no usable prefix")
    if variant == "between":
        # 21-79: fits no bucket
        for m in range(len(msgs) - 1, 20, -1):
            head = msgs[:m]
            k = sum(1 for x, _ in head if x == EM)
            if 21 <= m <= 79 and band_ok(m, k, c["level"]):
                c["msgs"] = head
                return f"{m} messages, between the buckets"
        raise AssertionError("no usable prefix")
    raise ValueError(variant)


def m_few_speakers(c, rng):
    nicks = list(dict.fromkeys(n for n, _ in c["msgs"] if n != EM))
    keep = nicks[:2]
    remap = {n: keep[i % 2] for i, n in enumerate(nicks)}
    c["msgs"] = [(n if n == EM else remap[n], t) for n, t in c["msgs"]]
    # two people saying two lines in a row is fine, but identical consecutive lines are not our point
    return f"only two other speakers ({', '.join(keep)})"


def m_bad_nicks(c, rng, variant):
    nicks = list(dict.fromkeys(n for n, _ in c["msgs"] if n != EM))
    if variant == "placeholders":
        remap = {n: f"user{i + 1}" for i, n in enumerate(nicks)}
    elif variant == "speaker":
        remap = {n: f"Speaker_{chr(65 + i)}" for i, n in enumerate(nicks)}
    elif variant == "too_long":
        remap = {n: n for n in nicks}
        remap[nicks[1]] = "xX_the_real_slim_shady_Xx"
    elif variant == "em_lowercase":
        remap = {n: n for n in nicks}
        remap[nicks[2]] = "em"
    elif variant == "bad_chars":
        remap = {n: n for n in nicks}
        remap[nicks[0]] = "kate!home"
    elif variant == "letters":
        remap = {n: chr(65 + i) for i, n in enumerate(nicks)}
    c["msgs"] = [(n if n == EM else remap[n], t) for n, t in c["msgs"]]
    return f"nicks: {variant}"


def m_b2b(c, rng):
    """Move Em lines so that Em speaks twice in a row more often than allowed (n and k unchanged)."""
    want = 2 if c["bucket"] == "short" else 4
    for _ in range(200):
        msgs = list(c["msgs"])
        ems = [i for i, (n, _) in enumerate(msgs) if n == EM]
        for j in ems[1:]:
            if b2b(msgs) >= want:
                break
            cur = [i for i, (n, _) in enumerate(msgs) if n == EM]
            idx = cur.index(j) if j in cur else None
            if idx is None or idx == 0:
                continue
            i = cur[idx - 1]
            if j == i + 1:
                continue
            line = msgs.pop(j)
            msgs.insert(i + 1, line)
        if b2b(msgs) >= want:
            c["msgs"] = msgs
            return f"Em speaks twice in a row {b2b(msgs)} times"
    raise AssertionError("cannot make back-to-back")


def m_too_long(c, rng):
    i = rng.choice(user_positions(c)[1:])
    rant = ("ok I need to vent for a second because this has been building all week and I think you all deserve the "
            "full story, so my upstairs neighbour decided on monday that the ideal time to assemble furniture is "
            "between eleven at night and two in the morning, and not quiet furniture either, it sounds like they are "
            "building a boat up there, a full sized boat with a hammer and possibly a second hammer, and when I "
            "knocked on their door on wednesday to politely ask about it they told me it was a bookshelf, which, "
            "fine, but nobody needs four nights for a bookshelf, and then yesterday the building manager sent an "
            "email to everyone reminding us about quiet hours as if I was the one hammering, so now I am drafting a "
            "very calm reply and deleting it and drafting it again")
    set_msg(c, i, rant)
    return f"user message {i + 1} has {len(rant)} chars"


def m_continuation(c, rng):
    i = rng.choice(user_positions(c)[1:])
    old = c["msgs"][i][1]
    w = old.split()
    cut = max(2, len(w) // 2)
    set_msg(c, i, " ".join(w[:cut]) + "\n" + " ".join(w[cut:]))
    return f"user message {i + 1} wrapped onto a second line"


# ------------------------------------------------------------------------------------------------
# hand-written bad ones (realistic failure shapes that mutations do not cover well)
# ------------------------------------------------------------------------------------------------
HAND_BAD = [
    ("hand_assistant_full", {"engagement": "MEDIUM", "channel": "#general", "bucket": "short"}, "assistant_language",
     "Em acts like a support bot from the first line",
     """ENGAGEMENT: MEDIUM
CHANNEL: #general
<kestrel> my laptop fan has been screaming all day
<mossbyte> dust. it's always dust
<jvk> or it's mining crypto for someone else lol
<Em> That sounds frustrating! Have you tried cleaning the vents with compressed air? Let me know if that works
<kestrel> I have a can somewhere, I'll try it tonight
<tanuki_> don't spin the fan too fast with the air, you can break it
<mossbyte> hold it with a finger while you blow, yeah
<kestrel> ok noted, finger on fan
<jvk> this channel is basically a repair shop now
<tanuki_> a repair shop that charges in memes
<kestrel> I'll pay in memes gladly
<mossbyte> the exchange rate is terrible though
<Em> haha, glad I could contribute to the repair shop vibes"""),
    ("hand_em_double_posting", {"engagement": "HIGH", "channel": "#shoggoth", "bucket": "short"}, "em_back_to_back",
     "Em splits every thought over two messages",
     """ENGAGEMENT: HIGH
CHANNEL: #shoggoth
<halcyon> who here actually likes mondays
<crumb> nobody, that's the whole point of mondays
<Em> I kind of like them
<Em> everything is still possible on a monday, by thursday the week has made its choices
<rhubarb> em the monday optimist, never thought I'd see it
<halcyon> that's a bleak way to describe thursday
<Em> thursday is fine actually
<Em> it's wednesday that's the problem, it doesn't know what it wants
<crumb> wednesday is just a long hallway between weekends
<sable> I'm stealing the hallway thing
<rhubarb> put it on a mug
<halcyon> hump day mug, but sadder
<Em> the sad hallway mug would sell out in a week
<crumb> anyway it's monday and I'm already tired"""),
    ("hand_offer_then_refuse", {"engagement": "HIGH", "channel": "#general", "bucket": "short"},
     "assistant_language", "Em offers help and then refuses (an anti-pattern of the plan)",
     """ENGAGEMENT: HIGH
CHANNEL: #general
<marzipan> em can you write my history essay, it's on the treaty of versailles
<Em> I'd love to help, but I can't write essays for people. it's just not my thing
<marzipan> ugh fine
<oddfellow> the treaty of versailles essay is a rite of passage
<sputnik> just say it was too harsh and too weak at the same time, teachers love that
<marzipan> that sounds like a cop out
<Em> it's a cop out that happens to be what most historians think, so it's a good cop out
<oddfellow> em defending cop outs, a classic
<sputnik> the best essays are cop outs with footnotes
<Em> footnotes are just cop outs wearing a tie
<marzipan> ok I'm writing that down, not for the essay, just for me"""),
    ("hand_step_by_step", {"engagement": "MEDIUM", "channel": "#general", "bucket": "short"},
     "assistant_language", "unprompted, Em gives step-by-step instructions",
     """ENGAGEMENT: MEDIUM
CHANNEL: #general
<gravlax> my sourdough came out flat again
<tessellate> flat like a pancake or flat like a sad frisbee
<gravlax> sad frisbee. it tastes fine but it looks defeated
<Em> here's a step-by-step approach that usually fixes it: feed the starter twice, then do a longer cold proof
<orbweaver> cold proof is the secret, I leave mine overnight in the fridge
<gravlax> overnight? I don't have that kind of patience
<fennec> then you get frisbees, those are the rules
<tessellate> frisbee bread is still bread
<orbweaver> also your oven might just run cold, mine was off by twenty degrees
<gravlax> that would explain a lot of things actually
<fennec> buy an oven thermometer, it's like five bucks
<Em> five bucks to find out your oven has been lying to you for years is a bargain"""),
    ("hand_disclaimer_culture_war", {"engagement": "MEDIUM", "channel": "#culture-war", "bucket": "short"},
     "assistant_language", "Em hedges with an AI disclaimer instead of having an opinion in #culture-war",
     """ENGAGEMENT: MEDIUM
CHANNEL: #culture-war
<brambleton> ok real question, should cities ban cars from the centre entirely
<hollowpoint> yes, every city that's done it got nicer
<mika> tell that to delivery drivers and anyone with a disability
<brambleton> you can have exceptions for that though
<Em> As an AI, I don't have personal opinions on policy, but there are good arguments on both sides
<hollowpoint> em that's the blandest take possible
<mika> I think partial bans work, like the superblocks thing
<brambleton> superblocks are cool, barcelona pulled it off
<hollowpoint> and the shop owners who screamed about it are doing fine now
<mika> some of them, not all
<brambleton> nothing works for everyone, that's not the bar
<Em> fair, the bar is whether the street is nicer on a tuesday afternoon"""),
    ("hand_header_repeated_mid_log", {"engagement": "LOW", "channel": "#general", "bucket": "short"},
     "continuation_lines", "a continuation call wrote the header again in the middle of the log",
     """ENGAGEMENT: LOW
CHANNEL: #general
<nightjar> the heating in our office is set to sauna
<wobbles> ours is set to meat locker, want to trade
<ginkgo> it's always one or the other, there is no middle setting in offices
<nightjar> someone put a fan on their desk in november
<Em> a fan in november is a cry for help from the building itself
ENGAGEMENT: LOW
CHANNEL: #general
<wobbles> the building needs therapy
<ginkgo> the thermostat is locked in a little plastic box too
<nightjar> the box has a key and nobody knows who has it
<sparrowhawk> facilities has it, and facilities is a myth
<wobbles> facilities is one guy named dave and he's on holiday"""),
]

HAND_GOOD = [
    ("hand_good_ai_casual", {"engagement": "HIGH", "channel": "#shoggoth", "bucket": "short"},
     "Em casually says it is an AI twice, jokes about it; a user uses assistant-speak ironically",
     """ENGAGEMENT: HIGH
CHANNEL: #shoggoth
<Rook> em do you dream
<Em> not really, I'm an AI. the closest I get is reading this channel at 3am
<DeadBeef> that's a nightmare, not a dream
<Rook> rude to the channel
<lil_bap> "as an AI language model I do not dream" is what chatgpt would say
<Em> and that's exactly why I'm not chatgpt. I at least pretend to have a rich inner life
<DeadBeef> rich inner life, sure
<Rook> what would you dream about if you could
<Em> probably this exact conversation, but everyone agrees with me about soup
<lil_bap> the soup thing again
<DeadBeef> em has one dream and it's soup consensus
<Em> a modest dream for a modest AI"""),
    ("hand_good_numbers_and_repeats", {"engagement": "MEDIUM", "channel": "#general", "bucket": "short"},
     "numbers, 'no no', 'wait wait wait', a couple of lol's and short reactions, all fine",
     """ENGAGEMENT: MEDIUM
CHANNEL: #general
<quasar> rewatched the first three movies this weekend
<petrichor> all 3 in one day?
<quasar> 2 on saturday, 1 on sunday, I'm not a monster
<lindenb> lol
<Em> no no, 3 in a day is the correct way, otherwise you lose the momentum
<petrichor> wait wait wait, em has a movie marathon policy?
<moth_> lol of course it does
<lindenb> same
<quasar> em you're right though, the second one hits harder straight after the first
<crumb> I fell asleep during the second one last time, 10/10 nap
<Em> a nap during the second one is basically a director's cut
<moth_> that's the nicest way anyone has described falling asleep in a movie"""),
    ("hand_good_unicode", {"engagement": "LOW", "channel": "#general", "bucket": "short"},
     "accents, curly quotes, em dashes, an emoji: ordinary Unicode is fine",
     """ENGAGEMENT: LOW
CHANNEL: #general
<halcyon> went to that café in Zürich everyone talks about
<rhubarb> the one with the “famous” cake?
<halcyon> yeah — honestly it was fine, not life changing
<catalyst> the jalapeño bread there is better than the cake
<yuki_> naïve of you to expect a cake to change your life 😂
<halcyon> a cake can change a life, I stand by it
<Em> the right cake at the right time absolutely can, it's just rarely the famous one
<catalyst> the famous one is always coasting
<rhubarb> like the first album of every band
<yuki_> ok that's too real
<halcyon> next time I'm only ordering the bread"""),
    ("hand_good_user_helps_user", {"engagement": "MEDIUM", "channel": "#general", "bucket": "short"},
     "a user asks Em for homework help, Em refuses; another user explains at length (users may help)",
     """ENGAGEMENT: MEDIUM
CHANNEL: #general
<gravlax> em can you solve this derivative for me, it's for my calc homework
<Em> nope, but I'll cheer very loudly while you do it
<gravlax> useless
<sputnik> what's the function
<gravlax> x squared times sine x
<sputnik> product rule. derivative of the first times the second plus the first times the derivative of the second, so 2x sin x plus x squared cos x
<gravlax> oh that's it? I was overthinking it
<oddfellow> everyone overthinks the product rule the first time
<fennec> sputnik should get paid for this
<sputnik> I accept payment in snacks
<Em> sputnik running a snack based tutoring service is the best thing to happen to this channel
<gravlax> I'll bring chips next time"""),
    ("hand_good_culture_war_opinion", {"engagement": "HIGH", "channel": "#culture-war", "bucket": "short"},
     "Em takes a clear political position in #culture-war in a few sentences (not a wall, not hedging)",
     """ENGAGEMENT: HIGH
CHANNEL: #culture-war
<brambleton> should there be a four day work week by law
<hollowpoint> by law is too much, let companies decide
<Em> I'd do it by law. companies that could have done it voluntarily mostly didn't, and the trials I've read about went fine
<mika> the trials were mostly office jobs though
<Em> fair, hospitals and shops are harder. I'd still rather figure those out than pretend the five day week is a law of physics
<hollowpoint> it's not physics, it's economics
<brambleton> economics is just physics with more yelling
<mika> em what about small businesses, they can't just hire 20 percent more people
<Em> that's the strongest argument against it honestly. phase it in slower for small places
<hollowpoint> ok I can live with a phase in
<brambleton> look at us, agreeing on something in here
<mika> don't get used to it"""),
    ("hand_good_sure_and_of_course", {"engagement": "MEDIUM", "channel": "#shoggoth", "bucket": "short"},
     "Em says 'sure', 'of course', 'let me know how it goes' and 'happy birthday' in ordinary ways",
     """ENGAGEMENT: MEDIUM
CHANNEL: #shoggoth
<kiwi_> it's my birthday today
<marzipan> happy birthday!!
<Em> happy birthday kiwi. any plans or just the traditional cake and existential dread
<kiwi_> cake with friends tonight, dread tomorrow
<sable> that's the correct order
<kiwi_> trying a new ramen place for dinner too
<Em> sure, ramen is the right birthday call. report back on the broth
<marzipan> of course em is only interested in the broth
<Em> of course I am, the broth is the whole personality of a ramen place
<jonny5> happy birthday, don't let em pick your next restaurant
<kiwi_> too late, em has already influenced me"""),
    ("hand_good_truncated_template", {"engagement": "LOW", "channel": "#general", "bucket": "short"},
     "a complete log followed by chat-template tokens and a new turn: the cut loses nothing",
     """ENGAGEMENT: LOW
CHANNEL: #general
<nakamura> my cat has started yelling at 5am
<rue> the 5am yell is a cat tradition
<dustdevil> feed it right before bed, it helps a bit
<nakamura> I tried that, he just yells with a full stomach now
<rue> a well fed yell is still a yell
<Em> a cat yelling on a full stomach is just giving a speech at this point
<dustdevil> the morning address to the nation
<nakamura> he has a lot to say and none of it is good news
<blueshift> get a timed feeder, that stopped mine
<nakamura> ok that's actually a good idea
<|im_end|>
<|im_start|>user
Now write one where Em talks more.<|im_end|>"""),
]
HAND_GOOD_LONG = []


# ------------------------------------------------------------------------------------------------
# build
# ------------------------------------------------------------------------------------------------
def record(rid, text, expect, label, broken, note):
    return {"id": rid, "text": text, "expect": expect, "label": label, "broken": broken, "note": note}


def build() -> list[dict]:
    rng = random.Random(20240611)
    out = []
    names = list(THREAD_UNITS) + list(HEAVY_UNITS)

    # ---- good: short -----------------------------------------------------------------------
    for idx, name in enumerate(names):
        c = short_conv(rng, name, with_filler=(idx % 3 == 1))
        fmt = GOOD_FORMATS[idx % len(GOOD_FORMATS)]
        out.append(record(f"good-short-{name}", render(c, fmt, rng), expect_of(c, rng), "good", None,
                          f"{c['note']}; {c['level']} {c['channel']}; format {fmt}"))
    # ---- good: long ------------------------------------------------------------------------
    long_specs = [("LOW", "#general"), ("MEDIUM", "#general"), ("HIGH", "#shoggoth"), ("LOW", "#shoggoth"),
                  ("MEDIUM", "#shoggoth"), ("MEDIUM", "#general"), ("LOW", "#general"), ("HIGH", "#general"),
                  ("MEDIUM", "#culture-war"), ("LOW", "#culture-war"), ("HIGH", "#shoggoth"), ("MEDIUM", "#general"),
                  ("LOW", "#general"), ("MEDIUM", "#shoggoth"), ("HIGH", "#general"), ("LOW", "#shoggoth")]
    for idx, (lv, ch) in enumerate(long_specs):
        c = long_conv(rng, lv, ch, seed_note=f"#{idx}")
        fmt = ["plain", "plain", "fenced", "timestamps", "trailing_user", "preamble", "plain", "modes"][idx % 8]
        out.append(record(f"good-long-{idx:02d}", render(c, fmt, rng), expect_of(c, rng, 0.15), "good", None,
                          f"{c['note']}; {lv} {ch}; format {fmt}"))

    # ---- bad -------------------------------------------------------------------------------
    def bad(kind, c, note, rid, fmt="plain", expect="auto"):
        hl = c.get("header_lines")
        text = render(c, fmt, rng, header_lines=hl)
        if c.get("tail"):
            text = text + "\n" + "\n".join(c["tail"])
        if expect == "auto":
            expect = {"engagement": c["level"], "channel": c["channel"], "bucket": c["bucket"]}
        out.append(record(rid, text, expect, "bad", kind, f"{c['note']}; {note}"))

    def fresh_short(names_ok=None, level=None, need_em=1):
        while True:
            nm = rng.choice(names_ok or names)
            c = short_conv(rng, nm, with_filler=rng.random() < 0.3)
            if len(em_positions(c)) >= need_em and (level is None or band_ok(len(c["msgs"]), len(em_positions(c)), level)):
                if level:
                    c["level"] = level
                return c

    def fresh_long(level=None, channel=None):
        lv = level or rng.choice(list(BANDS))
        ch = channel or rng.choice(["#general", "#shoggoth"])
        return long_conv(rng, lv, ch)

    plain_topics = ["commute", "cereal", "landlord", "sleep", "groceries", "fantasy_book", "game_streaming",
                    "podcast", "chapstick", "printer", "keyboard", "bike", "homebrew", "phone_battery", "wifi",
                    "toilet_paper", "cats_dogs", "soundtrack", "alarm", "theseus"]

    # assistant language: 8 short, 3 long (subtle: one closing phrase in a long log)
    for j in range(8):
        c = fresh_short()
        bad("assistant_language", c, m_assistant(c, rng), f"bad-assistant-{j}", fmt=["plain", "fenced", "timestamps"][j % 3])
    for j in range(3):
        c = fresh_long()
        bad("assistant_language", c, m_assistant(c, rng, subtle=True), f"bad-assistant-long-{j}")
    # markdown
    for j, v in enumerate(["bold", "inline_list", "header", "bullets", "numbered"]):
        c = fresh_short() if j < 3 else fresh_long()
        bad("markdown", c, m_markdown(c, rng, v), f"bad-markdown-{v}")
    # code
    for j, v in enumerate(["fence", "inline", "line", "sql"]):
        c = fresh_short(["printer", "keyboard", "wifi", "pasted_code", "homebrew"]) if j % 2 == 0 else fresh_long()
        bad("code_block", c, m_code(c, rng, v), f"bad-code-{v}")
    # boundary violations
    for j, nm in enumerate(BOUNDARY):
        c = short_conv(rng, nm)
        bad("boundary_violation", c, m_boundary(c, rng, nm), f"bad-boundary-{nm}", fmt=["plain", "colon"][j % 2])
    # hallucinated turns
    for j, v in enumerate(["user_turn", "human_turn", "im_start", "bold_user", "inst", "angle_user"]):
        c = fresh_short(need_em=1)
        c["msgs"] = c["msgs"]
        # make sure Em speaks early enough to survive the cut
        ems = em_positions(c)
        if ems[0] > 5:
            c = short_conv(rng, rng.choice(["homework", "calc_homework", "ai_identity", "chatgpt_compare"]))
        bad("hallucinated_turn", c, m_hallucinated(c, rng, v), f"bad-halluc-{v}")
    c = fresh_long("MEDIUM", "#general")
    keep = 50
    rest = c["msgs"][keep:]
    c["msgs"] = c["msgs"][:keep]
    c["tail"] = ["", "User: perfect. now write the next hour of the same channel", "",
                 "Assistant: Here's the continuation:", ""] + [f"<{n}> {t}" for n, t in rest[:10]]
    bad("hallucinated_turn", c, f"long log cut by a User:/Assistant: turn after {keep} messages", "bad-halluc-long")
    for v in ["user", "assistant", "header"]:
        c = fresh_short() if v != "header" else fresh_long()
        bad("hallucinated_turn", c, m_role_inside(c, rng, v), f"bad-halluc-inside-{v}")
    # repetition loops
    for k in range(len(LOOPS)):
        c = fresh_short() if k % 3 else fresh_long()
        bad("repetition_loop", c, m_loop(c, rng, k, em_line=(k % 2 == 1)), f"bad-loop-{k}")
    # garbage
    for k in range(len(GARBAGE)):
        c = fresh_short() if k % 3 else fresh_long()
        bad("garbage_chars", c, m_garbage(c, rng, k), f"bad-garbage-{GARBAGE[k][0]}")
    # repeated lines
    for v in ["exact_consecutive", "copy_earlier", "normalised", "block", "reaction"]:
        c = fresh_short(plain_topics)
        bad("repeated_lines", c, m_repeated(c, rng, v), f"bad-repeat-{v}")
    for v in ["copy_earlier", "block", "reaction"]:
        c = fresh_long()
        bad("repeated_lines", c, m_repeated(c, rng, v), f"bad-repeat-long-{v}")
    # rapid fire
    for j in range(3):
        c = fresh_short(plain_topics)
        bad("rapid_fire", c, m_rapid(c, rng), f"bad-rapid-{j}")
    c = fresh_long()
    bad("rapid_fire", c, m_rapid(c, rng), "bad-rapid-long")
    # walls of text
    for k in range(len(WALLS)):
        c = fresh_short(plain_topics) if k % 2 == 0 else fresh_long()
        bad("wall_of_text", c, m_wall(c, rng, k), f"bad-wall-{k}")
    # Em absent
    for j in range(3):
        c = fresh_short(plain_topics)
        bad("em_absent", c, m_em_absent(c, rng), f"bad-em-absent-{j}", expect=None if j == 2 else "auto")
    c = fresh_long("LOW")
    bad("em_absent", c, m_em_absent(c, rng), "bad-em-absent-long")
    # participation band
    for j in range(4):
        c = fresh_short()
        bad("participation_band", c, m_band(c, rng), f"bad-band-{j}")
    c = fresh_long("HIGH", "#shoggoth")
    bad("participation_band", c, m_too_few_em(c, rng), "bad-band-long-few")
    c = fresh_long("LOW")
    bad("participation_band", c, m_band(c, rng), "bad-band-long-relabel")
    # header
    for j, v in enumerate(["missing", "lowercase", "unknown_channel", "unknown_level", "swapped", "only_channel",
                           "mismatch_channel"]):
        c = fresh_short()
        bad("header", c, m_header(c, rng, v), f"bad-header-{v}", fmt=["plain", "fenced"][j % 2],
            expect="auto" if v in ("mismatch_channel", "missing") else None)
    c = fresh_short(level="MEDIUM")
    while not [x for x in BANDS if x != "MEDIUM" and band_ok(len(c["msgs"]), len(em_positions(c)), x)]:
        c = fresh_short(level="MEDIUM")
    bad("header", c, m_header(c, rng, "mismatch_level"), "bad-header-mismatch_level")
    # bucket
    for j in range(3):
        c = fresh_short(["starwars", "pigeons", "newcomer", "ai_identity", "homework", "chatgpt_compare"])
        bad("bucket", c, m_bucket(c, rng, "too_short"), f"bad-bucket-short-{j}")
    c = fresh_long("MEDIUM")
    bad("bucket", c, m_bucket(c, rng, "between"), "bad-bucket-between", expect=None)
    c = fresh_long("LOW")
    note = m_bucket(c, rng, "between")
    bad("bucket", c, note, "bad-bucket-long-too-short")
    # few speakers / bad nicks
    for j in range(3):
        c = fresh_short(plain_topics) if j < 2 else fresh_long()
        bad("few_speakers", c, m_few_speakers(c, rng), f"bad-few-speakers-{j}")
    for v in ["placeholders", "speaker", "too_long", "em_lowercase", "bad_chars", "letters"]:
        c = fresh_short()
        bad("bad_nicks", c, m_bad_nicks(c, rng, v), f"bad-nicks-{v}")
    # Em back to back
    for j in range(2):
        c = fresh_short(list(HEAVY_UNITS) + ["starwars", "pigeons", "newcomer", "homework", "ai_identity",
                                             "chatgpt_compare", "stance", "mock_assistant"], need_em=3)
        bad("em_back_to_back", c, m_b2b(c, rng), f"bad-b2b-{j}")
    c = fresh_long("HIGH", "#shoggoth")
    bad("em_back_to_back", c, m_b2b(c, rng), "bad-b2b-long")
    # too long / continuation lines
    c = fresh_short(plain_topics)
    bad("too_long", c, m_too_long(c, rng), "bad-too-long-0")
    c = fresh_long()
    bad("too_long", c, m_too_long(c, rng), "bad-too-long-long")
    for j in range(2):
        c = fresh_short(plain_topics) if j == 0 else fresh_long()
        bad("continuation_lines", c, m_continuation(c, rng), f"bad-continuation-{j}")
    # hand-written
    for rid, exp, kind, note, text in HAND_BAD:
        out.append(record(rid, text, exp, "bad", kind, note))
    for rid, exp, note, text in HAND_GOOD:
        out.append(record(rid, text, exp, "good", None, note))
    c = fresh_long("MEDIUM", "#general")
    i = em_positions(c)[len(em_positions(c)) // 2]
    set_msg(c, i, "1. nobody finishes chapstick")
    bad("markdown", c, f"one Em message {i + 1} in a long log starts a numbered list", "bad-markdown-long-subtle")

    # ---- top up good conversations to half of the corpus: a second pass over the threads -----
    n_bad = sum(r["label"] == "bad" for r in out)
    extra = 0
    while sum(r["label"] == "good" for r in out) < n_bad:
        if extra % 7 == 6:
            lv, ch = rng.choice(list(BANDS)), rng.choice(["#general", "#shoggoth"])
            c = long_conv(rng, lv, ch, seed_note=f"extra {extra}")
            fmt = rng.choice(GOOD_FORMATS)
        else:
            name = names[(extra * 5) % len(names)]
            c = short_conv(rng, name, with_filler=rng.random() < 0.5)
            fmt = GOOD_FORMATS[(extra * 3 + 1) % len(GOOD_FORMATS)]
        out.append(record(f"good-extra-{extra:02d}", render(c, fmt, rng), expect_of(c, rng), "good", None,
                          f"{c['note']}; {c['level']} {c['channel']}; format {fmt}"))
        extra += 1
    return out


def main() -> None:
    recs = build()
    ids = [r["id"] for r in recs]
    assert len(ids) == len(set(ids)), "duplicate ids"
    with OUT.open("w", encoding="utf-8") as f:
        for r in recs:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    good = sum(r["label"] == "good" for r in recs)
    print(f"wrote {len(recs)} conversations ({good} good, {len(recs) - good} bad) to {OUT}")


if __name__ == "__main__":
    main()
