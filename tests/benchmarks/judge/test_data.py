"""Loaders of human-ranked prompts: the real OASST sample, hand-made trees and bad inputs."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from benchmarks.judge import data as rd
from benchmarks.judge.data import RankedPrompt
from harness.types import HarnessError
from tests.conftest import require


def _oasst(shared: Path) -> Path:
    return shared / "Open-Assistant"


def _flat_rows(message_file: Path) -> list[dict[str, Any]]:
    """The hub's flat schema (one message per row, parent by parent_id) from the nested message export."""
    rows: list[dict[str, Any]] = []

    def walk(m: dict[str, Any], tree: str) -> None:
        keep = ("message_id", "parent_id", "text", "role", "lang", "rank", "deleted", "review_count", "synthetic")
        rows.append({**{k: m.get(k) for k in keep}, "message_tree_id": tree})
        for r in m["replies"]:
            walk(r, tree)

    for line in message_file.read_text().splitlines():
        root = json.loads(line)
        walk(root, root["message_id"])
    return rows


def _write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _by_id(prompts: list[RankedPrompt]) -> dict[str, tuple[str, list[tuple[int, str]]]]:
    return {p.prompt_id: (p.prompt, sorted(zip(p.ranks, p.responses, strict=True))) for p in prompts}


def test_tree_sample_counts(shared: Path) -> None:
    prompts = rd.load_oasst_trees(_oasst(shared) / "en_100_tree.jsonl")
    # PROVENANCE.md / README.md: 212 parents with >= 2 ranked replies, 641 ranked replies
    assert len(prompts) == 212
    assert sum(len(p.responses) for p in prompts) == 641
    assert len({p.prompt_id for p in prompts}) == 212
    assert all(sorted(p.ranks) == list(range(len(p.ranks))) for p in prompts)  # sibling ranks 0..k-1
    first = prompts[0]  # the first tree of the file, read by eye
    assert first.prompt == "How can I find the best 401k plan for my needs?"
    assert first.ranks == [0, 1, 2]
    assert first.responses[0].startswith("The first step is to research your options.")
    assert first.history == []


def test_deep_prompts_use_parent_text_and_optional_history(shared: Path) -> None:
    path = _oasst(shared) / "en_100_tree.jsonl"
    plain = rd.load_oasst_trees(path)
    full = rd.load_oasst_trees(path, with_history=True)
    assert [(p.prompt_id, p.prompt, p.responses) for p in plain] == [(p.prompt_id, p.prompt, p.responses) for p in full]
    deep = [p for p in full if p.history]
    assert len(deep) == 212 - 99  # 99 of the prompts are tree roots (depth 0)
    for p in deep:
        assert len(p.history) % 2 == 0
        assert [t["role"] for t in p.history] == ["user", "assistant"] * (len(p.history) // 2)


def test_message_loader_agrees_with_tree_loader(shared: Path, tmp_path: Path) -> None:
    trees = rd.load_oasst_trees(_oasst(shared) / "en_100_tree.jsonl")
    assert rd.load_oasst_messages(_oasst(shared) / "en_100_message.jsonl") == trees
    rows = _flat_rows(_oasst(shared) / "en_100_message.jsonl")
    assert len(rows) == 1167
    assert rd.load_oasst_messages(_write_jsonl(tmp_path / "flat.jsonl", rows)) == trees
    random.Random(0).shuffle(rows)  # replies before their parents: grouping is by parent_id, not order
    shuffled = rd.load_oasst_messages(_write_jsonl(tmp_path / "shuffled.jsonl", rows))
    assert _by_id(shuffled) == _by_id(trees)


def test_hub_loader_on_local_files(shared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    datasets = require("datasets")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True, raising=False)
    trees = rd.load_oasst_trees(_oasst(shared) / "en_100_tree.jsonl")
    flat = _write_jsonl(tmp_path / "oasst1_val.jsonl", _flat_rows(_oasst(shared) / "en_100_message.jsonl"))
    assert rd.load_oasst1_hub(data_files=flat, cache_dir=tmp_path / "cache") == trees
    assert rd.load_oasst1_hub("train", lang="de", data_files=[flat], cache_dir=tmp_path / "cache") == []
    with pytest.raises(HarnessError) as err:  # no network, empty cache: a one-line error
        rd.load_oasst1_hub(cache_dir=tmp_path / "empty_cache")
    assert str(err.value).startswith("OpenAssistant/oasst1[validation]: cannot load")
    assert "\n" not in str(err.value)


def _tree(root: dict[str, Any]) -> dict[str, Any]:
    return {"message_tree_id": root["message_id"], "tree_state": "ready_for_export", "prompt": root}


def _msg(mid: str, role: str, text: str, rank: int | None = None, replies: list | None = None, **kw: Any) -> dict:
    return {"message_id": mid, "role": role, "text": text, "rank": rank, "lang": "en", "replies": replies or [], **kw}


def test_hand_made_tree(tmp_path: Path) -> None:
    root = _msg("p1", "prompter", "Q1", replies=[
        _msg("a0", "assistant", "A0", 0, replies=[
            _msg("p2", "prompter", "Q2", replies=[_msg("b0", "assistant", "B0", 1), _msg("b1", "assistant", "B1", 0)]),
        ]),
        _msg("a1", "assistant", "A1", 1, replies=[  # ranked prompter replies: not responses to judge
            _msg("q0", "prompter", "R0", 0), _msg("q1", "prompter", "R1", 1),
        ]),
        _msg("a2", "assistant", "A2"),  # unranked
        _msg("a3", "assistant", "A3", 2, deleted=True),
    ])  # fmt: skip
    german = _msg(
        "d1", "prompter", "F1", lang="de", replies=[_msg("x0", "assistant", "X0", 0), _msg("x1", "assistant", "X1", 1)]
    )
    path = _write_jsonl(tmp_path / "trees.jsonl", [_tree(root), _tree(german)])
    got = rd.load_oasst_trees(path, with_history=True)
    assert got == [
        RankedPrompt("p1", "Q1", ["A0", "A1"], [0, 1]),
        RankedPrompt("p2", "Q2", ["B0", "B1"], [1, 0], [{"role": "user", "content": "Q1"}, {"role": "assistant", "content": "A0"}]),
        RankedPrompt("d1", "F1", ["X0", "X1"], [0, 1]),
    ]  # fmt: skip
    assert [p.prompt_id for p in rd.load_oasst_trees(path, lang="en")] == ["p1", "p2"]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"message_tree_id": "t", "tree_state": "x"}, "trees.jsonl:2: field 'prompt' must be the tree's root message object"),
        (_tree({"message_id": "m", "role": "prompter", "replies": []}), "trees.jsonl:2: message m: missing field 'text'"),
        (_tree(_msg("m", "prompter", "Q", replies=[_msg("r", "assistant", "A", "first")])), "message r: field 'rank' must be an integer"),  # type: ignore[arg-type]
        (_tree(_msg("m", "prompter", "Q", replies="none")), "message m: field 'replies' must be a list"),  # type: ignore[arg-type]
        (_tree(_msg("m", "prompter", 7)), "message m: field 'text' has the wrong type (int)"),  # type: ignore[arg-type]
        (_tree(_msg("t0", "prompter", "Q")), "trees.jsonl:2: duplicate message_id t0 (first at"),
    ],
)  # fmt: skip
def test_bad_trees(tmp_path: Path, row: dict[str, Any], message: str) -> None:
    path = _write_jsonl(tmp_path / "trees.jsonl", [_tree(_msg("t0", "prompter", "Q")), row])
    with pytest.raises(HarnessError) as err:
        rd.load_oasst_trees(path)
    assert message in str(err.value)
    assert str(err.value).startswith(str(tmp_path / "trees.jsonl") + ":2")
    assert "\n" not in str(err.value)


def test_ranked_jsonl_good(tmp_path: Path) -> None:
    rows = [
        {"id": "a", "prompt": "P", "responses": ["x", "y", "z"], "ranks": [1, 0, 1]},
        {"prompt": "Q", "responses": ["u", "v"], "ranks": [0, 1], "extra": 1},
        {"id": 7, "prompt": "R", "responses": ["s", "t"], "ranks": [1, 0]},
    ]
    path = _write_jsonl(tmp_path / "ranked.jsonl", rows)
    expected = [
        RankedPrompt("a", "P", ["x", "y", "z"], [1, 0, 1]),
        RankedPrompt("line-2", "Q", ["u", "v"], [0, 1]),
        RankedPrompt("7", "R", ["s", "t"], [1, 0]),
    ]
    assert rd.load_ranked_jsonl(path) == expected
    assert rd.load_ranked(path) == expected


def test_pairwise_set(tmp_path: Path) -> None:
    """A chosen/rejected JSONL (RewardBench's layout; a conversation ending with the assistant also works) is a
    prompt with two responses, chosen ranked best."""
    conv = [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "good"}]
    rows = [
        {"id": "a", "prompt": "P", "chosen": "yes", "rejected": "no"},
        {"prompt": "Q", "chosen": conv, "rejected": [*conv[:1], {"role": "assistant", "content": "bad"}]},
    ]
    path = _write_jsonl(tmp_path / "pairs.jsonl", rows)
    assert rd.load_ranked(path) == [
        RankedPrompt("a", "P", ["yes", "no"], [0, 1]),
        RankedPrompt("line-2", "Q", ["good", "bad"], [0, 1]),
    ]
    bad = _write_jsonl(tmp_path / "bad.jsonl", [rows[0], {"prompt": "P", "chosen": "x", "rejected": 3}])
    with pytest.raises(HarnessError, match=r"bad\.jsonl:2: field 'rejected' must be a string or a conversation"):
        rd.load_ranked(bad)
    missing = _write_jsonl(tmp_path / "missing.jsonl", [rows[0], {"chosen": "x", "rejected": "y"}])
    with pytest.raises(HarnessError, match=r"missing\.jsonl:2: missing field 'prompt'"):
        rd.load_ranked(missing)


GOOD = {"id": "g", "prompt": "P", "responses": ["x", "y"], "ranks": [0, 1]}


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"id": "b", "responses": ["x", "y"], "ranks": [0, 1]}, ":2: missing field 'prompt'"),
        ({"id": "b", "prompt": "P", "ranks": [0, 1]}, ":2: missing field 'responses'"),
        ({"id": "b", "prompt": "P", "responses": ["x", "y"]}, ":2: missing field 'ranks'"),
        ({"id": "b", "prompt": 3, "responses": ["x", "y"], "ranks": [0, 1]}, ":2: field 'prompt' must be a string"),
        ({"id": "b", "prompt": "P", "responses": ["x", 2], "ranks": [0, 1]}, ":2: field 'responses' must be a list of strings"),
        ({"id": "b", "prompt": "P", "responses": ["x", "y"], "ranks": [0, 1, 2]}, ":2: field 'ranks' has 3 entries but 'responses' has 2"),
        ({"id": "b", "prompt": "P", "responses": ["x"], "ranks": [0]}, ":2: field 'responses' needs at least 2 ranked responses, got 1"),
        ({"id": "b", "prompt": "P", "responses": ["x", "y"], "ranks": [0, 1.5]}, ":2: field 'ranks' entry 1 must be an integer, got 1.5"),
        ({"id": "b", "prompt": "P", "responses": ["x", "y"], "ranks": ["0", 1]}, ":2: field 'ranks' entry 0 must be an integer, got '0'"),
        ({"id": "b", "prompt": "P", "responses": ["x", "y"], "ranks": [True, 1]}, ":2: field 'ranks' entry 0 must be an integer, got True"),
        ({"id": "b", "prompt": "P", "responses": ["x", "y"], "ranks": 1}, ":2: field 'ranks' must be a list of integers"),
        ({"id": ["b"], "prompt": "P", "responses": ["x", "y"], "ranks": [0, 1]}, ":2: field 'id' must be a string or an integer"),
        ({"id": "g", "prompt": "P", "responses": ["x", "y"], "ranks": [0, 1]}, ":2: field 'id' 'g' duplicates the id on line 1"),
        ("not json", ":2: malformed JSON"),
    ],
)  # fmt: skip
def test_ranked_jsonl_bad(tmp_path: Path, row: Any, message: str) -> None:
    path = tmp_path / "ranked.jsonl"
    second = row if isinstance(row, str) else json.dumps(row)
    path.write_text(json.dumps(GOOD) + "\n" + second + "\n")
    with pytest.raises(HarnessError) as err:
        rd.load_ranked_jsonl(path)
    assert str(err.value).startswith(f"{path}{message}")
    assert "\n" not in str(err.value)


def test_load_ranked_dispatch(shared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    trees = rd.load_oasst_trees(_oasst(shared) / "en_100_tree.jsonl")
    assert rd.load_ranked(_oasst(shared) / "en_100_tree.jsonl") == trees
    assert rd.load_ranked(str(_oasst(shared) / "en_100_message.jsonl")) == trees
    calls: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(rd, "load_oasst1_hub", lambda split, **kw: calls.append((split, kw)) or [])
    assert rd.load_ranked("OpenAssistant/oasst1") == []
    assert rd.load_ranked("oasst1:train", lang=None) == []
    assert calls == [("validation", {}), ("train", {"lang": None})]
    with pytest.raises(HarnessError, match=r"^nope\.jsonl: no such file"):
        rd.load_ranked("nope.jsonl")
    odd = _write_jsonl(tmp_path / "odd.jsonl", [{"question": "?"}])
    with pytest.raises(HarnessError, match=r"odd\.jsonl:1: cannot tell the format"):
        rd.load_ranked(odd)
    plain = _write_jsonl(tmp_path / "plain.jsonl", [GOOD])
    with pytest.raises(HarnessError, match="apply only to OASST data"):
        rd.load_ranked(plain, lang="en")


def test_load_ranked_parquet(shared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pd = require("pandas")
    datasets = require("datasets")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True, raising=False)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache", raising=False)
    path = tmp_path / "validation.parquet"
    pd.DataFrame(_flat_rows(_oasst(shared) / "en_100_message.jsonl")).to_parquet(path)  # rank becomes float, NaN
    assert rd.load_ranked(path, lang="en") == rd.load_oasst_trees(_oasst(shared) / "en_100_tree.jsonl")
