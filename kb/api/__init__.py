"""JSON API v1 and the health check."""

from kb.api.views import bp

__all__ = ["bp"]
