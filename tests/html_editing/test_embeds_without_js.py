"""Click-to-load placeholders work without JavaScript (issue 24 part 6): a link to the content
on the vendor's site, and a form that grants the embed's category (keeping what the visitor
already granted) and comes back to the page. No button that needs a script is shown."""

from __future__ import annotations

import re

from cookieguard.html._embeds import placeholder_parts


def parts(**overrides: object) -> str:
    options: dict[str, object] = {
        "provider": "YouTube",
        "categories": ("marketing",),
        "labels": ("Marketing",),
        "width": "560",
        "height": "315",
        "language": "en",
        "prefix": "/_cookieguard",
        "next_path": "/watch?v=1",
        "url": "https://www.youtube.com/embed/abc?x=1&y=2",
        "granted": ("analytics",),
    }
    options.update(overrides)
    before, after = placeholder_parts(**options)
    return before + after


def test_a_link_opens_the_content_on_the_vendors_site() -> None:
    html = parts()
    assert '<a href="https://www.youtube.com/embed/abc?x=1&amp;y=2"' in html
    assert "Open on YouTube" in html


def test_a_protocol_relative_source_becomes_https() -> None:
    assert '<a href="https://player.vimeo.com/video/1"' in parts(url="//player.vimeo.com/video/1")


def test_no_link_to_a_url_that_is_not_the_web() -> None:
    for url in ("javascript:alert(1)", "data:text/html,x", "", "/local"):
        assert "Open on" not in parts(url=url), url


def test_the_form_grants_the_category_and_keeps_the_others() -> None:
    html = parts()
    form = re.search(r'<form method="post" action="/_cookieguard/consent"[^>]*>(.*?)</form>', html)
    assert form is not None, html
    body = form.group(1)
    assert '<input type="hidden" name="next" value="/watch?v=1">' in body
    assert 'name="action" value="save"' in body
    assert re.findall(r'name="category" value="(\w+)"', body) == ["analytics", "marketing"]
    assert re.search(r'<button type="submit"[^>]*data-cookieguard-action="allow"', body)


def test_load_once_needs_javascript_so_it_starts_hidden() -> None:
    html = parts()
    assert re.search(
        r'<button type="button"[^>]*data-cookieguard-action="load_once"[^>]* hidden', html
    )
    button = re.search(r'<button type="button"[^>]*load_once[^>]*>', html)
    assert button is not None
    assert 'type="button"' not in html.replace(button.group(0), "")


def test_a_category_that_cannot_be_granted_gets_no_form() -> None:
    assert "<form" not in parts(allow=False)
