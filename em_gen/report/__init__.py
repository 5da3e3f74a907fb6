"""Reports as one self-contained HTML page (inline SVG figures drawn with matplotlib, no script, no
external fetch): `em-gen --report` for a generation run (run_report.py, from the output folder) and
`em-gen eval --report FILE` for an eval report JSON (eval_report.py) or a sweep's (sweep_report.py). data.py and text.py gather the
numbers, charts.py and text_charts.py draw them (plot.py: the shared matplotlib set-up), page.py
holds the HTML building blocks."""
from __future__ import annotations


def write_run_report(lib, out):
    """OUT/report.html for the run(s) in `out`; BadInput when `out` holds no run."""
    from em_gen.report.text import Helper
    helper = Helper()  # before matplotlib is imported: the tokenizer loads meanwhile in another process
    try:
        from em_gen.report.run_report import write_run_report as write
        return write(lib, out, helper)
    finally:
        helper.close()


def write_eval_report(path):
    """REPORT.html next to the eval report JSON `path`; BadInput when it is not one."""
    from em_gen.report.eval_report import write_eval_report as write
    return write(path)


def write_report_page(path):
    """The page for any eval report JSON: a sweep's (sweep_report.py) or one eval's (eval_report.py)."""
    from pathlib import Path

    from em_gen.report.eval_report import read_json, write_eval_report as write_eval
    path = Path(path)
    report = read_json(path)
    if isinstance(report, dict) and report.get("kind") == "sweep":
        from em_gen.report.sweep_report import write_sweep_report
        return write_sweep_report(path, report)
    return write_eval(path, report)
