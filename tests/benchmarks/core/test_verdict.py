"""The one rule that names a paired difference (better / worse / n.s. / up / down), and every place that shows it."""

from __future__ import annotations

import pytest

from app.leaderboard_html import fmt
from benchmarks.core.paired import verdict
from training.report import delta_rows

# (metric, its declared direction as the registry gives it: True higher is better, False lower, None neither)
CASES = [
    ("taskworld.accuracy", 0.01, 0.09, "better"),  # higher is better, CI above 0
    ("taskworld.accuracy", -0.09, -0.01, "worse"),
    ("taskworld.accuracy", 0.0, 0.09, "n.s."),  # a bound at exactly 0 does not exclude it
    ("taskworld.accuracy", -0.02, 0.03, "n.s."),
    ("judge_alarms.all_equal_share", 0.01, 0.05, "worse"),  # lower is better: a rise is worse
    ("judge_alarms.all_equal_share", -0.05, -0.01, "better"),
    ("taskworld.avg_length", -1.4, -0.2, "down"),  # no direction: only up or down
    ("taskworld.avg_length", 0.2, 1.4, "up"),
    ("taskworld.accuracy", None, None, "-"),
]


@pytest.mark.parametrize(("metric", "low", "high", "expected"), CASES)
def test_verdict(metric: str, low: float | None, high: float | None, expected: str) -> None:
    assert verdict(metric, low, high) == expected


def test_the_terminal_table_and_the_leaderboard_star_follow_the_rule() -> None:
    for metric, low, high, expected in CASES[:8]:
        summary = {"iterations": [{"iteration": 1}, {"iteration": 2, metric: 0.5, f"{metric}.delta_prev": 0.0,
                   f"{metric}.delta_prev.ci_low": low, f"{metric}.delta_prev.ci_high": high}]}  # fmt: skip
        shown = {d["metric"]: d["verdict"] for d in delta_rows(summary)}
        assert shown[metric] == expected, (metric, low, high)
        star = fmt({"value": 0.0, "ci_low": low, "ci_high": high}, column=f"{metric}.delta_prev").endswith("*")
        assert star == (expected not in ("n.s.", "-")), (metric, low, high)
