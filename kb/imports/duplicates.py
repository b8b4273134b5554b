"""Likely duplicates: new records that look like entries the knowledge base already has.

The rule (docs/import-export.md): a record that does not match an entry by ``uid`` is a likely
duplicate of an existing entry when

1. their normalised titles are equal (lower case, punctuation and extra spaces removed), or
2. the entry holds at least half of the record's distinct content words, and at least
   ``MIN_SHARED`` of them (words of three or more letters in title, summary, body and benefit;
   common English words left out), looked for among the entries whose titles share a
   distinctive word with the record. Half of the words, not a symmetric overlap: a lesson
   restated at greater length keeps most of the original's words but adds many of its own.

Two records of the same file with equal normalised titles are flagged too.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.models import Entry

#: Share of the record's content words an entry must hold to be a likely duplicate.
OVERLAP = 0.5
MIN_SHARED = 8
#: Title words carried by more than this share of entries do not pick candidates.
COMMON_SHARE = 0.05
MAX_CANDIDATES = 50
_WORD = re.compile(r"[a-z0-9]{3,}")
_JUNK = re.compile(r"[^a-z0-9]+")
_STOPWORDS = """
    about above after again against all also and any are because been before being below
    between both but can could did does doing down during each few for from further had has
    have having her here hers him his how into its itself just more most must not now off once
    only other our ours out over own same she should some such than that the their theirs them
    then there these they this those through too under until very was were what when where
    which while who whom why will with would you your yours
"""
STOPWORDS = frozenset(_STOPWORDS.split())


@dataclass
class Duplicate:
    """A record that looks like an existing entry (or an earlier record of the same file)."""

    line: int
    title: str
    reason: str
    entry_id: int | None = None
    other_line: int | None = None

    @property
    def target(self) -> str:
        """What the record looks like, and why."""
        if self.entry_id is not None:
            return f"entry {self.entry_id} “{self.title}” ({self.reason})"
        return f"line {self.other_line} “{self.title}” ({self.reason})"

    def __str__(self) -> str:
        return f"line {self.line}: likely duplicate of {self.target}"


def normalise_title(title: str) -> str:
    """Lower case, punctuation and extra spaces removed: the key titles are compared by."""
    return " ".join(_JUNK.sub(" ", title.lower()).split())


def content_words(*texts: str | None) -> set[str]:
    """The distinct content words of some texts."""
    words = _WORD.findall(" ".join(text or "" for text in texts).lower())
    return {word for word in words if word not in STOPWORDS}


def find_duplicates(
    session: Session, records: Iterable[tuple[int, dict[str, Any]]]
) -> list[Duplicate]:
    """Likely duplicates among new ``records`` (clean records that match no entry by uid)."""
    records = list(records)
    if not records:
        return []
    columns = (Entry.id, Entry.title, Entry.summary, Entry.body, Entry.benefit)
    rows = session.execute(select(*columns)).all()
    by_title: dict[str, tuple[int, str]] = {}
    words: dict[int, set[str]] = {}
    titles: dict[int, str] = {}
    postings: dict[str, list[int]] = defaultdict(list)
    for entry_id, title, summary, body, benefit in rows:
        by_title.setdefault(normalise_title(title), (entry_id, title))
        words[entry_id] = content_words(title, summary, body, benefit)
        titles[entry_id] = title
        for word in content_words(title):
            postings[word].append(entry_id)
    common = max(20, int(len(rows) * COMMON_SHARE))
    found: list[Duplicate] = []
    seen_titles: dict[str, int] = {}
    for line, record in records:
        key = normalise_title(record.get("title") or "")
        if key in by_title:
            entry_id, title = by_title[key]
            found.append(Duplicate(line, title, "same title", entry_id=entry_id))
        elif key in seen_titles:
            found.append(
                Duplicate(line, record["title"], "same title", other_line=seen_titles[key])
            )
        else:
            match = _overlapping(record, words, postings, common)
            if match:
                entry_id, share = match
                reason = f"it holds {share:.0%} of the record's words"
                found.append(Duplicate(line, titles[entry_id], reason, entry_id=entry_id))
        seen_titles.setdefault(key, line)
    return found


def _overlapping(
    record: dict[str, Any],
    words: dict[int, set[str]],
    postings: dict[str, list[int]],
    common: int,
) -> tuple[int, float] | None:
    """The entry holding most of the record's content words, if enough (see the module)."""
    counts: dict[int, int] = defaultdict(int)
    for word in content_words(record.get("title")):
        posting = postings.get(word, [])
        if len(posting) <= common:
            for entry_id in posting:
                counts[entry_id] += 1
    if not counts:
        return None
    mine = content_words(
        record.get("title"), record.get("summary"), record.get("body"), record.get("benefit")
    )
    candidates = sorted(counts, key=lambda entry_id: -counts[entry_id])[:MAX_CANDIDATES]
    best = max(candidates, key=lambda entry_id: len(mine & words[entry_id]))
    shared = len(mine & words[best])
    share = shared / len(mine) if mine else 0.0
    return (best, share) if share >= OVERLAP and shared >= MIN_SHARED else None
