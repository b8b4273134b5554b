"""The glossary's term form (the services decide what is valid)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms import TextAreaField

from kb.glossary.services import MAX_DEFINITION
from kb.glossary.services import MAX_TERM


class TermForm(FlaskForm):
    """A term, what it means, and other ways people write it."""

    term = StringField("Term", render_kw={"maxlength": MAX_TERM})
    definition = TextAreaField("Definition", render_kw={"rows": 4, "maxlength": MAX_DEFINITION})
    synonyms = TextAreaField("Synonyms and spelled-out forms (one per line)", render_kw={"rows": 3})
