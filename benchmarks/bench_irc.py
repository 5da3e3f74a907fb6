"""em-gen irc against a real IRC server: decision latency, participation per engagement level, and the
import figures of the run's transcript.

A real ngircd on 127.0.0.1 (apt-get install ngircd), scripted users on the irc library replaying the
held-out lines of benchmarks/irc/replay.txt (N lines per channel, default 200) into three channels at
LOW, MEDIUM and HIGH (prompt header CHANNEL: #general), `em-gen irc` in front of the stand-in's completions model answering the
next-speaker question with the middle of each header's band (`next_speaker="band"`). The flood cap is
lifted (--per-minute 1000): the replay runs in seconds, not hours. Then `em-gen irc --stats` and
`em-gen --import-logs` on the transcript into an OUT whose synthetic dataset holds --synthetic stand-in
conversations.

    .venv/bin/python benchmarks/bench_irc.py [--lines 200] [--latency 0] [--json OUT.json]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "deploy")]

from ircnet import NGIRCD, Ngircd, cast, records, replay, replay_lines, start_em, stop_em, wait_for  # noqa: E402

from em_gen.deploy.stats import format_stats, transcript_stats  # noqa: E402
from em_gen.library import load_library  # noqa: E402
from em_gen.providers.standin.server import StandInServer  # noqa: E402

LEVELS = {"#low": "LOW", "#medium": "MEDIUM", "#high": "HIGH"}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=200)
    ap.add_argument("--latency", type=float, default=0.0, help="stand-in latency per request (s)")
    ap.add_argument("--json", default=None)
    ap.add_argument("--synthetic", type=int, default=50, help="stand-in conversations in OUT's synthetic dataset "
                                                              "(what the import deduplicates against)")
    args = ap.parse_args()
    if NGIRCD is None:
        print("ngircd is not installed (apt-get install ngircd)", file=sys.stderr)
        return 2
    lib = load_library()
    work = Path(tempfile.mkdtemp(prefix="bench-irc-"))
    ircd = Ngircd(work).start()
    st = StandInServer(library=lib, next_speaker="band", latency=args.latency)
    st.start()
    tr = work / "transcript.jsonl"
    em = start_em(ircd.port, tr, f"openai:{st.base_url}/v1#em", [f"{c}=#general={lv}" for c, lv in LEVELS.items()],
                  "--per-minute", "1000")
    t0 = time.monotonic()
    try:
        wait_for(lambda: len(records(tr, "join")) == len(LEVELS), 20, "Em joins")
        for i, ch in enumerate(LEVELS):
            lines = replay_lines(args.lines, skip=(i * args.lines) % 400)
            users = cast(ircd.port, ch, lines)
            replay(users, tr, ch, lines, timeout=30)
            for u in users.values():
                u.close()
    finally:
        rc, err = stop_em(em)
        st.stop()
        ircd.stop()
    wall = time.monotonic() - t0
    s = transcript_stats(tr, lib)
    print(format_stats(s))
    print(f"replay wall time {wall:.1f} s for {args.lines * len(LEVELS)} user lines; em-gen irc exit {rc}")
    out = work / "out"
    if args.synthetic:
        subprocess.run([sys.executable, "-m", "em_gen.cli", "--batch", str(args.synthetic), "--provider", "offline",
                        "--no-progress", "--out", str(out)], capture_output=True, text=True, cwd=ROOT, check=True)
    imp = subprocess.run([sys.executable, "-m", "em_gen.cli", "--import-logs", str(tr), "--out", str(out)],
                         capture_output=True, text=True, cwd=ROOT)
    print(imp.stdout + imp.stderr)
    figures = json.loads((out / "real" / "imports.jsonl").read_text().splitlines()[-1]) if imp.returncode == 0 else None
    if args.json:
        Path(args.json).write_text(json.dumps({"stats": s, "import": figures, "wall_s": wall}, indent=1))
    print(f"work folder: {work}")
    return 0 if rc == 0 and imp.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
