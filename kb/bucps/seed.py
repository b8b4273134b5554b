"""Demo BUCPs (``kb seed --demo``) from ``seed/demo_bucps.yaml``, through the same services.

Each has a stable uid and is inserted only when missing, never modified. They are assembled
from the demo snippets (pinned at their published revisions), with back-dated stage events.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.bucps import services
from kb.models import Bucp
from kb.models import Department
from kb.models import Entry
from kb.models import User
from kb.models import utcnow


def seed_demo_bucps(session: Session, items: list[dict[str, Any]], author: User) -> list[bool]:
    """Insert the demo BUCPs that are missing; one ``added`` flag per item."""
    present = set(session.scalars(select(Bucp.uid).where(Bucp.uid.in_([i["uid"] for i in items]))))
    flags = []
    for item in items:
        added = item["uid"] not in present
        if added:
            _seed_one(session, item, author)
        flags.append(added)
    return flags


def _by_uid(session: Session, uids: list[str]) -> dict[str, Entry]:
    return {e.uid: e for e in session.scalars(select(Entry).where(Entry.uid.in_(uids)))}


def _seed_one(session: Session, item: dict[str, Any], author: User) -> Bucp:
    now = utcnow()
    provider = session.scalar(select(Department).where(Department.name == item["provider"]))
    header = {**item, "provider_id": provider.id if provider else None}
    bucp = services.create_bucp(
        session,
        header,
        creator=author,
        started_on=item["started_on"],
        note="Entered from the BUCP log.",
        now=now,
        is_demo=True,
        uid=item["uid"],
    )
    sections = item.get("sections") or {}
    snippets = _by_uid(session, [s["snippet"] for s in sections.values() if s.get("snippet")])
    for slug, content in sections.items():
        section = services.get_section(bucp, slug)
        if content.get("snippet"):
            snippet = snippets[content["snippet"]]
            services.insert_snippet(session, section, snippet.id, actor=author)
        else:
            section.text = content["text"].strip()
    services.save_placeholders(
        session,
        bucp,
        {k: str(v) for k, v in (item.get("placeholders") or {}).items()},
        actor=author,
    )
    for event in item.get("events") or []:
        services.record_transition(
            session, bucp, event["to"], actor=author, on=event["date"], note=event["note"], now=now
        )
    for dispute in item.get("disputes") or []:
        row = services.raise_dispute(
            session,
            bucp,
            description=dispute["description"],
            on=dispute["raised_on"],
            actor=author,
            now=now,
        )
        if dispute.get("resolution"):
            services.resolve_dispute(
                session,
                bucp,
                row.id,
                resolution=dispute["resolution"],
                on=dispute["resolved_on"],
                actor=author,
                now=now,
            )
    for lesson in _by_uid(session, item.get("lessons") or []).values():
        services.add_lesson(session, bucp, lesson.id)
    return bucp
