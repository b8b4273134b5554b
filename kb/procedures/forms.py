"""Procedure forms. They carry and show what was typed; the services decide what is valid."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms import StringField
from wtforms import TextAreaField


class ProcedureForm(FlaskForm):
    """The procedure's header: what it is called, what it is for, and who it is for."""

    version = HiddenField()
    title = StringField("Title", render_kw={"maxlength": 200})
    purpose = TextAreaField("Purpose (Markdown)", render_kw={"rows": 3})
    audience = StringField("Audience", render_kw={"maxlength": 200})

    def data_for_service(self) -> dict[str, Any]:
        """The typed header values for ``kb.procedures.services``."""
        return {
            "title": self.title.data or "",
            "purpose": self.purpose.data or "",
            "audience": self.audience.data or "",
        }

    def posted_version(self) -> int:
        """The version the form was opened at (-1 when missing or garbled: a conflict)."""
        value = str(self.version.data or "")
        return int(value) if value.isdigit() else -1


class StepForm(FlaskForm):
    """A step's heading and instructions."""

    heading = StringField("Heading", render_kw={"maxlength": 200})
    instructions = TextAreaField("Instructions (Markdown)", render_kw={"rows": 4})

    def data_for_service(self) -> dict[str, Any]:
        """The typed step values for ``kb.procedures.services``."""
        return {"heading": self.heading.data or "", "instructions": self.instructions.data or ""}
