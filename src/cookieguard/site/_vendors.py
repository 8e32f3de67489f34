"""The vendors a site serves: those its policy declares, and those its pages were met loading.

The HTML gate tells :meth:`VendorsMet.add` of every catalogue vendor it meets while it scans a
page (:class:`cookieguard.html._inject.Blocker`, on its memo misses only). The banner's first
layer, the declaration, ``{prefix}/cookies``, the preferences page and the consent-aware CSP
read :attr:`VendorsMet.used` (issue 24 part 1).
"""

from __future__ import annotations

import logging
import threading

from cookieguard.catalogue._catalogue import Vendor
from cookieguard.core._policy import Policy
from cookieguard.ui._declaration import third_parties

logger = logging.getLogger("cookieguard")


class VendorsMet:
    """The catalogue vendors a site's pages load, learnt as the HTML gate meets them.

    Bounded by the catalogue (a name is kept only for a vendor it holds, once). Reading is
    lock-free (:attr:`names` and :attr:`used` are replaced, never changed in place); adding
    a name already known costs one set lookup; a new one takes a lock and bumps
    :attr:`generation`, which the site's banner and plan memos are keyed by. A vendor met but
    not declared by the policy is logged once, with the line that declares it.
    """

    __slots__ = ("_limit", "_lock", "declared", "generation", "names", "used")

    def __init__(self, policy: Policy) -> None:
        catalogue = policy.catalogue
        known = {v.name for v in catalogue.vendors}
        #: Catalogue vendors the policy declares (trackers, category hosts, cookies' vendors).
        self.declared = frozenset(p.name for p in third_parties(policy) if p.name in known)
        #: Catalogue vendors met in pages (declared or not).
        self.names: frozenset[str] = frozenset()
        #: Every vendor whose code the site serves: met or declared.
        self.used: frozenset[str] = self.declared
        self.generation = 0
        self._limit = len(known)
        self._lock = threading.Lock()

    def knows(self, name: str) -> bool:
        """True if a page was met loading the vendor ``name``."""
        return name in self.names

    def add(self, vendor: Vendor) -> None:
        """Note that a page loads ``vendor`` (a catalogue vendor)."""
        if vendor.name in self.names:
            return
        with self._lock:
            if vendor.name in self.names or len(self.names) >= self._limit:
                return
            self.names = self.names | {vendor.name}
            self.used = self.used | {vendor.name}
            self.generation += 1
        if vendor.name not in self.declared:
            logger.warning(
                "A page of this site loads %s (%s, category %r in the tracker catalogue) but "
                "the policy does not declare it. It is blocked until the visitor grants %r "
                "and named in the banner from now on; declare it so it is named from the "
                "first page after a restart: Policy(trackers=[..., {'name': %r}]). Logged "
                "once per vendor.",
                vendor.name,
                vendor.provider,
                vendor.category,
                vendor.category,
                vendor.name,
            )
