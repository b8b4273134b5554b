"""In-app notifications for contributors about their entries."""

from kb.notifications.views import bp

__all__ = ["bp"]
