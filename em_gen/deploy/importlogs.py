"""`em-gen --import-logs FILE... [--format transcript|weechat|irssi|znc]`: real channel logs in, reviewed
candidate training records out, in `OUT/real/`, never in the synthetic dataset.

1. Windows around Em's lines: for each Em line not yet inside a window, the window ends `AFTER` lines
   after it and reaches back as far as the short bucket allows (scenarios/mix.yaml `lengths.short`,
   10-20 messages), preferring the longest window whose Em count is inside the channel's engagement
   band; windows never overlap and never span an engagement change. Under the channel's header
   (`ENGAGEMENT:` the level in force, `CHANNEL:` the header name), Em's lines as `<Em>`.
2. Pseudonymised by default: every other nick, as a speaker and where it is mentioned in a line, is
   replaced by a nick from scenarios/nicks.yaml chosen by HMAC-SHA256 under a random key kept in
   `OUT/real/pseudonym.key` (the same person gets the same pseudonym in every import into OUT; the
   mapping itself is never written down).
3. The same gate as generated data: the rules (quality.rules.check), then the character judge when one
   is given, then near-duplicates (word 3-gram MinHash, quality.rules.Diversity) against the synthetic
   dataset and everything already in real/.
4. Appended (fsynced) to `real/real_training.jsonl` (passed) and `real/real_rejected.jsonl` (with reasons);
   `real/imports.jsonl` records each import's figures.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import time
from pathlib import Path

from em_gen.deploy.logformats import Line, read_log
from em_gen.library import BadInput, Library
from em_gen.quality.irc import render
from em_gen.quality.rules import Diversity, Expect, band_limits, check
from em_gen.quality.irc import parse

AFTER = 3
REAL_DIR = "real"
KEPT, REJECTED, IMPORTS, KEY = "real_training.jsonl", "real_rejected.jsonl", "imports.jsonl", "pseudonym.key"
_NICKCHARS = r"A-Za-z0-9_\-\[\]\\`^{}|"


class Pseudonyms:
    def __init__(self, key: bytes, pool: list[str], keep: set[str]):
        self.key, self.pool, self.keep = key, pool, {k.lower() for k in keep}
        self.map: dict[str, str] = {}
        self.used: set[str] = set()

    def of(self, nick: str) -> str:
        low = nick.lower()
        if low in self.keep:
            return nick
        if low not in self.map:
            i = int.from_bytes(hmac.new(self.key, low.encode(), hashlib.sha256).digest()[:8], "big")
            for k in range(len(self.pool)):
                cand = self.pool[(i + k) % len(self.pool)]
                if cand.lower() not in self.used and cand.lower() not in self.keep:
                    break
            else:
                cand = f"user{len(self.map) + 1}"
            self.map[low] = cand
            self.used.add(cand.lower())
        return self.map[low]

    def text(self, text: str, nicks: list[str]) -> str:
        """Mentions of the log's nicks (3+ characters, as whole words) replaced by their pseudonyms."""
        names = sorted({n for n in nicks if len(n) >= 3 and n.lower() not in self.keep}, key=len, reverse=True)
        if not names:
            return text
        pat = re.compile(rf"(?<![{_NICKCHARS}])(" + "|".join(map(re.escape, names)) + rf")(?![{_NICKCHARS}])",
                         re.IGNORECASE)
        return pat.sub(lambda m: self.of(m.group(1)), text)


def _key(folder: Path) -> bytes:
    path = folder / KEY
    if path.is_file():
        return bytes.fromhex(path.read_text().strip())
    key = os.urandom(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key.hex() + "\n")
    return key


def windows(lines: list[Line], band_of, bucket: tuple[int, int]) -> list[tuple[int, int]]:
    """[start, end) index ranges around Em's lines (see the module doc). `band_of(engagement)`.

    For the first Em line not yet in a window (the anchor), every window of the bucket's sizes that
    holds it, starts after the previous window and keeps one engagement level is a candidate; the
    chosen one has Em's count inside the band if any has, then the most lines, then the most context
    before the anchor (up to AFTER lines after it are enough)."""
    lo, hi = bucket
    n = len(lines)
    out, covered = [], 0
    for i, ln in enumerate(lines):
        if not ln.em or i < covered:
            continue
        level = ln.engagement
        first = i
        while first > covered and first > i - hi + 1 and lines[first - 1].engagement == level:
            first -= 1
        last = i + 1
        while last < n and last < i + hi and lines[last].engagement == level:
            last += 1
        band = band_of(level)
        best, best_key = None, None
        for start in range(first, i + 1):
            for end in range(i + 1, last + 1):
                size = end - start
                if size > hi:
                    break
                k = sum(x.em for x in lines[start:end])
                a, b = band_limits(size, *band)
                key = (a <= k <= b and size >= lo, min(size, hi), min(i - start, hi - AFTER - 1), -(end - i))
                if best_key is None or key > best_key:
                    best, best_key = (start, end), key
        out.append(best)
        covered = best[1]
    return out


def _append(path: Path, rows: list[dict]) -> None:
    if not rows:
        return
    with path.open("a", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _texts(path: Path) -> list[str]:
    out = []
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict) and isinstance(rec.get("text"), str):
                out.append(rec["text"])
    return out


def import_logs(lib: Library, files: list[str], fmt: str, out_dir: Path, channels: dict[str, tuple[str, str]],
                em_nick: str | None = None, pseudonymise: bool = True, judge=None, threshold: float = 0.8) -> dict:
    """Import `files`; `channels` maps a real channel to (header channel, engagement). Returns the figures."""
    em = lib.em
    logs = [read_log(f, fmt, em, em_nick) for f in files]
    real = Path(out_dir) / REAL_DIR
    real.mkdir(parents=True, exist_ok=True)
    ps = Pseudonyms(_key(real), lib.other_nicks, {em}) if pseudonymise else None
    div = Diversity(threshold)
    synthetic = _texts(Path(out_dir) / "em_character_training.jsonl")
    for i, t in enumerate(synthetic):
        div.add(f"synthetic:{i}", t)
    before = _texts(real / KEPT) + _texts(real / REJECTED)
    seen = {hashlib.sha256(t.encode()).hexdigest() for t in before}
    for i, t in enumerate(_texts(real / KEPT)):
        div.add(f"real:{i}", t)
    bucket = lib.buckets().get("short") or min(lib.buckets().values())
    figures = {"files": len(files), "lines": 0, "em_lines": 0, "skipped_lines": 0, "windows": 0, "kept": 0,
               "rejected": 0, "already_imported": 0, "near_duplicate_synthetic": 0, "near_duplicate_real": 0,
               "by_reason": {}, "pseudonymised_nicks": 0, "synthetic_records": len(synthetic)}
    cands = []
    for log in logs:
        figures["skipped_lines"] += log.skipped
        by_channel: dict[str, list[Line]] = {}
        for ln in log.lines:
            by_channel.setdefault(ln.channel, []).append(ln)
        for ch, lines in by_channel.items():
            header, level = channels.get(ch, (None, None))
            if level is None and len(channels) == 1 and ch == "?":
                header, level = next(iter(channels.values()))
            for ln in lines:  # a transcript's own level (as operators changed it) wins over --channel's
                ln.engagement = ln.engagement or level
            if any(ln.engagement is None for ln in lines):
                raise BadInput(f"{log.path}: channel {ch} has no engagement level; pass --channel '{ch}=LEVEL'")
            header = header if header and header != ch else (lines[0].header or ch)
            figures["lines"] += len(lines)
            figures["em_lines"] += sum(ln.em for ln in lines)
            nicks = [ln.nick for ln in lines if not ln.em]
            for a, b in windows(lines, lib.band, bucket):
                w = lines[a:b]
                msgs = [(em if ln.em else (ps.of(ln.nick) if ps else ln.nick), ps.text(ln.text, nicks) if ps else ln.text)
                        for ln in w]
                cands.append({"text": render(w[0].engagement, header, msgs), "meta": {
                    "job_id": None, "source": "real", "provider": "real", "file": log.path, "format": fmt,
                    "channel": ch, "channel_header": header, "engagement": w[0].engagement, "lines": [a, b],
                    "pseudonymised": bool(ps)}})
    figures["windows"] = len(cands)
    if ps:
        figures["pseudonymised_nicks"] = len(ps.map)
    verdicts = {}
    for i, c in enumerate(cands):
        v = check(parse(c["text"]), lib, Expect(engagement=c["meta"]["engagement"], channel=c["meta"]["channel_header"]))
        verdicts[i] = list(v.reasons)
    if judge is not None:
        passed = {i: cands[i]["text"] for i, r in verdicts.items() if not r}
        for i, reasons in (judge(passed) if passed else {}).items():
            verdicts[i].extend(reasons)
    kept, rejected = [], []
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for i, c in enumerate(cands):
        digest = hashlib.sha256(c["text"].encode()).hexdigest()
        c["meta"]["job_id"] = f"real-{digest[:16]}"
        c["meta"]["imported_at"] = now
        if digest in seen:
            figures["already_imported"] += 1
            continue
        seen.add(digest)
        reasons = verdicts[i]
        if not reasons:
            dup = div.near_duplicate(c["text"])
            if dup:
                where = dup.split(":", 1)[0]
                figures[f"near_duplicate_{where}"] += 1
                reasons = [f"near_duplicate: like {'a synthetic record' if where == 'synthetic' else 'an imported window'} "
                           f"(word 3-gram Jaccard >= {threshold:g})"]
        if reasons:
            rejected.append({**c, "reasons": reasons})
            for r in reasons:
                code = r.split(":", 1)[0]
                figures["by_reason"][code] = figures["by_reason"].get(code, 0) + 1
        else:
            div.add(f"real:new{i}", c["text"])
            kept.append(c)
    _append(real / KEPT, kept)
    _append(real / REJECTED, rejected)
    figures.update(kept=len(kept), rejected=len(rejected), out=str(real / KEPT), rejected_out=str(real / REJECTED))
    _append(real / IMPORTS, [{"at": now, "format": fmt, "files": [str(f) for f in files], "judge": judge is not None,
                              **{k: v for k, v in figures.items() if k not in ("out", "rejected_out")}}])
    return figures
