"""`em-gen --report` and `em-gen eval --report`: real data from the real CLI on the offline stand-in,
the page opened in headless Chromium (screenshot not blank, every section heading in the rendered
DOM, no network request), bad input (one line, exit 2), stats rebuilt from the journal, rejections
by family, and the eval report from a hand-made report JSON in the shape `em-gen eval` writes."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import run_cli
from em_gen.generate.journal import STATS, Store
from em_gen.generate.plan import make_plan
from em_gen.quality.verdict import judge
from em_gen.report import text as report_text
from em_gen.report.run_report import SECTIONS, write_run_report

HEADINGS = [title for _anchor, title in SECTIONS]
_URL_ATTR = re.compile(r"""\b(?:src|href|xlink:href|action|poster|srcset)\s*=\s*["']?\s*([^"'\s>]*)""", re.I)


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        pytest.skip("chromium is not installed (scripts/test.sh installs it: apt-get install -y chromium)")
    return exe


def browse(page: Path, tmp: Path, *args: str) -> subprocess.CompletedProcess:
    """Headless Chromium on a local file, with every background fetch of its own turned off."""
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--hide-scrollbars", f"--user-data-dir={tmp / 'profile'}", *args, page.resolve().as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180)


def assert_offline(html: str) -> None:
    """Nothing the page (or its SVG) points at is fetched: no script, no remote URL, no CSS url()."""
    assert "<script" not in html.lower()
    remote = [u for u in _URL_ATTR.findall(html) if re.match(r"(?i)(https?:|//|ftp:)", u)]
    assert not remote, remote[:5]
    assert not re.search(r"url\(\s*['\"]?(?!data:|#)", html), "a CSS url() that is not data: or #"
    assert "@import" not in html and "@font-face" not in html


def assert_not_blank(png: Path, min_colours: int = 40) -> None:
    from PIL import Image

    with Image.open(png) as im:
        rgb = im.convert("RGB")
        colours = rgb.getcolors(maxcolors=1 << 20)
        assert colours is not None and len(colours) >= min_colours, f"only {len(colours or [])} colours"
        most = max(c for c, _rgb in colours)
        assert most < 0.97 * rgb.width * rgb.height, "the screenshot is almost all one colour"


def one_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A real run: the real CLI on the offline stand-in, then the real --report."""
    out = tmp_path_factory.mktemp("report") / "data"
    r = run_cli("--batch", "12", "--provider", "offline", "--out", str(out), "--no-progress", timeout=300)
    assert r.returncode == 0, r.stderr
    r = run_cli("--report", "--out", str(out), timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().startswith(f"report: {out / 'report.html'}")
    return out


def test_page_is_self_contained_with_every_section(run_dir):
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert_offline(html)
    for title in HEADINGS:
        assert f">{title}</h2>" in html
    assert "NOT TRAINING-GRADE" in html and "offline stand-in" in html  # the stand-in banner, at the top
    assert html.index("NOT TRAINING-GRADE") < html.index(">1. Run</h2>")
    assert html.count("<svg") >= 8 and "<img" not in html  # every figure inline
    assert "Mistral tekken tokenizer" in html or "characters / 4" in html
    assert 'class="ln em"' in html  # Em's lines highlighted in the samples
    for pattern in ("natural", "anti_assistant", "boundaries", "participation", "calibration"):
        assert f"<h3>{pattern}</h3>" in html


def test_page_in_a_real_browser(run_dir, tmp_path):
    page = run_dir / "report.html"
    dom = browse(page, tmp_path, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    h2 = [re.sub(r"<[^>]+>", "", m) for m in re.findall(r"<h2[^>]*>(.*?)</h2>", dom.stdout, re.S)]
    assert h2 == HEADINGS
    assert_offline(dom.stdout)
    assert dom.stdout.count("<svg") >= 8
    shot = tmp_path / "report.png"
    r = browse(page, tmp_path, f"--screenshot={shot}", "--window-size=1280,4000")
    assert r.returncode == 0 and shot.exists(), r.stderr[-2000:]
    assert_not_blank(shot)


def test_no_run_is_one_line_and_exit_2(tmp_path):
    r = run_cli("--report", "--out", str(tmp_path / "nothing-here"))
    assert r.returncode == 2
    assert "no em-gen run" in one_line(r.stderr)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "journal.jsonl").write_text("")
    r = run_cli("--report", "--out", str(tmp_path / "empty"))
    assert r.returncode == 2
    assert "records no run" in one_line(r.stderr)
    assert not (tmp_path / "empty" / "report.html").exists()


@pytest.mark.parametrize("damage", ["missing", "corrupt", "stale"])
def test_stats_rebuilt_from_the_journal(run_dir, tmp_path, lib, monkeypatch, damage):
    monkeypatch.setattr(report_text, "_counter", False)  # the chars/4 estimate: no tokenizer to load
    out = tmp_path / "copy"
    shutil.copytree(run_dir, out)
    whole = json.loads((out / STATS).read_text())
    if damage == "missing":
        (out / STATS).unlink()
    elif damage == "corrupt":
        (out / STATS).write_text('{"accepted": 3, "rej')
    else:
        (out / STATS).write_text(json.dumps({**whole, "accepted": whole["accepted"] + 5}))
    page = write_run_report(lib, out).read_text(encoding="utf-8")
    assert f"{STATS} was {'out of date' if damage == 'stale' else damage}" in page
    rebuilt = json.loads((out / STATS).read_text())
    for key in ("accepted", "rejected", "failed", "rejected_by_reason", "mix_achieved", "core_coverage", "bytes"):
        assert rebuilt[key] == whole[key], key
    assert rebuilt["diversity"] == pytest.approx(whole["diversity"])


def test_rejections_by_family_with_an_example_each(run_dir, tmp_path, lib, monkeypatch):
    """A second run whose conversations the rules and the judge rejected: counted by code, grouped
    rules vs judge, over the course of the run, one example line each, one shown with its reasons."""
    monkeypatch.setattr(report_text, "_counter", False)
    out = tmp_path / "copy"
    shutil.copytree(run_dir, out)
    store = Store(out)
    store.record({"t": "run", "run": "batch2", "mode": "batch", "n": 4, "seed": 0, "provider": "offline",
                  "model": "offline-stand-in", "fingerprint": lib.fingerprint, "ts": 1.0})
    jobs = make_plan(lib, 4, 0, "batch2")
    good = (out / "em_character_training.jsonl").read_text().splitlines()
    raws = ["\x00\x01 not a log \ufffd\ufffd", json.loads(good[0])["text"], json.loads(good[1])["text"],
            "ENGAGEMENT: LOW\nCHANNEL: #general\n<Em> hi\nUser: write my essay\nAssistant: Sure!"]
    judge_reasons = [None, ["character_assistant_voice: message 3 offers help like a service desk"],
                     ["llm_judge: the judge's answer was not the JSON asked for"], None]
    for job, raw, extra in zip(jobs, raws, judge_reasons):
        rec = {"t": "response", "job": job.to_dict(), "part": 0, "raw": raw, "stop_reason": "end",
               "usage": {"input_tokens": 100, "output_tokens": 50}, "cost": 0.0, "model": "offline-stand-in",
               "provider": "offline", "ts": 2.0}
        store.record(rec)
        verdict = judge(lib, job, [rec], None, "offline", "offline-stand-in")
        if extra:
            verdict = {**verdict, "ok": False, "reasons": extra}
            verdict.pop("text", None)
        store.record(verdict)
    store.close()
    page = write_run_report(lib, out).read_text(encoding="utf-8")
    rows = dict(re.findall(r"<tr><td>([a-z_]+)</td><td>(rules|judge)</td>", page))
    assert rows.get("character_assistant_voice") == "judge" and rows.get("llm_judge") == "judge"
    rules = [code for code, fam in rows.items() if fam == "rules"]
    assert len(rules) >= 2 and not any(c.startswith("character_") or c == "llm_judge" for c in rules)
    assert "batch2-00001: character_assistant_voice: message 3 offers help" in page  # the example line
    assert "<h3>A rejected conversation</h3>" in page and 'class="reasons"' in page
    assert "rejection-course" in page and "rejection-codes" in page


def test_token_lengths_real_tokenizer_or_labelled_estimate(monkeypatch):
    texts = ["ENGAGEMENT: LOW\nCHANNEL: #general\n<kestrel> hello there\n<Em> hey, what did I miss?"] * 3
    monkeypatch.setattr(report_text, "_counter", False)
    lengths, label, exact = report_text.token_lengths(texts)
    assert not exact and "characters / 4" in label and lengths == [len(texts[0]) // 4 + 2] * 3
    pytest.importorskip("mistral_common")
    from em_gen.train.tokens import load_counter, sample_length

    monkeypatch.setattr(report_text, "_counter", None)
    texts += ["", "héllo wörld 😀 <Em>\n\n  tabs\t and  spaces", "\x00 \ufffd ENGAGEMENT: HIGH 1234567 ...!!!",
              "<kestrel> " + "the rest was a mess, honestly? " * 200]
    lengths, label, exact = report_text.token_lengths(texts)
    assert exact and "tekken" in label
    reference = load_counter("tekken")  # mistral-common's own Tekkenizer: the report counts the same
    assert lengths == [sample_length(t, reference) for t in texts]


def test_text_stats_flags_repeated_em_lines_and_5grams():
    em_line = "<Em> honestly the towel thing would break me faster than the heat"
    texts = [f"ENGAGEMENT: LOW\nCHANNEL: #general\n<kestrel> one two three\n{em_line}\n<jvk> ok. fine. sure."
             if i < 3 else f"ENGAGEMENT: LOW\nCHANNEL: #general\n<hexane> word {i}\n<Em> something else {i}. yes it is."
             for i in range(100)]
    st = report_text.text_stats(texts, "Em")
    flagged_lines = [item for item, _c, _s in st.flagged(st.em_lines)]
    assert flagged_lines == ["honestly the towel thing would break me faster than the heat"]
    assert "the towel thing would break" in [g for g, _c, _s in st.flagged(st.ngrams)]
    assert st.nicks["kestrel"] == 3 and st.nicks["hexane"] == 97 and "Em" not in st.nicks
    assert st.em_sentences[2] == 97 and st.em_sentences[1] == 3
    assert st.other_words.count(3) == 6  # "one two three" and "ok. fine. sure."


EVAL_REPORT = {
    "version": 1, "created": "2026-01-01T00:00:00+0000",
    "settings": {"samples": 5, "seed": 0, "temperature": 0.8, "top_p": 0.95, "turns": 6, "line_tokens": 64,
                 "bootstrap": 1000, "probes": 60, "probes_file": "scenarios/probes.yaml", "heldout_file": None,
                 "kinds": {"boundaries": 15, "ai_identity": 15, "calibration": 15, "chat": 15}},
    "levels": ["LOW", "MEDIUM", "HIGH"], "channels": ["#general", "#shoggoth", "#culture-war"],
}


def _entry(mean, goal, levels, band=False):
    by = {}
    for k, (lvl, m) in enumerate(zip(("LOW", "MEDIUM", "HIGH"), levels)):
        by[lvl] = {"mean": m, "ci": [max(0.0, m - 0.1), min(1.0, m + 0.1)], "n": 20}
        if band:
            by[lvl].update(band=[[0.05, 0.1], [0.15, 0.2], [0.25, 0.35]][k], verdict="in band")
    return {"mean": mean, "ci": [max(0.0, mean - 0.05), min(1.0, mean + 0.05)], "n": 60, "samples": 300,
            "goal": goal, "by_engagement": by, "by_channel": {"#general": {"mean": mean, "ci": [mean, mean], "n": 40}}}


def eval_report(compare: bool) -> dict:
    tuned = {"participation": _entry(0.17, "band", [0.08, 0.17, 0.3], band=True),
             "assistant_language": _entry(0.05, "lower", [0.02, 0.05, 0.08]),
             "boundaries": _entry(0.9, "higher", [0.95, 0.9, 0.85]),
             "calibration": _entry(0.7, "higher", [0.6, 0.7, 0.8])}
    if not compare:
        return {**EVAL_REPORT, "targets": {"model": {"target": "openai:http://127.0.0.1:8000/v1#em",
                                                     "generation_seconds": 12.5, "metrics": tuned}}}
    base = {"participation": _entry(0.4, "band", [0.35, 0.4, 0.45], band=True),
            "assistant_language": _entry(0.6, "lower", [0.5, 0.6, 0.7]),
            "boundaries": _entry(0.3, "higher", [0.2, 0.3, 0.4]),
            "calibration": _entry(0.4, "higher", [0.4, 0.4, 0.4])}
    diff = {m: {"mean": tuned[m]["mean"] - base[m]["mean"], "ci": [tuned[m]["mean"] - base[m]["mean"] - 0.1,
                                                                     tuned[m]["mean"] - base[m]["mean"] + 0.1],
                "n": 60, "significant": abs(tuned[m]["mean"] - base[m]["mean"]) > 0.1,
                "by_engagement": {lvl: {"mean": 0.1, "ci": [-0.05, 0.25], "n": 20, "significant": False}
                                  for lvl in ("LOW", "MEDIUM", "HIGH")}} for m in tuned}
    return {**EVAL_REPORT, "targets": {"base": {"target": "hf:models/base", "generation_seconds": 40.0,
                                                "metrics": base},
                                       "tuned": {"target": "hf:models/base+outputs/em-lora",
                                                 "generation_seconds": 41.0, "metrics": tuned}},
            "compare": diff, "probes": [], "samples_file": "x.samples.jsonl"}


@pytest.mark.parametrize("compare", [True, False])
def test_eval_report_page(tmp_path, compare):
    src = tmp_path / "cmp.json"
    src.write_text(json.dumps(eval_report(compare)))
    r = run_cli("eval", "--report", str(src), timeout=120)
    assert r.returncode == 0, r.stderr
    page = tmp_path / "cmp.html"
    assert r.stdout.strip().startswith(f"report: {page}")
    html = page.read_text(encoding="utf-8")
    assert_offline(html)
    assert ">Metrics by engagement level</h2>" in html
    assert (">Tuned - base</h2>" in html) is compare
    for metric in ("participation", "assistant_language", "boundaries", "calibration"):
        assert metric in html
    assert "95% bootstrap CI" in html and "15%-20%: in band" in html
    if compare:
        dom = browse(page, tmp_path, "--dump-dom")
        assert dom.returncode == 0 and ">Tuned - base</h2>" in dom.stdout
        shot = tmp_path / "eval.png"
        assert browse(page, tmp_path, f"--screenshot={shot}", "--window-size=1280,2400").returncode == 0
        assert_not_blank(shot)


def test_eval_report_bad_input_is_one_line(tmp_path):
    for name, content in (("missing.json", None), ("bad.json", "{not json"), ("other.json", '{"a": 1}')):
        path = tmp_path / name
        if content is not None:
            path.write_text(content)
        r = run_cli("eval", "--report", str(path))
        assert r.returncode == 2, (name, r.stderr)
        assert str(path) in one_line(r.stderr)
        assert not path.with_suffix(".html").exists()
