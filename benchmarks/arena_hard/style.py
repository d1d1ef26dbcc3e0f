"""Arena-Hard style control (upstream ``show_result.py -f length markdown``) for v0.1 and v2.0 judgment files.

References (lmarena/arena-hard-auto @ 196f6b8):

- ``utils/add_markdown_info.py``: an answer's style metadata: ``token_len`` (tiktoken's gpt-4o encoding,
  o200k_base, on the whole answer) and, counted after every code block's inner text (```` ```([^`]*)``` ````)
  is removed, headers (``^#{k}\\s`` for k = 1..6, multiline), lists (ordered ``^\\s*\\d+\\.\\s``, unordered
  ``^\\s*[-*+]\\s``) and bold (``\\*\\*[^*\\n]+\\*\\*``, ``__[^_\\n]+__``).
- ``show_result.py`` ``print_leaderboard_with_style_features``: per battle row (strong verdicts repeated, as
  in the plain score) the features [token_len, headers, lists, bold] of the model's and the baseline's
  answer to that question; the length feature is ``(l_m - l_b) / (l_m + l_b)``, each markdown feature is the
  density ``d = count / (token_len + 1)`` turned into ``(d_m - d_b) / (d_m + d_b + 1)``; the four columns are
  z-scored over the battle rows (standard deviation with n - 1). A Bradley-Terry model is fitted by logistic
  loss (soft labels 0 / 0.5 / 1, summed): logit = strength(model) - strength(baseline) + coefs . features, no
  intercept. ``utils/math_utils.py`` ``bootstrap_pairwise_model``: 100 rounds, each resampling the battle rows
  with replacement (``np.random.randint(0, n, (100, n))``, drawn once); the printed score is the **median**
  over the rounds of ``sigmoid(strength(model) - strength(baseline))``, its "CI" the 5th to 95th percentile,
  and the printed feature coefficients the median over the rounds.

Differences from upstream, stated in the output:

- the bootstrap is seeded (a private ``RandomState(seed)`` drawing the same (rounds, n) index array that
  ``np.random.seed(seed)`` before upstream's call would draw, given the same battle-row order);
- each round's fit is solved to convergence (Newton's method on the same loss, rows with the same model,
  question and features pooled); upstream runs torch LBFGS (lr 0.1) for at most 50 iterations;
- ``--control-features length`` (or ``markdown``) alone selects the length (markdown) columns; upstream's
  ``all_features[:, :1]`` there selects the first model's one-hot column instead (a bug);
- a feature column that is constant over the rows (z-score undefined; upstream asserts) is left out and its
  coefficient reported as null; a length feature with both lengths 0 is 0 (upstream: NaN, assert);
- the 90% interval is labelled as such, and a 95% one (2.5th to 97.5th percentile) is given beside it;
- answers without ``token_len`` are counted with tiktoken's o200k_base when it can be loaded (it is fetched
  from the network once, then cached); otherwise that is a one-line error.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.files import read_jsonl
from harness.types import HarnessError

FEATURES = ("token_len", "header_count", "list_count", "bold_count")
CONTROLS = {"length": (0,), "markdown": (1, 2, 3)}
ROUNDS = 100
_CODE_BLOCK = re.compile(r"```([^`]*)```")
# upstream's line patterns (^#{k}\s, ^\s*\d+\.\s, ^\s*[-*+]\s, multiline) counted as "a newline, or the text's
# start, followed on its own line by the mark": the same counts (a ^-anchored match ends at the first non-space
# character after the last newline of its leading whitespace, and one line start gives at most one match), and
# a pattern that starts with the literal "\n" is scanned several times faster than one that starts with ^
_LINE_MARKS = (
    re.compile(r"\n(?=#{1,6}\s)"),  # header of any level: a line matches ^#{k}\s for at most one k
    re.compile(r"\n(?=[^\S\n]*\d+\.\s)"),  # ordered list item
    re.compile(r"\n(?=[^\S\n]*[-*+]\s)"),  # unordered list item
)
_BOLD = (re.compile(r"\*\*[^*\n]+\*\*"), re.compile(r"__[^_\n]+__"))
_MAX_STEP = 5.0  # largest Newton step per parameter: a model that wins (loses) every battle diverges slowly
_TOL = 1e-9  # largest step (logit units) of a converged round
_MAX_ITER = 100


def markdown_counts(answer: str) -> tuple[int, int, int]:
    """add_markdown_info.py: (headers, list items, bold spans) of an answer, code blocks' inner text removed."""
    if "```" in answer:
        for block in _CODE_BLOCK.findall(answer):
            answer = answer.replace(block, "")
    text = "\n" + answer  # the text's start is a line start too
    headers = len(_LINE_MARKS[0].findall(text)) if "#" in answer else 0
    lists = len(_LINE_MARKS[1].findall(text)) + len(_LINE_MARKS[2].findall(text))
    bold = len(_BOLD[0].findall(answer)) if "**" in answer else 0
    bold += len(_BOLD[1].findall(answer)) if "__" in answer else 0
    return headers, lists, bold


_ENCODER: Any = None


def o200k_token_len(text: str) -> int:
    """add_markdown_info.py's ``token_len``: tiktoken ``encoding_for_model("gpt-4o")`` (o200k_base)."""
    global _ENCODER
    if _ENCODER is None:
        import tiktoken

        try:
            _ENCODER = tiktoken.encoding_for_model("gpt-4o")
        except Exception as e:  # noqa: BLE001 - offline without a cached o200k_base file: say so in one line
            raise HarnessError(
                "style control: an answer has no token_len and tiktoken's o200k_base encoding (upstream's "
                f"counter) cannot be loaded ({type(e).__name__}); run once with network access or set "
                "TIKTOKEN_CACHE_DIR to a cache that has it"
            ) from None
    return len(_ENCODER.encode(text, disallowed_special=()))


def _count(value: Any, where: str, field: str) -> int:
    # upstream sums a dict of sub-counts (h1..h6, ordered/unordered, **/__) and takes an int as is
    if isinstance(value, dict):
        value = (
            sum(value.values()) if all(isinstance(v, int) and not isinstance(v, bool) for v in value.values()) else None
        )
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise HarnessError(f"{where}: field '{field}' must be a non-negative count (or a dict of counts)")
    return int(value)


def _answer_text(row: Mapping[str, Any], where: str) -> str:
    if "messages" in row:  # v2.0: the last message's content.answer
        try:
            content = row["messages"][-1]["content"]
        except (KeyError, IndexError, TypeError):
            raise HarnessError(f"{where}: field 'messages[-1].content' is missing") from None
        text = content.get("answer") if isinstance(content, dict) else content
        field = "messages[-1].content.answer"
    else:  # v0.1 (FastChat): the first choice's first turn
        try:
            text = row["choices"][0]["turns"][0]["content"]
        except (KeyError, IndexError, TypeError):
            raise HarnessError(f"{where}: field 'choices[0].turns[0].content' is missing") from None
        field = "choices[0].turns[0].content"
    if not isinstance(text, str):
        raise HarnessError(f"{where}: field '{field}' must be a string")
    return text


def answer_features(
    row: Mapping[str, Any], where: str, token_len: Callable[[str], int] = o200k_token_len
) -> tuple[int, int, int, int]:
    """[token_len, headers, lists, bold] of one answer row: the file's ``metadata`` (v2.0) or
    ``choices[0].turns[0].token_len`` (v0.1) where present, else computed from the answer text."""
    meta = row.get("metadata") or row.get("conv_metadata") or {}
    if not isinstance(meta, dict):
        raise HarnessError(f"{where}: field 'metadata' must be an object")
    tokens: Any = meta.get("token_len")
    if tokens is None and "choices" in row:
        try:
            tokens = row["choices"][0]["turns"][0].get("token_len")
        except (KeyError, IndexError, TypeError, AttributeError):
            tokens = None
    text: str | None = None
    if tokens is None:
        text = _answer_text(row, where)
        tokens = token_len(text)
    out = [_count(tokens, where, "token_len")]
    if all(k in meta for k in FEATURES[1:]):
        out += [_count(meta[k], where, f"metadata.{k}") for k in FEATURES[1:]]
    else:
        out += list(markdown_counts(text if text is not None else _answer_text(row, where)))
    return out[0], out[1], out[2], out[3]


def load_answer_features(
    answers_dir: str | Path, token_len: Callable[[str], int] = o200k_token_len
) -> dict[str, dict[str, tuple[int, int, int, int]]]:
    """``model_answer/*.jsonl`` -> model -> question id (v2.0 ``uid``, v0.1 ``question_id``) -> features.

    The model is the rows' ``model`` field (v2.0, as upstream's ``get_model_style_metadata``) or the file's stem
    (v0.1, as ``utils.load_model_answers``)."""
    if not Path(answers_dir).is_dir():
        raise HarnessError(f"{answers_dir}: answers directory not found")
    files = sorted(Path(answers_dir).glob("*.jsonl"))
    if not files:
        raise HarnessError(f"{answers_dir}: no answer files (*.jsonl)")
    out: dict[str, dict[str, tuple[int, int, int, int]]] = {}
    if token_len is o200k_token_len and len(files) >= 8 and (os.cpu_count() or 1) > 1:
        # many files: parse them in worker processes (JSON decoding and the markdown scan are the command's
        # largest cost); forked, so nothing is re-imported
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        workers = min(len(files), os.cpu_count() or 1, 8)
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            parts = list(pool.map(_file_features, files, chunksize=max(1, len(files) // (4 * workers))))
    else:
        parts = [_file_features(f, token_len) for f in files]
    for part in parts:
        for model, qid, feats in part:
            out.setdefault(model, {})[qid] = feats
    return out


def _file_features(
    f: Path, token_len: Callable[[str], int] = o200k_token_len
) -> list[tuple[str, str, tuple[int, int, int, int]]]:
    out = []
    for r in read_jsonl(f):
        where = f"{f}:{r.get('__line__', '?')}"
        key = "uid" if "uid" in r else "question_id"
        qid = r.get(key)
        if isinstance(qid, bool) or not isinstance(qid, str | int):
            raise HarnessError(f"{where}: field '{key}' must be a string or an integer")
        model = r.get("model") if key == "uid" else f.name[: -len(".jsonl")]
        if not isinstance(model, str) or not model:
            raise HarnessError(f"{where}: field 'model' must be a non-empty string")
        out.append((model.split("/")[-1], str(qid), answer_features(r, where, token_len)))
    return out


@dataclass(frozen=True)
class StyleBattles:
    """Battle rows in upstream's order: the model (index into ``models``; the baseline is not among them),
    the question, the model's value (1 win, 0.5 tie, 0 loss) and the raw style features of both answers."""

    models: tuple[str, ...]
    baseline: str
    model: np.ndarray  # (n,) int
    question: np.ndarray  # (n,) int: index into the question ids, in order of appearance
    value: np.ndarray  # (n,) float
    model_features: np.ndarray  # (n, 4)
    baseline_features: np.ndarray  # (n, 4)


def make_style_battles(
    rows: Sequence[tuple[str, str, Sequence[float]]],
    features: Mapping[str, Mapping[str, Sequence[int]]],
    baseline: str,
) -> StyleBattles:
    """Battle rows from (model, question id, the model's battle values) per judgment row, in that order.

    A missing answer of the model or of the baseline is a one-line error naming it."""
    names = sorted({m for m, _, v in rows if v and m != baseline})
    if not names:
        raise HarnessError("style control: no battle against the baseline has a verdict")
    pos = {m: i for i, m in enumerate(names)}
    qpos: dict[str, int] = {}
    model, question, value, fm, fb = [], [], [], [], []
    if baseline not in features:
        raise HarnessError(f"style control: no answers of the baseline {baseline!r} in the answers directory")
    for m, q, vals in rows:
        if m == baseline or not vals:
            continue
        if m not in features:
            raise HarnessError(f"style control: no answers of model {m!r} in the answers directory")
        if q not in features[m]:
            raise HarnessError(f"style control: model {m!r} has no answer to question {q!r}")
        if q not in features[baseline]:
            raise HarnessError(f"style control: the baseline {baseline!r} has no answer to question {q!r}")
        k = len(vals)
        model += [pos[m]] * k
        question += [qpos.setdefault(q, len(qpos))] * k
        value += list(vals)
        fm += [features[m][q]] * k
        fb += [features[baseline][q]] * k
    return StyleBattles(
        tuple(names), baseline, np.asarray(model, np.int64), np.asarray(question, np.int64),
        np.asarray(value, np.float64), np.asarray(fm, np.float64), np.asarray(fb, np.float64),
    )  # fmt: skip


def style_features(model_features: np.ndarray, baseline_features: np.ndarray) -> np.ndarray:
    """show_result's four columns before z-scoring: normalised length difference, then the normalised
    differences of the three markdown densities."""
    lm, lb = model_features[:, 0], baseline_features[:, 0]
    total = lm + lb
    out = np.zeros_like(model_features, dtype=np.float64)
    np.divide(lm - lb, total, out=out[:, 0], where=total > 0)  # both empty: 0 (upstream: NaN)
    dm = model_features[:, 1:] / (lm[:, None] + 1)
    db = baseline_features[:, 1:] / (lb[:, None] + 1)
    out[:, 1:] = (dm - db) / (dm + db + 1)
    return out


def _newton(
    groups_model: np.ndarray,
    x: np.ndarray,
    w: np.ndarray,
    wy: np.ndarray,
    n_models: int,
    start: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Logistic-loss Bradley-Terry fit of every round at once: logit = beta[model] + x . gamma (the baseline's
    strength is 0), minimising sum_g w[r,g] * softplus(z) - wy[r,g] * z for each round r.

    Newton's method with the Hessian's block structure (beta's block is diagonal: each row has one model), so a
    step costs O(rounds x rows x features^2)."""
    from scipy import sparse

    rounds, n_groups = w.shape
    k = x.shape[1]
    # sparse maps from rows to models: per-model sums of a (rounds, rows) array are one sparse product
    cols = np.arange(n_groups)
    onehot_t = sparse.csr_array((np.ones(n_groups), (groups_model, cols)), shape=(n_models, n_groups))
    spread_t = sparse.csr_array(
        (x.T.ravel(), (((groups_model * k)[None, :] + np.arange(k)[:, None]).ravel(), np.tile(cols, k))),
        shape=(n_models * k, n_groups),
    ) if k else None  # fmt: skip
    xx = (x[:, :, None] * x[:, None, :]).reshape(n_groups, k * k)
    beta = np.zeros((rounds, n_models)) if start is None else np.repeat(start[0], rounds, axis=0)
    gamma = np.zeros((rounds, k)) if start is None else np.repeat(start[1], rounds, axis=0)
    active = np.arange(rounds)  # rounds not converged yet: only these are stepped
    for _ in range(_MAX_ITER):
        bt, gm, wa, wya = beta[active], gamma[active], w[active], wy[active]
        z = bt[:, groups_model] + gm @ x.T
        p = 1.0 / (1.0 + np.exp(-z))
        gz = wa * p - wya
        h = wa * p * (1.0 - p)
        g_beta = (onehot_t @ gz.T).T  # (R, M)
        d = np.maximum((onehot_t @ h.T).T, 1e-12)  # a model absent from a round stays put
        if k:
            b = (spread_t @ h.T).T.reshape(-1, n_models, k)  # (R, M, K): sum over the model's rows of h x
            schur = (h @ xx).reshape(-1, k, k) - np.einsum("rmk,rml->rkl", b / d[:, :, None], b)
            rhs = gz @ x - np.einsum("rmk,rm->rk", b, g_beta / d)
            step_gamma = np.linalg.solve(schur + 1e-12 * np.eye(k), rhs[..., None])[..., 0]
            step_beta = (g_beta - np.einsum("rmk,rk->rm", b, step_gamma)) / d
        else:
            step_gamma, step_beta = gm * 0, g_beta / d
        step_beta = np.clip(step_beta, -_MAX_STEP, _MAX_STEP)
        step_gamma = np.clip(step_gamma, -_MAX_STEP, _MAX_STEP)
        beta[active] = bt - step_beta
        gamma[active] = gm - step_gamma
        size = np.maximum(np.abs(step_beta).max(axis=1, initial=0.0), np.abs(step_gamma).max(axis=1, initial=0.0))
        active = active[size >= _TOL]
        if active.size == 0:
            break
    return beta, gamma


def fit_style(
    battles: StyleBattles, *, controls: Sequence[str] = ("length", "markdown"), seed: int = 42, rounds: int = ROUNDS
) -> dict[str, Any]:
    """The style-controlled leaderboard of one set of battles (see the module doc), as a JSON-able dict."""
    if rounds < 1:
        raise HarnessError("style control: rounds must be positive")
    bad = [c for c in controls if c not in CONTROLS]
    if bad or not controls:
        raise HarnessError(f"style control: control features must be among {', '.join(CONTROLS)}, got {bad or '[]'}")
    cols = sorted({i for c in controls for i in CONTROLS[c]})
    raw = style_features(battles.model_features, battles.baseline_features)[:, cols]
    n = raw.shape[0]
    std = raw.std(axis=0, ddof=1) if n > 1 else np.zeros(len(cols))
    usable = [j for j in range(len(cols)) if np.isfinite(std[j]) and std[j] > 0]
    x_all = (raw[:, usable] - raw[:, usable].mean(axis=0)) / std[usable]
    # rows of one model and question share their features: pool them (the loss is linear in the weights)
    group_key = battles.model * (int(battles.question.max(initial=0)) + 1) + battles.question
    keys, group = np.unique(group_key, return_inverse=True)
    first = np.zeros(keys.size, np.int64)
    first[group[::-1]] = np.arange(n)[::-1]
    x = x_all[first]
    groups_model = battles.model[first]
    # each round's resample as weights on the pooled rows: counts per (row group, battle value) of upstream's
    # (rounds, n) index array, drawn round by round (the same stream)
    levels, code = np.unique(battles.value, return_inverse=True)
    key = group * levels.size + code
    size = keys.size * levels.size

    def weights(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c = counts.reshape(counts.shape[0], keys.size, levels.size).astype(np.float64)
        return c.sum(axis=2), c @ levels

    # Newton from the full data's optimum, then a few rounds at a time (small work arrays stay in cache)
    start = _newton(groups_model, x, *weights(np.bincount(key, minlength=size)[None]), len(battles.models))
    rs = np.random.RandomState(seed)
    chunk = max(1, 400_000 // max(1, keys.size))
    fits = []
    for c in range(0, rounds, chunk):
        counts = np.stack([np.bincount(key[rs.randint(0, n, size=n)], minlength=size)
                           for _ in range(min(chunk, rounds - c))])  # fmt: skip
        fits.append(_newton(groups_model, x, *weights(counts), len(battles.models), start))
    beta, gamma = np.concatenate([f[0] for f in fits]), np.concatenate([f[1] for f in fits])
    win = 100.0 / (1.0 + np.exp(-beta))  # sigmoid(strength(model) - strength(baseline)), %
    models: dict[str, dict[str, Any]] = {}
    for i, m in enumerate(battles.models):
        col = win[:, i]
        models[m] = {
            "score": float(np.quantile(col, 0.5)),
            "ci90_low": float(np.quantile(col, 0.05)), "ci90_high": float(np.quantile(col, 0.95)),
            "ci95_low": float(np.quantile(col, 0.025)), "ci95_high": float(np.quantile(col, 0.975)),
            "n_battles": int((battles.model == i).sum()),
        }  # fmt: skip
    base = dict.fromkeys(("score", "ci90_low", "ci90_high", "ci95_low", "ci95_high"), 50.0)
    models.setdefault(battles.baseline, {**base, "n_battles": 0})
    coefs: dict[str, dict[str, float] | None] = {}
    for j, c in enumerate(cols):
        name = FEATURES[c]
        if j not in usable:
            coefs[name] = None
            continue
        g = gamma[:, usable.index(j)]
        coefs[name] = {"median": float(np.quantile(g, 0.5)), "ci90_low": float(np.quantile(g, 0.05)),
                       "ci90_high": float(np.quantile(g, 0.95))}  # fmt: skip
    return {
        "style_control": list(controls), "baseline": battles.baseline, "seed": seed, "rounds": rounds,
        "n_battles": n, "coefficients": coefs,
        "score_scale": "median over bootstrap rounds of the style-controlled win rate against the baseline, %",
        "interval": "ci90_*: 5th-95th percentile of the rounds (upstream prints it as 'CI'); ci95_*: 2.5th-97.5th",
        "models": dict(sorted(models.items(), key=lambda kv: -kv[1]["score"])),
    }  # fmt: skip


_VALUE = {0: 0.0, 1: 1.0, 2: 0.5}  # arena_hard_stats codes, baseline = model_a: A_WINS, B_WINS (the model), TIE


def score_style_control(
    answers_dir: str | Path, judgment_dirs: Sequence[str | Path], *, version: str, category: str = "hard_prompt",
    baseline: str | None = None, controls: Sequence[str] = ("length", "markdown"), seed: int = 42,
    rounds: int = ROUNDS, token_len: Callable[[str], int] = o200k_token_len,
) -> dict[str, Any]:  # fmt: skip
    """``harness score arena_hard --style-control``: battle rows as the plain score of that version builds them
    (v0.1: a game without a verdict gives no battle; v2.0: a row with one is dropped, judges pooled, one
    category), then :func:`fit_style`."""
    from benchmarks.arena_hard import scorer as arena_hard
    from benchmarks.arena_hard import v2 as arena_hard_v2

    rows: list[tuple[str, str, list[float]]]
    if version == "v2.0":
        if category not in arena_hard_v2.BASELINES:
            raise HarnessError(
                f"arena_hard v2.0: unknown category {category!r} (known: {', '.join(arena_hard_v2.BASELINES)})"
            )
        base = baseline or arena_hard_v2.BASELINES[category]
        rows = [(r.model, r.uid, arena_hard_v2.battle_values(r.labels))
                for r in arena_hard_v2.load_judgments(judgment_dirs) if r.category == category]  # fmt: skip
        if not rows:
            raise HarnessError(f"arena_hard v2.0: no judgment row of category {category!r}")
    else:
        if len(judgment_dirs) != 1:
            raise HarnessError("--judgments: v0.1 scores one judge directory")
        base = baseline or arena_hard.BASELINE
        rows = [(j.model, str(j.question_id), [_VALUE[c] for c in arena_hard.game_battles(j.labels)])
                for j in arena_hard.load_judgments(judgment_dirs[0])]  # fmt: skip
    battles = make_style_battles(rows, load_answer_features(answers_dir, token_len), base)
    result = fit_style(battles, controls=controls, seed=seed, rounds=rounds)
    result.update({"benchmark": "arena_hard", "version": version, "judges": [Path(d).name for d in judgment_dirs]})
    if version == "v2.0":
        result["category"] = category
    return result
