"""Optional LLM judge (`--judge`): grades a conversation that passed every rule against the plan's
success metrics, for what patterns cannot see. Its raw answer is journaled like any paid response,
so `--revalidate` reuses it for free."""
from __future__ import annotations

import json
import re

from em_gen.library import Library
from em_gen.providers.base import Request

JUDGE_MAX_TOKENS = 400
_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


def judge_request(lib: Library, job_id: str, text: str, temperature: float | None = None) -> Request:
    return Request(job_id=job_id, system=lib.prompts["judge.md"], user=f"Grade this log:\n\n{text}\n",
                   max_tokens=JUDGE_MAX_TOKENS, temperature=temperature, stop=[], part=-1)


def read_judgement(raw: str) -> dict:
    """{"ok": bool, "reasons": [...], "scores": {...}} from the judge's answer. An answer that is not
    the JSON asked for fails the conversation: nothing doubtful is kept."""
    m = _OBJECT.search(raw or "")
    try:
        data = json.loads(m.group(0)) if m else None
    except ValueError:
        data = None
    if not isinstance(data, dict) or data.get("verdict") not in ("pass", "fail"):
        return {"ok": False, "reasons": ["llm_judge: the judge's answer was not the JSON verdict asked for"],
                "scores": {}}
    reasons = [str(r) for r in data.get("reasons") or [] if str(r).strip()]
    ok = data["verdict"] == "pass"
    return {"ok": ok, "reasons": [] if ok else [f"llm_judge: {r}" for r in reasons or ["failed without a reason"]],
            "scores": data.get("scores") if isinstance(data.get("scores"), dict) else {}}
