import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from em_gen.library import load_library

ROOT = Path(__file__).resolve().parent.parent
KEY_VARS = ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "OPENAI_API_KEY", "OPENAI_BASE_URL")


@pytest.fixture(scope="session")
def lib():
    return load_library()


@pytest.fixture(autouse=True)
def no_real_keys(monkeypatch, tmp_path_factory):
    """Tests never see a real key or endpoint from the environment, nor write to the user's cache
    (judge-check records, the --full suggestion)."""
    for k in KEY_VARS:
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("EM_GEN_CACHE_DIR", str(tmp_path_factory.mktemp("em-gen-cache")))


@pytest.fixture
def server(lib):
    from em_gen.providers.standin.server import StandInServer
    srv = StandInServer(library=lib)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def standin(lib):
    """Start stand-in servers on demand, `standin(**kw)` (`cls=` a StandInServer subclass); all are
    stopped when the test ends."""
    from em_gen.providers.standin.server import StandInServer
    made = []

    def start(cls=StandInServer, **kw):
        srv = cls(library=lib, **kw)
        srv.start()
        made.append(srv)
        return srv
    yield start
    for srv in made:
        srv.stop()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def run_cli(*args: str, env: dict | None = None, timeout: float = 120, cwd: Path | None = None):
    """Run the real `em-gen` entry point in a subprocess."""
    full_env = {k: v for k, v in os.environ.items() if k not in KEY_VARS}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "em_gen.cli", *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout, cwd=cwd or ROOT)


def run_against_standin(lib, tmp_path, flags, n, concurrency=16, tag="q"):
    """The runner (real openai SDK) sending `n` requests of plan `tag` to a stand-in process with `flags`,
    `concurrency` at a time: (responses by HTTP status, the server's span in seconds, the runner's limiter)."""
    import asyncio
    import time

    from em_gen.generate.plan import make_plan
    from em_gen.generate.prompting import build_request
    from em_gen.generate.runner import RunConfig, Runner
    from em_gen.providers import Pricing
    from em_gen.providers.openai_provider import OpenAIProvider

    reqs = [build_request(lib, j) for j in make_plan(lib, n, 0, tag)]
    port_file, stats_file = tmp_path / "port", tmp_path / "stats.json"
    srv = subprocess.Popen([sys.executable, "-m", "em_gen.providers.standin.server", "--port-file", str(port_file),
                            "--stats-file", str(stats_file), "--latency", "0.05", *flags], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not port_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port_file.read_text().strip()}/v1"
        runner = Runner(lib, None, OpenAIProvider("m", "x", base_url=url), Pricing("m", None),
                        RunConfig(concurrency=concurrency, progress=False))

        async def go():
            queue = list(reqs)

            async def worker():
                while queue:
                    await runner.call(queue.pop())
            await asyncio.gather(*(worker() for _ in range(concurrency)))
        asyncio.run(go())
    finally:
        srv.terminate()
        srv.wait(timeout=10)
    stats = json.loads(stats_file.read_text())
    return {int(k): v for k, v in stats["by_status"].items()}, stats["span_s"], runner.limiter
