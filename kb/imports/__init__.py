"""Importing and exporting entries: ``kb import``/``kb export`` and the curators' web import."""

from kb.imports.views import bp

__all__ = ["bp"]
