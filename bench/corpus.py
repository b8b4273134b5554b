"""A deterministic synthetic corpus of lessons and BUCP clauses, as ``kb import`` records.

    python -m bench.corpus --n 20000 --seed 42 --out bench/out/corpus-20000.jsonl

The same seed gives a byte-identical file, and record ``i`` does not depend on ``--n`` or
``--jobs`` (each record has its own generator seeded from the corpus seed and its index), so a
smaller corpus is a prefix of a larger one. Only the standard library is used.

Text mixes a built-in BUCP vocabulary with common English and a long tail of made-up words,
drawn with Zipf weights (the word of rank r has weight 1/r; made-up words 4 times less), so a
few words are in nearly every entry and most words are rare. Sentences are partly templates
about data sharing and partly words drawn from that distribution; bodies are Markdown of 80 to
400 words.
"""

from __future__ import annotations

import argparse
import array
import bisect
import functools
import itertools
import json
import multiprocessing
import os
import random
import sys
import time
import uuid
from collections.abc import Iterator
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from typing import TextIO
from typing import TypeVar

T = TypeVar("T")

#: Namespace of the corpus uids: uuid5(NAMESPACE, "<seed>:<index>").
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "bucp-kb:bench-corpus")

CATEGORIES = (
    "bucp-creation",
    "data-requests",
    "statutory-legal",
    "security-reviews",
    "data-fulfillment",
    "process-improvement",
)
#: Clause-type slug → name, in the order of seed/taxonomy.yaml (bench/test_corpus.py checks).
CLAUSE_TYPES = {
    "use-case-name": "Use case name",
    "contact-information": "Contact information",
    "use-case-description": "Use case description / purpose",
    "data-types": "Data types / categories",
    "output-use": "Output / use",
    "data-elements": "Data elements",
    "data-users": "Data users",
    "data-transfer-management": "Data transfer / management",
    "destruction-return": "Destruction and/or return",
    "known-risks": "Known risks",
    "legal-authority": "Legal authority",
    "transfer-of-funds": "Transfer of funds",
    "possible-alternatives": "Possible alternatives",
    "critical-dates": "Critical dates",
    "re-disclosure": "Re-disclosure / further disclosure",
    "research-approval": "Research — CPHS or IRB approval",
    "specialized-security": "Specialized security",
    "specialized-privacy": "Specialized privacy",
    "approvals": "Approvals",
    "departments-positions": "Departments' positions",
}
POSITIONS = ("standard", "fallback", "avoid")
POSITION_WEIGHTS = (70, 20, 10)
LESSON_SHARE = 0.70
PUBLISHED_SHARE = 0.90
PROGRAM_SHARE = 0.85
MIN_WORDS = 80
MAX_WORDS = 400
TITLE_LIMIT = 200
SUMMARY_LIMIT = 500
TAG_COUNT = 300
TAIL_WORDS = 40_000
ZIPF_SCALE = 10**12
#: Made-up tail words are this many times rarer than their rank alone would make them.
TAIL_DAMPING = 4
#: Slots of the lookup table that draws words (see ``Zipf``).
TABLE_SIZE = 1 << 16
#: Words drawn at once at the start of a record, and again whenever it runs short.
POOL_CONTENT = 128
POOL_GLUE = 48
POOL_REFILL = 32
#: Records per unit of work (and per worker task when several processes generate).
CHUNK = 2000
MAX_JOBS = 4
LIST_MARKERS = ("-", "1.")

# --- vocabulary ------------------------------------------------------------------------------


def _split(text: str) -> tuple[str, ...]:
    """The words of a space-separated list (keeps the long word lists readable)."""
    return tuple(text.split())


#: The most frequent words of English prose (ranks 1 to ~60).
FUNCTION_WORDS = _split(
    "the of and to a in for is that with on as be by this it or are from at an will can their "
    "we not have when all which before each our if so they more any also into only after should "
    "must may than has been one other about who how what then these both through while where "
    "until between"
)
#: Domain words in rank order, right after the function words ("data" is the most common).
CORE_DOMAIN = _split(
    "data program department provider review BUCP request team agreement security legal records "
    "recipient transfer information access approval dataset process privacy elements staff file "
    "sharing use coordinator statute authority exchange proposal form"
)
#: Domain terms, some of them several words long; each counts as one item of the vocabulary.
DOMAIN_TERMS = (
    "minimum necessary",
    "data sharing",
    "SFTP",
    "CDT SAFE",
    "de-identification",
    "de-identified",
    "PHI",
    "PII",
    "PI",
    "data dictionary",
    "legal review",
    "security review",
    "Data Coordinator",
    "Governance Liaison",
    "Risk Management Subcommittee",
    "Governance Advisory Council",
    "master agreement",
    "business use case",
    "open data portal",
    "data element",
    "small-cell suppression",
    "NIST SP 800-53",
    "NIST CSF 2.0",
    "IRB",
    "CPHS",
    "HIPAA",
    "business glossary",
    "data catalog",
    "metadata repository",
    "encryption",
    "role-based access",
    "breach",
    "incident",
    "destruction",
    "re-disclosure",
    "use case sponsor",
    "CDII Agency Data Hub",
    "REST API",
    "file layout",
    "extract",
    "linkage",
    "aggregate",
    "suppression",
    "statutory",
    "collection purpose",
    "change-of-law",
    "contractor",
    "flow-down",
    "safeguards",
    "dispute",
    "mediation",
    "amendment",
    "fulfillment",
    "IDEA",
    "MOU",
    "intra-agency",
    "interagency",
    "steward",
    "metadata",
    "inventory",
    "classification",
    "confidential",
    "sensitive",
    "encrypted",
    "credentials",
    "firewall",
    "audit",
    "logging",
    "retention",
    "consent",
    "identifiers",
    "enrollment",
    "eligibility",
    "caseload",
    "county",
    "analytics",
    "dashboard",
    "evaluation",
    "research",
    "tracker",
    "template",
    "clause",
    "playbook",
    "guidebook",
    "signature",
    "counsel",
    "compliance",
)
#: Common English content words, verbs and adjectives.
ENGLISH = _split(
    "time week month year day meeting question answer schedule draft version section step plan "
    "decision change issue risk reason purpose example list table field system report manager "
    "lead partner agency state service client person people family health benefit case result "
    "outcome goal budget funding contract vendor email call note comment feedback delay deadline "
    "calendar office unit division branch group committee council board leadership executive "
    "analyst specialist officer director chief owner sponsor contact mailbox phone portal site "
    "folder copy document memo letter summary detail context background history scope size "
    "volume count rate total share part piece set type kind level quality accuracy definition "
    "label value code format layout column row name date address number identifier key match "
    "link test trial pilot launch rollout handoff backlog queue ticket priority rubric score "
    "weight evidence measure metric target baseline trend chart model method approach practice "
    "habit rule policy law regulation requirement condition term limit exception waiver option "
    "alternative workaround solution problem gap barrier challenge lesson insight tip advice "
    "guidance training course session workshop coach mentor colleague peer expert newcomer "
    "ask share send receive check confirm write explain describe name keep track store delete "
    "destroy return sign approve deny update publish start finish wait follow help need know "
    "find agree expect avoid include remove link load build run plan prepare organize reduce "
    "speed slow save spend cost learn teach show tell hear read reach contact invite attend "
    "discuss decide settle resolve escalate mediate negotiate compare choose select prioritize "
    "rank score document record capture collect gather clean validate verify protect secure "
    "encrypt transmit upload download schedule automate repeat reuse adapt adjust revise edit "
    "clear short specific early late shared secure complete accurate current recurring annual "
    "quarterly monthly weekly daily formal informal written signed approved pending open closed "
    "small large common rare simple complex useful helpful careful quick slow busy available "
    "missing unclear vague broad narrow strict flexible standard typical unusual detailed brief "
    "plain direct honest practical technical administrative statewide local regional federal "
    "public private internal external upstream downstream manual automated original final "
    "first second third next previous same different several many few most whole entire "
    "often usually sometimes rarely always never already still again together instead later "
    "sooner faster quickly easily clearly directly"
)

# --- template slots --------------------------------------------------------------------------

ROLES = (
    "the Data Coordinator",
    "the program lead",
    "the provider's data steward",
    "the Governance Liaison",
    "the privacy officer",
    "the information security officer",
    "legal counsel",
    "the use case sponsor",
    "the BUCP coordinator",
    "the core team",
    "the provider's IT staff",
    "the Risk Management Subcommittee",
    "the research analyst",
    "the contract manager",
    "the program's epidemiologist",
    "the data engineering team",
)
ARTIFACTS = (
    "the data dictionary",
    "the data element table",
    "the file layout",
    "the BUCP draft",
    "the security controls summary",
    "the legal authority citations",
    "the test file",
    "the extract specification",
    "the destruction certificate",
    "the business glossary",
    "the data flow diagram",
    "the approval memo",
    "the master agreement",
    "the small-cell suppression rule",
    "the metadata repository entry",
    "the de-identification plan",
    "the risk assessment",
    "the BUCP tracker",
    "the list of authorized data users",
    "the transfer schedule",
)
STAGES = (
    "legal review",
    "security review",
    "the first transfer",
    "submission",
    "the kickoff meeting",
    "signature",
    "fulfillment",
    "the annual renewal",
    "mediation",
    "the provider's intake review",
    "go-live",
    "the next amendment",
)
ACTIONS = (
    "Ask for",
    "Confirm",
    "Share",
    "Agree on",
    "Write down",
    "Review",
    "Track",
    "Publish",
    "Document",
    "Check",
    "Test",
    "Schedule",
    "Limit",
    "Request",
    "Record",
    "Explain",
    "Plan",
    "Settle",
)
PLATFORMS = (
    "SFTP",
    "CDT SAFE",
    "the CDII Agency Data Hub",
    "an HTTPS upload",
    "a REST API",
    "FTPS",
    "a shared secure folder",
)
TIMEFRAMES = (
    "within 30 days",
    "two weeks ahead",
    "every quarter",
    "before the first extract",
    "at least once a year",
    "within five business days",
    "by the end of the month",
    "three months in advance",
    "within 72 hours",
    "before signature",
)
STATUTES = (
    "Welfare and Institutions Code section 10850",
    "Civil Code section 1798.24",
    "Health and Safety Code section 100275",
    "45 CFR 164.512",
    "45 CFR 164.514",
    "42 CFR Part 2",
    "Government Code section 11019.9",
)
TOPICS = {
    "bucp-creation": (
        "the purpose statement",
        "the output and use section",
        "the business case",
        "the use case description",
        "the core team roster",
        "the BUCP template",
    ),
    "data-requests": (
        "the minimum necessary elements",
        "the open data portal",
        "the dataset inventory",
        "the data request form",
        "aggregate counts",
        "the data element list",
    ),
    "statutory-legal": (
        "the governing statute",
        "the legal authority",
        "HIPAA",
        "the Information Practices Act",
        "the collection purpose",
        "a statutory workaround",
        "45 CFR 164.514",
    ),
    "security-reviews": (
        "encryption at rest",
        "NIST SP 800-53 controls",
        "the security questionnaire",
        "role-based access",
        "breach reporting",
        "multi-factor authentication",
        "the system security plan",
    ),
    "data-fulfillment": (
        "the transfer schedule",
        "the file layout",
        "record linkage",
        "the test extract",
        "data quality checks",
        "the SFTP account",
    ),
    "process-improvement": (
        "the BUCP tracker",
        "approval time",
        "lessons learned",
        "the procedure guide",
        "training for new staff",
        "dispute resolutions",
        "the reusable clause library",
    ),
}
LESSON_SENTENCES = (
    "{action} {artifact} with {role} before {stage}.",
    "When {role} asks about {topic}, point them to {artifact}.",
    "We lost {n} weeks because nobody had checked {topic} before {stage}.",
    "{role} should own {artifact} and keep it current.",
    "Bring {role} in early; questions about {topic} always come up during {stage}.",
    "Keep {artifact} short and specific so reviewers can check {topic} quickly.",
    "Most of the delay came from {topic}, not from the data itself.",
    "Agree on {platform} with the provider {timeframe}.",
    "The provider needed {artifact} {timeframe} to plan {stage}.",
    "Write down who approved {topic} and when, and keep it with {artifact}.",
    "Reviewers look for {topic} first, so put it near the top of the BUCP.",
    "A short call with {role} settled {topic} faster than a long email thread.",
    "Check the open data portal before asking for {topic}; de-identified data may be enough.",
    "Cite {statute} down to the subsection when you describe {topic}.",
    "Share only the minimum necessary data elements, and say why each one is needed.",
    "Our second BUCP with this provider took {n} weeks instead of {m}, because {artifact} "
    "was ready.",
    "{role} found a gap in {topic} during {stage}, which sent the BUCP back to draft.",
    "Ask {role} which earlier BUCPs covered {topic}; reusing their wording saves a round.",
)
CLAUSE_SENTENCES = (
    "{{{{ program_name }}}} will receive the data through {platform} {timeframe}.",
    "The recipient will destroy all copies of the data {timeframe} after this BUCP ends and "
    "will send a certificate of destruction to {role}.",
    "Only the authorized data users listed in this BUCP may see the data, and each will "
    "complete privacy and security training {timeframe}.",
    "{{{{ requesting_department }}}} will not re-disclose the data to any other party without "
    "written approval from {{{{ data_provider }}}}.",
    "The recipient will report any suspected breach or security incident to {role} within "
    "{n} hours of discovery.",
    "The data will be encrypted at rest and in transit, following NIST SP 800-53 controls.",
    "Results will be released only as aggregate counts, suppressing any cell smaller than "
    "{{{{ minimum_cell_size }}}}.",
    "The legal authority for this exchange is {statute}.",
    "{{{{ data_provider }}}} will send {artifact} {timeframe} so the recipient can validate "
    "each file.",
    "The requesting program needs {topic} to measure the results of {{{{ program_name }}}}.",
    "Contractors who work with the data are bound by the same terms through a written "
    "flow-down clause.",
    "Either department may ask for an amendment when a change of law affects {topic}.",
    "Access will be removed {timeframe} when a data user leaves the project.",
    "The parties will meet {timeframe} to review {topic} and record decisions in {artifact}.",
)
BENEFIT_SENTENCES = (
    "Approval came about {n} weeks sooner than on earlier BUCPs.",
    "Reviewers had far fewer questions about {topic}.",
    "{role} could answer on the spot instead of waiting for a meeting.",
    "The provider trusted the request and backed it in {stage}.",
    "New staff can reuse {artifact} instead of starting from scratch.",
    "The first transfer worked without a resubmission.",
    "Fewer rounds of comments meant less rework for the core team.",
)
LESSON_TITLES = (
    "{action} {artifact} before {stage}",
    "{action} {topic} with {role}",
    "Why {topic} slowed down {stage}",
    "Settle {topic} early with {role}",
    "Keep {artifact} ready for {stage}",
    "What {role} needs to know about {topic}",
    "Use {platform} for {topic}",
)
SNIPPET_CONTEXTS = (
    "a recurring extract",
    "a one-time transfer",
    "a program evaluation",
    "a research request",
    "linked enrollment records",
    "aggregate reporting",
    "a county partner",
    "a contractor-run analysis",
    "an open data release",
    "a dashboard refresh",
)
SLOTS: dict[str, tuple[str, ...]] = {
    "action": ACTIONS,
    "artifact": ARTIFACTS,
    "role": ROLES,
    "stage": STAGES,
    "platform": PLATFORMS,
    "timeframe": TIMEFRAMES,
    "statute": STATUTES,
}
POSITION_WORDS = {"standard": "standard wording", "fallback": "fallback", "avoid": "avoid"}

PROGRAMS = (
    "Healthy Habits",
    "Walk2Work (W2W)",
    "Your Environment",
    "Clean Air Watch",
    "Family Nutrition Partners",
    "Rural Clinic Access",
    "Safe Homes Initiative",
    "Senior Wellness Network",
    "Youth Sports Grants",
    "Community Gardens",
    "Tobacco-Free Neighborhoods",
    "Maternal Health Outreach",
    "Heat Safety Program",
    "Water Quality Monitoring",
    "Active Schools",
    "Caregiver Support Line",
    "Food Access Mapping",
    "Injury Prevention Unit",
    "Vaccine Reminder Service",
    "Behavioral Health Navigation",
    "Housing Stability Pilot",
    "Oral Health Program",
    "Disability Access Services",
    "Vital Records Analytics",
    "Workforce Wellness",
    "Nutrition Benefits Outreach",
    "Environmental Justice Mapping",
    "Trail Connections",
    "Transit Health Study",
    "Data and Analytics Office",
)
#: Hand-picked tags; the rest of the ~300 are made from vocabulary pairs.
DOMAIN_TAGS = _split(
    "minimum-necessary sftp cdt-safe de-identification phi pii data-dictionary legal-review "
    "security-review data-coordinator governance-liaison master-agreement open-data "
    "small-cell-suppression nist-800-53 irb cphs hipaa business-glossary data-catalog "
    "metadata encryption role-based-access breach-reporting destruction re-disclosure "
    "use-case-sponsor rest-api file-layout record-linkage aggregate-data statutory-workaround "
    "collection-purpose change-of-law contractor-flow-down dispute-resolution mediation "
    "amendments timelines early-engagement core-team roles-and-responsibilities "
    "purpose-statement program-evaluation data-classification training approval-time "
    "bucp-tracker reusable-clauses provider-collaboration data-quality test-extract "
    "transfer-schedule data-inventory research consent retention audit-logging "
    "multi-factor-authentication system-security-plan risk-assessment legal-authority "
    "business-justification decision-making scope-creep reporting dashboards county-partners"
)


@dataclass(frozen=True)
class Zipf:
    """Words by rank, drawn with Zipf weights (ZIPF_SCALE // rank, integer arithmetic).

    Drawing goes through a lookup table in which each word fills slots in proportion to its
    weight (one uniform draw per word); the slots left over by rounding, which is where the rare
    words' weight ends up, fall back to bisecting the exact cumulative weights.
    """

    words: tuple[str, ...]
    cum_weights: tuple[float, ...]
    table: tuple[str | None, ...]

    @classmethod
    def build(cls, words: Sequence[str], tail_from: int | None = None) -> Zipf:
        """Weights 1/rank, divided by TAIL_DAMPING from rank ``tail_from`` on."""
        weights = [
            ZIPF_SCALE // (rank * (TAIL_DAMPING if tail_from and rank >= tail_from else 1))
            for rank in range(1, len(words) + 1)
        ]
        total = sum(weights)
        table: list[str | None] = []
        for word, weight in zip(words, weights, strict=True):
            table.extend([word] * (weight * TABLE_SIZE // total))
        table.extend([None] * (TABLE_SIZE - len(table)))
        cumulative = tuple(float(value) for value in itertools.accumulate(weights))
        return cls(tuple(words), cumulative, tuple(table))

    def draw(self, rng: random.Random, count: int) -> list[str]:
        """``count`` words, with replacement."""
        slots = array.array("H", rng.randbytes(2 * count))
        if sys.byteorder == "big":  # the same words on every platform
            slots.byteswap()
        table = self.table
        drawn = [table[slot] for slot in slots]
        if None not in drawn:
            return drawn  # type: ignore[return-value]
        words, cumulative, total = self.words, self.cum_weights, self.cum_weights[-1]
        return [
            word if word is not None else words[bisect.bisect(cumulative, rng.random() * total)]
            for word in drawn
        ]


@dataclass(frozen=True)
class Vocabulary:
    """The word distributions of one corpus seed."""

    #: Function words ("the", "of", …): the glue of drawn sentences.
    function: Zipf
    #: Content words by rank: core domain words, then domain terms and English, then the tail.
    content: Zipf
    #: Rank (1-based) of the first made-up tail word among the content words.
    tail_rank: int
    tags: Zipf


_ONSETS = _split("b br c ch d f g gr h k l m n p pr r s sh st t tr v w z")
_VOWELS = _split("a a e e i o o u ea ou")
_CODAS = ("", "", "", "n", "r", "l", "s", "x", "nd", "m", "t", "ck")


def _tail_words(rng: random.Random, count: int, taken: set[str]) -> list[str]:
    """Made-up words (system names, jargon, misspellings) for the long tail of rare words."""
    words: list[str] = []
    while len(words) < count:
        syllables = rng.choice((2, 2, 2, 3, 3, 4))
        word = "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(syllables))
        word += rng.choice(_CODAS)
        if word not in taken:
            taken.add(word)
            words.append(word)
    return words


def _tags(rng: random.Random) -> list[str]:
    """TAG_COUNT tags by rank: the domain tags (shuffled) first, then made-up pairs."""
    domain = list(dict.fromkeys(DOMAIN_TAGS))
    rng.shuffle(domain)
    adjectives = ENGLISH[ENGLISH.index("clear") : ENGLISH.index("often")]
    nouns = ENGLISH[: ENGLISH.index("ask")]
    tags = dict.fromkeys(domain)
    while len(tags) < TAG_COUNT:
        tags.setdefault(f"{rng.choice(adjectives)}-{rng.choice(nouns)}")
    return list(tags)


@functools.cache
def build_vocabulary(seed: int) -> Vocabulary:
    """The ranked vocabulary of a corpus seed."""
    rng = random.Random(f"bucp-kb-bench:vocabulary:{seed}")
    middle = [w for w in dict.fromkeys([*DOMAIN_TERMS, *ENGLISH]) if w not in CORE_DOMAIN]
    rng.shuffle(middle)
    words = [*CORE_DOMAIN, *middle]
    tail_rank = len(words) + 1
    taken = {w.lower() for w in [*words, *FUNCTION_WORDS]}
    words += _tail_words(rng, TAIL_WORDS, taken)
    tags = _tags(rng)
    return Vocabulary(
        function=Zipf.build(FUNCTION_WORDS),
        content=Zipf.build(words, tail_rank),
        tail_rank=tail_rank,
        tags=Zipf.build(tags),
    )


# --- records ---------------------------------------------------------------------------------


def count_words(markdown: str) -> int:
    """Words of a Markdown text, not counting list markers (``-``, ``1.``) at line starts."""
    count = 0
    for line in markdown.splitlines():
        tokens = line.split()
        if tokens and tokens[0] in LIST_MARKERS:
            tokens = tokens[1:]
        count += len(tokens)
    return count


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def _cut(text: str, limit: int) -> str:
    """Shorten at a word boundary to at most ``limit`` characters."""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"


class _Slots(dict[str, Any]):
    """Template slots, drawn only when a template uses them (``str.format_map``)."""

    def __init__(self, maker: RecordMaker) -> None:
        super().__init__()
        self.maker = maker

    def __missing__(self, key: str) -> Any:
        if key == "n":
            value: Any = self.maker.between(2, 12)
        elif key == "m":
            value = self["n"] + self.maker.between(2, 10)
        elif key == "topic":
            value = self.maker.pick(TOPICS[self.maker.category])
        else:
            value = self.maker.pick(SLOTS[key])
        self[key] = value
        return value


class RecordMaker:
    """Makes record ``index`` of the corpus of ``seed`` (independent of the corpus size)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.vocabulary = build_vocabulary(seed)
        self.rng = random.Random()
        self.category = CATEGORIES[0]
        # Words are drawn in bulk once per record and handed out in order (much faster).
        self._content: list[str] = []
        self._glue: list[str] = []

    # -- drawing (``random()`` based: much cheaper than ``randint``/``choice``, same everywhere)

    def between(self, low: int, high: int) -> int:
        """A whole number from ``low`` to ``high`` inclusive."""
        return low + int(self.rng.random() * (high - low + 1))

    def pick(self, items: Sequence[T]) -> T:
        """One of ``items``."""
        return items[int(self.rng.random() * len(items))]

    # -- words and sentences

    def _refill(self, content: int, glue: int) -> None:
        """Draw more words; they are handed out from the end of the pools (``pop``)."""
        vocabulary, rng = self.vocabulary, self.rng
        self._content[:0] = vocabulary.content.draw(rng, content)
        self._glue[:0] = vocabulary.function.draw(rng, glue)

    def _words(self, count: int) -> list[str]:
        """Content words only (titles, list items)."""
        if len(self._content) < count:
            self._refill(POOL_REFILL, POOL_REFILL)
        words = self._content[-count:]
        del self._content[-count:]
        return words

    def _prose(self, count: int) -> list[str]:
        """Content words with function words between them, never two function words in a row."""
        if len(self._content) < count or len(self._glue) < count:
            self._refill(POOL_REFILL, POOL_REFILL)
        bits = self.rng.getrandbits(count)
        pattern = format(bits & ~(bits << 1), f"0{count}b")[-count:]  # no two 1s side by side
        glue, content = self._glue.pop, self._content.pop
        return [glue() if flag == "1" else content() for flag in pattern]

    def _template(self, templates: Sequence[str]) -> str:
        return _capitalise(self.pick(templates).format_map(_Slots(self)))

    def _drawn_sentence(self, low: int = 6, high: int = 18) -> str:
        words = self._prose(self.between(low, high))
        if len(words) > 7 and self.rng.random() < 0.3:
            words[len(words) // 2] += ","
        return _capitalise(" ".join(words)) + "."

    def _sentence(self, templates: Sequence[str]) -> str:
        if self.rng.random() < 0.45:
            return self._template(templates)
        return self._drawn_sentence()

    def _bullets(self) -> list[str]:
        marker = "1." if self.rng.random() < 0.3 else "-"
        items = []
        for _ in range(self.between(3, 5)):
            words = self._words(self.between(3, 8))
            if self.rng.random() < 0.3:
                words[0] = f"**{words[0]}**"
            items.append(f"{marker} {_capitalise(' '.join(words))}")
        return items

    def _body(self, templates: Sequence[str]) -> str:
        """Markdown paragraphs (and sometimes a list) of MIN_WORDS to MAX_WORDS words."""
        rng = self.rng
        target = int(rng.triangular(MIN_WORDS, MAX_WORDS - 25, 170))
        blocks: list[str] = []
        paragraph: list[str] = []
        count = 0
        list_at = self.between(1, 3) if rng.random() < 0.3 else -1
        paragraph_size = self.between(2, 5)
        while count < target:
            if len(blocks) == list_at and not paragraph:
                unit = "\n".join(self._bullets())
                words = count_words(unit)
            else:
                unit = self._sentence(templates)
                words = unit.count(" ") + 1
            if count + words > MAX_WORDS:
                break
            count += words
            if "\n" in unit:
                blocks.append(unit)
                continue
            paragraph.append(unit)
            if len(paragraph) >= paragraph_size:
                blocks.append(" ".join(paragraph))
                paragraph = []
                paragraph_size = self.between(2, 5)
        if paragraph:
            blocks.append(" ".join(paragraph))
        return "\n\n".join(blocks)

    # -- fields

    def _categories(self, low: int, high: int) -> list[str]:
        weights = (30, 25, 15, 15, 10, 5)
        chosen = {self.category}
        for _ in range(self.between(low, high) - 1):
            chosen.add(self.rng.choices(CATEGORIES, weights=weights)[0])
        return [slug for slug in CATEGORIES if slug in chosen]

    def _plays(self) -> list[int]:
        count = self.rng.choices((0, 1, 2, 3), weights=(25, 40, 25, 10))[0]
        weights = (8, 10, 12, 6, 8, 20, 10, 14)
        plays = {self.rng.choices(range(1, 9), weights=weights)[0] for _ in range(count)}
        return sorted(plays)

    def _tag_list(self) -> list[str]:
        count = self.rng.choices((0, 1, 2, 3, 4, 5, 6), weights=(5, 15, 25, 25, 15, 10, 5))[0]
        drawn = self.vocabulary.tags.draw(self.rng, count)
        return list(dict.fromkeys(drawn))

    def _summary(self, templates: Sequence[str]) -> str:
        parts = [self._template(templates)]
        if self.rng.random() < 0.5:
            parts.append(self._drawn_sentence(5, 14))
        return _cut(" ".join(parts), SUMMARY_LIMIT)

    def _common(self, index: int) -> dict[str, Any]:
        rng = self.rng
        record: dict[str, Any] = {"uid": str(uuid.uuid5(NAMESPACE, f"{self.seed}:{index}"))}
        record["status"] = "published" if rng.random() < PUBLISHED_SHARE else "draft"
        record["plays"] = self._plays()
        record["tags"] = self._tag_list()
        if rng.random() < PROGRAM_SHARE:
            record["program"] = self.pick(PROGRAMS)
        return record

    def _lesson(self, record: dict[str, Any]) -> dict[str, Any]:
        rng = self.rng
        title = self._template(LESSON_TITLES)
        if rng.random() < 0.3:
            title += f" ({' '.join(self._words(self.between(2, 4)))})"
        benefit = " ".join(self._template(BENEFIT_SENTENCES) for _ in range(self.between(1, 3)))
        return {
            "kind": "lesson",
            "title": _cut(title, TITLE_LIMIT),
            "summary": self._summary(LESSON_SENTENCES),
            "body": self._body(LESSON_SENTENCES),
            "benefit": benefit,
            "categories": self._categories(1, 3),
            **record,
        }

    def _snippet(self, record: dict[str, Any]) -> dict[str, Any]:
        rng = self.rng
        clause_type = self.pick(tuple(CLAUSE_TYPES))
        position = rng.choices(POSITIONS, weights=POSITION_WEIGHTS)[0]
        title = f"{CLAUSE_TYPES[clause_type]} for {self.pick(SNIPPET_CONTEXTS)}"
        if position != "standard":
            title += f" ({POSITION_WORDS[position]})"
        categories = self._categories(1, 2) if rng.random() < 0.6 else []
        return {
            "kind": "snippet",
            "title": _cut(title, TITLE_LIMIT),
            "summary": self._summary(CLAUSE_SENTENCES),
            "body": self._body(CLAUSE_SENTENCES),
            "clause_type": clause_type,
            "position": position,
            "categories": categories,
            **record,
        }

    def make(self, index: int) -> dict[str, Any]:
        """Record ``index`` (0-based)."""
        self.rng.seed(f"bucp-kb-bench:{self.seed}:{index}")
        self._content.clear()
        self._glue.clear()
        self._refill(POOL_CONTENT, POOL_GLUE)
        self.category = self.rng.choices(CATEGORIES, weights=(22, 20, 16, 16, 16, 10))[0]
        lesson = self.rng.random() < LESSON_SHARE
        common = self._common(index)
        return self._lesson(common) if lesson else self._snippet(common)


def generate(n: int, seed: int = 42) -> Iterator[dict[str, Any]]:
    """The first ``n`` records of the corpus of ``seed``."""
    maker = RecordMaker(seed)
    for index in range(n):
        yield maker.make(index)


def _lines(task: tuple[int, int, int]) -> str:
    """Records ``start`` to ``stop`` of the corpus of ``seed``, as JSON Lines text."""
    seed, start, stop = task
    maker = RecordMaker(seed)
    return "".join(json.dumps(maker.make(i), ensure_ascii=False) + "\n" for i in range(start, stop))


def corpus_lines(n: int, seed: int = 42, jobs: int = 1) -> Iterator[str]:
    """The corpus as JSON Lines text, in chunks, in order; ``jobs`` > 1 uses worker processes.

    Every record has its own generator, so the text is the same for any number of jobs.
    """
    tasks = [(seed, start, min(start + CHUNK, n)) for start in range(0, n, CHUNK)]
    if jobs <= 1 or len(tasks) <= 1:
        yield from map(_lines, tasks)
        return
    # "spawn": fresh interpreters, no fork of a possibly multi-threaded parent.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=context) as pool:
        yield from pool.map(_lines, tasks)


def write_jsonl(records: Iterator[dict[str, Any]], stream: TextIO) -> int:
    """Write records as JSON Lines; returns how many."""
    count = 0
    for record in records:
        stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        count += 1
    return count


def default_jobs() -> int:
    """Worker processes for large corpora: the usable CPUs, at most MAX_JOBS."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(MAX_JOBS, usable or 1))


def write_corpus(path: Path, n: int, seed: int = 42, jobs: int | None = None) -> int:
    """Write the corpus to ``path`` (parents created, replaced atomically); returns ``n``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with partial.open("w", encoding="utf-8", newline="\n") as stream:
        for text in corpus_lines(n, seed, default_jobs() if jobs is None else jobs):
            stream.write(text)
    partial.replace(path)
    return n


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bench.corpus``."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.corpus",
        description="Write a deterministic synthetic corpus of kb import records (JSON Lines).",
    )
    parser.add_argument("--n", type=int, default=20_000, help="number of records (default 20000)")
    parser.add_argument("--seed", type=int, default=42, help="corpus seed (default 42)")
    parser.add_argument("--out", type=Path, help="output file (default: standard output)")
    parser.add_argument(
        "--jobs", type=int, help="worker processes (default: usable CPUs, at most 4); same output"
    )
    args = parser.parse_args(argv)
    if args.n < 0:
        parser.error("--n must not be negative")
    jobs = default_jobs() if args.jobs is None else args.jobs
    started = time.perf_counter()
    if args.out is None:
        for text in corpus_lines(args.n, args.seed, jobs):
            sys.stdout.write(text)
        return 0
    count = write_corpus(args.out, args.n, args.seed, jobs)
    elapsed = time.perf_counter() - started
    print(f"Wrote {count} records to {args.out} in {elapsed:.1f} s", end=" ")
    print(f"(seed {args.seed}, {jobs} job{'s' if jobs != 1 else ''}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
