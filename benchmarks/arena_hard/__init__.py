"""arena_hard."""
