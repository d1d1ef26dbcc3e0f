"""AlpacaEval 2 scoring against the published leaderboard CSV and alpaca_eval's own functions, run here.

The hub dataset (tatsu-lab/alpaca_eval) is never reached: HF_HUB_OFFLINE is set and its files are served from a
local Hugging Face cache built in tmp_path, through which both implementations read them. df_gamed.csv and
instruction_difficulty.csv are not in ../shared, so the tests build them from the shared annotations (see
``_gamed_frame``); the published length_controlled_winrate therefore is not an expected value here.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import warnings
from pathlib import Path
from typing import Any

import alpaca_eval as ae_ref  # the reference implementation (test-only dependency)
import numpy as np
import pandas as pd
import pytest
import sklearn
from alpaca_eval.metrics import glm_winrate, winrate

from benchmarks.alpaca_eval import lc as alpaca_eval_lc
from benchmarks.alpaca_eval import scorer as alpaca_eval
from harness.types import HarnessError

CSV = "alpaca_eval/src/alpaca_eval/leaderboards/data_AlpacaEval_2/weighted_alpaca_eval_gpt4_turbo_leaderboard.csv"
WEIGHTS = "alpaca_eval/src/alpaca_eval/metrics/weights/weighted_alpaca_eval_gpt4_turbo/length_controlled_v1/baseline_gpt4_1106_preview.csv"  # fmt: skip
BASELINE = "gpt4_1106_preview"
MODELS = ["alpaca-7b", "OpenHermes-2.5-Mistral-7B", "FuseChat-Llama-3.1-8B-Instruct"]
SNAPSHOT = "0123456789abcdef0123456789abcdef01234567"


def _annotations_path(shared: Path, model: str) -> Path:
    return shared / "alpaca_eval" / "results" / model / "weighted_alpaca_eval_gpt4_turbo" / "annotations.json"


def _outputs_path(shared: Path, model: str) -> Path:
    return shared / "alpaca_eval" / "results" / model / "model_outputs.json"


@pytest.fixture()
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A local HF cache for the tatsu-lab/alpaca_eval dataset repo, offline; returns a function adding a file."""
    import huggingface_hub.constants as hf_constants

    cache = tmp_path / "hf_cache"
    repo = cache / "datasets--tatsu-lab--alpaca_eval"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(SNAPSHOT)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(cache))

    def put(filename: str, text: str) -> None:
        (repo / "snapshots" / SNAPSHOT).mkdir(parents=True, exist_ok=True)
        (repo / "snapshots" / SNAPSHOT / filename).write_text(text)

    return put


def _difficulty(shared: Path) -> np.ndarray:
    """A per-instruction difficulty fitted from the shared annotations: -logit of the models' mean preference."""
    p = np.mean(
        [[r["preference"] - 1 for r in json.loads(_annotations_path(shared, m).read_text())] for m in MODELS], 0
    )
    p = np.clip(p, 0.02, 0.98)
    return -np.log(p / (1 - p))


def _gamed_frame(shared: Path, model: str) -> pd.DataFrame:
    """df_gamed.csv stand-in: the two *other* models' annotations as the two not_gamed_baseline=False blocks.

    The columns alpaca_eval reads from the hub file (model, index, preference in [0, 1], std_delta_len
    standardised per block, instruction_difficulty, not_gamed_baseline); the first block lists instructions 0..804
    in order, so alpaca_eval's row-label difficulty lookup and ours (by 'index') agree.
    """
    diff = _difficulty(shared)
    blocks = []
    for other in [m for m in MODELS if m != model]:
        a = pd.DataFrame(json.loads(_annotations_path(shared, other).read_text()))
        delta = a["output_1"].str.len() - a["output_2"].str.len()
        pref = a["preference"].astype(float).replace({0.0: 1.5}) - 1
        blocks.append(
            pd.DataFrame(
                {
                    "model": other,
                    "index": range(len(a)),
                    "preference": pref,
                    "std_delta_len": delta / delta.std(),
                    "instruction_difficulty": diff,
                    "not_gamed_baseline": False,
                }
            )
        )
    return pd.concat(blocks, ignore_index=True)


def _reference_lc(annotations: list[dict[str, Any]], weights_dir: Path | None = None) -> dict[str, Any]:
    with sklearn.config_context(), warnings.catch_warnings():  # alpaca_eval sets sklearn's global config
        warnings.simplefilter("ignore", FutureWarning)
        return glm_winrate.get_length_controlled_winrate(pd.DataFrame(annotations), save_weights_dir=weights_dir)


# -- win rate --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", [*MODELS, BASELINE])
def test_scores_equal_the_leaderboard_csv(shared: Path, model: str) -> None:
    row = pd.read_csv(shared / CSV, index_col=0).loc[model]
    ours = alpaca_eval.score_alpaca_eval(_annotations_path(shared, model), _outputs_path(shared, model))
    assert (ours["model"], ours["baseline"]) == (model, BASELINE)
    for col in ("win_rate", "standard_error", "discrete_win_rate"):
        assert ours[col] == pytest.approx(row[col], rel=1e-12, abs=1e-12), col
    for col in ("n_wins", "n_wins_base", "n_draws", "n_total", "avg_length"):
        assert ours[col] == int(row[col]), col
    # without model_outputs.json avg_length comes from the annotations' output_2: the same outputs here
    assert alpaca_eval.score_alpaca_eval(_annotations_path(shared, model))["avg_length"] == int(row["avg_length"])
    # and alpaca_eval's own get_winrate on the same file
    ref = winrate.get_winrate(pd.read_json(_annotations_path(shared, model)))
    for key, value in ref.items():
        assert ours[key] == pytest.approx(value, rel=1e-12, abs=0), key


def test_avg_length_of_llama3(shared: Path) -> None:
    row = pd.read_csv(shared / CSV, index_col=0).loc["Meta-Llama-3-8B-Instruct"]
    outputs = alpaca_eval.load_model_outputs(_outputs_path(shared, "Meta-Llama-3-8B-Instruct"))
    assert len(outputs) == 805
    assert alpaca_eval.avg_length(outputs) == int(row["avg_length"]) == 1899


def test_baseline_lc_is_the_leaderboard_50(shared: Path) -> None:
    row = pd.read_csv(shared / CSV, index_col=0).loc[BASELINE]
    ann = alpaca_eval.load_annotations(_annotations_path(shared, BASELINE))
    lc = alpaca_eval.length_controlled_win_rate(ann, gamed=None)
    assert lc.win_rate == row["length_controlled_winrate"] == 50.0 and lc.standard_error == 0.0


@pytest.mark.parametrize("seed", range(6))
def test_draws_invalid_and_missing_as_alpaca_eval(seed: int) -> None:
    rng = random.Random(seed)
    special = [0, 0.0, 1.5, 1, 2, None, float("nan"), 2.5, 0.4, -0.3, 1.49, 1.51, 3.0, 0.5]
    prefs = [rng.choice(special) if rng.random() < 0.4 else 1 + rng.random() for _ in range(60)]
    ours = alpaca_eval.win_rate_metrics(prefs)
    ref = winrate.pairwise_to_winrate(prefs)
    assert set(ours) == set(ref)
    for key, value in ref.items():
        assert ours[key] == pytest.approx(value, rel=1e-12, nan_ok=True), key


def test_draw_conventions() -> None:
    m = alpaca_eval.win_rate_metrics([1.0, 2.0, 1.5, 0.0, 1.75])
    assert m["n_draws"] == 2 and m["n_total"] == 5
    assert m["win_rate"] == pytest.approx(100 * (0 + 1 + 0.5 + 0.5 + 0.75) / 5)
    assert (m["n_wins"], m["n_wins_base"]) == (2, 1)
    assert m["discrete_win_rate"] == pytest.approx(100 * (0 + 1 + 0.5 + 0.5 + 1) / 5)


# -- length-controlled win rate --------------------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_lc_equals_alpaca_eval_glm(shared: Path, hub, tmp_path: Path, model: str) -> None:
    hub(alpaca_eval_lc.GAMED_FILE, _gamed_frame(shared, model).to_csv(index=False))
    ann = alpaca_eval.load_annotations(_annotations_path(shared, model))
    ref = _reference_lc(ann, tmp_path / "weights")
    ours = alpaca_eval.score_alpaca_eval(_annotations_path(shared, model), lc_from_hub=True)
    assert ours["lc_win_rate"] == pytest.approx(ref["length_controlled_winrate"], abs=1e-6)
    assert ours["lc_standard_error"] == pytest.approx(ref["lc_standard_error"], abs=1e-6)
    saved = pd.read_csv(tmp_path / "weights" / "length_controlled_v1" / f"baseline_{BASELINE}.csv", index_col=0)
    for name, w in ours["lc_weights"].items():
        assert w == pytest.approx(saved.loc[model, name], abs=1e-9), name
    # the length control moves the win rate (the test would not notice a GLM that ignored length)
    assert abs(ours["lc_win_rate"] - ours["win_rate"]) > 0.5


def test_lc_with_missing_preferences_and_noreg(shared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Annotations without a preference leave the fit but stay in the prediction; the unregularised GLM too."""
    model = "FuseChat-Llama-3.1-8B-Instruct"
    gamed_csv = tmp_path / "df_gamed.csv"
    _gamed_frame(shared, model).to_csv(gamed_csv, index=False)
    monkeypatch.setattr(glm_winrate, "hf_hub_download", lambda **kw: str(gamed_csv))  # its only hub read here
    ann = alpaca_eval.load_annotations(_annotations_path(shared, model))
    for i in range(0, len(ann), 7):
        ann[i]["preference"] = None
    ref = _reference_lc(ann)
    ours = alpaca_eval.length_controlled_win_rate(ann, gamed=alpaca_eval_lc.load_gamed(gamed_csv))
    assert ours.win_rate == pytest.approx(ref["length_controlled_winrate"], abs=1e-6)
    assert ours.standard_error == pytest.approx(ref["lc_standard_error"], abs=1e-6)
    assert len(ours.predicted) == len(ann)
    with sklearn.config_context(), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        ref_noreg = glm_winrate.get_length_controlled_winrate(
            pd.DataFrame(ann), glm_name="length_controlled_noreg", save_weights_dir=None
        )
    noreg = alpaca_eval.length_controlled_win_rate(
        ann, gamed=alpaca_eval_lc.load_gamed(gamed_csv), regularize_lambda=None
    )
    assert noreg.win_rate == pytest.approx(ref_noreg["length_controlled_winrate"], abs=1e-6)
    assert noreg.win_rate != pytest.approx(ours.win_rate, abs=1e-3)


def test_lc_by_instruction_for_a_subset(shared: Path) -> None:
    """With eval_instructions, a shuffled subset gets each instruction's own difficulty."""
    model = "alpaca-7b"
    gamed = _gamed_frame(shared, model)
    ann = alpaca_eval.load_annotations(_annotations_path(shared, model))
    order = [r["instruction"] for r in alpaca_eval.load_eval_set(_outputs_path(shared, BASELINE))]
    subset = random.Random(0).sample(ann, 600)
    lc = alpaca_eval.length_controlled_win_rate(subset, gamed=gamed, eval_instructions=order)
    pos = [order.index(a["instruction"]) for a in subset]
    diff = gamed.drop_duplicates("index")["instruction_difficulty"].to_numpy()[pos]
    w = lc.weights
    expected = 1 / (1 + np.exp(-(w["instruction_difficulty"] * diff + w["not_gamed_baseline.astype(float)"])))
    assert w["instruction_difficulty"] != 0 and np.allclose(lc.predicted, expected, rtol=1e-12)
    with pytest.raises(HarnessError, match="annotation 0: instruction not in the evaluation set"):
        alpaca_eval.length_controlled_win_rate(subset, gamed=gamed, eval_instructions=order[:1])


def test_predict_win_rate_from_saved_weights(shared: Path, hub) -> None:
    """alpaca_eval's predict_winrate on the published weights, with the same instruction_difficulty.csv."""
    diff = pd.Series(_difficulty(shared), name="instruction_difficulty")
    hub(alpaca_eval_lc.DIFFICULTY_FILE, diff.to_csv())
    weights = pd.read_csv(shared / WEIGHTS, index_col=0)
    weights = weights[~weights.index.duplicated(keep="last")]  # the file lists gpt4_1106_preview twice
    difficulty = alpaca_eval_lc.load_instruction_difficulty()
    assert np.array_equal(difficulty.to_numpy(), diff.to_numpy())
    for model, base in [("FuseChat-Llama-3.1-8B-Instruct", BASELINE), ("alpaca-7b", "Meta-Llama-3-8B-Instruct")]:
        ours = alpaca_eval_lc.predict_win_rate(weights, model, base, difficulty)
        assert ours == pytest.approx(glm_winrate.predict_winrate(model, base, weights=weights), abs=1e-12)
    with pytest.raises(HarnessError, match="no row for 'nope'"):
        alpaca_eval_lc.predict_win_rate(weights, "nope", BASELINE, difficulty)


def test_hub_unavailable_is_one_line_error(hub) -> None:
    with pytest.raises(
        HarnessError, match=re.escape("cannot fetch df_gamed.csv from the tatsu-lab/alpaca_eval hub dataset")
    ):
        alpaca_eval_lc.load_gamed()


# -- loaders ---------------------------------------------------------------------------------------------------


def test_eval_set_from_hub_and_local(shared: Path, hub) -> None:
    hub(alpaca_eval.EVAL_SET_FILE, _outputs_path(shared, BASELINE).read_text())
    rows = alpaca_eval.load_eval_set()
    assert len(rows) == 805 and {r["generator"] for r in rows} == {BASELINE}
    assert rows == alpaca_eval.load_eval_set(_outputs_path(shared, BASELINE))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[]", "expected a non-empty JSON list"),
        ("{}", "expected a non-empty JSON list"),
        ("[1]", "item 0: expected an object, got int"),
        ('[{"instruction": "i", "output_1": "a", "output_2": "b", "generator_1": "g", "generator_2": "h"}]',
         "item 0: missing field 'preference'"),
        ('[{"instruction": "i", "output_1": "a", "output_2": "b", "generator_1": "g", "preference": 1}]',
         "item 0: missing field 'generator_2'"),
        ('[{"instruction": 3, "output_1": "a", "output_2": "b", "generator_1": "g", "generator_2": "h", '
         '"preference": 1}]', "item 0: field 'instruction' must be a string, got int"),
        ('[{"instruction": "i", "output_1": "a", "output_2": "b", "generator_1": "g", "generator_2": "h", '
         '"preference": 1}, {"instruction": "i", "output_1": "a", "output_2": "b", "generator_1": "g", '
         '"generator_2": "h", "preference": "2"}]', "item 1: field 'preference' must be a number or null"),
        ('[{"instruction": "i", "output_1": "a", "output_2": "b", "generator_1": "g", "generator_2": "h", '
         '"preference": 2.5}]', r"item 0: field 'preference' must lie in \[1, 2\]"),
        ('[{"instruction": "i", "output_1": "a", "output_2": "b", "generator_1": "g", "generator_2": "h", '
         '"preference": true}]', "item 0: field 'preference' must be a number or null"),
        # two models' annotations in one file are refused, never pooled under the first row's name
        ('[{"instruction": "i", "output_1": "a", "output_2": "b", "generator_1": "g", "generator_2": "h", '
         '"preference": 2}, {"instruction": "i", "output_1": "a", "output_2": "b", "generator_1": "g", '
         '"generator_2": "k", "preference": 1}]', "item 1: generator_2 'k' differs from item 0's 'h'"),
        ('[{"instruction": "i", "output_1": "a", "output_2": "b", "generator_1": "g", "generator_2": "h", '
         '"preference": 2}, {"instruction": "i", "output_1": "a", "output_2": "b", "generator_1": "f", '
         '"generator_2": "h", "preference": 1}]', "item 1: generator_1 'f' differs from item 0's 'g'"),
    ],
)  # fmt: skip
def test_bad_annotations(tmp_path: Path, content: str, message: str) -> None:
    p = tmp_path / "annotations.json"
    p.write_text(content)
    with pytest.raises(HarnessError, match=rf"annotations.json: {message}"):
        alpaca_eval.load_annotations(p)


def test_annotation_nan_is_missing_and_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "annotations.json"
    row = '{"instruction": "i", "output_1": "a", "output_2": "b", "generator_1": "g", "generator_2": "h"'
    p.write_text(f'[{row}, "preference": NaN}}, {row}, "preference": 0}}]')
    assert [r["preference"] for r in alpaca_eval.load_annotations(p)] == [None, 0]
    p.write_text("")
    with pytest.raises(HarnessError, match=re.escape("annotations.json:1: malformed JSON")):
        alpaca_eval.load_annotations(p)


def test_bad_model_outputs(tmp_path: Path) -> None:
    p = tmp_path / "model_outputs.json"
    p.write_text('[{"instruction": "i", "output": "o", "generator": "g"}, {"instruction": "j", "output": null}]')
    with pytest.raises(
        HarnessError, match=re.escape("model_outputs.json: item 1: field 'output' must be a string, got NoneType")
    ):
        alpaca_eval.load_model_outputs(p)
    p.write_text('[{"instruction": "i", "output": "o", "generator": 7}]')
    with pytest.raises(HarnessError, match="item 0: field 'generator' must be a string, got int"):
        alpaca_eval.load_model_outputs(p)


def test_bad_lc_inputs(tmp_path: Path) -> None:
    p = tmp_path / "df_gamed.csv"
    p.write_text("model,index,preference,std_delta_len,not_gamed_baseline\nm,0,0.5,0.1,False\n")
    with pytest.raises(HarnessError, match=re.escape("df_gamed.csv: missing column 'instruction_difficulty'")):
        alpaca_eval_lc.load_gamed(p)
    p.write_text("index,preference,std_delta_len,instruction_difficulty,not_gamed_baseline\n0,1.5,0.1,0.2,False\n")
    with pytest.raises(HarnessError, match=r"df_gamed.csv: row 0: 'preference' must lie in \[0, 1\]"):
        alpaca_eval_lc.load_gamed(p)
    d = tmp_path / "instruction_difficulty.csv"
    d.write_text(",instruction_difficulty\n0,0.5\n1,oops\n")
    with pytest.raises(HarnessError, match=re.escape("instruction_difficulty.csv: expected two columns")):
        alpaca_eval_lc.load_instruction_difficulty(d)
    ann = [{"instruction": str(i), "output_1": "a" * i, "output_2": "b", "generator_1": "g", "generator_2": "h",
            "preference": 1.5} for i in range(10)]  # fmt: skip
    short = pd.Series([0.0] * 5)
    with pytest.raises(HarnessError, match="annotation 5: no difficulty for instruction 5"):
        alpaca_eval.length_controlled_win_rate(ann, gamed=None, difficulty=short, regularize_lambda=None)
    with pytest.raises(HarnessError, match=re.escape("regularisation needs df_gamed.csv")):
        alpaca_eval.length_controlled_win_rate(ann, gamed=None, difficulty=short)
    with pytest.raises(HarnessError, match="one generator_2"):
        alpaca_eval.length_controlled_win_rate([*ann, {**ann[0], "generator_2": "x"}], gamed=None)


# -- annotations from our judge --------------------------------------------------------------------------------


def test_judge_order_and_flip_back_as_alpaca_eval(shared: Path) -> None:
    """Our switch decisions and flip-back equal the processor of alpaca_eval's own weighted annotator."""
    reference = alpaca_eval.load_eval_set(_outputs_path(shared, BASELINE))
    model = alpaca_eval.load_model_outputs(_outputs_path(shared, "OpenHermes-2.5-Mistral-7B"))
    pairs = alpaca_eval.judge_pairs(reference, list(reversed(model)))  # pairing is by instruction, not position
    assert [p.instruction for p in pairs] == [r["instruction"] for r in reference]
    annotator = ae_ref.annotators.PairwiseAnnotator(annotators_config="weighted_alpaca_eval_gpt4_turbo",
                                                    caching_path=None)  # fmt: skip
    (processor,) = next(iter(annotator.annotators.values())).processors
    df = pd.DataFrame([{"instruction": p.instruction, "output_1": p.output_1, "output_2": p.output_2} for p in pairs])
    shown = processor.preprocess(df)
    assert shown["is_switched_outputs"].tolist() == [p.switched for p in pairs]
    assert 300 < sum(p.switched for p in pairs) < 505
    assert list(zip(shown["output_1"], shown["output_2"], strict=True)) == [p.shown for p in pairs]
    # a judge preferring the longer shown output, 1 + P(second wins)
    q = [1 + 1 / (1 + np.exp((len(a) - len(b)) / 500)) for a, b in (p.shown for p in pairs)]
    q[3] = None
    shown["preference"] = q
    ref = processor.postprocess(shown)
    rows = alpaca_eval.annotations_from_judgments(pairs, q, annotator="ours")
    assert [r["preference"] for r in rows[:3]] == pytest.approx(ref["preference"][:3].tolist(), rel=0, abs=0)
    assert rows[3]["preference"] is None and np.isnan(ref["preference"][3])
    assert np.allclose([r["preference"] for r in rows[4:]], ref["preference"][4:], rtol=0, atol=0)
    assert alpaca_eval.win_rate_metrics([r["preference"] for r in rows])["n_total"] == len(rows) - 1


def test_judge_rows_have_the_annotations_shape(shared: Path) -> None:
    """Rows built from the recorded preferences, as if judged in shown order, score as the leaderboard."""
    model = "FuseChat-Llama-3.1-8B-Instruct"
    reference = alpaca_eval.load_eval_set(_outputs_path(shared, BASELINE))
    pairs = alpaca_eval.judge_pairs(reference, alpaca_eval.load_model_outputs(_outputs_path(shared, model)))
    recorded = alpaca_eval.load_annotations(_annotations_path(shared, model))
    q = [3 - a["preference"] if p.switched else a["preference"] for p, a in zip(pairs, recorded, strict=True)]
    rows = alpaca_eval.annotations_from_judgments(pairs, q, annotator="weighted_alpaca_eval_gpt4_turbo")
    keys = ["instruction", "dataset", "output_1", "generator_1", "output_2", "generator_2", "annotator", "preference"]
    for ours, theirs in zip(rows, recorded, strict=True):
        assert list(ours) == keys
        assert {k: ours[k] for k in keys if k != "preference"} == {k: theirs[k] for k in keys if k != "preference"}
        assert ours["preference"] == pytest.approx(theirs["preference"], abs=1e-12)
    row = pd.read_csv(shared / CSV, index_col=0).loc[model]
    assert alpaca_eval.win_rate_metrics([r["preference"] for r in rows])["win_rate"] == pytest.approx(row["win_rate"])
    # identical outputs are a draw without a judgment
    same = alpaca_eval.judge_pairs(reference[:3], reference[:3])
    assert [r["preference"] for r in alpaca_eval.annotations_from_judgments(same, [None, 1.0, 2.0], annotator="a")] == [
        1.5
    ] * 3
    with pytest.raises(HarnessError, match="not in the reference"):
        alpaca_eval.judge_pairs(reference[:3], [{"instruction": "new", "output": "x"}])
    with pytest.raises(HarnessError, match=r"judge preference 0: 0.5 is not in \[1, 2\]"):
        alpaca_eval.annotations_from_judgments(pairs[:1], [0.5], annotator="a")


def test_metric_values_are_the_registry_names(shared: Path, hub) -> None:
    from benchmarks.core.registry import get

    model = "alpaca-7b"
    hub(alpaca_eval_lc.GAMED_FILE, _gamed_frame(shared, model).to_csv(index=False))
    result = alpaca_eval.score_alpaca_eval(_annotations_path(shared, model), lc_from_hub=True)
    json.dumps(result)  # JSON-able
    values = {m.name: m for m in alpaca_eval.metric_values(result)}
    # every declared metric, the parse-failure count included (scored files and the live run alike)
    assert set(values) == {m.name for m in get("alpaca_eval").metrics}
    assert values["n_unparsed"].value == sum(a["preference"] is None for a in json.loads(
        _annotations_path(shared, model).read_text()))  # fmt: skip
    wr = values["win_rate"]
    assert wr.ci_low == pytest.approx(wr.value - 1.96 * result["standard_error"]) and wr.n == 805


def test_recorded_scores_reach_the_leaderboard(shared: Path, tmp_path: Path) -> None:
    """Scored through the harness, recorded, published: the table carries exactly the scored numbers."""
    import subprocess
    import sys

    store, out = tmp_path / "s.sqlite", tmp_path / "lb"
    scored = {}
    for model in MODELS:
        res = subprocess.run([sys.executable, "-m", "app", "score", "alpaca_eval", "--annotations",
                              str(_annotations_path(shared, model)), "--outputs", str(_outputs_path(shared, model)),
                              "--json", "--record", "--store", str(store)], capture_output=True, text=True)  # fmt: skip
        assert res.returncode == 0, res.stderr
        scored[model] = json.loads(res.stdout)
    lb = subprocess.run([sys.executable, "-m", "app", "leaderboard", "--store", str(store), "--out", str(out)],
                        capture_output=True, text=True)  # fmt: skip
    assert lb.returncode == 0, lb.stderr
    rows = {r["model"]: r for r in json.loads((out / "actor.json").read_text())["rows"]}
    assert set(rows) == set(MODELS)
    for model, s in scored.items():
        assert rows[model]["alpaca_eval.win_rate"]["value"] == s["win_rate"]
        assert rows[model]["alpaca_eval.avg_length"]["value"] == s["avg_length"]
        assert rows[model]["run_id"] == s["run_id"]
    assert "alpaca_eval.win_rate" in (out / "leaderboard.md").read_text()


@pytest.mark.vllm
def test_alpaca_eval_end_to_end(vllm_server_b, vllm_engine, shared: Path, tmp_path: Path) -> None:
    """The tiny model answers 4 AlpacaEval instructions (vLLM engine); a `vllm serve` tiny model is the weighted
    judge (top-5 logprobs, seeded order, flipped back)."""
    from benchmarks.core.registry import EvalContext, get, run_benchmark
    from harness.runner import Run
    from harness.store import Store

    store = Store(tmp_path / "s.sqlite")
    run = Run.start(store, "eval", {})
    ref = shared / "alpaca_eval" / "results" / "gpt4_1106_preview" / "model_outputs.json"
    ctx = EvalContext(model_spec="vllm:tiny", store=store, run=run, annotator_spec=vllm_server_b.spec, limit=4,
                      data={"alpaca_eval_reference": str(ref)}, options={"max_tokens": 16, "lc": "off"})  # fmt: skip
    ctx._models["vllm:tiny"] = vllm_engine
    res = run_benchmark("alpaca_eval", ctx)
    m = {x.name: x for x in res.metrics}
    assert all(get("alpaca_eval").metric(x) for x in m)  # every emitted metric is declared
    assert len(res.samples) == 4 and run.stats.calls_made == 4 + 4
    parsed = [s["preference"] for s in res.samples if s["preference"] is not None]
    assert res.extra["unparsed_judgments"] == m["n_unparsed"].value == 4 - len(parsed)
    assert all(1 <= p <= 2 for p in parsed)
    if parsed:
        assert m["win_rate"].value == pytest.approx(100 * sum(p - 1 for p in parsed) / len(parsed))
    ctx._models.clear()


def test_each_judge_request_has_its_own_seed(shared: Path, tmp_path: Path) -> None:
    """Every weighted-judge request carries a seed of its own (README), stable when --limit changes."""
    from benchmarks.core.registry import EvalContext, run_benchmark
    from harness.runner import Run
    from harness.store import Store
    from harness.types import Completion
    from tests.judges.scripted import Scripted

    def run(limit: int) -> list[int | None]:
        store = Store(tmp_path / f"s{limit}.sqlite")
        ctx = EvalContext(model_spec="actor", store=store, run=Run.start(store, "eval", {}), annotator_spec="judge",
                          limit=limit, data={"alpaca_eval_reference": str(_outputs_path(shared, BASELINE))},
                          options={"lc": "off"})  # fmt: skip
        ctx._models["actor"] = Scripted(lambda r, i: Completion(f"answer {len(r.messages[0].content)}", "stop", 1, 2))
        ctx._models["judge"] = judge = Scripted(lambda r, i: Completion("m", "stop", 1, 1))
        res = run_benchmark("alpaca_eval", ctx)
        # the test's own arithmetic of the documented rule: sha256 of "--seed \x00 instruction", 31 bits
        own = [int.from_bytes(hashlib.sha256(f"0\x00{a['instruction']}".encode()).digest()[:4], "big") & 0x7FFFFFFF
               for a in res.samples]  # fmt: skip
        assert [r.params.seed for r in judge.requests] == own
        return [r.params.seed for r in judge.requests]

    seeds = run(12)
    assert len(set(seeds)) == 12
    assert run(6) == seeds[:6]
