"""Forms of the taxonomy pages (each post carries the CSRF token)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SearchField
from wtforms import SelectChoice
from wtforms import SelectField
from wtforms import StringField
from wtforms import TextAreaField
from wtforms.validators import DataRequired
from wtforms.validators import Length
from wtforms.validators import Optional

from kb.entries.validation import MAX_TAG_CHARS
from kb.models import Program
from kb.taxonomy.services import ABBREVIATION_CHARS
from kb.taxonomy.services import DEPARTMENT_NAME_CHARS
from kb.taxonomy.services import DESCRIPTION_CHARS
from kb.taxonomy.services import PROGRAM_NAME_CHARS


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class TagFilterForm(FlaskForm):
    """The tag list's filter: a name prefix and an order (a GET form, no CSRF token)."""

    class Meta:
        csrf = False

    q = SearchField(
        "Tags starting with",
        validators=[Optional(), Length(max=MAX_TAG_CHARS)],
        filters=[_strip],
    )
    sort = SelectField(
        "Order",
        choices=[
            SelectChoice("name", "Name"),
            SelectChoice("most", "Most used first"),
            SelectChoice("least", "Least used first"),
        ],
        default="name",
        validate_choice=False,
    )


class RenameTagForm(FlaskForm):
    """A tag's new name (normalised: lower case, hyphens)."""

    name = StringField(
        "New name", validators=[DataRequired(), Length(max=MAX_TAG_CHARS)], filters=[_strip]
    )


class MergeTagForm(FlaskForm):
    """The tag that takes over the entries of this one."""

    target = StringField(
        "Merge into the tag",
        validators=[DataRequired(), Length(max=MAX_TAG_CHARS)],
        filters=[_strip],
    )


class ConfirmForm(FlaskForm):
    """Only the CSRF token: deleting is a POST."""


class ProgramForm(FlaskForm):
    """A program's name and description."""

    name = StringField(
        "Name", validators=[DataRequired(), Length(max=PROGRAM_NAME_CHARS)], filters=[_strip]
    )
    description = TextAreaField(
        "Description",
        validators=[Optional(), Length(max=DESCRIPTION_CHARS)],
        filters=[_strip],
        render_kw={"rows": 3},
    )


class MergeProgramForm(FlaskForm):
    """The program that takes over the entries and users of this one."""

    target = SelectField("Merge into the program", coerce=int, validators=[DataRequired()])

    def offer(self, programs: list[Program]) -> MergeProgramForm:
        """Offer these programs to merge into (set before validating or rendering)."""
        self.target.choices = [SelectChoice(program.id, program.name) for program in programs]
        return self


class DepartmentForm(FlaskForm):
    """A peer department's name and abbreviation."""

    name = StringField(
        "Name", validators=[DataRequired(), Length(max=DEPARTMENT_NAME_CHARS)], filters=[_strip]
    )
    abbreviation = StringField(
        "Abbreviation",
        validators=[Optional(), Length(max=ABBREVIATION_CHARS)],
        filters=[_strip],
    )
