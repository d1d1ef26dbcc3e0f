"""NLP benchmarks through EleutherAI's lm-evaluation-harness: ``--benchmarks lm_eval:TASK`` runs one lm-eval task
(or group) on the model under test and records lm-eval's own numbers.

Reference: lm-eval 0.4.13 (pinned in pyproject.toml), ``lm_eval/evaluator.py::simple_evaluate``; tasks are found
by ``lm_eval.tasks.TaskManager`` (its built-in index, plus ``include_path`` for local task directories). Nothing
is re-implemented here: the prompts, requests, filters, metrics and stderrs are lm-eval's.

- The model spec maps to an lm-eval model (:func:`lm_model`): ``hf:PATH`` -> ``hf`` (pretrained=PATH),
  ``vllm:PATH`` -> ``vllm`` (with the harness's vLLM settings), ``openai:NAME@URL`` -> ``local-completions``
  (``URL/completions``) or, with ``--option lm_eval.chat=true``, ``local-chat-completions``
  (``URL/chat/completions``). The model object is built here and handed to ``simple_evaluate``, so the API
  key (``harness.spec.api_key``, from the environment) goes only into the request header, never into
  lm-eval's config, a log line or a file.
- Rows: benchmark ``lm_eval:TASK``, metric lm-eval's metric name (``acc``); a filter other than ``none`` is a
  sub-name (``exact_match.strict-match``). Its CI is value +- 1.96 x lm-eval's stderr; n the documents scored.
  The metric family is declared once below, with lm-eval's own ``higher_is_better`` (a test checks them).
- Samples: lm-eval's per-sample logs (``log_samples``), one per (document, filter), with ``item`` =
  ``TASK/doc_id``; the mean-aggregated per-document metrics are the units of paired differences.
- results.json (the benchmark's ``extra``): lm-eval's version, the task versions, n-shot, n-samples,
  ``higher_is_better`` and task configs.

lm_eval is imported only when such a benchmark is validated or run.
"""

from __future__ import annotations

import difflib
import gc
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache, partial
from pathlib import Path
from typing import Any

from benchmarks.core.registry import Benchmark, BenchmarkResult, EvalContext, Metric, declare, family_of
from harness.spec import OPENAI_URL, ModelSpec, api_key, parse_spec
from harness.types import HarnessError, MetricValue

FAMILY = "lm_eval"
Z95 = 1.96  # the normal quantile of a two-sided 95% interval around lm-eval's stderr
_REF = "lm-eval 0.4.13 lm_eval/api/metrics.py"
_CI = "; CI value +- 1.96 x lm-eval's stderr"


@dataclass(frozen=True)
class LmEvalParams:
    """Options of ``lm_eval:TASK`` (``--option lm_eval.KEY=VALUE`` for all of them, ``lm_eval:TASK.KEY`` for one)."""

    include_path: str = ""  # a directory of local task YAMLs (lm-eval's --include_path)
    chat: bool = False  # apply the chat template; openai specs use local-chat-completions
    num_fewshot: int = -1  # -1: the task's own default
    bootstrap_iters: int = 100000  # lm-eval's stderr bootstrap for non-mean metrics (lm-eval's default)
    tokenizer: str = ""  # openai specs: a HF tokenizer for loglikelihood requests (default: the server's)


# lm-eval's registered metrics (lm_eval.api.registry, less ``bypass``), each with lm-eval's higher_is_better
METRICS = (
    Metric("acc", "accuracy: share of documents whose gold answer is the model's argmax" + _CI, True,
           headline=True, reference=_REF),
    Metric("acc_norm", "accuracy with each choice's log-likelihood divided by its length in characters" + _CI, True,
           reference=_REF),
    Metric("acc_mutual_info", "accuracy by mutual information: log P(choice | context) - log P(choice)" + _CI, True,
           reference=_REF),
    Metric("acc_bytes", "accuracy with each choice's log-likelihood divided by its length in bytes" + _CI, True, reference=_REF),
    Metric("acc_all", "share of question groups whose every answer is right (MultiRC)" + _CI, True,
           reference=_REF),
    Metric("exact_match", "share of generations equal to the reference after the task's filter" + _CI, True,
           headline=True, reference=_REF),
    Metric("likelihood", "mean likelihood of the gold choice" + _CI, True, reference=_REF),
    Metric("brier_score", "Brier score of the softmax of the choices' log-likelihoods" + _CI, False, reference=_REF),
    Metric("mcc", "Matthews correlation coefficient" + _CI, True, reference=_REF),
    Metric("f1", "F1 score (corpus level)" + _CI, True, reference=_REF),
    Metric("bleu", "corpus BLEU (sacrebleu)" + _CI, True, reference=_REF),
    Metric("chrf", "corpus chrF (sacrebleu)" + _CI, True, reference=_REF),
    Metric("chrf++", "corpus chrF++ (sacrebleu)" + _CI, True, reference=_REF),
    Metric("ter", "corpus translation edit rate (sacrebleu)" + _CI, False, reference=_REF),
    Metric("perplexity", "perplexity of the gold continuation" + _CI, False, reference=_REF),
    Metric("word_perplexity", "perplexity per word of rolling log-likelihoods" + _CI, False, reference=_REF),
    Metric("byte_perplexity", "perplexity per byte of rolling log-likelihoods" + _CI, False, reference=_REF),
    Metric("bits_per_byte", "bits per byte of rolling log-likelihoods" + _CI, False, reference=_REF),
)  # fmt: skip
# lm-eval aggregates these by the mean of per-document values: those values are pairable units
MEAN_METRICS = ("acc", "acc_norm", "acc_mutual_info", "acc_bytes", "acc_all", "exact_match", "likelihood")
_DECLARED = {m.name for m in METRICS}


# model specs -----------------------------------------------------------------------------------------------------
def lm_model(
    spec: ModelSpec, params: LmEvalParams, *, cuda: bool = False, cpu_vllm: bool = False
) -> tuple[str, dict[str, Any]]:
    """The lm-eval model name and constructor arguments of a harness model spec (no secret in them).

    Args:
        spec: a parsed model spec.
        params: the benchmark's options (``chat``, ``tokenizer``).
        cuda: a CUDA device is there (an hf model's default device, as the harness's hf backend's).
        cpu_vllm: vLLM is the CPU build (the harness's CPU settings apply, as in ``harness.backends``).
    Returns:
        ``(name, kwargs)``; an openai spec's key is added by :func:`_build_lm`, only to the request header.
    """
    opts = dict(spec.options)
    if spec.backend == "hf":
        keep: dict[str, Any] = {k: opts[k] for k in ("dtype", "device", "trust_remote_code", "revision") if k in opts}
        # float32 and batch 8 unless the spec says otherwise: the harness's hf backend loads float32 too
        default = {"pretrained": _path(spec), "dtype": "float32", "device": "cuda" if cuda else "cpu"}
        return "hf", {**default, "batch_size": opts.get("batch_size", 8), **keep}
    if spec.backend == "vllm":
        # the harness's engine settings (harness/backends/vllm_backend.py): seed 0, and on the CPU build float32
        # without chunked prefill; lm-eval passes unknown keys on to vllm.LLM
        args: dict[str, Any] = {"pretrained": _path(spec), "seed": 0, "batch_size": "auto"}
        if cpu_vllm:
            args.update(enable_chunked_prefill=False, dtype="float32")
        return "vllm", {**args, **opts}
    base = (spec.base_url or OPENAI_URL).rstrip("/")
    args = {"model": spec.target, "num_concurrent": opts.get("concurrency", 1),
            "max_retries": opts.get("max_retries", 3), "timeout": int(opts.get("timeout", 300))}  # fmt: skip
    if params.tokenizer:
        args.update(tokenizer_backend="huggingface", tokenizer=params.tokenizer)
    if params.chat:
        return "local-chat-completions", {"base_url": f"{base}/chat/completions", **args}
    return "local-completions", {"base_url": f"{base}/completions", **args}


def _path(spec: ModelSpec) -> str:
    from harness.backends import local_checkpoint

    local = local_checkpoint(spec)
    return spec.target if local is None else str(local)


def _cpu_vllm() -> bool:
    from harness.backends.vllm_backend import _is_cpu_build

    return _is_cpu_build()


def _build_lm(ctx: EvalContext, params: LmEvalParams) -> tuple[Any, dict[str, Any]]:
    """The lm-eval model object, and its (name, args) as recorded."""
    from lm_eval.api.registry import get_model

    spec = parse_spec(ctx.model_spec)
    if spec.backend == "vllm":
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")  # as harness.backends.vllm_backend: 1 GiB on CPU
        _release_engine(ctx)
    import torch

    cpu_vllm = spec.backend == "vllm" and _cpu_vllm()
    name, args = lm_model(spec, params, cuda=torch.cuda.is_available(), cpu_vllm=cpu_vllm)
    shown = {"model": name, "model_args": args}
    if spec.backend == "openai":
        # the key reaches only the header (lm-eval's own api_key reads $OPENAI_API_KEY, even for a local server)
        args = {**args, "header": {"Authorization": f"Bearer {api_key(spec)}"}}
    try:
        return get_model(name).create_from_arg_obj(args), shown
    except Exception as exc:  # any load failure: one line naming the model
        raise HarnessError(
            f"lm_eval: cannot load {spec.backend} model {spec.target} ({str(exc).splitlines()[0]})"
        ) from exc


def _release_engine(ctx: EvalContext) -> None:
    """One vLLM engine on the device at a time: the harness's own engine of this spec goes before lm-eval's
    (it is loaded again, lazily, by a later benchmark that needs it)."""
    model = ctx._models.pop(ctx.model_spec, None)
    if model is not None:
        model.close()


def _close_lm(lm: Any) -> None:
    engine = getattr(getattr(lm, "model", None), "llm_engine", None)
    shutdown = getattr(engine, "shutdown", None)
    if callable(shutdown):
        shutdown()
    del lm
    gc.collect()


# tasks ------------------------------------------------------------------------------------------------------------
@cache
def _task_manager(include_path: str, local_only: bool) -> Any:
    from lm_eval.tasks import TaskManager

    # the built-in index takes ~10 s to build: a local task is looked up in include_path alone first
    return TaskManager(include_path=include_path or None, include_defaults=not local_only)


def task_manager(task: str, include_path: str) -> Any:
    """The TaskManager that knows ``task`` (include_path's own index when the task is there: lm-eval lets
    include_path override built-in names anyway), else the full one."""
    if include_path:
        local = _task_manager(include_path, True)
        if task in local.all_tasks:
            return local
    return _task_manager(include_path, False)


def _task_of(name: str) -> str:
    return name.partition(":")[2]


def validate_task(name: str, ctx: EvalContext) -> None:
    """Before any model loads: the include path exists, lm-eval knows the task (a single task or a group, not a
    tag), its declared metrics are harness-declared ones, and an openai spec has its key."""
    params: LmEvalParams = ctx.params(name)
    task = _task_of(name)
    if "." in task:  # rows are keyed <benchmark>.<metric>
        raise HarnessError(f"{name}: a task name with '.' cannot be named here (rows are keyed BENCHMARK.METRIC)")
    if params.include_path and not Path(params.include_path).is_dir():
        raise HarnessError(f"{name}: include_path {params.include_path}: no such directory")
    try:
        import lm_eval  # noqa: F401
    except ImportError as exc:
        raise HarnessError(f"{name}: lm_eval is not installed (pip install lm-eval==0.4.13): {exc}") from None
    tm = task_manager(task, params.include_path)
    entry = tm.task_index.get(task)
    if entry is None:
        close = difflib.get_close_matches(task, tm.all_tasks, n=3, cutoff=0.6)
        where = f" nor in {params.include_path}" if params.include_path else ""
        hint = f"; close: {', '.join(close)}" if close else ""
        raise HarnessError(f"{name}: unknown lm-eval task {task!r} (not among lm-eval's tasks{where}{hint})")
    if entry.kind.name == "TAG":
        raise HarnessError(f"{name}: {task!r} is an lm-eval tag of several tasks; name each task (lm_eval:TASK)")
    for m in (entry.cfg or {}).get("metric_list") or []:
        metric = m.get("metric") if isinstance(m, dict) else None
        if isinstance(metric, str) and metric not in _DECLARED:
            raise HarnessError(
                f"{name}: task metric {metric!r} is not declared by harness (lm_eval: {', '.join(sorted(_DECLARED))})"
            )
    spec = parse_spec(ctx.model_spec)
    if spec.backend == "openai":
        api_key(spec)
    if spec.backend == "vllm":
        _check_vllm_distribution(name)


def _check_vllm_distribution(name: str) -> None:
    """lm-eval 0.4.13's vllm model reads the version of the ``vllm`` distribution when imported
    (``lm_eval/models/vllm_causallms.py``): the CPU build, distributed as ``vllm-cpu``, has none."""
    from importlib import metadata

    try:
        metadata.version("vllm")
    except metadata.PackageNotFoundError:
        raise HarnessError(
            f"{name}: lm-eval's vllm model needs the 'vllm' distribution (the CPU build vllm-cpu is not one); "
            "use hf:PATH for this benchmark"
        ) from None


def run_task(name: str, ctx: EvalContext) -> BenchmarkResult:
    """``lm_eval.simple_evaluate`` of one task on the model under test; lm-eval's numbers become rows."""
    import lm_eval

    params: LmEvalParams = ctx.params(name)
    task = _task_of(name)
    tm = task_manager(task, params.include_path)
    lm, shown = _build_lm(ctx, params)
    try:
        out = lm_eval.simple_evaluate(
            model=lm, tasks=[task], task_manager=tm, limit=ctx.limit, log_samples=True,
            num_fewshot=None if params.num_fewshot < 0 else params.num_fewshot,
            bootstrap_iters=params.bootstrap_iters, apply_chat_template=params.chat,
        )  # fmt: skip
    finally:
        _close_lm(lm)
    if out is None:  # only a non-zero rank of a distributed run gets None
        raise HarnessError(f"{name}: lm_eval returned no results")
    return result_of(name, task, _json_safe(out), shown, lm_eval.__version__)


# results -----------------------------------------------------------------------------------------------------------
def _json_safe(out: dict[str, Any]) -> dict[str, Any]:
    from lm_eval.utils import handle_non_serializable

    keep = ("results", "versions", "n-shot", "higher_is_better", "n-samples", "configs", "samples", "group_subtasks")
    return dict(json.loads(json.dumps({k: out.get(k) for k in keep}, default=handle_non_serializable)))


def metric_name(metric: str, filt: str) -> str:
    """Row metric of lm-eval's ``METRIC,FILTER`` key: ``acc`` for ``acc,none``, ``exact_match.strict-match``."""
    clean = "".join(c if c.isalnum() or c in "_-" else "_" for c in filt)
    return metric if filt == "none" else f"{metric}.{clean}"


def _number(x: Any) -> float | None:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) else None


def _leaves(task: str, out: dict[str, Any]) -> list[str]:
    """The leaf tasks under ``task`` (itself when it is not a group)."""
    subtasks = out.get("group_subtasks") or {}
    if task not in subtasks:
        return [task]
    return [leaf for sub in subtasks[task] for leaf in _leaves(sub, out)]


def rows_of(task: str, out: dict[str, Any]) -> tuple[list[MetricValue], dict[str, Any]]:
    """The metric rows of ``task`` in lm-eval's results, and the metrics harness does not declare (kept aside).

    Args:
        task: the named task or group.
        out: ``simple_evaluate``'s (JSON-safe) results.
    Returns:
        ``(rows, undeclared)``: one MetricValue per ``METRIC,FILTER`` key (value, value -+ 1.96 stderr, n).
    """
    res = out["results"][task]
    n = sum(int((out.get("n-samples") or {}).get(leaf, {}).get("effective", 0)) for leaf in _leaves(task, out))
    rows, undeclared = [], {}
    for key, value in res.items():
        metric, comma, filt = key.partition(",")
        if not comma or metric.endswith("_stderr"):
            continue
        if metric not in _DECLARED:
            undeclared[key] = value
            continue
        v, se = _number(value), _number(res.get(f"{metric}_stderr,{filt}"))
        lo, hi = (None, None) if v is None or se is None else (v - Z95 * se, v + Z95 * se)
        rows.append(MetricValue(metric_name(metric, filt), v, lo, hi, n or None))
    return rows, undeclared


def samples_of(out: dict[str, Any], leaves: list[str]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """lm-eval's per-sample logs of the leaf tasks (``item`` = ``TASK/doc_id``), and the pairable units:
    item -> {row metric: per-document value} of the mean-aggregated metrics."""
    samples: list[dict[str, Any]] = []
    units: dict[str, dict[str, float]] = {}
    for leaf in leaves:
        for s in (out.get("samples") or {}).get(leaf, []):
            item = f"{leaf}/{s['doc_id']}"
            samples.append({"item": item, "task": leaf, **s})
            unit = units.setdefault(item, {})
            for metric in s.get("metrics", []):
                v = _number(s.get(metric))
                if metric in MEAN_METRICS and v is not None:
                    unit[metric_name(metric, str(s.get("filter", "none")))] = v
    return samples, {k: u for k, u in units.items() if u}


def result_of(name: str, task: str, out: dict[str, Any], shown: dict[str, Any], version: str) -> BenchmarkResult:
    """The BenchmarkResult of one ``simple_evaluate`` output (rows, samples, units, and results.json's extra)."""
    if task not in out["results"]:
        raise HarnessError(f"{name}: lm_eval reported no results for {task!r} (got {', '.join(out['results'])})")
    rows, undeclared = rows_of(task, out)
    leaves = _leaves(task, out)
    samples, units = samples_of(out, leaves)
    extra = {
        "lm_eval_version": version,
        "task": task,
        "task_versions": out.get("versions") or {},
        "n_shot": out.get("n-shot") or {},
        "n_samples": out.get("n-samples") or {},
        "higher_is_better": out.get("higher_is_better") or {},
        "model": shown,
        "subtasks": {leaf: out["results"].get(leaf) for leaf in leaves if leaf != task},
        "undeclared_metrics": undeclared,
        "configs": out.get("configs") or {},
    }
    return BenchmarkResult(name, rows, samples, extra=extra, units=units)


def instance(name: str) -> Benchmark:
    """The runnable benchmark ``lm_eval:TASK`` (the family's metrics, run/validate bound to the task)."""
    assert family_of(name) == FAMILY, name
    return replace(BENCHMARK, name=name, run=partial(run_task, name), validate=partial(validate_task, name),
                   instance=None)  # fmt: skip


# the family: its metrics are declared here once; `lm_eval` itself does not run, `lm_eval:TASK` does
def paired_statistics(units: list[Any]) -> tuple[Callable[[Any], Any], dict[str, Callable[[list[Any]], float | None]]]:
    """lm-eval's pairing: the mean of each per-document metric every common item has (lm-eval's aggregation of
    those metrics; the keys depend on the task, so they are read from the units)."""
    keys = set.intersection(*(set(u) for u in units)) if units else set()

    def mean_of(key: str) -> Callable[[list[Any]], float | None]:
        return lambda us: sum(float(u[key]) for u in us) / len(us) if us else None

    return (lambda u: u), {k: mean_of(k) for k in sorted(keys)}


BENCHMARK = declare(Benchmark(FAMILY, "1", "actor", METRICS, roles=("actor",), params=LmEvalParams,
                              instance=instance, paired=paired_statistics))  # fmt: skip
