"""The benchmark declarations: every metric declared once (direction, family, definition), typed options, and one
writer of results."""

import ast
import re
from pathlib import Path

import pytest

from benchmarks.core import registry
from harness.types import HarnessError

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("harness", "benchmarks", "judges", "training", "bench")


def _sources() -> list[Path]:
    return [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")]


def test_each_metric_is_declared_in_exactly_one_place() -> None:
    """grep finds each metric's declaration (direction, definition; family via its benchmark) once, and the old
    side lists are gone."""
    text = {p: p.read_text() for p in _sources()}
    for bench in registry.declared():
        assert bench.family in registry.FAMILIES and bench.version
        for m in bench.metrics:
            assert m.definition and m.higher_is_better in (True, False, None)
            name = re.sub(r"_\d$", "_{k}", m.name) if m.name.startswith("score_frac_") else m.name
            hits = [p for p, t in text.items() for _ in re.finditer(rf'Metric\(\s*f?"{re.escape(name)}"', t)]
            # a metric name may recur in another benchmark (n_unparsed, avg_length): once per declaring module
            assert len(hits) == len(set(hits)), (bench.name, m.name, hits)
            assert registry.get(bench.name).metric(m.name) is m
    for old in ("KNOWN_METRICS", "PREFERRED", "HEADLINE", "LOWER_IS_BETTER", "NO_DIRECTION", "TERMINAL ="):
        assert not [p for p, t in text.items() if re.search(rf"^{old}\b", t, re.M)], old


def test_emitted_metrics_are_declared() -> None:
    """What each scorer emits is declared (the live benchmarks' rows are also refused at write time if not)."""
    from benchmarks.judge import metrics as judge_metrics
    from judges.meta import meta_judge_biases

    declared = {b.name: {m.name for m in b.metrics} for b in registry.declared()}
    judged = judge_metrics.judged_prompts([[0, 1, 2]], [[5.0, 3.0, None]], ["p"])
    assert {m.name for m in judge_metrics.judge_quality_report(judged, n_resamples=10)} <= declared["judge"]
    assert set(meta_judge_biases([], [])) == declared["meta_judge"]
    # the paired statistics a benchmark declares are its own metrics (lm_eval's depend on the task's units)
    units = {"taskworld": [{"correct": True, "length": 3}], "judge": [{"ranks": [1, 2], "scores": [5.0, 1.0]}]}
    for bench, u in units.items():
        assert set(registry.get(bench).paired(u)[1]) <= declared[bench], bench
    assert set(registry.get("lm_eval").paired([{"acc": 1.0}])[1]) <= declared["lm_eval"]


def test_record_refuses_an_undeclared_metric(tmp_path: Path) -> None:
    from benchmarks.core.evaluate import record_rows
    from harness.store import Store

    store = Store(tmp_path / "s.sqlite")
    rid = store.start_run("test", {})
    rows = record_rows(store, rid, 1, "m", "taskworld", [{"metric": "accuracy.delta_prev", "value": 0.1}])
    assert rows == [{"metric": "accuracy.delta_prev", "value": 0.1, "ci_low": None, "ci_high": None, "n": None}]
    with pytest.raises(HarnessError, match="'unparsed_verdicts' is not declared"):
        record_rows(store, rid, 1, "m", "arena_hard", [{"metric": "unparsed_verdicts", "value": 1.0}])
    assert len(store.get_results([rid])) == 1  # the refused row was not written
    store.close()


def test_only_the_evaluate_module_writes_results() -> None:
    """eval, iterate, compare and score --record all write through benchmarks.core.evaluate (record_rows/record_result)."""
    writers = set()
    for p in _sources():
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in ("put_results", "put_samples"):
                if isinstance(node.ctx, ast.Load):
                    writers.add(p.relative_to(ROOT).as_posix())
    assert writers == {"benchmarks/core/evaluate.py"}


def test_options_are_typed_and_unknown_keys_refused() -> None:
    p = registry.parse_params("judge", {"judge_n": "3", "judge_temperature": "0.5", "max_tokens": 9})
    assert (p.judge_n, p.judge_temperature, p.judge_max_tokens) == (3, 0.5, 256)  # max_tokens is taskworld's
    both = ["judge", "taskworld"]
    registry.check_options(both, {"max_tokens": 8, "judge_n": 2})
    # a prefixed key goes to its benchmark only, and wins over the shared one
    opts = {"max_tokens": 8, "taskworld.max_tokens": 4}
    assert registry.parse_params("taskworld", opts).max_tokens == 4
    with pytest.raises(HarnessError, match=r"^--option judge_m: no option 'judge_m' in benchmark judge or taskworld"):
        registry.check_options(both, {"judge_m": 1})
    with pytest.raises(HarnessError, match=r"--option judge_n='x': benchmark judge expects int"):
        registry.check_options(both, {"judge_n": "x"})
    with pytest.raises(HarnessError, match=r"expects int"):
        registry.check_options(["taskworld"], {"max_tokens": 2.5})


def test_roles_are_declared_and_the_annotator_is_its_own_flag() -> None:
    assert registry.get("judge").roles == ("judge", "reference_judge")
    for name in ("alpaca_eval", "arena_hard", "mt_bench"):
        assert registry.get(name).roles == ("actor", "annotator")
    ctx = registry.EvalContext(model_spec="hf:x", store=None, run=None, judge_spec="hf:j")  # type: ignore[arg-type]
    assert ctx.annotator_name == registry.DEFAULT_ANNOTATOR  # --judge is the judge under test, never the annotator


def test_the_readme_metric_table_is_the_declarations() -> None:
    readme = (ROOT / "README.md").read_text()
    table = readme.split("<!-- metrics:start -->\n")[1].split("<!-- metrics:end -->")[0]
    assert table == registry.metrics_markdown()
