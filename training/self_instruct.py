"""New-instruction generation and filtering (Self-Rewarding Sec. 2.2 and 3.1.3, after Self-Instruct).

Self-Rewarding Sec. 3.1.3: "To generate new prompts we use a fixed model, Llama 2-Chat 70B with 8-shot prompting
following Self-Instruct (Wang et al., 2023), where we sample six demonstrations from the IFT data and two from the
model generated data ... We use their prompt template for non-classification tasks and apply the same filtering
techniques, including the ROUGE-L (Lin, 2004) similarity check, keyword filtering, and length filtering."

Neither paper text here reproduces the template or the filter constants, so they follow Self-Instruct
(Wang et al. 2023, prompt for new instructions in its appendix, and its released ``bootstrap_instructions.py``):

* prompt: "Come up with a series of tasks:" then "Task 1: ..." ... "Task 8: ..." and an open "Task 9:";
  demonstrations are whitespace-collapsed to one line and shuffled together;
* an instruction is rejected when its ROUGE-L F-measure with any instruction in the pool (seed + accepted)
  is > 0.7; accepted instructions join the pool;
* length: rejected when it has <= 3 or > 150 words;
* keywords (whole words, case-insensitive): Self-Instruct's list (image(s), graph(s), picture(s), file(s),
  map(s), draw, plot, go to) plus the additions of Alpaca (Taori et al. 2023): video, audio, music, flowchart,
  diagram; instructions starting with "Write a program", with punctuation or with a non-ASCII character.
* exact duplicates (case- and whitespace-insensitive) are rejected as well.
"""

from __future__ import annotations

import random
import re
import string
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from rouge_score import rouge_scorer, tokenizers

from harness.types import HarnessError

HEADER = "Come up with a series of tasks:"

DEFAULT_BLOCKLIST: tuple[str, ...] = (
    "image", "images", "graph", "graphs", "picture", "pictures", "file", "files", "map", "maps", "draw", "plot",
    "go to", "video", "audio", "music", "flowchart", "diagram",
)  # fmt: skip

_NEXT_TASK = re.compile(r"\n\s*Task\s*\d+\s*[:.]")
_LEADING_TASK = re.compile(r"^[ \t]*Task\s*\d+\s*[:.][ \t]*")  # a repeated label on the open line


def _one_line(text: str) -> str:
    return " ".join(text.split())


def normalize(text: str) -> str:
    """Key for exact-duplicate detection: lower case, runs of whitespace collapsed to one space, stripped."""
    return _one_line(text).lower()


def few_shot_prompt(
    seed_examples: Sequence[str],
    generated: Sequence[str],
    rng: random.Random,
    n_seed: int = 6,
    n_generated: int = 2,
) -> str:
    """The 8-shot prompt that asks for one new instruction (Self-Rewarding 3.1.3 / Self-Instruct).

    Draws ``min(n_generated, len(generated))`` model-generated instructions and fills the remaining
    ``n_seed + n_generated`` slots from ``seed_examples`` (as Self-Instruct does while few instructions have
    been generated), without replacement, then shuffles them. With fewer seed examples than slots, all of them
    are used. Each demonstration is collapsed to one line (trailing ":" removed) so the numbered list stays
    parseable. The prompt ends with the open slot ``Task {k+1}:``.
    """
    if n_seed < 0 or n_generated < 0 or n_seed + n_generated == 0:
        raise HarnessError(f"few_shot_prompt: need a positive number of demonstrations, got {n_seed}+{n_generated}")
    k_gen = min(n_generated, len(generated))
    demos = rng.sample(list(generated), k_gen)
    k_seed = min(n_seed + n_generated - k_gen, len(seed_examples))
    demos += rng.sample(list(seed_examples), k_seed)
    if not demos:
        raise HarnessError("few_shot_prompt: no seed examples to build the prompt from")
    rng.shuffle(demos)
    lines = [HEADER]
    lines += [f"Task {i}: {_one_line(d).rstrip(':')}" for i, d in enumerate(demos, start=1)]
    lines.append(f"Task {len(demos) + 1}:")
    return "\n".join(lines)


def parse_generated_instruction(text: str, *, truncated: bool = False) -> str | None:
    """The new instruction in a completion of :func:`few_shot_prompt`, or None.

    The completion continues after the open ``Task k:``; the instruction ends at the next ``Task n:`` line or
    at a blank line (Self-Instruct stops on "\\n\\n"); a completion that starts with a new ``Task n:`` line left
    the slot empty. A repeated ``Task k:`` label on the open line is removed, whitespace is collapsed. None when
    nothing is left, or when ``truncated`` (the generation hit its token limit) and no end marker was reached:
    the instruction may be cut off (Self-Instruct discards such outputs).
    """
    body = _LEADING_TASK.sub("", text, count=1)
    ends = [m.start() for m in (_NEXT_TASK.search(body), re.search(r"\n\s*\n", body)) if m is not None]
    if ends:
        body = body[: min(ends)]
    elif truncated:
        return None
    out = _one_line(body)
    return out or None


class RougeFilter:
    """A growing pool of instructions; a new one is accepted when its ROUGE-L F-measure with every pool member
    is <= ``threshold`` (rejected when > threshold with any, as Self-Instruct).

    ROUGE-L is ``rouge_score.rouge_scorer.RougeScorer(["rougeL"])`` (default tokenizer, no stemmer). Pairs whose
    token counts alone bound the score below the threshold are not scored: ROUGE-L F = 2 LCS / (m + n) <=
    2 min(m, n) / (m + n); the bound is only used with a margin, so results equal scoring every pair.
    """

    def __init__(self, threshold: float = 0.7, pool: Iterable[str] = ()) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise HarnessError(f"rouge threshold must lie in [0, 1], got {threshold}")
        self.threshold = threshold
        self._tokenizer = tokenizers.DefaultTokenizer(use_stemmer=False)
        self._scorer = rouge_scorer.RougeScorer(["rougeL"], tokenizer=self._tokenizer)
        self._pool: list[str] = []
        self._n_tokens: list[int] = []
        for text in pool:
            self.add(text)

    @property
    def pool(self) -> tuple[str, ...]:
        return tuple(self._pool)

    def __len__(self) -> int:
        return len(self._pool)

    def add(self, instruction: str) -> None:
        """Add to the pool unconditionally."""
        self._pool.append(instruction)
        self._n_tokens.append(len(self._tokenizer.tokenize(instruction)))

    def similarity(self, a: str, b: str) -> float:
        """ROUGE-L F-measure of two texts (symmetric)."""
        return float(self._scorer.score(a, b)["rougeL"].fmeasure)

    def max_similarity(self, instruction: str) -> float:
        """The highest ROUGE-L F-measure of ``instruction`` with a pool member (0.0 for an empty pool)."""
        return max((self.similarity(text, instruction) for text in self._pool), default=0.0)

    def is_novel(self, instruction: str) -> bool:
        """No pool member has ROUGE-L F > threshold with ``instruction``."""
        n = len(self._tokenizer.tokenize(instruction))
        for text, m in zip(self._pool, self._n_tokens, strict=True):
            if m + n == 0 or 2 * min(m, n) / (m + n) < self.threshold - 1e-6:
                continue  # the token counts bound the score below the threshold
            if self.similarity(text, instruction) > self.threshold:
                return False
        return True

    def add_if_novel(self, instruction: str) -> bool:
        """Add ``instruction`` when it is novel; return whether it was added."""
        if not self.is_novel(instruction):
            return False
        self.add(instruction)
        return True


@dataclass(frozen=True)
class InstructionFilterConfig:
    """Filters applied before the ROUGE-L check (defaults: Self-Instruct's, see the module docstring).

    An instruction passes the length filter when ``min_words <= words <= max_words`` (words split on
    whitespace).
    """

    min_words: int = 4
    max_words: int = 150
    blocklist: tuple[str, ...] = DEFAULT_BLOCKLIST
    banned_prefixes: tuple[str, ...] = ("Write a program",)
    reject_punctuation_start: bool = True
    reject_non_ascii_start: bool = True


def _blocked(text: str, blocklist: Sequence[str]) -> bool:
    return any(re.search(rf"\b{re.escape(w)}\b", text, flags=re.IGNORECASE) for w in blocklist)


def rejection_reason(instruction: str, config: InstructionFilterConfig) -> str | None:
    """Why ``instruction`` fails the non-ROUGE filters (``empty``, ``too_short``, ``too_long``, ``keyword``,
    ``banned_prefix``, ``punctuation_start``, ``non_ascii_start``), or None when it passes them."""
    text = _one_line(instruction)
    if not text:
        return "empty"
    words = len(text.split())
    if words < config.min_words:
        return "too_short"
    if words > config.max_words:
        return "too_long"
    if _blocked(text, config.blocklist):
        return "keyword"
    if any(text.lower().startswith(p.lower()) for p in config.banned_prefixes):
        return "banned_prefix"
    if config.reject_punctuation_start and text[0] in string.punctuation:
        return "punctuation_start"
    if config.reject_non_ascii_start and not text[0].isascii():
        return "non_ascii_start"
    return None


def filter_instructions(
    candidates: Iterable[str],
    pool: RougeFilter,
    config: InstructionFilterConfig | None = None,
    *,
    min_words: int | None = None,
    max_words: int | None = None,
) -> tuple[list[str], Counter[str]]:
    """Filter generated instructions in order; return (kept, rejection counts by reason).

    Each candidate is whitespace-collapsed, then checked by :func:`rejection_reason`, then for an exact duplicate
    (:func:`normalize`) of a pool member or an earlier candidate (reason ``duplicate``), then by ROUGE-L against
    the pool (reason ``rouge``). Kept instructions are added to ``pool`` (the pool grows, as in Self-Instruct), so
    later candidates are compared with earlier accepted ones. ``min_words`` / ``max_words`` override ``config``.
    """
    cfg = config or InstructionFilterConfig()
    if min_words is not None:
        cfg = replace(cfg, min_words=min_words)
    if max_words is not None:
        cfg = replace(cfg, max_words=max_words)
    if cfg.min_words < 0 or cfg.max_words < cfg.min_words:
        raise HarnessError(
            f"instruction length filter: need 0 <= min_words <= max_words, got {cfg.min_words}, {cfg.max_words}"
        )
    seen = {normalize(p) for p in pool.pool}
    kept: list[str] = []
    reasons: Counter[str] = Counter()
    for cand in candidates:
        text = _one_line(cand)
        why = rejection_reason(text, cfg)
        if why is None and normalize(text) in seen:
            why = "duplicate"
        if why is None and not pool.add_if_novel(text):
            why = "rouge"
        if why is not None:
            reasons[why] += 1
            continue
        seen.add(normalize(text))
        kept.append(text)
    return kept, reasons
