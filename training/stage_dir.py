"""Stage bookkeeping: each stage writes its dataset file and then a manifest; a stage with a manifest is done.

The manifest is written last (atomically), so it marks a stage as finished: an interrupted
iteration resumes at the first stage without one, and finished stages are never redone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.files import atomic_write_json, atomic_write_jsonl, read_json, read_jsonl
from harness.types import HarnessError, stable_hash


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_short(v)}" for k, v in value.items() if v not in (None, 0, {})) + "}"
    return str(value)


def stage_line(name: str, counts: dict[str, Any], seconds: float | None, width: int = 100) -> str:
    """One console line per stage: its counts (the full ones are in the manifest) and its time."""
    took = "done already, skipped" if seconds is None else f"{seconds:.0f} s"
    body = ", ".join(f"{k}={_short(v)}" for k, v in counts.items() if k != "model" and v not in (None, {}))
    line = f"  {name:<12} {took:>6} | {body}"
    return line if len(line) <= width else line[: width - 1] + "…"


class StageDir:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def manifest_path(self, name: str) -> Path:
        return self.root / f"{name}.manifest.json"

    def data_path(self, name: str) -> Path:
        return self.root / f"{name}.jsonl"

    def done(self, name: str) -> bool:
        return self.manifest_path(name).exists()

    def manifest(self, name: str) -> dict[str, Any]:
        return dict(read_json(self.manifest_path(name)))

    def run(
        self,
        name: str,
        fn: Callable[[], tuple[list[dict[str, Any]], dict[str, Any]]],
        *,
        config: dict[str, Any],
        inputs: dict[str, Any],
        log: Callable[[str], None] = print,
    ) -> list[dict[str, Any]]:
        """Run a stage unless its manifest exists; return its rows.

        ``fn`` returns (rows, counts). The config hash in the manifest guards against resuming a
        stage under a changed config.
        """
        cfg_hash = stable_hash(config)
        if self.done(name):
            manifest = self.manifest(name)
            if manifest.get("config_hash") != cfg_hash:
                raise HarnessError(
                    f"{self.manifest_path(name)}: stage {name} was run with another config; use a new out_dir"
                )
            log(stage_line(name, manifest["counts"], None))
            return self.load(name)
        start = time.time()
        rows, counts = fn()
        atomic_write_jsonl(self.data_path(name), rows)
        atomic_write_json(
            self.manifest_path(name),
            {
                "stage": name,
                "inputs": inputs,
                "config": config,
                "config_hash": cfg_hash,
                "counts": {"rows": len(rows), **counts},
                "seconds": round(time.time() - start, 3),
                "finished_at": time.time(),
            },
        )
        log(stage_line(name, {"rows": len(rows), **counts}, time.time() - start))
        return rows

    def load(self, name: str) -> list[dict[str, Any]]:
        path = self.data_path(name)
        if path.stat().st_size == 0:
            return []
        rows = read_jsonl(path)
        for r in rows:
            r.pop("__line__", None)
        return rows
