"""Taxonomy upkeep for curators: tags, programs, peer departments."""

from kb.taxonomy.views import bp

__all__ = ["bp"]
