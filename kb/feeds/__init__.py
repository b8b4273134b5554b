"""Atom feeds of newly published and updated entries (``/feeds/entries.atom``)."""

from kb.feeds.views import bp

__all__ = ["bp"]
