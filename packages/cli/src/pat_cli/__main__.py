"""``python -m pat_cli`` runs the ``pat`` command."""

from pat_cli.app import main

main()
