"""Which charset a browser reads a page in, and how to edit a page in any of them.

The choice follows the HTML standard's "determining the character encoding"
(https://html.spec.whatwg.org/multipage/parsing.html#determining-the-character-encoding): a
byte order mark first, then the Content-Type's ``charset``, then a ``<meta>`` in the first
1024 bytes (the prescan), else the default. Labels are the WHATWG Encoding Standard's
(https://encoding.spec.whatwg.org/#names-and-labels): a label only Python knows ("utf-7",
"base64", "rot13") is no label to a browser, so it is skipped the way a browser skips it.

Pages in an ASCII-compatible encoding are edited as bytes (every byte of markup the browser
sees is the ASCII byte we see); the inserts are written in the page's encoding, characters it
lacks as character references. Pages in UTF-16 or ISO-2022-JP are decoded, edited as UTF-8 and
encoded back (:class:`Transcoder`): their bytes are not markup as written.
"""

from __future__ import annotations

import codecs
import logging
import re

from cookieguard._cache import remember

logger = logging.getLogger("cookieguard")

# The WHATWG Encoding Standard's labels, and the Python codec for each encoding.
_ENCODINGS: dict[str, tuple[str, ...]] = {
    "utf-8": ("unicode-1-1-utf-8", "unicode11utf8", "unicode20utf8", "utf-8", "utf8",
              "x-unicode20utf8"),
    "cp866": ("866", "cp866", "csibm866", "ibm866"),
    "iso8859_2": ("csisolatin2", "iso-8859-2", "iso-ir-101", "iso8859-2", "iso88592",
                  "iso_8859-2", "iso_8859-2:1987", "l2", "latin2"),
    "iso8859_3": ("csisolatin3", "iso-8859-3", "iso-ir-109", "iso8859-3", "iso88593",
                  "iso_8859-3", "iso_8859-3:1988", "l3", "latin3"),
    "iso8859_4": ("csisolatin4", "iso-8859-4", "iso-ir-110", "iso8859-4", "iso88594",
                  "iso_8859-4", "iso_8859-4:1988", "l4", "latin4"),
    "iso8859_5": ("csisolatincyrillic", "cyrillic", "iso-8859-5", "iso-ir-144", "iso8859-5",
                  "iso88595", "iso_8859-5", "iso_8859-5:1988"),
    "iso8859_6": ("arabic", "asmo-708", "csiso88596e", "csiso88596i", "csisolatinarabic",
                  "ecma-114", "iso-8859-6", "iso-8859-6-e", "iso-8859-6-i", "iso-ir-127",
                  "iso8859-6", "iso88596", "iso_8859-6", "iso_8859-6:1987"),
    "iso8859_7": ("csisolatingreek", "ecma-118", "elot_928", "greek", "greek8", "iso-8859-7",
                  "iso-ir-126", "iso8859-7", "iso88597", "iso_8859-7", "iso_8859-7:1987",
                  "sun_eu_greek"),
    "iso8859_8": ("csiso88598e", "csisolatinhebrew", "hebrew", "iso-8859-8", "iso-8859-8-e",
                  "iso-ir-138", "iso8859-8", "iso88598", "iso_8859-8", "iso_8859-8:1988",
                  "visual", "csiso88598i", "iso-8859-8-i", "logical"),
    "iso8859_10": ("csisolatin6", "iso-8859-10", "iso-ir-157", "iso8859-10", "iso885910",
                   "l6", "latin6"),
    "iso8859_13": ("iso-8859-13", "iso8859-13", "iso885913"),
    "iso8859_14": ("iso-8859-14", "iso8859-14", "iso885914"),
    "iso8859_15": ("csisolatin9", "iso-8859-15", "iso8859-15", "iso885915", "iso_8859-15",
                   "l9"),
    "iso8859_16": ("iso-8859-16",),
    "koi8_r": ("cskoi8r", "koi", "koi8", "koi8-r", "koi8_r"),
    "koi8_u": ("koi8-ru", "koi8-u"),
    "mac_roman": ("csmacintosh", "mac", "macintosh", "x-mac-roman"),
    "cp874": ("dos-874", "iso-8859-11", "iso8859-11", "iso885911", "tis-620", "windows-874"),
    "cp1250": ("cp1250", "windows-1250", "x-cp1250"),
    "cp1251": ("cp1251", "windows-1251", "x-cp1251"),
    # Browsers read Latin-1 and ASCII labels as windows-1252.
    "cp1252": ("ansi_x3.4-1968", "ascii", "cp1252", "cp819", "csisolatin1", "ibm819",
               "iso-8859-1", "iso-ir-100", "iso8859-1", "iso88591", "iso_8859-1",
               "iso_8859-1:1987", "l1", "latin1", "us-ascii", "windows-1252", "x-cp1252"),
    "cp1253": ("cp1253", "windows-1253", "x-cp1253"),
    "cp1254": ("cp1254", "csisolatin5", "iso-8859-9", "iso-ir-148", "iso8859-9", "iso88599",
               "iso_8859-9", "iso_8859-9:1989", "l5", "latin5", "windows-1254", "x-cp1254"),
    "cp1255": ("cp1255", "windows-1255", "x-cp1255"),
    "cp1256": ("cp1256", "windows-1256", "x-cp1256"),
    "cp1257": ("cp1257", "windows-1257", "x-cp1257"),
    "cp1258": ("cp1258", "windows-1258", "x-cp1258"),
    "mac_cyrillic": ("x-mac-cyrillic", "x-mac-ukrainian"),
    "gbk": ("chinese", "csgb2312", "csiso58gb231280", "gb2312", "gb_2312", "gb_2312-80", "gbk",
            "iso-ir-58", "x-gbk"),
    "gb18030": ("gb18030",),
    "big5hkscs": ("big5", "big5-hkscs", "cn-big5", "csbig5", "x-x-big5"),
    "euc_jp": ("cseucpkdfmtjapanese", "euc-jp", "x-euc-jp"),
    "cp932": ("csshiftjis", "ms932", "ms_kanji", "shift-jis", "shift_jis", "sjis", "windows-31j",
              "x-sjis"),
    "cp949": ("cseuckr", "csksc56011987", "euc-kr", "iso-ir-149", "korean", "ks_c_5601-1987",
              "ks_c_5601-1989", "ksc5601", "ksc_5601", "windows-949"),
    # Not ASCII-compatible: decoded, edited as UTF-8, encoded back.
    "iso2022_jp": ("csiso2022jp", "iso-2022-jp"),
    "utf_16_be": ("unicodefffe", "utf-16be"),
    "utf_16_le": ("csunicode", "iso-10646-ucs-2", "ucs-2", "unicode", "unicodefeff", "utf-16",
                  "utf-16le"),
    # The "replacement" encoding: a browser shows the whole page as one U+FFFD (nothing loads).
    "replacement": ("csiso2022kr", "hz-gb-2312", "iso-2022-cn", "iso-2022-cn-ext",
                    "iso-2022-kr", "replacement"),
    # x-user-defined: bytes 0x80-0xFF are private-use characters; markup is ASCII.
    "x_user_defined": ("x-user-defined",),
}  # fmt: skip
_LABELS = {label: codec for codec, labels in _ENCODINGS.items() for label in labels}

#: Codecs whose bytes are not markup as written: pages in them are transcoded.
TRANSCODED = frozenset({"iso2022_jp", "utf_16_be", "utf_16_le"})
#: A page the browser shows as a single U+FFFD: there is nothing in it to edit or load.
REPLACEMENT = "replacement"
#: What a page that names no charset is taken for.
DEFAULT = "utf-8"

_CHARSET_PARAM = re.compile(r";\s*charset\s*=\s*[\"']?([^\"';\s]+)", re.IGNORECASE)
_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xfe\xff", "utf_16_be"), (b"\xff\xfe", "utf_16_le"))
#: Bytes a page must have arrived (or ended) before its charset is chosen.
PRESCAN = 1024


def charset_param(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a Content-Type, if any."""
    if not content_type or ";" not in content_type:
        return None
    m = _CHARSET_PARAM.search(content_type)
    return m.group(1) if m else None


def codec_for(label: str) -> str | None:
    """The Python codec of the WHATWG encoding ``label`` names, or ``None`` if it names none."""
    return _LABELS.get(label.strip().lower())


def bom(head: bytes) -> str | None:
    """The codec a byte order mark at the start of ``head`` decides (it beats every label)."""
    for mark, codec in _BOMS:
        if head.startswith(mark):
            return codec
    return None


# The prescan (https://html.spec.whatwg.org/multipage/parsing.html#prescan-a-byte-stream-to-
# determine-its-encoding), narrowed to what decides: comments are skipped, and the first
# <meta> naming an encoding the WHATWG knows wins (a label it does not know is skipped).
_PRESCAN = re.compile(rb"<!--|<meta[\t\n\f\r /]", re.IGNORECASE)
_META_ATTRIBUTE = re.compile(
    rb"""[\t\n\f\r /]*([^\t\n\f\r />][^\t\n\f\r /=>]*)(?:[\t\n\f\r ]*=[\t\n\f\r ]*"""
    rb"""(?:"([^"]*)"|'([^']*)'|([^\t\n\f\r >]*)))?"""
)
_CONTENT_CHARSET = re.compile(rb"charset[\t\n\f\r ]*=[\t\n\f\r ]*[\"']?([^\"';\t\n\f\r ]+)", re.I)


_prescanned: dict[bytes, str | None] = {}


def prescan(head: bytes) -> str | None:
    """The codec a ``<meta>`` in the first 1024 bytes names, or ``None``.

    Remembered by those bytes (at most 256 of them: 256 KB): a site's pages mostly begin
    alike, and hashing 1 KB costs a third of reading its attributes (issue 26)."""
    data = head[:PRESCAN]
    try:
        return _prescanned[data]
    except KeyError:
        found = _prescan(data)
    remember(_prescanned, data, found, 256)
    return found


def _prescan(data: bytes) -> str | None:
    pos = 0
    while True:
        m = _PRESCAN.search(data, pos)
        if m is None:
            return None
        if m.group().startswith(b"<!--"):
            end = data.find(b"-->", m.end())
            if end < 0:
                return None
            pos = end + 3
            continue
        codec, pos = _meta(data, m.end())
        if codec is not None:
            # A <meta> cannot say UTF-16 (the prescan only reads ASCII-compatible bytes),
            # and x-user-defined means windows-1252 there.
            if codec in ("utf_16_be", "utf_16_le"):
                return "utf-8"
            return "cp1252" if codec == "x_user_defined" else codec


def _meta(data: bytes, pos: int) -> tuple[str | None, int]:
    """The codec the ``<meta>`` whose attributes start at ``pos`` names, and where it ends."""
    charset = content = None
    pragma = False
    while pos < len(data):
        m = _META_ATTRIBUTE.match(data, pos)
        if m is None or m.end() == pos:
            break
        pos = m.end()
        name = m.group(1).lower()
        value = next((v for v in m.group(2, 3, 4) if v is not None), b"")
        if name == b"charset" and charset is None:
            charset = value
        elif name == b"content" and content is None:
            content = value
        elif name == b"http-equiv" and value.strip().lower() == b"content-type":
            pragma = True
    end = data.find(b">", pos)
    pos = len(data) if end < 0 else end + 1
    label = charset
    if label is None and pragma and content is not None:
        found = _CONTENT_CHARSET.search(content)
        label = found.group(1) if found else None
    if not label:
        return None, pos
    return codec_for(label.decode("latin-1")), pos


def choose(declared: str | None, head: bytes) -> str:
    """The codec a browser reads a page in: BOM, then ``declared`` (the Content-Type's label),
    then the prescan, then :data:`DEFAULT`."""
    found = bom(head)
    if found is None and declared is not None:
        found = codec_for(declared)
    if found is None:
        found = prescan(head)
    return found if found is not None else DEFAULT


def python_codec(codec: str) -> str:
    """The Python codec to write inserts in ``codec``'s pages with (x-user-defined reads
    bytes over 0x7F as private-use characters: ASCII, everything else a character reference)."""
    return "ascii" if codec == "x_user_defined" else codec


_transcoded: dict[tuple[bytes, str], bytes] = {}


def transcode(data: bytes, codec: str) -> bytes:
    """UTF-8 ``data`` written in ``codec``; characters it lacks become character references."""
    if codec == "utf-8" or data.isascii():
        return data
    key = (data, codec)
    found = _transcoded.get(key)
    if found is None:
        found = data.decode("utf-8").encode(python_codec(codec), "xmlcharrefreplace")
        if len(data) <= 64 * 1024:
            remember(_transcoded, key, found, 256)
    return found


class Transcoder:
    """A page in a codec whose bytes are not markup as written (UTF-16, ISO-2022-JP), as UTF-8
    and back: :meth:`decode` each chunk in, :meth:`encode` each edited chunk out.

    Bytes the codec cannot decode become U+FFFD, as a browser shows them; characters our
    inserts hold that the codec lacks become character references.
    """

    __slots__ = ("_decoder", "_encoder", "_utf8")

    def __init__(self, codec: str) -> None:
        self._decoder = codecs.getincrementaldecoder(codec)("replace")
        self._encoder = codecs.getincrementalencoder(codec)("xmlcharrefreplace")
        self._utf8 = codecs.getincrementaldecoder("utf-8")("replace")

    def decode(self, data: bytes, *, final: bool = False) -> bytes:
        return self._decoder.decode(data, final).encode("utf-8", "replace")

    def encode(self, data: bytes, *, final: bool = False) -> bytes:
        return self._encoder.encode(self._utf8.decode(data, final), final)
