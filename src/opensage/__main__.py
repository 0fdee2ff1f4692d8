"""``python -m opensage`` runs the CLI."""

from opensage.cli import main

main()
