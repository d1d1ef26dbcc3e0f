"""head_to_head."""
