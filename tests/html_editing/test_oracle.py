"""The fuzz oracle (``fuzz/oracle.py``) on what fetches nothing in Chromium, and on its
controls: the pages of the session-5 million-case run it counted as leaks although Chromium
fetches nothing for them (checked in tests/browser/test_oracle_beliefs.py), and the nearest
shapes that do fetch, which it must keep counting."""

from __future__ import annotations

import pytest

from cookieguard.catalogue import load_catalogue
from fuzz import oracle

CATALOGUE = load_catalogue()
PIXEL = "https://www.facebook.com/tr?id=1&amp;ev=PageView"
SHOWN = f"background:url({PIXEL})"


def blocked(host: str, path: str) -> bool:
    """Every catalogued vendor is refused (an undecided visitor)."""
    return CATALOGUE.vendor_for_url(f"https://{host}{path}") is not None


def page(markup: str) -> bytes:
    return (
        f"<!doctype html><html><head><title>t</title></head><body>{markup}</body></html>".encode()
    )


#: The pages the gate wrote for ``fuzz/gate.py --seed 2030 --replay N`` (bfc007d's run), which
#: the oracle counted as leaks: an attribute soup put a src on a ``<plaintext>``, or a quoted
#: value carried a ``<div>``'s style attribute into a ``<style>`` start tag.
REPLAYS: dict[str, bytes] = {
    "673709: <plaintext src> in a select's annotation-xml": (
        b"<!DOCTYPE html><head><meta charset=utf-8></head><option><annotation-xml encoding="
        b"'APPLICATION/XHTML+XML'><table><mtext><tr><plaintext / sr=\t \"\x0cbackgroun==a=b=c>"
        b'<IMG/alt="" Src="https:www.facebook.com/tr?id=1&ev=PageView"\r==dat=\n1>'
    ),
    "840904: <plaintext src> after gated iframe and audio": (
        b"<!DOCTYPE html><head><meta charset=utf-8></head><math><mtext><iframe "
        b'data-cookieguard="marketing" data-cookieguard-srcdoc="&lt;img src=&quot;https:&sol;'
        b'&sol;px.&#97ds.linkedin.com/collect/?pid=1&quot;&gt;"></iframe></mtext></math><div>'
        b'<AUDIO data-cookieguard="marketing"/data-cookieguard-src=\'https&colon;//px&period;'
        b"ads&period;linkedin&period;com/collect/?pid=1'></audio><foreignObject><h1></html>"
        b'</foreignObject><mtext><h1/&#x2F;=\r /a.png><plaintext\r\npin=a="/href=\x0c "a=\'b">'
        b'<audio\t"=x=\'y\x0cs\t=\t"q" src=https://www&period;facebook&period;com/tr?id=1&ev='
        b"PageView></audio><p>text</p>"
    ),
    "529439: a <style>'s style attribute, in a MathML mi": (
        b"<!DOCTYPE html><head><meta charset=utf-8></head></div></span><button><td><mi><style\n"
        b"src=\n x=y== = x='y><div b/a ' / href=\n`x` "
        b'style="background:url(https://www.google-analytics.com/collect?v=1)"></div></style>'
        b"<br>"
    ),
    "689713: a <style>'s style attribute after a long tag": (
        b"<!doctype html><html><head><title>t</title></head><body></desc><style\t&#x2F; = "
        b"x&#34;y formactio=\nx'y / b\t=\t\"\x0chre><div a="
        + b"x=y&amp;" * 44
        + b'/a&quot;\t b==a=" x '
        + b"b=1 " * 81
        + b"\n'=a/\x0cs=\n a=b=c style=\"background:url(https://WWW.FACEBOOK.COM/tr?id=1&ev="
        b'PageView)"/===&#x2F;></div></style><b>b</b></body></html>'
    ),
}


@pytest.mark.parametrize("name", list(REPLAYS))
def test_the_run_s_pages_that_fetch_nothing_are_no_leaks(name: str) -> None:
    assert oracle.leaks(REPLAYS[name], blocked) == []


#: What the oracle must still count: an attribute it reads on another element, and a hidden
#: element's style attribute on a page whose CSS or script may show it (Chromium fetches the
#: url() then: the controls of tests/browser/test_oracle_beliefs.py are the first ones).
STILL_FETCHES: dict[str, str] = {
    "a plaintext's style attribute (a plaintext renders)": f'<plaintext style="{SHOWN}">x',
    "a style shown by its own style": f'<style style="display:block;{SHOWN}">p{{}}</style>',
    "a style reset by all:unset": f'<style style="ALL: unset;{SHOWN}">p{{}}</style>',
    "a style shown by a style sheet": (
        f'<style>style{{display:block}}</style><style style="{SHOWN}">p{{}}</style>'
    ),
    "a style shown by a sheet after it": (
        f'<style style="{SHOWN}">p{{}}</style><svg><style>style{{display:block}}</style></svg>'
    ),
    "a style shown by a CSS escape": f'<style style="\\64isplay:block;{SHOWN}">p{{}}</style>',
    "a style shown by a character reference": (
        f'<style style="dis&#112;lay:block;{SHOWN}">p{{}}</style>'
    ),
    "a style that an imported sheet may show": (
        f'<style>@import "/site.css";</style><style style="{SHOWN}">p{{}}</style>'
    ),
    "a style that a linked sheet may show": (
        f'<link rel="Alternate StyleSheet" href=/site.css><style style="{SHOWN}">p{{}}</style>'
    ),
    "a style that a script shows": (
        f'<style style="{SHOWN}">p{{}}</style>'
        "<script>document.querySelector('style').style.display = 'block'</script>"
    ),
    "a script shown by its own style": f'<script style="display:block;{SHOWN}"></script>',
    "a noscript's style attribute (Chromium fetches it, scripting on)": (
        f'<noscript style="{SHOWN}">x</noscript>'
    ),
    "a title shown by its own style (not judged hidden)": (
        f'<title style="display:block;{SHOWN}">x</title>'
    ),
    "an SVG plaintext's href (not an HTML plaintext)": f"<svg><plaintext href={PIXEL}></svg>",
    "an img's src": f"<img src={PIXEL}>",
}


@pytest.mark.parametrize("name", list(STILL_FETCHES))
def test_the_oracle_still_counts_what_may_fetch(name: str) -> None:
    assert oracle.leaks(page(STILL_FETCHES[name]), blocked)
