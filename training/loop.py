"""`harness iterate`: M0 -> SFT (M1) -> M2 -> ... with evaluation and gates after every iteration.

Self-Rewarding mode trains on actor pairs; Meta-Rewarding mode adds judge pairs from the
meta-judge. Every stage writes a dataset + manifest under ``out_dir/iter_T/``; model calls go
through the run's store, so an interrupted run resumes at its last finished stage and
re-makes no finished call.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.core.evaluate import canonical_row, evaluate, record_rows
from benchmarks.core.registry import EvalContext
from harness.backends import load_model, weights_hash
from harness.files import atomic_write_json, read_json
from harness.runner import Run, end_run
from harness.store import STORE_ENV, Store
from harness.types import HarnessError, Model, stable_hash
from training import data, stage_work
from training.config import ALARMS, IterationSection, RunConfig, config_dict
from training.gates import evaluate_gates, flat_metrics, parse_rules
from training.launch import train
from training.stage_dir import StageDir
from training.trainers import TrainSettings, logprob_margins


class Loop:
    def __init__(
        self,
        cfg: RunConfig,
        *,
        store_path: str | None = None,
        log: Callable[[str], None] = print,
        progress: Callable[[str, int], Any] | None = None,
    ) -> None:
        from benchmarks.core.registry import no_progress

        self.cfg = cfg
        self.progress = progress or no_progress
        self.root = Path(cfg.out_dir)
        self.root.mkdir(parents=True, exist_ok=True)
        self.log = log
        # --store, else $HARNESS_STORE (as every command), else the run's own store beside its outputs
        self.store = Store(store_path or os.environ.get(STORE_ENV) or self.root / "store.sqlite")
        self.run = self._start_or_resume_run()
        self.models: dict[str, Model] = {}
        # rules on the loop's own alarms are checked after each iteration's pairs (before DPO), the rest after
        # each evaluation
        rules = parse_rules(cfg.gates)
        self.alarm_rules = [r for r in rules if r.metric.split(".")[0] == ALARMS]
        self.rules = [r for r in rules if r.metric.split(".")[0] != ALARMS]
        self.history: list[dict[str, float]] = []

    def _start_or_resume_run(self) -> Run:
        """A rerun of an interrupted ``harness iterate`` (same out_dir, store and config) continues its run
        record, so its results, samples and call counters stay under one run id."""
        marker = self.root / "run.json"
        config = json.loads(json.dumps(config_dict(self.cfg), default=str))
        if marker.exists():
            run_id = read_json(marker).get("run_id")
            try:
                record = self.store.get_run(str(run_id))
            except HarnessError:
                record = None
            if record is not None and record["command"] == "iterate" and record["config"] == config:
                self.log(f"resuming run {run_id}")
                return Run.resume(self.store, str(run_id))
        run_id = self.store.new_run_id()
        atomic_write_json(marker, {"run_id": run_id})  # first: a kill now leaves no orphan run record
        return Run.start(self.store, "iterate", config, run_id)

    # models ------------------------------------------------------------------------------
    def spec(self, model_dir: Path) -> str:
        """The model spec of a local checkpoint with the config's backend and backend options."""
        from urllib.parse import urlencode

        options = dict(self.cfg.backend_options)
        if self.cfg.backend == "vllm":  # batch_size is the HF backend's (vLLM schedules its own batches)
            options.pop("batch_size", None)
        opts = urlencode(options)
        return f"{self.cfg.backend}:{model_dir}" + (f"?{opts}" if opts else "")

    def model(self, model_dir: Path) -> Model:
        spec = self.spec(model_dir)
        if spec not in self.models:
            self.models[spec] = load_model(spec, store=self.store)
        return self.models[spec]

    def judge_models(self, current: Path) -> list[Model]:
        specs = self.cfg.judge.specs or ([self.cfg.judge.spec] if self.cfg.judge.spec else [])
        if not specs:
            return [self.model(current)]
        for spec in specs:
            if spec not in self.models:
                self.models[spec] = load_model(spec, store=self.store)
        return [self.models[spec] for spec in specs]

    def release(self) -> int:
        """Free the generation engines before training (their memory is needed there); returns how many."""
        n = len(self.models)
        for m in self.models.values():
            m.close()
        self.models.clear()
        return n

    def base_model(self) -> Path:
        if self.cfg.base_model == "builtin:tiny":  # the pretrained tiny base, built once per content hash
            from training.tiny import pretrained_base

            return pretrained_base(self.cfg.seed, log=self.log)
        if self.cfg.base_model == "builtin:tiny-random":  # random weights: fast tests of the machinery
            path = self.root / "m0"
            if not (path / "model.safetensors").exists():
                from training.tiny import make_tiny

                make_tiny(path, seed=self.cfg.seed)
            return path
        path = Path(self.cfg.base_model)
        if not (path / "config.json").is_file():
            raise HarnessError(f"base_model: {path} is not a checkpoint directory")
        return path

    # the loop ----------------------------------------------------------------------------
    def iterate(self) -> dict[str, Any]:
        from training import trainers

        status = "failed"
        trainers.PROGRESS.append(self.progress)
        try:
            result = self._iterate()
            status = "finished"
            return result
        finally:
            trainers.PROGRESS.remove(self.progress)
            end_run(self.run, status, self.release)

    def _iterate(self) -> dict[str, Any]:
        cfg = self.cfg
        m0 = self.base_model()
        m1 = self.root / "m1"
        d0 = StageDir(self.root / "iter_0")
        self.log("iteration 0: EFT data and SFT (M0 -> M1)")
        ift = d0.run(
            "ift",
            lambda: (data.ift_rows(cfg.ift_data, cfg.seed, cfg.sft.ift_examples), {}),
            config={"ift": cfg.ift_data, "n": cfg.sft.ift_examples},
            inputs={},
        )
        eft: list[dict[str, Any]] = []
        if cfg.sft.use_eft:
            eft = d0.run(
                "eft",
                lambda: stage_work.build_eft(self, m0),
                config={"eft": config_dict(cfg)["eft"], "judge": config_dict(cfg)["judge"], "data": cfg.eft_data},
                inputs={"model": str(m0)},
                log=self.log,
            )
        self.release()
        settings = TrainSettings(
            cfg.sft.epochs, cfg.sft.learning_rate, cfg.sft.batch_size, max_length=cfg.sft.max_length, seed=cfg.seed
        )

        def do_sft() -> tuple[list[dict[str, Any]], dict[str, Any]]:
            history = train("sft", m0, ift + eft, m1, settings, cfg.training)
            return history, {"ift": len(ift), "eft": len(eft), "model": str(m1)}

        d0.run("sft", do_sft, config=config_dict(cfg)["sft"], inputs={"base": str(m0)}, log=self.log)
        decision = self._evaluate(d0, 1, m1)
        current = m1
        stopped: dict[str, Any] | None = None
        for t, it_cfg in enumerate(cfg.iterations, start=1):
            if not decision["passed"]:
                stopped = decision
                break
            out = self._iteration(t, it_cfg, current, m0)
            if isinstance(out, dict):  # an alarm gate failed: stop before training on this iteration's pairs
                decision = out
                break
            current = out
            decision = self._evaluate(StageDir(self.root / f"iter_{t}"), t + 1, current)
        if not decision["passed"]:
            stopped = decision
        return self._finish(stopped)

    def _iteration(self, t: int, it_cfg: IterationSection, current: Path, m0: Path) -> Path | dict[str, Any]:
        """One iteration M_t -> M_{t+1}: prompts, candidates, judgments, pairs, DPO. Returns M_{t+1}, or the
        failed alarm gate's decision (then no DPO)."""
        cfg = self.cfg
        nxt = self.root / f"m{t + 1}"
        d = StageDir(self.root / f"iter_{t}")
        self.log(f"iteration {t}: {cfg.mode} (M{t} -> M{t + 1})")
        it_config = {"iteration": config_dict(cfg)["iterations"][t - 1], "mode": cfg.mode, "seed": cfg.seed}
        prompts = d.run(
            "prompts",
            lambda: stage_work.make_prompts(self, current, m0, t),
            config={**it_config, "prompts": config_dict(cfg)["prompts"]},
            inputs={"model": str(current)},
            log=self.log,
        )
        cands = d.run(
            "candidates",
            lambda: stage_work.candidates(self, current, prompts, t),
            config={**it_config, "generation": config_dict(cfg)["generation"]},
            inputs={"prompts": str(d.data_path("prompts"))},
            log=self.log,
        )
        judged = d.run(
            "judgments",
            lambda: stage_work.judge(self, current, cands, t),
            config={**it_config, "judge": config_dict(cfg)["judge"]},
            inputs={"candidates": str(d.data_path("candidates"))},
            log=self.log,
        )
        actor_pairs = d.run(
            "actor_pairs",
            lambda: stage_work.actor_pairs(judged, it_cfg),
            config=it_config,
            inputs={"judgments": str(d.data_path("judgments"))},
            log=self.log,
        )
        judge_pairs: list[dict[str, Any]] = []
        if "judge" in it_cfg.pair_types:
            judge_pairs = d.run(
                "judge_pairs",
                lambda: stage_work.judge_pairs(self, current, judged, it_cfg, t),
                config={**it_config, "judge": config_dict(cfg)["judge"]},
                inputs={"judgments": str(d.data_path("judgments"))},
                log=self.log,
            )
            biases = d.manifest("judge_pairs")["counts"].get("meta_judge") or {}
            record_rows(
                self.store,
                self.run.run_id,
                t,
                str(current),
                "meta_judge",
                [{"metric": k, "value": v} for k, v in biases.items()],
            )
        stop = self._alarms(t, d, current, judged, actor_pairs)
        if stop is not None:
            return stop
        pairs = (actor_pairs if "actor" in it_cfg.pair_types else []) + judge_pairs
        if not pairs:
            raise HarnessError(f"iteration {t}: no preference pairs were selected (see {d.root}/*.manifest.json)")
        released = self.release()

        def do_dpo(cur: Path = current, out: Path = nxt) -> tuple[list[dict[str, Any]], dict[str, Any]]:
            dpo_rows = [{k: p[k] for k in ("prompt", "chosen", "rejected")} for p in pairs]
            before = logprob_margins(cur, dpo_rows)
            s = TrainSettings(
                it_cfg.epochs,
                it_cfg.learning_rate,
                it_cfg.batch_size,
                max_length=it_cfg.max_length,
                seed=cfg.seed,
                beta=it_cfg.beta,
            )
            history = train("dpo", cur, dpo_rows, out, s, cfg.training)
            after = logprob_margins(out, dpo_rows)
            counts = {
                "pairs": len(dpo_rows),
                "actor_pairs": len(actor_pairs),
                "judge_pairs": len(judge_pairs),
                "margin_before": sum(before) / len(before),
                "margin_after": sum(after) / len(after),
                "engines_released": released,
                "model": str(out),
            }
            return history, counts

        d.run("dpo", do_dpo, config=it_config, inputs={"policy": str(current), "reference": str(current)}, log=self.log)
        return nxt

    def _evaluate(self, d: StageDir, iteration: int, model_dir: Path) -> dict[str, Any]:
        cfg = self.cfg
        spec = self.spec(model_dir)
        units_path = d.root / "eval_units.json"

        ctx = EvalContext(
            model_spec=spec, store=self.store, run=self.run, reference_judge_spec=cfg.eval.reference_judge,
            limit=cfg.eval.limit, seed=cfg.seed, data={"judge": cfg.eval.judge_data},
            options={**({"judge_n": cfg.eval.judge_n} if "judge" in cfg.eval.benchmarks else {}), **cfg.eval.options},
            _models=self.models,
            progress=self.progress,
        )  # fmt: skip

        def do_eval() -> tuple[list[dict[str, Any]], dict[str, Any]]:
            report = evaluate(
                cfg.eval.benchmarks, ctx, model=str(model_dir), iteration=iteration, config=config_dict(cfg)["eval"]
            )
            rows = [
                {"benchmark": r.benchmark, **canonical_row(r.benchmark, m)} for r in report.results for m in r.metrics
            ]
            units = {r.benchmark: r.units for r in report.results}
            # the per-item units, for the paired differences of later iterations (written before the manifest)
            atomic_write_json(units_path, units)
            return rows, {"benchmarks": len(cfg.eval.benchmarks)}

        rows = d.run("eval", do_eval, config=config_dict(cfg)["eval"], inputs={"model": str(model_dir)}, log=self.log)
        rows = [r for r in rows if ".delta_" not in r["metric"]]
        units = read_json(units_path)
        rows += self._deltas(iteration, units)
        if iteration > 1 and "judge" in units:  # the judge's ordering of the same held-out responses, vs M_{t-1}
            from benchmarks.judge.alarms import rank_consistency

            before = read_json(self.root / f"iter_{iteration - 2}" / "eval_units.json").get("judge", {})
            rows.append({"benchmark": ALARMS, **rank_consistency(before, units["judge"])})
            rows.append({"benchmark": ALARMS, **self._reward_agreement(ctx, before, iteration, model_dir)})
        # the deltas, and a resumed eval's rows again (an idempotent upsert): one write per benchmark
        for bench in dict.fromkeys(r["benchmark"] for r in rows):
            mine = [r for r in rows if r["benchmark"] == bench]
            record_rows(self.store, self.run.run_id, iteration, str(model_dir), bench, mine)
        # an undefined metric (None) enters the history as NaN: a gate on it fails rather than crashing
        self.history.append(flat_metrics(rows))
        decision = evaluate_gates(self.rules, self.history, len(self.history) - 1)
        doc = {"iteration": iteration, "model": str(model_dir), "passed": decision.passed, "reasons": decision.reasons}
        atomic_write_json(d.root / "gate.json", doc)
        self.store.kv_put(f"gate:{self.run.run_id}:{iteration}", json.dumps(doc))
        self.log(f"  gate after M{iteration}: {'continue' if decision.passed else 'STOP'}")
        for reason in decision.reasons:
            self.log(f"    {reason}")
        return doc

    def _alarms(
        self, t: int, d: StageDir, current: Path, judged: list[dict[str, Any]], actor_pairs: list[dict[str, Any]]
    ) -> dict[str, Any] | None:
        """Record iteration t's judge alarms (rows of M_t, the judge) and check the alarm rules on them; the failed
        decision when one fails (the loop then stops before DPO), else None."""
        from benchmarks.judge.alarms import alarms

        rows = alarms(judged, actor_pairs)
        record_rows(self.store, self.run.run_id, t, str(current), ALARMS, rows)
        self.history[t - 1].update(flat_metrics([{"benchmark": ALARMS, **r} for r in rows]))
        if not self.alarm_rules:
            return None
        decision = evaluate_gates(self.alarm_rules, self.history, t - 1)
        doc = {"iteration": t, "model": str(current), "passed": decision.passed, "reasons": decision.reasons,
               "stage": "alarms (before DPO)"}  # fmt: skip
        atomic_write_json(d.root / "alarm_gate.json", doc)
        self.store.kv_put(f"alarm_gate:{self.run.run_id}:{t}", json.dumps(doc))
        self.log(f"  alarm gate on M{t}'s judgments: {'continue' if decision.passed else 'STOP (before DPO)'}")
        for reason in decision.reasons:
            self.log(f"    {reason}")
        return None if decision.passed else doc

    def _reward_agreement(
        self, ctx: EvalContext, judge_units: dict[str, Any], iteration: int, model_dir: Path
    ) -> dict[str, Any]:
        """judge_alarms.dpo_reward_agreement of M_t (t >= 2): on the judge benchmark's held-out prompts, the pair
        (highest, lowest scored response) of M_{t-1}'s judge — the judge whose pairs trained M_t — and whether
        DPO's implicit reward, log p_t(y|x) - log p_{t-1}(y|x), ranks that pair the same way."""
        from benchmarks.judge.alarms import reward_agreement
        from benchmarks.judge.benchmark import load_prompts

        prompts = {p.prompt_id: p for p in load_prompts(ctx)}
        pairs = []
        for pid, unit in judge_units.items():
            p = prompts.get(pid)
            scored = [(s, i) for i, s in enumerate(unit["scores"]) if s is not None]
            if p is None or len(scored) < 2 or max(scored)[0] == min(scored)[0]:
                continue  # no judge preference on this prompt (unscored or all tied): left out
            best, worst = max(scored)[1], min(scored)[1]
            pairs.append({"prompt": [{"role": "user", "content": p.prompt}],
                          "chosen": [{"role": "assistant", "content": p.responses[best]}],
                          "rejected": [{"role": "assistant", "content": p.responses[worst]}]})  # fmt: skip
        if not pairs:
            return {"metric": "dpo_reward_agreement", "value": None, "n": 0}
        # kept beside the gate decision: a resumed run reads it back instead of loading both models again
        saved = self.root / f"iter_{iteration - 1}" / "reward_agreement.json"
        # the models by their weights (the hash the store already keeps for generation keys), not by their paths
        models = [weights_hash(p, self.store) for p in (self.root / f"m{iteration - 1}", model_dir)]
        key = stable_hash({"pairs": pairs, "models": models})
        doc = read_json(saved) if saved.exists() else None  # unparsable JSON: a one-line error naming the file
        if isinstance(doc, dict) and doc.get("key") == key and isinstance(doc.get("row"), dict):
            return dict(doc["row"])  # anything else there (another key, an edited file) is computed again
        before = logprob_margins(self.root / f"m{iteration - 1}", pairs)
        after = logprob_margins(model_dir, pairs)
        row = reward_agreement(before, after)
        atomic_write_json(saved, {"key": key, "row": row})
        return row

    def _deltas(self, iteration: int, units: dict[str, Any]) -> list[dict[str, Any]]:
        """Paired differences of this evaluation against the previous iteration's and M1's, same items."""
        from benchmarks.core.paired import paired_deltas

        rows: list[dict[str, Any]] = []
        if iteration == 1:
            return rows
        against = {"delta_prev": iteration - 1, "delta_first": 1}
        for suffix, other in against.items():
            if suffix == "delta_first" and other == iteration - 1:  # M2: the same comparison as delta_prev
                rows += [{**r, "metric": r["metric"].replace(".delta_prev", ".delta_first")} for r in rows]
                continue
            path = self.root / f"iter_{other - 1}" / "eval_units.json"
            before = read_json(path)
            for name, after_units in units.items():
                for m in paired_deltas(name, before.get(name, {}), after_units, suffix, seed=self.cfg.seed):
                    rows.append({"benchmark": name, **m.to_row()})
        return rows

    def _finish(self, stopped: dict[str, Any] | None) -> dict[str, Any]:
        from training.gates import best_iteration

        metric = self.cfg.best_metric
        best = best_iteration(self.history, metric)  # in the metric's declared direction
        summary: dict[str, Any] = {
            "run_id": self.run.run_id,
            "iterations": [{"iteration": i + 1, **h} for i, h in enumerate(self.history)],
            "best_iteration": best + 1,
            "best_model": str(self.root / f"m{best + 1}"),
            "best_metric": metric,
            "stopped_by_gate": None,
        }
        if stopped is not None:
            failed = [r[5:].split(":")[0] for r in stopped["reasons"] if r.startswith("FAIL")]
            summary["stopped_by_gate"] = {"after": f"M{stopped['iteration']}", "failed": failed}
            self.log(f"stopped by the gate after M{stopped['iteration']}: {'; '.join(failed)}")
            self.log(f"kept the best iteration so far by {metric}: M{best + 1} ({summary['best_model']})")
        atomic_write_json(self.root / "summary.json", summary)
        return summary
