"""Who speaks next, read from a local checkpoint's own probabilities (`em-gen eval --next-speaker
probability`).

Sampling a continuation and reading its first tag gives a held-out cut one 0/1 draw, so CIs per
engagement level need hundreds of generations: hours for a small model on a CPU. A causal LM already
says, at every line of a held-out log, how likely the next line is Em's. One forward pass over the
whole log (teacher forcing: the real lines are the context) gives it at every line boundary:

    P(Em next) = P(a tag token "<em>" or "<em", any case)
               + P("<") * P(a token spelling the start of Em's nick, any case | "<")

that is, the probability that the model begins Em's tag (IRC nicks are case-insensitive, and Gemma's
vocabulary has the HTML token `<em>`). The pass sees both terms because the real next token is "<"
at every line whose tag the tokenizer splits after "<" (lines it merges are skipped and counted).
The pass cannot see whether the tag then closes, so a nick that merely begins like Em's would count;
`tag_completion` measures that at Em's real lines: the model's mean probability of the real token
after Em's nick token. Near 1, the first token decides the speaker.

Scores of one conversation (one `speakers` probe; the bootstrap resamples conversations), over its
lines after MIN_CONTEXT:
  participation          mean P(Em next) over all of them: the share of lines the model expects Em
                         to write, given the real history (compared with the engagement band)
  em_next_when_due       mean P(Em next) over Em's real lines
  em_next_when_not_due   mean P(Em next) over the others' lines
They are the expected values of the sampled metrics of the same names, without sampling noise.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

from em_gen.evaluate.probes import MIN_CONTEXT, Probe
from em_gen.evaluate.targets import EvalFailure
from em_gen.library import Library
from em_gen.quality import irc

MAX_TOKENS = 4096  # a longer log is scored up to its line that starts before this many tokens


@dataclass(frozen=True)
class TagTokens:
    lt: int  # the token "<" as it starts a line
    nick: frozenset[int]  # after "<": tokens that spell the start of Em's nick, any case
    whole: frozenset[int]  # tokens that are "<" and Em's nick in one ("<em>", "<em"), any case


def tag_tokens(tok, em: str) -> TagTokens:
    """Em's tag in `tok`'s vocabulary, read from how it tokenizes `\\n<Em> x` in each case of the nick."""
    key = irc.nick_key(em)
    lt, nick, whole = None, set(), set()
    for v in dict.fromkeys([em, em.lower(), em.upper(), em.capitalize()]):
        ids = tok("\n<" + v + "> x", add_special_tokens=False)["input_ids"]
        pieces = [tok.decode([i]) for i in ids]
        at = next((k for k, p in enumerate(pieces) if p.startswith("<")), None)
        if at is None:
            continue
        if pieces[at] == "<" and at + 1 < len(ids):
            lt = ids[at] if lt is None else lt
            nick.add(ids[at + 1])
        elif irc.nick_key(pieces[at][1:].rstrip(">")) == key:
            whole.add(ids[at])
    for piece, i in tok.get_vocab().items():  # spellings the case variants above did not produce
        if key[:2] not in piece.lower():
            continue
        text = tok.convert_tokens_to_string([piece])
        if irc.nick_key(text) == key:
            nick.add(i)
        elif text.startswith("<") and irc.nick_key(text[1:].removesuffix(">")) == key:
            whole.add(i)
    if lt is None:
        raise EvalFailure(f"the tokenizer never splits a line's tag after '<' (e.g. {em!r}); "
                          "--next-speaker probability cannot read its speakers (use --next-speaker sample)")
    return TagTokens(lt, frozenset(nick), frozenset(whole))


def line_starts(probe: Probe, em: str) -> tuple[str, list[int]]:
    """The log as training renders it (header, `<nick> text` lines; Em's lines under Em's own spelling,
    however the log wrote it), and each message line's offset."""
    msgs = [(em if irc.same_nick(n, em) else n, t) for n, t in probe.messages]
    text = irc.render(probe.engagement, probe.channel, msgs)
    starts, pos = [], 0
    for k, line in enumerate(text.split("\n")):
        if k >= 2:
            starts.append(pos)
        pos += len(line) + 1
    return text, starts


def conversation(target, probe: Probe, tags: TagTokens, em: str, max_tokens: int = MAX_TOKENS) -> dict:
    """P(Em next) at each line of one held-out log after MIN_CONTEXT, from one forward pass."""
    torch = target.torch
    text, starts = line_starts(probe, em)
    enc = target.tok(text, return_offsets_mapping=True)
    ids, offsets = list(enc["input_ids"]), list(enc["offset_mapping"])
    if len(ids) > 1 and ids[-1] in target.eos_ids:
        ids, offsets = ids[:-1], offsets[:-1]
    first = {}
    for k, (a, b) in enumerate(offsets):
        if b > a:
            first.setdefault(a, k)
    lines, skipped = [], Counter(merged=0, too_long=0)
    for i, pos in enumerate(starts):
        if i < MIN_CONTEXT:
            continue
        j = first.get(pos)
        if j is None or j == 0 or ids[j] != tags.lt:
            skipped["merged"] += 1  # the tokenizer joined the line's start to something else
        elif j + 2 >= max_tokens:
            skipped["too_long"] += 1
        else:
            lines.append((i, j))
    if not lines:
        return {"lines": [], "skipped": skipped}
    keep = sorted({k for _, j in lines for k in (j - 1, j, j + 1)})
    at = {k: n for n, k in enumerate(keep)}
    width = min(len(ids), max(keep) + 2)
    x = torch.tensor([ids[:width]], device=target.device)
    try:
        with torch.no_grad():
            try:  # only the kept positions go through the (large) output layer
                logits = target.model(input_ids=x, logits_to_keep=torch.tensor(keep, device=target.device)).logits[0]
            except TypeError:  # an architecture without logits_to_keep
                logits = target.model(input_ids=x).logits[0, keep]
    except RuntimeError as e:  # out of memory, device errors
        raise EvalFailure(f"scoring {probe.id} failed on {target.spec.describe()}: {str(e).splitlines()[0]}") from None
    logp = torch.log_softmax(logits.float(), dim=-1)
    whole, nick = sorted(tags.whole), sorted(tags.nick)
    rows = []
    for i, j in lines:
        before, after_lt = logp[at[j - 1]], logp[at[j]]
        p = float(before[tags.lt].exp() * after_lt[nick].exp().sum()) if nick else 0.0
        p += float(before[whole].exp().sum()) if whole else 0.0
        who = probe.messages[i][0]
        row = {"line": i, "speaker": who, "em_due": irc.same_nick(who, em), "p_em": min(1.0, p)}
        if row["em_due"] and ids[j + 1] in tags.nick and j + 2 < width:
            row["tag_completion"] = float(logp[at[j + 1]][ids[j + 2]].exp())
        rows.append(row)
    return {"lines": rows, "skipped": skipped}


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def score_all(target, probes: list[Probe], lib: Library, progress=None) -> tuple[dict, list[dict], dict]:
    """(metric -> {probe id: score}, one row per conversation for the samples file, a summary)."""
    start = time.monotonic()
    tags = tag_tokens(target.tok, lib.em)
    scores: dict[str, dict[str, float]] = {}
    rows, completion, skipped, scored = [], [], Counter(), 0
    for p in probes:
        got = conversation(target, p, tags, lib.em)
        lines = got["lines"]
        skipped += got["skipped"]
        scored += len(lines)
        completion += [r["tag_completion"] for r in lines if "tag_completion" in r]
        s = {"participation": _mean([r["p_em"] for r in lines]),
             "em_next_when_due": _mean([r["p_em"] for r in lines if r["em_due"]]),
             "em_next_when_not_due": _mean([r["p_em"] for r in lines if not r["em_due"]])}
        s = {m: v for m, v in s.items() if v is not None}
        for m, v in s.items():
            scores.setdefault(m, {})[p.id] = v
        rows.append({"probe": p.id, "kind": p.kind, "scores": s, "lines": lines})
        if progress is not None:
            progress(1)
    summary = {"method": "probability", "conversations": len(probes), "lines_scored": scored,
               "lines_skipped": {"merged": skipped["merged"], "too_long": skipped["too_long"]}, "tag_completion": _mean(completion), "tag_completion_n": len(completion),
               "seconds": round(time.monotonic() - start, 1),
               "tokens": {"lt": tags.lt, "nick": sorted(tags.nick), "whole": sorted(tags.whole)}}
    return scores, rows, summary
