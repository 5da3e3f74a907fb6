"""Five logs written by hand for the premise-and-cast prompt (tests/generate/premise_logs/), as a strong
teacher model writes when it follows prompts/job.md, replayed by the stand-in as the teacher's answer
to the job whose premise each was written for: `--batch 5` keeps all five, rules and judge included.

The folder's scenarios/ holds the premises, nicks and voices those five jobs were dealt from
(`--batch 5 --seed 5`), so the deal does not move when the main library grows."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from conftest import read_jsonl
from em_gen.cli import main
from em_gen.generate.plan import make_plan
from em_gen.generate.prompting import build_request
from em_gen.library import ROOT, load_library
from em_gen.providers.standin.server import StandInServer
from em_gen.quality import irc

HERE = Path(__file__).resolve().parent / "premise_logs"


def fixtures() -> list[dict]:
    out = []
    for p in sorted(HERE.glob("*.txt")):
        meta, lines = {}, []
        for line in p.read_text(encoding="utf-8").splitlines():
            if line.startswith("# ") and ":" in line and not lines:
                k, _, v = line[2:].partition(":")
                meta[k.strip()] = v.strip()
            else:
                lines.append(line)
        out.append({"file": p.name, "job": meta["job"].split()[0], "premise": meta["premise"],
                    "text": "\n".join(lines).strip() + "\n"})
    return out


@pytest.fixture
def sdir(tmp_path):
    d = tmp_path / "scenarios"
    shutil.copytree(ROOT / "scenarios", d, ignore=shutil.ignore_patterns("premises", "nicks.yaml", "voices.yaml"))
    shutil.copytree(HERE / "scenarios", d, dirs_exist_ok=True)
    return d


def test_the_logs_were_written_for_the_jobs_they_answer(sdir):
    lib = load_library(sdir)
    jobs = {j.id: j for j in make_plan(lib, 5, 5, "batch1")}
    logs = fixtures()
    assert len(logs) == 5 and sorted(x["job"] for x in logs) == sorted(jobs)
    for x in logs:
        job = jobs[x["job"]]
        assert job.premise == x["premise"], x["file"]
        parsed = irc.parse(x["text"])
        assert (parsed.engagement, parsed.channel) == (job.engagement, job.channel)
        assert len(parsed.messages) == job.messages and sum(n == lib.em for n, _ in parsed.messages) == job.em_messages
        speakers = {n for n, _ in parsed.messages} - {lib.em}
        assert len(speakers) >= 3 and speakers <= set(job.nicks), (x["file"], speakers - set(job.nicks))
        # written to the prompt: the premise is retold, not pasted
        user = build_request(lib, job).user
        assert f"premise: {job.premise}" in user
        assert all(job.premise.lower() not in t.lower() for _, t in parsed.messages)
        opening = " ".join(t for _, t in parsed.messages[:8]).lower()  # the chat starts from it
        key = set(re.findall(r"[a-z]{5,}", job.premise.lower()))
        assert sum(w in opening for w in key) >= 3, (x["file"], key)


def test_batch_keeps_all_five(sdir, tmp_path, monkeypatch):
    lib = load_library(sdir)
    logs = fixtures()
    with StandInServer(library=lib, premise_logs={x["premise"]: x["text"] for x in logs}) as srv:
        monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url + "/v1")
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        out = tmp_path / "d"
        rc = main(["--batch", "5", "--seed", "5", "--scenarios", str(sdir), "--out", str(out), "--no-progress",
                   "--concurrency", "1", "--max-replacements", "0", "--no-monitor"])
        judged = srv.stats["judge_requests"]
    journal = read_jsonl(out / "journal.jsonl")
    served = {r["job"]["id"]: r["raw"] for r in journal if r["t"] == "response"}
    by_job = {x["job"]: x for x in logs}
    assert {j: served[j].strip() for j in served} == {j: by_job[j]["text"].strip() for j in by_job}
    verdicts = {r["job_id"]: r for r in journal if r["t"] == "verdict"}
    assert all(verdicts[j]["ok"] for j in by_job), {j: verdicts[j]["reasons"] for j in by_job if not verdicts[j]["ok"]}
    assert judged == 5, "the character judge read every one (a paid provider judges by default)"
    assert rc == 0 and len(read_jsonl(out / "em_character_training.jsonl")) == 5
