"""JSON API v1 and the health check."""

from kb.api import openapi  # noqa: F401  (registers /api/v1/openapi.json)
from kb.api import writes  # noqa: F401  (registers the write endpoints)
from kb.api.views import bp

__all__ = ["bp"]
