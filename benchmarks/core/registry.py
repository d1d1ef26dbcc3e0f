"""The benchmark contract: each benchmark is one declared object, and this registry holds them.

A benchmark declares (inspect_ai's ``@task``/``@scorer(metrics=...)``, lm-eval's ``metric_list`` with
``higher_is_better``) its name, version, family, model roles, a typed params dataclass and every metric it
emits, each with its direction and a one-line definition; it also gives ``run(ctx)`` and optionally
``validate(ctx)``. Gates (direction), the loop's best-iteration choice, the leaderboard (families, headline
columns) and the iteration report all read these declarations: there is no second list of metric facts.

Evaluations that are not ``harness eval`` benchmarks but write metric rows (``meta_judge`` and ``judge_alarms``
from the loop) are declared the same way, without ``run``. ``harness compare`` runs ``head_to_head`` through
``benchmarks.core.evaluate.evaluate`` like any other benchmark.
"""

from __future__ import annotations

import dataclasses
import importlib
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.runner import Run
from harness.store import Store
from harness.types import HarnessError, MetricValue, Model

# module that declares each benchmark, in display order (imported on first use, so optional parts stay lazy)
_MODULES = {
    "judge": "benchmarks.judge.benchmark",
    "taskworld": "benchmarks.taskworld.benchmark",
    "alpaca_eval": "benchmarks.alpaca_eval.benchmark",
    "arena_hard": "benchmarks.arena_hard.benchmark",
    "arena_hard_v2": "benchmarks.arena_hard.benchmark_v2",
    "mt_bench": "benchmarks.mt_bench.benchmark",
    "head_to_head": "benchmarks.head_to_head.benchmark",
    "meta_judge": "benchmarks.judge.meta",
    "judge_alarms": "benchmarks.judge.alarms",
    "lm_eval": "benchmarks.nlp.benchmark",
}
FAMILIES = ("judge", "actor")
# the suffixes of rows derived from a metric (its CI bounds, its paired differences): never a metric's own part
DERIVED = ("ci_low", "ci_high", "delta_prev", "delta_first")
ROLES = ("actor", "judge", "annotator", "reference_judge")

# the annotator (strong judge) of the actor benchmarks when none is given: AlpacaEval 2's and Arena-Hard's
DEFAULT_ANNOTATOR = "openai:gpt-4-1106-preview"
# `harness eval --model SPEC` without --benchmarks: every benchmark whose data is built in (judge, taskworld,
# arena_hard, mt_bench) or fetched by name (alpaca_eval, from the hub); what cannot run is named, one line each
DEFAULT_SUITE = ("judge", "taskworld", "alpaca_eval", "arena_hard", "mt_bench")


@dataclass(frozen=True)
class Metric:
    """One metric a benchmark emits.

    Attributes:
        name: the metric's name within its benchmark (rows are keyed ``<benchmark>.<name>``).
        definition: one line: what the number is.
        higher_is_better: True / False, or None where no direction is good (a length, a mean score).
        headline: shown first in the leaderboard files and in the iteration report.
        terminal: one of the few columns `harness leaderboard` prints at 80 columns.
        reference: the reference implementation it matches (file and function), if any.
    """

    name: str
    definition: str
    higher_is_better: bool | None = True
    headline: bool = False
    terminal: bool = False
    reference: str = ""


@dataclass(frozen=True)
class NoParams:
    """A benchmark without options."""


@dataclass(frozen=True)
class Benchmark:
    """A declared benchmark: what it is, what it reports, which models it uses, and how it runs.

    Attributes:
        name: the ``--benchmarks`` name.
        version: bumped when the benchmark's numbers would change for the same inputs.
        family: ``actor`` (scores the model's answers) or ``judge`` (scores the model as a judge).
        metrics: every metric the benchmark may emit.
        roles: the model roles it uses (:data:`ROLES`).
        params: a frozen dataclass of its options (``--option KEY=VALUE``), with defaults.
        data_keys: the ``--data-for KEY=PATH`` keys it reads (``--data`` is ``judge``).
        run: ``(EvalContext) -> BenchmarkResult``; None for evaluations run elsewhere (compare, the loop).
        validate: ``(EvalContext) -> None``, checks data before anything runs.
        instance: for a parametrised family (``lm_eval:TASK``): ``(NAME:ARG) -> Benchmark``, the runnable
            benchmark of one argument, with this declaration's metrics; the family itself does not run.
        to_rows: for a benchmark whose peer's files `harness score` reads: ``(scorer result) -> {model: rows}``,
            the one step from its scorer's result to stored rows, which its live run takes too.
        paired: for a benchmark whose results carry per-item units (``BenchmarkResult.units``): ``(units) ->
            (prepare, {metric: statistic})``, each unit prepared once and each statistic recomputing a metric
            from a list of prepared units (:mod:`benchmarks.core.paired` bootstraps the paired differences).
    """

    name: str
    version: str
    family: str
    metrics: tuple[Metric, ...]
    roles: tuple[str, ...] = ("actor",)
    params: type = NoParams
    data_keys: tuple[str, ...] = ()
    run: Callable[[EvalContext], BenchmarkResult] | None = None
    validate: Callable[[EvalContext], None] | None = None
    instance: Callable[[str], Benchmark] | None = None
    to_rows: Callable[[Mapping[str, Any]], dict[str, list[MetricValue]]] | None = None
    paired: (
        Callable[[list[Any]], tuple[Callable[[Any], Any], dict[str, Callable[[list[Any]], float | None]]]] | None
    ) = None

    def __post_init__(self) -> None:
        assert self.family in FAMILIES, self.family
        assert set(self.roles) <= set(ROLES), self.roles
        names = [m.name for m in self.metrics]
        assert len(names) == len(set(names)), f"{self.name}: a metric is declared twice"

    def metric(self, name: str) -> Metric | None:
        return next((m for m in self.metrics if m.name == name), None)

    def param_names(self) -> list[str]:
        return [f.name for f in dataclasses.fields(self.params)]


_DECLARED: dict[str, Benchmark] = {}
# the instances of parametrised families asked for so far (``lm_eval:arc_easy``), built once each
_INSTANCES: dict[str, Benchmark] = {}


def declare(bench: Benchmark) -> Benchmark:
    """Register a benchmark declaration (called once, at import of its module)."""
    _DECLARED[bench.name] = bench
    return bench


def names() -> list[str]:
    """The benchmarks `harness eval` can run; a parametrised family is shown as ``NAME:TASK``."""
    return [n for n in _MODULES if get(n).run is not None] + [f"{n}:TASK" for n in _MODULES if get(n).instance]


def family_of(name: str) -> str:
    """The parametrised family of an instance name (``lm_eval`` for ``lm_eval:arc_easy``), else the name."""
    prefix, colon, _ = name.partition(":")
    return prefix if colon and prefix in _MODULES else name


def _instance(name: str) -> Benchmark:
    prefix, _, arg = name.partition(":")
    base = get(prefix)
    if base.instance is None:
        raise HarnessError(f"--benchmarks: unknown benchmark {name!r} (known: {', '.join(names())})")
    if not arg:
        raise HarnessError(f"--benchmarks: {name!r} names no task ({prefix}:TASK, e.g. {prefix}:arc_easy)")
    if name not in _INSTANCES:
        _INSTANCES[name] = base.instance(name)
    return _INSTANCES[name]


def get(name: str) -> Benchmark:
    """The declaration of ``name``; one-line error naming the known benchmarks when there is none.

    Args:
        name: a benchmark name.
    Returns:
        Its :class:`Benchmark`.
    """
    if family_of(name) != name:
        return _instance(name)
    if name not in _MODULES and name not in _DECLARED:
        raise HarnessError(f"--benchmarks: unknown benchmark {name!r} (known: {', '.join(names())})")
    if name not in _DECLARED:
        importlib.import_module(_MODULES[name])
    return _DECLARED[name]


def declared() -> list[Benchmark]:
    """Every declaration, in display order."""
    return [get(n) for n in _MODULES] + [b for n, b in _DECLARED.items() if n not in _MODULES]


def family(benchmark: str) -> str:
    """``actor`` or ``judge``; ``other`` for an undeclared name (rows of an older store)."""
    try:
        return get(benchmark).family
    except HarnessError:
        return "other"


def metric_info(full_name: str) -> Metric | None:
    """The declaration of ``<benchmark>.<metric>``, also of its derived rows (``.delta_prev``, ``.ci_low`` ...).

    Args:
        full_name: e.g. ``judge.spearman`` or ``taskworld.accuracy.delta_prev.ci_high``.
    Returns:
        The base metric's :class:`Metric`, or None when it is not declared.
    """
    bench, _, rest = full_name.partition(".")
    try:
        b = get(bench)
    except HarnessError:
        return None
    parts = rest.split(".")
    for k in range(len(parts), 0, -1):
        m = b.metric(".".join(parts[:k]))
        if m is not None:
            return m
    return None


def higher_is_better(full_name: str) -> bool | None:
    """The declared direction of a metric (or of a derived row); None: no direction, or undeclared."""
    m = metric_info(full_name)
    return None if m is None else m.higher_is_better


def known_metrics(benchmarks: list[str]) -> list[str]:
    """``<benchmark>.<metric>`` of every metric the given benchmarks declare."""
    return [f"{b}.{m.name}" for b in benchmarks for m in get(b).metrics]


def headline_metrics(terminal: bool = False, present: Iterable[str] = ()) -> list[str]:
    """The headline (or, with ``terminal``, the 80-column) metrics of every benchmark, in display order.

    Args:
        terminal: the 80-column metrics instead of the headline ones.
        present: row names (``<benchmark>.<metric>``) of a table: those of parametrised instances
            (``lm_eval:arc_easy.acc``, with a filter ``lm_eval:gsm8k.exact_match.strict-match``) whose metric is a
            headline one are added after the declared ones, in their given order.
    """
    fixed = [f"{b.name}.{m.name}" for b in declared() for m in b.metrics if (m.terminal if terminal else m.headline)]
    extra = []
    for col in present:
        bench, _, rest = col.partition(".")
        m = metric_info(col) if family_of(bench) != bench else None
        if m is not None and (m.terminal if terminal else m.headline) and not set(rest.split(".")) & set(DERIVED):
            extra.append(col)
    return fixed + list(dict.fromkeys(extra))


def metrics_markdown() -> str:
    """The README's metric table, generated from the declarations (a test keeps the README equal to it).

    Returns:
        A markdown table: benchmark (version, family), metric, direction, headline, definition, reference.
    """
    arrow = {True: "higher", False: "lower", None: "none"}
    lines = ["| benchmark | metric | better | headline | definition | matches |", "|---|---|---|---|---|---|"]
    for b in declared():
        for m in b.metrics:
            lines.append(
                f"| {b.name}{':TASK' if b.instance else ''} {b.version} ({b.family}) | `{m.name}` | {arrow[m.higher_is_better]} | "
                f"{'yes' if m.headline else ''} | {m.definition} | {m.reference} |"
            )
    return "\n".join(lines) + "\n"


def check_options(benchmarks: list[str], options: Mapping[str, Any]) -> None:
    """Every ``--option`` key is a parameter of a selected benchmark (``KEY`` or ``BENCHMARK.KEY``).

    Raises:
        HarnessError: one line naming the benchmark(s) and the key, and the keys they take.
    """
    for key in options:
        bench, dot, param = key.rpartition(".")
        if dot:
            # BENCHMARK.KEY, or FAMILY.KEY for every instance of a parametrised family (lm_eval.include_path)
            targets = [b for b in benchmarks if bench in (b, family_of(b))]
            if not targets:
                raise HarnessError(f"--option {key}: {bench!r} is not among the benchmarks ({', '.join(benchmarks)})")
        else:
            targets = benchmarks
        if not any(param in get(b).param_names() for b in targets):
            takes = "; ".join(f"{b}: {', '.join(get(b).param_names()) or 'none'}" for b in targets)
            raise HarnessError(f"--option {key}: no option {param!r} in benchmark {' or '.join(targets)} ({takes})")
        for b in targets:
            if param in get(b).param_names():
                parse_params(b, {param: options[key]})


def check_data_keys(benchmarks: list[str], data: Mapping[str, Any]) -> None:
    """Every ``--data-for`` key is read by a selected benchmark (a misspelt key is not silently ignored).

    Raises:
        HarnessError: one line naming the key and the keys the benchmarks read.
    """
    takes = {k for b in benchmarks for k in get(b).data_keys}
    for key in data:
        if key not in takes:
            flag = "--data" if key == "judge" else f"--data-for {key}"
            raise HarnessError(
                f"{flag}: no benchmark among {', '.join(benchmarks)} reads it (they read: {', '.join(sorted(takes)) or 'none'})"
            )


def _coerce(bench: str, f: dataclasses.Field[Any], value: Any) -> Any:
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    try:
        if kind == "bool":
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0"):
                    raise ValueError(value)
                return value.lower() in ("true", "1")
            return bool(value)
        if kind == "int":
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(value)
        if kind == "float":
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise HarnessError(f"--option {f.name}={value!r}: benchmark {bench} expects {kind}") from None


def parse_params(bench: str, options: Mapping[str, Any]) -> Any:
    """The benchmark's params dataclass from the options that belong to it (``KEY`` or ``BENCHMARK.KEY``).

    Args:
        bench: a benchmark name.
        options: the evaluation's options (other benchmarks' keys are ignored here; see :func:`check_options`).
    Returns:
        An instance of the benchmark's ``params`` dataclass.
    """
    decl = get(bench)
    fields = {f.name: f for f in dataclasses.fields(decl.params)}
    # the most specific key wins: BENCHMARK.KEY over FAMILY.KEY (lm_eval.KEY) over a plain KEY
    rank = {bench: 2, family_of(bench): 1, "": 0}
    values: dict[str, Any] = {}
    given: dict[str, int] = {}
    for key, value in options.items():
        prefix, _, param = key.rpartition(".")
        if prefix not in rank or param not in fields or given.get(param, -1) >= rank[prefix]:
            continue
        values[param] = _coerce(bench, fields[param], value)
        given[param] = rank[prefix]
    return decl.params(**values)


def _ignore(k: int, note: str | None = None) -> None:
    return None


class _NoProgress:
    def __enter__(self) -> Callable[..., None]:
        return _ignore

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
    # item id -> a JSON unit for paired differences between evaluations (benchmarks.core.paired); {} if unsupported
    units: dict[str, Any] = field(default_factory=dict)
    # the judgments in the peer's own file format, path relative to OUT/<benchmark>/ -> a JSON document
    # (``.json``) or a list of rows (``.jsonl``): `harness score` and the peer's tools re-score them
    files: dict[str, Any] = field(default_factory=dict)


@dataclass
class EvalContext:
    """What a benchmark needs: the models of each role, the store/run, data paths and options.

    Roles (:data:`ROLES`): ``model_spec`` is the actor (the model under test); ``judge_spec`` the judge under
    test of judge benchmarks (default: the actor itself, the self-rewarding setting); ``annotator_spec`` the
    strong judge that grades the actor's answers in actor benchmarks (default :data:`DEFAULT_ANNOTATOR`);
    ``reference_judge_spec`` the judge that judge benchmarks measure agreement with (optional).
    Models are loaded lazily and shared: asking twice for the same spec gives the same instance.
    """

    model_spec: str
    store: Store
    run: Run
    judge_spec: str | None = None
    # several --judge: an ensemble (judges.ensemble) under test; judge_spec is then None
    judge_specs: tuple[str, ...] = ()
    reference_judge_spec: str | None = None
    annotator_spec: str | None = None
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
        """The judge under test of judge benchmarks: --judge, else the actor itself (the self-rewarding setting)."""
        return self.load(self.judge_spec or self.model_spec)

    @property
    def annotator_name(self) -> str:
        return self.annotator_spec or DEFAULT_ANNOTATOR

    def annotator(self) -> Model:
        """The strong judge of actor benchmarks (AlpacaEval, Arena-Hard, MT-Bench): --annotator, else the default."""
        return self.load(self.annotator_name)

    def params(self, benchmark: str) -> Any:
        """The typed options of ``benchmark`` (its params dataclass, defaults filled in)."""
        return parse_params(benchmark, self.options)

    def data_path(self, key: str) -> Path | None:
        value = self.data.get(key)
        return Path(value) if value else None

    def close(self) -> None:
        for model in self._models.values():
            model.close()
        self._models.clear()


def validate(name: str, ctx: EvalContext) -> None:
    """Everything a benchmark needs before a model is called: its ``validate(ctx)`` (its data and options) and,
    when it uses the annotator, the annotator's API key (from the environment, see ``harness.spec.api_key``)."""
    from harness.spec import api_key, parse_spec

    decl = get(name)
    if decl.run is None:
        raise HarnessError(f"--benchmarks: {name} is not run by harness eval")
    if decl.validate is not None:
        decl.validate(ctx)
    if "annotator" in decl.roles:
        spec = parse_spec(ctx.annotator_name)
        if spec.backend == "openai":
            try:
                api_key(spec)
            except HarnessError as exc:
                raise HarnessError(
                    f"{name}: the annotator {exc}; set it, or give --annotator SPEC (e.g. a local judge "
                    "openai:NAME@http://127.0.0.1:8000/v1)"
                ) from None


def run_benchmark(name: str, ctx: EvalContext) -> BenchmarkResult:
    """Run one benchmark; the result's ``seconds`` is its wall time.

    Args:
        name: a runnable benchmark.
        ctx: the context (models, store, run, data, options).
    Returns:
        Its :class:`BenchmarkResult`.
    """
    decl = get(name)
    if decl.run is None:
        raise HarnessError(f"--benchmarks: {name} is not run by harness eval")
    start = time.time()
    result = decl.run(ctx)
    result.seconds = time.time() - start
    return result
