"""What the stand-in makes of a job's premise and cast: an opening line told by one of the cast, the
premise's content words for the grammar's {thing} slots, and a light typing style per voice (its
keywords: "lower case", "fragments", "exclamation", "ellipses", "lol", "typos", ...). Em has no
voice and is never styled. Not a model: honest, deterministic transforms of the job's own text."""
from __future__ import annotations

import random
import re

_STOP = set("""a an the and or but of to in on at for with from by into onto over under about after before
this that these those their there they them then than his her hers him its it's is are was were be been
being has have had just now still every each some someone someone's somebody anyone nobody everyone regular
regulars channel one two three four five six seven eight nine ten first last only also very really
because while when where which who whom whose what your you yours our ours out off again ever never
since until without within across between against same other another such much many more most
week today yesterday tonight morning evening night year years month months day days minutes hours""".split())

_LEAD = [
    (re.compile(r"^(?:someone|somebody|one regular|a regular|one of the regulars)'s\s+", re.I), "my "),
    (re.compile(r"^(?:someone|somebody|a regular|one regular)\s+(?=(?:just|finally|still|has|is|was|keeps|says)\b)", re.I), "I "),
]
_VERB_AFTER_I = {"has": "have", "is": "am", "keeps": "keep", "says": "say"}
_FRAMES = ["ok so ", "so get this, ", "update from my week, ", "true story, ", "no context but ",
           "right so ", "this happened and I need opinions, ", "small drama here, "]


def first_person(premise: str, rng: random.Random) -> str:
    """The premise as one of the cast would type it: 'someone's flatmate has...' -> 'my flatmate has...';
    otherwise the premise behind a casual frame."""
    text = " ".join(premise.split()).rstrip(".")
    for pattern, repl in _LEAD:
        if pattern.match(text):
            text = pattern.sub(repl, text, count=1)
            if repl == "I ":
                words = text.split(" ")
                for i in (1, 2):
                    if i < len(words) and words[i] in _VERB_AFTER_I:
                        words[i] = _VERB_AFTER_I[words[i]]
                        break
                text = " ".join(words)
            return (rng.choice(["ok so ", "so ", "", "right, "]) + text).strip()
    return rng.choice(_FRAMES) + text[:1].lower() + text[1:]


_DET = set("a an the his her their my our your its this that every each some one two three".split())


def content_words(premise: str) -> list[str]:
    """Noun phrases, more or less: after a determiner, the last one or two words of the run of
    content words that follows ('a framed family photo' -> 'family photo')."""
    words = re.findall(r"[a-z][a-z\-']*", premise.lower())
    out = []
    for i, w in enumerate(words):
        if w not in _DET and not w.endswith("'s"):
            continue
        run = []
        for x in words[i + 1: i + 4]:
            if x in _STOP or x in _DET or x.endswith("'s") or len(x) < 3:
                break
            run.append(x)
        if run and not run[-1].endswith(("ed", "ing")):
            out.append(" ".join(run[-2:]) if len(run) >= 2 and not run[-2].endswith("ed") else run[-1])
    return list(dict.fromkeys(out))


def _typo(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    cands = [i for i, w in enumerate(words) if len(w) > 4 and w.isalpha()]
    if not cands:
        return text
    i = rng.choice(cands)
    w = words[i]
    j = rng.randrange(1, len(w) - 2)
    words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2:]
    return " ".join(words)


def _first_sentence(text: str, rng: random.Random) -> str:
    return re.split(r"(?<=[.?!])\s+", text)[0].rstrip(".")


def _shout(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    i = max(range(len(words)), key=lambda k: len(words[k]))
    words[i] = words[i].upper()
    return " ".join(words)


# keyword in the voice -> (probability per message, transform)
STYLES = [
    (("lower case", "lowercase", "no capitals", "never capitalises"), 1.0, lambda t, r: t.lower()),
    (("fragments", "terse", "clipped", "one short", "few words", "curt"), 0.8, _first_sentence),
    (("caps",), 0.25, _shout),
    (("exclamation",), 0.7, lambda t, r: t.rstrip(".") + "!"),
    (("ellipses", "trails off"), 0.6, lambda t, r: t.rstrip(".!?") + "..."),
    (("lol",), 0.6, lambda t, r: t.rstrip(".") + " lol"),
    ((":)", "smiley"), 0.6, lambda t, r: t.rstrip(".") + " :)"),
    (("tbh", "ngl"), 0.4, lambda t, r: t.rstrip(".") + " tbh"),
    (("typo",), 0.4, _typo),
]


class Styler:
    """nick -> the transforms its voice asks for."""

    def __init__(self, voices: dict[str, str]):
        self.by_nick = {}
        for nick, voice in voices.items():
            v = voice.lower()
            self.by_nick[nick] = [(p, fn) for keys, p, fn in STYLES if any(k in v for k in keys)]

    def apply(self, nick: str, text: str, rng: random.Random) -> str:
        for p, fn in self.by_nick.get(nick, ()):
            if rng.random() < p:
                text = fn(text, rng) or text
        return text
