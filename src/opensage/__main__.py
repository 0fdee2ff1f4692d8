"""``python -m opensage`` runs the CLI."""

from opensage.cli import main

# Guarded: job processes are forked from a fork server that imports the main module.
if __name__ == "__main__":
    main()
