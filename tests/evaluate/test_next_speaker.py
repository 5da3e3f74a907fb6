"""Where a local model's continuation stops: at the next speaker's tag once the probe's lines are written
(em_gen.evaluate.targets.next_speaker_cut, which the HF target's stopping criterion and cut share)."""
import pytest

from em_gen.evaluate.metrics import split_turns
from em_gen.evaluate.targets import next_speaker_cut

OPEN = "<ana> first\n<Em> second\n<bo> third\n<cy"


@pytest.mark.parametrize("text, forced, lines, cut", [
    (OPEN, False, 3, len("<ana> first\n<Em> second\n<bo> third\n")),  # three messages, the fourth's tag begun
    (OPEN, False, 2, len("<ana> first\n<Em> second\n")),
    (OPEN, False, 4, None),                                           # the fourth is not written yet
    ("<ana> first\n<Em> second\n", False, 2, None),                   # no next tag yet: keep going
    ("<ana> first\n  wrapped on\n<bo> x\n<", False, 2, len("<ana> first\n  wrapped on\n<bo> x\n")),  # untagged line continues
    ("<ana> a\nprose here\n<bo> b\n<", False, 1, len("<ana> a\nprose here\n")),
    (" sure, no\n<ana> ok\n<", True, 2, len(" sure, no\n<ana> ok\n")),  # forced: Em's line counts as one
    (" sure, no\n<ana> ok\n<", True, 1, len(" sure, no\n")),
    (" sure, no", True, 1, None),                                     # Em's line not ended
    ("\n\n<ana> a\n<", False, 1, len("\n\n<ana> a\n")),                # blank lines are not messages
])
def test_next_speaker_cut(text, forced, lines, cut):
    assert next_speaker_cut(text, forced, lines) == cut


def test_the_cut_keeps_every_line_the_metrics_read(lib):
    """Scoring the cut text gives the same reply and lines as scoring the whole continuation."""
    whole = " nah\n<ana> why\n  not\n<Em> tired\n<bo> fair\n<cy> later\n<ana> bye\n"
    cut = next_speaker_cut(whole, True, 4)
    assert cut is not None and whole[:cut].endswith("<bo> fair\n")
    assert split_turns(whole[:cut], True, 4) == split_turns(whole, True, 4)
