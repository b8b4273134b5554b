"""The entry form: the fields of the entry record (DESIGN §6), for lessons and snippets."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms import SelectField
from wtforms import SelectMultipleField
from wtforms import StringField
from wtforms import TextAreaField
from wtforms import widgets
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from kb.entries.validation import TEXT_FIELDS
from kb.models import POSITIONS

#: The text fields the form shows (the source attribution is kept, not typed).
FORM_TEXT_FIELDS = tuple(name for name in TEXT_FIELDS if name != "source")


class CheckboxesField(SelectMultipleField):
    """Several checkboxes for one repeated form field."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class EntryForm(FlaskForm):
    """What a contributor types; the record rules (kb.entries.validation) decide what is valid."""

    kind = HiddenField()
    version = HiddenField()
    title = StringField("Title", render_kw={"maxlength": 200})
    summary = TextAreaField("Summary", render_kw={"rows": 2, "maxlength": 500})
    body = TextAreaField("Body (Markdown)", render_kw={"rows": 10})
    benefit = TextAreaField("Why it helps (Markdown)", render_kw={"rows": 4})
    context = TextAreaField("Where it comes from (Markdown)", render_kw={"rows": 3})
    clause_type = SelectField("Clause type", validators=[Optional()], validate_choice=False)
    position = SelectField(
        "Position",
        choices=[SelectChoice(p, p.capitalize()) for p in POSITIONS],
        validate_choice=False,
    )
    usage_notes = TextAreaField("How to use it (Markdown)", render_kw={"rows": 4})
    citations = TextAreaField("Legal citations (one per line)", render_kw={"rows": 3})
    categories = CheckboxesField("Categories", validate_choice=False)
    plays = CheckboxesField("Plays", validate_choice=False)
    tags = StringField("Tags (comma-separated)")
    program = StringField("Program")
    note = StringField("What changed (optional)", render_kw={"maxlength": 500})

    def set_choices(self, taxonomy: dict[str, list[tuple[str, str]]]) -> None:
        """Fill the taxonomy choices (slugs and names from the database)."""
        self.clause_type.choices = [SelectChoice("", "Choose a clause type")] + [
            SelectChoice(value, label) for value, label in taxonomy["clause_types"]
        ]
        self.categories.choices = [SelectChoice(v, label) for v, label in taxonomy["categories"]]
        self.plays.choices = [SelectChoice(v, label) for v, label in taxonomy["plays"]]

    def record(self) -> dict[str, Any]:
        """The typed values as an entry record (the shared validation reads it)."""
        record: dict[str, Any] = {
            name: getattr(self, name).data or ""
            for name in ("kind", *FORM_TEXT_FIELDS, "citations", "tags", "program")
        }
        record["categories"] = list(self.categories.data or [])
        record["plays"] = list(self.plays.data or [])
        if record["kind"] == "snippet":
            record["clause_type"] = self.clause_type.data or ""
            record["position"] = self.position.data or "standard"
        return record
