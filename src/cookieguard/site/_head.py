"""A response's head, protocol-free: what cookieguard does to a response's status and header
fields before they leave, written once for every adapter (issue 25 part 2: adapters translate,
the site decides).

:func:`response_head` takes the decision, the status and the response's header pairs as the
protocol spells them (:data:`ASGI`: bytes; :data:`WSGI`: str) and returns the pairs to send
and the body plan. In order:

- ``Set-Cookie`` fields the visitor's consent refuses are dropped; deletions always pass
  (:meth:`Guard.keep_set_cookie`); the decision's own cookies are added (expiring refused
  cookies the browser still sent, a re-signed consent cookie).
- Validators follow the body (cookieguard.core._validators): an HTML page's ``ETag`` gets the
  consent state's suffix and loses its ``Last-Modified``; a 304 answering a tag of ours gets
  the state's suffix back.
- An HTML response gets the page headers (the consent-aware CSP) and its body plan
  (:meth:`Site.injection`) with the plan's ``Vary``; a plan that cannot edit this body fails
  closed here (its headers added, no plan).

The pairs passed in are never changed: whatever differs is a new list (an app may reuse its
header list across responses), and so is the list of every response with a plan.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Generic, TypeVar

from cookieguard._cache import remember
from cookieguard.core._guard import Decision
from cookieguard.core._headers import (
    CONTENT_ENCODING,
    CONTENT_LENGTH,
    CONTENT_SECURITY_POLICY,
    CONTENT_TYPE,
    ETAG,
    LAST_MODIFIED,
    OTHER,
    SET_COOKIE,
    Role,
    html_type,
    known_html_type,
    known_role,
    known_text_role,
    role,
    text_role,
)
from cookieguard.html._inject import Injection
from cookieguard.html._nonces import policy_nonces
from cookieguard.site._site import Site

T = TypeVar("T", str, bytes)
Pairs = Sequence[tuple[T, T]]


class Spelling(Generic[T]):
    """How a protocol spells header fields: ASGI's are bytes, WSGI's str (Latin-1 both)."""

    __slots__ = ("cookies", "known_role", "role", "spelled", "text", "value", "vary")

    def __init__(
        self,
        known_role: Callable[[T], Role | None],
        role: Callable[[T], Role],
        cookies: Callable[[tuple[str, ...]], list[tuple[T, T]]],
        text: Callable[[T], str],
        value: Callable[[str], T],
        spelled: Callable[[tuple[tuple[str, str], ...]], tuple[tuple[T, T], ...]],
        vary: Callable[[Injection], tuple[tuple[T, T], ...]],
    ) -> None:
        #: ``known_role(name)`` (one lookup for a name seen before, else ``None``) and
        #: ``role(name)`` (always right): see cookieguard.core._headers.
        self.known_role: Callable[[T], Role | None] = known_role
        self.role: Callable[[T], Role] = role
        #: Set-Cookie fields for values (the decision's own cookies).
        self.cookies: Callable[[tuple[str, ...]], list[tuple[T, T]]] = cookies
        self.text: Callable[[T], str] = text  # a value as text
        self.value: Callable[[str], T] = value  # text as a value
        self.spelled: Callable[[tuple[tuple[str, str], ...]], tuple[tuple[T, T], ...]] = (
            spelled  # pairs the site adds, in this spelling
        )
        self.vary: Callable[[Injection], tuple[tuple[T, T], ...]] = (
            vary  # a plan's Vary fields, in this spelling
        )


_ENCODED: dict[tuple[tuple[str, str], ...], tuple[tuple[bytes, bytes], ...]] = {}


def _encoded(pairs: tuple[tuple[str, str], ...]) -> tuple[tuple[bytes, bytes], ...]:
    """Header pairs the site adds, as ASGI bytes (remembered: the site adds the same few)."""
    found = _ENCODED.get(pairs)
    if found is None:
        found = tuple((k.encode("latin-1"), v.encode("latin-1")) for k, v in pairs)
        remember(_ENCODED, pairs, found, 64)
    return found


def _latin1(value: bytes) -> str:
    return value.decode("latin-1")


def _latin1_bytes(value: str) -> bytes:
    return value.encode("latin-1")


def _same(pairs: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    return pairs


def _str(value: str) -> str:
    return value


#: ASGI (the spec's bytes; names compared case-insensitively all the same).
ASGI: Spelling[bytes] = Spelling(
    known_role,
    role,
    lambda values: [(b"set-cookie", value.encode("latin-1")) for value in values],
    _latin1,
    _latin1_bytes,
    _encoded,
    lambda plan: plan.vary_fields,
)
#: WSGI (PEP 3333's native strings).
WSGI: Spelling[str] = Spelling(
    known_text_role,
    text_role,
    lambda values: [("Set-Cookie", value) for value in values],
    _str,
    _str,
    _same,
    lambda plan: plan.vary_pairs,
)


def response_head(
    site: Site,
    decision: Decision,
    status: int | None,
    headers: Pairs[T],
    spelling: Spelling[T],
    *,
    method: str,
    path: str,
    query: T,
    accept_language: T | None,
    ours: bool = False,
    edit: bool = True,
) -> tuple[Pairs[T], Injection | None, int | None]:
    """``(headers, plan, length)``: the fields to send, what to edit in the body (``None``:
    send it as it is) and, with a plan, where the one ``Content-Length`` field is in
    ``headers`` (``-1``: there are several, look them up; ``None``: there is none).

    ``status`` is ``None`` when the status line cannot be read (nothing is added then);
    ``ours`` says the request carried an entity-tag of ours (:meth:`Site.conditions`);
    ``edit`` False asks for no plan (an error page after ``exc_info``, PEP 3333). ``query``
    and ``accept_language`` may be ASGI's raw bytes (decoded only for a new plan).
    """
    known, role_of = spelling.known_role, spelling.role
    content_type = encoding = None
    refused: list[T] | None = None
    length: tuple[T, T] | None = None  # the Content-Length field
    lengths = 0
    validators = False  # an ETag or Last-Modified field
    policies: list[T] | None = None  # the app's own CSP fields' values
    # This runs on every response: the common one (no Set-Cookie to gate, nothing to add,
    # not HTML) costs one loop over its field names and a few tests.
    for field in headers:
        what = known(field[0])
        if what is OTHER:
            continue
        if what is None:
            what = role_of(field[0])  # a name not seen before
        if what is CONTENT_TYPE:
            content_type = field[1]
        elif what is CONTENT_LENGTH:
            length = field
            lengths += 1
        elif what is SET_COOKIE:
            if not site.guard.keep_set_cookie(decision.consent, field[1]):
                if refused is None:
                    refused = [field[1]]
                else:
                    refused.append(field[1])
        elif what is CONTENT_ENCODING:
            encoding = field[1]
        elif what is ETAG or what is LAST_MODIFIED:
            validators = True
        elif what is CONTENT_SECURITY_POLICY:
            if policies is None:
                policies = []
            policies.append(field[1])
    if refused is not None:
        gated = [
            (k, v)
            for k, v in headers
            if v not in refused or (known(k) or role_of(k)) is not SET_COOKIE
        ]
        if decision.set_cookies:
            gated.extend(spelling.cookies(decision.set_cookies))
        headers = gated
    elif decision.set_cookies:
        headers = list(headers) + spelling.cookies(decision.set_cookies)
    text_type = None
    if content_type is not None:
        text_type = known_html_type(content_type)
        if text_type is None:
            text_type = html_type(content_type)
    if validators and ((text_type and site.per_state) or (ours and status == 304)):
        headers = _validators(site, decision, headers, spelling, page=bool(text_type))
    # Only HTML is ever edited or given page headers: everything else leaves here.
    if not text_type or status is None:
        return headers, None, None
    added: tuple[tuple[str, str], ...] = site.page_headers(
        decision, status=status, content_type=text_type
    )
    plan: Injection | None = None
    if edit:
        plan = site.injection(
            decision,
            method=method,
            status=status,
            content_type=text_type,
            content_encoding=None if encoding is None else spelling.text(encoding),
            path=path,
            query=query,
            accept_language=accept_language,
        )
        if plan is not None and plan.failure is not None:
            added = added + site.fail_closed(decision, path, plan.failure)
            plan = None
    if plan is None:
        if added:
            headers = _plus(headers, spelling.spelled(added))
        return headers, None, None
    # Our tags carry the nonces of the app's own CSP (per response: never in a memo key).
    if policies is not None:
        plan = plan.nonced(policy_nonces(spelling.text(value) for value in policies))
    if added:
        headers = _plus(headers, spelling.spelled(added), spelling.vary(plan))
    else:
        headers = _plus(headers, spelling.vary(plan))
    if length is None:
        return headers, plan, None
    # Found by a C-level search in the list the fields above were appended to, so the
    # edited length costs no loop later (several Content-Length fields: looked for then).
    return headers, plan, headers.index(length) if lengths == 1 else -1


def _plus(headers: Pairs[T], *more: Iterable[tuple[T, T]]) -> list[tuple[T, T]]:
    """A new list: ``headers`` and then ``more``."""
    out = list(headers)
    for fields in more:
        out.extend(fields)
    return out


def _validators(
    site: Site, decision: Decision, headers: Pairs[T], spelling: Spelling[T], *, page: bool
) -> list[tuple[T, T]]:
    """``headers`` with the ETag tagged for the visitor's consent state and, on a page,
    without Last-Modified (cookieguard.core._validators)."""
    out: list[tuple[T, T]] = []
    known, role_of = spelling.known_role, spelling.role
    for raw, value in headers:
        what = known(raw) or role_of(raw)
        if what is ETAG:
            value = spelling.value(site.etag(decision, spelling.text(value)))
        elif what is LAST_MODIFIED and page:
            continue
        out.append((raw, value))
    return out
