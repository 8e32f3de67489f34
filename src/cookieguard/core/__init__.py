"""The sans-I/O core: policy, consent and its signed cookie, cookie and header grammar, the
decision for one request (:class:`~cookieguard.core._guard.Guard`), request/reply values.

Layer rules: pure and synchronous, no I/O, no protocol. Imports only the catalogue (data) and
``cookieguard._cache`` below it; everything else in the package builds on this.
"""
