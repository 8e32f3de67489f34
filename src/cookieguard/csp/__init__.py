"""The consent-aware Content-Security-Policy: the header for a visitor's grants, and the
``{prefix}/csp-report`` receiver.

Layer rules: imports the core and the catalogue only.
"""
