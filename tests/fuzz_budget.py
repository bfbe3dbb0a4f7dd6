"""How many examples a fuzz test runs: its CI budget, times TURNPROOF_FUZZ (default 1).

    TURNPROOF_FUZZ=50 python3 -m pytest -q tests/test_lint_fuzz.py tests/test_lint_fuzz_dialects.py

runs a campaign fifty times the size CI runs (the CI budgets keep each test to a few seconds).
"""

from __future__ import annotations

import os


def examples(ci: int) -> int:
    try:
        factor = float(os.environ.get("TURNPROOF_FUZZ", "1"))
    except ValueError:
        raise ValueError(f"TURNPROOF_FUZZ={os.environ['TURNPROOF_FUZZ']!r}: a number (a multiple of the CI budget)") \
            from None
    return max(1, int(ci * factor))
