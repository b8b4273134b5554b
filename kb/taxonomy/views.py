"""Taxonomy upkeep pages (curators)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("taxonomy", __name__, url_prefix="/taxonomy")
