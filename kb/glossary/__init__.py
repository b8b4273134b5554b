"""The glossary: domain terms with definitions and synonyms, kept by curators.

Entry pages mark known terms up with their definitions (:mod:`kb.glossary.markup`); the
writing checks warn about acronyms the glossary does not know; search treats a term and its
synonyms as one word.
"""

from kb.glossary.views import bp

__all__ = ["bp"]
