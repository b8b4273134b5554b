"""Procedures and training material built from the knowledge base, citing pinned entries."""

from kb.procedures.views import bp

__all__ = ["bp"]
