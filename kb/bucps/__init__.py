"""The BUCP workspace: assemble proposals from reusable clauses and track them to approval."""

from kb.bucps.views import bp

__all__ = ["bp"]
