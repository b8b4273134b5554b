"""A procedure as Markdown and as a Word document: the header, the numbered steps, and each cited
lesson or clause as pinned, with its source (title, revision, URL)."""

from __future__ import annotations

import io
import re
from typing import Any

from docx import Document

from kb.models import Procedure
from kb.procedures.services import Citation

FORMATS = {
    "md": "text/markdown; charset=utf-8",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
KINDS = {"lesson": "Lesson", "snippet": "Clause"}
_SLUG = re.compile(r"[^a-z0-9]+")
_BULLET = re.compile(r"^\s*[-*+]\s+")
_NUMBERED = re.compile(r"^\s*(\d+)[.)]\s+")
_HEADING = re.compile(r"^\s*#{1,6}\s+")
#: Inline Markdown the Word export keeps as formatting: bold, italic, code, links.
_INLINE = re.compile(
    r"\*\*(?P<bold>.+?)\*\*|__(?P<bold2>.+?)__|(?<![\w*])\*(?P<em>[^*\s][^*]*?)\*(?!\w)"
    r"|(?<![\w_])_(?P<em2>[^_\s][^_]*?)_(?!\w)|`(?P<code>[^`]+)`"
    r"|\[(?P<label>[^\]]+)\]\((?P<href>[^)\s]+)\)"
)


def filename(procedure: Procedure, extension: str) -> str:
    """``procedure-<id>-<title words>.<extension>``."""
    words = _SLUG.sub("-", procedure.title.lower()).strip("-")[:60].strip("-")
    return f"procedure-{procedure.id}-{words or 'untitled'}.{extension}"


def source_line(cited: Citation) -> str:
    """Where a cited text comes from: kind, title, revision and URL."""
    kind = KINDS.get(cited.kind, "Entry")
    return f"{kind} “{cited.title}”, revision {cited.revision}: {cited.url}"


# --- Markdown -------------------------------------------------------------------------------


def _quoted(text: str) -> list[str]:
    return [f"> {line}".rstrip() for line in text.split("\n")]


def to_markdown(procedure: Procedure, citations: dict[int, Citation]) -> str:
    """The procedure as one Markdown document."""
    lines = [f"# {procedure.title}", ""]
    if procedure.audience:
        lines += [f"**Audience:** {procedure.audience}", ""]
    if procedure.purpose:
        lines += ["## Purpose", "", procedure.purpose, ""]
    lines += ["## Steps", ""]
    for number, step in enumerate(procedure.steps, start=1):
        lines += [f"### Step {number}. {step.heading}", ""]
        if step.instructions:
            lines += [step.instructions, ""]
        cited = citations.get(step.id)
        if cited is not None:
            kind = KINDS.get(cited.kind, "Entry")
            link = f"[{cited.title}]({cited.url})"
            lines += [f"> **{kind} cited:** {link} (revision {cited.revision})"]
            for label, text in cited.parts:
                lines += [">"]
                if label:
                    lines += [f"> *{label}:*", ">"]
                lines += _quoted(text)
            lines += [">", f"> Source: {source_line(cited)}", ""]
    return "\n".join(lines).rstrip() + "\n"


# --- Word -----------------------------------------------------------------------------------


def to_docx(procedure: Procedure, citations: dict[int, Citation]) -> bytes:
    """The procedure as a Word document: a heading per numbered step, cited texts as quotes."""
    document = Document()
    document.core_properties.title = procedure.title
    document.add_heading(procedure.title, level=0)
    if procedure.audience:
        paragraph = document.add_paragraph()
        paragraph.add_run("Audience: ").bold = True
        paragraph.add_run(procedure.audience)
    if procedure.purpose:
        document.add_heading("Purpose", level=1)
        _add_markdown(document, procedure.purpose)
    document.add_heading("Steps", level=1)
    for number, step in enumerate(procedure.steps, start=1):
        document.add_heading(f"Step {number}. {step.heading}", level=2)
        _add_markdown(document, step.instructions)
        cited = citations.get(step.id)
        if cited is not None:
            _add_citation(document, cited)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _add_citation(document: Any, cited: Citation) -> None:
    kind = KINDS.get(cited.kind, "Entry")
    document.add_heading(f"{kind} cited: {cited.title}", level=3)
    for label, text in cited.parts:
        if label:
            document.add_paragraph().add_run(label).italic = True
        _add_markdown(document, text, style="Quote")
    paragraph = document.add_paragraph()
    paragraph.add_run("Source: ").bold = True
    paragraph.add_run(source_line(cited))


def _add_markdown(document: Any, text: str, style: str | None = None) -> None:
    """Paragraphs, bulleted and numbered lists, headings as bold lines, inline formatting."""
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = [line for line in block.split("\n") if line.strip()]
        if not lines:
            continue
        if _BULLET.match(lines[0]) or _NUMBERED.match(lines[0]):
            _add_list(document, lines, style)
        elif _HEADING.match(lines[0]):
            paragraph = document.add_paragraph(style=style)
            paragraph.add_run(_HEADING.sub("", " ".join(lines)).strip()).bold = True
        else:
            _add_inline(document.add_paragraph(style=style), " ".join(x.strip() for x in lines))


def _add_list(document: Any, lines: list[str], style: str | None) -> None:
    items: list[str] = []
    for line in lines:
        if _BULLET.match(line):
            items.append("• " + _BULLET.sub("", line).strip())
        elif _NUMBERED.match(line):
            items.append(_NUMBERED.sub(lambda m: f"{m.group(1)}. ", line).strip())
        else:
            items[-1] += " " + line.strip()
    for item in items:
        _add_inline(document.add_paragraph(style=style or "List Paragraph"), item)


def _add_inline(paragraph: Any, text: str) -> None:
    last = 0
    for match in _INLINE.finditer(text):
        if match.start() > last:
            paragraph.add_run(text[last : match.start()])
        groups = match.groupdict()
        if groups["bold"] or groups["bold2"]:
            paragraph.add_run(groups["bold"] or groups["bold2"]).bold = True
        elif groups["em"] or groups["em2"]:
            paragraph.add_run(groups["em"] or groups["em2"]).italic = True
        elif groups["code"]:
            paragraph.add_run(groups["code"]).font.name = "Courier New"
        else:
            paragraph.add_run(f"{groups['label']} ({groups['href']})")
        last = match.end()
    if last < len(text):
        paragraph.add_run(text[last:])
