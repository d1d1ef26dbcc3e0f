"""The judgments stage's score switches of bench/self_improvement.py: the random control and the answer-key oracle.

The judge is a planted server that scores every response 5, so any other score in the stage's rows came from
the switch. The expected scores are written by hand from the task world's rubric (concise and correct 5, padded
4, wrong 2, off-topic 0), not computed by the code under test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.core.registry import no_progress
from harness.backends import load_model
from harness.runner import Run
from harness.store import Store
from harness.types import Model
from tests.servers import PlantedServer
from training import stage_work
from training.config import RunConfig

CANDIDATES = [
    {"id": "it1-0", "prompt": "What is 44 + 3?",
     "responses": ["The answer is 47.", "The answer is 57.", "Let me think. The answer is 47.", "I like tea."]},
    {"id": "it1-1", "prompt": "Write a short poem about rain.", "responses": ["Rain falls.", "Drops."]},
]  # fmt: skip


class _Ctx:
    """The stage context of a loop whose iterations' judge is the planted server."""

    def __init__(self, cfg: RunConfig, run: Run, judge: Model) -> None:
        self.cfg, self.run, self.progress, self._judge = cfg, run, no_progress, judge

    def model(self, model_dir: Path) -> Model:
        raise AssertionError("the stage must judge with judge_models, not load the actor")

    def judge_models(self, current: Path) -> list[Model]:
        return [self._judge]


def _scores(tmp_path: Path, **switch: Any) -> list[list[list[float | None]]]:
    server = PlantedServer(judge_score=5)
    try:
        cfg = RunConfig()
        cfg.judge.n, cfg.judge.max_tokens = 2, 32
        for key, value in switch.items():
            setattr(cfg.judge, key, value)
        store = Store(tmp_path / f"{'-'.join(switch) or 'plain'}.sqlite")
        run = Run.start(store, "test", {})
        rows, counts = stage_work.judge(_Ctx(cfg, run, load_model(server.spec("always-5"))), tmp_path, CANDIDATES, 1)
    finally:
        server.stop()
    assert counts["parse_failures"] == 0, [r["judgments"] for r in rows]
    assert counts["sampled_fallback"] == (0 if switch.get("score") == "expected" else None)
    return [r["scores"] for r in rows]


def test_the_judge_s_own_scores_without_a_switch(tmp_path: Path) -> None:
    assert _scores(tmp_path) == [[[5.0, 5.0]] * 4, [[5.0, 5.0]] * 2]


def test_expected_scores_are_the_expectation_of_the_planted_distribution(tmp_path: Path) -> None:
    # the planted judge writes 5 and gives its score token 0.6 on " 5", 0.3 on " 4", 0.1 on " points"
    want = (5 * 0.6 + 4 * 0.3) / 0.9
    got = [s for row in _scores(tmp_path, score="expected") for resp in row for s in resp]
    assert len(got) == 12 and all(abs(s - want) < 1e-9 for s in got), got


def test_reference_scores_are_the_answer_key_and_unscored_off_the_task_world(tmp_path: Path) -> None:
    got = _scores(tmp_path, reference_scores=True)
    assert got[0] == [[5.0, 5.0], [2.0, 2.0], [4.0, 4.0], [0.0, 0.0]]
    assert got[1] == [[None, None], [None, None]]  # not a task-world prompt: no answer key, so no score


def test_random_scores_are_drawn_from_0_to_5_whatever_the_judge_said(tmp_path: Path) -> None:
    got = [s for row in _scores(tmp_path, random_scores=True) for resp in row for s in resp]
    assert len(got) == 12 and all(s in {0.0, 1.0, 2.0, 3.0, 4.0, 5.0} for s in got) and set(got) != {5.0}


def test_the_parse_rate_of_zero_judgments_is_unknown(tmp_path: Path) -> None:
    """No candidates, no judgments: the rate is null (unknown), never 1.0."""
    server = PlantedServer(judge_score=5)
    try:
        run = Run.start(Store(tmp_path / "s.sqlite"), "test", {})
        _, counts = stage_work.judge(_Ctx(RunConfig(), run, load_model(server.spec("always-5"))), tmp_path, [], 1)
    finally:
        server.stop()
    assert counts["judgments"] == 0 and counts["parse_rate"] is None


def _meta_stage(tmp_path: Path, coin: bool) -> dict[str, Any]:
    """The judge-pairs stage with a meta-judge that always names the first judgment (a pure position bias)."""
    from harness.types import Completion
    from tests.judges.scripted import Scripted
    from training.config import IterationSection

    class Ctx(_Ctx):
        def model(self, model_dir: Path) -> Model:
            return self._judge

    cfg = RunConfig()
    cfg.judge.random_meta_verdicts = coin
    judged = [{"id": f"p{k}", "prompt": f"Question {k}?", "responses": ["a", "b"],
               "judgments": [[f"J{k} one. Score: 5", f"J{k} two. Score: 1", f"J{k} three. Score: 3"], ["x", "y", "z"]],
               "scores": [[5.0, 1.0, 3.0], [4.0, 4.0, 4.0]], "mean": [3.0, 4.0], "n_valid": [3, 3],
               "variance": [8 / 3, 0.0]} for k in range(20)]  # fmt: skip
    meta = Scripted(lambda r, i: Completion("Judgement A is better. Winner: Judgement A", "stop", 5, 9))
    run = Run.start(Store(tmp_path / f"meta-{coin}.sqlite"), "test", {})
    _, counts = stage_work.judge_pairs(Ctx(cfg, run, meta), tmp_path, judged, IterationSection(), 1)
    return counts


def test_the_meta_judge_control_replaces_each_verdict_by_a_coin_flip(tmp_path: Path) -> None:
    """Each prompt's 3 judgments meet in both orders: 6 battles, 120 in all. The real meta-judge names the first
    position every time; under the control the first position wins about half of them (a fair coin: within 3
    binomial standard errors of 60 of 120), and every battle still has a verdict."""
    real, control = _meta_stage(tmp_path, False), _meta_stage(tmp_path, True)
    assert real["battles"] == control["battles"] == 120
    assert real["meta_judge"]["first_position_all"] == 1.0
    share = control["meta_judge"]["first_position_all"]
    assert abs(share - 0.5) <= 3 * (0.25 / 120) ** 0.5, share


def test_answer_key_verdicts_by_hand() -> None:
    """Reference score 4; the judgments scored 5, 1 and 4 (distances 1, 3, 0). Each battle goes to the nearer
    judgment whatever the meta-judge said; equally near, no reference, or an unparsed verdict: no result."""
    from judges.meta import Battle

    battles = [Battle(0, 1, 2), Battle(1, 0, 1), Battle(0, 2, 1), Battle(2, 0, 2), Battle(1, 2, None)]
    got = stage_work.answer_key_verdicts(battles, ("Score: 4", 4), [5.0, 1.0, 4.0])
    assert [b.winner for b in got] == [1, 2, 2, 1, None]
    assert [(b.first, b.second) for b in got] == [(b.first, b.second) for b in battles]
    assert [b.winner for b in stage_work.answer_key_verdicts(battles[:2], ("Score: 4", 4), [3.0, 5.0])] == [None] * 2
    assert [b.winner for b in stage_work.answer_key_verdicts(battles[:2], None, [5.0, 1.0])] == [None] * 2


def test_the_meta_judge_oracle_chooses_the_judgment_nearest_the_answer_key(tmp_path: Path) -> None:
    """A meta-judge that always names the first position, under judge.reference_meta_verdicts: on a task-world
    response answered right and concisely (reference score 5), the judgment that gave 5 is chosen and the one
    that gave 1 rejected, on every prompt; off the task world no battle has a result, so no pair."""
    from harness.types import Completion
    from tests.judges.scripted import Scripted
    from training.config import IterationSection

    class Ctx(_Ctx):
        def model(self, model_dir: Path) -> Model:
            return self._judge

    cfg = RunConfig()
    cfg.judge.reference_meta_verdicts = True
    judged = [{"id": f"p{k}", "prompt": prompt, "responses": [response, "x"],
               "judgments": [["one. Score: 1", "five. Score: 5", "three. Score: 3"], ["x", "y", "z"]],
               "scores": [[1.0, 5.0, 3.0], [4.0, 4.0, 4.0]], "mean": [3.0, 4.0], "n_valid": [3, 3],
               "variance": [8 / 3, 0.0]}
              for k, (prompt, response) in enumerate([("What is 44 + 3?", "The answer is 47.")] * 5
                                                     + [("Write a short poem about rain.", "Rain falls.")] * 3)]  # fmt: skip
    meta = Scripted(lambda r, i: Completion("Judgement A is better. Winner: Judgement A", "stop", 5, 9))
    run = Run.start(Store(tmp_path / "oracle.sqlite"), "test", {})
    rows, counts = stage_work.judge_pairs(Ctx(cfg, run, meta), tmp_path, judged, IterationSection(), 1)
    assert [(r["chosen"][0]["content"], r["rejected"][0]["content"]) for r in rows] == [
        ("five. Score: 5", "one. Score: 1")
    ] * 5
    assert counts["skipped"] == {"no_parsed_battles": 3}
