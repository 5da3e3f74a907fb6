"""Diversity (dataset level): near-duplicate detection over kept conversations (word 3-gram
shingles, bottom-k MinHash sketch, inverted index) and distinct-1/2."""
from __future__ import annotations

import zlib
from itertools import compress, repeat
from operator import and_, itemgetter, methodcaller

# ---------------------------------------------------------------------------------------------
# diversity (dataset level)
# ---------------------------------------------------------------------------------------------
_PUNCT_TO_SPACE = str.maketrans({ch: " " for ch in "!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~"})


_AFTER_NICK = methodcaller("partition", "> ")


def _tokens(text: str) -> list[str]:
    """Lowercased words of the messages of a rendered log (`Parsed.text()`): what follows `<nick> `
    on each line; the header lines and the nicks drop out. Text not in that form is taken whole."""
    lines = text.split("\n")
    body = list(map(itemgetter(2), map(_AFTER_NICK, lines)))
    if sum(map(bool, body)) * 2 < len(lines) - 2:  # not a rendered log: use every line
        body = lines
    return " ".join(body).lower().translate(_PUNCT_TO_SPACE).split()


class Diversity:
    """Near-duplicate detection of whole conversations, plus distinct-1/distinct-2.

    `text` is a rendered log (`Parsed.text()`): the words after `<nick> ` on each line count, the
    header and the nicks do not (a copy with other nicks is still a copy). Words are lowercased,
    punctuation dropped, and get a stable id (30 bits of CRC32, cached). Shingles are word 3-grams over the
    words with an odd id (a consistent half-sample, the same for every conversation, which halves
    the hashing); a shingle's hash is Python's tuple hash of the three ids, deterministic for ints
    (no PYTHONHASHSEED effect). The sketch is the K smallest shingle hashes (bottom-k MinHash); the
    Jaccard similarity of two logs is estimated from the K smallest values of the union of their
    sketches. An inverted index (sketch value -> keys) yields the candidates that share enough
    sketch values; values shared by very many kept logs (stock phrases) are skipped when probing, so
    a lookup costs about K dictionary hits however many logs were kept (4000+).

    distinct-1/distinct-2 are exact over the kept logs' words (unique / total unigrams, bigrams).
    `near_duplicate(text)` then `add(key, text)` on the same text tokenises it once.
    """

    K = 64
    MAX_POSTINGS = 64
    MIN_PROBES = 16

    def __init__(self, threshold: float = 0.8):
        self.threshold = threshold
        self._sketch: dict[str, frozenset[int]] = {}
        self._sorted: dict[str, list[int]] = {}
        self._index: dict[int, list[str]] = {}
        self._vocab: dict[str, int] = {}
        self._uni: set[int] = set()
        self._bi: set[int] = set()
        self._n_uni = 0
        self._n_bi = 0
        self._memo: tuple[str, list[int], list[int]] | None = None

    def _prepare(self, text: str) -> tuple[list[int], list[int]]:
        if self._memo is not None and self._memo[0] == text:
            return self._memo[1], self._memo[2]
        toks = _tokens(text)
        vocab = self._vocab
        for t in set(toks).difference(vocab):
            vocab[t] = zlib.crc32(t.encode()) & 0x3FFFFFFF  # 30 bits: one-digit ints hash faster
        ids = list(map(vocab.__getitem__, toks))
        # Shingles are 3-grams over the words whose id is odd (about half of the vocabulary, the
        # same half for every conversation): a consistent sample that halves the hashing work.
        sub = list(compress(ids, map(and_, ids, repeat(1)))) if len(ids) >= 24 else ids
        if len(sub) >= 3:
            hs = list(set(map(hash, zip(sub, sub[1:], sub[2:]))))
        else:
            hs = list(set(map(hash, zip(sub))))
        k = self.K
        if len(hs) > 3 * k:
            # keep the values below a cut that leaves about 2K of them, then sort only those
            cut = -(1 << 63) + (2 * k * (1 << 64)) // len(hs)
            low = list(compress(hs, map(cut.__gt__, hs)))
            sk = sorted(low)[:k] if len(low) >= k else sorted(hs)[:k]
        else:
            sk = sorted(hs)[:k]
        self._memo = (text, ids, sk)
        return ids, sk

    def _jaccard(self, a: list[int], b: list[int], sb: frozenset[int]) -> float:
        union = sorted(set(a).union(b))[: self.K]
        if not union:
            return 0.0
        sa = set(a)
        both = sum(1 for h in union if h in sa and h in sb)
        return both / len(union)

    def similarity(self, text: str | None, sketch: list[int] | None = None) -> tuple[str | None, float]:
        """The most similar kept conversation and its estimated Jaccard similarity."""
        sk = sorted(sketch) if sketch is not None else self._prepare(text)[1]
        if not sk:
            return None, 0.0
        index = self._index
        # A sketch value shared by very many kept conversations (a stock phrase) says little and
        # costs a lot: collect candidates through the values with short posting lists (at least
        # MIN_PROBES of them, the least shared first) and ask for overlap in proportion.
        postings = [index.get(h, ()) for h in sk]
        cap = self.MAX_POSTINGS + len(self._sketch) // 100
        probe = [p for p in postings if len(p) <= cap]
        if len(probe) < min(self.MIN_PROBES, len(sk)):
            probe = sorted(postings, key=len)[: self.MIN_PROBES]
        hits: dict[str, int] = {}
        for keys in probe:
            for key in keys:
                hits[key] = hits.get(key, 0) + 1
        if not hits:
            return None, 0.0
        # two sets with Jaccard J share about 2J/(1+J) of their sketches' values; ask for half of
        # that at the threshold, so that true near-duplicates are never skipped
        need = max(1, int(0.5 * len(probe) * 2 * self.threshold / (1 + self.threshold)))
        best, best_j = None, 0.0
        for key, cnt in hits.items():
            if cnt < need:
                continue
            j = self._jaccard(sk, self._sorted[key], self._sketch[key])
            if j > best_j:
                best, best_j = key, j
        return best, best_j

    def near_duplicate(self, text: str | None, sketch: list[int] | None = None) -> str | None:
        key, j = self.similarity(text, sketch)
        return key if key is not None and j >= self.threshold else None

    def sketch(self, text: str) -> list[int]:
        """The bottom-k sketch of a log: ints, stable across processes, so the journal can keep it
        and a resume rebuilds the index without re-reading every conversation."""
        return list(self._prepare(text)[1])

    def add(self, key: str, text: str | None = None, sketch: list[int] | None = None) -> None:
        """Keep a conversation: from its text (also counted for distinct-n), or from a stored sketch."""
        if key in self._sketch:
            return
        if sketch is None:
            ids, sk = self._prepare(text)
            self.count(ids)
        else:
            sk = sorted(sketch)
        self._sketch[key] = frozenset(sk)
        self._sorted[key] = sk
        index = self._index
        for h in sk:
            index.setdefault(h, []).append(key)

    def count(self, ids: list[int] | str) -> None:
        """Add a log's words (or its text) to the distinct-n counts."""
        if isinstance(ids, str):
            ids = self._prepare(ids)[0]
        self._uni.update(ids)
        self._n_uni += len(ids)
        self._bi.update(map(hash, zip(ids, ids[1:])))
        self._n_bi += max(0, len(ids) - 1)

    def __len__(self) -> int:
        return len(self._sketch)

    def distinct(self) -> dict:
        """distinct-n over kept conversations: distinct n-grams / all n-grams (words as in _tokens)."""
        return {
            "distinct_1": round(len(self._uni) / self._n_uni, 4) if self._n_uni else 0.0,
            "distinct_2": round(len(self._bi) / self._n_bi, 4) if self._n_bi else 0.0,
        }
