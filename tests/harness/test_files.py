"""Our own files read back: JSONL lines end at newline only, and the Unicode line separators are escaped on write."""

import json
from pathlib import Path

import pytest

from harness.files import atomic_write_jsonl, read_jsonl
from harness.types import HarnessError

SEPARATORS = "a\u2028b\u2029c\x85d"


def test_a_string_with_unicode_line_separators_stays_one_row(tmp_path: Path) -> None:
    raw = json.dumps({"prompt": SEPARATORS}, ensure_ascii=False) + "\r\n" + json.dumps({"prompt": "x"}) + "\n"
    path = tmp_path / "in.jsonl"
    path.write_text(raw, encoding="utf-8", newline="")
    assert len(raw.splitlines()) == 5  # what str.splitlines would have made of it
    rows = read_jsonl(path)
    assert [r["prompt"] for r in rows] == [SEPARATORS, "x"] and [r["__line__"] for r in rows] == [1, 2]


def test_written_jsonl_reads_back_in_any_line_reader(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    atomic_write_jsonl(path, [{"output": SEPARATORS, "n": 1}, {"output": "é", "n": 2}])
    text = path.read_text(encoding="utf-8")
    assert "\u2028" not in text and "\x85" not in text and "é" in text  # escaped, still UTF-8 JSON
    assert len(text.splitlines()) == 2
    assert [{k: v for k, v in r.items() if k != "__line__"} for r in read_jsonl(path)] == [
        {"output": SEPARATORS, "n": 1}, {"output": "é", "n": 2}]  # fmt: skip


def test_the_official_arena_hard_v2_answers_read(shared: Path) -> None:
    """The o3-mini baseline answers of Arena-Hard v2.0 hold U+2028 in two rows (line 99 among them)."""
    path = shared / "arena-hard-auto" / "v2.0_196f6b8" / "model_answer" / "o3-mini-2025-01-31.jsonl"
    raw = path.read_text(encoding="utf-8")
    rows = read_jsonl(path)
    assert len(rows) == raw.count("\n") and len(rows) < len(raw.splitlines())
    assert sum("\u2028" in json.dumps(r, ensure_ascii=False) for r in rows) >= 2


def test_a_directory_in_the_way_of_an_output_is_one_line(tmp_path: Path) -> None:
    import pytest

    from harness.files import atomic_write_text, check_writable
    from harness.types import HarnessError

    (tmp_path / "results.json").mkdir()
    for call in (check_writable, lambda p: atomic_write_text(p, "x")):
        with pytest.raises(HarnessError, match="is a directory in the way of an output file"):
            call(tmp_path / "results.json")
    assert (tmp_path / "results.json").is_dir()


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("judge_model: a\nbaseline_model: b\njudge_model: c\n", "cfg.yaml:3: duplicate key 'judge_model'"),
        ("a: " + "[" * 5000 + "]" * 5000 + "\n", "cfg.yaml: nested deeper than"),
        ("a: &x [1]\n" + "".join(f"b{i}: *x\n" for i in range(101)), "cfg.yaml: 101 YAML aliases"),
        ("a: [1, 2\n", "cfg.yaml:2: malformed YAML"),
    ],
    ids=["duplicate_key", "deep", "aliases", "malformed"],
)
def test_every_yaml_reader_is_strict(tmp_path: Path, text: str, needle: str) -> None:
    """The run config and arena-hard-auto's judge config share one strict reader (PyYAML's last-wins is gone)."""
    from benchmarks.arena_hard.scorer import load_judge_config
    from training.config import load_config

    path = tmp_path / "cfg.yaml"
    path.write_text(text)
    for reader in (load_config, load_judge_config):
        with pytest.raises(HarnessError) as err:
            reader(path)
        assert needle in str(err.value) and "\n" not in str(err.value), str(err.value)


def test_undefined_numbers_are_written_as_null(tmp_path: Path) -> None:
    # a rate over zero items or a CI that could not be computed is NaN in memory: on disk it must be null, which
    # strict parsers (and other languages' JSON readers) accept, never the bare NaN token
    from harness.files import atomic_write_json

    doc = {"rate": float("nan"), "ci": [0.5, float("inf")], "n": 0, "nested": {"x": -float("inf"), "y": 1.5}}
    atomic_write_json(tmp_path / "s.json", doc)
    atomic_write_jsonl(tmp_path / "s.jsonl", [doc])

    def refuse(token: str) -> None:
        raise ValueError(token)

    for name in ("s.json", "s.jsonl"):
        text = (tmp_path / name).read_text()
        parsed = json.loads(text, parse_constant=refuse)
        assert parsed == {"rate": None, "ci": [0.5, None], "n": 0, "nested": {"x": None, "y": 1.5}}
