"""The benchmark contract: a registry of benchmark functions and the context they run in.

A benchmark is a function ``(EvalContext) -> BenchmarkResult`` registered with ``@benchmark("name")``.
``harness eval --benchmarks a,b`` looks names up here.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.runner import Run
from harness.store import Store
from harness.types import HarnessError, MetricValue, Model

_BENCHMARKS: dict[str, Callable[[EvalContext], BenchmarkResult]] = {}
# module that registers each benchmark (imported on first use, so optional parts stay lazy)
_MODULES = {
    "judge": "benchmarks.judge_bench",
    "alpaca_eval": "benchmarks.alpaca_eval_run",
    "arena_hard": "benchmarks.arena_hard_run",
    "mt_bench": "benchmarks.mt_bench_run",
    "taskworld": "benchmarks.taskworld",
}

DEFAULT_JUDGE = "openai:gpt-4-1106-preview"

# the metric names each benchmark reports (gate rules and best_metric are checked against them up front)
_JUDGE = [
    "pairwise_accuracy", "pairwise_accuracy_ties_half", "pairwise_accuracy_ties_excluded", "judge_tie_rate",
    "five_best", "exact_match", "spearman", "kendall", "spearman_pooled", "kendall_pooled", "parse_rate",
    "mean_score", "judgment_parse_rate", *[f"score_frac_{k}" for k in range(6)], "agreement",
    "agreement_without_ties", "self_chosen_agreement", "self_chosen_agreement_without_ties", "reference_position_bias", "length_bias",
]  # fmt: skip
KNOWN_METRICS: dict[str, list[str]] = {
    "judge": _JUDGE,
    "taskworld": ["accuracy", "avg_length"],
    "meta_judge": [
        "higher_win",
        "lower_win",
        "first_position_same_score",
        "first_position_diff_score",
        "first_position_all",
    ],
    "alpaca_eval": [
        "win_rate",
        "standard_error",
        "lc_win_rate",
        "lc_standard_error",
        "discrete_win_rate",
        "avg_length",
    ],
    "arena_hard": ["score", "avg_tokens"],
    "mt_bench": ["turn1", "turn2", "overall", "mean_of_turns"],
}


def known_metrics(benchmarks: list[str]) -> list[str]:
    return [f"{b}.{m}" for b in benchmarks for m in KNOWN_METRICS.get(b, [])]


class _NoProgress:
    def __enter__(self) -> Callable[[int], None]:
        return lambda k, note=None: None

    def __exit__(self, *exc: object) -> None:
        return None


def no_progress(label: str, total: int) -> _NoProgress:
    """A progress context that shows nothing (the default when no CLI progress bar is given)."""
    return _NoProgress()


@dataclass
class BenchmarkResult:
    benchmark: str
    metrics: list[MetricValue]
    samples: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    # item id -> a JSON unit for paired differences between evaluations (benchmarks.paired); {} if unsupported
    units: dict[str, Any] = field(default_factory=dict)


@dataclass
class EvalContext:
    """What a benchmark needs: the model under test, judges, the store/run, data paths and options.

    Models are loaded lazily and shared: asking twice for the same spec gives the same instance.
    """

    model_spec: str
    store: Store
    run: Run
    judge_spec: str | None = None
    reference_judge_spec: str | None = None
    limit: int | None = None
    seed: int = 0
    data: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    _models: dict[str, Model] = field(default_factory=dict)
    # progress(label, total) -> context manager yielding advance(k); the CLI sets a rich progress bar
    progress: Callable[[str, int], Any] = field(default=lambda label, total: no_progress(label, total))

    def load(self, spec: str) -> Model:
        if spec not in self._models:
            from harness.backends import load_model

            self._models[spec] = load_model(spec, store=self.store)
        return self._models[spec]

    def actor(self) -> Model:
        return self.load(self.model_spec)

    def judge(self) -> Model:
        """The judge of judge benchmarks: --judge, else the actor itself (the self-rewarding setting)."""
        return self.load(self.judge_spec or self.model_spec)

    def data_path(self, key: str) -> Path | None:
        value = self.data.get(key)
        return Path(value) if value else None

    def close(self) -> None:
        for model in self._models.values():
            model.close()
        self._models.clear()


def benchmark(
    name: str,
) -> Callable[[Callable[[EvalContext], BenchmarkResult]], Callable[[EvalContext], BenchmarkResult]]:
    def deco(fn: Callable[[EvalContext], BenchmarkResult]) -> Callable[[EvalContext], BenchmarkResult]:
        _BENCHMARKS[name] = fn
        return fn

    return deco


def names() -> list[str]:
    return sorted(_MODULES)


def get(name: str) -> Callable[[EvalContext], BenchmarkResult]:
    if name not in _MODULES and name not in _BENCHMARKS:
        raise HarnessError(f"--benchmarks: unknown benchmark {name!r} (known: {', '.join(names())})")
    if name not in _BENCHMARKS:
        importlib.import_module(_MODULES[name])
    return _BENCHMARKS[name]


def validate(name: str, ctx: EvalContext) -> None:
    """Run the benchmark module's ``validate(ctx)`` if it has one (bad data fails before anything is written)."""
    get(name)
    module = importlib.import_module(_MODULES[name]) if name in _MODULES else None
    check = getattr(module, "validate", None)
    if check is not None:
        check(ctx)


def run_benchmark(name: str, ctx: EvalContext) -> BenchmarkResult:
    fn = get(name)
    start = time.time()
    result = fn(ctx)
    result.seconds = time.time() - start
    return result
