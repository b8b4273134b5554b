"""Marking known glossary terms up in rendered entries, so readers never meet undefined jargon.

The first mention of each term in a text becomes a link to its definition on ``/glossary``.
An acronym is wrapped in ``<abbr title="its spelled-out form">`` and matched case-sensitively
(``SAFE`` the service, not "safe"); other terms and synonyms match in any case. A link is
focusable, so the definition is reachable from the keyboard, not only by hovering.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from flask import g
from flask import url_for
from markupsafe import Markup
from sqlalchemy.orm import Session

from kb.extensions import db
from kb.glossary.services import anchor
from kb.glossary.services import list_terms
from kb.markdown import Annotator
from kb.markdown import render_markdown
from kb.models import GlossaryTerm
from kb.placeholders import mark_placeholders

_ACRONYM = re.compile(r"^[A-Z][A-Z0-9]+$")


def is_acronym(text: str) -> bool:
    """``PHI``, ``CDII``, ``SP800``: upper-case letters and digits, at least two characters."""
    return bool(_ACRONYM.match(text))


@dataclass(frozen=True)
class Known:
    """What a matched form points to."""

    term: str
    anchor: str
    title: str


class TermMatcher:
    """Finds the glossary's terms and synonyms in running text."""

    def __init__(self, terms: Iterable[GlossaryTerm]) -> None:
        self.forms: dict[str, Known] = {}
        exact, folded = [], []
        for term in terms:
            spelled = next((s for s in term.synonyms or [] if not is_acronym(s)), "")
            for form in [term.term, *(term.synonyms or [])]:
                title = spelled if is_acronym(form) and spelled else _first_sentence(term)
                known = Known(term=term.term, anchor=anchor(term.term), title=title)
                key = form if is_acronym(form) else form.lower()
                self.forms.setdefault(key, known)
                (exact if is_acronym(form) else folded).append(form)
        alternatives = [re.escape(f) for f in sorted(exact, key=len, reverse=True)]
        if folded:
            spaced = sorted(folded, key=len, reverse=True)
            words = "|".join(r"\s+".join(map(re.escape, form.split())) for form in spaced)
            alternatives.insert(0, f"(?i:{words})")
        self.pattern = (
            re.compile(r"(?<![\w-])(?:" + "|".join(alternatives) + r")(?![\w-])")
            if alternatives
            else None
        )

    def known(self, text: str) -> Known | None:
        """The term a form belongs to (acronyms by exact case, others in any case)."""
        return self.forms.get(text) or self.forms.get(" ".join(text.lower().split()))

    def annotator(self, base_url: str) -> Annotator:
        """An annotator that links the first mention of each term in one document."""
        seen: set[str] = set()

        def annotate(text: str) -> list[str]:
            if self.pattern is None:
                return [text]
            pieces: list[str] = []
            last = 0
            for match in self.pattern.finditer(text):
                known = self.known(match.group(0))
                if known is None or known.term in seen:
                    continue
                seen.add(known.term)
                pieces.append(text[last : match.start()])
                pieces.append(_link(match.group(0), known, base_url))
                last = match.end()
            pieces.append(text[last:])
            return pieces

        return annotate


def _first_sentence(term: GlossaryTerm) -> str:
    definition = " ".join(term.definition.split())
    end = definition.find(". ")
    return definition if end < 0 else definition[: end + 1]


def _link(text: str, known: Known, base_url: str) -> Markup:
    href = f"{base_url}#{known.anchor}"
    if is_acronym(text):
        return Markup('<a class="term" href="{}"><abbr title="{}">{}</abbr></a>').format(
            href, known.title, text
        )
    return Markup('<a class="term" href="{}" title="{}">{}</a>').format(href, known.title, text)


def matcher(session: Session) -> TermMatcher:
    """The glossary's matcher, built once per request."""
    if "kb_term_matcher" not in g:
        g.kb_term_matcher = TermMatcher(list_terms(session))
    return g.kb_term_matcher


def entry_markdown(text: str | None, *, placeholders: bool = False) -> Markup:
    """Markdown of an entry as its page shows it: glossary terms linked, placeholders marked."""
    annotators = [matcher(db.session).annotator(url_for("glossary.index"))]
    if placeholders:
        annotators.append(mark_placeholders)
    return render_markdown(text, annotators)
