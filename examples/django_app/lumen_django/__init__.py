"""Lumen Stock on Django: the project package (settings, URLs, views)."""
