"""Accepted dataset -> Axolotl training files, with Em-aware loss masks, ablation subsets and a held-out split.

Input: `<out>/em_character_training.jsonl`, one record a line: `{"text": ..., "meta": {"job_id": ..., ...}}`,
where `text` is the canonical log from `em_gen.irc.render` (two header lines, then `<nick> message` lines,
no trailing newline).

Formats (all written as JSON lines, one training sample a line):

`completion`  `{"text": text}` for Axolotl `type: completion`. Loss on every token. EOS is NOT written
              into the text: Axolotl 0.19's completion strategy tokenizes with the tokenizer's own special
              tokens (BOS in front) and appends `eos_token_id` itself when the last token is not already EOS
              (`PromptTokenizingStrategy._tokenize`), so every sample ends with EOS exactly once. A literal
              EOS string at the end of a text (from older exports) is stripped so it cannot be doubled by a
              tokenizer that does not parse special tokens in text.
`em`          `{"segments": [{"label": bool, "text": str}, ...]}` for Axolotl `type: input_output`
              (template-free). Axolotl tokenizes each segment with `add_special_tokens=False`, so BOS and
              EOS are written by hand: BOS is the first segment (label false), EOS the last (label true:
              the model learns to end the log). Loss only on Em's lines, nick included (`<Em> text\\n`);
              the header and everyone else's lines are label false.
`turns`       input_output as above, with loss on every speaker tag `<nick>` (who talks next, Em or
              somebody else: this is what teaches Em when to speak and when to stay quiet) and on Em's
              message text, but not on the other people's message text.

Segment boundaries sit just before `<` at the start of a line and between `<nick>` and the space that
starts the message. Those are pre-token boundaries of Mistral's tekken tokenizer, so concatenating the
separately tokenized segments gives the same tokens as tokenizing the whole text
(`em_gen.tokens.segment_boundaries_ok` checks it).

Every transform is idempotent: `to_<fmt>(to_<fmt>(r)) == to_<fmt>(r)`, and an exported sample converts to
any other format (the text is recovered losslessly from the segments).

Splits: a record is held out when `unit_hash("heldout", job_id) < holdout` (default 5%). The held-out set
depends on the job id only (not on the seed, the fraction or the format), is written as raw records to
`heldout.jsonl`, and never appears in a training file. The training records are ordered by
`unit_hash(seed, job_id)` and `fraction` takes a prefix of that order, so with one seed
subset(0.25) ⊂ subset(0.5) ⊂ subset(0.75) ⊂ subset(1.0).
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from em_gen.generate.journal import atomic_write, read_text_records
from em_gen.library import BadInput

FORMATS = ("completion", "em", "turns")
EM_NICK = "Em"
DEFAULT_BOS = "<s>"
DEFAULT_EOS = "</s>"
HELDOUT_FILE = "heldout.jsonl"
# The Axolotl configs in axolotl/ read these paths (relative to the repo root, default output folder).
DEFAULT_EXPORT_DIR = Path("em_character_data") / "export"

_NICK_LINE = re.compile(r"<([^<>\s]{1,32})>(?= |$)")
_HEADER_LINE = re.compile(r"^(ENGAGEMENT|CHANNEL)\s*:", re.IGNORECASE)


@dataclass(frozen=True)
class Special:
    """The BOS/EOS strings written into input_output segments (Mistral: `<s>` and `</s>`)."""

    bos: str = DEFAULT_BOS
    eos: str = DEFAULT_EOS


# --------------------------------------------------------------------------------------------------
# lossless split of a log into header and messages


@dataclass(frozen=True)
class Message:
    nick: str
    tag: str  # "<nick>"
    body: str  # " message text\n" (the last message has no newline); continuation lines included

    @property
    def text(self) -> str:
        return self.tag + self.body


def split_log(text: str) -> tuple[str, list[Message]]:
    """Split a log into (header, messages) so that `header + "".join(m.text for m in messages) == text`.

    The header is every line before the first `<nick>` line (normally ENGAGEMENT and CHANNEL, with
    their newlines). A line that does not start with `<nick>` after the first message is a continuation
    of the previous message (a wrapped line or a code block) and stays in that message's body.
    """
    lines = text.split("\n")
    header_parts: list[str] = []
    msgs: list[list[str]] = []  # [nick, tag, body]
    for i, line in enumerate(lines):
        nl = "\n" if i < len(lines) - 1 else ""
        m = _NICK_LINE.match(line)
        if m:
            msgs.append([m.group(1), line[: m.end()], line[m.end():] + nl])
        elif msgs:
            msgs[-1][2] += line + nl
        else:
            header_parts.append(line + nl)
    return "".join(header_parts), [Message(n, t, b) for n, t, b in msgs]


# --------------------------------------------------------------------------------------------------
# transforms (each takes a raw record or an exported sample of any format and is idempotent)


def _strip_special(text: str, special: Special) -> str:
    if special.bos and text.startswith(special.bos):
        text = text[len(special.bos):]
    if special.eos and text.endswith(special.eos):
        text = text[: -len(special.eos)]
    return text


def sample_text(sample: dict, special: Special = Special()) -> str:
    """The plain log of a raw record or an exported sample (BOS/EOS removed)."""
    if "segments" in sample:
        return _strip_special("".join(s["text"] for s in sample["segments"]), special)
    if "text" in sample:
        return _strip_special(sample["text"], special)
    raise BadInput("sample has neither 'text' nor 'segments'")


def _check_no_special(text: str, special: Special) -> None:
    for tok in (special.bos, special.eos):
        if tok and tok in text:
            raise BadInput(f"text contains the special token {tok!r} inside the log")


def to_completion(sample: dict, special: Special = Special()) -> dict:
    """`{"text": log}` for Axolotl `type: completion` (Axolotl adds BOS and EOS; see module doc)."""
    text = sample_text(sample, special)
    _check_no_special(text, special)
    return {"text": text}


def _merge(segments: list[tuple[bool, str]]) -> list[dict]:
    out: list[dict] = []
    for label, text in segments:
        if not text:
            continue
        if out and out[-1]["label"] == label:
            out[-1]["text"] += text
        else:
            out.append({"label": label, "text": text})
    return out


def _segments(sample: dict, fmt: str, special: Special, em_nick: str) -> dict:
    text = sample_text(sample, special)
    _check_no_special(text, special)
    header, messages = split_log(text)
    body: list[tuple[bool, str]] = [(False, header)]
    for m in messages:
        is_em = m.nick == em_nick
        if fmt == "em":
            body.append((is_em, m.text))
        else:  # turns
            body.append((True, m.tag))
            body.append((is_em, m.body))
    # BOS and EOS stay separate segments so they are easy to see and to strip
    segs = [{"label": False, "text": special.bos}] + _merge(body) + [{"label": True, "text": special.eos}]
    return {"segments": segs}


def to_em(sample: dict, special: Special = Special(), em_nick: str = EM_NICK) -> dict:
    """input_output segments with loss only on Em's lines (`<Em> text\\n`) and the final EOS."""
    return _segments(sample, "em", special, em_nick)


def to_turns(sample: dict, special: Special = Special(), em_nick: str = EM_NICK) -> dict:
    """input_output segments with loss on every `<nick>` tag, on Em's text and on the final EOS."""
    return _segments(sample, "turns", special, em_nick)


def transform(sample: dict, fmt: str, special: Special = Special(), em_nick: str = EM_NICK) -> dict:
    if fmt == "completion":
        return to_completion(sample, special)
    if fmt == "em":
        return to_em(sample, special, em_nick)
    if fmt == "turns":
        return to_turns(sample, special, em_nick)
    raise BadInput(f"unknown export format {fmt!r} (expected one of: {', '.join(FORMATS)})")


# --------------------------------------------------------------------------------------------------
# splits


def unit_hash(salt: object, job_id: str) -> float:
    """A stable number in [0, 1) from a salt and a job id (sha256, so the same on every machine)."""
    h = hashlib.sha256(f"{salt}\0{job_id}".encode()).hexdigest()
    return int(h[:15], 16) / float(16**15)


def is_heldout(job_id: str, holdout: float) -> bool:
    return unit_hash("heldout", job_id) < holdout


def split_records(records: list[dict], fraction: float = 1.0, holdout: float = 0.05,
                  seed: int = 0) -> tuple[list[dict], list[dict]]:
    """(training subset, held-out records), both in dataset order. See the module doc."""
    if not 0.0 < fraction <= 1.0:
        raise BadInput(f"fraction must be in (0, 1], got {fraction:g}")
    if not 0.0 <= holdout < 1.0:
        raise BadInput(f"holdout must be in [0, 1), got {holdout:g}")
    held = [r for r in records if is_heldout(r["meta"]["job_id"], holdout)]
    train = [r for r in records if not is_heldout(r["meta"]["job_id"], holdout)]
    order = sorted(range(len(train)), key=lambda i: (unit_hash(seed, train[i]["meta"]["job_id"]),
                                                     train[i]["meta"]["job_id"]))
    keep = set(order[: round(fraction * len(train))])
    return [r for i, r in enumerate(train) if i in keep], held


# --------------------------------------------------------------------------------------------------
# files


def read_dataset(dataset: Path, allow_offline: bool = False) -> list[dict]:
    """Read and check the accepted dataset; refuse offline stand-in records unless allowed."""
    dataset = Path(dataset)
    records, seen = [], {}
    for n, rec in read_text_records(dataset):
        meta = rec.get("meta")
        if not isinstance(meta, dict) or not isinstance(meta.get("job_id"), str) or not meta["job_id"]:
            raise BadInput(f"{dataset}: line {n}: record has no meta.job_id")
        job = meta["job_id"]
        if job in seen:
            raise BadInput(f"{dataset}: line {n}: job_id {job!r} already on line {seen[job]}")
        seen[job] = n
        if meta.get("provider") == "offline" and not allow_offline:
            raise BadInput(f"{dataset}: line {n}: job {job} came from the offline stand-in provider, "
                           "which is not training data; pass --allow-offline to export it anyway")
        records.append(rec)
    if not records:
        raise BadInput(f"{dataset}: no records")
    return records


def _token(cfg: dict, key: str, default: str) -> str:
    v = cfg.get(key)
    if isinstance(v, dict):  # {"content": "</s>", ...} in older tokenizer configs
        v = v.get("content")
    return v if isinstance(v, str) and v else default


def special_tokens_of(model_dir: Path | None) -> Special:
    """BOS/EOS strings from a Hugging Face model folder's tokenizer_config.json (Mistral's if None)."""
    if model_dir is None:
        return Special()
    model_dir = Path(model_dir)
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        path = model_dir / name
        if path.is_file():
            try:
                cfg = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as e:
                raise BadInput(f"{path}: not valid JSON: {e.msg}") from None
            return Special(_token(cfg, "bos_token", DEFAULT_BOS), _token(cfg, "eos_token", DEFAULT_EOS))
    raise BadInput(f"{model_dir}: no tokenizer_config.json or special_tokens_map.json")


def output_name(fmt: str, fraction: float = 1.0) -> str:
    """`em_<fmt>.jsonl`, or `em_<fmt>_<pct>pct.jsonl` for a subset (e.g. em_turns_25pct.jsonl)."""
    if fmt not in FORMATS:
        raise BadInput(f"unknown export format {fmt!r} (expected one of: {', '.join(FORMATS)})")
    if fraction >= 1.0:
        return f"em_{fmt}.jsonl"
    return f"em_{fmt}_{round(fraction * 100, 2):g}pct.jsonl"


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)


SPLIT_FILE = "split.json"  # the held-out share this export folder was split with, decided once
DEFAULT_HOLDOUT = 0.05


def decide_holdout(out_dir: Path, requested: float | None = None, force: bool = False) -> tuple[float, bool]:
    """The held-out share of an export folder, and whether it just changed. It is decided once, by the
    first export (the requested share, or 5%), and recorded in `split.json`; every format and fraction is
    cut from what remains. Another share is refused unless forced, because the held-out file `eval`
    scores on would then hold conversations an earlier training file was trained on."""
    if requested is not None and not 0.0 <= requested < 1.0:
        raise BadInput(f"holdout must be in [0, 1), got {requested:g}")
    path = Path(out_dir) / SPLIT_FILE
    recorded = None
    if path.is_file():
        try:
            recorded = float(json.loads(path.read_text(encoding="utf-8"))["holdout"])
        except (ValueError, KeyError, TypeError):
            raise BadInput(f"{path}: unreadable; it records the held-out split: restore it, or delete it "
                           "together with the export folder") from None
    if recorded is not None and (requested is None or requested == recorded):
        return recorded, False
    if recorded is not None and not force:
        raise BadInput(f"--holdout {requested:g}: this dataset's held-out split is {recorded:g} ({path}); another "
                       "share would put training conversations into the held-out file eval scores on. "
                       "Use --force to change it (every export in the folder is then rewritten)")
    value = DEFAULT_HOLDOUT if requested is None else requested
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps({"holdout": value}) + "\n")
    return value, recorded is not None


def export_dataset(dataset: Path, out_dir: Path | None = None, fmt: str = "completion",
                   fraction: float = 1.0, holdout: float | None = None, seed: int = 0,
                   allow_offline: bool = False, tokenizer: Path | None = None,
                   em_nick: str = EM_NICK, force: bool = False) -> dict:
    """Write one Axolotl training file and the held-out split; return a report.

    dataset:       the accepted dataset (`<out>/em_character_training.jsonl`).
    out_dir:       where to write; default `<dataset folder>/export` (the bundled configs read
                   `em_character_data/export/...`).
    fmt:           "completion", "em" or "turns" (see the module doc).
    fraction:      share of the training records to keep, in (0, 1]; nested for a fixed seed.
    holdout:       share of records held out for evaluation, by job id only; written to
                   `<out_dir>/heldout.jsonl` as raw records and excluded from every training file.
                   Decided once per export folder (`decide_holdout`); None: the recorded share.
    force:         allow a holdout other than the recorded one ("changed" in the report: the caller
                   then rewrites the folder's other exports).
    seed:          orders the records for `fraction`.
    allow_offline: export records made by the offline stand-in provider (refused by default).
    tokenizer:     a base-model folder whose tokenizer_config.json names BOS/EOS (default `<s>`, `</s>`).

    Raises BadInput (one line) on a bad dataset, an offline record, or bad arguments.
    Returns {"format", "path", "heldout_path", "records", "train", "heldout", "fraction", "seed",
    "holdout", "em_lines", "bytes"}.
    """
    if fmt not in FORMATS:
        raise BadInput(f"unknown export format {fmt!r} (expected one of: {', '.join(FORMATS)})")
    dataset = Path(dataset)
    out_dir = Path(out_dir) if out_dir is not None else dataset.parent / "export"
    special = special_tokens_of(tokenizer)
    records = read_dataset(dataset, allow_offline=allow_offline)
    holdout, changed = decide_holdout(out_dir, holdout, force)
    train, held = split_records(records, fraction=fraction, holdout=holdout, seed=seed)
    rows, em_lines = [], 0
    for rec in train:
        try:
            rows.append(transform(rec, fmt, special, em_nick))
        except BadInput as e:
            raise BadInput(f"{dataset}: job {rec['meta']['job_id']}: {e}") from None
        em_lines += sum(1 for m in split_log(rec["text"])[1] if m.nick == em_nick)
    if not rows:
        raise BadInput(f"{dataset}: no training records left after holdout {holdout:g} and fraction {fraction:g}")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / output_name(fmt, fraction)
    _write_jsonl(path, rows)
    heldout_path = out_dir / HELDOUT_FILE
    _write_jsonl(heldout_path, held)
    return {
        "format": fmt,
        "path": str(path),
        "heldout_path": str(heldout_path),
        "records": len(records),
        "train": len(rows),
        "heldout": len(held),
        "fraction": fraction,
        "seed": seed,
        "holdout": holdout,
        "holdout_changed": changed,
        "em_lines": em_lines,
        "bytes": path.stat().st_size,
    }
