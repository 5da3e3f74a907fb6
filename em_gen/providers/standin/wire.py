"""The two wire protocols the stand-in speaks: the Anthropic messages API and the OpenAI chat and
completions APIs, plain and SSE-streamed, with their error bodies and rate-limit headers."""
from __future__ import annotations

import json
import math
import os
import socket
import time
from http.server import BaseHTTPRequestHandler

from em_gen.providers.standin.batches import is_batch_path
from em_gen.providers.standin.bodies import anthropic_body, openai_body
from em_gen.providers.standin.wire_util import BAD_KEY, BAD_MODEL, _ApiError, _text_of, finish, tokens  # noqa: F401


_ANTHROPIC_TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
                    429: "rate_limit_error", 500: "api_error", 503: "api_error", 529: "overloaded_error"}
_OPENAI_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 404: "invalid_request_error",
                 429: "requests", 500: "server_error", 503: "server_error"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "em-gen-standin/1.0"
    timeout = 120

    def log_message(self, *args):  # quiet
        pass

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no Nagle stalls on keep-alive
        self.server.standin._conns.add(self.connection)

    def finish(self):
        self.server.standin._conns.discard(self.connection)
        super().finish()

    # ---- plumbing -----------------------------------------------------------------------------
    def _send(self, status: int, body: dict, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        self.st._stats.add("by_status", status)  # counted before the client can see the reply
        self.send_response(status)
        for k, v in {"content-type": "application/json", "content-length": str(len(data)), **(headers or {})}.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _send_bytes(self, status: int, data: bytes, content_type: str) -> None:
        self.st._stats.add("by_status", status)
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, e: _ApiError) -> None:
        rid = os.urandom(12).hex()
        if self.anthropic:
            body = {"type": "error", "error": {"type": _ANTHROPIC_TYPES.get(e.status, e.kind), "message": e.message},
                    "request_id": f"req_{rid}"}
        else:
            body = {"error": {"message": e.message, "type": _OPENAI_TYPES.get(e.status, e.kind), "param": None, "code": e.code}}
        self._send(e.status, body, {**self._ids(rid), **e.headers})

    def _ids(self, rid: str) -> dict:
        return {"request-id": f"req_{rid}"} if self.anthropic else {"x-request-id": f"req_{rid}"}

    def _too_many(self, wait: float, limits: dict, what: str = "requests") -> _ApiError:
        headers = {"retry-after": str(max(1, math.ceil(wait))), "retry-after-ms": str(max(1, math.ceil(wait * 1000))),
                   **limits}
        return _ApiError(429, "rate_limit_error", f"Rate limit reached for {what}; please try again later.",
                         headers, "rate_limit_exceeded")

    # ---- requests -----------------------------------------------------------------------------
    def do_GET(self):
        self.st, self.anthropic = self.server.standin, "anthropic-version" in self.headers
        self._count()
        path = self.path.split("?")[0].rstrip("/")
        if is_batch_path(path[3:] if path.startswith("/v1/") else path):
            try:
                self._check_key()
                return self.st.batches.handle(self, "GET", path[3:] if path.startswith("/v1/") else path)
            except _ApiError as e:
                return self._error(e)
        if path not in ("/v1/models", "/models"):
            return self._error(_ApiError(404, "not_found_error", f"Unknown path {path}"))
        if self.anthropic:
            return self._send(200, {"data": [{"type": "model", "id": "stand-in", "display_name": "em-gen stand-in",
                                              "created_at": "2025-01-01T00:00:00Z"}],
                                    "has_more": False, "first_id": "stand-in", "last_id": "stand-in"})
        self._send(200, {"object": "list", "data": [{"id": "stand-in", "object": "model", "created": 1735689600,
                                                     "owned_by": "em-gen"}]})

    def _count(self):
        self.st._stats.add("requests")
        self.st._stats.add("by_path", self.path.split("?")[0])

    def do_POST(self):
        st = self.st = self.server.standin
        path = self.path.split("?")[0].rstrip("/")
        path = path[3:] if path.startswith("/v1/") else path
        self.anthropic = path == "/messages"
        self._count()
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        if st.latency:  # every reply, errors included; sleeping blocks only this connection's thread
            time.sleep(st.latency)
        try:
            if is_batch_path(path):
                self.anthropic = path.startswith("/messages")
                self._check_key()
                return st.batches.handle(self, "POST", path, raw)
            if path not in ("/messages", "/chat/completions", "/completions"):
                raise _ApiError(404, "not_found_error", f"Unknown path {self.path}")
            self._check_key()
            try:
                req = json.loads(raw or b"null")
            except ValueError:
                raise _ApiError(400, "invalid_request_error", "The request body is not valid JSON.") from None
            if not isinstance(req, dict):
                raise _ApiError(400, "invalid_request_error", "The request body must be a JSON object.")
            prompt, prefill = self._validate(path, req)
            if req["model"] == BAD_MODEL:
                msg = f"model: {BAD_MODEL}" if self.anthropic else \
                    f"The model `{BAD_MODEL}` does not exist or you do not have access to it."
                raise _ApiError(404, "not_found_error", msg, code="model_not_found")
            headers = self._admit(prompt, req)
            u_status, u_slow, u_stream = st.draw()
            self._http_fault(u_status)
            if u_slow < st.faults.p_slow:
                st._stats.add("http_faults", "slow")
                time.sleep(st.faults.slow_seconds)
            broken = bool(req.get("stream")) and u_stream < st.faults.p_stream_error
            self._answer(path, req, prompt, prefill, headers, broken)
        except _ApiError as e:
            self._error(e)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # a stand-in bug: answer 500 rather than hang up
            self.close_connection = True
            try:
                self._error(_ApiError(500, "api_error", f"stand-in failure: {e!r}"))
            except OSError:
                pass

    def _check_key(self):
        if self.anthropic:
            key = self.headers.get("x-api-key") or self.headers.get("authorization", "").removeprefix("Bearer ").strip()
            bad = "invalid x-api-key"
        else:
            key = self.headers.get("authorization", "").removeprefix("Bearer ").strip()
            bad = f"Incorrect API key provided: {key}."
        if not key or key == BAD_KEY:
            raise _ApiError(401, "authentication_error", bad if key else "Missing API key.", code="invalid_api_key")

    def _validate(self, path: str, req: dict) -> tuple[str, str]:
        need = {"/messages": ("model", "max_tokens", "messages"), "/chat/completions": ("model", "messages"),
                "/completions": ("model", "prompt")}[path]
        for name in need:
            if req.get(name) in (None, "", []):
                raise _ApiError(400, "invalid_request_error", f"{name}: Field required" if self.anthropic
                                else f"Missing required parameter: '{name}'.")
        if not isinstance(req["model"], str):
            raise _ApiError(400, "invalid_request_error", "model: Input should be a valid string")
        mt = req.get("max_tokens", req.get("max_completion_tokens"))
        if mt is not None and (not isinstance(mt, int) or isinstance(mt, bool) or mt < 1):
            raise _ApiError(400, "invalid_request_error", "max_tokens: must be a positive integer")
        if path == "/completions":
            p = req["prompt"]
            if isinstance(p, list):
                p = "".join(x for x in p if isinstance(x, str))
            if not isinstance(p, str):
                raise _ApiError(400, "invalid_request_error", "prompt: must be a string")
            return p, ""
        msgs = req["messages"]
        if not isinstance(msgs, list) or not all(isinstance(m, dict) and "role" in m for m in msgs):
            raise _ApiError(400, "invalid_request_error", "messages: each message needs a role and content")
        parts = [_text_of(req.get("system"))] if self.anthropic and req.get("system") else []
        parts += [_text_of(m.get("content")) for m in msgs]
        prefill = _text_of(msgs[-1].get("content")) if self.anthropic and msgs[-1]["role"] == "assistant" else ""
        return "\n\n".join(parts), prefill

    def _admit(self, prompt: str, req: dict) -> dict:
        """Count the request against the stand-in's rate limits (limits.py); its rate-limit headers."""
        st, self.ticket = self.st, None
        if not st.limits.active:
            return {}
        mt = req.get("max_tokens", req.get("max_completion_tokens"))
        self.ticket, headers, wait, what = st.limits.admit(self.anthropic, tokens(prompt), int(mt or 4096))
        if self.ticket is None:
            st._stats.add("rate_limited")
            raise self._too_many(wait, headers, what)
        return headers

    def _http_fault(self, u: float) -> None:
        f, st = self.st.faults, self.st
        if u < f.p429:
            st._stats.add("http_faults", "429")
            raise self._too_many(f.retry_after, st.limits.fault_headers(self.anthropic, f.retry_after))
        if u < f.p429 + f.p500:
            st._stats.add("http_faults", "500")
            raise _ApiError(500, "api_error", "Internal server error")
        if u < f.p429 + f.p500 + f.p529:
            status = 529 if self.anthropic else 503
            st._stats.add("http_faults", str(status))
            raise _ApiError(status, "overloaded_error", "Overloaded" if self.anthropic
                            else "The server is overloaded or not ready yet.")

    # ---- answers ------------------------------------------------------------------------------
    def _answer(self, path, req, prompt, prefill, headers, broken):
        rid = os.urandom(12).hex()
        headers = {**headers, **self._ids(rid)}
        if self.anthropic:
            body = anthropic_body(self.st, req, prompt, prefill, rid)
            self.st.limits.settle(self.ticket, body["usage"]["output_tokens"])
            if not req.get("stream"):
                return self._send(200, body, headers)
            return self._stream(headers, broken, *_anthropic_events(body))
        body = openai_body(self.st, req, path, prompt, rid)
        if req.get("stream"):
            chat, choice = path == "/chat/completions", body["choices"][0]
            text = choice["message"]["content"] if chat else choice["text"]
            with_usage = bool((req.get("stream_options") or {}).get("include_usage"))
            base = {k: body[k] for k in ("id", "created", "model", "system_fingerprint")}
            return self._stream(headers, broken, *_openai_events(base, chat, text, choice["finish_reason"],
                                                                 body["usage"] if with_usage else None))
        self._send(200, body, headers)

    def _stream(self, headers: dict, broken: bool, head: list, pieces: list, tail: list, error: bytes) -> None:
        """Server-sent events over chunked transfer encoding, one chunk per event; a broken stream
        stops halfway through the text with the protocol's error event."""
        self.send_response(200)
        for k, v in {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache",
                     "transfer-encoding": "chunked", **headers}.items():
            self.send_header(k, v)
        self.st._stats.add("by_status", 200)
        self.end_headers()
        if broken:
            self.st._stats.add("http_faults", "stream_error")
            pieces, tail, self.close_connection = pieces[: len(pieces) // 2], [error], True
        for event in head + pieces + tail:
            self.wfile.write(b"%X\r\n%s\r\n" % (len(event), event))
        self.wfile.write(b"0\r\n\r\n")


def _sse(data: dict, name: str | None = None) -> bytes:
    return (f"event: {name}\n" if name else "").encode() + b"data: " + json.dumps(data).encode() + b"\n\n"


def _pieces(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _openai_events(base: dict, chat: bool, text: str, reason: str, usage: dict | None):
    obj = "chat.completion.chunk" if chat else "text_completion"
    extra = {"usage": None} if usage else {}

    def event(piece, fin=None, first=False):
        if chat:
            delta = {"role": "assistant", "content": piece} if first else ({"content": piece} if piece else {})
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": fin}
        else:
            choice = {"index": 0, "text": piece, "logprobs": None, "finish_reason": fin}
        return _sse({**base, "object": obj, "choices": [choice], **extra})

    head = [event("", first=True)] if chat else []
    tail = [event("", reason)] + ([_sse({**base, "object": obj, "choices": [], "usage": usage})] if usage else [])
    error = _sse({"error": {"message": "The server had an error while processing your request.",
                            "type": "server_error", "param": None, "code": None}})
    return head, [event(p) for p in _pieces(text)], tail + [b"data: [DONE]\n\n"], error


def _anthropic_events(msg: dict):
    start = {**msg, "content": [], "stop_reason": None, "stop_sequence": None, "usage": {**msg["usage"], "output_tokens": 1}}
    head = [_sse({"type": "message_start", "message": start}, "message_start"),
            _sse({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                 "content_block_start"),
            _sse({"type": "ping"}, "ping")]
    pieces = [_sse({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}},
                   "content_block_delta") for p in _pieces(msg["content"][0]["text"])]
    tail = [_sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
            _sse({"type": "message_delta", "delta": {"stop_reason": msg["stop_reason"], "stop_sequence": msg["stop_sequence"]},
                  "usage": {"output_tokens": msg["usage"]["output_tokens"]}}, "message_delta"),
            _sse({"type": "message_stop"}, "message_stop")]
    error = _sse({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, "error")
    return head, pieces, tail, error
