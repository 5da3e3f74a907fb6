"""Small pieces of the wire protocols: token counts, stop sequences and max_tokens, message text."""
from __future__ import annotations

import math

BAD_KEY, BAD_MODEL = "bad-key", "no-such-model"


def tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


def finish(text: str, max_tokens: int | None, stops: list[str]) -> tuple[str, str, str | None]:
    """Apply stop sequences and max_tokens like the real APIs: (text, 'stop'|'length'|'stop_sequence', seq)."""
    limit = len(text) if max_tokens is None else max(0, int(max_tokens)) * 4
    cut, seq = None, None
    for s in stops:
        i = text.find(s) if s else -1
        if i >= 0 and (cut is None or i < cut):
            cut, seq = i, s
    if cut is not None and cut + len(seq) <= limit:
        return text[:cut], "stop_sequence", seq
    if len(text) > limit:
        return text[:limit], "length", None
    return text, "stop", None


def _text_of(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content)
    return ""


class _ApiError(Exception):
    def __init__(self, status: int, kind: str, message: str, headers: dict | None = None, code: str | None = None):
        super().__init__(message)
        self.status, self.kind, self.message, self.headers, self.code = status, kind, message, headers or {}, code
