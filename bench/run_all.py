"""`make bench`: run every performance script of the project, one after the other, and print their figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    scripts = sorted(p for p in HERE.glob("*.py") if p.name != "run_all.py")
    failed = []
    if not (HERE.parent / "demo" / "run" / "m1" / "config.json").is_file():
        # bench/judge_correctness.py judges with the demo's M1: run the demo first on a fresh clone (~8 min)
        print("\n=== make demo (for judge_correctness.py's M1)", flush=True)
        if subprocess.run([sys.executable, "-m", "app.demo"], cwd=HERE.parent).returncode != 0:
            failed.append("demo")
    for script in scripts:
        print(f"\n=== {script.name}", flush=True)
        res = subprocess.run([sys.executable, str(script)], cwd=HERE.parent)
        if res.returncode != 0:
            failed.append(script.name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
