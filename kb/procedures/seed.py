"""Demo procedures (``kb seed --demo``) from ``seed/demo_procedures.yaml``, through the services.

Each has a stable uid and is inserted only when missing, never modified. Steps cite guidebook
lessons by uid at their published revision; the procedures are published and flagged as demo.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.models import Entry
from kb.models import Procedure
from kb.models import User
from kb.procedures import services


def seed_demo_procedures(session: Session, items: list[dict[str, Any]], author: User) -> list[bool]:
    """Insert the demo procedures that are missing; one ``added`` flag per item."""
    uids = [item["uid"] for item in items]
    present = set(session.scalars(select(Procedure.uid).where(Procedure.uid.in_(uids))))
    flags = []
    for item in items:
        added = item["uid"] not in present
        if added:
            _seed_one(session, item, author)
        flags.append(added)
    return flags


def _seed_one(session: Session, item: dict[str, Any], author: User) -> Procedure:
    procedure = services.create_procedure(
        session, item, owner=author, is_demo=True, uid=item["uid"]
    )
    cited = [step["cites"] for step in item["steps"] if step.get("cites")]
    entries = {e.uid: e for e in session.scalars(select(Entry).where(Entry.uid.in_(cited)))}
    for data in item["steps"]:
        step = services.add_step(session, procedure, data, actor=author)
        entry = entries.get(data.get("cites") or "")
        if entry is not None and entry.status == "published":
            services.cite(session, step, entry.id, actor=author)
    services.publish(session, procedure, actor=author)
    return procedure
