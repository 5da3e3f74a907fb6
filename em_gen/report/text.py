"""Measures of the kept conversations' text: participation, words and sentences per message, Em's
openers, lines and 5-grams across conversations, nicks, and token lengths (the real Mistral
tokenizer when mistral-common is installed, else a labelled chars/4 estimate)."""
from __future__ import annotations

import multiprocessing
import re
import threading
from collections import Counter
from dataclasses import dataclass, field

from em_gen.library import BadInput
from em_gen.quality.rules.style import _sentences

FLAG_SHARE = 0.02  # an Em line or 5-gram in more than this share of conversations is flagged
FLAG_MIN = 2  # ... and in at least this many (in a small run one conversation is over 2%)
PLAN_SENTENCES = (2, 4)  # the plan: "Standard messages: 2-4 sentences"
OPENER_WORDS = 3
NGRAM = 5
TOP = 15
_WORD_CHARS = re.compile(r"[^\w' ]+")


def messages_of(text: str) -> list[tuple[str, str]]:
    """(nick, message) of a rendered log (`<nick> message` lines after the two header lines)."""
    out = []
    for line in text.split("\n"):
        if line.startswith("<"):
            end = line.find("> ")
            if end > 1:
                out.append((line[1:end], line[end + 2:]))
    return out


def sentences(message: str) -> int:
    """Sentences of a message, counted as the rules and the stats count them (at least 1)."""
    return max(1, _sentences(message))


@dataclass
class TextStats:
    conversations: int = 0
    em_words: list[int] = field(default_factory=list)
    other_words: list[int] = field(default_factory=list)
    em_sentences: Counter = field(default_factory=Counter)
    openers: Counter = field(default_factory=Counter)  # document frequency (conversations)
    em_lines: Counter = field(default_factory=Counter)
    ngrams: Counter = field(default_factory=Counter)
    nicks: Counter = field(default_factory=Counter)  # conversations each nick (not Em) speaks in

    def top(self, counter: Counter, k: int = TOP, flag: bool = True) -> list[tuple[str, int, float, bool]]:
        """(item, conversations, share, flagged) for the k most frequent."""
        n = max(1, self.conversations)
        return [(item, c, c / n, flag and self.over(c)) for item, c in counter.most_common(k)]

    def over(self, count: int) -> bool:
        return count >= FLAG_MIN and count / max(1, self.conversations) > FLAG_SHARE

    def flagged(self, counter: Counter) -> list[tuple[str, int, float]]:
        n = max(1, self.conversations)
        return [(item, c, c / n) for item, c in counter.most_common() if self.over(c)]

    @property
    def sentences_in_plan(self) -> float | None:
        total = sum(self.em_sentences.values())
        lo, hi = PLAN_SENTENCES
        return sum(c for k, c in self.em_sentences.items() if lo <= k <= hi) / total if total else None


def text_stats(texts: list[str], em: str) -> TextStats:
    """Per kept conversation (rendered logs): words per message, Em's sentences, and the document
    frequency of Em's openers, whole lines and 5-grams, and of the other nicks."""
    st = TextStats(conversations=len(texts))
    prefix, cut = f"<{em}> ", len(em) + 3
    em_words, other_words, sentences_of = st.em_words, st.other_words, st.em_sentences
    grams = Counter()
    for text in texts:
        openers, lines, conv_grams, nicks = set(), set(), set(), set()
        for line in text.split("\n"):
            if line.startswith(prefix):
                msg = line[cut:]
                em_words.append(len(msg.split()))
                sentences_of[sentences(msg)] += 1
                w = _WORD_CHARS.sub(" ", msg.lower()).split()
                if w:
                    openers.add(" ".join(w[:OPENER_WORDS]))
                    lines.add(" ".join(w))
                    if len(w) >= NGRAM:
                        conv_grams.update(zip(w, w[1:], w[2:], w[3:], w[4:]))
            elif line.startswith("<"):
                end = line.find("> ")
                if end > 1:
                    nicks.add(line[1:end])
                    other_words.append(len(line.split()) - 1)
        st.openers.update(openers)
        st.em_lines.update(lines)
        grams.update(conv_grams)
        st.nicks.update(nicks)
    over = FLAG_SHARE * len(texts)  # keep what is shown: the top and the flagged
    st.ngrams = Counter({" ".join(g): c for g, c in grams.most_common(max(TOP, sum(c > over for c in grams.values())))})
    st.em_lines = Counter(dict(st.em_lines.most_common(max(TOP, sum(c > over for c in st.em_lines.values())))))
    st.openers = Counter(dict(st.openers.most_common(TOP)))
    return st


# --------------------------------------------------------------------------------------------------
# token lengths, and the helper process that measures beside the drawing

_counter = None  # the tokenizer, loaded once per process (None: not yet; False: not installed)


class _TekkenCount:
    """Counts tokens exactly as mistral-common's Tekkenizer does (`encode` is its tiktoken core's
    `encode` with no special tokens: BPE ranks = the first default_vocab_size -
    default_num_special_tokens entries of the tekken JSON, the file's own split pattern), built from
    the same file in a third of the time: the Tekkenizer also decodes all 131k tokens up front, which
    a count does not need. tests/report checks the counts against `em_gen.train.tokens`."""

    name = "tekken"

    def __init__(self, path):
        import base64
        import json

        import tiktoken

        data = json.loads(path.read_text(encoding="utf-8"))
        cfg = data["config"]
        inner = cfg["default_vocab_size"] - cfg["default_num_special_tokens"]
        ranks = {base64.b64decode(t["token_bytes"]): t["rank"] for t in data["vocab"][:inner]}
        if len(ranks) != inner:
            raise ValueError("unexpected tekken vocabulary")
        self._model = tiktoken.Encoding(name="tekken-count", pat_str=cfg["pattern"], mergeable_ranks=ranks,
                                        special_tokens={})

    def encode(self, text: str) -> list[int]:
        return self._model.encode_ordinary(text)


def _load_counter(tokenizer: str = "tekken"):
    global _counter
    if _counter is None:
        try:
            from em_gen.train.tokens import load_counter, mistral_tokenizer_file
            try:
                _counter = _TekkenCount(mistral_tokenizer_file(tokenizer)) if tokenizer == "tekken" else None
            except (ImportError, KeyError, TypeError, ValueError, OSError):
                _counter = None
            _counter = _counter or load_counter(tokenizer)
        except (BadInput, ImportError, OSError, ValueError):
            _counter = False
    return _counter


def _fast_lengths(counter, texts: list[str]) -> list[int] | None:
    """Token counts through the tokenizer's tiktoken core in one batch: the same counts as
    `counter.encode`, without its per-call overhead."""
    model = getattr(counter, "_model", None) or getattr(getattr(counter, "_tok", None), "_model", None)
    batch = getattr(model, "encode_ordinary_batch", None)
    if batch is None:
        return None
    return [len(t) for t in batch(texts, num_threads=1)]  # one core: the drawing has the other


def token_lengths(texts: list[str]) -> tuple[list[int], str, bool]:
    """(tokens per conversation counting BOS and EOS as Axolotl does, a label, exact?)."""
    counter = _load_counter()
    if counter:
        lengths = _fast_lengths(counter, texts)
        if lengths is None:
            lengths = [len(counter.encode(t)) for t in texts]
        return [n + 2 for n in lengths], f"Mistral {counter.name} tokenizer (mistral-common)", True
    return ([len(t) // 4 + 2 for t in texts],
            "estimate: characters / 4 (mistral-common is not installed: pip install -e '.[tokens]')", False)


def _serve(conn, warm: bool) -> None:
    """The helper process: load the tokenizer (if `warm`), then run (fn, args) requests in order."""
    if warm:
        _load_counter()
    while True:
        try:
            fn, args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            out = (True, fn(*args))
        except Exception as e:  # noqa: BLE001 - reported back; the caller runs the work itself
            out = (False, repr(e))
        conn.send(out)


class Helper:
    """A helper process, so that slow measures run while this process reads the journal and draws.
    With `warm`, it starts loading the tokenizer at once. If the process cannot start, fails or
    dies, the work runs here. A daemon, stopped by `close` (and by the interpreter at exit)."""

    def __init__(self, warm: bool = True):
        self.proc = self.conn = None
        try:
            ctx = multiprocessing.get_context()
            self.conn, child = ctx.Pipe()
            self.proc = ctx.Process(target=_serve, args=(child, warm), daemon=True, name="em-gen-report-helper")
            self.proc.start()
            child.close()
        except (OSError, RuntimeError, ValueError, ImportError):
            self.proc = self.conn = None

    def run(self, fn, *args):
        """Start fn(*args) (a module-level function); returns a function that waits for its result.
        Requests are answered in order: wait for one result before the next run. The arguments are
        sent from a thread, as the helper may still be loading the tokenizer."""
        sent = {"ok": False}

        def send() -> None:
            try:
                self.conn.send((fn, args))
                sent["ok"] = True
            except (OSError, ValueError, EOFError):
                pass

        sender = threading.Thread(target=send, daemon=True) if self.conn is not None else None
        if sender is not None:
            sender.start()

        def result():
            if sender is not None:
                sender.join()
                if sent["ok"]:
                    try:
                        ok, value = self.conn.recv()
                        if ok:
                            return value
                    except (EOFError, OSError):
                        pass
            return fn(*args)
        return result

    def close(self) -> None:
        """Stop the process now (letting it tear down a loaded tokenizer costs the caller time)."""
        if self.proc is not None:
            self.proc.terminate()
            self.proc.join(2)
            self.conn.close()
            self.proc = self.conn = None


def sequence_len() -> int | None:
    try:
        from em_gen.train.tokens import bundled_sequence_len
        return bundled_sequence_len()
    except (BadInput, OSError, KeyError, TypeError, ValueError):
        return None
