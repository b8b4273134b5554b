"""Play 1 metrics: BUCP processing times and outcomes, the knowledge base, search gaps."""

from kb.metrics.views import bp

__all__ = ["bp"]
