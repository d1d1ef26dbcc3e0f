"""The bad-input catalogue across the CLI: one line naming the culprit, exit code 2, nothing written."""

import subprocess
import sys
from pathlib import Path

import pytest

CASES = {
    "eval_unknown_benchmark": (["eval", "--model", "hf:{tiny}", "--benchmarks", "judge,nope"], "unknown benchmark 'nope'"),
    "eval_bad_spec": (["eval", "--model", "hf", "--benchmarks", "judge"], "expected BACKEND:TARGET"),
    "eval_limit_zero": (["eval", "--model", "hf:{tiny}", "--benchmarks", "judge", "--limit", "0"], "--limit must be"),
    "eval_missing_data": (["eval", "--model", "hf:{tiny}", "--benchmarks", "judge", "--data", "{tmp}/none.jsonl"],
                          "none.jsonl: no such file"),
    "eval_judge_n_negative": (["eval", "--model", "hf:{tiny}", "--benchmarks", "judge", "--judge-n", "-1"],
                              "--judge-n must be a positive integer"),
    "eval_truncated_data": (["eval", "--model", "hf:{tiny}", "--benchmarks", "judge", "--data", "{tmp}/trunc.jsonl"],
                            "trunc.jsonl:2"),
    "eval_missing_field": (["eval", "--model", "hf:{tiny}", "--benchmarks", "judge", "--data", "{tmp}/nofield.jsonl"],
                           "nofield.jsonl:1"),
    "eval_wrong_type": (["eval", "--model", "hf:{tiny}", "--benchmarks", "judge", "--data", "{tmp}/types.jsonl"],
                        "types.jsonl:1"),
    "eval_duplicate_ids": (["eval", "--model", "hf:{tiny}", "--benchmarks", "judge", "--data", "{tmp}/dups.jsonl"],
                           "dups.jsonl:2"),
    "eval_out_not_dir": (["eval", "--model", "hf:{tiny}", "--benchmarks", "judge", "--out", "{tmp}/afile/sub"],
                         "is a file, not a directory"),
    "eval_prompt_without_placeholders": (
        ["eval", "--model", "hf:{tiny}", "--benchmarks", "judge", "--option", "judge_prompt={tmp}/judge.txt"],
        "judge prompt lacks placeholder(s) {response}"),
    "eval_unknown_option": (["eval", "--model", "hf:{tiny}", "--benchmarks", "taskworld", "--option", "max_tokns=8"],
                            "--option max_tokns: no option 'max_tokns' in benchmark taskworld"),
    "eval_option_of_another_benchmark": (
        ["eval", "--model", "hf:{tiny}", "--benchmarks", "taskworld", "--option", "judge.judge_n=3"],
        "--option judge.judge_n: 'judge' is not among the benchmarks (taskworld)"),
    "eval_option_wrong_type": (["eval", "--model", "hf:{tiny}", "--benchmarks", "taskworld", "--option",
                                "max_tokens=many"], "--option max_tokens='many': benchmark taskworld expects int"),
    "eval_unreadable_checkpoint": (["eval", "--model", "hf:{tmp}/broken", "--benchmarks", "taskworld", "--limit", "1"],
                                   "cannot load"),
    "leaderboard_bad_format": (["leaderboard", "--format", "xml", "--out", "{tmp}/lb"], "unknown format(s) xml"),
    "leaderboard_no_store": (["leaderboard", "--store", "{tmp}/none.sqlite", "--out", "{tmp}/lb"], "no such file"),
    "gate_no_store": (["gate", "--run", "r", "--iteration", "1", "--rule", "judge.parse_rate >= 0", "--store",
                       "{tmp}/none.sqlite"], "no such file"),
    "gate_malformed_rule": (["gate", "--run", "r", "--iteration", "1", "--rule", "judge.parse_rate >>> 1"], "gate"),
    "compare_one_model": (["compare", "--model", "hf:{tiny}", "--judge", "hf:{tiny}"], "give exactly two models"),
    "iterate_non_utf8": (["iterate", "--config", "{tmp}/latin1.yaml"], "latin1.yaml:1: not valid UTF-8"),
    "iterate_empty": (["iterate", "--config", "{tmp}/empty.yaml"], "empty.yaml: empty config"),
    "iterate_truncated_yaml": (["iterate", "--config", "{tmp}/trunc.yaml"], "trunc.yaml:3: malformed YAML"),
    "make_tiny_into_file": (["make-tiny", "{tmp}/afile/tiny"], "is a file, not a directory"),
    "unknown_command": (["evaluate"], "No such command 'evaluate'"),
}  # fmt: skip


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("bad")
    (tmp / "trunc.jsonl").write_text('{"prompt": "p", "responses": ["a", "b"], "ranks": [0, 1]}\n{"prompt": "q", "resp')
    (tmp / "nofield.jsonl").write_text('{"prompt": "p", "ranks": [0, 1]}\n')
    (tmp / "types.jsonl").write_text('{"prompt": "p", "responses": ["a", "b"], "ranks": ["first", "second"]}\n')
    (tmp / "dups.jsonl").write_text(
        '{"id": "x", "prompt": "p", "responses": ["a", "b"], "ranks": [0, 1]}\n'
        '{"id": "x", "prompt": "q", "responses": ["a", "b"], "ranks": [0, 1]}\n'
    )
    (tmp / "afile").write_text("not a directory")
    (tmp / "judge.txt").write_text("Judge {instruction} please.\nScore: <n>")
    (tmp / "broken").mkdir()
    (tmp / "broken" / "config.json").write_text('{"model_type": "llama"')
    (tmp / "latin1.yaml").write_bytes("mode: m\xe9ta\n".encode("latin-1"))
    (tmp / "empty.yaml").write_text("")
    (tmp / "trunc.yaml").write_text("mode: meta_rewarding\nsft: {epochs: 3\n")
    return tmp


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input(case: str, files: Path, tiny_model: Path) -> None:
    args, expected = CASES[case]
    args = [a.format(tmp=files, tiny=tiny_model) for a in args]
    store = files / f"{case}.sqlite"
    if "--store" not in args and args[0] not in ("make-tiny",):
        args += ["--store", str(store)]
    if args[0] == "eval" and "--out" not in args:
        args += ["--out", str(files / f"{case}_out")]
    res = subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True, timeout=300, cwd=files)
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2, (res.returncode, res.stderr[-1500:])
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr[-1500:]
    assert lines[0].startswith("error: ") and expected in lines[0], lines[0]
    assert not (files / f"{case}_out").exists() and not (files / "lb").exists()
    assert not (files / "runs").exists() and not (files / "afile" / "tiny").exists()
