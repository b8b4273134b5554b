"""Browsing: home, categories, plays, tags and search pages."""

from kb.browse.views import bp

__all__ = ["bp"]
