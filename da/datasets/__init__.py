"""Real, offline domain pairs."""
