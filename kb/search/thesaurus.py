"""The search thesaurus: groups of words and phrases that mean the same thing.

Two sources make one thesaurus: the synonyms file (``seed/synonyms.yaml``, read when the app
starts) and the glossary (each ``GlossaryTerm`` with its synonyms is one group, so an acronym
finds its spelled-out form and back). Members are stemmed like the index; a member of several
words is searched as a phrase, and a run of query words that spells one finds the others.

A glossary term also lends its definition's words (``meanings``): a term typed that no entry
uses in any of its forms ("SFTP", when entries say "transfer method") is searched by what the
glossary says it means, so a curator's definition keeps such a search from finding nothing.

The glossary changes while the app runs: ``GlossaryThesaurus.current`` compares a cheap
generation of the glossary table (its row count and newest ``updated_at``) at most every
``CHECK_SECONDS`` and rebuilds the thesaurus when it moved; ``changed()`` makes the next search
check at once (call ``kb.search.glossary_changed()`` after a glossary write).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.models import GlossaryTerm

log = logging.getLogger(__name__)

Stems = tuple[str, ...]
#: How often (seconds) a process looks for glossary changes made by another process.
CHECK_SECONDS = 5.0
#: At most this many distinct words of a definition are searched (a long one costs no more).
MEANING_WORDS = 40


@dataclass(frozen=True)
class Thesaurus:
    """Each member (a tuple of stems) → the other members of its groups."""

    others: dict[Stems, tuple[Stems, ...]] = field(default_factory=dict)
    #: The longest member, in words (how far a run of query words is looked at).
    longest: int = 0
    #: Each glossary term and synonym → the term as the glossary spells it, and the distinct
    #: stems of its definition.
    meanings: dict[Stems, tuple[str, Stems]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.others or self.meanings)

    def match(self, stems: Sequence[str]) -> int:
        """The length of the longest member that ``stems`` starts with (0: none)."""
        for length in range(min(self.longest, len(stems)), 0, -1):
            member = tuple(stems[:length])
            if member in self.others or member in self.meanings:
                return length
        return 0

    def knows(self, stem: str) -> bool:
        """Whether a single word is a member (so it is no typo, though no entry has it)."""
        return (stem,) in self.others or (stem,) in self.meanings


def _stems(analyzer: Any, text: str) -> Stems:
    return tuple(token.text for token in analyzer(str(text)))


def build_thesaurus(
    groups: Iterable[Iterable[str]],
    analyzer: Any,
    definitions: Iterable[tuple[Sequence[str], str]] = (),
) -> Thesaurus:
    """Stem every member of every group; a member in several groups gets all their members.

    ``definitions`` pairs the members of a glossary term (the term first) with its
    definition; each member's meaning is the definition's distinct stems (the first term
    to define a member keeps it).
    """
    others: dict[Stems, dict[Stems, None]] = {}
    for group in groups:
        members = list(dict.fromkeys(_stems(analyzer, member) for member in group))
        members = [member for member in members if member]
        for member in members:
            bucket = others.setdefault(member, {})
            bucket.update((other, None) for other in members if other != member)
    others = {member: found for member, found in others.items() if found}
    meanings: dict[Stems, tuple[str, Stems]] = {}
    for members, definition in definitions:
        words = tuple(dict.fromkeys(_stems(analyzer, definition or "")))[:MEANING_WORDS]
        for member in members:
            stems = _stems(analyzer, member)
            if stems and words:
                meanings.setdefault(stems, (members[0], words))
    longest = max((len(member) for member in [*others, *meanings]), default=0)
    return Thesaurus({member: tuple(found) for member, found in others.items()}, longest, meanings)


def glossary_definitions(session: Session) -> list[tuple[list[str], str]]:
    """Each glossary term's members (the term and its synonyms: one thesaurus group) with its
    definition."""
    rows = session.execute(
        select(GlossaryTerm.term, GlossaryTerm.synonyms, GlossaryTerm.definition)
    ).all()
    return [([term, *(synonyms or [])], definition) for term, synonyms, definition in rows]


def glossary_generation(session: Session) -> tuple[int, Any]:
    """Changes whenever a glossary row is added, edited or deleted: (row count, newest edit)."""
    count, newest = session.execute(
        select(func.count(GlossaryTerm.id), func.max(GlossaryTerm.updated_at))
    ).one()
    return int(count or 0), newest


class GlossaryThesaurus:
    """The file's groups plus the glossary's, rebuilt when the glossary changes."""

    def __init__(self, file_groups: Sequence[Sequence[str]], analyzer: Any) -> None:
        self.file_groups = [list(group) for group in file_groups]
        self.analyzer = analyzer
        self.thesaurus = build_thesaurus(self.file_groups, analyzer)
        self._lock = threading.Lock()
        self._generation: tuple[int, Any] | None = None
        self._checked_at = float("-inf")

    def changed(self) -> None:
        """Look at the glossary again on the next search."""
        with self._lock:
            self._checked_at = float("-inf")

    def current(self, engine: Any) -> Thesaurus:
        """The thesaurus, refreshed first when the glossary has changed since the last look."""
        now = time.monotonic()
        with self._lock:
            if now - self._checked_at < CHECK_SECONDS:
                return self.thesaurus
            self._checked_at = now
        try:
            with Session(engine) as session:
                generation = glossary_generation(session)
                if generation != self._generation:
                    definitions = glossary_definitions(session)
                    groups = [members for members, _ in definitions]
                    thesaurus = build_thesaurus(
                        [*self.file_groups, *groups], self.analyzer, definitions
                    )
                    with self._lock:
                        self.thesaurus, self._generation = thesaurus, generation
        except Exception:  # no glossary table yet, or the database is busy: keep what we have
            log.warning("could not read the glossary for search synonyms", exc_info=True)
        return self.thesaurus
