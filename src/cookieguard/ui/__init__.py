"""What the visitor sees and what vendors are told: the banner and preferences page, the
cookie declaration, vendor signals (Consent Mode), the static assets.

Layer rules: renders markup and JSON from plain values; imports the core, the catalogue and
the receipt model; never HTML editing, the site or an adapter.
"""
