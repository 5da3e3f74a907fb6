"""Participation: `em_absent`, `participation_band` (Em's share of messages against the band)."""
from __future__ import annotations

import math

from em_gen.quality.rules.context import Context


# ---------------------------------------------------------------------------------------------
# participation
# ---------------------------------------------------------------------------------------------
def band_limits(n: int, lo: float, hi: float) -> tuple[int, int]:
    """Allowed Em message counts for n messages: floor(lo*n) .. ceil(hi*n), at least 1."""
    a = math.floor(lo * n + 1e-9)
    b = math.ceil(hi * n - 1e-9)
    return max(a, 1), max(b, 1)


def check_participation(c: Context) -> list[str]:
    n, k = c.n, len(c.em_idx)
    if n == 0:
        return ["em_absent: the log has no messages"]
    if k == 0:
        return [f"em_absent: no message from {c.em} in {n} messages"]
    if c.level is None:
        return []  # header rule reports the unknown level
    lo, hi = c.lib.band(c.level)
    a, b = band_limits(n, lo, hi)
    if not a <= k <= b:
        return [f"participation_band: {c.em} wrote {k} of {n} ({k / n:.0%}), {c.level} band is "
                f"{lo:.0%}-{hi:.0%} (allowed {a}..{b})"]
    return []
