"""The one writer of evaluation results: ``evaluate(benchmarks, ctx)`` and the ``record`` functions under it.

``harness eval``, ``harness iterate`` (its eval stage, paired differences and meta-judge biases), ``harness
compare`` and ``harness score --record`` all write metric rows and samples through :func:`record_rows` /
:func:`record_result`, so every row has one shape (``{metric, value, ci_low, ci_high, n}``) and every metric
written is a declared one (``benchmarks.core.registry``). ``results.json`` is built by :class:`EvalReport` with a
schema version (lm-eval's versioned results): bump :data:`SCHEMA_VERSION` when its shape changes.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.core.registry import BenchmarkResult, EvalContext, get, metric_info, run_benchmark
from harness.files import atomic_write_json, atomic_write_jsonl
from harness.store import Store, git_hash, package_versions
from harness.types import HarnessError, MetricValue

SCHEMA_VERSION = "1"
ROW_KEYS = ("metric", "value", "ci_low", "ci_high", "n")


def canonical_row(benchmark: str, row: dict[str, Any] | MetricValue) -> dict[str, Any]:
    """The stored shape of one metric row; refuses a metric its benchmark does not declare.

    Args:
        benchmark: the declared benchmark the row belongs to.
        row: a :class:`MetricValue` or a mapping with at least ``metric``.
    Returns:
        ``{metric, value, ci_low, ci_high, n}`` (missing keys None).
    """
    d = row.to_row() if isinstance(row, MetricValue) else row
    if metric_info(f"{benchmark}.{d['metric']}") is None:
        raise HarnessError(f"{benchmark}: metric {d['metric']!r} is not declared (benchmarks.core.registry)")
    out = {k: d.get(k) for k in ROW_KEYS}
    for k in ("value", "ci_low", "ci_high"):  # an undefined number is None in the store, never NaN
        v = out[k]
        if isinstance(v, float) and not math.isfinite(v):
            out[k] = None
    return out


def record_rows(
    store: Store, run_id: str, iteration: int | None, model: str, benchmark: str, rows: list[Any]
) -> list[dict[str, Any]]:
    """Write metric rows of one benchmark to the store (an idempotent upsert); returns the canonical rows.

    Args:
        store: the result store.
        run_id, iteration, model: what the rows are of (iteration None outside `harness iterate`).
        benchmark: a declared benchmark.
        rows: MetricValues or row mappings.
    Returns:
        The rows as written.
    """
    out = [canonical_row(benchmark, r) for r in rows]
    store.put_results(run_id, iteration, model, benchmark, out)
    return out


def record_result(
    store: Store, run_id: str, iteration: int | None, model: str, result: BenchmarkResult
) -> list[dict[str, Any]]:
    """Write one benchmark's metric rows and samples (as soon as it finishes: nothing computed is lost)."""
    evaluators = result.extra.get("evaluators") or ()
    if evaluators:
        # several judges: each judge and their ensemble are rows of their own, under their names (alpaca_eval's
        # evaluator table); the model under test was not judged, so no judge row is recorded under its name
        rows = [canonical_row(result.benchmark, m) for m in result.metrics]
        for ev in evaluators:
            record_rows(store, run_id, iteration, ev["judge"], result.benchmark, ev["metrics"])
    else:
        rows = record_rows(store, run_id, iteration, model, result.benchmark, result.metrics)
    store.put_samples(run_id, iteration, model, result.benchmark, result.samples)
    return rows


@dataclass
class EvalReport:
    """The results of one evaluation: what ``results.json`` holds."""

    run_id: str
    model: str
    iteration: int | None
    config: dict[str, Any]
    results: list[BenchmarkResult] = field(default_factory=list)
    calls: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.time)
    finished: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The versioned results document (schema :data:`SCHEMA_VERSION`)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "run_id": self.run_id,
            "model": self.model,
            "iteration": self.iteration,
            "config": self.config,
            "versions": package_versions(),
            "git_hash": git_hash(),
            "timings": {
                "total_s": (self.finished or time.time()) - self.started,
                **{r.benchmark: r.seconds for r in self.results},
            },
            "calls": self.calls,
            "benchmarks": {
                r.benchmark: {
                    "version": get(r.benchmark).version,
                    "metrics": [canonical_row(r.benchmark, m) for m in r.metrics],
                    "extra": r.extra,
                    **({"files": [f"{r.benchmark}/{rel}" for rel in r.files]} if r.files else {}),
                }
                for r in self.results
            },
        }

    def write(self, out_dir: str | Path) -> Path:
        """Write ``results.json``, ``samples.jsonl`` and each benchmark's peer-format files (``BENCHMARK/...``),
        each atomically, into ``out_dir``; returns results.json's path."""
        out = Path(out_dir)
        for r in self.results:  # first: results.json last means a results.json always has its files beside it
            for rel, doc in r.files.items():
                path = out / r.benchmark / rel
                if path.suffix == ".jsonl":
                    atomic_write_jsonl(path, doc)
                else:
                    atomic_write_json(path, doc)
        atomic_write_json(out / "results.json", self.to_json())
        atomic_write_jsonl(
            out / "samples.jsonl", [{"benchmark": r.benchmark, **s} for r in self.results for s in r.samples]
        )
        return out / "results.json"


def evaluate(
    benchmarks: list[str], ctx: EvalContext, *, model: str, iteration: int | None, config: dict[str, Any]
) -> EvalReport:
    """Run the benchmarks in order on ``ctx``, recording each one's rows and samples as it finishes.

    Args:
        benchmarks: runnable benchmark names (checked up front by the caller, with their data and options).
        ctx: the evaluation context (its run and store receive the rows).
        model: the model label of the rows (a spec, or a checkpoint path in `harness iterate`).
        iteration: the iteration the rows belong to, or None.
        config: the evaluation's config, kept in the report.
    Returns:
        The :class:`EvalReport` (call ``.write(out_dir)`` for results.json).
    """
    report = EvalReport(ctx.run.run_id, model, iteration, config)
    for name in benchmarks:
        res = run_benchmark(name, ctx)
        record_result(ctx.store, ctx.run.run_id, iteration, model, res)
        report.results.append(res)
    report.finished = time.time()
    report.calls = ctx.run.stats.to_dict()
    return report
