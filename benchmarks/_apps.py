"""The apps and request fixtures every benchmark shares.

Each factory returns a fresh callable; the same Cookie header (a typical 10-cookie header of a
decided visitor, whose ``session`` cookie is also valid for the peer) is sent to every variant
so that only the middleware differs. Every HTML page is served by a ``Template``: a new bytes
object per request, as a template engine renders it (``PAGES``; ``_u``: every page different).
"""

from __future__ import annotations

import base64
import gzip
import importlib
import itertools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

# BENCH_SRC=/path/to/src benchmarks another checkout (A/B of a proposed change).
sys.path.insert(0, os.environ.get("BENCH_SRC") or str(Path(__file__).resolve().parents[1] / "src"))

from cookieguard import ConsentCodec, Policy

try:
    from cookieguard.core._consent import new_consent_id
except ImportError:  # a commit before the layered layout (benchmarks/ab.py runs those too)
    new_consent_id = importlib.import_module("cookieguard._consent").new_consent_id

SECRET = "x" * 32
COOKIES = {
    "likebox": "preferences",
    "_ga": "analytics",
    "_ga_*": "analytics",
    "_fbp": "marketing",
    "session": "necessary",
}
HOST = "127.0.0.1"

# Five trackers as their vendors publish them for copy-and-paste (GA4's gtag.js, Google Tag
# Manager, Meta Pixel, Hotjar, LinkedIn Insight), placed where the vendors say: the first four
# in <head>, GTM's <noscript> right after <body>, LinkedIn's before </body>.
GA4 = b"""<!-- Google tag (gtag.js) -->
<script async src="https://www.googletagmanager.com/gtag/js?id=G-BENCH12345"></script>
<script>
  window.dataLayer = window.dataLayer || [];
  function gtag(){dataLayer.push(arguments);}
  gtag('js', new Date());

  gtag('config', 'G-BENCH12345');
</script>
"""
GTM_HEAD = b"""<!-- Google Tag Manager -->
<script>(function(w,d,s,l,i){w[l]=w[l]||[];w[l].push({'gtm.start':
new Date().getTime(),event:'gtm.js'});var f=d.getElementsByTagName(s)[0],
j=d.createElement(s),dl=l!='dataLayer'?'&l='+l:'';j.async=true;j.src=
'https://www.googletagmanager.com/gtm.js?id='+i+dl;f.parentNode.insertBefore(j,f);
})(window,document,'script','dataLayer','GTM-BENCH1');</script>
<!-- End Google Tag Manager -->
"""
GTM_BODY = b"""<!-- Google Tag Manager (noscript) -->
<noscript><iframe src="https://www.googletagmanager.com/ns.html?id=GTM-BENCH1"
height="0" width="0" style="display:none;visibility:hidden"></iframe></noscript>
<!-- End Google Tag Manager (noscript) -->
"""
META_PIXEL = b"""<!-- Meta Pixel Code -->
<script>
!function(f,b,e,v,n,t,s)
{if(f.fbq)return;n=f.fbq=function(){n.callMethod?
n.callMethod.apply(n,arguments):n.queue.push(arguments)};
if(!f._fbq)f._fbq=n;n.push=n;n.loaded=!0;n.version='2.0';
n.queue=[];t=b.createElement(e);t.async=!0;
t.src=v;s=b.getElementsByTagName(e)[0];
s.parentNode.insertBefore(t,s)}(window, document,'script',
'https://connect.facebook.net/en_US/fbevents.js');
fbq('init', '123456789012345');
fbq('track', 'PageView');
</script>
<noscript><img height="1" width="1" style="display:none"
src="https://www.facebook.com/tr?id=123456789012345&ev=PageView&noscript=1"
/></noscript>
<!-- End Meta Pixel Code -->
"""
HOTJAR = b"""<!-- Hotjar Tracking Code for https://shop.example -->
<script>
    (function(h,o,t,j,a,r){
        h.hj=h.hj||function(){(h.hj.q=h.hj.q||[]).push(arguments)};
        h._hjSettings={hjid:1234567,hjsv:6};
        a=o.getElementsByTagName('head')[0];
        r=o.createElement('script');r.async=1;
        r.src=t+h._hjSettings.hjid+j+h._hjSettings.hjsv;
        a.appendChild(r);
    })(window,document,'https://static.hotjar.com/c/hotjar-','.js?sv=');
</script>
"""
LINKEDIN = b"""<script type="text/javascript">
_linkedin_partner_id = "1234567";
window._linkedin_data_partner_ids = window._linkedin_data_partner_ids || [];
window._linkedin_data_partner_ids.push(_linkedin_partner_id);
</script><script type="text/javascript">
(function(l) {
if (!l){window.lintrk = function(a,b){window.lintrk.q.push([a,b])};
window.lintrk.q=[]}
var s = document.getElementsByTagName("script")[0];
var b = document.createElement("script");
b.type = "text/javascript";b.async = true;
b.src = "https://snap.licdn.com/li.lms-analytics/insight.min.js";
s.parentNode.insertBefore(b, s);})(window.lintrk);
</script>
<noscript>
<img height="1" width="1" style="display:none;" alt=""
src="https://px.ads.linkedin.com/collect/?pid=1234567&fmt=gif" />
</noscript>
"""
_HEAD = (
    b"<!doctype html>\n<html lang=en>\n<head>\n<meta charset=utf-8>\n"
    b'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>Shop</title>\n'
    b'<link rel="stylesheet" href="/static/site.css">\n<link rel="icon" href="/favicon.ico">\n'
    b'<script src="/static/app.js" defer></script>\n'
)
_ITEM = (
    b'<article class="product"><h2>Product %d</h2><img src="/img/%d.jpg" alt="" width=200>'
    b'<p>A fine thing, well made, cheap.</p><a href="/p/%d">details</a></article>\n'
)
_FOOT = (
    b'<footer><a href="/privacy">Privacy</a></footer>\n<script src="/static/late.js"></script>\n'
)
#: A form in the middle of every page's product list. On the "every page different" pages its
#: token changes with every request (a CSRF token, always the same length); on the others it
#: is the same every time, so the two kinds of page differ in nothing else.
_FORM = (
    b'<form method="post" action="/cart"><input type="hidden" name="csrf_token" value="%s">'
    b"<button>Add to cart</button></form>\n"
)
TOKEN_DIGITS = 20
_FIXED_FORM = _FORM % (b"0" * TOKEN_DIGITS)
_FORM_SIZE = len(_FIXED_FORM)
#: One counter for every page of this process: no two "every page different" pages are equal.
_TOKENS = itertools.count(1)


def page_parts(size: int, *, trackers: bool) -> tuple[bytes, bytes]:
    """A server-rendered page of exactly ``size`` bytes, ``</body></html>`` at the end, cut
    in two in the middle of its product list, where the form goes (``Template.render``); with
    ``trackers``, the five vendor snippets where their vendors say to paste them."""
    head = _HEAD + (GA4 + GTM_HEAD + META_PIXEL + HOTJAR if trackers else b"") + b"</head>\n"
    start = head + b"<body>\n" + (GTM_BODY if trackers else b"") + b"<main>\n"
    end = b"</main>\n" + _FOOT + (LINKEDIN if trackers else b"") + b"</body>\n</html>\n"
    items = []
    used = len(start) + len(end) + _FORM_SIZE
    i = 0
    while used + len(_ITEM % (i, i, i)) <= size:
        items.append(_ITEM % (i, i, i))
        used += len(items[-1])
        i += 1
    half = len(items) // 2
    before = start + b"".join(items[:half])
    return before, b"".join(items[half:]) + b" " * (size - used) + end


def page(size: int, *, trackers: bool) -> bytes:
    """The page in one piece, with the fixed token (the kind served identically)."""
    before, after = page_parts(size, trackers=trackers)
    return b"".join((before, _FIXED_FORM, after))


class Template:
    """A page as a template engine serves it: ``render`` returns a **new** bytes object for
    every request, joined from its parts, so nothing downstream can recognise a page by the
    identity of the object or by the hash that CPython caches on a long-lived one.

    ``unique``: every rendering differs (a per-request token of fixed length in the middle,
    like a CSRF token), so no cache keyed on the body's content can ever hit; the length is
    the same every time.
    """

    def __init__(
        self, size: int, *, trackers: bool, unique: bool = False, gzip: bool = False
    ) -> None:
        self.size = size
        self.unique = unique
        #: Sent with ``Content-Encoding: gzip``, compressed by the app on every request (as
        #: Starlette's GZipMiddleware or flask-compress do inside cookieguard).
        self.gzip = gzip
        self.before, self.after = page_parts(size, trackers=trackers)

    def render(self) -> bytes:
        token = b"%0*d" % (TOKEN_DIGITS, next(_TOKENS) if self.unique else 0)
        body = b"".join((self.before, _FORM % token, self.after))
        return gzip.compress(body, 6, mtime=0) if self.gzip else body

    @property
    def headers(self) -> dict[str, str]:
        return {"content-encoding": "gzip"} if self.gzip else {}


HTML = page(20 * 1024, trackers=False)
assert len(HTML) == 20 * 1024
#: Response key -> the page served there. ``_u``: every page different.
PAGES = {
    "html": Template(20 * 1024, trackers=False),
    "html_u": Template(20 * 1024, trackers=False, unique=True),
    "html_t": Template(20 * 1024, trackers=True),
    "html_t_u": Template(20 * 1024, trackers=True, unique=True),
    "html100": Template(100 * 1024, trackers=False),
    "html100_t": Template(100 * 1024, trackers=True),
    # Every page different, so the page memo cannot hide the decode, edit and encode.
    "html_gz": Template(20 * 1024, trackers=False, unique=True, gzip=True),
    "html100_u": Template(100 * 1024, trackers=False, unique=True),
    "html100_t_u": Template(100 * 1024, trackers=True, unique=True),
}
#: Streamed responses (``_s``) -> the page they stream (every page different), sent in
#: ``STREAM_CHUNK`` pieces with no Content-Length, as Starlette's StreamingResponse, Django's
#: StreamingHttpResponse and a WSGI generator send a page.
STREAMED = {"html_s": "html_u", "html100_s": "html100_u"}
STREAM_CHUNK = 4096


def chunks(body: bytes) -> list[bytes]:
    """``body`` in ``STREAM_CHUNK`` pieces."""
    return [body[i : i + STREAM_CHUNK] for i in range(0, len(body), STREAM_CHUNK)]


TEXT = b"Hello, world!"
HELLO = "<p>Hello, World!</p>"  # Flask's quickstart view: a str, so text/html; charset=utf-8
PATHS = {
    "text": "/",
    "cookies": "/cookies",
    "hello": "/hello",
    "html": "/page",
    "html_u": "/page-unique",
    "html_t": "/page-trackers",
    "html_t_u": "/page-trackers-unique",
    "html100": "/page100",
    "html100_t": "/page100-trackers",
    "html_gz": "/page-gzip",
    "html100_u": "/page100-unique",
    "html100_t_u": "/page100-trackers-unique",
    "html_s": "/page-streamed",
    "html100_s": "/page100-streamed",
}


def make_policy(**extra: Any) -> Policy:
    return Policy(secret_keys=[SECRET], cookies=COOKIES, receipts=None, **extra)


#: What the benchmark's decided visitor granted: marketing refused, so auto-blocking still
#: has trackers to look for (Meta Pixel, LinkedIn). ``ALL`` is a visitor who accepted all.
GRANTED = frozenset({"analytics", "preferences"})
ALL = frozenset({"analytics", "preferences", "marketing"})


def consent_token(
    policy: Policy, consent_id: str | None = None, granted: frozenset[str] = GRANTED
) -> str:
    return ConsentCodec(policy).dumps(set(granted), consent_id or new_consent_id())


def starlette_session_value() -> str:
    """A valid cookie for Starlette's ``SessionMiddleware(secret_key=SECRET)``."""
    from itsdangerous import TimestampSigner

    data = base64.b64encode(json.dumps({"user": "ada", "cart": [1, 2, 3]}).encode())
    return TimestampSigner(SECRET).sign(data).decode()


def flask_session_value() -> str:
    """A valid cookie for Flask's session with ``secret_key=SECRET``."""
    import flask

    app = flask.Flask("sign")
    app.secret_key = SECRET
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    return str(serializer.dumps({"user": "ada", "cart": [1, 2, 3]}))


def cookie_header(
    policy: Policy, session: str, *, consent: bool = True, granted: frozenset[str] = GRANTED
) -> str:
    """A decided visitor's steady-state header: 10 declared cookies, all of them allowed.

    Without ``consent``: an undecided visitor in the steady state, who has no consent cookie
    and (after the first response deleted the rest) sends only the necessary ``session``.
    """
    if not consent:
        return f"session={session}"
    pairs = [
        ("_ga", "GA1.1.1234567890.1700000000"),
        ("_ga_ABC123XYZ", "GS1.1.1700000000.4.1.1700000300.0.0.0"),
        ("_ga_DEF456UVW", "GS1.1.1700000000.2.0.1700000100.0.0.0"),
        ("likebox", "1"),
        ("session", session),
        ("_ga_GHI789RST", "GS1.1.1700000000.1.1.1700000050.0.0.0"),
        ("_ga_JKL012OPQ", "GS1.1.1700000000.7.1.1700000700.0.0.0"),
        ("_ga_MNO345LMN", "GS1.1.1700000000.3.0.1700000200.0.0.0"),
        ("_ga_PQR678IJK", "GS1.1.1700000000.5.1.1700000500.0.0.0"),
    ]
    if consent:
        pairs.insert(3, ("cookie_consent", consent_token(policy, granted=granted)))
    return "; ".join(f"{k}={v}" for k, v in pairs)


# -- ASGI ---------------------------------------------------------------------------------


def starlette_app() -> Callable[..., Any]:
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse, PlainTextResponse, Response, StreamingResponse
    from starlette.routing import Route

    async def text(request: Any) -> Response:
        return PlainTextResponse(TEXT)

    async def cookies(request: Any) -> Response:
        response = PlainTextResponse(TEXT)
        response.set_cookie("_ga", "GA1.1.99.1700000000", max_age=3600)
        response.set_cookie("_fbp", "fb.1.1700000000.42", max_age=3600)  # marketing: refused
        return response

    async def hello(request: Any) -> Response:
        return HTMLResponse(HELLO)

    def html(template: Template) -> Callable[..., Any]:
        async def page(request: Any) -> Response:
            return Response(template.render(), media_type="text/html", headers=template.headers)

        return page

    def streamed(template: Template) -> Callable[..., Any]:
        async def page(request: Any) -> Response:
            async def body() -> Any:
                for chunk in chunks(template.render()):
                    yield chunk

            return StreamingResponse(body(), media_type="text/html")

        return page

    return Starlette(
        routes=[
            Route(PATHS["text"], text),
            Route(PATHS["cookies"], cookies),
            Route(PATHS["hello"], hello),
            *(Route(PATHS[key], html(template)) for key, template in PAGES.items()),
            *(Route(PATHS[key], streamed(PAGES[page])) for key, page in STREAMED.items()),
        ]
    )


class NoopASGI:
    """The floor: a pure ASGI middleware that wraps ``send`` and does nothing else."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_wrapper(message: Any) -> None:
            await send(message)

        await self.app(scope, receive, send_wrapper)


def asgi_variant(name: str, policy: Policy | None = None) -> Callable[..., Any]:
    app = starlette_app()
    if name == "bare":
        return app
    if name == "noop":
        return NoopASGI(app)
    if name.startswith("cg_"):
        from cookieguard.asgi import ConsentMiddleware

        return ConsentMiddleware(app, policy=policy or make_policy())
    if name == "session":
        from starlette.middleware.sessions import SessionMiddleware

        return SessionMiddleware(app, secret_key=SECRET)
    raise ValueError(name)


# -- WSGI ---------------------------------------------------------------------------------


def flask_app(*, with_session: bool) -> Any:  # flask.Flask, imported lazily
    import flask

    app = flask.Flask("bench")
    if with_session:
        app.secret_key = SECRET

    @app.get(PATHS["text"])
    def text() -> Any:
        if with_session:
            flask.session.get("user")
        return flask.Response(TEXT, mimetype="text/plain")

    @app.get(PATHS["cookies"])
    def cookies() -> Any:
        if with_session:
            flask.session.get("user")
        response = flask.Response(TEXT, mimetype="text/plain")
        response.set_cookie("_ga", "GA1.1.99.1700000000", max_age=3600)
        response.set_cookie("_fbp", "fb.1.1700000000.42", max_age=3600)
        return response

    @app.get(PATHS["hello"])
    def hello() -> Any:
        if with_session:
            flask.session.get("user")
        return HELLO

    for key, template in PAGES.items():

        def page(template: Template = template) -> Any:
            if with_session:
                flask.session.get("user")
            return flask.Response(template.render(), mimetype="text/html", headers=template.headers)

        app.add_url_rule(PATHS[key], key, page, methods=["GET"])

    for key, name in STREAMED.items():

        def streamed(template: Template = PAGES[name]) -> Any:
            if with_session:
                flask.session.get("user")
            # A generator: Flask sends it as it comes, with no Content-Length.
            return flask.Response(iter(chunks(template.render())), mimetype="text/html")

        app.add_url_rule(PATHS[key], key, streamed, methods=["GET"])

    return app


class NoopWSGI:
    """The floor: a WSGI wrapper that wraps ``start_response`` and does nothing else."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: Any, start_response: Any) -> Any:
        def wrapped(status: str, headers: Any, exc_info: Any = None) -> Any:
            return start_response(status, headers, exc_info)

        return self.app(environ, wrapped)


def wsgi_variant(name: str, policy: Policy | None = None) -> Callable[..., Any]:
    if name == "session":
        session_app: Callable[..., Any] = flask_app(with_session=True).wsgi_app
        return session_app
    app: Callable[..., Any] = flask_app(with_session=False).wsgi_app
    if name == "bare":
        return app
    if name == "noop":
        return NoopWSGI(app)
    if name.startswith("cg_"):
        from cookieguard.wsgi import ConsentMiddleware

        return ConsentMiddleware(app, policy or make_policy())
    raise ValueError(name)
