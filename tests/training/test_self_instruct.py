"""Self-instruction creation (Self-Rewarding 3.1.3 after Self-Instruct): prompt, parsing and filters."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from harness.types import HarnessError
from training.self_instruct import (
    HEADER,
    InstructionFilterConfig,
    RougeFilter,
    few_shot_prompt,
    filter_instructions,
    parse_generated_instruction,
    rejection_reason,
)

SEEDS = [f"Seed instruction number {i} about topic {i}" for i in range(10)]
GENERATED = [f"Generated instruction number {i} on subject {i}" for i in range(5)]


def demos(prompt: str) -> list[str]:
    lines = prompt.split("\n")
    assert lines[0] == HEADER
    body = lines[1:-1]
    for i, line in enumerate(body, start=1):
        assert line.startswith(f"Task {i}: ")
    return [line.split(": ", 1)[1] for line in body]


def test_few_shot_prompt_six_seed_two_generated() -> None:
    prompt = few_shot_prompt(SEEDS, GENERATED, random.Random(0))
    assert prompt.endswith("\nTask 9:")
    shown = demos(prompt)
    assert len(shown) == 8 and len(set(shown)) == 8
    assert sum(d in GENERATED for d in shown) == 2
    assert sum(d in SEEDS for d in shown) == 6
    assert prompt == few_shot_prompt(SEEDS, GENERATED, random.Random(0))


def test_few_shot_prompt_fills_missing_generated_from_seeds() -> None:
    shown = demos(few_shot_prompt(SEEDS, [], random.Random(1)))
    assert len(shown) == 8 and all(d in SEEDS for d in shown)
    shown = demos(few_shot_prompt(SEEDS, GENERATED[:1], random.Random(1)))
    assert sum(d in GENERATED for d in shown) == 1 and sum(d in SEEDS for d in shown) == 7
    # fewer seeds than slots: all of them, and the open slot follows the last one
    prompt = few_shot_prompt(SEEDS[:3], [], random.Random(1))
    assert sorted(demos(prompt)) == sorted(SEEDS[:3]) and prompt.endswith("\nTask 4:")


def test_few_shot_prompt_collapses_demonstrations_to_one_line() -> None:
    prompt = few_shot_prompt(["List three\n  fruits:"], [], random.Random(0), n_seed=1, n_generated=0)
    assert prompt == f"{HEADER}\nTask 1: List three fruits\nTask 2:"
    with pytest.raises(HarnessError):
        few_shot_prompt([], [], random.Random(0))


def test_parse_generated_instruction() -> None:
    assert parse_generated_instruction(" Write a haiku about rain.\nTask 10: Other") == "Write a haiku about rain."
    assert parse_generated_instruction("Task 9: Explain tides\n\nSome chatter") == "Explain tides"
    assert parse_generated_instruction(" Describe the\n  night sky") == "Describe the night sky"
    assert parse_generated_instruction("  \n ") is None
    assert parse_generated_instruction("\nTask 10: x") is None
    # cut off by the token limit: only usable when an end marker was reached
    assert parse_generated_instruction(" Describe the history of", truncated=True) is None
    assert parse_generated_instruction(" Name a color.\nTask 10: Name a", truncated=True) == "Name a color."


# --- ROUGE-L --------------------------------------------------------------------------------------------------

TEN = "alpha bravo charlie delta echo foxtrot golf hotel india juliet"


def test_near_duplicate_rejected_novel_kept() -> None:
    f = RougeFilter(0.7, ["Write a short poem about the ocean at night"])
    # 9 tokens each, LCS 8: F = 2*8/18 = 0.889 > 0.7
    assert f.max_similarity("Write a short poem about the ocean at dawn") == pytest.approx(8 / 9)
    assert not f.add_if_novel("Write a short poem about the ocean at dawn")
    assert f.add_if_novel("Explain how photosynthesis works in plants")  # no shared token: F = 0
    assert len(f) == 2


def test_threshold_edge_is_not_rejected() -> None:
    # 10 tokens each, LCS 7: P = R = F = 0.7, and the rule rejects only F > threshold
    cand = "alpha bravo charlie delta echo foxtrot golf xray yankee zulu"
    assert RougeFilter(0.7, [TEN]).max_similarity(cand) == 0.7
    assert RougeFilter(0.7, [TEN]).add_if_novel(cand)
    assert not RougeFilter(0.69, [TEN]).add_if_novel(cand)
    # LCS 8 of 10: F = 0.8 > 0.7
    assert not RougeFilter(0.7, [TEN]).add_if_novel("alpha bravo charlie delta echo foxtrot golf hotel yankee zulu")


def test_length_bound_shortcut_matches_full_scoring() -> None:
    # 2 vs 6 tokens, LCS 2: F = 2*2/8 = 0.5
    cand = "alpha bravo charlie delta echo foxtrot"
    assert RougeFilter(0.7, ["alpha bravo"]).is_novel(cand)
    assert not RougeFilter(0.4, ["alpha bravo"]).is_novel(cand)
    assert RougeFilter(0.5, ["alpha bravo"]).is_novel(cand)  # bound == threshold: scored, 0.5 is not > 0.5
    rng = random.Random(3)
    words = TEN.split()
    for _ in range(200):
        a = " ".join(rng.choices(words, k=rng.randint(1, 12)))
        b = " ".join(rng.choices(words, k=rng.randint(1, 12)))
        f = RougeFilter(0.6, [a])
        assert f.is_novel(b) == (f.max_similarity(b) <= 0.6)


def test_invalid_threshold() -> None:
    with pytest.raises(HarnessError):
        RougeFilter(1.5)


# --- keyword / length / prefix / dedupe filters -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Draw a cat for my kids", "keyword"),
        ("Please go to the store and buy milk", "keyword"),
        ("Summarize this FILE for me please", "keyword"),
        ("Describe three famous paintings with images", "keyword"),
        ("Describe the drawing room of a house", None),  # "draw" only as a whole word
        ("Explain the profile of a good manager", None),  # "file" inside "profile"
        ("Write a poem", "too_short"),  # 3 words
        ("Write a short poem", None),  # 4 words
        ("Write a program that sorts numbers", "banned_prefix"),
        ('"Quote" this sentence for me', "punctuation_start"),
        ("Écris un poème sur la mer", "non_ascii_start"),
        ("   ", "empty"),
    ],
)
def test_rejection_reasons(text: str, reason: str | None) -> None:
    assert rejection_reason(text, InstructionFilterConfig()) == reason


def test_length_limits_inclusive() -> None:
    cfg = InstructionFilterConfig()
    assert rejection_reason(" ".join(["word"] * 150), cfg) is None
    assert rejection_reason(" ".join(["word"] * 151), cfg) == "too_long"
    custom = InstructionFilterConfig(min_words=2, max_words=3, blocklist=("poem",))
    assert rejection_reason("Explain tides", custom) is None
    assert rejection_reason("Explain the tides now", custom) == "too_long"
    assert rejection_reason("Write a poem", custom) == "keyword"


def test_filter_instructions_counts_and_grows_pool() -> None:
    pool = RougeFilter(0.7, ["Write a short poem about the ocean at night"])
    kept, reasons = filter_instructions(
        [
            "Explain how  vaccines train the immune system",  # kept (whitespace collapsed)
            "explain how vaccines train the IMMUNE system",  # exact duplicate of the previous, case-insensitively
            "Write a short poem about the ocean at dawn",  # ROUGE-L 0.889 with the pool
            "Explain how vaccines train the immune response",  # ROUGE-L 6/7 with the kept candidate
            "Plot the sales figures of last year",  # keyword
            "Say hi",  # too short
            "Give three tips for staying focused while studying",  # kept
        ],
        pool,
    )
    assert kept == [
        "Explain how vaccines train the immune system",
        "Give three tips for staying focused while studying",
    ]
    assert reasons == Counter({"duplicate": 1, "rouge": 2, "keyword": 1, "too_short": 1})
    assert pool.pool[1:] == tuple(kept)


def test_filter_instructions_duplicate_of_pool_even_at_threshold_1() -> None:
    pool = RougeFilter(1.0, ["Name three rivers in Europe"])
    kept, reasons = filter_instructions(["name three  rivers in europe"], pool)
    assert kept == [] and reasons == Counter({"duplicate": 1})


def test_filter_instructions_word_overrides() -> None:
    kept, reasons = filter_instructions(
        ["Explain tides", "Explain ocean tides please"], RougeFilter(), max_words=3, min_words=2
    )
    assert kept == ["Explain tides"] and reasons == Counter({"too_long": 1})
    with pytest.raises(HarnessError):
        filter_instructions(["x"], RougeFilter(), min_words=5, max_words=2)
