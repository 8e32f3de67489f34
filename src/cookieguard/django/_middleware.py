"""The Django middleware: the protocol-free core rendered onto Django's request/response.

It runs inside Django, so it works the same under ``runserver``, any WSGI or ASGI server and
Django's test ``Client`` (which bypasses ``wsgi.py``/``asgi.py``): a WSGI or ASGI wrapper around
the project would miss the test client entirely.
"""

from __future__ import annotations

import difflib
import itertools
import logging
import threading
from collections.abc import (
    AsyncIterator,
    Callable,
    Container,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from http.cookies import CookieError, Morsel
from typing import Any, cast

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.utils.cache import patch_vary_headers

from cookieguard.core._consent import UNDECIDED, Consent
from cookieguard.core._cookies import set_cookie_name
from cookieguard.core._frameworks import declare_necessary
from cookieguard.core._guard import Decision
from cookieguard.core._headers import SET_COOKIE, text_role
from cookieguard.core._messages import Reply, Request
from cookieguard.core._policy import Policy
from cookieguard.core._regions import Rule
from cookieguard.html._codings import Uneditable
from cookieguard.html._inject import BodyInjector
from cookieguard.html._nonces import Nonces, given_nonce
from cookieguard.site._head import WSGI, response_head
from cookieguard.site._site import Site

logger = logging.getLogger("cookieguard")

GetResponse = Callable[[HttpRequest], Any]

#: Where ``request.META`` carries the consent and the site (the keys the WSGI adapter uses
#: in its environ, so ``cookieguard.get_consent(request.META)`` works too).
CONSENT_KEY = "cookieguard.consent"
SITE_KEY = "cookieguard.site"

#: Django's messages framework keeps messages in this cookie (CookieStorage.cookie_name;
#: there is no setting for it).
MESSAGES_COOKIE = "messages"

#: Middleware that may sit before (outside) ours: none of them sets cookies. Anything else
#: listed before ConsentMiddleware could set a cookie after it was gated. The cache
#: middleware is not here on purpose: outside ours it would store pages with the banner
#: already in, and FetchFromCacheMiddleware (inside ours) would hand them back for a second
#: banner; inside ours it stores the app's own page and we edit each copy we send.
COOKIE_FREE_MIDDLEWARE = frozenset(
    {
        "django.middleware.security.SecurityMiddleware",
        "django.middleware.gzip.GZipMiddleware",
        "django.middleware.http.ConditionalGetMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.locale.LocaleMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
        "whitenoise.middleware.WhiteNoiseMiddleware",
        "corsheaders.middleware.CorsMiddleware",
        "debug_toolbar.middleware.DebugToolbarMiddleware",
        "compression_middleware.middleware.CompressionMiddleware",
        # django-csp writes only its header (its nonce reaches our tags: see _page_nonces).
        "csp.middleware.CSPMiddleware",
    }
)


class ConfigurationError(ImproperlyConfigured, ValueError):
    """Bad cookieguard settings: Django's ``ImproperlyConfigured`` and a ``ValueError``."""


# -- settings -> Policy ---------------------------------------------------------------------


def framework_cookie_names() -> tuple[str, ...]:
    """Cookie names Django itself sets, read from the project's settings: the session, CSRF
    (unless ``CSRF_USE_SESSIONS``), language and messages cookies."""
    names = [settings.SESSION_COOKIE_NAME]
    if not settings.CSRF_USE_SESSIONS:
        names.append(settings.CSRF_COOKIE_NAME)
    names.append(settings.LANGUAGE_COOKIE_NAME)
    names.append(MESSAGES_COOKIE)
    return tuple(str(name) for name in names if name)


def policy_from_settings(*, log: bool = True) -> Policy:
    """The :class:`~cookieguard.Policy` described by ``settings.COOKIEGUARD``.

    ``COOKIEGUARD`` is either a ``Policy`` or a dict of ``Policy`` keyword arguments. Without
    ``secret_keys`` the dict uses ``[SECRET_KEY, *SECRET_KEY_FALLBACKS]`` (cookieguard salts its
    signatures, so they never collide with Django's own). Django's own cookies are declared
    necessary unless the policy declares them (see :func:`framework_cookie_names`), with one
    log line saying so (``log=False``: none).
    """
    config = getattr(settings, "COOKIEGUARD", None)
    if isinstance(config, Policy):
        policy = config
    elif isinstance(config, Mapping):
        arguments = dict(config)
        known = sorted(f for f in Policy.__dataclass_fields__ if not f.startswith("_"))
        unknown = sorted(str(key) for key in arguments if key not in known)
        if unknown:
            hints = [m for key in unknown for m in difflib.get_close_matches(key, known, 1)]
            hint = f" (did you mean {', '.join(map(repr, hints))}?)" if hints else ""
            raise ConfigurationError(
                f"settings.COOKIEGUARD: unknown key(s) {unknown}{hint}; the keys are "
                f"Policy's arguments: {known}."
            )
        if "secret_keys" not in arguments:
            keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", ())]
            arguments["secret_keys"] = [key for key in keys if key]
        try:
            policy = Policy(**arguments)
        except ValueError as exc:
            raise ConfigurationError(f"settings.COOKIEGUARD: {exc}") from None
    elif config is None:
        raise ConfigurationError(
            "settings.COOKIEGUARD is missing: add COOKIEGUARD = {'cookies': {'_ga': "
            "'analytics', ...}} (the Policy arguments as a dict) or COOKIEGUARD = Policy(...)."
        )
    else:
        raise ConfigurationError(
            f"settings.COOKIEGUARD must be a dict of Policy arguments or a Policy, "
            f"got {type(config).__name__}."
        )
    return declare_necessary(policy, framework_cookie_names(), framework="Django", log=log)


_sites: list[tuple[object, tuple[str, ...], Site]] = []
_sites_lock = threading.Lock()


def site_from_settings() -> Site:
    """The :class:`Site` for the current settings, built once and shared by every handler
    (Django builds a middleware chain per handler: each test ``Client`` has its own)."""
    config = getattr(settings, "COOKIEGUARD", None)
    names = framework_cookie_names()
    with _sites_lock:
        for known, known_names, site in _sites:
            if known is config and known_names == names:
                return site
        site = Site(policy_from_settings())
        _sites.append((config, names, site))
        del _sites[:-4]  # settings rarely change outside tests; keep a few
        return site


def _forget_sites(*, setting: str, **kwargs: Any) -> None:
    """``override_settings`` in tests: a changed cookie setting needs a new Site."""
    if setting.startswith(("COOKIEGUARD", "SESSION_", "CSRF_", "LANGUAGE_", "SECRET_KEY")):
        with _sites_lock:
            _sites.clear()


setting_changed.connect(_forget_sites, dispatch_uid="cookieguard.django.forget_sites")


def check_middleware_order(middleware: Iterable[str]) -> None:
    """Refuse an order that would let a cookie out ungated or hide the HTML from us.

    Middleware listed before ``ConsentMiddleware`` handles the response after it: any cookie
    it sets is never seen. Only :data:`COOKIE_FREE_MIDDLEWARE` (and entries in
    ``settings.COOKIEGUARD_OUTER_MIDDLEWARE``) may come first. Compression may sit on either
    side: a compressed page is decoded, edited and compressed again.
    """
    entries = list(middleware)
    ours = next((i for i, path in enumerate(entries) if _is_ours(path)), None)
    if ours is None:
        return  # built by hand, not from settings.MIDDLEWARE
    allowed = COOKIE_FREE_MIDDLEWARE | frozenset(
        getattr(settings, "COOKIEGUARD_OUTER_MIDDLEWARE", ())
    )
    before = [path for path in entries[:ours] if path not in allowed]
    if before:
        raise ConfigurationError(
            f"MIDDLEWARE lists {', '.join(before)} before "
            f"{entries[ours]}: cookies set there would leave ungated. List ConsentMiddleware "
            "first (only SecurityMiddleware, GZipMiddleware, WhiteNoiseMiddleware and other "
            "cookie-free middleware may come before it; name any such middleware of yours in "
            "settings.COOKIEGUARD_OUTER_MIDDLEWARE)."
        )


def _is_ours(path: str) -> bool:
    return path.startswith("cookieguard.django") and path.endswith(".ConsentMiddleware")


# -- Set-Cookie values in Django's cookie jar ------------------------------------------------


class SetCookie(Morsel[str]):
    """A finished ``Set-Cookie`` value kept in ``response.cookies``.

    Django sends each morsel of ``response.cookies`` as one ``Set-Cookie`` header (its WSGI and
    ASGI handlers and the test client all read the jar), and the jar is keyed by name. Our
    deletions may need several values for one name (host-only and each parent domain, RFC
    6265 section 5.3), so each is stored whole under its own key and rendered as written.
    """

    def __init__(self, raw: str) -> None:
        super().__init__()
        self.raw = raw
        name = set_cookie_name(raw)
        value = raw.split(";", 1)[0].partition("=")[2].strip()
        self.set(name, value, value)

    def OutputString(self, attrs: Container[str] | None = None) -> str:  # Morsel API
        return self.raw

    def __getstate__(self) -> dict[str, str]:  # kept through pickling (cache middleware)
        return {"raw": self.raw}

    def __setstate__(self, state: dict[str, str]) -> None:
        self.__init__(state["raw"])  # type: ignore[misc]


def add_set_cookie(response: HttpResponseBase, raw: str) -> None:
    """Add one ``Set-Cookie`` value to ``response``, next to any others of the same name."""
    try:
        morsel = SetCookie(raw)
    except CookieError:  # a name Morsel refuses (such as "expires"): Django could not send it
        logger.warning("cannot send Set-Cookie %r through Django's cookie jar", raw[:64])
        return
    jar = response.cookies
    key = morsel.key
    number = 1
    while key in jar:
        number += 1
        key = f"{morsel.key} {number}"  # never a real cookie name: names have no spaces
    jar[key] = morsel


def _add_header(response: HttpResponseBase, name: str, value: str) -> None:
    """Add a header, joining list-valued ones (RFC 9110 section 5.3): Django keeps one value
    per name."""
    present = response.headers.get(name)
    response.headers[name] = value if present is None else f"{present}, {value}"


# -- the middleware --------------------------------------------------------------------------


class ConsentMiddleware:
    """Gates cookies by consent for a Django project.

    List it first in ``MIDDLEWARE`` (after ``SecurityMiddleware``/``GZipMiddleware`` at most)
    and configure it with ``settings.COOKIEGUARD``. Sync and async: Django gives it the mode
    of the chain it sits in, so it never adds a thread hop to an async stack.

    Per request it reads the signed consent, hides refused cookies from the request
    (``request.COOKIES``), answers cookieguard's endpoints under ``Policy.prefix``, drops
    refused ``Set-Cookie`` values from the response, expires refused cookies the browser
    still sent, and inserts the banner into HTML. ``request.consent`` is the visitor's
    :class:`~cookieguard.Consent`.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response
        check_middleware_order(getattr(settings, "MIDDLEWARE", ()))
        self.site = site_from_settings()
        self.guard = guard = self.site.guard
        # The region headers as Django's META names them (HTTP_ + upper case, '-' as '_').
        self._region_keys = tuple(
            "HTTP_" + header.upper().replace("-", "_") for header in guard.regions.headers
        )
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self._async:
            return self.__acall__(request)
        decision = self._read_consent(request)
        if self.guard.is_endpoint(request.path_info):
            return self._endpoint(request, decision)
        self._publish(request, decision)
        ours = self._conditions(request, decision)
        response = self.get_response(request)
        return self._after(request, decision, response, ours)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        decision = self._read_consent(request)
        if self.guard.is_endpoint(request.path_info):
            # Endpoints may read or write the receipt store: keep that off the event loop.
            respond = sync_to_async(self._endpoint, thread_sensitive=False)
            return await respond(request, decision)
        self._publish(request, decision)
        ours = self._conditions(request, decision)
        response = await self.get_response(request)
        response = self._after(request, decision, response, ours)
        # An async stream's first chunk is edited here, before the headers leave (see
        # _after): a page that fails there can still go out under the enforcing CSP.
        first = response.__dict__.pop(_FIRST_CHUNK, None)
        if first is not None:
            await first()
        return response

    # -- request -------------------------------------------------------------------------

    def _read_consent(self, request: HttpRequest) -> Decision:
        meta = request.META
        return self.guard.read(
            meta.get("HTTP_COOKIE"),
            gpc=str(meta.get("HTTP_SEC_GPC", "")).strip() == "1",
            # The raw Host, as the browser keyed its cookies; get_host() would raise
            # DisallowedHost here, before Django answers that with its own 400.
            host=meta.get("HTTP_HOST") or meta.get("SERVER_NAME", ""),
            secure=request.is_secure(),
            rule=self._rule(meta),
        )

    def _rule(self, meta: Mapping[str, Any]) -> Rule | None:
        """The visitor's region's rule (``None``: the policy reads no region)."""
        if not self._region_keys:
            return None
        return self.guard.rule(*[meta.get(key) for key in self._region_keys])

    def _publish(self, request: HttpRequest, decision: Decision) -> None:
        """Give the app the consent and only the cookies it may read. (Endpoints skip this:
        a new choice must see every cookie the browser sent, to expire the refused ones.)"""
        meta = request.META
        consent = decision.consent
        meta[CONSENT_KEY] = consent
        meta[SITE_KEY] = self.site
        request.consent = consent  # type: ignore[attr-defined]
        header = decision.cookie_header
        if header is not None:
            if header:
                meta["HTTP_COOKIE"] = header
            else:
                meta.pop("HTTP_COOKIE", None)
            # COOKIES is parsed lazily from META; drop a copy parsed before we ran.
            request.__dict__.pop("COOKIES", None)

    def _conditions(self, request: HttpRequest, decision: Decision) -> bool:
        """Translate the request's preconditions the way the site says, before the views and
        ConditionalGetMiddleware see them (cookieguard.core._validators); True if they
        carried a tag of ours."""
        meta = request.META
        if "HTTP_IF_NONE_MATCH" not in meta and "HTTP_IF_MODIFIED_SINCE" not in meta:
            return False
        ours = self.site.translate_environ(decision, meta)
        request.__dict__.pop("headers", None)  # HttpHeaders is read from META once, lazily
        return ours

    def _endpoint(self, request: HttpRequest, decision: Decision) -> HttpResponse:
        site = self.site
        method = request.method or "GET"
        body = b""
        if method == "POST":
            limit = site.policy.max_body
            declared = str(request.META.get("CONTENT_LENGTH") or "")
            if declared.isdigit() and int(declared) > limit:
                return _django_reply(site.too_large())
            # Without a length we read one byte past the limit to tell "too large" apart.
            body = request.read(min(int(declared), limit) if declared.isdigit() else limit + 1)
            if len(body) > limit:
                return _django_reply(site.too_large())
        reply = site.respond(
            Request(
                method=method,
                path=request.path_info,
                query=str(request.META.get("QUERY_STRING", "")),
                headers=tuple((k.lower(), v) for k, v in request.headers.items()),
                scheme="https" if request.is_secure() else "http",
                decision=decision,
                body=body,
                client=request.META.get("REMOTE_ADDR"),
            )
        )
        return _django_reply(reply, head=method == "HEAD")

    # -- response ------------------------------------------------------------------------

    def _after(
        self,
        request: HttpRequest,
        decision: Decision,
        response: HttpResponseBase,
        ours: bool = False,
    ) -> HttpResponseBase:
        # Django keeps its headers one value per name and its cookies in a jar: the head is
        # decided on their pairs (cookieguard.site._head) and the answer written back.
        jar = response.cookies
        cookies = [(key, morsel.OutputString()) for key, morsel in jar.items()]
        before = [*response.headers.items(), *(("Set-Cookie", value) for _, value in cookies)]
        meta = request.META
        generation = self.site.vendors.generation  # the vendors known to the CSP made here
        sent, injection, _ = response_head(
            self.site,
            decision,
            response.status_code,
            before,
            WSGI,
            method=request.method or "GET",
            path=request.path,
            query=str(meta.get("QUERY_STRING", "")),
            accept_language=banner_language(request),
            ours=ours,
        )
        if sent is not before:
            _write_back(response, cookies, sent)
        if injection is None:
            return response
        # django-csp's middleware listed before ours writes its header after we ran: the
        # nonce it will write is request.csp_nonce (a header's nonces are on the plan).
        injection = injection.nonced(_django_csp_nonce(request, response))
        injector = injection.injector()
        if isinstance(response, StreamingHttpResponse):

            def cut(failure: Uneditable) -> None:
                self.site.fail_closed(decision, request.path, failure)

            first = b""
            if response.is_async:
                chunks = aiter(cast(AsyncIterator[bytes], response.streaming_content))
                response.streaming_content = _inject_async(chunks, injector, cut)
                if self._async:

                    async def edit_first() -> None:
                        taken: list[bytes] = []
                        out = b""
                        try:
                            while not out and _may_wait(taken):
                                head = await anext(chunks, None)
                                if head is None:
                                    break
                                taken.append(head)
                                out = injector.feed(head)
                        except Uneditable as failure:
                            self._fail_closed(request, decision, response, failure)
                            response.streaming_content = _prepend(taken, chunks)
                            return
                        response.streaming_content = _inject_async(chunks, injector, cut, out)

                    response.__dict__[_FIRST_CHUNK] = edit_first
            else:
                # The first chunks are edited now, until the editor gives something out, while
                # the headers can still change: a page that fails there goes out as written,
                # under the enforcing CSP.
                iterator = iter(cast(Iterator[bytes], response.streaming_content))
                taken: list[bytes] = []
                try:
                    while not first and _may_wait(taken):
                        head = next(iterator, None)
                        if head is None:
                            break
                        taken.append(head)
                        first = injector.feed(head)
                except Uneditable as failure:
                    self._fail_closed(request, decision, response, failure)
                    response.streaming_content = itertools.chain(taken, iterator)
                    return response
                response.streaming_content = _inject_sync(iterator, injector, cut, first)
            # Streaming stays streaming: the length is unknown until the end, so it goes
            # (the server then frames the body itself: chunked, or close-delimited).
            if "Content-Length" in response.headers:
                del response.headers["Content-Length"]
            return response
        if isinstance(response, HttpResponse):
            try:
                response.content = injector.feed_last(response.content)
            except Uneditable as failure:
                self._fail_closed(request, decision, response, failure)
                return response
            if "Content-Length" in response.headers:
                response.headers["Content-Length"] = str(len(response.content))
            # The edit may have met vendors new to the site: the CSP names them too.
            fresh = self.site.csp_after_body(decision, generation)
            if fresh is not None and fresh[0] in response.headers:
                response.headers[fresh[0]] = fresh[1]
        return response

    def _fail_closed(
        self,
        request: HttpRequest,
        decision: Decision,
        response: HttpResponseBase,
        failure: Uneditable,
    ) -> None:
        """A page that cannot be edited goes out as the app wrote it, under a CSP that
        enforces the visitor's grants (see Site.fail_closed)."""
        for name, value in self.site.fail_closed(decision, request.path, failure):
            _add_header(response, name, value)


def _write_back(
    response: HttpResponseBase,
    cookies: list[tuple[str, str]],
    sent: Sequence[tuple[str, str]],
) -> None:
    """Make ``response`` say what :func:`response_head` answered: ``sent`` is the response's
    header fields and then its cookies (``cookies``: the jar's keys and values), gated and
    added to."""
    headers = response.headers
    sent_cookies = [v for k, v in sent if text_role(k) is SET_COOKIE]
    by_hand = headers.get("Set-Cookie")  # response["Set-Cookie"] = "..."
    if by_hand is not None:
        if by_hand in sent_cookies:
            sent_cookies.remove(by_hand)
        else:
            del headers["Set-Cookie"]  # refused
    for key, value in cookies:
        if value in sent_cookies:
            sent_cookies.remove(value)
        else:
            del response.cookies[key]  # refused
    for value in sent_cookies:  # the decision's own
        add_set_cookie(response, value)
    present = {k.lower(): k for k in headers if text_role(k) is not SET_COOKIE}
    seen: set[str] = set()
    vary: list[str] = []
    for key, value in sent:
        if text_role(key) is SET_COOKIE:
            continue
        lower = key.lower()
        if lower in present and lower not in seen:  # the app's own field, maybe changed
            seen.add(lower)
            if headers[key] != value:
                headers[key] = value
        elif lower == "vary":
            vary.append(value)
        else:
            _add_header(response, key, value)
    for lower, key in present.items():
        if lower not in seen:
            del headers[key]  # dropped (a page's Last-Modified)
    if vary:
        patch_vary_headers(response, vary)


def _inject_sync(
    chunks: Iterator[bytes],
    injector: BodyInjector,
    cut: Callable[[Uneditable], None],
    first: bytes = b"",
) -> Iterator[bytes]:
    # The headers have left: a page that cannot be edited is cut off where it failed
    # rather than sent on live (fail closed).
    if first:
        yield first
    try:
        for chunk in chunks:
            out = injector.feed(chunk)
            if out:
                yield out
        tail = injector.finish()
    except Uneditable as failure:
        cut(failure)
        return
    if tail:
        yield tail


#: Where _after leaves __acall__ the edit of an async stream's first chunk (a response attribute).
_FIRST_CHUNK = "_cookieguard_first_chunk"


def _may_wait(taken: list[bytes]) -> bool:
    """True while a stream's headers may wait for the editor's first output (it holds the
    first 1024 bytes to choose the charset, more only for an unfinished tag)."""
    return len(taken) < 64 and sum(map(len, taken)) <= 2 * 1024 * 1024


async def _prepend(first: list[bytes], chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    for chunk in first:
        yield chunk
    async for chunk in chunks:
        yield chunk


async def _inject_async(
    chunks: AsyncIterator[bytes],
    injector: BodyInjector,
    cut: Callable[[Uneditable], None],
    first: bytes = b"",
) -> AsyncIterator[bytes]:
    if first:
        yield first
    try:
        async for chunk in chunks:
            out = injector.feed(chunk)
            if out:
                yield out
        tail = injector.finish()
    except Uneditable as failure:
        cut(failure)
        return
    if tail:
        yield tail


def _django_reply(reply: Reply, *, head: bool = False) -> HttpResponse:
    response = HttpResponse(b"" if head else reply.body, status=reply.status)
    del response.headers["Content-Type"]  # only the reply's own headers
    for name, value in reply.headers:
        if name == "set-cookie":
            add_set_cookie(response, value)
        else:
            _add_header(response, name, value)
    response.headers["Content-Length"] = str(len(reply.body))
    return response


def banner_language(request: HttpRequest) -> str | None:
    """What the banner's language is chosen from: the page's own language when Django's
    LocaleMiddleware picked one (URL prefix, language cookie, Accept-Language), so banner and
    page agree; else the visitor's ``Accept-Language``."""
    code = getattr(request, "LANGUAGE_CODE", None)
    if isinstance(code, str) and code:
        return code
    header = request.META.get("HTTP_ACCEPT_LANGUAGE")
    return str(header) if header else None


def consent(request: HttpRequest) -> Consent:
    """The visitor's consent for a Django request (undecided outside the middleware)."""
    found = getattr(request, "consent", None)
    return found if isinstance(found, Consent) else UNDECIDED


_CSP_FIELDS = ("Content-Security-Policy", "Content-Security-Policy-Report-Only")


def _django_csp_nonce(request: HttpRequest, response: HttpResponseBase) -> Nonces | None:
    """django-csp's ``request.csp_nonce`` for a response that has no CSP field yet (its
    middleware listed before ours writes the header after we ran, with this nonce in it)."""
    headers = response.headers
    if any(name in headers for name in _CSP_FIELDS):
        return None  # the fields' nonces, if any, are on the plan already
    nonce = getattr(request, "csp_nonce", None)
    if nonce is None:
        return None
    try:
        value = str(nonce)
    except Exception:  # django-csp refuses once its header is written: no nonce then
        return None
    return given_nonce(value)
