"""HTML editing: the streaming scanner, the body plan and gate (banner and asset injection,
tracker neutralising, click-to-load placeholders), charsets.

Layer rules: bytes in, bytes out, no I/O. Imports the core and the catalogue; never the UI,
CSP, the site or an adapter (the site hands it the markup it inserts).
"""
