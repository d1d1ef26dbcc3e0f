"""What each stage of an iteration computes (Self-Rewarding 2.2-2.3, Meta-Rewarding 2.1-2.2).

Each function returns (rows, counts) for :class:`training.stage_dir.StageDir`; model calls go
through the run's store (``harness.runner.generate``) so they are resumable.
"""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from benchmarks.core import world as taskworld
from harness.runner import Run, generate
from harness.types import HarnessError, Model, Request
from judges.ensemble import EnsembleJudge
from judges.meta import Battle, MetaJudge, battle_matrix, elo_scores, meta_judge_biases
from judges.pointwise import PointwiseJudge
from judges.prompts import load_prompt
from training import data, eft, pairs, self_instruct
from training.config import BUILTIN, IterationSection, RunConfig


class StageContext(Protocol):
    """What a stage needs from the loop that runs it (``training.loop.Loop`` provides it)."""

    cfg: RunConfig
    run: Run
    progress: Callable[[str, int], Any]

    def model(self, model_dir: Path) -> Model:
        """The loaded model of a checkpoint (shared while the loop holds it)."""
        ...

    def judge_models(self, current: Path) -> list[Model]:
        """The judge(s) of the iterations' judgments: ``judge.specs``' models (an ensemble), ``judge.spec``'s, else
        the current model itself."""
        ...


Rows = tuple[list[dict[str, Any]], dict[str, Any]]


def _judge(
    loop: StageContext, model_dir: Path, n: int, seed: int, model: Model | None = None, score_mode: str = "sampled"
) -> PointwiseJudge:
    j = loop.cfg.judge
    return PointwiseJudge(
        model or loop.model(model_dir), loop.run, prompt=j.prompt, n=n, temperature=j.temperature, top_p=j.top_p,
        max_tokens=j.max_tokens, seed=seed, score_mode=score_mode,
    )  # fmt: skip


def build_eft(loop: StageContext, model_dir: Path) -> Rows:
    """EFT data (Self-Rewarding 3.1.1): the model judges ranked responses; keep judgments that agree with
    the human ranking, then downsample the most common score. Task-world runs can add its rule-written
    reference judgments (they pass the same filter)."""
    cfg = loop.cfg
    ranked = data.ranked_rows(cfg.eft_data, seed=cfg.seed + 500, n=cfg.eft.max_prompts)
    judge = _judge(loop, model_dir, cfg.eft.judge_n, cfg.seed)
    items = [(r["prompt"], resp) for r in ranked for resp in r["responses"]]
    scored = judge.score(items)
    prompt_items = []
    k = 0
    for r in ranked:
        judged = []
        for resp, rank in zip(r["responses"], r["ranks"], strict=True):
            res = scored[k]
            k += 1
            for text, score in zip(res.judgments, res.scores, strict=True):
                judged.append(eft.JudgedResponse(resp, rank, text, score))
                break  # one judgment per response and prompt: the first sample
        prompt_items.append(eft.PromptJudgments(r["prompt"], judged))
    meta_rows: list[dict[str, Any]] = []
    if cfg.eft.include_reference_judgments and cfg.eft_data == BUILTIN:
        # task world only: its rule-written reference judgments (they pass the same filter) and, to seed the
        # meta-judge role, reference meta-judgments of (right, wrong) judgment pairs
        meta_template = load_prompt(cfg.judge.meta_prompt)
        for i, r in enumerate(ranked):
            judged = []
            for resp, rank in zip(r["responses"], r["ranks"], strict=True):
                ref = taskworld.reference_judgment(r["prompt"], resp)
                if ref is not None:
                    judged.append(eft.JudgedResponse(resp, rank, ref[0], float(ref[1])))
            prompt_items.append(eft.PromptJudgments(r["prompt"], judged))
            per_prompt = min(cfg.eft.meta_examples_per_prompt, len(r["responses"]))
            for k in range(per_prompt):
                # u = i with one example per prompt: the seeds and error kinds of the original single-example data
                u, judged_response = i * per_prompt + k, r["responses"][k]
                ref0 = taskworld.reference_judgment(r["prompt"], judged_response)
                if ref0 is None:
                    continue
                meta = None
                kind = cfg.eft.meta_errors[u % len(cfg.eft.meta_errors)]
                if kind in ("copy", "check"):
                    # a consistent judgment of another of the prompt's responses, whose answer differs ("check":
                    # the meta-judgment compares the claimed answers step by step before its verdict)
                    build = (
                        taskworld.reference_meta_judgment_copy
                        if kind == "copy"
                        else taskworld.reference_meta_judgment_check
                    )
                    for alt in (x for x in r["responses"] if x != judged_response):
                        meta = build(r["prompt"], judged_response, alt, seed=cfg.seed + u)
                        if meta is not None:
                            break
                if meta is None:
                    other = (ref0[1] + 2 + u % 3) % 6
                    meta = taskworld.reference_meta_judgment(r["prompt"], judged_response, other, seed=cfg.seed + u)
                if meta is None:
                    continue
                (ja, jb), text = meta
                msgs = meta_template.to_messages_dicts(
                    instruction=r["prompt"], response=judged_response, judgment_a=ja, judgment_b=jb
                )
                meta_rows.append({"messages": [*msgs, {"role": "assistant", "content": text}], "score": None})
    kept = eft.filter_agreeing(prompt_items)
    sampled = eft.downsample_most_common(kept, seed=cfg.eft.seed)
    planted = 0
    if cfg.eft.miscopy_share > 0 and cfg.eft_data == BUILTIN:
        # task world only, a known weakness planted in M1's judge (issue 34): a seeded share of the judge examples
        # is replaced by a consistent judgment of another of the prompt's responses (the claimed answer miscopied,
        # the check and score following it), so that the judge has room to improve and its errors are of the kind
        # the "check" meta-judge can catch
        responses_of = {r["prompt"]: r["responses"] for r in ranked}
        plant = random.Random(f"miscopy:{cfg.seed}")
        for n, ex in enumerate(sampled):
            if plant.random() < cfg.eft.miscopy_share:
                wrong = taskworld.miscopied_judgment(ex.prompt, ex.response, responses_of.get(ex.prompt, ()))
                if wrong is not None:
                    sampled[n] = dataclasses.replace(ex, judgment=wrong[0], score=float(wrong[1]))
                    planted += 1
    template = load_prompt(cfg.judge.prompt)
    rows = [
        {"messages": [*template.to_messages_dicts(instruction=ex.prompt, response=ex.response),
                      {"role": "assistant", "content": ex.judgment}], "score": ex.score}
        for ex in sampled
    ]  # fmt: skip
    rows += meta_rows
    counts = {
        "meta_judge_examples": len(meta_rows),
        "miscopied": planted,
        "judged": len(items),
        "parse_failures": sum(r.n_failed for r in scored),
        "agreeing": len(kept),
        "after_downsampling": len(sampled),
        "scores": dict(Counter(str(r["score"]) for r in rows)),
    }
    return rows, counts


def make_prompts(loop: StageContext, current: Path, base: Path, t: int) -> Rows:
    """New prompts for iteration t: self-instruction creation (8-shot: 6 seed + 2 generated), or the task world."""
    cfg = loop.cfg.prompts
    seed = loop.cfg.seed * 1000 + t
    if cfg.source == "taskworld":
        return [{"id": f"it{t}-{i}", "prompt": tk.prompt} for i, tk in enumerate(taskworld.tasks(cfg.n, seed=seed))], {}
    if cfg.source == "file":
        prompts = data.seed_prompts(str(cfg.path), seed)[: cfg.n]
        return [{"id": f"it{t}-{i}", "prompt": p} for i, p in enumerate(prompts)], {}
    seeds = data.seed_prompts(loop.cfg.seed_prompts, seed=loop.cfg.seed + 7)
    model = loop.model(current if cfg.generator == "current" else base)
    rng = random.Random(seed)
    rouge = self_instruct.RougeFilter(cfg.rouge_threshold)
    for s in seeds:
        rouge.add_if_novel(s)
    kept: list[str] = []
    reasons: Counter[str] = Counter()
    ev = loop.cfg.eval
    decontaminate = "taskworld" in ev.benchmarks or ("judge" in ev.benchmarks and ev.judge_data == BUILTIN)
    with loop.progress(f"iteration {t}: self-instruction", cfg.n) as advance:
        for attempt in range(cfg.max_attempts):
            need = cfg.n - len(kept)
            if need <= 0:
                break
            reqs = [
                Request(
                    prompt=self_instruct.few_shot_prompt(seeds, kept, rng),
                    params=Request.user("x", temperature=cfg.temperature, top_p=cfg.top_p, max_tokens=48, stop=("\n",), seed=seed * 100 + attempt * 10_000 + i).params,
                )
                for i in range(need * 2)
            ]  # fmt: skip
            outs = generate(model, reqs, loop.run)
            candidates = [
                self_instruct.parse_generated_instruction(o[0].text, truncated=o[0].finish_reason == "length")
                for o in outs
            ]
            reasons["unparsed"] += sum(c is None for c in candidates)
            fresh = [c for c in candidates if c]
            if decontaminate:  # never train on a held-out evaluation prompt of the task world
                reasons["eval_partition"] += sum(taskworld.is_eval_prompt(c) for c in fresh)
                fresh = [c for c in fresh if not taskworld.is_eval_prompt(c)]
            new, why = self_instruct.filter_instructions(fresh, rouge, min_words=cfg.min_words, max_words=cfg.max_words)
            reasons.update(why)
            kept += new[:need]
            advance(len(new[:need]))
    counts: dict[str, Any] = {"self_instruct": len(kept), "rejected": dict(reasons), "taskworld_topup": 0}
    if cfg.source == "mixed" and len(kept) < cfg.n:
        # a model too weak to write instructions (the tiny demo model) is topped up with fresh task-world prompts
        extra = [tk.prompt for tk in taskworld.tasks(cfg.n * 2, seed=seed) if tk.prompt not in kept][
            : cfg.n - len(kept)
        ]
        counts["taskworld_topup"] = len(extra)
        kept += extra
    counts["self_instruct_share"] = counts["self_instruct"] / len(kept) if kept else None
    if not kept:
        raise HarnessError(f"iteration {t}: self-instruction creation kept no prompt (rejected: {dict(reasons)})")
    return [{"id": f"it{t}-{i}", "prompt": p} for i, p in enumerate(kept)], counts


def candidates(loop: StageContext, current: Path, prompts: list[dict[str, Any]], t: int) -> Rows:
    """K responses per prompt (temperature/top_p sampling), identical ones removed."""
    g = loop.cfg.generation
    reqs = [
        Request.user(p["prompt"], n=g.k, temperature=g.temperature, top_p=g.top_p, max_tokens=g.max_tokens, seed=loop.cfg.seed * 7919 + t * 100_003 + i)
        for i, p in enumerate(prompts)
    ]  # fmt: skip
    model = loop.model(current)
    with loop.progress(f"iteration {t}: candidates", len(reqs)) as advance:
        outs = generate(model, reqs, loop.run, on_progress=advance)
    rows, dropped = [], 0
    for p, comps in zip(prompts, outs, strict=True):
        texts = [c.text for c in comps]
        keep = pairs.dedupe(texts)
        dropped += len(texts) - len(keep)
        rows.append({**p, "responses": [texts[i] for i in keep]})
    return rows, {"duplicates_removed": dropped}


def judge(loop: StageContext, current: Path, cands: list[dict[str, Any]], t: int) -> Rows:
    """N judgments per response; score = mean of the valid ones; parse failures excluded and counted."""
    # judge.score applies here, to the scores that choose the pairs (EFT keeps the judgments' written scores)
    mode = loop.cfg.judge.score
    members = [_judge(loop, current, loop.cfg.judge.n, seed=loop.cfg.seed * 31 + t, model=m, score_mode=mode)
               for m in loop.judge_models(current)]  # fmt: skip
    j = members[0] if len(members) == 1 else EnsembleJudge(members, loop.cfg.judge.ensemble)
    items = [(c["prompt"], r) for c in cands for r in c["responses"]]
    with loop.progress(f"iteration {t}: judgments", len(items) * len(members)) as advance:
        scored = j.score(items, on_progress=advance)
    # counted on the judge's own outputs: a score the oracle leaves out off the task world is not a parse failure
    n_judgments = sum(len(r.scores) for r in scored)
    failures = sum(r.n_failed for r in scored)
    if loop.cfg.judge.random_scores:
        # the control: the judge's texts are kept, its parsed scores replaced by seeded random ones, so pairs
        # are chosen without the judge's signal (unparsed judgments stay unparsed)
        rng = random.Random(f"random_scores:{loop.cfg.seed}:{t}")
        scored = [r.with_scores([None if s is None else float(rng.randint(0, 5)) for s in r.scores]) for r in scored]
    elif loop.cfg.judge.reference_scores:
        # the oracle arm: the same texts, each parsed score replaced by the reference score of the response (the
        # task world's answer key), so the bench can show what a perfect judge would gain through the same pairs
        refs = [taskworld.reference_judgment(p, r) for p, r in items]
        scored = [
            r.with_scores([None if s is None or ref is None else float(ref[1]) for s in r.scores])
            for r, ref in zip(scored, refs, strict=True)
        ]
    rows, k = [], 0
    for c in cands:
        res = scored[k : k + len(c["responses"])]
        k += len(c["responses"])
        rows.append({
            **c,
            "judgments": [r.judgments for r in res],
            "scores": [r.scores for r in res],
            "mean": [r.mean for r in res],
            "variance": [r.variance for r in res],
            "n_valid": [r.n_valid for r in res],
        })  # fmt: skip
    return rows, {
        "judgments": n_judgments,
        # judge.score expected: parsed judgments whose score token had no distribution (they keep their digit)
        "sampled_fallback": sum(r.n_sampled_fallback for r in scored) if mode == "expected" else None,
        "parse_failures": failures,
        "parse_rate": 1 - failures / n_judgments if n_judgments else None,  # a rate over zero items is unknown
    }


def actor_pairs(judged: list[dict[str, Any]], it: IterationSection) -> Rows:
    """Highest vs lowest score, with the length-control tiers of rho (Meta-Rewarding 2.1)."""
    rows: list[dict[str, Any]] = []
    skipped: Counter[str] = Counter()
    for row in judged:
        responses = [
            pairs.ScoredResponse(text, mean, n_valid, var)
            for text, mean, n_valid, var in zip(
                row["responses"], row["mean"], row["n_valid"], row["variance"], strict=True
            )
        ]
        choice = pairs.select_actor_pair(responses, rho=it.rho, max_chosen_len=it.max_chosen_len)
        if isinstance(choice, pairs.Skip):
            skipped[choice.reason] += 1
            continue
        c, r = choice.chosen, choice.rejected
        rows.append({
            "id": row["id"], "type": "actor",
            "prompt": [{"role": "user", "content": row["prompt"]}],
            "chosen": [{"role": "assistant", "content": row["responses"][c]}],
            "rejected": [{"role": "assistant", "content": row["responses"][r]}],
            "chosen_score": row["mean"][c], "rejected_score": row["mean"][r],
        })  # fmt: skip
    return rows, {"skipped": dict(skipped)}


def judge_pairs(loop: StageContext, current: Path, judged: list[dict[str, Any]], it: IterationSection, t: int) -> Rows:
    """Meta-Rewarding 2.2: per prompt the response with the highest score variance; its judgments are compared
    pairwise by the meta-judge; chosen/rejected = highest/lowest Elo."""
    meta = MetaJudge(
        loop.model(current), loop.run, prompt=loop.cfg.judge.meta_prompt, max_tokens=it.meta_judge_max_tokens,
        seed=loop.cfg.seed * 13 + t,
    )  # fmt: skip
    template = load_prompt(loop.cfg.judge.prompt)
    rng = random.Random(loop.cfg.seed * 17 + t)
    rows: list[dict[str, Any]] = []
    skipped: Counter[str] = Counter()
    all_battles: list[tuple[list[Any], list[str]]] = []
    todo: list[tuple[dict[str, Any], int, list[str], list[float]]] = []
    for row in judged:
        responses = [
            pairs.ScoredResponse(text, mean, n_valid, var)
            for text, mean, n_valid, var in zip(
                row["responses"], row["mean"], row["n_valid"], row["variance"], strict=True
            )
        ]
        idx = pairs.highest_variance_response(responses, rng)
        if idx is None:
            skipped["no_variance"] += 1
            continue
        # the meta-judge compares the judgments that gave a score ("up to N judgments")
        parsed = [(j, s) for j, s in zip(row["judgments"][idx], row["scores"][idx], strict=True) if s is not None]
        if len(parsed) < 2:
            skipped["too_few_parsed_judgments"] += 1
            continue
        todo.append((row, idx, [j for j, _ in parsed], [s for _, s in parsed]))
    n_battles = sum(len(texts) * (len(texts) - 1) for _, _, texts, _ in todo)
    with loop.progress(f"iteration {t}: meta-judge battles", n_battles) as advance:
        # one generate call for every battle of the iteration: the backend batches them
        battle_lists = meta.battles_many([(row["prompt"], row["responses"][idx], texts) for row, idx, texts, _ in todo])
        advance(n_battles)
    if loop.cfg.judge.random_meta_verdicts:
        # the control: each parsed verdict becomes a seeded coin flip (an unparsed one stays unparsed), so the
        # judge pairs are chosen without the meta-judge's signal
        coin = random.Random(f"random_meta_verdicts:{loop.cfg.seed}:{t}")
        battle_lists = [[dataclasses.replace(b, winner=None if b.winner is None else coin.choice((1, 2)))
                         for b in battles] for battles in battle_lists]  # fmt: skip
    elif loop.cfg.judge.reference_meta_verdicts:
        # the meta-judge's ceiling: each parsed verdict becomes the answer key's, so the judge pairs are the ones a
        # perfect meta-judge would choose from the same judgments
        battle_lists = [
            answer_key_verdicts(battles, taskworld.reference_judgment(row["prompt"], row["responses"][idx]), scores)
            for (row, idx, _, scores), battles in zip(todo, battle_lists, strict=True)
        ]
    for (row, idx, texts, _), battles in zip(todo, battle_lists, strict=True):
        matrix, _, _ = battle_matrix(battles, len(texts))
        all_battles.append((battles, texts))
        if matrix.sum() == 0:
            skipped["no_parsed_battles"] += 1
            continue
        choice = pairs.select_judge_pair(list(elo_scores(matrix)), texts, rng, max_judgment_len=it.max_judgment_len)
        if isinstance(choice, pairs.Skip):
            skipped[choice.reason] += 1
            continue
        rows.append({
            "id": row["id"], "type": "judge",
            "prompt": template.to_messages_dicts(instruction=row["prompt"], response=row["responses"][idx]),
            "chosen": [{"role": "assistant", "content": texts[choice.chosen]}],
            "rejected": [{"role": "assistant", "content": texts[choice.rejected]}],
        })  # fmt: skip
    # Meta-Rewarding Table 5: score bias and positional bias of the meta-judge, over all its battles
    biases = meta_judge_biases_pooled(all_battles)
    return rows, {"skipped": dict(skipped), "battles": sum(len(b) for b, _ in all_battles), "meta_judge": biases}


def answer_key_verdicts(battles: list[Battle], reference: tuple[str, int] | None, scores: list[float]) -> list[Battle]:
    """The battles with each parsed verdict replaced by the answer key's: the judgment (``scores[i]``: its parsed
    score) whose score lies nearer the ``reference`` judgment's score wins; equally near, or no reference (off the
    task world): no result (``winner=None``), as an unparsed verdict. An unparsed verdict stays unparsed."""

    def key(b: Battle) -> int | None:
        return (
            None
            if reference is None
            else taskworld.nearer_to_reference(scores[b.first], scores[b.second], reference[1])
        )

    return [dataclasses.replace(b, winner=None if b.winner is None else key(b)) for b in battles]


def meta_judge_biases_pooled(groups: list[tuple[list[Any], list[str]]]) -> dict[str, float | None]:
    """``judges.meta.meta_judge_biases`` pooled over responses: battles are re-indexed into one judgment list."""
    battles: list[Any] = []
    texts: list[str] = []
    for bs, ts in groups:
        offset = len(texts)
        texts += ts
        battles += [Battle(b.first + offset, b.second + offset, b.winner) for b in bs]
    return meta_judge_biases(battles, texts)
