"""`em-gen eval --sweep ... --report`: the sweep page from a real sweep (the real CLI against the
stand-in's base, tuned and reverting models), self-contained, opened in headless Chromium (every
section heading in the rendered DOM, screenshot not blank, no network request); `eval --report` on
the sweep JSON renders the same page; a sweep JSON that is not one is one line and exit 2."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import run_cli
from test_report_page import assert_not_blank, assert_offline, browse, one_line

HEADINGS = ["Recommendation", "Checkpoints", "Metrics against the step", "Checkpoint - base", "Numbers"]


@pytest.fixture(scope="module")
def sweep_page(tmp_path_factory) -> Path:
    from em_gen.providers.standin.server import StandInServer

    tmp = tmp_path_factory.mktemp("sweep")
    with StandInServer() as srv:
        url = srv.base_url
        r = run_cli("eval", "--sweep", f"openai:{url}#tuned", f"openai:{url}#reverting", "--base", f"openai:{url}#base",
                    "--heldout", "none", "--limit", "24", "--samples", "2", "--bootstrap", "200", "--no-progress",
                    "--cache", str(tmp / "cache"), "--out", str(tmp / "sweep.json"), "--report", timeout=300)
    assert r.returncode == 0, r.stderr
    assert f"page: {tmp / 'sweep.html'}" in r.stdout
    return tmp / "sweep.html"


def test_sweep_page_is_self_contained(sweep_page):
    html = sweep_page.read_text(encoding="utf-8")
    assert_offline(html)
    for title in HEADINGS:
        assert f">{title}</h2>" in html
    assert "Recommended: tuned" in html and "Reverting: reverting: assistant language rises again" in html
    assert "No checkpoint changes clean_boundaries." in html
    assert html.count("<svg") == 1 and "<img" not in html
    assert "recommended: tuned" in html  # the marker's legend entry inside the figure
    assert "no eval loss logged" in html  # targets given: no trainer_state.json to read
    assert "Participation per engagement level against its band" in html and "15%-20%" in html


def test_sweep_page_in_a_real_browser(sweep_page, tmp_path):
    dom = browse(sweep_page, tmp_path, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    h2 = [re.sub(r"<[^>]+>", "", m) for m in re.findall(r"<h2[^>]*>(.*?)</h2>", dom.stdout, re.S)]
    assert h2 == HEADINGS
    assert_offline(dom.stdout)
    shot = tmp_path / "sweep.png"
    r = browse(sweep_page, tmp_path, f"--screenshot={shot}", "--window-size=1280,3000")
    assert r.returncode == 0 and shot.exists(), r.stderr[-2000:]
    assert_not_blank(shot)


def test_report_flag_renders_a_sweep_json(sweep_page, tmp_path):
    src = tmp_path / "copy.json"
    src.write_text(sweep_page.with_suffix(".json").read_text())
    r = run_cli("eval", "--report", str(src), timeout=120)
    assert r.returncode == 0, r.stderr
    assert ">Metrics against the step</h2>" in (tmp_path / "copy.html").read_text()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"kind": "sweep", "base": {}}))
    r = run_cli("eval", "--report", str(bad))
    assert r.returncode == 2 and "not an em-gen eval --sweep report" in one_line(r.stderr)
    assert not bad.with_suffix(".html").exists()
