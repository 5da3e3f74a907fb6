"""Token lengths of training conversations, with Mistral's real tokenizers.

The tokenizer files come from the PyPI package `mistral-common` (its `data/` folder ships the
sentencepiece v1/v3/v7 models and the tekken BPE json), so nothing is downloaded at run time. The
default, `tekken`, is the 131k-token tekken vocabulary of Mistral NeMo / Mistral Small 24B, the family
of the IRC-tuned base model. A base-model folder with its own Hugging Face tokenizer can be given
instead (that needs `transformers`, which the train venv has).

mistral-common is an optional extra: `pip install -e '.[tokens]'` (or `.[train]`). Without it the
functions here raise BadInput saying so.

A sample's length counts BOS and EOS, as Axolotl sees it (`len(encode(text)) + 2`).
"""
from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Iterable, Protocol

from em_gen.generate.journal import read_text_records
from em_gen.library import BadInput

# name -> file in mistral_common/data
MISTRAL_TOKENIZERS = {
    "tekken": "tekken_240911.json",
    "v7": "mistral_instruct_tokenizer_241114.model.v7",
    "v3": "mistral_instruct_tokenizer_240323.model.v3",
    "v1": "tokenizer.model.v1",
}
DEFAULT_TOKENIZER = "tekken"
_MISSING = ("mistral-common is not installed: install the tokens extra "
            "(.venv/bin/pip install -e '.[tokens]') to measure token lengths")


class Counter(Protocol):
    name: str

    def encode(self, text: str) -> list[int]: ...


def mistral_data_dir() -> Path:
    """The folder inside the installed mistral-common package that holds its tokenizer files."""
    try:
        import mistral_common
    except ImportError:
        raise BadInput(_MISSING) from None
    return Path(mistral_common.__file__).resolve().parent / "data"


def mistral_tokenizer_file(name: str) -> Path:
    if name not in MISTRAL_TOKENIZERS:
        raise BadInput(f"unknown tokenizer {name!r}: use one of {', '.join(MISTRAL_TOKENIZERS)} "
                       "or a base-model folder")
    path = mistral_data_dir() / MISTRAL_TOKENIZERS[name]
    if not path.is_file():
        raise BadInput(f"{path}: not in this mistral-common release; try another tokenizer name")
    return path


class _MistralCounter:
    def __init__(self, name: str):
        self.name = name
        path = mistral_tokenizer_file(name)
        try:
            if name == "tekken":
                from mistral_common.tokens.tokenizers.tekken import Tekkenizer

                self._tok = Tekkenizer.from_file(path)
            else:
                from mistral_common.tokens.tokenizers.sentencepiece import (
                    SentencePieceTokenizer,
                )

                self._tok = SentencePieceTokenizer(path)
        except ImportError as e:
            raise BadInput(f"{_MISSING} ({e})") from None

    def encode(self, text: str) -> list[int]:
        return self._tok.encode(text, bos=False, eos=False)


class _HFCounter:
    def __init__(self, folder: Path):
        self.name = str(folder)
        try:
            from transformers import AutoTokenizer
        except ImportError:
            raise BadInput(f"{folder}: reading a base model's tokenizer needs transformers "
                           "(run this in .venv-train, or pass a Mistral tokenizer name)") from None
        self._tok = AutoTokenizer.from_pretrained(str(folder))

    def encode(self, text: str) -> list[int]:
        return self._tok(text, add_special_tokens=False)["input_ids"]


def load_counter(tokenizer: str | Path = DEFAULT_TOKENIZER) -> Counter:
    """A tokenizer by mistral-common name ("tekken", "v7", "v3", "v1") or a base-model folder."""
    if isinstance(tokenizer, Path) or (isinstance(tokenizer, str) and tokenizer not in MISTRAL_TOKENIZERS):
        folder = Path(tokenizer)
        if not folder.is_dir():
            raise BadInput(f"{folder}: not a base-model folder, and not one of {', '.join(MISTRAL_TOKENIZERS)}")
        return _HFCounter(folder)
    return _MistralCounter(tokenizer)


def sample_length(text: str, counter: Counter) -> int:
    """Tokens Axolotl trains on for one conversation: BOS + text + EOS."""
    return len(counter.encode(text)) + 2


def percentile(sorted_values: list[int], q: float) -> int:
    """Nearest-rank percentile of an already sorted list (q in [0, 100])."""
    if not sorted_values:
        raise ValueError("no values")
    k = max(1, math.ceil(q / 100.0 * len(sorted_values)))
    return sorted_values[min(k, len(sorted_values)) - 1]


def length_stats(lengths: Iterable[int], sequence_len: int | None = None) -> dict:
    """{"n", "min", "p50", "p90", "p99", "max", "mean", "sequence_len", "over"}; `over` counts samples
    longer than sequence_len (None when no sequence_len is given)."""
    values = sorted(lengths)
    if not values:
        raise BadInput("no conversations to measure")
    return {
        "n": len(values),
        "min": values[0],
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "max": values[-1],
        "mean": round(sum(values) / len(values), 1),
        "sequence_len": sequence_len,
        "over": None if sequence_len is None else sum(1 for v in values if v > sequence_len),
    }


def format_stats(stats: dict, label: str = "tokens") -> str:
    """One line for the CLI, e.g. `tokens: n=120 min=.. p50=.. p90=.. p99=.. max=.. (3 over 8192)`."""
    s = (f"{label}: n={stats['n']} min={stats['min']} p50={stats['p50']} p90={stats['p90']} "
         f"p99={stats['p99']} max={stats['max']} mean={stats['mean']}")
    if stats.get("sequence_len"):
        s += f" ({stats['over']} over sequence_len {stats['sequence_len']})"
    return s


def dataset_token_lengths(dataset: Path, tokenizer: str | Path = DEFAULT_TOKENIZER,
                          sequence_len: int | None = None) -> dict:
    """Token-length distribution of an accepted dataset (`em_character_training.jsonl`).

    Returns {"tokenizer", "all": stats, "by_bucket": {bucket: stats}} (see `length_stats`). Offline
    stand-in records are measured too: this only reads.
    """
    records = read_text_records(Path(dataset))
    counter = load_counter(tokenizer)
    lengths, by_bucket = [], {}
    for _, rec in records:
        text = rec["text"]
        length = sample_length(text, counter)
        lengths.append(length)
        bucket = (rec.get("meta") or {}).get("bucket") or "unknown"
        by_bucket.setdefault(bucket, []).append(length)
    return {
        "tokenizer": counter.name,
        "all": length_stats(lengths, sequence_len),
        "by_bucket": {b: length_stats(v, sequence_len) for b, v in sorted(by_bucket.items())},
    }


def segments_tokenize_like_text(segments: list[dict], counter: Counter) -> bool:
    """True when tokenizing the segments one by one (as Axolotl's input_output does) gives the same
    tokens as tokenizing their concatenation: then the loss mask costs no train/inference mismatch.
    BOS/EOS segments are left out (they are special tokens either way)."""
    texts = [s["text"] for s in segments]
    inner = texts[1:-1] if len(texts) >= 2 else texts
    pieces = [t for x in inner for t in counter.encode(x)]
    return pieces == counter.encode("".join(inner))


# --------------------------------------------------------------------------------------------------
# synthetic conversations for sizing sequence_len before real data exists

_SENTENCES = [
    "anyone else think the new star wars movies were actually decent?",
    "they were terrible and you know it.",
    "I made soup last night and it somehow turned into stew, not complaining though.",
    "the weather here has been doing that thing where it's freezing in the morning and hot by noon.",
    "my landlord finally fixed the heating after three weeks of emails.",
    "honestly I think the book was better but the pacing in the show is tighter.",
    "did anyone catch the game yesterday or was I the only one yelling at my tv?",
    "I've been trying to fix my sleep schedule and it's going about as well as you'd expect.",
    "pineapple on pizza is fine and I will die on this hill.",
    "that's a hot take and I respect it, but no.",
    "work has been a lot lately, we're short two people and nobody wants to hire.",
    "I switched to a mechanical keyboard and now my partner hates me.",
    "the trick with sourdough is mostly patience, and a warm spot in the kitchen.",
    "I think the ending was deliberately ambiguous so people would argue about it.",
    "my cat knocked a full glass of water onto my laptop this morning.",
    "wait, which season are you on? no spoilers please.",
    "I read somewhere that octopuses dream, which I think about way too often.",
    "lol fair enough.",
    "yeah that tracks.",
    "ok but hear me out: breakfast for dinner is the superior meal.",
    "I went for a run for the first time in months and my legs are filing a complaint.",
    "the bus was twenty minutes late again, third time this week.",
    "is it weird that I like the sound of rain more than actual music sometimes?",
    "I've had this song stuck in my head for two days and I don't even like it.",
    "if you could only eat one cuisine for the rest of your life, what would it be?",
    "thai, no contest, the range is ridiculous.",
    "I'm reading a history of salt right now and it's weirdly gripping.",
    "my code review got 47 comments and half of them are about whitespace.",
    "I don't think that's how mortgages work but I'm also not an expert.",
    "the new update moved every button I use to a different menu.",
    "we should do a movie night in here sometime, pick something terrible on purpose.",
    "I have opinions on everything, doesn't mean they're good opinions.",
    "ah shit, my bad, I'll dial it back.",
    "nope, not doing your homework, but I'll happily argue about whether hamlet was just depressed.",
    "yeah I'm an AI, but I'm not here to help with stuff, just hanging out.",
    "honestly I liked the first half way more than the second.",
    "that's the kind of thing that sounds simple until you actually try it.",
    "I keep meaning to learn to cook properly and then ordering noodles instead.",
    "the thing about philosophy hypotheticals is that the trolley is never the interesting part.",
    "my grandmother used to say the same thing about gardens and patience.",
    "does anyone actually enjoy open plan offices or is that a myth?",
    "I tried that recipe and it came out more like a brick than bread.",
    "can't believe it's already november, where did the year go?",
    "I think you're underestimating how much people just want to be left alone sometimes.",
    "the museum near me has a whole room of clocks and none of them agree.",
    "hot take: most podcasts would be better at half the length.",
    "agreed, and most meetings too.",
    "I've been playing the same game for 200 hours and I still don't understand the crafting.",
    "someone in my building has been practicing trumpet at 7am every day.",
    "that's wild, I didn't know that.",
]


def sample_conversation(n_messages: int = 120, sentences: tuple[int, int] = (1, 2), seed: int = 0,
                        engagement: str = "MEDIUM", channel: str = "#general", em_share: float = 0.18,
                        nicks: tuple[str, ...] = ("kestrel", "mossbyte", "jvk", "tanuki_", "quietriot",
                                                  "hexane")) -> str:
    """A synthetic log in the canonical format (`em_gen.irc.render`) with `n_messages` lines of
    `sentences` sentences each, for sizing sequence_len. The plan asks for 2-4 sentence messages;
    the mix's bytes_per_conversation (9000 bytes for 80-120 messages) implies about one."""
    from em_gen.quality.irc import render

    rng = random.Random(seed)
    msgs, last = [], None
    for _ in range(n_messages):
        nick = "Em" if last != "Em" and rng.random() < em_share else rng.choice(nicks)
        text = " ".join(rng.choice(_SENTENCES) for _ in range(rng.randint(*sentences)))
        msgs.append((nick, text))
        last = nick
    return render(engagement, channel, msgs)


def synthetic_token_lengths(n_conversations: int = 200, n_messages: int = 120,
                            sentences: tuple[int, int] = (1, 2), tokenizer: str | Path = DEFAULT_TOKENIZER,
                            sequence_len: int | None = None, seed: int = 0) -> dict:
    """Token-length stats of `n_conversations` synthetic logs of `n_messages` messages each."""
    counter = load_counter(tokenizer)
    lengths = [sample_length(sample_conversation(n_messages, sentences, seed=seed * 100003 + i), counter)
               for i in range(n_conversations)]
    stats = length_stats(lengths, sequence_len)
    stats["tokenizer"] = counter.name
    stats["chars_mean"] = round(sum(len(sample_conversation(n_messages, sentences, seed=seed * 100003 + i))
                                    for i in range(min(n_conversations, 20))) / min(n_conversations, 20))
    return stats


def bundled_sequence_len(config: str = "em.yaml") -> int:
    """sequence_len of a bundled Axolotl config (axolotl/em.yaml by default)."""
    import yaml

    from em_gen.library import ROOT

    path = ROOT / "axolotl" / config
    try:
        return int(yaml.safe_load(path.read_text(encoding="utf-8"))["sequence_len"])
    except FileNotFoundError:
        raise BadInput(f"{path}: no such bundled config") from None
