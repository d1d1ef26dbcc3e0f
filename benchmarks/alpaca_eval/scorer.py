"""AlpacaEval 2 scoring with alpaca_eval's definitions (tatsu-lab/alpaca_eval, alpaca-eval 0.6.6).

Win rate (``metrics/winrate.py:get_winrate``, ``metrics/helpers.py``: ``AbsoluteScoringRule`` and
``ZeroOneScoringRule.describe_head2head``), with p the preference of one instruction (1: the baseline's output_1
wins, 2: the model's output_2 wins, fractional for the weighted judge):

- n_draws = #(p == 1.5 or p == 0), counted before anything is dropped; 0 (legacy draw) is then read as 1.5;
  values outside [1, 2] and missing values are dropped; n_total = #kept.
- win_rate = 100 * mean(p - 1); standard_error = 100 * pandas sem (ddof=1) of (p - 1);
  n_wins = #(p - 1 > 0.5), n_wins_base = #(p - 1 < 0.5).
- discrete_win_rate: p binarised as ``ZeroOneScoringRule`` does (1.5 -> 0, then rounded half-to-even; 0 is a
  draw worth 0.5), then the same mean.
- avg_length (``main.evaluate``): int(mean number of characters of the model's outputs).
- lc_win_rate, lc_standard_error: the length-controlled GLM, see :mod:`benchmarks.alpaca_eval.lc`.

Judging (``annotators/pairwise_evaluator.py``, ``processors.py:RandomSwitchTwoColumnsProcessor``): the
baseline's output is output_1 and the model's output_2; each instruction's pair is shown to the judge swapped
when ``random.Random("is_switched_outputs" + instruction + str(seed)).choices([False, True])[0]`` is True, with
seed 0 (``PairwiseAnnotator``'s default, passed down to the processor), and the judge's preference q of the shown
order is turned back into 3 - q. Identical outputs get 1.5 without a judgment.

Reference data: the 805 instructions with the gpt4_1106_preview outputs, the AlpacaEval 2 reference, are the
``alpaca_eval_gpt4_baseline`` config of the ``tatsu-lab/alpaca_eval`` hub dataset (``constants.py:
get_alpaca_eval_data``). That config is read by a loading script, which ``datasets`` >= 4 no longer runs, so
:func:`load_eval_set` fetches the file the script reads, ``alpaca_eval_gpt4_baseline.json``, from the same repo.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.alpaca_eval.lc import (
    LCResult,
    length_controlled_win_rate,
    load_gamed,
    load_instruction_difficulty,
)
from benchmarks.core.hub import hub_file
from harness.files import read_json
from harness.types import HarnessError, MetricValue

__all__ = [
    "EVAL_SET_FILE",
    "SWITCH_SEED",
    "JudgePair",
    "LCResult",
    "annotations_from_judgments",
    "avg_length",
    "is_switched",
    "judge_pairs",
    "length_controlled_win_rate",
    "load_annotations",
    "load_eval_set",
    "load_model_outputs",
    "metric_values",
    "score_alpaca_eval",
    "score_annotations",
    "win_rate_metrics",
]

EVAL_SET_FILE = "alpaca_eval_gpt4_baseline.json"
SWITCH_SEED = 0
_SWITCH_COLUMN = "is_switched_outputs"  # alpaca_eval's name, part of the seed string
_OUTPUT_FIELDS = {"instruction": True, "output": True, "generator": False, "dataset": False}
_ANNOTATION_FIELDS = {
    "instruction": True,
    "output_1": True,
    "output_2": True,
    "generator_1": True,
    "generator_2": True,
    "annotator": False,
    "dataset": False,
}


def _records(path: str | Path, fields: Mapping[str, bool]) -> list[dict[str, Any]]:
    """A non-empty JSON list of objects whose ``fields`` (name -> required) are strings (or null when optional)."""
    data = read_json(path)
    if not isinstance(data, list) or not data:
        raise HarnessError(f"{path}: expected a non-empty JSON list of objects")
    for i, row in enumerate(data):
        if not isinstance(row, dict):
            raise HarnessError(f"{path}: item {i}: expected an object, got {type(row).__name__}")
        for name, required in fields.items():
            if name not in row:
                if required:
                    raise HarnessError(f"{path}: item {i}: missing field '{name}'")
                continue
            if not isinstance(row[name], str) and (required or row[name] is not None):
                raise HarnessError(f"{path}: item {i}: field '{name}' must be a string, got {type(row[name]).__name__}")
    return data


def load_model_outputs(path: str | Path) -> list[dict[str, Any]]:
    """alpaca_eval ``model_outputs.json``: a list of {instruction, output, generator?, dataset?, ...}."""
    return _records(path, _OUTPUT_FIELDS)


def load_annotations(path: str | Path) -> list[dict[str, Any]]:
    """alpaca_eval ``annotations.json``: {instruction, output_1, output_2, generator_1, generator_2, preference, ...}.

    preference must be a number in [1, 2], 0 (legacy draw) or null; NaN is read as null.
    """
    rows = _records(path, _ANNOTATION_FIELDS)
    for i, r in enumerate(rows):
        if "preference" not in r:
            raise HarnessError(f"{path}: item {i}: missing field 'preference'")
        p = r["preference"]
        if p is None:
            continue
        if isinstance(p, bool) or not isinstance(p, int | float):
            raise HarnessError(f"{path}: item {i}: field 'preference' must be a number or null, got {p!r}")
        if math.isnan(p):
            r["preference"] = None
        elif not (p == 0 or 1 <= p <= 2):
            raise HarnessError(f"{path}: item {i}: field 'preference' must lie in [1, 2] (or be 0 or null), got {p}")
    # one model against one baseline per file, as alpaca_eval scores it: annotations of two models would otherwise
    # be pooled into one win rate under the first row's name
    for field in ("generator_2", "generator_1"):
        for i, r in enumerate(rows):
            if r[field] != rows[0][field]:
                raise HarnessError(f"{path}: item {i}: {field} {r[field]!r:.60} differs from item 0's "
                                   f"{rows[0][field]!r:.60}; score one model against one baseline per file")  # fmt: skip
    return rows


def load_eval_set(path: str | Path | None = None, *, cache_dir: str | Path | None = None) -> list[dict[str, Any]]:
    """The AlpacaEval 2 instructions with the gpt4_1106_preview reference outputs.

    From ``path`` (a ``model_outputs.json``, e.g. ``results/gpt4_1106_preview/model_outputs.json``) or, when None,
    the hub dataset's ``alpaca_eval_gpt4_baseline.json`` (HF cache first; HF_HUB_OFFLINE=1 reads only the cache).
    """
    return load_model_outputs(path if path is not None else hub_file(EVAL_SET_FILE, cache_dir=cache_dir))


def win_rate_metrics(preferences: Sequence[float | None] | pd.Series) -> dict[str, Any]:
    """win_rate, standard_error, n_wins, n_wins_base, n_draws, n_total, discrete_win_rate (see the module doc).

    Matches alpaca_eval's ``get_winrate`` / ``pairwise_to_winrate``; counts are ints, rates floats in %.
    """
    p = pd.Series(preferences, dtype=float)
    out = _head2head(p, int(((p == 1.5) | (p == 0)).sum()))
    binary = p.replace({1.5: 0.0}).round()  # numpy rounds half to even, as pandas' Int64 rounding does
    out["discrete_win_rate"] = _head2head(binary, int((binary == 0).sum()))["win_rate"]
    return out


def _head2head(p: pd.Series, n_draws: int) -> dict[str, Any]:
    p = p.astype(float).replace({0.0: 1.5})
    x = p[(p >= 1) & (p <= 2)] - 1
    return {
        "win_rate": float(x.mean() * 100),
        "standard_error": float(x.sem() * 100),
        "n_wins": int((x > 0.5).sum()),
        "n_wins_base": int((x < 0.5).sum()),
        "n_draws": int(n_draws),
        "n_total": len(x),
    }


def avg_length(outputs: Sequence[Mapping[str, Any]], key: str = "output") -> int:
    """int(mean character count of ``row[key]``), the leaderboard's avg_length."""
    if not outputs:
        raise HarnessError("avg_length: no outputs")
    return int(np.mean([len(r[key]) for r in outputs]))


def is_switched(instruction: str, seed: int = SWITCH_SEED) -> bool:
    """Whether alpaca_eval shows this instruction's pair to the judge swapped (model first, baseline second)."""
    return random.Random(_SWITCH_COLUMN + instruction + str(seed)).choices([False, True], k=1)[0]


@dataclass(frozen=True)
class JudgePair:
    """One instruction's comparison: output_1 is the baseline's, output_2 the model's (annotations.json order)."""

    instruction: str
    output_1: str
    output_2: str
    generator_1: str
    generator_2: str
    dataset: str | None
    switched: bool

    @property
    def identical(self) -> bool:
        """Identical outputs are a draw (1.5) without a judgment, as alpaca_eval."""
        return self.output_1 == self.output_2

    @property
    def shown(self) -> tuple[str, str]:
        """(output_1, output_2) in the order the judge sees them."""
        return (self.output_2, self.output_1) if self.switched else (self.output_1, self.output_2)


def judge_pairs(
    reference: Sequence[Mapping[str, Any]],
    model: Sequence[Mapping[str, Any]],
    *,
    generator_1: str | None = None,
    generator_2: str | None = None,
    seed: int = SWITCH_SEED,
) -> list[JudgePair]:
    """Pair the model's outputs with the baseline's by instruction, in the reference's order.

    Instructions the model has no output for are left out (alpaca_eval's inner join); an instruction the reference
    lacks, or one listed twice, is an error. Generators default to the rows' ``generator`` fields.
    """
    by_instruction: dict[str, Mapping[str, Any]] = {}
    for i, r in enumerate(model):
        if r["instruction"] in by_instruction:
            raise HarnessError(f"model outputs: item {i}: instruction listed twice")
        by_instruction[r["instruction"]] = r
    ref_instructions = [r["instruction"] for r in reference]
    if len(set(ref_instructions)) != len(ref_instructions):
        raise HarnessError("reference outputs: an instruction is listed twice")
    extra = set(by_instruction) - set(ref_instructions)
    if extra:
        raise HarnessError(f"model outputs: {len(extra)} instruction(s) not in the reference, e.g. {min(extra)!r}")
    pairs = []
    for ref in reference:
        out = by_instruction.get(ref["instruction"])
        if out is None:
            continue
        pairs.append(
            JudgePair(
                instruction=ref["instruction"],
                output_1=ref["output"],
                output_2=out["output"],
                generator_1=generator_1 or ref.get("generator") or "reference",
                generator_2=generator_2 or out.get("generator") or "model",
                dataset=ref.get("dataset"),
                switched=is_switched(ref["instruction"], seed),
            )
        )
    if not pairs:
        raise HarnessError("no instruction of the model outputs is in the reference")
    return pairs


def annotations_from_judgments(
    pairs: Sequence[JudgePair], shown_preferences: Sequence[float | None], *, annotator: str
) -> list[dict[str, Any]]:
    """annotations.json rows from the judge's preferences q in [1, 2] of the *shown* order (None: no verdict).

    preference = 3 - q for a switched pair, q otherwise; 1.5 for identical outputs (their q is ignored).
    """
    if len(pairs) != len(shown_preferences):
        raise HarnessError(f"{len(pairs)} pairs but {len(shown_preferences)} judge preferences")
    rows = []
    for i, (pair, q) in enumerate(zip(pairs, shown_preferences, strict=True)):
        if pair.identical:
            pref: float | None = 1.5
        elif q is None or (isinstance(q, float) and math.isnan(q)):
            pref = None
        elif not 1 <= q <= 2:
            raise HarnessError(f"judge preference {i}: {q} is not in [1, 2]")
        else:
            pref = 3 - q if pair.switched else float(q)
        row: dict[str, Any] = {"instruction": pair.instruction}
        if pair.dataset is not None:
            row["dataset"] = pair.dataset
        row |= {
            "output_1": pair.output_1,
            "generator_1": pair.generator_1,
            "output_2": pair.output_2,
            "generator_2": pair.generator_2,
            "annotator": annotator,
            "preference": pref,
        }
        rows.append(row)
    return rows


def score_annotations(
    annotations: Sequence[Mapping[str, Any]],
    outputs: Sequence[Mapping[str, Any]] | None = None,
    *,
    gamed: pd.DataFrame | None = None,
    difficulty: pd.Series | None = None,
) -> dict[str, Any]:
    """Every metric of validated annotation rows (see :func:`score_alpaca_eval`); LC when ``gamed`` is given."""
    result: dict[str, Any] = {"model": annotations[0]["generator_2"], "baseline": annotations[0]["generator_1"]}
    result.update(win_rate_metrics([r["preference"] for r in annotations]))
    result["n_unparsed"] = sum(r["preference"] is None for r in annotations)  # no parsed preference: left out
    result["avg_length"] = avg_length(outputs) if outputs else avg_length(annotations, key="output_2")
    if gamed is not None:
        lc = length_controlled_win_rate(annotations, gamed=gamed, difficulty=difficulty)
        result |= {"lc_win_rate": lc.win_rate, "lc_standard_error": lc.standard_error, "lc_weights": lc.weights}
    return result


def score_alpaca_eval(
    annotations_path: str | Path,
    outputs_path: str | Path | None = None,
    *,
    gamed: str | Path | None = None,
    difficulty: str | Path | None = None,
    lc_from_hub: bool = False,
    cache_dir: str | Path | None = None,
) -> dict[str, Any]:
    """`harness score alpaca_eval`: every metric of one annotations file, as a JSON-able dict.

    avg_length is that of ``outputs_path`` when given, else of the annotations' output_2. The length-controlled
    win rate (lc_win_rate, lc_standard_error, lc_weights) is added when ``gamed`` (a ``df_gamed.csv``) is given
    or ``lc_from_hub`` is set (both inputs from the hub unless given); ``difficulty`` (an
    ``instruction_difficulty.csv``) replaces the difficulty column of ``df_gamed.csv``.
    """
    if difficulty is not None and gamed is None and not lc_from_hub:
        raise HarnessError("the length-controlled win rate needs df_gamed.csv too (or the hub)")
    ann = load_annotations(annotations_path)
    outputs = load_model_outputs(outputs_path) if outputs_path else None
    use_lc = gamed is not None or lc_from_hub
    result: dict[str, Any] = {"benchmark": "alpaca_eval", "annotations": str(annotations_path)}
    result |= score_annotations(
        ann,
        outputs,
        gamed=load_gamed(gamed, cache_dir=cache_dir) if use_lc else None,
        difficulty=None if difficulty is None else load_instruction_difficulty(difficulty),
    )
    return result


def to_rows(result: Mapping[str, Any]) -> dict[str, list[MetricValue]]:
    """The one model's rows of a :func:`score_alpaca_eval` result (:func:`metric_values`)."""
    return {str(result["model"]): metric_values(result)}


def metric_values(result: Mapping[str, Any]) -> list[MetricValue]:
    """The registry's alpaca_eval metrics of a :func:`score_alpaca_eval` result, rates with a normal 95% CI: the one
    step from the scorer to stored rows, for `harness eval` and `harness score alpaca_eval --record` alike. An
    undefined number (no parsed preference at all) is None, never NaN."""

    def num(x: Any) -> float | None:
        return None if x is None or not math.isfinite(float(x)) else float(x)

    n = int(result["n_total"])
    out = []
    for name, se_name in (("win_rate", "standard_error"), ("lc_win_rate", "lc_standard_error")):
        if name in result:
            v, se = num(result[name]), num(result[se_name])
            lo, hi = (None, None) if v is None or se is None else (v - 1.96 * se, v + 1.96 * se)
            out.append(MetricValue(name, v, lo, hi, n))
            out.append(MetricValue(se_name, se, n=n))
    out.append(MetricValue("discrete_win_rate", num(result["discrete_win_rate"]), n=n))
    out.append(MetricValue("avg_length", num(result["avg_length"]), n=n))
    if "n_unparsed" in result:
        out.append(MetricValue("n_unparsed", float(result["n_unparsed"]), n=n + int(result["n_unparsed"])))
    return out
