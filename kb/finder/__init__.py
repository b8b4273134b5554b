"""Finding entries: the search page, the search API's shared parsing, the search log."""

from kb.finder.views import bp

__all__ = ["bp"]
