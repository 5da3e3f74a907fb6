"""Append-only, crash-safe record of every paid response and verdict, and the files derived from it.

`journal.jsonl` is the source of truth. Every paid response is appended (flush + fsync) *before* it
is parsed; verdicts follow. The dataset files (`em_character_training.jsonl`, `rejected.jsonl`,
`conversation_<id>.txt`) are derived: on open they are reconciled with the journal, so a crash at
any moment leaves no torn line, no duplicate and no lost accepted conversation.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from em_gen.generate.lock import FolderLock
from em_gen.library import BadInput

# the most jobs one plan may hold (--batch N is capped here): a --full run of 15 MB plans about 3,500
MAX_PLAN = 100_000
JOURNAL = "journal.jsonl"
DATASET = "em_character_training.jsonl"
TEST_DATASET = "test_accepted.jsonl"  # --test's kept conversation: never a file named like the training set
REJECTED = "rejected.jsonl"
PROGRESS = "generation_progress.json"
STATS = "generation_stats.json"


def repair_tail(path: Path) -> int:
    """Cut a torn last line (no trailing newline) left by a crash. Returns bytes removed."""
    if not path.exists():
        return 0
    size = path.stat().st_size
    if size == 0:
        return 0
    with open(path, "rb+") as f:
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return 0
        # find the last newline without reading the whole file
        pos, chunk = size, 65536
        while pos > 0:
            start = max(0, pos - chunk)
            f.seek(start)
            buf = f.read(pos - start)
            i = buf.rfind(b"\n")
            if i >= 0:
                keep = start + i + 1
                break
            pos = start
        else:
            keep = 0
        f.truncate(keep)
        f.flush()
        os.fsync(f.fileno())
        return size - keep


def _umask_mode() -> int:
    mask = os.umask(0o022)  # read once, at import, and put back at once
    os.umask(mask)
    return 0o666 & ~mask


_NEW_FILE_MODE = _umask_mode()  # what open() gives a new file


def atomic_write(path: Path, data: str) -> None:
    """Write via temp file + fsync + rename, so readers see the old or the new file, never half."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, _NEW_FILE_MODE)  # mkstemp makes 0600; the outputs are all 0644 (under umask 022)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class AppendFile:
    """A JSONL file opened for appending, one fsynced line per record."""

    def __init__(self, path: Path):
        self.path = path
        repair_tail(path)
        self._f = open(path, "ab")

    def append(self, rec: dict) -> None:
        self._f.write((json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8"))
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self) -> None:
        self._f.close()


def read_jsonl(path: Path, skip_torn_tail: bool = False) -> tuple[list[dict], list[int]]:
    """Records of a JSONL file, and the byte offsets of the unreadable lines skipped. With
    `skip_torn_tail`, a last line without its newline (a line being written, or torn by a crash) is
    left out instead of counted: a reader that must not repair the file (another process may be
    appending to it) sees the journal up to its last whole line."""
    out, bad = [], []
    if not path.exists():
        return out, bad
    pos = 0
    with open(path, "rb") as f:
        for line in f:
            at, pos = pos, pos + len(line)
            if skip_torn_tail and not line.endswith(b"\n"):
                break
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                bad.append(at)
                continue
            if isinstance(rec, dict):
                out.append(rec)
            else:
                bad.append(at)
    return out, bad


def journal_problems(state: "State") -> list[str]:
    """One line per kind of journal damage: every unreadable line (count and byte offsets) and every
    record that could not be used. Shown by --status, --resume and --revalidate."""
    out = []
    if state.bad_offsets:
        shown = ", ".join(str(o) for o in state.bad_offsets[:10]) + (" ..." if len(state.bad_offsets) > 10 else "")
        out.append(f"{JOURNAL}: {len(state.bad_offsets)} unreadable line(s) skipped, at byte offset(s) {shown}; "
                   "they stay in the file untouched (a paid response on such a line is not counted until it is "
                   "mended by hand)")
    for why in state.skipped[:10]:
        out.append(f"{JOURNAL}: {why}")
    return out


def read_text_records(path: Path) -> list[tuple[int, dict]]:
    """(line number, record) of a dataset-like JSONL whose records carry a string `text`; a bad file
    or line raises BadInput naming the file and line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise BadInput(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise BadInput(f"{path}: cannot read: {e}") from None
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise BadInput(f"{path}: line {n}: not valid JSON: {e.msg}") from None
        if not isinstance(rec, dict) or not isinstance(rec.get("text"), str):
            raise BadInput(f"{path}: line {n}: record has no 'text' string")
        out.append((n, rec))
    return out


@dataclass
class State:
    """What the journal says: runs, responses by job, the latest verdict and failure of each job."""
    runs: list[dict] = field(default_factory=list)
    jobs: dict[str, dict] = field(default_factory=dict)
    responses: dict[str, list[dict]] = field(default_factory=dict)
    verdicts: dict[str, dict] = field(default_factory=dict)
    failed: dict[str, dict] = field(default_factory=dict)
    judgements: dict[str, list[dict]] = field(default_factory=dict)  # the character judge's paid answers
    held: dict[str, dict] = field(default_factory=dict)  # judge answer unreadable twice: no verdict yet
    batches: dict[str, dict] = field(default_factory=dict)  # batch id -> its submission (custom_id -> job, slot)
    batch_ended: dict[str, dict] = field(default_factory=dict)  # batch id -> its end record
    batch_seen: set = field(default_factory=set)  # custom_ids whose result is journaled
    batch_errors: dict = field(default_factory=dict)  # (job id, slot) -> errored/expired/canceled results
    batch_last_error: dict = field(default_factory=dict)  # (job id, slot) -> the last such result
    bad_offsets: list = field(default_factory=list)  # byte offsets of unreadable journal lines
    skipped: list = field(default_factory=list)  # why each record that could not be used was skipped

    @property
    def bad_lines(self) -> int:
        return len(self.bad_offsets)

    def add(self, rec: dict) -> None:
        t = rec.get("t")
        if t == "run":
            self.runs.append(rec)
        elif t == "batch":
            self.batches[rec["batch_id"]] = rec
        elif t == "batch_end":
            self.batch_ended[rec["batch_id"]] = rec
        elif t == "batch_error":
            self.batch_seen.add(rec["custom_id"])
            key = (rec["job_id"], rec["slot"])
            self.batch_errors[key] = self.batch_errors.get(key, 0) + 1
            self.batch_last_error[key] = rec
        elif t == "response":
            if "custom_id" in rec:
                self.batch_seen.add(rec["custom_id"])
            jid = rec["job"]["id"]
            self.jobs[jid] = rec["job"]
            self.responses.setdefault(jid, []).append(rec)
            self.failed.pop(jid, None)
        elif t == "judge":
            if "custom_id" in rec:
                self.batch_seen.add(rec["custom_id"])
            self.judgements.setdefault(rec["job_id"], []).append(rec)
        elif t == "held":
            self.held[rec["job_id"]] = rec
        elif t == "verdict":
            self.verdicts[rec["job_id"]] = rec
            self.held.pop(rec["job_id"], None)
        elif t == "failed":
            self.jobs.setdefault(rec["job"]["id"], rec["job"])
            if rec["job"]["id"] not in self.verdicts:
                self.failed[rec["job"]["id"]] = rec

    def accepted(self) -> list[dict]:
        return [v for v in self.verdicts.values() if v["ok"]]

    def unjudged(self) -> list[str]:
        """Jobs with a paid response but no verdict (a crash between the two, or a judge answer that
        was unreadable twice): judged again on --resume and --revalidate."""
        return [j for j in self.responses if j not in self.verdicts]

    def open_batches(self) -> list[dict]:
        return [b for bid, b in self.batches.items() if bid not in self.batch_ended]

    def in_flight(self) -> set[tuple[str, str]]:
        """(job id, slot) of every request in an open batch whose result is not journaled yet."""
        return {(m["job"]["id"], m["slot"]) for b in self.open_batches() for cid, m in b["requests"].items()
                if cid not in self.batch_seen}

    def judge_answers(self) -> list[dict]:
        return [r for answers in self.judgements.values() for r in answers]


def dataset_record(verdict: dict) -> dict:
    return {"text": verdict["text"], "meta": verdict["meta"]}


def rejected_record(verdict: dict, responses: list[dict]) -> dict:
    return {"job_id": verdict["job_id"], "reasons": verdict["reasons"], "meta": verdict["meta"],
            "raw": [r["raw"] for r in responses]}


class Store:
    """The output folder: the journal plus the derived files, kept consistent."""

    def __init__(self, out: Path, dataset: str = DATASET):
        self.out = Path(out)
        self.dataset = dataset  # the accepted-conversations file (TEST_DATASET under OUT/test/)
        try:
            self.out.mkdir(parents=True, exist_ok=True)
            probe = self.out / ".em-gen-write-test"
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as e:
            raise BadInput(f"--out {self.out}: not writable ({e.strerror or e})") from None
        self.lock = FolderLock(self.out)  # one writer per folder; a second one stops here, before any write
        self.journal_path = self.out / JOURNAL
        try:
            repaired = repair_tail(self.journal_path)
            self.state = load_state(self.journal_path)
            self.repaired = repaired
            self.journal = AppendFile(self.journal_path)
        except BaseException:
            self.lock.release()
            raise
        self._dataset = self._rejected = None

    # -- journal ---------------------------------------------------------------------------
    def record(self, rec: dict) -> None:
        self.journal.append(rec)
        self.state.add(rec)

    # -- derived files ---------------------------------------------------------------------
    def open_outputs(self) -> dict:
        """Reconcile the derived files with the journal and open them for appending."""
        fixed = {"dataset": self._reconcile(self.dataset, self.state.accepted(), dataset_record, "meta"),
                 "rejected": self._reconcile(REJECTED, [v for v in self.state.verdicts.values() if not v["ok"]],
                                             lambda v: rejected_record(v, self.state.responses.get(v["job_id"], [])),
                                             None)}
        for v in self.state.accepted():
            if not self.conversation_path(v["job_id"]).exists():
                self.write_conversation(v["job_id"], v["text"])
        self._dataset = AppendFile(self.out / self.dataset)
        self._rejected = AppendFile(self.out / REJECTED)
        return fixed

    def _reconcile(self, name: str, verdicts: list[dict], make, meta_key: str | None) -> str | None:
        """Make `name` hold exactly one line per verdict, in journal order. Appends follow the
        journal, so after a crash the file is a prefix of what it should be: checked by counting
        lines and reading the last one, without decoding the whole file."""
        path = self.out / name
        torn = repair_tail(path)

        def line_id(line: bytes):
            try:
                rec = json.loads(line)
            except ValueError:
                return None
            return (rec.get(meta_key) or {}).get("job_id") if meta_key else rec.get("job_id")

        data = path.read_bytes() if path.exists() else b""
        have = data.count(b"\n")
        last = line_id(data[data.rfind(b"\n", 0, len(data) - 1) + 1:]) if have else None
        if have <= len(verdicts) and (have == 0 or last == verdicts[have - 1]["job_id"]):
            if have == len(verdicts):
                return f"{name}: repaired a torn last line" if torn else None
            f = AppendFile(path)
            for v in verdicts[have:]:
                f.append(make(v))
            f.close()
            return f"{name}: appended {len(verdicts) - have} record(s) the journal had"
        # anything else (duplicates, foreign or unreadable lines): rebuild from the journal
        atomic_write(path, "".join(json.dumps(make(v), ensure_ascii=False, separators=(",", ":")) + "\n"
                                   for v in verdicts))
        return f"{name}: rebuilt from the journal"

    def conversation_path(self, job_id: str) -> Path:
        return self.out / f"conversation_{job_id}.txt"

    def write_conversation(self, job_id: str, text: str) -> None:
        """The human-readable copy: written whole then renamed (never half a file), but not fsynced:
        it is derived, and reconciling rewrites it from the journal if a crash lost it."""
        path = self.conversation_path(job_id)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text + "\n", encoding="utf-8")
        os.replace(tmp, path)

    def write_verdict(self, verdict: dict) -> None:
        """Journal the verdict, then update the derived files."""
        self.record(verdict)
        if verdict["ok"]:
            self._dataset.append(dataset_record(verdict))
            self.write_conversation(verdict["job_id"], verdict["text"])
        else:
            self._rejected.append(rejected_record(verdict, self.state.responses.get(verdict["job_id"], [])))

    def rebuild_outputs(self) -> None:
        """Rewrite every derived file from the journal (used after --revalidate)."""
        for p in self.out.glob("conversation_*.txt"):
            p.unlink()
        for name in (self.dataset, REJECTED):
            atomic_write(self.out / name, "")
        self.open_outputs()

    def close(self) -> None:
        for f in (self.journal, self._dataset, self._rejected):
            if f is not None:
                f.close()
        self.lock.release()


def load_state(path: Path, skip_torn_tail: bool = False) -> State:
    """The State a journal describes. A record that is valid JSON but not a usable em-gen record (a
    run record without its fields, a response without its job) is skipped and named in `skipped`,
    never fatal: one bad line must not make a folder unusable."""
    records, bad = read_jsonl(path, skip_torn_tail)
    state = State(bad_offsets=bad)
    for rec in records:
        if rec.get("t") == "run" and not usable_run(rec):
            state.skipped.append(f"corrupt run record {str(rec.get('run'))[:40]!r} skipped")
            continue
        try:
            state.add(rec)
        except (KeyError, TypeError, AttributeError) as e:
            state.skipped.append(f"unusable {str(rec.get('t'))[:20]!r} record skipped (missing {e})")
    return state


def usable_run(rec: dict) -> bool:
    """A run record --status, --report and --resume can work from (a typo'd or damaged one is skipped)."""
    return (isinstance(rec.get("run"), str) and isinstance(rec.get("mode"), str)
            and (rec.get("n") is None or (isinstance(rec["n"], int) and 0 <= rec["n"] <= MAX_PLAN))
            and isinstance(rec.get("seed", 0), int))


def read_state(out: Path) -> State:
    """The folder's State for a read-only mode: no lock taken, nothing repaired or written, a last line
    still being written by a live run left out."""
    return load_state(Path(out) / JOURNAL, skip_torn_tail=True)
