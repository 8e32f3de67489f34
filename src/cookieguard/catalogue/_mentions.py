"""Where script text names a catalogued host, however the script spells the URL around it.

A vendor's snippet does not always write its loader as ``//host/path``. Published ones build
it at run time: ``'https://secure' + '.quantserve.com/quant.js'``, ``'http' + (ssl ? 's://s'
: '://') + 'cdn.cxense.com/cx.js'``, ``'//' + a`` with ``a = 'static.olark.com/...'``, a
config field ``beacon: 'bam.nr-data.net'``, or the host as the path of another
(``storage.googleapis.com/code.snapengage.com/js/...``). What every one of them still writes
whole is the host's registrable part, the name a vendor registers (``quantserve.com``,
``cxense.com``): a concatenation that split that too would be written to evade, not to load.

So the rule: a host named in the text is a run of host characters (``a-z 0-9 . -``) that
ends with the registrable part of a catalogued host, not followed by more of a host; its
path, if any, follows it (``/`` or JSON's ``\\/``). The catalogue then reads that host and
path exactly as it reads a URL's (``Catalogue.vendors_named``): ``evilhotjar.com``,
``yahoo.com`` (only ``analytics.yahoo.com`` is catalogued) and ``www.google.com/recaptcha``
name no vendor. A run that starts with a dot (``'.quantserve.com'``, ``'.facebook.net/...'``
after ``'https://connect' +``) is the end of a host whose start the script computes: a
*fragment*, which names every catalogued host it ends.

Linear time on any text. One regex search finds the candidates, and it is cheap where a page
has none: it starts at a literal ``.`` (a fast scan in the regex engine), tries the suffixes
(``com``, ``co.uk``...) as a character trie, then looks back at the last few letters of the
registrable names under that suffix (a fixed-width look-behind per length). Each candidate's
host is read backwards (at most the 253 characters DNS allows a host) and its path forwards
(at most :data:`_PATH_LIMIT` bytes).
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterable, Iterator
from typing import Any

import idna

__all__ = [
    "FOLDING_REFERENCES",
    "Found",
    "HostMentions",
    "Keyed",
    "folded",
    "folding_references",
    "registrable",
    "tail_key",
]

#: A host named in text: ``(offset, host, path)``.
Found = tuple[int, bytes, bytes]
#: A host named in text with what the search matched: ``(window, key, offset, host, path)``
#: (see :meth:`HostMentions.find_keyed`).
Keyed = tuple[bytes, bytes, int, bytes, bytes]

#: Second-level labels under which country domains register names (``google.co.uk``,
#: ``google.com.au``): the registrable part is then three labels. (The public suffix list
#: would be exact; these cover every catalogued host, and a wrong guess only makes the
#: search's anchor longer or shorter, never the verdict, which is the catalogue's.)
_SECOND_LEVEL = frozenset({"ac", "co", "com", "edu", "gov", "go", "ne", "net", "or", "org"})
#: How many letters of a registrable name the search looks back at (the rest is checked by
#: the catalogue's lookup of the whole host).
_TAIL = 5
#: What may continue a host name, before or after.
_HOST_CHAR = r"[a-z0-9\-]"
#: The longest host name DNS allows.
_HOST_LIMIT = 253

#: How much of a path is read (enough for every catalogued path prefix).
_PATH_LIMIT = 128
#: How many bytes before a hit's suffix decide it, if its host starts within them
#: (:meth:`HostMentions.find_keyed`).
_WIDE = 48
#: How many wide windows one search remembers (a text of distinct hosts gains nothing from
#: them; a repeated one needs few).
_SEEN_LIMIT = 4096

#: How many hits of settled windows a search passes over before it masks the window of the
#: next one out of the text ahead (:meth:`HostMentions.find_keyed`), and the least it masks.
_MASK_AFTER = 64
_MASK_SPAN = 1024

#: The characters of a host name (lower case), read back from the registrable part.
_HOST_BYTES = b"abcdefghijklmnopqrstuvwxyz0123456789.-"
#: The characters of one label.
_NAME_BYTES = b"abcdefghijklmnopqrstuvwxyz0123456789-"
#: What may follow a host in a URL: a port or a path.
_PATH_START = (b":", b"/", b"\\")
#: A port, then a path as URLs in scripts write it (JSON writes "/" as "\\/"); a quote, "?"
#: or "#" ends it.
_PATH = re.compile(rb"(?::[0-9]*+)?((?:\\?/[a-z0-9._~%\-]*+)*+)")


#: The named character references (as HTML 5 spells them; those without ";" decode without
#: it too) for characters the URL parser maps to host characters or to nothing (UTS 46:
#: ``&eopf;``, a double-struck "e", is "e"; ``&shy;`` is ignored). Where a script's text has
#: its references decoded (an SVG script's), ``cdn.cx&eopf;nse.com`` reaches cdn.cxense.com.
#: (tests/catalogue/test_mentions.py works the list out from ``html.entities`` and ``idna``.)
FOLDING_REFERENCES: tuple[str, ...] = tuple(
    """
    af; Afr; afr; Aopf; aopf; ApplyFunction; Ascr; ascr; bernou; Bernoullis; Bfr; bfr; Bopf;
    bopf; Bscr; bscr; CapitalDifferentialD; Cayleys; Cfr; cfr; circledS; complexes; Copf;
    copf; Cscr; cscr; DD; dd; Dfr; dfr; DifferentialD; Dopf; dopf; Dscr; dscr; ee; Efr; efr;
    ell; Eopf; eopf; Escr; escr; expectation; ExponentialE; exponentiale; ffilig; fflig;
    ffllig; Ffr; ffr; filig; fjlig; fllig; Fopf; fopf; Fouriertrf; Fscr; fscr; Gfr; gfr;
    Gopf; gopf; Gscr; gscr; hamilt; Hfr; hfr; HilbertSpace; Hopf; hopf; Hscr; hscr; ic; Ifr;
    ifr; ii; IJlig; ijlig; Im; image; ImaginaryI; imagline; imagpart; integers;
    InvisibleComma; InvisibleTimes; Iopf; iopf; Iscr; iscr; it; Jfr; jfr; Jopf; jopf; Jscr;
    jscr; Kfr; kfr; Kopf; kopf; Kscr; kscr; lagran; Laplacetrf; Lfr; lfr; Lopf; lopf; Lscr;
    lscr; Mellintrf; Mfr; mfr; Mopf; mopf; Mscr; mscr; naturals; NegativeMediumSpace;
    NegativeThickSpace; NegativeThinSpace; NegativeVeryThinSpace; Nfr; nfr; NoBreak; Nopf;
    nopf; Nscr; nscr; numero; Ofr; ofr; Oopf; oopf; order; orderof; ordf ordf; ordm ordm;
    oS; Oscr; oscr; period; Pfr; pfr; phmmat; planckh; Poincareplane; Popf; popf; primes;
    Pscr; pscr; Qfr; qfr; Qopf; qopf; Qscr; qscr; quaternions; rationals; Re; real; realine;
    realpart; reals; Rfr; rfr; Ropf; ropf; Rscr; rscr; Sfr; sfr; shy shy; Sopf; sopf; Sscr;
    sscr; sup1 sup1; sup2 sup2; sup3 sup3; Tfr; tfr; Topf; topf; TRADE; trade; Tscr; tscr;
    Ufr; ufr; Uopf; uopf; Uscr; uscr; Vfr; vfr; Vopf; vopf; Vscr; vscr; Wfr; wfr; Wopf;
    wopf; Wscr; wscr; Xfr; xfr; Xopf; xopf; Xscr; xscr; Yfr; yfr; Yopf; yopf; Yscr; yscr;
    zeetrf; ZeroWidthSpace; Zfr; zfr; Zopf; zopf; Zscr; zscr;
    """.split()  # noqa: SIM905 (one line a name would be 235 lines)
)
#: A run of characters outside ASCII (in a capture: ``re.split`` keeps them).
_NON_ASCII = re.compile("([^\x00-\x7f]+)")
_HOST_TEXT = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-")
#: How many characters :data:`_FOLDS` remembers (a page's own script needs a few thousand).
_FOLDS_LIMIT = 16384


def folding_references() -> str:
    """A regex (lower case, as a body lower-cased is searched) matching the name and ";" of
    each of :data:`FOLDING_REFERENCES`, after its "&"."""
    return _words({name.lower() for name in FOLDING_REFERENCES})


def folded(text: bytes) -> bytes:
    """``text`` (UTF-8) with each character outside ASCII that the URL parser maps to host
    characters or to nothing written as it maps (UTS 46, per code point: a double-struck or
    full-width "e" is "e", a full-width full stop ".", a soft hyphen nothing), others kept:
    the search for hosts reads ASCII, and a script building a URL from ``cdn.cx`` + a
    double-struck "e" + ``nse.com`` reaches cdn.cxense.com. Offsets move: for searches
    whose hits' offsets are not used. One split and one ``str.translate`` a run of such
    characters (a callback a run cost ~3 us each)."""
    if text.isascii():
        return text
    parts = _NON_ASCII.split(text.decode("utf-8", "surrogateescape"))
    parts[1::2] = [run.translate(_FOLDS) for run in parts[1::2]]
    return "".join(parts).encode("utf-8", "surrogateescape")


class _Folds(dict[int, "int | str"]):
    """A ``str.translate`` table that works each code point out when first asked
    (:func:`_folded_char`), remembering up to :data:`_FOLDS_LIMIT` of them."""

    def __missing__(self, code: int) -> int | str:
        char = chr(code)
        mapped = _folded_char(char)
        found: int | str = code if mapped == char else mapped
        if len(self) < _FOLDS_LIMIT:
            self[code] = found
        return found


_FOLDS = _Folds()


def _folded_char(char: str) -> str:
    try:
        mapped = idna.uts46_remap(char, std3_rules=False, transitional=False)
    except (idna.IDNAError, UnicodeError):
        return char  # (disallowed: the browser refuses such a host)
    return mapped if _HOST_TEXT.issuperset(mapped) else char


def registrable(host: str) -> tuple[str, str]:
    """``(name, suffix)`` of a host's registrable part: ``cdn.cxense.com`` gives
    ``("cxense", "com")``, ``www.google.co.uk`` gives ``("google", "co.uk")``."""
    labels = host.split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL:
        return labels[-3], ".".join(labels[-2:])
    if len(labels) >= 2:
        return labels[-2], labels[-1]
    return "", host


def tail_key(host: str) -> bytes:
    """What a search hit on ``host`` (a catalogued host) is keyed by: the last
    :data:`_TAIL` letters of its registrable name (a shorter name whole), a dot and its
    suffix: ``cdn.quantserve.com`` gives ``b"serve.com"``, ``bam.nr-data.net`` gives
    ``b"-data.net"``. Every hit that names the host's vendors has this key
    (:meth:`HostMentions.find_keyed`)."""
    name, suffix = registrable(host.lower())
    return f"{name[-_TAIL:]}.{suffix}".encode("ascii")


def _trie(items: Iterable[tuple[str, str]]) -> str:
    """A regex matching each key of ``items`` followed by its own pattern, as a trie."""
    root: dict[str, Any] = {}
    for key, then in items:
        node = root
        for char in key:
            node = node.setdefault(char, {})
        node[""] = then

    def render(node: dict[str, Any]) -> str:
        branches = [re.escape(char) + render(child) for char, child in sorted(node.items()) if char]
        if "" in node:
            branches.append(node[""])
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"

    return render(root)


def _words(words: Iterable[str]) -> str:
    """A regex alternation of ``words`` as a trie (one branch tried per first letter)."""
    return _trie((word, "") for word in words)


def _looking_back(names: Iterable[str], suffix: str) -> str:
    """A look-behind that holds where ``.suffix`` just ended after one of ``names``: the
    last :data:`_TAIL` letters of each, or a whole shorter name not preceded by a host
    character. Python's look-behinds are fixed-width: one per length."""
    tails: dict[int, set[str]] = {}
    for name in names:
        tail = name[-_TAIL:]
        tails.setdefault(len(tail), set()).add(tail)
    dot_suffix = r"\." + re.escape(suffix)
    looks = []
    # The longest first: most registrable names have five letters or more, and a hit then
    # costs one look-behind, not one per shorter length tried before it.
    for length, group in sorted(tails.items(), reverse=True):
        start = "" if length == _TAIL else rf"(?<!{_HOST_CHAR})"
        looks.append(rf"(?<={start}{_words(group)}{dot_suffix})")
    return looks[0] if len(looks) == 1 else "(?:" + "|".join(looks) + ")"


def _maskable(names: dict[str, set[str]]) -> frozenset[bytes]:
    """The windows whose every occurrence a search may mask (:meth:`HostMentions.find_keyed`):
    ``tail.suffix`` for a tail of :data:`_TAIL` letters and a suffix without a dot, unless a
    longer suffix that starts with that one has a name with the same tail under it
    (``oogle.com``: ``google.com.au`` is catalogued too, and ``oogle.com.au`` is another
    window).

    Why masking such a window's dot (``serve.com`` -> ``serve\0com``) changes no other hit:
    every byte a hit's match reads is a host character or a dot. The masked dot has five
    letters before it, so it is no dot of another hit's suffix (a suffix of two labels has at
    most three letters before its second dot) and none of its tail; a hit ending just before
    it was none (a dot and a letter follow); a hit at the same dot would be the window's own,
    or one with a longer suffix starting with the window's, excluded above. A hit the mask
    makes (one that ended before a dot and a letter) is told by matching the text unmasked."""
    maskable: set[bytes] = set()
    for suffix, group in names.items():
        if "." in suffix:
            continue
        tails = {name[-_TAIL:] for name in group if len(name) >= _TAIL}
        for longer, others in names.items():
            if longer != suffix and longer.startswith(suffix):
                tails -= {name[-_TAIL:] for name in others}
        maskable.update(
            f"{tail}.{suffix}".encode("ascii")
            for tail in tails
            if not tail.encode("ascii").strip(_NAME_BYTES)
        )
    return frozenset(maskable)


class HostMentions:
    """Finds, in text, the hosts whose registrable part is that of one of ``hosts``."""

    __slots__ = ("_endings", "_fragments", "_maskable", "_regex")

    def __init__(self, hosts: Iterable[str]) -> None:
        names: dict[str, set[str]] = {}
        # key -> the hosts under it as ".host" (what a host found by that key must end with
        # to have a catalogued parent), and those and each of their parents down to the
        # registrable part (what a fragment must be to end a catalogued host).
        endings: dict[bytes, set[bytes]] = {}
        fragments: dict[bytes, set[bytes]] = {}
        for host in hosts:
            host = host.lower()
            name, suffix = registrable(host)
            if name and suffix:
                names.setdefault(suffix, set()).add(name)
                key = tail_key(host)
                endings.setdefault(key, set()).add(f".{host}".encode("ascii"))
                ends = fragments.setdefault(key, set())
                floor = len(name) + 1 + len(suffix)
                parent = "." + host
                while len(parent) > floor:
                    ends.add(parent.encode("ascii"))
                    parent = parent[parent.find(".", 1) :]
        self._endings = {key: tuple(sorted(ends)) for key, ends in endings.items()}
        self._fragments = {key: frozenset(ends) for key, ends in fragments.items()}
        self._maskable = _maskable(names)
        if not names:
            self._regex: re.Pattern[bytes] | None = None
            return
        # The suffix, then no more host (not "cxense.com.evil.example", "cxense.community"),
        # then the registrable name before it.
        end = rf"(?!{_HOST_CHAR}|\.{_HOST_CHAR})"
        body = _trie(
            (suffix, end + _looking_back(group, suffix)) for suffix, group in names.items()
        )
        self._regex = re.compile((r"\." + body).encode("ascii"))

    def any(self, low: bytes, start: int, end: int) -> bool:
        """True if ``low[start:end]`` may name a host (one regex search, no host read)."""
        return self._regex is not None and self._regex.search(low, start, end) is not None

    def find(self, low: bytes, start: int = 0, end: int | None = None) -> Iterator[Found]:
        """``(offset, host, path)`` of each host named in ``low[start:end]`` (``low``:
        lower-cased text; the host ASCII, the path as written, ``b""`` if none). A host
        starting with ``.`` is a fragment."""
        regex = self._regex
        if regex is None:
            return
        stop = len(low) if end is None else end
        for m in regex.finditer(low, start, stop):
            dot, after = m.span()
            back = dot - _HOST_LIMIT
            before = low[back if back > start else start : dot]  # (bounded: linear work)
            at = dot - len(before) + len(before.rstrip(_HOST_BYTES))
            path = b""
            if low.startswith(_PATH_START, after):
                # Read up to _PATH_LIMIT bytes (a verdict reads no more of it).
                limit = after + _PATH_LIMIT
                path = _PATH.match(low, after, limit if limit < stop else stop).group(1)  # type: ignore[union-attr]
            yield at, low[at:after].lstrip(b"-"), path

    def find_keyed(
        self, low: bytes, start: int, end: int | None, settled: Container[bytes]
    ) -> Iterator[Keyed]:
        """:meth:`find`, each hit with its *window* (the :data:`_TAIL` bytes before the
        suffix and the suffix, as written) and its *key* (:func:`tail_key` of the hosts it
        may name), passing over a hit whose window is in ``settled`` before its host and
        path are read: the caller adds a window once no more hits with its key can change
        its answer (a script naming one host 50,000 times costs a slice and a set look-up
        a hit after the first, and after :data:`_MASK_AFTER` of those the search masks
        that window out of the text ahead: :meth:`_unsettled`). A hit within :data:`_TAIL`
        bytes of the text's start has the window ``b""`` (not to be settled)."""
        regex = self._regex
        if regex is None:
            return
        endings, fragments = self._endings, self._fragments
        stop = len(low) if end is None else end
        seen: set[bytes] = set()  # the wide windows of hits read (see below)
        for dot, after, window in self._unsettled(regex, low, start, stop, settled):
            # A hit whose host starts within _WIDE bytes before its suffix is the same as any
            # other with the same bytes from there to the end of the path it may read: read
            # once (a script naming "x.google.com" 50,000 times, which names no vendor but
            # shares its key with hosts that do).
            wide = b""
            if dot - _WIDE >= start and after + _PATH_LIMIT <= stop:
                wide = low[dot - _WIDE : after + _PATH_LIMIT]
                if wide in seen:
                    continue
            if window:
                tail = window[:_TAIL]
                key = tail[len(tail.rstrip(_NAME_BYTES)) :] + window[_TAIL:]
            else:
                tail = low[:dot]
                key = tail[len(tail.rstrip(_NAME_BYTES)) :] + low[dot:after]
            # The host's start: within the wide window if it holds one (most do), else read
            # back at most the 253 bytes DNS allows a host (bounded: linear work).
            near = wide[:_WIDE].rstrip(_HOST_BYTES)
            if near:
                at = dot - _WIDE + len(near)
            else:
                back = dot - _HOST_LIMIT
                before = low[back if back > start else start : dot]
                at = dot - len(before) + len(before.rstrip(_HOST_BYTES))
            host = low[at:after].lstrip(b"-")
            ends = endings.get(key)
            if ends is not None:
                # A host no catalogued host is a parent of, a fragment no catalogued host
                # ends with, names no vendor (Catalogue.vendors_named): not yielded.
                dotted = b"." + host.lstrip(b".")
                if not dotted.endswith(ends) and (
                    not host.startswith(b".") or dotted not in fragments[key]
                ):
                    if near and len(seen) < _SEEN_LIMIT:
                        seen.add(wide)
                    continue
            path = b""
            if low.startswith(_PATH_START, after):
                limit = after + _PATH_LIMIT
                path = _PATH.match(low, after, limit if limit < stop else stop).group(1)  # type: ignore[union-attr]
            if near and len(seen) < _SEEN_LIMIT:
                seen.add(wide)
            yield window, key, at, host, path

    def _unsettled(
        self, regex: re.Pattern[bytes], low: bytes, start: int, stop: int, settled: Container[bytes]
    ) -> Iterator[tuple[int, int, bytes]]:
        """``(dot, after, window)`` of each hit in ``low[start:stop]`` whose window is not in
        ``settled`` when the search reaches it.

        A hit of a settled window still costs the regex a match and this loop a slice and a
        look-up (a script naming one host 50,000 times: most of its cost). So once
        :data:`_MASK_AFTER` of them are passed over, the window of the next one, if
        :data:`_maskable`, is masked in a copy of the text searched, from there on: its dot
        replaced (``bytes.replace``, no regex), so the regex passes its hits over as it passes
        over text. Hits are read, and a hit found in the masked text checked, in ``low``.
        Linear: a mask reaches at most twice as far as the search went since the last one
        (:data:`_MASK_SPAN` at least), and comes after :data:`_MASK_AFTER` hits passed over."""
        masked: bytearray | None = None  # low with some windows masked, once one is
        pos = last = start
        passed = 0  # hits of settled windows passed over since the last mask
        while True:
            for m in regex.finditer(low if masked is None else masked, pos, stop):
                dot, after = m.span()
                window = low[dot - _TAIL : after] if dot >= _TAIL else b""
                if window in settled:
                    passed += 1
                    if passed >= _MASK_AFTER and window in self._maskable:
                        break
                    continue
                if masked is not None:
                    again = regex.match(low, dot, stop)
                    if again is None or again.end() != after:
                        continue  # (a mask made it: it ended before a dot and a letter)
                yield dot, after, window
            else:
                return
            if masked is None:
                masked = bytearray(low)
            reach = min(stop, after + max(_MASK_SPAN, 2 * (after - last)))
            dotless = window[:_TAIL] + b"\0" + window[_TAIL + 1 :]
            masked[after:reach] = masked[after:reach].replace(window, dotless)
            pos = last = after
            passed = 0
