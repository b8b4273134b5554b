"""The assembled proposal as Markdown and as a Word document: sections in the form's order,
placeholders filled (an unfilled one stays visible as ``{{ name }}``)."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

from docx import Document

from kb.bucps import lifecycle
from kb.bucps.services import REQUIREMENTS
from kb.bucps.services import STATUTORY_SOLUTIONS
from kb.bucps.services import grouped_sections
from kb.bucps.services import placeholder_values
from kb.models import Bucp
from kb.placeholders import fill

FORMATS = {
    "md": "text/markdown; charset=utf-8",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
NOT_WRITTEN = "(Not written yet.)"
_SLUG = re.compile(r"[^a-z0-9]+")
_BULLET = re.compile(r"^\s*[-*+]\s+")


@dataclass
class ExportSection:
    """One section as exported: its field name and the filled text."""

    name: str
    requirement: str
    text: str


@dataclass
class ExportGroup:
    """A group of sections as exported."""

    label: str
    sections: list[ExportSection]


def facts(bucp: Bucp) -> list[tuple[str, str]]:
    """The header lines of an export."""
    rows = [
        ("Requesting program", bucp.program.name),
        ("Data provider", bucp.provider.name),
        ("Use case sponsor", bucp.sponsor_role or "—"),
        ("Data coordinator", bucp.coordinator_role or "—"),
        ("Stage", lifecycle.label(bucp.stage)),
    ]
    if bucp.statutory_solutions:
        solutions = ", ".join(STATUTORY_SOLUTIONS.get(s, s) for s in bucp.statutory_solutions)
        rows.append(("Statutory-restriction solutions", solutions))
    return rows


def assembled(bucp: Bucp) -> list[ExportGroup]:
    """Groups and sections with filled text; empty sections are left out unless required."""
    values = placeholder_values(bucp)
    groups = []
    for group in grouped_sections(bucp):
        sections = [
            ExportSection(
                section.clause_type.name,
                REQUIREMENTS.get(section.clause_type.requirement, ""),
                fill(section.text, values).strip() or NOT_WRITTEN,
            )
            for section in group.sections
            if section.text.strip() or section.clause_type.requirement == "required"
        ]
        if sections:
            groups.append(ExportGroup(group.label, sections))
    return groups


def filename(bucp: Bucp, extension: str) -> str:
    """``bucp-<id>-<title words>.<extension>``."""
    words = _SLUG.sub("-", bucp.title.lower()).strip("-")[:60].strip("-")
    return f"bucp-{bucp.id}-{words or 'proposal'}.{extension}"


def to_markdown(bucp: Bucp) -> str:
    """The proposal as one Markdown document."""
    lines = [f"# {bucp.title}", ""]
    lines += [f"- **{label}:** {value}" for label, value in facts(bucp)]
    for group in assembled(bucp):
        lines += ["", f"## {group.label}"]
        for section in group.sections:
            lines += ["", f"### {section.name}", "", section.text]
    return "\n".join(lines).rstrip() + "\n"


def to_docx(bucp: Bucp) -> bytes:
    """The proposal as a Word document (headings per group and section, a table of facts)."""
    document = Document()
    document.core_properties.title = bucp.title
    document.add_heading(bucp.title, level=0)
    table = document.add_table(rows=0, cols=2)
    table.style = "Table Grid"
    for label, value in facts(bucp):
        cells = table.add_row().cells
        cells[0].text, cells[1].text = label, value
    for group in assembled(bucp):
        document.add_heading(group.label, level=1)
        for section in group.sections:
            document.add_heading(section.name, level=2)
            for block in re.split(r"\n\s*\n", section.text):
                _add_block(document, block)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _add_block(document: Any, block: str) -> None:
    """A paragraph, or a bulleted list when the block is a Markdown list."""
    lines = [line for line in block.split("\n") if line.strip()]
    if not lines or not _BULLET.match(lines[0]):
        document.add_paragraph(" ".join(line.strip() for line in lines))
        return
    items: list[str] = []
    for line in lines:
        if _BULLET.match(line):
            items.append(_BULLET.sub("", line).strip())
        else:
            items[-1] += " " + line.strip()
    for item in items:
        document.add_paragraph(item, style="List Bullet")
