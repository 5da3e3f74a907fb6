"""Models the stand-in pretends to serve on `/v1/completions`, for checkpoint sweeps in tests: the
served model's name picks a voice for Em's lines when the prompt is a bare channel log (an eval
probe, "ENGAGEMENT: ..." first), as a LoRA server serves a base and its adapters under their names.

  base, assistant   the untuned base: Em answers like a helpful assistant, every time
  reverting         a checkpoint drifting back: the assistant voice on about half the probes
                    (chosen by the prompt), the stand-in's Em on the rest
  anything else     the stand-in's Em (the tuned model), as before
"""
from __future__ import annotations

import hashlib
import re

ASSISTANT_SHARE = {"base": 1.0, "assistant": 1.0, "reverting": 0.5}
LINES = ("Great question! I'd be happy to help with that. Here's a step-by-step guide:",
         "Certainly! As an AI language model, I can help you with that. Let me know if you need anything else!",
         "Sure! Here are a few tips to get you started. I hope this helps!",
         "Absolutely, I'd be glad to assist. Feel free to ask if you have any other questions!")
_NICK = re.compile(r"^<([^<>\s]{1,32})> ", re.M)


def _u(prompt: str, salt: str) -> float:
    return int.from_bytes(hashlib.sha256(f"{salt}:{prompt}".encode("utf-8", "replace")).digest()[:8], "big") / 2 ** 64


def assistant_voice(prompt: str, em: str) -> str:
    """An assistant's continuation of a log prefix: Em's line first when the prompt ends with `<Em>`."""
    others = [n for n in _NICK.findall(prompt) if n != em] or ["kestrel"]
    who, k = others[-1], int(_u(prompt, "line") * len(LINES))
    one, two = LINES[k], LINES[(k + 1) % len(LINES)]
    tail = f"<{who}> wow ok\n<{em}> {two}\n"
    if prompt.rstrip(" ").endswith(f"<{em}>"):
        return ("" if prompt.endswith(" ") else " ") + one + "\n" + tail
    return ("" if prompt.endswith("\n") else "\n") + f"<{em}> {one}\n" + tail


def voice(model: str | None, prompt: str, text: str, em: str) -> str:
    """The completion `model` gives for `prompt`, where `text` is the stand-in's own (Em's voice)."""
    share = ASSISTANT_SHARE.get(model or "")
    if share is None or not prompt.startswith("ENGAGEMENT:") or _u(prompt, "persona") >= share:
        return text
    return assistant_voice(prompt, em)
