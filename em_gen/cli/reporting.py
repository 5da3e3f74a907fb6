"""`--report`: OUT/report.html, or one line naming report.html when the folder cannot take it."""
from __future__ import annotations

import os
from pathlib import Path

from em_gen.library import BadInput, Library
from em_gen.report.run_report import REPORT


def _unwritable(out: Path, why: str) -> BadInput:
    return BadInput(f"--report: cannot write {out / REPORT} ({why}): the folder is read-only to you; "
                    f"copy the folder somewhere writable (cp -r {out} ...) and run --report --out on the copy")


def report_command(lib: Library, out: Path) -> int:
    if out.is_dir() and not os.access(out, os.W_OK):  # found before the page is built, not after
        raise _unwritable(out, "Permission denied")
    from em_gen.report import write_run_report
    try:
        page = write_run_report(lib, out)
    except PermissionError as e:
        raise _unwritable(out, e.strerror or str(e)) from None
    print(f"report: {page} ({page.stat().st_size / 1024:.0f} KB; opens offline)")
    return 0
