"""Similarity of short texts (premises, voices, job prompts) and of whole conversations, for the
dataset-level diversity measures.

- `shingles(text)`: the set of word 3-grams (lowercased, punctuation dropped) of a text.
- `near_pairs(texts, threshold)`: every pair whose word-3-gram Jaccard similarity reaches the
  threshold, computed exactly (what MinHash estimates) through an inverted index of shingles, so
  it is cheap for thousands of short texts: a pair is only scored when it shares enough shingles to
  reach the threshold (|A & B| >= t * max(|A|, |B|)).
- `MinHasher`: classic MinHash signatures (k universal hash functions over stable shingle ids) and
  all-pairs similarity estimates from them, for long texts that share much boilerplate (job
  prompts), where the exact index would score too many pairs.
- `sketch_pairs(sketches, threshold)`: pairs of kept conversations from the bottom-k sketches the
  journal stores (quality/rules/diversity.py), for `--status` and `--report`.
"""
from __future__ import annotations

import re
import zlib
from collections import defaultdict

_WORD = re.compile(r"[a-z0-9']+")
_PRIME = (1 << 31) - 1  # a * id + b stays below 2**63: exact in numpy's uint64


def words(text: str) -> list[str]:
    return [w.strip("'") for w in _WORD.findall(text.lower()) if w.strip("'")]


def shingles(text: str, n: int = 3) -> frozenset[tuple[str, ...]]:
    """Word n-grams of a text; a text shorter than n words is one shingle of all its words."""
    w = words(text)
    if len(w) < n:
        return frozenset([tuple(w)]) if w else frozenset()
    return frozenset(zip(*(w[i:] for i in range(n))))


def jaccard(a: frozenset, b: frozenset) -> float:
    if not a and not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


def near_pairs(texts: list[str], threshold: float = 0.5, n: int = 3) -> list[tuple[int, int, float]]:
    """All pairs (i, j, jaccard) with i < j and exact word-n-gram Jaccard >= threshold."""
    sets = [shingles(t, n) for t in texts]
    index: dict[tuple, list[int]] = defaultdict(list)
    out = []
    for j, s in enumerate(sets):
        shared: dict[int, int] = defaultdict(int)
        for g in s:
            for i in index[g]:
                shared[i] += 1
        for i, k in shared.items():
            if k >= threshold * max(len(s), len(sets[i])):
                sim = jaccard(s, sets[i])
                if sim >= threshold:
                    out.append((i, j, sim))
        for g in s:
            index[g].append(j)
    return sorted(out)


def stable_id(gram: tuple[str, ...]) -> int:
    """A shingle's id, the same in every process (never Python's randomised str hash)."""
    return zlib.crc32(" ".join(gram).encode("utf-8"))


class MinHasher:
    """k-permutation MinHash: signature[i] = min over shingles of (a_i * id + b_i) mod p."""

    def __init__(self, k: int = 128, seed: int = 1):
        import random

        import numpy as np
        rng = random.Random(seed)
        self.k = k
        self.a = np.array([rng.randrange(1, _PRIME) for _ in range(k)], dtype=np.uint64)[:, None]
        self.b = np.array([rng.randrange(0, _PRIME) for _ in range(k)], dtype=np.uint64)[:, None]

    def signature(self, text: str, n: int = 3) -> list[int]:
        import numpy as np
        ids = np.array([stable_id(g) % _PRIME for g in shingles(text, n)] or [0], dtype=np.uint64)[None, :]
        return ((self.a * ids + self.b) % _PRIME).min(axis=1).tolist()

    def all_pairs(self, signatures: list[list[int]], threshold: float) -> list[tuple[int, int, float]]:
        """Every pair whose estimated Jaccard (the share of equal signature values) reaches the
        threshold: all pairs compared, vectorised with numpy (a 3,500-prompt plan takes about 2 s)."""
        import numpy as np
        if len(signatures) < 2:
            return []
        sig = np.asarray(signatures, dtype=np.uint64)
        need = int(np.ceil(threshold * self.k - 1e-9))
        out = []
        for i in range(len(sig) - 1):
            eq = (sig[i + 1:] == sig[i]).sum(axis=1)
            for off in np.nonzero(eq >= need)[0]:
                out.append((i, i + 1 + int(off), float(eq[off]) / self.k))
        return out


def sketch_pairs(sketches: dict[str, list[int]], threshold: float, k: int = 64) -> list[tuple[str, str, float]]:
    """Pairs of conversations whose bottom-k sketches estimate a Jaccard >= threshold (the estimator
    of quality/rules/diversity.py: the share of the union's k smallest values that both hold).
    Candidates come from an inverted index of sketch values; values held by more than 1% of the
    conversations (stock phrases) are not used to find candidates, only to score them."""
    keys = list(sketches)
    sets = {key: frozenset(v) for key, v in sketches.items()}
    index: dict[int, list[int]] = defaultdict(list)
    for pos, key in enumerate(keys):
        for h in sets[key]:
            index[h].append(pos)
    cap = max(64, len(keys) // 100)
    need = max(1, int(0.5 * k * 2 * threshold / (1 + threshold) * 0.5))
    shared: dict[tuple[int, int], int] = defaultdict(int)
    for posting in index.values():
        if len(posting) > cap:
            continue
        for x in range(len(posting)):
            for y in range(x + 1, len(posting)):
                shared[(posting[x], posting[y])] += 1
    out = []
    for (x, y), cnt in shared.items():
        if cnt < need:
            continue
        a, b = sets[keys[x]], sets[keys[y]]
        union = sorted(a | b)[:k]
        sim = sum(1 for h in union if h in a and h in b) / len(union) if union else 0.0
        if sim >= threshold:
            out.append((keys[x], keys[y], sim))
    return sorted(out, key=lambda p: (-p[2], p[0], p[1]))


STOPWORDS = frozenset("""a about above after again against all almost also am an and any are aren't as at be because been
before being below between both but by can can't cannot could couldn't did didn't do does doesn't doing don't down
during each even ever every few for from further get gets getting got had hadn't has hasn't have haven't having he
he'd he'll he's her here here's hers herself him himself his how how's i i'd i'll i'm i've if in into is isn't it
it's its itself just let's like lol me more most much must mustn't my myself no nor not now of off ok okay on once
one only or other ought our ours ourselves out over own really same say said says she she'd she'll she's should
shouldn't so some still such than that that's the their theirs them themselves then there there's these they they'd
they'll they're they've thing things think this those though through to too under until up us very was wasn't we
we'd we'll we're we've were weren't what what's when when's where where's which while who who's whom why why's will
with won't would wouldn't yeah yes yet you you'd you'll you're you've your yours yourself yourselves actually
honestly maybe pretty probably kind sort way well going gonna want know yep nope em""".split())


def content_words(text: str) -> list[str]:
    return [w for w in words(text) if w not in STOPWORDS and len(w) > 2]


def content_ngrams(texts: list[str], em: str, n: int = 3, skip_em_words: int = 3) -> tuple:
    """(Em's, everyone's) document frequency of content-word n-grams over rendered logs: n-grams of
    the words of one message left after dropping function words; Em's skip each message's first
    `skip_em_words` words (its opener). Counted once per conversation."""
    from collections import Counter
    em_df, all_df = Counter(), Counter()
    tag = f"<{em}> "
    for text in texts:
        em_set, all_set = set(), set()
        for line in text.split("\n"):
            if not line.startswith("<"):
                continue
            end = line.find("> ")
            if end < 2:
                continue
            msg = line[end + 2:]
            cw = content_words(msg)
            all_set.update(zip(*(cw[i:] for i in range(n))))
            if line.startswith(tag):
                rest = content_words(" ".join(msg.split()[skip_em_words:]))
                em_set.update(zip(*(rest[i:] for i in range(n))))
        em_df.update(" ".join(g) for g in em_set)
        all_df.update(" ".join(g) for g in all_set)
    return em_df, all_df
