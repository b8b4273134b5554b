"""Accounts: sign-in, roles and the policy that enforces them."""

from kb.auth.setup import init_app
from kb.auth.views import bp

__all__ = ["bp", "init_app"]
