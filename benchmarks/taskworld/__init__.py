"""taskworld."""
