"""``python -m kb`` runs the ``kb`` command line."""

from kb.cli import main

main()
