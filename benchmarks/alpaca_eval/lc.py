"""AlpacaEval 2 length-controlled win rate: alpaca_eval's ``length_controlled_v1`` GLM.

Reference: tatsu-lab/alpaca_eval ``src/alpaca_eval/metrics/glm_winrate.py`` (``get_length_controlled_winrate``,
``_get_featurized_data``, ``fit_LogisticRegressionCV``, ``predict_winrate``), alpaca-eval 0.6.6.

Definition, for the annotations of one model (output_2) against one baseline (output_1):

- features of instruction i: ``tanh(std_delta_len_i)`` with ``delta_len_i = len(output_1) - len(output_2)`` in
  characters, divided by the sample standard deviation (ddof=1) of ``delta_len`` over all the annotations; the
  instruction difficulty ``d_i``; ``not_gamed_baseline`` = 1. No intercept. Target: ``p_i - 1`` in [0, 1]
  (a legacy 0 is read as the draw 1.5); annotations without a preference are left out of the fit.
- regularisation (lambda = 0.2): the rows of the two "gamed" baselines (gpt4_1106_preview prompted to be verbose /
  concise, ``not_gamed_baseline`` = 0) are added to the fit with weight lambda / 2 each; the model's rows weigh 1.
- fit: L1 logistic regression (liblinear, no intercept, random_state 123) on soft labels, written as each row
  twice (label 1 weighted p, label 0 weighted 1 - p); C chosen from sklearn's default grid of 10 values by
  5-fold CV grouped by row (``GroupKFold``), scored by the weighted log loss of the soft labels.
- length_controlled_winrate = 100 * mean_i sigmoid(w_diff * d_i + w_not_gamed), i.e. the predicted preference at
  zero length difference, over every annotation (with or without a preference); lc_standard_error = 100 * pandas
  sem (ddof=1) of those predictions. When the model is the baseline both are 50 and 0 by construction.

Inputs that alpaca_eval downloads from the ``tatsu-lab/alpaca_eval`` hub dataset: ``df_gamed.csv`` (the gamed
baselines' rows, and the difficulty column the GLM uses) and ``instruction_difficulty.csv`` (used by
``predict_winrate``). :func:`load_gamed` / :func:`load_instruction_difficulty` fetch them the same way
(``huggingface_hub.hf_hub_download``, dataset repo, env ``DATASETS_TOKEN``), or read local copies.

One deliberate difference: alpaca_eval looks the difficulty up by the *row label* of the first occurrence of each
instruction in ``df_gamed.csv``; here it is keyed by that row's ``index`` column. Both agree when, as in the
published file layout alpaca_eval relies on, the first block of rows lists instructions 0..N-1 in order; a
warning is issued when they would not.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.core.hub import hub_file
from harness.types import HarnessError, HarnessWarning

HUB_REPO = "tatsu-lab/alpaca_eval"  # the default of benchmarks.core.hub.hub_file
GAMED_FILE = "df_gamed.csv"
DIFFICULTY_FILE = "instruction_difficulty.csv"
REGULARIZE_LAMBDA = 0.2
N_SPLITS = 5
RANDOM_STATE = 123
# design columns, named as patsy names them in alpaca_eval's formula (and in its saved weights CSVs)
FEATURES = ("np.tanh(std_delta_len)", "instruction_difficulty", "not_gamed_baseline.astype(float)")
_GAMED_COLUMNS = ("index", "preference", "std_delta_len", "instruction_difficulty", "not_gamed_baseline")


@dataclass
class LCResult:
    """Length-controlled win rate (%), its standard error (%), the GLM weights and per-row predictions."""

    win_rate: float
    standard_error: float
    weights: dict[str, float]
    predicted: list[float] = field(repr=False)


def _read_csv(path: Path, **kwargs: Any) -> pd.DataFrame:
    try:
        return pd.read_csv(path, **kwargs)
    except FileNotFoundError as exc:
        raise HarnessError(f"{path}: no such file") from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise HarnessError(f"{path}: not a readable CSV ({exc})") from exc


def load_gamed(path: str | Path | None = None, *, cache_dir: str | Path | None = None) -> pd.DataFrame:
    """``df_gamed.csv``: one row per (gamed model, instruction) with index, preference in [0, 1] (or empty),
    std_delta_len, instruction_difficulty and not_gamed_baseline; from ``path`` or, when None, the hub."""
    p = Path(path) if path is not None else hub_file(GAMED_FILE, cache_dir=cache_dir)
    df = _read_csv(p)
    if df.empty:
        raise HarnessError(f"{p}: no rows")
    for col in _GAMED_COLUMNS:
        if col not in df.columns:
            raise HarnessError(f"{p}: missing column '{col}'")
    if df["not_gamed_baseline"].dtype != bool:
        raise HarnessError(f"{p}: column 'not_gamed_baseline' must hold True/False")
    for col in ("index", "preference", "std_delta_len", "instruction_difficulty"):
        if not pd.api.types.is_numeric_dtype(df[col]):
            raise HarnessError(f"{p}: column '{col}' must be numeric")
    for col in ("index", "std_delta_len", "instruction_difficulty"):
        bad = df[col].isna()
        if bad.any():
            raise HarnessError(f"{p}: row {int(np.argmax(bad.to_numpy()))}: empty '{col}'")
    if (df["index"] != df["index"].round()).any() or (df["index"] < 0).any():
        raise HarnessError(f"{p}: column 'index' must hold instruction numbers (non-negative integers)")
    pref = df["preference"]
    bad = pref.notna() & ((pref < 0) | (pref > 1))
    if bad.any():
        raise HarnessError(f"{p}: row {int(np.argmax(bad.to_numpy()))}: 'preference' must lie in [0, 1]")
    df = df.drop(columns=[c for c in ("model",) if c in df.columns])
    df["index"] = df["index"].astype(int)
    return df


def load_instruction_difficulty(path: str | Path | None = None, *, cache_dir: str | Path | None = None) -> pd.Series:
    """``instruction_difficulty.csv`` (first column: instruction number, second: difficulty), or the hub's."""
    p = Path(path) if path is not None else hub_file(DIFFICULTY_FILE, cache_dir=cache_dir)
    df = _read_csv(p, index_col=0)
    if df.shape[1] != 1 or df.empty or not pd.api.types.is_numeric_dtype(df.iloc[:, 0]):
        raise HarnessError(f"{p}: expected two columns, instruction number and numeric difficulty")
    if not pd.api.types.is_integer_dtype(df.index) or df.index.has_duplicates:
        raise HarnessError(f"{p}: the first column must hold distinct instruction numbers")
    s = df.iloc[:, 0]
    if s.isna().any():
        raise HarnessError(f"{p}: row {int(np.argmax(s.isna().to_numpy()))}: empty difficulty")
    return s.astype(float)


def difficulty_from_gamed(gamed: pd.DataFrame) -> pd.Series:
    """Instruction difficulty as the GLM uses it: the first ``instruction_difficulty`` of each ``index``."""
    first = gamed.drop_duplicates("index")
    # alpaca_eval indexes this series by row label, not by the 'index' column: say so when the two differ
    if not np.array_equal(first.index.to_numpy(), first["index"].to_numpy()):
        warnings.warn(
            "df_gamed: first rows are not instructions 0..N-1 in order; alpaca_eval would look the difficulty "
            "up by row position, here it is looked up by the 'index' column",
            HarnessWarning,
            stacklevel=2,
        )
    return pd.Series(first["instruction_difficulty"].to_numpy(float), index=first["index"].to_numpy(int))


def _weighted_soft_log_loss(
    y: np.ndarray, q: np.ndarray, true_prob: np.ndarray, true_sample_weight: np.ndarray
) -> float:
    """Mean of -w * (t log q + (1 - t) log(1 - q)), t the soft label of the row (same as alpaca_eval's scorer)."""
    t = np.where(np.asarray(y) == 1, true_prob, 1 - np.asarray(true_prob))
    q = np.clip(q, 1e-15, 1 - 1e-15)
    return float(-np.mean((t * np.log(q) + (1 - t) * np.log(1 - q)) * true_sample_weight))


def _l1_kwargs() -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegressionCV

    # sklearn >= 1.8 spells the L1 penalty l1_ratios=(1,) (penalty= is deprecated); both fit the same model
    if "use_legacy_attributes" in inspect.signature(LogisticRegressionCV).parameters:
        return {"l1_ratios": (1.0,), "use_legacy_attributes": False}
    return {"penalty": "l1"}


def fit_soft_logistic_cv(x: np.ndarray, target: np.ndarray, weight: np.ndarray, n_splits: int = N_SPLITS) -> np.ndarray:
    """L1 logistic regression (no intercept) of soft targets in [0, 1] with row weights; C by grouped k-fold CV.

    Each row enters twice, with label 1 weighted ``weight * target`` and label 0 weighted ``weight * (1 - target)``,
    so the likelihood is that of the soft target; both copies stay in the same fold. Returns the coefficients.
    """
    # sklearn is imported here, not at module load: only the LC fit needs it (0.8 s of a CLI start)
    import sklearn
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.metrics import make_scorer
    from sklearn.model_selection import GroupKFold

    n = len(target)
    if n < n_splits:
        raise HarnessError(f"length-controlled win rate: {n} annotated rows, fewer than the {n_splits} CV folds")
    x2 = np.vstack([x, x])
    y2 = np.concatenate([np.ones(n, dtype=int), np.zeros(n, dtype=int)])
    true_prob = np.concatenate([target, 1 - target])
    true_weight = np.concatenate([weight, weight])
    groups = np.concatenate([np.arange(n), np.arange(n)])
    # metadata routing passes the soft labels and row weights of each held-out fold to the CV scorer
    with sklearn.config_context(enable_metadata_routing=True):
        scorer = make_scorer(_weighted_soft_log_loss, response_method="predict_proba", greater_is_better=False)
        scorer = scorer.set_score_request(true_prob=True, true_sample_weight=True)
        model = LogisticRegressionCV(
            cv=GroupKFold(n_splits=n_splits),
            scoring=scorer,
            random_state=RANDOM_STATE,
            dual=False,
            solver="liblinear",
            fit_intercept=False,
            **_l1_kwargs(),
        )
        model.fit(
            x2,
            y2,
            sample_weight=true_prob * true_weight,
            groups=groups,
            true_prob=true_prob,
            true_sample_weight=true_weight,
        )
    return np.asarray(model.coef_[0], dtype=float)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0, -z))


def _instruction_numbers(
    annotations: Sequence[Mapping[str, Any]], eval_instructions: Sequence[str] | None
) -> np.ndarray:
    if eval_instructions is None:
        return np.arange(len(annotations))  # alpaca_eval: the annotation's row number
    where = {ins: i for i, ins in enumerate(eval_instructions)}
    out = []
    for k, a in enumerate(annotations):
        if a["instruction"] not in where:
            raise HarnessError(f"annotation {k}: instruction not in the evaluation set")
        out.append(where[a["instruction"]])
    return np.asarray(out, dtype=int)


def length_controlled_win_rate(
    annotations: Sequence[Mapping[str, Any]],
    *,
    gamed: pd.DataFrame | None,
    difficulty: pd.Series | None = None,
    regularize_lambda: float | None = REGULARIZE_LAMBDA,
    n_splits: int = N_SPLITS,
    eval_instructions: Sequence[str] | None = None,
) -> LCResult:
    """alpaca_eval's ``get_length_controlled_winrate`` (``length_controlled_v1``; see the module doc).

    ``annotations``: rows shaped as ``annotations.json`` (instruction, output_1, output_2, generator_1,
    generator_2, preference in [1, 2], 0 or None), one model against one baseline. ``gamed``: ``df_gamed.csv``
    (:func:`load_gamed`); ``difficulty``: per-instruction difficulty, by default the one in ``gamed``.
    The difficulty of annotation k is that of instruction k (alpaca_eval), or, given ``eval_instructions``,
    that of its instruction's position there. ``regularize_lambda`` None drops the gamed rows
    (alpaca_eval's ``length_controlled_noreg``).
    """
    if not annotations:
        raise HarnessError("length-controlled win rate: no annotations")
    for key in ("generator_1", "generator_2"):
        names = {a[key] for a in annotations}
        if len(names) != 1:
            raise HarnessError(f"length-controlled win rate: annotations must have one {key}, got {sorted(names)}")
    if annotations[0]["generator_1"] == annotations[0]["generator_2"]:  # the baseline against itself
        return LCResult(50.0, 0.0, dict.fromkeys(FEATURES, 0.0), [0.5] * len(annotations))
    if difficulty is None:
        if gamed is None:
            raise HarnessError("length-controlled win rate needs df_gamed.csv or an instruction difficulty")
        difficulty = difficulty_from_gamed(gamed)
    use_gamed = bool(regularize_lambda)
    if use_gamed and gamed is None:
        raise HarnessError("length-controlled win rate: the regularisation needs df_gamed.csv")

    pref = np.array([np.nan if a["preference"] is None else float(a["preference"]) for a in annotations])
    bad = ~np.isnan(pref) & ~((pref == 0) | ((pref >= 1) & (pref <= 2)))
    if bad.any():
        raise HarnessError(f"annotation {int(np.argmax(bad))}: preference must lie in [1, 2] (or be 0 / null)")
    pref = np.where(pref == 0, 1.5, pref) - 1
    numbers = _instruction_numbers(annotations, eval_instructions)
    missing = ~np.isin(numbers, difficulty.index.to_numpy())
    if missing.any():
        raise HarnessError(
            f"annotation {int(np.argmax(missing))}: no difficulty for instruction {numbers[missing][0]} "
            f"(the difficulty covers {len(difficulty)} instructions)"
        )
    diff = difficulty.loc[numbers].to_numpy(float)
    delta = pd.Series([len(a["output_1"]) - len(a["output_2"]) for a in annotations], dtype=float)
    sd = delta.std()  # pandas' ddof=1 estimator, as alpaca_eval
    if not np.isfinite(sd) or sd == 0:
        raise HarnessError("length-controlled win rate: the output length differences do not vary")
    x = np.column_stack([np.tanh((delta / sd).to_numpy()), diff, np.ones(len(pref))])
    w = np.ones(len(pref))
    if use_gamed:
        assert gamed is not None and regularize_lambda is not None
        ng = gamed["not_gamed_baseline"].to_numpy(bool)
        xg = np.column_stack(
            [np.tanh(gamed["std_delta_len"].to_numpy(float)), gamed["instruction_difficulty"].to_numpy(float), ng]
        )
        # the two gamed baselines share the weight lambda, as alpaca_eval
        x = np.vstack([xg, x])
        w = np.concatenate([np.where(ng, 1.0, regularize_lambda / 2), w])
        pref_all = np.concatenate([gamed["preference"].to_numpy(float), pref])
    else:
        pref_all = pref
    keep = ~np.isnan(pref_all)
    coef = fit_soft_logistic_cv(x[keep], pref_all[keep], w[keep], n_splits=n_splits)
    # prediction at zero length difference, not gamed: every annotation, with or without a preference
    predicted = _sigmoid(coef[1] * diff + coef[2])
    return LCResult(
        win_rate=float(predicted.mean() * 100),
        standard_error=float(pd.Series(predicted).sem() * 100),
        weights=dict(zip(FEATURES, map(float, coef), strict=True)),
        predicted=predicted.tolist(),
    )


def predict_win_rate(weights: pd.DataFrame, model: str, baseline: str, difficulty: pd.Series) -> float:
    """alpaca_eval's ``predict_winrate``: LC win rate of ``model`` vs ``baseline`` from saved GLM weights.

    ``weights``: rows per model, the columns of :data:`FEATURES` (alpaca_eval's ``metrics/weights/.../*.csv``).
    Returns mean_i sigmoid(dw_not_gamed + dw_diff * d_i) with dw = w[model] - w[baseline], as a fraction.
    """
    for name in (model, baseline):
        if name not in weights.index:
            raise HarnessError(f"GLM weights: no row for '{name}'")
    for col in FEATURES[1:]:
        if col not in weights.columns:
            raise HarnessError(f"GLM weights: missing column '{col}'")
    # .iloc[-1]: a weights file may list a model twice; alpaca_eval keeps the last row when it saves
    dw = weights.loc[[model]].iloc[-1] - weights.loc[[baseline]].iloc[-1]
    z = dw[FEATURES[2]] + dw[FEATURES[1]] * difficulty.to_numpy(float)
    return float(_sigmoid(z).mean())
