"""Administration: users and roles, the audit trail."""

from kb.admin.views import bp

__all__ = ["bp"]
