"""Under CI=true a missing part (vLLM, chromium, ../shared, any required module) fails the run; locally it skips."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PROBE = """
from tests.conftest import require, require_executables

def test_module():
    require("harness_no_such_module_xyz")

def test_executable():
    require_executables("harness-no-such-executable-xyz")
"""


@pytest.mark.parametrize(("ci", "expected"), [("true", r"2 failed"), ("", r"2 skipped")])
def test_a_missing_part_fails_only_under_ci(ci: str, expected: str, tmp_path: Path) -> None:
    probe = tmp_path / "test_probe.py"
    probe.write_text(PROBE)
    env = {**os.environ, "CI": ci, "PYTHONPATH": str(REPO)}
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(probe)],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)  # fmt: skip
    assert re.search(expected, res.stdout), res.stdout[-2000:]
    if ci:
        assert "CI=true but harness_no_such_module_xyz cannot be imported: ModuleNotFoundError" in res.stdout


def test_no_test_skips_around_the_rule() -> None:
    """No test calls pytest.importorskip or pytest.skip directly: every optional part goes through require()."""
    offenders = [
        str(p.relative_to(REPO))
        for p in (REPO / "tests").rglob("*.py")
        if p.name not in ("conftest.py", "test_no_silent_skips.py")
        and re.search(r"pytest\.(importorskip|skip)\(", p.read_text())
    ]
    assert offenders == []
