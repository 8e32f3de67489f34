"""Retention periods written the way people say them: ``13mo``, ``30d``, ``1y``."""

from __future__ import annotations

import re
from datetime import timedelta

# Months and years have no fixed length; the average Gregorian ones are used, so
# "1y" is 365.2425 days and "13mo" is 13/12 of that (about 395.7 days).
_DAYS_PER_YEAR = 365.2425
_UNITS: dict[str, timedelta] = {
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
    "mo": timedelta(days=_DAYS_PER_YEAR / 12),
    "y": timedelta(days=_DAYS_PER_YEAR),
}
_AGE = re.compile(r"([0-9]{1,6})(h|d|w|mo|y)")


def parse_age(text: str) -> timedelta:
    """Parse an age such as ``"13mo"``, ``"30d"``, ``"12w"``, ``"1y"`` or ``"48h"``.

    One positive whole number followed by a unit: ``h`` hours, ``d`` days, ``w`` weeks,
    ``mo`` months, ``y`` years (months and years are average Gregorian lengths). Raises
    ``ValueError`` saying what is accepted for anything else.
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_age expects a string such as '13mo', got {text!r}")
    match = _AGE.fullmatch(text.strip().lower())
    if match is None:
        hint = " (use 'mo' for months)" if text.strip().lower().endswith("m") else ""
        raise ValueError(
            f"invalid age {text!r}{hint}: expected a whole number and a unit,"
            " one of h, d, w, mo, y (e.g. '13mo', '30d', '12w', '1y', '48h')"
        )
    count = int(match[1])
    if count == 0:
        raise ValueError(f"invalid age {text!r}: it must be greater than zero")
    try:
        return count * _UNITS[match[2]]
    except OverflowError:  # pragma: no cover - 999999y still fits; kept for safety
        raise ValueError(f"invalid age {text!r}: too large") from None
