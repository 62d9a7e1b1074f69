"""The ``da`` command line."""
