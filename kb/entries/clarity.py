"""Writing checks that warn but never block, each citing the guidebook lesson it comes from.

- personal names, e-mail addresses or phone numbers in a snippet → name a role instead;
- acronyms the glossary does not know and the text does not spell out → define them;
- a legal-authority snippet without a citation → cite the law;
- a data-elements snippet that asks for everything → name the elements.

The checks read the record as typed (before validation), so they can run on every keystroke.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kb.placeholders import PLACEHOLDER

#: The seed lessons the checks cite, by their stable uid.
LESSON_ROLES = "6324e89f-9850-5fa6-bc9f-7ac46f5bd949"  # refer to roles, not names
LESSON_JARGON = "9c002db2-02f4-5662-b9dc-019722f53ae1"  # skip jargon, define special terms
LESSON_LAWS = "f9090445-2a4d-526b-bc36-f33f9f089f01"  # link the laws behind the request
LESSON_ELEMENTS = "eedcf3b3-ad55-53c2-8c5a-1e2854868eed"  # ask only for the elements you need

EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
PHONE = re.compile(r"(?<!\w)(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}(?!\w)")
HONORIFIC = re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Dr|Prof)\.?\s+[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?")
#: Common given names: a capitalised given name followed by a capitalised word is most
#: likely a person ("contact Maria Lopez"), not a role ("the Data Coordinator").
_GIVEN_NAME_WORDS = """
    aaron adam alex alice amanda amy andrea andrew angela anna anthony ashley barbara ben
    betty brandon brian carlos carol catherine charles chris christina christopher cynthia
    daniel david deborah dennis diana donald donna dorothy edward elizabeth emily emma eric
    frank gary george grace gregory helen henry jacob james jane janet jason jennifer
    jessica john jonathan jose joseph joshua juan julie justin karen kathleen kelly kenneth
    kevin kimberly larry laura linda lisa luis margaret maria mark mary matthew melissa
    michael michelle nancy nicholas nicole olivia pamela patricia patrick paul peter rachel
    raymond rebecca richard robert ronald rosa ryan samantha sandra sarah scott sharon
    stephanie stephen steven susan thomas timothy tyler victoria william
    """
GIVEN_NAMES = frozenset(_GIVEN_NAME_WORDS.split())
CAPITALISED_PAIR = re.compile(r"(?=\b([A-Z][a-z]+)\s+([A-Z][a-z]+(?:-[A-Z][a-z]+)?)\b)")
ACRONYM = re.compile(r"(?<![\w-])([A-Z][A-Z0-9]{1,9})s?(?![\w-])")
#: Upper-case words that are not jargon: Roman numerals, units, common abbreviations.
NOT_JARGON = frozenset(
    [
        "II",
        "III",
        "IV",
        "VI",
        "VII",
        "VIII",
        "IX",
        "XI",
        "XII",
        "OK",
        "US",
        "USA",
        "ID",
        "AM",
        "PM",
        "IT",
        "PDF",
        "USB",
        "ZIP",
        "URL",
        "FAQ",
        "HR",
    ]
)
ASKS_FOR_EVERYTHING = re.compile(
    r"\b(?:all|every|any\s+and\s+all|each\s+and\s+every)\s+"
    r"(?:(?:available|of\s+the|the|data|possible|existing)\s+)*"
    r"(?:fields?|data\s+elements?|elements?|columns?|variables?|attributes?|data|records?|"
    r"information)\b"
    r"|\b(?:entire|whole|complete|full)\s+"
    r"(?:data\s*set|dataset|database|table|file|extract|record)s?\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Advice:
    """One writing warning: which check, what it found, and the lesson behind it."""

    check: str
    message: str
    lesson_uid: str
    field: str = "body"


Check = Callable[[Mapping[str, Any], Collection[str]], list[Advice]]


def _texts(record: Mapping[str, Any], *names: str) -> str:
    return "\n".join(str(record.get(name) or "") for name in names)


def _quote(found: list[str], limit: int = 3) -> str:
    unique = list(dict.fromkeys(found))
    shown = ", ".join(f"“{item}”" for item in unique[:limit])
    return shown + (f" and {len(unique) - limit} more" if len(unique) > limit else "")


def check_personal_details(record: Mapping[str, Any], _known: Collection[str]) -> list[Advice]:
    """Snippets name roles ("the Data Coordinator"), never people, e-mails or phone numbers."""
    if record.get("kind") != "snippet":
        return []
    text = PLACEHOLDER.sub(" ", _texts(record, "title", "summary", "body", "usage_notes"))
    warnings = []
    emails = EMAIL.findall(text)
    if emails:
        warnings.append(
            Advice(
                "contact-details",
                f"The text has an e-mail address ({_quote(emails)}). Name the role to contact "
                "instead (for example “the program's Data Coordinator”): people move on, "
                "roles stay.",
                LESSON_ROLES,
            )
        )
    phones = PHONE.findall(text)
    if phones:
        warnings.append(
            Advice(
                "contact-details",
                f"The text has a phone number ({_quote([p.strip() for p in phones])}). Name the "
                "role to contact instead; a BUCP outlives the people who wrote it.",
                LESSON_ROLES,
            )
        )
    names = HONORIFIC.findall(text) + [
        f"{first} {last}"
        for first, last in CAPITALISED_PAIR.findall(text)
        if first.lower() in GIVEN_NAMES
    ]
    if names:
        warnings.append(
            Advice(
                "personal-names",
                f"This looks like a person's name: {_quote(names)}. Refer to the role "
                "(sponsor, coordinator, security officer) rather than the person.",
                LESSON_ROLES,
            )
        )
    return warnings


def undefined_acronyms(text: str, known: Collection[str]) -> list[str]:
    """Acronyms in ``text`` that the glossary does not know and the text does not spell out.

    An acronym counts as spelled out when it follows in brackets right after words, as in
    "Secure Automated File Exchange (SAFE)", or precedes its spelled-out form in brackets.
    """
    text = PLACEHOLDER.sub(" ", text)
    known_upper = {form.upper() for form in known}
    known_upper |= {word.upper() for form in known for word in form.split()}
    defined = set(re.findall(r"\w\s*\(([A-Z][A-Z0-9]+)s?\)", text))
    defined |= set(re.findall(r"\b([A-Z][A-Z0-9]+)s?\s*\((?:[a-z]+\s+)?[A-Z][a-z]", text))
    found: list[str] = []
    for acronym in ACRONYM.findall(text):
        if acronym in NOT_JARGON or acronym in known_upper or acronym in defined:
            continue
        if acronym not in found:
            found.append(acronym)
    return found


def check_jargon(record: Mapping[str, Any], known: Collection[str]) -> list[Advice]:
    """Acronyms readers may not know: define them in the text or ask a curator to add them."""
    acronyms = undefined_acronyms(
        _texts(record, "title", "summary", "body", "benefit", "context", "usage_notes"), known
    )
    if not acronyms:
        return []
    return [
        Advice(
            "undefined-terms",
            f"{_quote(acronyms, 5)} {'is' if len(acronyms) == 1 else 'are'} not in the glossary. "
            "Spell each out the first time, e.g. “Secure Automated File Exchange (SAFE)”, "
            "or ask a curator to add it to the glossary.",
            LESSON_JARGON,
        )
    ]


def _clause_type(record: Mapping[str, Any]) -> str:
    return str(record.get("clause_type") or "").strip().lower().replace(" ", "-")


def check_legal_citation(record: Mapping[str, Any], _known: Collection[str]) -> list[Advice]:
    """A legal-authority snippet cites the law it relies on."""
    if record.get("kind") != "snippet" or _clause_type(record) != "legal-authority":
        return []
    citations = record.get("citations")
    if isinstance(citations, str):
        citations = [line for line in citations.splitlines() if line.strip()]
    if citations:
        return []
    return [
        Advice(
            "missing-citation",
            "A legal-authority clause without a citation leaves reviewers searching. Add the "
            "statute or regulation, down to the subsection, under Legal citations.",
            LESSON_LAWS,
            field="citations",
        )
    ]


def check_minimum_necessary(record: Mapping[str, Any], _known: Collection[str]) -> list[Advice]:
    """A data-elements snippet names the elements it needs instead of asking for everything."""
    if record.get("kind") != "snippet" or _clause_type(record) != "data-elements":
        return []
    found = ASKS_FOR_EVERYTHING.findall(_texts(record, "body"))
    if not found:
        return []
    return [
        Advice(
            "asks-for-everything",
            f"{_quote(found)} asks for more than the purpose needs. List the data elements by "
            "name, each with why it is needed: providers approve the minimum necessary.",
            LESSON_ELEMENTS,
        )
    ]


CHECKS: tuple[Check, ...] = (
    check_personal_details,
    check_jargon,
    check_legal_citation,
    check_minimum_necessary,
)


def check_record(record: Mapping[str, Any], known_terms: Collection[str]) -> list[Advice]:
    """Every warning for a record as typed (``known_terms``: the glossary's terms, synonyms)."""
    return [warning for check in CHECKS for warning in check(record, known_terms)]
