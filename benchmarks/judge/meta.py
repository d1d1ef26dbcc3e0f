"""The meta-judge's biases, measured by `harness iterate` in each iteration's judge-pairs stage.

Computed by ``judges.meta.meta_judge_biases`` over the meta-judge's battles between judgments (Meta-Rewarding
Table 5) and recorded as ``meta_judge.<metric>`` rows of the iteration; declared here like every benchmark.
"""

from __future__ import annotations

from benchmarks.core.registry import Benchmark, Metric, declare

METRICS = (
    Metric("higher_win", "share of battles between differently scored judgments won by the higher score", None,
           reference="Meta-Rewarding Table 5"),
    Metric("lower_win", "share of those battles won by the lower score", None, reference="Meta-Rewarding Table 5"),
    Metric("first_position_same_score", "share of same-score battles won by the first position (0.5: unbiased)",
           None, reference="Meta-Rewarding Table 5"),
    Metric("first_position_diff_score", "share of different-score battles won by the first position", None,
           reference="Meta-Rewarding Table 5"),
    Metric("first_position_all", "share of all parsed battles won by the first position (0.5: unbiased)", None,
           headline=True, reference="Meta-Rewarding Table 5"),
)  # fmt: skip
BENCHMARK = declare(Benchmark("meta_judge", "1", "judge", METRICS, roles=("judge",)))
