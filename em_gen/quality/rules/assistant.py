"""Assistant language, markdown and code from Em: `assistant_language`, `markdown`, `code_block`
(Em's lines only; Em may quote assistant-speak in double quotes)."""
from __future__ import annotations

import re

from em_gen.quality.rules.context import Context, _find_in, _short, _starts

# ---------------------------------------------------------------------------------------------
# assistant language, markdown and code from Em
# ---------------------------------------------------------------------------------------------
_ASSISTANT = re.compile(
    r"\b(?:"
    r"how (?:can|may|could) i (?:help|assist)"
    r"|what can i (?:help you with|do for you)"
    r"|(?:happy|glad|here|delighted|always happy) to (?:help|assist)"
    r"|i'?d be (?:more than )?(?:glad|happy|delighted) to"
    r"|i(?:'m| am) (?:here|designed|programmed|trained) to (?:help|assist)"
    r"|i can (?:definitely |certainly )?help (?:you )?with (?:that|this)"
    r"|let me know if (?:you (?:need|have|want|'?d like|would like)|there(?:'s| is)|i can|anything)"
    r"|feel free to (?:ask|reach out|let me know|ping|message|dm)"
    r"|don'?t hesitate to"
    r"|(?:is there )?anything else i can"
    r"|would you like me to"
    r"|as an ai(?: language)? (?:model|assistant)"
    r"|as a (?:large )?language model"
    r"|i(?:'m| am) (?:just |only )?(?:an ai|an?) (?:language model|ai assistant|assistant|chatbot)"
    r"|i don'?t have (?:personal )?(?:opinions|feelings|preferences|emotions|beliefs)"
    r"|great question"
    r"|(?:here'?s|here is) a (?:step[- ]by[- ]step|quick (?:guide|rundown|overview|breakdown)|breakdown|summary)"
    r"|step[- ]by[- ]step (?:guide|instructions|breakdown|process|approach)"
    r"|i understand your (?:concern|frustration|feelings)"
    r"|i apologi[sz]e for (?:any|the) (?:confusion|inconvenience)"
    r"|i hope (?:this|that) (?:helps|clears|answers)|hope (?:this|that) helps"
    r"|i hope you understand"
    r"|i(?:'m| am) sorry,? but i (?:can'?t|cannot|am unable|won'?t be able)"
    r"|i(?:'m| am) (?:unable|not able) to (?:assist|help|provide)"
    r"|i can'?t assist with"
    r"|it'?s (?:important|worth) (?:to note|noting)|it is important to note"
    r"|please note that"
    r"|in (?:conclusion|summary),|to summari[sz]e,"
    r"|thank(?:s| you) for (?:reaching out|your patience|your question|asking)"
    r"|have a (?:great|wonderful|lovely|fantastic|nice) day[!.]"
    r"|happy (?:coding|studying|learning)[!.]"
    r"|let me know (?:if|how) (?:that|it|this) (?:works|goes|helps)"
    r"|glad (?:i|to) (?:could|was able to|have) (?:help|assist|contribute)"
    r"|that sounds (?:really |so )?(?:frustrating|stressful|difficult|tough)!"
    r"|i'?d (?:love|like) to help|i wish i could help|i'?d help(?: you)?,? but"
    r"|step (?:1|one)\s*[:.,-]|first,? you\b[^.]*\bthen,? you\b"
    r")"
    r"|^(?:certainly|absolutely|of course|sure(?: thing)?)[!,.]? (?:here|i'?d be|i can help)"
    r"|^certainly[!.]",
    re.MULTILINE,
)  # matched against lowercased text
# Literal words one of which every _ASSISTANT match contains: a cheap `in` test first, the regex
# only on the few Em messages that contain one.
_ASSISTANT_KEYS = (
    "help", "assist", "glad", "happy", "delighted", "let me know", "feel free", "hesitate",
    "anything else", "like me to", "as an ai", "language model", "an ai", "chatbot", "have personal",
    "have opinions", "have feelings", "have preferences", "have emotions", "have beliefs",
    "question", "step", "understand your", "apologi", "hope", "sorry", "unable", "not able", "can't assist",
    "cant assist", "note", "conclusion", "summar", "thank", "day", "coding", "studying", "learning",
    "certainly", "absolutely", "of course", "sure", "frustrating", "stressful", "difficult", "tough",
    "contribute", "first", "what can i", "noting",
)
_QUOTED = re.compile(r'"[^"\n]*"|“[^”\n]*”')
_MD_LINE = re.compile(r"^\s*(?:#{1,6}\s+\S|[-*•+]\s+\S|\d{1,2}[.)]\s+\S|>\s+\S)", re.MULTILINE)
_MD_LINE_START = ("#", "-", "*", "•", "+", ">", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9")
_MD_BOLD = re.compile(r"\*\*[^*\n]+\*\*|(?<!\w)__[^_\n]+__(?!\w)")
_MD_INLINE_LIST = re.compile(r"(?:^|\s)1[.)]\s+\S.*?\s2[.)]\s+\S.*?\s3[.)]\s+\S")
_CODE_FENCE = "```"
_CODE_LINE = re.compile(
    r"^\s*(?:def \w+\(.*\)\s*:|class \w+\s*[:(]|import [\w.]+\s*$|import [\w.]+(?:, ?[\w.]+)+|"
    r"from [\w.]+ import \w|#include\s*<|function\s*\w*\s*\([^)]*\)\s*\{|for \w+ in [\w.()\[\]]+\s*:|"
    r"print\(.*\)|console\.log\(|select\s+[\w*, ]+\s+from\s+\w+|public (?:static )?(?:void|int|class)\b|"
    r"(?:const|let|var) \w+\s*=\s*\S|\w+(?:\.\w+)*\s*=\s*[\w\[{(\"'].*;\s*$|[{}]\s*;?\s*$|</?[a-z]+[^>]*>\s*$|"
    r"\$ (?:sudo|pip|npm|git|cd|ls|python)\b)",
    re.MULTILINE | re.IGNORECASE,
)
_CODE_KEYS = ("`", "(", "{", "}", ";", "=", "import ", "def ", "class ", "select ", "<", "$ ", "#include")
_INLINE_CODE = re.compile(r"`[^`\n]+`")  # Em has no reason to write backticks at all


def _markdown(t: str) -> bool:
    if "**" in t or "__" in t:
        if _MD_BOLD.search(t):
            return True
    if t.lstrip()[:1] in _MD_LINE_START or "\n" in t:
        if _MD_LINE.search(t):
            return True
    if ("1." in t or "1)" in t) and _MD_INLINE_LIST.search(t):
        return True
    return False


def _code(t: str) -> bool:
    if _CODE_FENCE in t:
        return True
    tl = t.lower()
    if not any(k in tl for k in _CODE_KEYS):
        return False
    return bool(_CODE_LINE.search(t) or ("`" in t and _INLINE_CODE.search(t)))


def check_assistant(c: Context) -> list[str]:
    out = []
    em_idx = c.em_idx
    if not em_idx:
        return out
    lower, texts = c.lower, c.texts
    em_lower = [lower[i] for i in em_idx]
    em_joined = "\n".join(em_lower)
    em_starts = _starts(em_lower)
    keys = [k for k in _ASSISTANT_KEYS if k in em_joined]
    asst = set(_find_in(em_joined, em_starts, keys)) if keys else set()
    code_keys = [k for k in _CODE_KEYS if k in em_joined]
    code = set(_find_in(em_joined, em_starts, code_keys)) if code_keys else set()
    md = "**" in em_joined or "__" in em_joined or "1." in em_joined or "1)" in em_joined
    for j, i in enumerate(em_idx):
        t = texts[i]
        if j in asst:
            tl = em_lower[j]
            # Em quoting assistant-speak ("if I ever say "happy to help" unplug me") is not using it
            m = _ASSISTANT.search(_QUOTED.sub('""', tl) if '"' in tl or "“" in tl else tl)
            if m:
                out.append(f"assistant_language: {c.em} (message {i + 1}) says {m.group(0).strip()!r}: {_short(t)!r}")
        if (md or t.lstrip()[:1] in _MD_LINE_START or "\n" in t) and _markdown(t):
            out.append(f"markdown: {c.em} (message {i + 1}) writes a list, header or bold text: {_short(t)!r}")
        if j in code and _code(t):
            out.append(f"code_block: {c.em} (message {i + 1}) writes code: {_short(t)!r}")
    return out
