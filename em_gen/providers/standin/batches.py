"""The stand-in's batch APIs, on loopback: Anthropic `/v1/messages/batches` (create, retrieve, list,
results as JSONL, cancel) and OpenAI `/v1/files` (multipart upload, content) plus `/v1/batches`
(create, retrieve, list, cancel).

A batch ends `delay` seconds after it was created (at once when canceled). Each request then
succeeds, errors or expires by a seeded draw (`p_error`, `p_expired`); a successful one is answered
exactly as the live endpoint would answer it. Every request submitted is counted by custom_id, so a
test can prove that nothing that succeeded was ever submitted twice.
"""
from __future__ import annotations

import collections
import json
import os
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.parser import BytesParser
from email.policy import HTTP

from em_gen.providers.standin.bodies import anthropic_body, openai_body
from em_gen.providers.standin.jobs import seed_of
from em_gen.providers.standin.wire_util import _ApiError, _text_of


def is_batch_path(path: str) -> bool:
    return path.startswith(("/messages/batches", "/batches", "/files"))


def _iso(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, timezone.utc).isoformat().replace("+00:00", "Z")


def _prompt(body: dict, anthropic: bool) -> tuple[str, str]:
    if "prompt" in body:
        return str(body["prompt"]), ""
    msgs = body.get("messages") or []
    parts = [_text_of(body.get("system"))] if anthropic and body.get("system") else []
    parts += [_text_of(m.get("content")) for m in msgs]
    return "\n\n".join(parts), ""


@dataclass
class _Batch:
    id: str
    anthropic: bool
    requests: list  # (custom_id, body, path)
    created: float
    metadata: dict = field(default_factory=dict)
    input_file_id: str = ""
    endpoint: str = "/v1/chat/completions"
    canceled_at: float | None = None
    results: list | None = None  # (custom_id, kind, body or error)
    output_file_id: str | None = None
    error_file_id: str | None = None


class BatchStore:
    def __init__(self, st, delay: float = 0.5, p_error: float = 0.0, p_expired: float = 0.0):
        self.st, self.delay, self.p_error, self.p_expired = st, float(delay), float(p_error), float(p_expired)
        self.batches: dict[str, _Batch] = {}
        self.files: dict[str, bytes] = {}
        self.submitted: collections.Counter = collections.Counter()  # custom_id -> times submitted
        self.lock = threading.Lock()

    # ---- lifecycle --------------------------------------------------------------------------------
    def _new(self, anthropic: bool, requests: list, metadata=None, input_file_id="") -> _Batch:
        bid = ("msgbatch_" if anthropic else "batch_") + os.urandom(10).hex()
        b = _Batch(bid, anthropic, requests, time.time(), metadata or {}, input_file_id)
        with self.lock:
            self.batches[bid] = b
            for cid, _, _ in requests:
                self.submitted[cid] += 1
        self.st._stats.add("batch_requests", n=len(requests))
        return b

    def _ended(self, b: _Batch) -> bool:
        if b.results is None and (b.canceled_at is not None or time.time() - b.created >= self.delay):
            self._finish(b)
        return b.results is not None

    def _finish(self, b: _Batch) -> None:
        out = []
        for cid, body, path in b.requests:
            u = random.Random(seed_of(f"{cid}#{self.submitted[cid]}")).random()  # the same for every run
            if b.canceled_at is not None:
                out.append((cid, "canceled", None))
            elif u < self.p_error:
                out.append((cid, "errored", "Internal server error"))
            elif u < self.p_error + self.p_expired:
                out.append((cid, "expired", None))
            else:
                prompt, prefill = _prompt(body, b.anthropic)
                rid = os.urandom(12).hex()
                out.append((cid, "succeeded", anthropic_body(self.st, body, prompt, prefill, rid) if b.anthropic
                            else openai_body(self.st, body, path, prompt, rid)))
        b.results = out
        if not b.anthropic:
            ok = [r for r in out if r[1] == "succeeded"]
            bad = [r for r in out if r[1] != "succeeded"]
            b.output_file_id = self._store_file(self._openai_lines(ok)) if ok else None
            b.error_file_id = self._store_file(self._openai_lines(bad)) if bad else None

    def _store_file(self, data: bytes) -> str:
        fid = "file-" + os.urandom(10).hex()
        self.files[fid] = data
        return fid

    def _counts(self, b: _Batch) -> dict:
        c = collections.Counter(kind for _, kind, _ in (b.results or []))
        return {"processing": 0 if b.results is not None else len(b.requests), "succeeded": c["succeeded"],
                "errored": c["errored"], "expired": c["expired"], "canceled": c["canceled"]}

    # ---- the two shapes -----------------------------------------------------------------------------
    def _anthropic_view(self, b: _Batch, base: str) -> dict:
        ended = self._ended(b)
        return {"id": b.id, "type": "message_batch", "processing_status": "ended" if ended else
                ("canceling" if b.canceled_at else "in_progress"), "request_counts": self._counts(b),
                "created_at": _iso(b.created), "expires_at": _iso(b.created + 86400),
                "ended_at": _iso(time.time()) if ended else None, "archived_at": None,
                "cancel_initiated_at": _iso(b.canceled_at),
                "results_url": f"{base}/v1/messages/batches/{b.id}/results" if ended else None}

    def _openai_view(self, b: _Batch) -> dict:
        ended = self._ended(b)
        c = self._counts(b)
        status = "in_progress" if not ended else ("cancelled" if b.canceled_at else "completed")
        return {"id": b.id, "object": "batch", "endpoint": b.endpoint,
                "input_file_id": b.input_file_id, "completion_window": "24h", "status": status,
                "created_at": int(b.created), "output_file_id": b.output_file_id, "error_file_id": b.error_file_id,
                "metadata": b.metadata, "errors": None,
                "request_counts": {"total": len(b.requests), "completed": c["succeeded"],
                                   "failed": c["errored"] + c["expired"] + c["canceled"]}}

    def _openai_lines(self, rows) -> bytes:
        lines = []
        for cid, kind, body in rows:
            rid = "batch_req_" + os.urandom(8).hex()
            if kind == "succeeded":
                line = {"id": rid, "custom_id": cid, "response": {"status_code": 200, "request_id": rid, "body": body},
                        "error": None}
            elif kind == "errored":
                line = {"id": rid, "custom_id": cid, "error": None, "response": {
                    "status_code": 500, "request_id": rid, "body": {"error": {"message": body, "type": "server_error"}}}}
            else:
                code = "batch_expired" if kind == "expired" else "batch_cancelled"
                line = {"id": rid, "custom_id": cid, "response": None,
                        "error": {"code": code, "message": f"This request was {kind} before it ran."}}
            lines.append(json.dumps(line))
        return ("\n".join(lines) + "\n").encode()

    def _anthropic_results(self, b: _Batch) -> bytes:
        lines = []
        for cid, kind, body in b.results or []:
            if kind == "succeeded":
                result = {"type": "succeeded", "message": body}
            elif kind == "errored":
                result = {"type": "errored", "error": {"type": "error", "error": {"type": "api_error", "message": body}}}
            else:
                result = {"type": kind}
            lines.append(json.dumps({"custom_id": cid, "result": result}))
        return ("\n".join(lines) + "\n").encode()

    # ---- HTTP -------------------------------------------------------------------------------------
    def handle(self, h, method: str, path: str, raw: bytes = b"") -> None:
        base = f"http://{h.server.server_address[0]}:{h.server.server_address[1]}"
        parts = [p for p in path.split("/") if p]
        try:
            if parts[:2] == ["messages", "batches"]:
                return self._anthropic(h, method, parts[2:], raw, base)
            if parts[0] == "files":
                return self._files(h, method, parts[1:], raw)
            return self._openai(h, method, parts[1:], raw)
        except (KeyError, IndexError):
            raise _ApiError(404, "not_found_error", f"Unknown batch or file {path}") from None

    def _anthropic(self, h, method, rest, raw, base):
        if method == "POST" and not rest:
            body = json.loads(raw or b"{}")
            reqs = [(r["custom_id"], r["params"], "/messages") for r in body.get("requests", [])]
            return h._send(200, self._anthropic_view(self._new(True, reqs), base))
        if not rest:
            data = [self._anthropic_view(b, base) for b in self.batches.values() if b.anthropic]
            return h._send(200, {"data": data, "has_more": False, "first_id": None, "last_id": None})
        b = self.batches[rest[0]]
        if rest[1:] == ["cancel"] and method == "POST":
            b.canceled_at = b.canceled_at or time.time()
            return h._send(200, self._anthropic_view(b, base))
        if rest[1:] == ["results"]:
            if not self._ended(b):
                raise KeyError(b.id)
            return h._send_bytes(200, self._anthropic_results(b), "application/binary")
        return h._send(200, self._anthropic_view(b, base))

    def _files(self, h, method, rest, raw):
        if method == "POST" and not rest:
            msg = BytesParser(policy=HTTP).parsebytes(
                b"Content-Type: " + h.headers.get("content-type", "").encode() + b"\r\n\r\n" + raw)
            fields = {p.get_param("name", header="content-disposition"): p for p in msg.iter_parts()}
            f = fields["file"]
            fid = self._store_file(f.get_payload(decode=True))
            return h._send(200, {"id": fid, "object": "file", "bytes": len(self.files[fid]), "created_at": int(time.time()),
                                 "filename": f.get_filename() or "batch.jsonl", "purpose": "batch",
                                 "status": "processed"})
        if rest[1:] == ["content"]:
            return h._send_bytes(200, self.files[rest[0]], "application/octet-stream")
        return h._send(200, {"id": rest[0], "object": "file", "bytes": len(self.files[rest[0]]),
                             "created_at": int(time.time()), "filename": "batch.jsonl", "purpose": "batch",
                             "status": "processed"})

    def _openai(self, h, method, rest, raw):
        if method == "POST" and not rest:
            body = json.loads(raw or b"{}")
            lines = [json.loads(x) for x in self.files[body["input_file_id"]].decode().splitlines() if x.strip()]
            endpoint = body.get("endpoint", "/v1/chat/completions")
            path = endpoint[3:] if endpoint.startswith("/v1/") else endpoint
            reqs = [(x["custom_id"], x["body"], path) for x in lines]
            batch = self._new(False, reqs, body.get("metadata"), body["input_file_id"])
            batch.endpoint = endpoint
            return h._send(200, self._openai_view(batch))
        if not rest:
            return h._send(200, {"object": "list", "data": [self._openai_view(b) for b in self.batches.values()
                                                            if not b.anthropic], "has_more": False})
        b = self.batches[rest[0]]
        if rest[1:] == ["cancel"] and method == "POST":
            b.canceled_at = b.canceled_at or time.time()
            view = self._openai_view(b)
            return h._send(200, view)
        return h._send(200, self._openai_view(b))
