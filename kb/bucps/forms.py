"""BUCP forms. They carry and show what was typed; the services decide what is valid."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import DateField
from wtforms import HiddenField
from wtforms import SelectField
from wtforms import SelectMultipleField
from wtforms import StringField
from wtforms import TextAreaField
from wtforms import widgets
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from kb.bucps import lifecycle
from kb.bucps.services import STATUTORY_SOLUTIONS
from kb.models import Department


class CheckboxesField(SelectMultipleField):
    """Several checkboxes for one repeated form field."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class BucpForm(FlaskForm):
    """The BUCP's header: what it is, who asks, who provides, and the roles behind it."""

    version = HiddenField()
    title = StringField("Title", render_kw={"maxlength": 200})
    program = StringField("Requesting program", render_kw={"maxlength": 120, "list": "programs"})
    provider_id = SelectField("Data provider (peer department)", validate_choice=False)
    sponsor_role = StringField(
        "Use case sponsor (a role, not a name)", render_kw={"maxlength": 200}
    )
    coordinator_role = StringField(
        "Data coordinator (a role, not a name)", render_kw={"maxlength": 200}
    )
    statutory_solutions = CheckboxesField(
        "Statutory-restriction solutions used",
        choices=[SelectChoice(slug, label) for slug, label in STATUTORY_SOLUTIONS.items()],
        validate_choice=False,
    )
    results = TextAreaField("Data-sharing outcomes and results", render_kw={"rows": 3})
    started_on = DateField("Drafting started on (leave empty for today)", validators=[Optional()])
    note = StringField(
        "Why the earlier date? (needed when back-dated)", render_kw={"maxlength": 500}
    )

    def set_departments(self, departments: list[Department]) -> None:
        """The providers to choose from."""
        self.provider_id.choices = [SelectChoice("", "Choose a department")] + [
            SelectChoice(str(d.id), d.name) for d in departments
        ]

    def data_for_service(self) -> dict[str, Any]:
        """The typed header values for ``kb.bucps.services``."""
        provider = self.provider_id.data or ""
        return {
            "title": self.title.data or "",
            "program": self.program.data or "",
            "provider_id": int(provider) if str(provider).isdigit() else None,
            "sponsor_role": self.sponsor_role.data or "",
            "coordinator_role": self.coordinator_role.data or "",
            "statutory_solutions": list(self.statutory_solutions.data or []),
            "results": self.results.data or "",
        }


class SectionForm(FlaskForm):
    """A section's text, with the version it was opened at."""

    version = HiddenField()
    text = TextAreaField("Text (Markdown; {{ placeholders }} are filled from the form)")


class TransitionForm(FlaskForm):
    """Move the BUCP to another stage, today or on an earlier date."""

    to_stage = SelectField("Move to", validate_choice=False)
    on = DateField("On (leave empty for today)", validators=[Optional()])
    note = TextAreaField("Note (needed for an earlier date)", render_kw={"rows": 2})

    def set_stages(self, stage: str) -> None:
        """The stages reachable from ``stage``."""
        self.to_stage.choices = [
            SelectChoice(slug, lifecycle.label(slug)) for slug in lifecycle.allowed(stage)
        ]


class MemberForm(FlaskForm):
    """Add someone to the team."""

    username = StringField("User name")


class DisputeForm(FlaskForm):
    """Record a dispute."""

    description = TextAreaField("What is disputed", render_kw={"rows": 2})
    on = DateField("Raised on (leave empty for today)", validators=[Optional()])


class ResolveForm(FlaskForm):
    """Record how a dispute was resolved."""

    resolution = TextAreaField("Resolution", render_kw={"rows": 2})
    on = DateField("Resolved on (leave empty for today)", validators=[Optional()])


class LessonForm(FlaskForm):
    """Link a lesson the team applied."""

    entry_id = SelectField("Lesson", validate_choice=False)


class AttachmentForm(FlaskForm):
    """Upload a document."""

    file = FileField("File")
