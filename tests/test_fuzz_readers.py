"""Property-based fuzzing of every reader (issue 33): prompts JSONL, AlpacaEval annotations, MT-Bench and
Arena-Hard judgments, ranked JSONL, run configs, model specs and ``--option``.

The property, for any generated input: the command exits 0 with correct output, or exits 2 with one line naming
where (the file, or the flag); never a traceback, never a partial output file, never a hang past a bound.

The file readers are driven through the ``harness`` command line in this process (``app.cli.main``, as the
console script runs it); the config, spec and option readers through the functions the commands call first, with
the same property (a value, or a one-line :class:`HarnessError` naming the file or flag). Hypothesis runs
derandomized (a fixed seed), so every CI run tries the same examples: :data:`EXAMPLES` per reader, 8 readers,
4,000 examples in about 25 s on 2 cores (``--hypothesis-show-statistics`` prints the exit codes' shares).
"""

from __future__ import annotations

import io
import json
import math
import tempfile
import time
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from app.cli import printable
from harness.types import HarnessError
from tests.servers import LatencyServer

EXAMPLES = 500  # per reader
BOUND_S = 20.0  # no example may take longer (a hang is a failure, not a slow test)
FUZZ = settings(
    max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)  # fmt: skip

# ------------------------------------------------------------------ generated values

# text with everything a hostile file holds: control and escape characters, RTL marks, astral code points
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
JSON_SCALAR = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), TEXT,
)  # fmt: skip
JSON_VALUE = st.recursive(
    JSON_SCALAR, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4), max_leaves=12
)
# raw lines no JSON writer makes: a lone surrogate escape, a duplicate key, deep nesting, NaN, truncation, bytes
RAW_LINE = st.one_of(
    TEXT,
    st.just('{"a": 1, "a": 2}'),
    st.just('{"prompt": "\\ud800"}'),
    st.integers(1, 3000).map(lambda n: "[" * n + "]" * n),
    st.integers(1, 3000).map(lambda n: '{"a":' * n + "1" + "}" * n),
    st.just('{"id": NaN, "prompt": "x"}'),
    st.just('{"prompt": "x"'),
)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=True)


def _mutated(row: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """``row`` with one field dropped or replaced by any JSON value, or one field added."""
    keys = sorted(row)
    drop = st.sampled_from(keys).map(lambda k: {x: v for x, v in row.items() if x != k})
    swap = st.tuples(st.sampled_from(keys), JSON_VALUE).map(lambda kv: {**row, kv[0]: kv[1]})
    add = st.tuples(TEXT, JSON_VALUE).map(lambda kv: {**row, kv[0]: kv[1]})
    return st.one_of(drop, swap, add)


def _lines(valid_row: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[tuple[list[str], bool]]:
    """(lines, all_valid): valid rows, mostly, with at times a mutated row or a raw line among them."""
    good = valid_row.map(lambda r: (_dumps(r), True))
    bad = st.one_of(valid_row.flatmap(_mutated).map(lambda r: (_dumps(r), False)), RAW_LINE.map(lambda x: (x, False)))
    # half the files are all valid rows: the "exit 0 with correct output" half of the property is tried as often
    rows = st.one_of(st.lists(good, min_size=1, max_size=6), st.lists(st.one_of(good, bad), min_size=1, max_size=6))
    return rows.map(lambda items: ([x for x, _ in items], all(ok for _, ok in items) and bool(items)))


def _write(path: Path, text: str, garbage: bytes | None) -> None:
    # text with a lone surrogate (from TEXT it has none) is written as the JSON escape; bytes make invalid UTF-8
    path.write_bytes(garbage if garbage is not None else text.encode("utf-8"))


GARBAGE = st.one_of(*[st.none()] * 5, st.binary(max_size=64))

# ------------------------------------------------------------------ the command line, in this process


def _cli(*args: str) -> tuple[int, str, str]:
    from app.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    start = time.monotonic()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    assert time.monotonic() - start < BOUND_S, f"harness {' '.join(args)} took over {BOUND_S} s"
    event(f"exit {code}")
    return code, out.getvalue(), err.getvalue()


def _refused(code: int, err: str, where: str) -> None:
    """Exit 2 with one line naming ``where``; never a traceback."""
    lines = [x for x in err.splitlines() if x.strip()]
    assert code == 2, (code, err[-800:])
    assert len(lines) == 1 and lines[0].startswith("error: "), err[-800:]
    assert where in lines[0], (where, lines[0])
    assert "\x1b" not in lines[0] and "Traceback" not in err


def _function(fn: Callable[[], Any], where: str) -> Any:
    """``fn()``'s value, or None after a HarnessError whose printed line names ``where``; any other exception
    fails (the command line turns a HarnessError, and only that, into its one line and exit 2)."""
    start = time.monotonic()
    try:
        value = fn()
    except HarnessError as exc:
        # what the command line prints of it (app.cli.printable: a newline from the input becomes a space)
        shown = printable(str(exc))
        assert where in shown and "\n" not in shown and "\x1b" not in shown, (where, shown)
        value = None
    assert time.monotonic() - start < BOUND_S
    return value


@pytest.fixture(scope="module")
def server():  # type: ignore[no-untyped-def]
    s = LatencyServer(median=0.001, sigma=0.1)
    yield s
    s.stop()


# ------------------------------------------------------------------ prompts JSONL (`harness generate`)

ID = st.one_of(st.integers(min_value=-(2**63), max_value=2**63), TEXT)
MESSAGE = st.fixed_dictionaries({"role": st.sampled_from(["system", "user", "assistant"]), "content": TEXT})
PROMPT_ROW = st.one_of(
    st.fixed_dictionaries({"id": ID, "prompt": TEXT.filter(bool)}),
    st.fixed_dictionaries({"prompt": TEXT.filter(bool)}),
    st.fixed_dictionaries({"id": ID, "messages": st.lists(MESSAGE, min_size=1, max_size=3)}),
)


def _strict(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    if len({k for k, _ in pairs}) < len(pairs):
        raise ValueError("duplicate key")
    return dict(pairs)


def _clean(value: Any, depth: int = 0) -> bool:
    """No lone surrogate in any string and at most 200 levels (the readers' documented limits)."""
    if depth > 200:
        return False
    if isinstance(value, str):
        return not any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, list):
        return all(_clean(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(_clean(k, depth + 1) and _clean(v, depth + 1) for k, v in value.items())
    return True


def expected_prompts(data: bytes) -> list[tuple[Any, list[dict[str, str]]]] | None:
    """This test's own reading of a prompts file, from the format README documents: JSONL lines ending at
    newline, blank lines skipped; each row an object with an ``id`` (string or integer, unique, else its index)
    and a non-empty ``prompt`` string or a non-empty ``messages`` list of {role, content} strings. None: invalid."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    out: list[tuple[Any, list[dict[str, str]]]] = []
    lines = [x.removesuffix("\r") for x in text.split("\n")]
    for line in (x for x in lines if x.strip()):
        try:
            row = json.loads(line, object_pairs_hook=_strict)
        except (ValueError, RecursionError):
            return None
        if not isinstance(row, dict) or not _clean(row):
            return None
        rid = row.get("id", len(out))
        if isinstance(rid, bool) or not isinstance(rid, str | int) or any(_dumps(rid) == _dumps(i) for i, _ in out):
            return None
        if "messages" in row:
            msgs = row["messages"]
            ok = isinstance(msgs, list) and msgs and all(
                isinstance(m, dict) and m.get("role") in ("system", "user", "assistant")
                and isinstance(m.get("content"), str) for m in msgs
            )  # fmt: skip
            if not ok:
                return None
            out.append((rid, [{"role": m["role"], "content": m["content"]} for m in msgs]))
        elif isinstance(row.get("prompt"), str) and row["prompt"]:
            out.append((rid, [{"role": "user", "content": row["prompt"]}]))
        else:
            return None
    return out or None


@FUZZ
@given(case=_lines(PROMPT_ROW), garbage=GARBAGE)
def test_prompts_jsonl(server: LatencyServer, case: tuple[list[str], bool], garbage: bytes | None) -> None:
    lines, _ = case
    with tempfile.TemporaryDirectory() as tmp:
        prompts, out = Path(tmp) / "prompts.jsonl", Path(tmp) / "out.jsonl"
        _write(prompts, "\n".join(lines) + "\n", garbage)
        code, _, err = _cli("generate", "--model", server.spec("m"), "--prompts", str(prompts), "--out", str(out),
                            "--store", str(Path(tmp) / "s.sqlite"), "--max-tokens", "8")  # fmt: skip
        want = expected_prompts(prompts.read_bytes())
        if want is not None:
            assert code == 0, err[-800:]
            got = [json.loads(x) for x in out.read_text().splitlines()]
            assert [(g["id"], g["messages"]) for g in got] == want  # ids as given: an int stays an int
            assert all(len(g["outputs"]) == 1 and g["outputs"][0].startswith("The response is judged") for g in got)
        else:
            _refused(code, err, "prompts.jsonl")
            assert not out.exists()  # nothing partial


# ------------------------------------------------------------------ AlpacaEval annotations (`harness score`)

ANNOTATION = st.fixed_dictionaries({
    "instruction": TEXT, "output_1": TEXT, "output_2": TEXT, "generator_1": st.just("base"),
    "generator_2": st.just("model"),
    "preference": st.one_of(st.none(), st.just(0), st.just(1), st.just(2), st.floats(1, 2)),
})  # fmt: skip


@FUZZ
@given(rows=st.lists(ANNOTATION, max_size=6).flatmap(
    lambda rs: st.one_of(st.just((rs, True)), (st.sampled_from(rs).flatmap(_mutated).map(lambda m: ([*rs, m], False))
                                                  if rs else st.just((rs, False))))),
       raw=st.one_of(st.none(), st.none(), RAW_LINE), garbage=GARBAGE)  # fmt: skip
def test_annotations(rows: tuple[list[dict[str, Any]], bool], raw: str | None, garbage: bytes | None) -> None:
    annotations, valid = rows
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "annotations.json"
        _write(path, raw if raw is not None else _dumps(annotations), garbage)
        code, out, err = _cli("score", "alpaca_eval", "--annotations", str(path), "--json")
    if valid and annotations and raw is None and garbage is None:
        assert code == 0, err[-800:]
        got = json.loads(out)
        # alpaca_eval: a draw (0) counts one half, a preference p in [1, 2] counts p - 1; null is left out
        scored = [0.5 if p == 0 else p - 1 for p in (a["preference"] for a in annotations) if p is not None]
        assert got["n_total"] == len(scored)
        if scored:
            assert math.isclose(got["win_rate"], 100 * sum(scored) / len(scored), rel_tol=1e-9, abs_tol=1e-9)
    elif code != 0:  # a mutated row may still be a valid one (an extra field): then any exit 0 prints JSON
        _refused(code, err, "annotations.json")
    else:
        json.loads(out)


# ------------------------------------------------------------------ MT-Bench judgments (`harness score mt_bench`)

JUDGMENT = st.fixed_dictionaries({
    "question_id": st.integers(81, 160), "model": st.sampled_from(["m", "n"]),
    "judge": st.just(["gpt-4", "single-v1"]), "user_prompt": TEXT,
    "judgment": TEXT, "score": st.one_of(st.just(-1), st.integers(1, 10), st.floats(1, 10)),
    "turn": st.sampled_from([1, 2]),
})  # fmt: skip


@FUZZ
@given(case=_lines(JUDGMENT), garbage=GARBAGE)
def test_mt_bench_judgments(case: tuple[list[str], bool], garbage: bytes | None) -> None:
    lines, valid = case
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "judgments.jsonl"
        _write(path, "\n".join(lines) + "\n", garbage)
        code, out, err = _cli("score", "mt_bench", "--judgments", str(path), "--json")
    rows = [json.loads(x) for x in lines] if valid and garbage is None else None
    keys = [(r["question_id"], r["model"], r["turn"]) for r in rows or []]
    if rows is not None and len(set(keys)) == len(keys):
        assert code == 0, err[-800:]
        got = json.loads(out)["models"]
        for model in {r["model"] for r in rows}:
            scores = [r["score"] for r in rows if r["model"] == model and r["score"] != -1]
            overall = got[model]["overall"]
            if scores:  # FastChat: the mean of the valid ratings; a failed judgment (-1) is left out
                assert math.isclose(overall, sum(scores) / len(scores), rel_tol=1e-9), (overall, scores)
            else:
                assert overall is None  # a mean over zero ratings is unknown, never 0
    elif code != 0:
        _refused(code, err, "judgments.jsonl")
    else:
        json.loads(out)


# ------------------------------------------------------------------ Arena-Hard judgments (`harness score arena_hard`)

GAMES = st.lists(
    st.fixed_dictionaries({"user_prompt": TEXT, "judgment": TEXT, "score": st.sampled_from(["A>B", "B>A", "A=B", None])}),
    min_size=2, max_size=2,
)  # fmt: skip
ARENA_ROW = st.fixed_dictionaries({
    "question_id": st.text("abcdef0123456789", min_size=1, max_size=6), "model": st.just("m"),
    "judge": st.just("gpt-4-1106-preview"), "games": GAMES,
})  # fmt: skip


@FUZZ
@given(case=_lines(ARENA_ROW), garbage=GARBAGE)
def test_arena_hard_judgments(case: tuple[list[str], bool], garbage: bytes | None) -> None:
    lines, valid = case
    with tempfile.TemporaryDirectory() as tmp:
        judgments = Path(tmp) / "model_judgment" / "gpt-4-1106-preview"
        judgments.mkdir(parents=True)
        _write(judgments / "m.jsonl", "\n".join(lines) + "\n", garbage)
        code, out, err = _cli("score", "arena_hard", "--judgments", str(judgments), "--version", "v0.1", "--json")
    rows = [json.loads(x) for x in lines] if valid and garbage is None else []
    games = [g["score"] for r in rows for g in r["games"]]
    if len({r["question_id"] for r in rows}) == len(rows) and any(g is not None for g in games):
        assert code == 0, err[-800:]
        got = json.loads(out)
        # each non-null verdict of these labels (no >>) is one battle against the baseline; a null one is counted
        assert (got["n_battles"], got["n_judgments"], got["n_null_verdicts"]) == (
            sum(g is not None for g in games),
            len(rows),
            sum(g is None for g in games),
        )
        assert got["models"]["m"]["n_battles"] == got["n_battles"]
    elif code != 0:  # a mutated row may still be valid, and a file of null verdicts only has nothing to score
        _refused(code, err, "gpt-4-1106-preview")
    else:
        json.loads(out)


# ------------------------------------------------------------------ ranked JSONL (judge data)

RANKED = st.fixed_dictionaries({
    "id": TEXT.filter(bool), "prompt": TEXT.filter(bool), "responses": st.lists(TEXT, min_size=2, max_size=3),
}).flatmap(lambda r: st.lists(st.integers(1, 3), min_size=len(r["responses"]), max_size=len(r["responses"])).map(
    lambda ranks: {**r, "ranks": ranks}))  # fmt: skip


@FUZZ
@given(case=_lines(RANKED), garbage=GARBAGE)
def test_ranked_jsonl(case: tuple[list[str], bool], garbage: bytes | None) -> None:
    from benchmarks.judge.data import load_ranked_jsonl

    lines, _ = case
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ranked.jsonl"
        _write(path, "\n".join(lines) + "\n", garbage)
        got = _function(lambda: load_ranked_jsonl(path), "ranked.jsonl")
    if got is not None:
        assert all(len(p.responses) >= 2 for p in got)


# ------------------------------------------------------------------ run configs (`harness iterate --config`)

CONFIG_KEYS = st.sampled_from(["model", "iterations", "seed", "backend", "out_dir", "sft", "judge", "dpo", "gates",
                               "prompts", "eval", "actor", "meta_judge", "unknown_key"])  # fmt: skip
YAML_VALUE = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.text("abc :-[]{}#&*!|>'\"%@`\n")),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text("abc", min_size=1), inner, max_size=3),
    max_leaves=8,
)


DEMO_CONFIG = Path(__file__).resolve().parents[1] / "training" / "configs" / "demo.yaml"


def _demo_config() -> dict[str, Any]:
    import yaml

    return dict(yaml.safe_load(DEMO_CONFIG.read_text()))


@FUZZ
@given(
    data=st.one_of(
        st.dictionaries(CONFIG_KEYS, YAML_VALUE, max_size=5).map(lambda d: ("dump", d)),
        # the shipped demo config with one key dropped or replaced: mostly valid, so both outcomes are tried
        st.tuples(st.sampled_from(sorted(_demo_config())), st.one_of(st.none(), YAML_VALUE)).map(
            lambda kv: (
                "dump",
                {k: v for k, v in _demo_config().items() if k != kv[0]} | ({kv[0]: kv[1]} if kv[1] is not None else {}),
            )
        ),
        st.text(st.characters(exclude_categories=["Cs"]), max_size=120).map(lambda t: ("raw", t)),
    )
)
def test_run_config(data: tuple[str, Any]) -> None:
    import yaml

    from training.config import load_config

    kind, value = data
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "run.yaml"
        path.write_text(yaml.safe_dump(value) if kind == "dump" else value, encoding="utf-8")
        got = _function(lambda: load_config(path), "run.yaml")
    event("valid" if got is not None else "refused")


# ------------------------------------------------------------------ model specs and --option


@FUZZ
@given(
    spec=st.one_of(
        TEXT,
        st.tuples(st.sampled_from(["hf", "vllm", "openai", "x"]), TEXT, st.one_of(st.just(""), TEXT)).map(
            lambda t: f"{t[0]}:{t[1]}" + (f"?{t[2]}" if t[2] else "")
        ),
        st.tuples(TEXT, TEXT).map(lambda t: f"openai:{t[0]}@http://{t[1]}"),
    )
)
def test_model_spec(spec: str) -> None:
    from harness.spec import parse_spec

    got = _function(lambda: parse_spec(spec), "model spec")
    if got is not None:
        assert got.backend in ("hf", "vllm", "openai") and got.target


@FUZZ
@given(
    benchmarks=st.lists(st.sampled_from(["taskworld", "judge", "alpaca_eval", "mt_bench", "arena_hard"]),
                        min_size=1, max_size=3, unique=True),
    options=st.lists(st.one_of(TEXT, st.tuples(TEXT, TEXT).map("=".join),
                               st.tuples(st.sampled_from(["limit", "n", "judge.n", "seed", "mt_bench.turns",
                                                          "taskworld.n_prompts", "judge.ensemble"]),
                                         st.one_of(TEXT, st.integers().map(str), st.floats().map(str))).map("=".join)),
                     max_size=3),
)  # fmt: skip
def test_option_flags(benchmarks: list[str], options: list[str]) -> None:
    from app.options import kv_pairs
    from benchmarks.core import registry

    def check() -> None:
        opts = kv_pairs(tuple(options), "--option")
        registry.check_options(benchmarks, opts)
        for b in benchmarks:
            registry.parse_params(b, opts)

    _function(check, "--option")
