"""The outbox: services record every change to a searchable object in the same transaction."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy import insert
from sqlalchemy import update
from sqlalchemy.orm import Session

from kb.models import IndexCounter
from kb.models import IndexEvent
from kb.models import utcnow

OPS = ("upsert", "delete")
#: Set on a session that wrote outbox events, so the app catches up after its commit.
PENDING = "kb.search.pending"


def ensure_counter(session: Session) -> None:
    """Create the one-row sequence counter when missing (``kb init`` does this)."""
    if session.get(IndexCounter, 1) is None:
        session.add(IndexCounter(id=1, seq=0))
        session.flush()


def enqueue_index(session: Session, kind: str, ids: Iterable[int], op: str = "upsert") -> None:
    """Record that these objects changed; the indexer applies it after the commit.

    The sequence numbers come from a one-row counter updated inside this transaction,
    which serialises writers at commit, so ``seq`` follows commit order.
    """
    if op not in OPS:
        raise ValueError(f"unknown index operation {op!r}")
    ids = list(dict.fromkeys(ids))
    if not ids:
        return
    bump = (
        update(IndexCounter)
        .where(IndexCounter.id == 1)
        .values(seq=IndexCounter.seq + len(ids))
        .returning(IndexCounter.seq)
    )
    last = session.execute(bump).scalar_one_or_none()
    if last is None:
        ensure_counter(session)
        last = session.execute(bump).scalar_one()
    first = last - len(ids) + 1
    now = utcnow()
    session.execute(
        insert(IndexEvent),
        [
            {"seq": first + n, "entity": kind, "entity_id": entity_id, "op": op, "created_at": now}
            for n, entity_id in enumerate(ids)
        ],
    )
    session.info[PENDING] = True


def prune_events(session: Session, days: int) -> int:
    """Delete outbox events older than ``days``; returns how many.

    An index that has not applied events this old any more is rebuilt on its next catch-up.
    """
    cutoff = utcnow() - timedelta(days=days)
    result = session.execute(delete(IndexEvent).where(IndexEvent.created_at < cutoff))
    return result.rowcount or 0
