"""Reading import files: JSON line numbers, CSV dialects, the Markdown-table page rules."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from kb.imports.csv_format import default_mapping
from kb.imports.csv_format import read_csv
from kb.imports.csv_format import sniff_delimiter
from kb.imports.duplicates import content_words
from kb.imports.duplicates import normalise_title
from kb.imports.formats import decode_text
from kb.imports.formats import format_for
from kb.imports.formats import read_json
from kb.imports.formats import read_records
from kb.imports.markdown_table import category_for
from kb.imports.markdown_table import html_to_markdown
from kb.imports.markdown_table import read_markdown_table
from kb.imports.markdown_table import split_row
from kb.imports.markdown_table import title_from

DATA = Path(__file__).parent / "data"
CATEGORIES = {
    "data-requests": "data-requests",
    "data requests": "data-requests",
    "security-reviews": "security-reviews",
    "security reviews": "security-reviews",
    "process-improvement": "process-improvement",
    "bucp process improvement": "process-improvement",
    "bucp-creation": "bucp-creation",
    "bucp creation": "bucp-creation",
}


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.json", "json"),
        ("a.JSONL", "jsonl"),
        ("a.ndjson", "jsonl"),
        ("export.csv", "csv"),
        ("page.md", "md"),
        ("page.markdown", "md"),
        ("a.xml", None),
        ("noextension", None),
    ],
)
def test_format_for_reads_the_extension(name, fmt):
    assert format_for(name) == fmt


def test_decode_text_handles_bom_utf8_and_windows_1252():
    assert decode_text(codecs.BOM_UTF8 + "Café".encode()) == "Café"
    assert decode_text("Café".encode()) == "Café"
    assert decode_text("Café – “quoted”".encode("cp1252")) == "Café – “quoted”"
    assert decode_text(codecs.BOM_UTF16_LE + "Café".encode("utf-16-le")) == "Café"
    assert decode_text(b"\x81") == "\x81"  # undefined in Windows-1252: Latin-1, never an error


def test_read_json_numbers_records_by_the_line_they_start_on():
    text = '[\n  {"title": "a"},\n  {\n    "title": "b"\n  },\n  3\n]\n'
    records, problems = read_json(text)
    assert [line for line, _ in records] == [2, 3]
    assert [str(p) for p in problems] == ["line 6: record: must be a JSON object"]


def test_read_json_accepts_an_entries_object_and_names_a_syntax_error_line():
    records, problems = read_json('{"version": 1,\n "entries": [\n {"title": "a"}]}')
    assert records == [(3, {"title": "a"})] and problems == []
    records, problems = read_json('[\n{"title": "a"},\n{"title": }\n]')
    assert records == [] and problems[0].line == 3 and "not valid JSON" in str(problems[0])
    _, problems = read_json('{"title": "a"}')
    assert "must be an array of records" in str(problems[0])


def test_sniff_delimiter_takes_the_header_lines_most_frequent():
    assert sniff_delimiter("kind;title;body\nlesson;a, b;c") == ";"
    assert sniff_delimiter("kind,title,body\nlesson;x,a,b") == ","
    assert sniff_delimiter("kind\ttitle\n") == "\t"
    assert sniff_delimiter("title\n") == ","


def test_read_csv_splits_lists_and_numbers_rows_by_line():
    text = (
        "Kind;Title;Body;Categories;Plays;Tags;Citations\r\n"
        'lesson;One;"Line one\r\nline two";Data Requests;2;a;"Gov. Code 1\r\nGov. Code 2"\r\n'
        "\r\n"
        "lesson;Two;Body;security-reviews;1;;\r\n"
    )
    records, problems = read_csv(text)
    assert problems == []
    assert [line for line, _ in records] == [2, 6]  # record 1 spans lines 2-4; 5 is blank
    first = records[0][1]
    assert first["kind"] == "lesson" and first["categories"] == "Data Requests"
    assert first["citations"] == "Gov. Code 1\r\nGov. Code 2"


def test_read_csv_keeps_unknown_columns_by_name_and_refuses_extra_cells():
    records, problems = read_csv("title,colour\r\nA,red\r\nB,blue,extra\r\n")
    assert records == [(2, {"title": "A", "colour": "red"})]
    assert "has 3 cells; the header names 2 columns" in str(problems[0])
    _, problems = read_csv("title,Title\r\nA,B\r\n")
    assert str(problems[0]) == "line 1: header: more than one column is title"


def test_read_csv_with_a_mapping_ignores_unmapped_columns():
    records, problems = read_csv("Lesson,Colour\r\nA,red\r\n", mapping={0: "title", 1: None})
    assert records == [(2, {"title": "A"})] and problems == []


def test_default_mapping_matches_names_and_ignores_generated_fields():
    header = ["Title", "Category", "Lesson learned", "id", "Colour", "title"]
    assert default_mapping(header) == {
        0: "title",
        1: "categories",
        2: "body",
        3: None,
        4: None,
        5: None,
    }


@pytest.mark.parametrize(
    ("html", "markdown"),
    [
        ("One<br>two", "One\ntwo"),
        ("<p>One.<br><br>Two.</p>", "One.\n\nTwo."),
        ("<ul><li>First</li><li>Second</li></ul>", "- First\n- Second"),
        ("<ol><li>First</li><li>Second</li></ol>", "1. First\n2. Second"),
        ("<strong>Bold</strong> and <em>soft</em>", "**Bold** and *soft*"),
        ('<a href="https://x.example/a">the catalog</a>', "[the catalog](https://x.example/a)"),
        ('<a href="javascript:alert(1)">click</a>', "click"),
        ('<a href="lessons-learned.md#x">here</a>', "here"),
        ("Fish &amp; chips <span>kept</span>", "Fish & chips kept"),
        ("<script>x</script>Text", "xText"),
    ],
)
def test_html_to_markdown(html, markdown):
    assert html_to_markdown(html) == markdown


@pytest.mark.parametrize(
    ("lesson", "title"),
    [
        ("Engage experts early. Expertise may sit elsewhere.", "Engage experts early"),
        ("Ask questions, e.g. about fields. Then decide.", "Ask questions, e.g. about fields"),
        ("Why wait? Start now.", "Why wait?"),
        ("No full stop at all", "No full stop at all"),
        ("**Bold** start of [a link](https://x.example). More.", "Bold start of a link"),
        ("First paragraph without a stop\n\nSecond paragraph.", "First paragraph without a stop"),
        ("- A list item first\n- Another", "A list item first"),
    ],
)
def test_title_rule(lesson, title):
    assert title_from(lesson) == title


def test_title_rule_cuts_long_sentences_at_a_word_boundary():
    lesson = " ".join(["word"] * 80) + "."
    title = title_from(lesson)
    assert len(title) <= 200 and title.endswith("word…")


def test_category_for_matches_names_slugs_and_lessons_learned_headings():
    assert category_for("Data Requests", CATEGORIES) == "data-requests"
    assert category_for("data-requests", CATEGORIES) == "data-requests"
    assert category_for("BUCP Process Improvement: Lessons Learned", CATEGORIES) == (
        "process-improvement"
    )
    assert category_for("BUCP Creation Lessons Learned", CATEGORIES) == "bucp-creation"
    assert category_for("Budget Planning", CATEGORIES) is None


def test_split_row_keeps_escaped_bars():
    assert split_row("| a \\| b | c |") == ["a | b", "c"]
    assert split_row("a | b") == ["a", "b"]


def test_read_markdown_table_reads_our_page():
    text = (DATA / "lessons-page.md").read_text(encoding="utf-8")
    records, problems = read_markdown_table(text, {"categories": CATEGORIES})
    assert problems == []
    assert [line for line, _ in records] == [17, 18, 24, 30]
    by_title = {record["title"]: record for _, record in records}
    codebook = by_title["Ask the steward for the codebook before writing the request"]
    assert codebook["categories"] == ["data-requests"]
    assert (
        codebook["benefit"] == "- Requests name the **right** fields.\n- Fewer rounds of questions."
    )
    assert codebook["status"] == "published"
    assert codebook["source"].startswith("Harbor County")
    assert "icon" not in codebook
    portal = by_title["Check the open data portal first"]
    assert portal["body"].endswith("[the catalog](https://data.example.gov/catalog).")
    assert portal["plays"] == [5]
    security = records[2][1]
    assert security["categories"] == ["security-reviews"] and security["plays"] == [7, 8]
    assert records[3][1]["categories"] == ["process-improvement"]
    assert records[3][1]["title"] == "Keep one shared folder of approved BUCPs | templates included"


def test_read_markdown_table_uids_are_stable_per_category_and_title():
    text = (DATA / "lessons-page.md").read_text(encoding="utf-8")
    first, _ = read_markdown_table(text, {"categories": CATEGORIES})
    again, _ = read_markdown_table(text, {"categories": CATEGORIES})
    assert [r["uid"] for _, r in first] == [r["uid"] for _, r in again]
    assert len({r["uid"] for _, r in first}) == 4


def test_read_markdown_table_without_tables_is_a_problem_and_fences_are_skipped():
    text = "# Title\n\n```\n| a | b |\n| --- | --- |\n| c | d |\n```\n"
    records, problems = read_markdown_table(text, {"categories": CATEGORIES})
    assert records == [] and "has no table rows" in str(problems[0])


def test_read_markdown_table_uses_the_nearest_category_heading():
    text = "## Data Requests\n\n### Small tips\n\n| L | B |\n|---|---|\n| Do it. | Good. |\n"
    records, _ = read_markdown_table(text, {"categories": CATEGORIES})
    assert records[0][1]["categories"] == ["data-requests"]


def test_read_records_dispatches_and_decodes():
    data = "title;kind\r\nCafé;lesson\r\n".encode("cp1252")
    records, problems = read_records(data, "csv")
    assert records == [(2, {"title": "Café", "kind": "lesson"})] and problems == []
    records, _ = read_records(b'{"title": "a"}\n\n{"title": "b"}\n', "jsonl")
    assert [line for line, _ in records] == [1, 3]
    with pytest.raises(ValueError, match="unknown format"):
        read_records(b"", "xml")


def test_duplicate_helpers():
    assert normalise_title("  Engage experts — EARLY! ") == "engage experts early"
    words = content_words("The data steward keeps the codebook", None)
    assert words == {"data", "steward", "keeps", "codebook"}
