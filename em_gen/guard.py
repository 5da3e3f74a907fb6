"""The one error guard of every em-gen command (`em-gen` and `em-gen eval`): the user sees one line
and an exit code, never a traceback."""
from __future__ import annotations

import errno
import os
import sys
import tempfile
import traceback
from pathlib import Path

from em_gen.library import BadInput

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def guarded(prog: str, body, *, failures: tuple = (), interrupted: str = "interrupted",
            os_hint: str = "") -> int:
    """Run a command body so that the user sees one line and an exit code, never a traceback:
    bad input 2, a failed run 1 (the traceback of an unexpected error goes to a log file)."""
    try:
        return body()
    except SystemExit as e:  # --help
        return e.code if isinstance(e.code, int) else (0 if e.code is None else EXIT_USAGE)
    except BadInput as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except failures as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:
        print(f"{prog}: {interrupted}", file=sys.stderr)
        return EXIT_FAIL
    except OSError as e:
        where = f" ({e.filename})" if getattr(e, "filename", None) else ""
        what = "disk full" if e.errno == errno.ENOSPC else (e.strerror or str(e))
        print(f"{prog}: error: {what}{where}{os_hint}", file=sys.stderr)
        return EXIT_FAIL
    except Exception as e:  # noqa: BLE001 - the last line of defence: one line, details in a log
        log = Path(tempfile.gettempdir()) / f"{prog.replace(' ', '-')}-error-{os.getpid()}.log"
        try:
            log.write_text(traceback.format_exc())
            hint = f" (details in {log})"
        except OSError:
            hint = ""
        print(f"{prog}: error: internal error: {type(e).__name__}: {e}{hint}", file=sys.stderr)
        return EXIT_FAIL
