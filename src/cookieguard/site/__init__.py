"""``Site``: everything built from one ``Policy`` (guard, endpoints, plans, memos, receipt
store), the one object the adapters talk to.

Layer rules: may import every runtime layer below (core, html, csp, ui, catalogue, receipts);
never an adapter or a tool.
"""
