"""The bad-input catalogue across the CLI: one line naming the culprit, exit code 2, nothing written."""

import json
import sqlite3
import subprocess
import sys
from itertools import pairwise
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
    "eval_same_judge_twice": (["eval", "--model", "hf:{tiny}", "--benchmarks", "judge", "--judge", "hf:{tiny}",
                               "--judge", "hf:{tiny}"], "--judge: the same judge is given twice"),
    "eval_judges_named_alike": (["eval", "--model", "hf:{tiny}", "--benchmarks", "judge",
                                 "--judge", "openai:m@http://127.0.0.1:9/v1?timeout=5",
                                 "--judge", "openai:m@http://127.0.0.1:9/v1?timeout=6"],
                                "--judge: two judges differ only in option values"),
    "eval_unknown_ensemble": (["eval", "--model", "hf:{tiny}", "--benchmarks", "judge", "--judge", "hf:{tiny}",
                               "--judge", "openai:other@http://127.0.0.1:9/v1", "--option", "judge.ensemble=median"],
                              "--option judge.ensemble must be one of mean, majority"),
    "eval_ensemble_without_judge_benchmark": (["eval", "--model", "hf:{tiny}", "--benchmarks", "taskworld",
                                               "--judge", "hf:{tiny}", "--judge", "openai:other@http://127.0.0.1:9/v1"],
                                              "several --judge form an ensemble"),
    "eval_unknown_option": (["eval", "--model", "hf:{tiny}", "--benchmarks", "taskworld", "--option", "max_tokns=8"],
                            "--option max_tokns: no option 'max_tokns' in benchmark taskworld"),
    "eval_option_of_another_benchmark": (
        ["eval", "--model", "hf:{tiny}", "--benchmarks", "taskworld", "--option", "judge.judge_n=3"],
        "--option judge.judge_n: 'judge' is not among the benchmarks (taskworld)"),
    "eval_option_wrong_type": (["eval", "--model", "hf:{tiny}", "--benchmarks", "taskworld", "--option",
                                "max_tokens=many"], "--option max_tokens='many': benchmark taskworld expects int"),
    "compare_unreadable_checkpoint": (["compare", "--model", "hf:{tmp}/broken", "--model", "hf:{tiny}", "--judge",
                                       "hf:{tiny}", "--limit", "1"], "cannot load"),
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
    "iterate_list_config": (["iterate", "--config", "{tmp}/list.yaml", "--out-dir", "{tmp}/run"],
                            "list.yaml: expected a mapping of keys at the top level, got a list"),
    "iterate_alias_bomb": (["iterate", "--config", "{tmp}/bomb.yaml"], "bomb.yaml: 243 YAML aliases"),
    "iterate_duplicate_key": (["iterate", "--config", "{tmp}/dupkey.yaml"], "dupkey.yaml:3: duplicate key 'seed'"),
    "generate_temperature_nan": (["generate", "--model", "hf:{tiny}", "--prompts", "{tmp}/prompts.jsonl", "--out",
                                  "{tmp}/gen_out.jsonl", "--temperature", "nan"], "temperature must be a finite number"),
    "generate_bad_backend_option": (["generate", "--model", "hf:{tiny}?batch_size=0", "--prompts",
                                     "{tmp}/prompts.jsonl", "--out", "{tmp}/gen_out.jsonl"],
                                    "option batch_size must be >= 1, got 0"),
    "compare_limit_zero": (["compare", "--model", "hf:{tiny}", "--model", "hf:{tiny}", "--judge", "hf:{tiny}",
                            "--limit", "0"], "--limit must be a positive integer, got 0"),
    "store_from_a_newer_harness": (["leaderboard", "--store", "{tmp}/newer.sqlite", "--out", "{tmp}/lb"],
                                   "written by a newer harness (store version 99"),
    "generate_out_is_a_directory": (["generate", "--model", "hf:{tiny}", "--prompts", "{tmp}/prompts.jsonl", "--out",
                                     "{tmp}/adir"], "adir' is a directory"),
    "eval_data_for_unknown_key": (["eval", "--model", "hf:{tiny}", "--benchmarks", "taskworld", "--data-for",
                                   "mt_bench_dri={tmp}/adir"], "--data-for mt_bench_dri: no benchmark among taskworld"),
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
    (tmp / "dupkey.yaml").write_text("mode: meta_rewarding\nseed: 0\nseed: 1\n")  # PyYAML: the last would win
    (tmp / "list.yaml").write_text("- mode: meta_rewarding\n")
    # "billion laughs": 9 levels of 27 aliases each, 3 * 27**9 strings once expanded
    lol = ["a: &a [x, x, x]"] + [f"{c}: &{c} [{', '.join(['*' + p] * 27)}]" for p, c in pairwise("abcdefghij")]
    (tmp / "bomb.yaml").write_text("\n".join(lol) + "\n")
    (tmp / "prompts.jsonl").write_text('{"prompt": "hi"}\n')
    (tmp / "adir").mkdir()
    with sqlite3.connect(tmp / "newer.sqlite") as conn:
        conn.execute("PRAGMA user_version = 99")
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
    if store.exists():  # checked before the run record exists: no run is left behind (running or failed)
        with sqlite3.connect(store) as conn:
            assert conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0


def test_user_data_is_never_destroyed(tmp_path: Path, tiny_model: Path) -> None:
    """make-tiny into a directory of the user's, and generate --out onto its own --prompts file: exit 2, one
    line, and the user's files byte for byte as they were."""
    user_dir = tmp_path / "mine"
    user_dir.mkdir()
    (user_dir / "notes.txt").write_text("my notes")
    prompts = tmp_path / "p.jsonl"
    prompts.write_text('{"prompt": "hi"}\n')
    cases = [
        (["make-tiny", str(user_dir)], "holds files harness did not write; refusing to replace it"),
        (["generate", "--model", f"hf:{tiny_model}", "--prompts", str(prompts), "--out", str(prompts), "--store",
          str(tmp_path / "s.sqlite")], "is the --prompts input; refusing to overwrite it"),
    ]  # fmt: skip
    for args, expected in cases:
        res = subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True, timeout=300)
        assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1, res.stderr[-1500:]
        assert expected in res.stderr
    assert [p.name for p in user_dir.iterdir()] == ["notes.txt"] and (user_dir / "notes.txt").read_text() == "my notes"
    assert prompts.read_text() == '{"prompt": "hi"}\n'


def test_a_directory_harness_built_is_replaced(tmp_path: Path) -> None:
    """The other side of the rule: re-running make-tiny into its own earlier output works."""
    out = tmp_path / "tiny"
    for _ in range(2):
        res = subprocess.run([sys.executable, "-m", "app", "make-tiny", str(out)], capture_output=True, text=True)
        assert res.returncode == 0, res.stderr[-1500:]
    assert (out / "config.json").exists() and (out / ".harness-made").exists()


def test_score_json_is_strict_json_when_nothing_parsed(tmp_path: Path) -> None:
    """An annotations file where no preference parsed: the win rate is undefined, and --json prints null (a parser
    that refuses NaN reads it), never NaN."""
    rows = [{"instruction": f"i{k}", "output_1": "a", "generator_1": "ref", "output_2": "b", "generator_2": "m",
             "annotator": "x", "preference": None} for k in range(3)]  # fmt: skip
    path = tmp_path / "annotations.json"
    path.write_text(json.dumps(rows))
    res = subprocess.run([sys.executable, "-m", "app", "score", "alpaca_eval", "--annotations", str(path), "--json"],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert res.returncode == 0, res.stderr[-1500:]
    doc = json.loads(res.stdout, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    assert doc["win_rate"] is None and doc["n_total"] == 0  # no parsed preference: nothing counted
