"""Test support for QA teams: a pytest plugin with Playwright fixtures and page objects."""
