"""mt_bench."""
