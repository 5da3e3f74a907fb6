"""Answer bodies of the two wire protocols (a message, a chat completion or a completion), shared by
the live endpoints and the batch results."""
from __future__ import annotations

import time

from em_gen.providers.standin.wire_util import _text_of, finish, tokens


def _completion(st, req: dict, prompt: str, prefill: str, stop_key: str,
                model: str | None = None) -> tuple[str, str, str | None]:
    full = st.generate(prompt, model)
    if prefill and full.startswith(prefill):
        full = full[len(prefill):]
    stop = req.get(stop_key)
    stops = [stop] if isinstance(stop, str) else [s for s in (stop or []) if isinstance(s, str)]
    return finish(full, req.get("max_tokens", req.get("max_completion_tokens")), stops)


def anthropic_body(st, req: dict, prompt: str, prefill: str, rid: str) -> dict:
    model = req["model"]
    text, why, seq = _completion(st, req, prompt, prefill, "stop_sequences")
    blocks = []
    for c in [req.get("system")] + [m.get("content") for m in req["messages"]]:
        blocks += [(b.get("text", ""), bool(b.get("cache_control"))) for b in c if isinstance(b, dict)] \
            if isinstance(c, list) else [(_text_of(c), False)]
    inp, created, read = st.cache_usage(model, blocks)
    usage = {"input_tokens": inp, "output_tokens": tokens(text), "cache_creation_input_tokens": created,
             "cache_read_input_tokens": read,
             "cache_creation": {"ephemeral_5m_input_tokens": created, "ephemeral_1h_input_tokens": 0}}
    reason = {"stop": "end_turn", "length": "max_tokens", "stop_sequence": "stop_sequence"}[why]
    return {"id": f"msg_{rid}", "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": text}], "stop_reason": reason, "stop_sequence": seq, "usage": usage}


def openai_body(st, req: dict, path: str, prompt: str, rid: str) -> dict:
    text, why, _ = _completion(st, req, prompt, "", "stop", req["model"] if path == "/completions" else None)
    inp, out = tokens(prompt), tokens(text)
    usage = {"prompt_tokens": inp, "completion_tokens": out, "total_tokens": inp + out}
    chat, reason = path == "/chat/completions", ("length" if why == "length" else "stop")
    choice = {"index": 0, "message": {"role": "assistant", "content": text, "refusal": None}} if chat \
        else {"index": 0, "text": text}
    return {"id": f"{'chatcmpl' if chat else 'cmpl'}-{rid}", "created": int(time.time()), "model": req["model"],
            "system_fingerprint": "fp_standin", "object": "chat.completion" if chat else "text_completion",
            "choices": [{**choice, "logprobs": None, "finish_reason": reason}], "usage": usage}
