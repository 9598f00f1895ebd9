"""Subcommands of the ``neurofb`` CLI, one module each (see :mod:`neurofb.cli`)."""
