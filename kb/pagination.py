"""Pagination: clamp page parameters and fetch one page of a query."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from typing import Generic
from typing import TypeVar

from sqlalchemy import Select
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

T = TypeVar("T")
DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100


class PageArgumentError(ValueError):
    """A page parameter is out of range (the API answers 400; pages clamp instead)."""


@dataclass
class Page(Generic[T]):
    """One page of items and where it sits among the others."""

    items: list[T]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        """The number of pages (at least 1)."""
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        """Whether there is a page before this one."""
        return self.page > 1

    @property
    def has_next(self) -> bool:
        """Whether there is a page after this one."""
        return self.page < self.pages


def _int(value: str | None, default: int) -> int | None:
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError:
        return None


def page_args(args: Mapping[str, Any], *, strict: bool = False) -> tuple[int, int]:
    """``page`` (from 1) and ``per_page`` (1–100, default 20) from request arguments.

    Pages clamp out-of-range values; with ``strict`` (the API) they raise ``PageArgumentError``.
    """
    page = _int(args.get("page"), 1)
    per_page = _int(args.get("per_page"), DEFAULT_PER_PAGE)
    if strict:
        if page is None or page < 1:
            raise PageArgumentError("page must be a whole number from 1")
        if per_page is None or not 1 <= per_page <= MAX_PER_PAGE:
            raise PageArgumentError(f"per_page must be a whole number from 1 to {MAX_PER_PAGE}")
        return page, per_page
    page = max(1, page or 1)
    per_page = min(MAX_PER_PAGE, max(1, per_page or DEFAULT_PER_PAGE))
    return page, per_page


def paginate(session: Session, statement: Select[Any], page: int, per_page: int) -> Page[Any]:
    """Run ``statement`` for one page; a page past the end shows the last page."""
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    total = total or 0
    last = max(1, math.ceil(total / per_page))
    page = min(page, last)
    items = list(session.scalars(statement.limit(per_page).offset((page - 1) * per_page)))
    return Page(items=items, total=total, page=page, per_page=per_page)
