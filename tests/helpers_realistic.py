"""The realistic labelled corpus (tests/quality/realistic/, see its README) and its recorded judge
answers, for the rule, judge and end-to-end tests. The loader is em-gen's own (em_gen/quality/corpus.py,
which `em-gen judge-check` reads the same corpus with)."""
from __future__ import annotations

from em_gen.quality.corpus import ANSWERS as _ANSWERS
from em_gen.quality.corpus import DEFAULT_CORPUS as ROOT
from em_gen.quality.corpus import Log, load_corpus  # noqa: F401

ANSWERS = ROOT / _ANSWERS
