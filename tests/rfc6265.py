"""An independent reading of RFC 6265 (and the RFC 6265bis changes browsers ship), for tests.

Written from the RFC text, not from ``cookieguard.core._cookies``: a character-by-character
tokenizer for section 5.1.1 (no regular expressions), the section 5.2 loop over the
unparsed attributes as the RFC words it, and the section 5.3 step 3 choice of expiry. Used
only by the tests and the fuzz campaign (``fuzz/adapters.py``) to check the middleware's
verdict on ``Set-Cookie`` values.

Three readings of one ``Set-Cookie`` line are modelled; a browser *deletes* (the cookie is
evicted, nothing is stored) only if every reading agrees:

1. RFC 6265 sections 5.2 and 5.3 as published (2011);
2. RFC 6265bis (draft-ietf-httpbis-rfc6265bis, section 5.6): lines with control characters
   and name+value over 4096 octets are ignored, attribute values over 1024 octets are
   ignored, a line without ``=`` is a nameless cookie;
3. Chromium's and Firefox's parsers: the *last* attribute of a name is the one kept, and an
   invalid last ``Max-Age`` falls back to the last ``Expires``, then to a session cookie.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field

# RFC 6265bis section 5.6 step 2: CTL characters other than HTAB.
CONTROLS = frozenset([*map(chr, range(0x00, 0x09)), *map(chr, range(0x0A, 0x20)), "\x7f"])
DIGITS = "0123456789"  # RFC 5234 DIGIT: ASCII only (str.isdigit also accepts "²")
WSP = (" ", "\t")  # RFC 5234 WSP


def _is_delimiter(char: str) -> bool:
    """RFC 6265 section 5.1.1: delimiter = %x09 / %x20-2F / %x3B-40 / %x5B-60 / %x7B-7E."""
    code = ord(char)
    return (
        code == 0x09
        or 0x20 <= code <= 0x2F
        or 0x3B <= code <= 0x40
        or 0x5B <= code <= 0x60
        or 0x7B <= code <= 0x7E
    )


def _ascii_lower(text: str) -> str:
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in text)


def _trim_wsp(text: str) -> str:
    start, end = 0, len(text)
    while start < end and text[start] in WSP:
        start += 1
    while end > start and text[end - 1] in WSP:
        end -= 1
    return text[start:end]


def _leading_digits(token: str) -> tuple[str, str]:
    """The run of DIGITs a token starts with, and what follows it."""
    i = 0
    while i < len(token) and token[i] in DIGITS:
        i += 1
    return token[:i], token[i:]


def _number(token: str, least: int, most: int) -> int | None:
    """``least*most DIGIT ( non-digit *OCTET )``: the number, or None if no match."""
    digits, _ = _leading_digits(token)
    if least <= len(digits) <= most:
        return int(digits)
    return None


def _hms(token: str) -> tuple[int, int, int] | None:
    """``hms-time ( non-digit *OCTET )``, hms-time = time-field ":" time-field ":" time-field."""
    fields = []
    rest = token
    for index in range(3):
        digits, rest = _leading_digits(rest)
        if not 1 <= len(digits) <= 2:
            return None
        fields.append(int(digits))
        if index < 2:
            if not rest.startswith(":"):
                return None
            rest = rest[1:]
    return fields[0], fields[1], fields[2]


MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def parse_cookie_date(text: str) -> int | None:
    """RFC 6265 section 5.1.1, step by step. Unix time, or None when parsing fails."""
    # Step 1: tokens are the maximal runs of non-delimiters.
    tokens: list[str] = []
    current = ""
    for char in text:
        if _is_delimiter(char):
            if current:
                tokens.append(current)
            current = ""
        else:
            current += char
    if current:
        tokens.append(current)

    found_time = found_day = found_month = found_year = False
    hour = minute = second = day = month = year = 0
    # Step 2: each token sets the first part it matches and is not yet set.
    for token in tokens:
        if not found_time:
            hms = _hms(token)
            if hms is not None:
                found_time = True
                hour, minute, second = hms
                continue
        if not found_day:
            number = _number(token, 1, 2)
            if number is not None:
                found_day, day = True, number
                continue
        if not found_month:
            prefix = _ascii_lower(token[:3])
            if prefix in MONTHS:
                found_month, month = True, MONTHS.index(prefix) + 1
                continue
        if not found_year:
            number = _number(token, 2, 4)
            if number is not None:
                found_year, year = True, number
                continue
    # Steps 3 and 4: two-digit years.
    if 70 <= year <= 99:
        year += 1900
    if 0 <= year <= 69:
        year += 2000
    # Step 5: fail on a missing part or a value out of range.
    if not (found_time and found_day and found_month and found_year):
        return None
    if day < 1 or day > 31 or year < 1601 or hour > 23 or minute > 59 or second > 59:
        return None
    # Step 6: the date must exist.
    if day > calendar.monthrange(year, month)[1]:
        return None
    return calendar.timegm((year, month, day, hour, minute, second))


@dataclass
class CookieLine:
    """A Set-Cookie line after section 5.2: name, value and the cookie-attribute-list."""

    name: str
    value: str
    attributes: list[tuple[str, str]] = field(default_factory=list)  # (lower name, value)


def parse_set_cookie(line: str, *, bis: bool) -> CookieLine | None:
    """RFC 6265 section 5.2 (``bis``: with the RFC 6265bis section 5.6 changes).

    ``None`` when the user agent ignores the line entirely. Attribute values are kept raw
    (trimmed) under their lower-cased names; section 5.2.x validation happens in
    :func:`expiry`.
    """
    if bis and not CONTROLS.isdisjoint(line):
        return None
    # Step 1: the name-value-pair is everything up to the first ';'.
    semicolon = line.find(";")
    if semicolon == -1:
        name_value_pair, unparsed = line, ""
    else:
        name_value_pair, unparsed = line[:semicolon], line[semicolon:]
    # Step 2: no '=' ignores the line (6265bis: a nameless cookie).
    equals = name_value_pair.find("=")
    if equals == -1:
        if not bis:
            return None
        name, value = "", name_value_pair
    else:
        name, value = name_value_pair[:equals], name_value_pair[equals + 1 :]
    # Step 4: trim WSP.
    name, value = _trim_wsp(name), _trim_wsp(value)
    # Step 5: an empty name ignores the line (6265bis: only when the value is empty too).
    if not bis and name == "":
        return None
    if bis and name == "" and value == "":
        return None
    if bis and len(name) + len(value) > 4096:
        return None
    cookie = CookieLine(name, value)
    # The attribute loop, as section 5.2 words it.
    while unparsed:
        unparsed = unparsed[1:]  # discard the ';'
        next_semicolon = unparsed.find(";")
        if next_semicolon == -1:
            cookie_av, unparsed = unparsed, ""
        else:
            cookie_av, unparsed = unparsed[:next_semicolon], unparsed[next_semicolon:]
        equals = cookie_av.find("=")
        if equals == -1:
            attribute_name, attribute_value = cookie_av, ""
        else:
            attribute_name, attribute_value = cookie_av[:equals], cookie_av[equals + 1 :]
        attribute_name = _trim_wsp(attribute_name)
        attribute_value = _trim_wsp(attribute_value)
        if bis and len(attribute_value) > 1024:
            continue
        cookie.attributes.append((_ascii_lower(attribute_name), attribute_value))
    return cookie


NEVER = float("-inf")  # "the earliest representable date and time"
FOREVER = float("inf")


def _max_age(value: str) -> float | None:
    """Section 5.2.2: an expiry for a Max-Age value, None if the cookie-av is ignored."""
    if value == "" or value[0] not in DIGITS + "-":
        return None
    if any(c not in DIGITS for c in value[1:]):
        return None
    if value == "-":  # "-" cannot be "converted to an integer"
        return None
    return NEVER if int(value) <= 0 else FOREVER  # "current time + delta-seconds"


def _expires(value: str) -> float | None:
    """Section 5.2.1: an expiry for an Expires value, None if the cookie-av is ignored."""
    parsed = parse_cookie_date(value)
    return None if parsed is None else float(parsed)


def expiry(cookie: CookieLine, *, last_attribute_only: bool) -> float | None:
    """Section 5.3 step 3: the cookie's expiry-time, or None for a session cookie.

    The RFCs append only *valid* Max-Age and Expires attributes to the list and take the
    last one; browsers (``last_attribute_only``) keep the last attribute of each name and
    fall back when it is invalid.
    """
    if last_attribute_only:
        max_ages = [v for n, v in cookie.attributes if n == "max-age"]
        if max_ages:
            chosen = _max_age(max_ages[-1])
            if chosen is not None:
                return chosen
        expires = [v for n, v in cookie.attributes if n == "expires"]
        if expires:
            return _expires(expires[-1])
        return None
    max_age_list: list[float] = []
    expires_list: list[float] = []
    for name, value in cookie.attributes:
        if name == "max-age":
            parsed = _max_age(value)
            if parsed is not None:
                max_age_list.append(parsed)
        elif name == "expires":
            parsed = _expires(value)
            if parsed is not None:
                expires_list.append(parsed)
    if max_age_list:
        return max_age_list[-1]
    if expires_list:
        return expires_list[-1]
    return None


IGNORED = "ignored"  # the user agent ignores the whole line: nothing stored, nothing deleted


def expiries(line: str) -> dict[str, float | str | None]:
    """For each modelled reading, the expiry-time of the cookie ``Set-Cookie: line`` sets
    (``None``: a session cookie; :data:`IGNORED`: no cookie at all)."""
    published = parse_set_cookie(line, bis=False)
    bis = parse_set_cookie(line, bis=True)
    return {
        "rfc6265": IGNORED if published is None else expiry(published, last_attribute_only=False),
        "rfc6265bis": IGNORED if bis is None else expiry(bis, last_attribute_only=False),
        "browser": IGNORED if bis is None else expiry(bis, last_attribute_only=True),
    }


def deletes(expiry_times: dict[str, float | str | None], now: float) -> bool:
    """True if every reading evicts the cookie at ``now`` (see :func:`expiries`)."""
    return all(isinstance(t, float) and t <= now for t in expiry_times.values())


def browser_deletes(line: str, now: float) -> bool:
    """True if every modelled reading evicts the cookie ``Set-Cookie: line`` names."""
    return deletes(expiries(line), now)


def rfc6265_deletes(line: str, now: float) -> bool:
    """RFC 6265 (2011) alone: True if the line's cookie expires at or before ``now``."""
    when = expiries(line)["rfc6265"]
    return isinstance(when, float) and when <= now
