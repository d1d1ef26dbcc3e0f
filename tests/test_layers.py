"""The package layers: harness (core) < judges < benchmarks < training < app (the CLI) < bench. No module imports
a higher layer, not even lazily inside a function, and there are no import cycles between modules."""

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
