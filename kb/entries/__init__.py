"""Entries: lessons learned and reusable BUCP snippets."""

from kb.entries.views import bp

__all__ = ["bp"]
