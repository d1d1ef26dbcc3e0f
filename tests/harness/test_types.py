"""Request seeds derived from content (harness.types.SamplingParams.seeded_for): the same in every process."""

import os
import subprocess
import sys

from tests.judges.scripted import content_seed


def test_content_seeds_are_the_same_in_every_process() -> None:
    # the README's "stable across processes": a fresh interpreter with another hash randomisation gives the seed
    # the test computes itself (a rule built on Python's hash() would differ between these processes)
    code = "from harness.types import SamplingParams; print(SamplingParams(seed=3).seeded_for('q', 'r', 'é').seed)"
    got = set()
    for hash_seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
        assert res.returncode == 0, res.stderr
        got.add(int(res.stdout))
    assert got == {content_seed(3, "q", "r", "é")}
