"""The offline stand-in: a real HTTP server on 127.0.0.1 that speaks the Anthropic and OpenAI wire
protocols (server.py, with fault injection) and answers with conversations composed from the
scenario library (compose.py). For tests and for a first run without an API key; not training-grade."""
from __future__ import annotations


def start_offline(lib):
    """Start a stand-in server for `lib` in this process (a daemon thread); the caller stops it."""
    from em_gen.providers.standin.server import StandInServer
    server = StandInServer(library=lib)
    server.start()
    return server
