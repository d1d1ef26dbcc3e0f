"""The package layers: harness (core) < judges < benchmarks < training < app (the CLI) < bench. No module imports
a higher layer, not even lazily inside a function, and there are no import cycles between modules.

Inside ``benchmarks/``, one sub-package per family (``alpaca_eval``, ``arena_hard``, ``mt_bench``, ``judge``,
``taskworld``, ``nlp``, ``head_to_head``) and ``core`` (registry, evaluate, paired, hub, the task world): a family
imports ``core`` and itself only, never another family, and ``core`` imports no family (the registry finds them
by module name); no module's name repeats its family's name."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ["harness", "judges", "benchmarks", "training", "app", "bench"]


def _imports(path: Path) -> set[str]:
    """Every module a file imports, wherever the import statement is (top level or inside a function)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
    return out


def _modules() -> dict[str, Path]:
    mods = {}
    for layer in LAYERS:
        for p in (ROOT / layer).rglob("*.py"):
            parts = list(p.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            mods[".".join(parts)] = p
    return mods


def test_no_module_imports_a_higher_layer() -> None:
    bad = []
    for name, path in _modules().items():
        mine = LAYERS.index(name.split(".")[0])
        for imp in _imports(path):
            top = imp.split(".")[0]
            if top in LAYERS and LAYERS.index(top) > mine:
                bad.append(f"{name} imports {imp}")
    assert not bad, bad


def test_no_import_cycles() -> None:
    mods = _modules()
    graph = {m: {i for i in _imports(p) if i in mods and i != m} for m, p in mods.items()}
    seen: dict[str, int] = {}
    cycles = []

    def visit(m: str, stack: list[str]) -> None:
        seen[m] = 1
        for n in sorted(graph[m]):
            if seen.get(n) == 1:
                cycles.append([*stack[stack.index(n) :], n])
            elif n not in seen:
                visit(n, [*stack, n])
        seen[m] = 2

    for m in sorted(graph):
        if m not in seen:
            visit(m, [m])
    assert not cycles, cycles


def _benchmark_family(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 and parts[0] == "benchmarks" else None


def test_benchmark_families_do_not_import_each_other() -> None:
    bad = []
    for name, path in _modules().items():
        mine = _benchmark_family(name)
        if mine is None:
            continue
        for imp in _imports(path):
            theirs = _benchmark_family(imp)
            if theirs is not None and theirs != mine and theirs != "core":
                bad.append(f"{name} imports {imp}")
    assert not bad, bad


def test_every_benchmark_module_lives_in_its_family_and_does_not_repeat_its_name() -> None:
    root = ROOT / "benchmarks"
    loose = [p.name for p in root.glob("*.py") if p.name != "__init__.py"]
    assert not loose, f"modules outside a family: {loose}"
    families = [d for d in root.iterdir() if d.is_dir() and (d / "__init__.py").is_file()]
    assert {d.name for d in families} >= {"core", "alpaca_eval", "arena_hard", "mt_bench", "judge", "taskworld", "nlp"}
    repeats = [f"{d.name}/{p.name}" for d in families for p in d.rglob("*.py") if p.stem.startswith(d.name)]
    assert not repeats, repeats
    fronts = [d.name for d in families if d.name != "core" and not (d / "benchmark.py").is_file()]
    assert not fronts, f"families without a benchmark.py front door: {fronts}"
