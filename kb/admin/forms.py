"""Administration forms: accounts, roles and the audit filters."""

from __future__ import annotations

from datetime import date
from datetime import datetime

from flask_wtf import FlaskForm
from wtforms import Field
from wtforms import PasswordField
from wtforms import SelectChoice
from wtforms import SelectField
from wtforms import StringField
from wtforms.validators import DataRequired
from wtforms.validators import EqualTo
from wtforms.validators import Length
from wtforms.validators import Optional
from wtforms.validators import ValidationError
from wtforms.widgets import DateInput

from kb.admin.services import AuditFilters
from kb.auth.services import MIN_PASSWORD_LENGTH
from kb.auth.services import find_user
from kb.extensions import db
from kb.models import ROLES

ROLE_CHOICES = [SelectChoice(role) for role in ROLES]
ISO_DATE = "%Y-%m-%d"


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class CreateUserForm(FlaskForm):
    """A new local account; the password is typed twice and never shown again."""

    username = StringField(
        "User name",
        validators=[DataRequired(), Length(max=80)],
        filters=[_strip],
        render_kw={"autocomplete": "off", "maxlength": 80},
    )
    display_name = StringField(
        "Display name",
        validators=[Optional(), Length(max=200)],
        filters=[_strip],
        render_kw={"autocomplete": "off", "maxlength": 200},
    )
    role = SelectField("Role", choices=ROLE_CHOICES, default="contributor")
    password = PasswordField(
        "Password",
        validators=[
            DataRequired(),
            Length(
                min=MIN_PASSWORD_LENGTH, message=f"Use at least {MIN_PASSWORD_LENGTH} characters."
            ),
            Length(max=1024),
        ],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        "Password again",
        validators=[DataRequired(), EqualTo("password", message="The passwords do not match.")],
        render_kw={"autocomplete": "new-password"},
    )

    def validate_username(self, field: Field) -> None:
        """User names are unique, ignoring case."""
        if field.data and find_user(db.session, field.data) is not None:
            raise ValidationError(f"A user named “{field.data}” already exists.")


class RoleForm(FlaskForm):
    """Change one account's role (the CSRF token is rendered by hand, once per row)."""

    role = SelectField("Role", choices=ROLE_CHOICES)


class AccountForm(FlaskForm):
    """Deactivate or reactivate an account: only the CSRF token."""


def _parse_date(text: str) -> date:
    return datetime.strptime(text, ISO_DATE).date()


class AuditFilterForm(FlaskForm):
    """The audit trail's GET filters; a date that cannot be read is reported and ignored."""

    class Meta:
        csrf = False

    action = SelectField("Action", choices=[SelectChoice("", "Any action")], validate_choice=False)
    actor = StringField(
        "Actor (user name)",
        filters=[_strip],
        render_kw={"list": "audit-actors", "autocomplete": "off", "maxlength": 80},
    )
    object_type = SelectField(
        "Object type", choices=[SelectChoice("", "Any type")], validate_choice=False
    )
    date_from = StringField("From", widget=DateInput(), filters=[_strip])
    date_to = StringField("To", widget=DateInput(), filters=[_strip])

    def set_choices(self, actions: list[str], object_types: list[str]) -> None:
        """Offer the actions and object types that occur in the trail."""
        self.action.choices = [SelectChoice("", "Any action"), *map(SelectChoice, actions)]
        self.object_type.choices = [SelectChoice("", "Any type"), *map(SelectChoice, object_types)]

    def validate_date_from(self, field: Field) -> None:
        """An ISO date (YYYY-MM-DD), or nothing."""
        self._check_date(field)

    def validate_date_to(self, field: Field) -> None:
        """An ISO date (YYYY-MM-DD), or nothing, not before the "from" date."""
        self._check_date(field)
        start, end = self._date(self.date_from), self._date(field)
        if start and end and end < start:
            raise ValidationError("“To” is before “From”, so the date range was ignored.")

    def take_problems(self) -> list[str]:
        """The messages about filters that were ignored, taken off the fields.

        The list (swapped by htmx) shows them, so the form never keeps a stale message.
        """
        problems = [error for field in self for error in field.errors]
        for field in self:
            field.errors = []
        return problems

    def filters(self) -> AuditFilters:
        """What to filter by: dates that cannot be read, or an inverted range, are left out."""
        start, end = self._date(self.date_from), self._date(self.date_to)
        if start and end and end < start:
            start = end = None
        return AuditFilters(
            action=self.action.data or None,
            actor=self.actor.data or None,
            object_type=self.object_type.data or None,
            start=start,
            end=end,
        )

    @staticmethod
    def _date(field: Field) -> date | None:
        try:
            return _parse_date(field.data) if field.data else None
        except ValueError:
            return None

    @staticmethod
    def _check_date(field: Field) -> None:
        if field.data and AuditFilterForm._date(field) is None:
            raise ValidationError(
                f"The “{field.label.text}” date “{field.data}” could not be read, so it was "
                "ignored: write it as YYYY-MM-DD (e.g. 2025-03-31)."
            )
