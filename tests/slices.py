"""How long the suite's property tests search: a slice in `make test`, the long form in
`make fuzz`.

CI runs the whole suite in one go on two cores (under about 15 minutes); a property test's
thousands of examples are a fuzz campaign's job. ``COOKIEGUARD_FULL_SLICES=1`` (set by
`make fuzz`) gives every property test the number of examples it names.
"""

from __future__ import annotations

import os

FULL = os.environ.get("COOKIEGUARD_FULL_SLICES") == "1"

#: The suite runs a fifth of a property test's examples, never fewer than this.
SUITE_MINIMUM = 100


def examples(full: int) -> int:
    """Hypothesis ``max_examples`` for a property test whose long form runs ``full``."""
    return full if FULL else min(full, max(SUITE_MINIMUM, full // 5))
