"""EFT data (Self-Rewarding 3.1.1): the human-ranking agreement filter and downsampling of the most common score."""

from __future__ import annotations

from collections import Counter

from training.eft import (
    EftExample,
    JudgedResponse,
    PromptJudgments,
    agrees_with_human,
    downsample_most_common,
    filter_agreeing,
)


def item(prompt: str, ranks: list[int], scores: list[float | None]) -> PromptJudgments:
    return PromptJudgments(
        prompt,
        [
            JudgedResponse(f"{prompt}-r{i}", rank, f"{prompt}-j{i}", s)
            for i, (rank, s) in enumerate(zip(ranks, scores, strict=True))
        ],
    )


def test_same_order_agrees() -> None:
    assert agrees_with_human(item("p", [0, 1, 2], [5.0, 4.0, 2.0]))
    # list order does not matter, only ranks vs scores: rank 0 (index 1) has the top score
    assert agrees_with_human(item("p", [1, 0, 2], [4.0, 5.0, 3.0]))


def test_swapped_pair_disagrees() -> None:
    assert not agrees_with_human(item("p", [0, 1, 2], [4.0, 5.0, 3.0]))
    assert not agrees_with_human(item("p", [0, 1, 2], [5.0, 2.0, 3.0]))


def test_judge_tie_on_distinct_human_ranks_disagrees() -> None:
    assert not agrees_with_human(item("p", [0, 1, 2], [5.0, 5.0, 2.0]))


def test_human_tie_needs_judge_tie() -> None:
    assert agrees_with_human(item("p", [0, 0, 1], [4.0, 4.0, 2.0]))
    assert not agrees_with_human(item("p", [0, 0, 1], [5.0, 4.0, 2.0]))


def test_unparsed_score_or_single_response_is_rejected() -> None:
    assert not agrees_with_human(item("p", [0, 1, 2], [5.0, None, 2.0]))
    assert not agrees_with_human(item("p", [0], [5.0]))
    assert not agrees_with_human(PromptJudgments("p", []))


def test_filter_agreeing_keeps_whole_agreeing_sets_in_order() -> None:
    items = [
        item("a", [0, 1], [5.0, 3.0]),  # agrees
        item("b", [0, 1, 2], [4.0, 5.0, 1.0]),  # one swapped pair -> whole set dropped
        item("c", [1, 0], [2.0, 4.0]),  # agrees
    ]
    assert filter_agreeing(items) == [
        EftExample("a", "a-r0", "a-j0", 5.0, 0),
        EftExample("a", "a-r1", "a-j1", 3.0, 1),
        EftExample("c", "c-r0", "c-j0", 2.0, 1),
        EftExample("c", "c-r1", "c-j1", 4.0, 0),
    ]


def ex(score: float, tag: int) -> EftExample:
    return EftExample(f"p{tag}", f"r{tag}", f"j{tag}", score, 0)


def test_downsample_cuts_majority_to_second_count() -> None:
    # counts: 4 -> 5, 3 -> 2, 5 -> 1; the five 4s are cut to 2 (the count of 3s)
    scores = [4.0, 3.0, 4.0, 4.0, 5.0, 4.0, 3.0, 4.0]
    data = [ex(s, i) for i, s in enumerate(scores)]
    out = downsample_most_common(data, seed=1)
    assert Counter(e.score for e in out) == {4.0: 2, 3.0: 2, 5.0: 1}
    assert [e for e in out if e.score != 4.0] == [data[1], data[4], data[6]]
    assert out == sorted(out, key=data.index)  # input order preserved
    assert out == downsample_most_common(data, seed=1)  # deterministic
    subsets = {tuple(e.prompt for e in downsample_most_common(data, seed=s) if e.score == 4.0) for s in range(30)}
    assert len(subsets) > 1  # the seed decides which 4s survive
    assert all(len(s) == 2 for s in subsets)


def test_downsample_no_change_cases() -> None:
    one_key = [ex(4.0, i) for i in range(3)]
    assert downsample_most_common(one_key, seed=0) == one_key
    shared_top = [ex(s, i) for i, s in enumerate([4.0, 4.0, 3.0, 3.0, 5.0])]
    assert downsample_most_common(shared_top, seed=0) == shared_top
    assert downsample_most_common([], seed=0) == []


def test_downsample_custom_key() -> None:
    rows = [{"s": 1}, {"s": 1}, {"s": 1}, {"s": 2}]
    out = downsample_most_common(rows, key=lambda r: r["s"], seed=3)
    assert sorted(r["s"] for r in out) == [1, 2]
    assert out[-1] == {"s": 2}
