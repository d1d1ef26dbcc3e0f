"""The run config of `harness iterate` (YAML), parsed strictly: unknown keys, bad values and missing data
are one-line errors naming the key, before anything starts.

See ``training/configs/demo.yaml`` for a complete example with comments.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.types import HarnessError

BUILTIN = "builtin:taskworld"


@dataclass
class SFTSection:
    epochs: float = 3.0
    learning_rate: float = 5e-4
    batch_size: int = 16
    max_length: int = 1024  # tokens; judge prompts are long, a truncated example loses its target
    use_eft: bool = True
    ift_examples: int = 300  # builtin:taskworld only: how many IFT rows it writes


@dataclass
class EFTSection:
    judge_n: int = 1
    max_prompts: int = 64
    include_reference_judgments: bool = False  # task world only: its rule-written judgments
    seed: int = 0
    # task world only: the errors the seeded meta-judge examples teach it to catch, in turn: "score" (the reference
    # judgment's check with a flipped score), "copy" (a consistent judgment of another answer than the response's) and
    # "check" (the copy pair, with a meta-judgment that compares the claimed answers step by step before its verdict)
    meta_errors: list[str] = field(default_factory=lambda: ["score"])
    meta_examples_per_prompt: int = 1  # seeded meta-judge examples per EFT prompt (one per response, up to its count)
    # task world only: the share of judge examples whose claimed answer is planted miscopied (a known weakness of M1)
    miscopy_share: float = 0.0


@dataclass
class PromptsSection:
    source: str = (
        "self_instruct"  # self_instruct | mixed (self-instruct, topped up from the task world) | taskworld | file
    )
    n: int = 32
    path: str | None = None
    generator: str = "current"  # self-instruct model: "current" (M_t) or "fixed" (the base model)
    temperature: float = 0.6
    top_p: float = 0.9
    rouge_threshold: float = 0.7
    min_words: int = 3
    max_words: int = 60
    max_attempts: int = 4


@dataclass
class GenerationSection:
    k: int = 4
    temperature: float = 0.8
    top_p: float = 0.95
    max_tokens: int = 64


ALARMS = "judge_alarms"  # the benchmark whose metrics the loop records from its own stage data


@dataclass
class JudgeSection:
    prompt: str = "pointwise_additive"
    meta_prompt: str = "meta_judge"
    n: int = 3
    temperature: float = 0.8
    top_p: float = 0.95
    max_tokens: int = 128
    # sampled: a judgment's score is the number it wrote; expected: the expectation over the score token's
    # distribution (its top logprobs; judges/pointwise.py), which breaks most ties between responses
    score: str = "sampled"
    # the control of bench/self_improvement.py: every parsed score replaced by a seeded uniform draw from 0..5
    random_scores: bool = False
    # the meta-judge control of the same bench: every parsed meta-judge verdict replaced by a seeded coin flip, so
    # judge pairs are chosen without the meta-judge's signal (the judgments and the pair rules stay the same)
    random_meta_verdicts: bool = False
    # the meta-judge's ceiling in the same bench: every parsed meta-judge verdict replaced by the answer key's (the
    # judgment whose score lies nearer the task world's reference score of the response wins; equally near, or off
    # the task world: no result). An oracle: never self-rewarding
    reference_meta_verdicts: bool = False
    # the upper-bound arm of the same bench: every parsed score replaced by the task world's reference score of
    # the response (taskworld.reference_judgment; unscored off the task world). An oracle: never self-rewarding
    reference_scores: bool = False
    # the judge of the iterations' judgments stage: a model spec (e.g. a fixed external judge); None: the current
    # model M_t judges its own responses (self-rewarding). EFT and the meta-judge always use the model itself.
    spec: str | None = None
    # several model specs instead of spec: an ensemble judges the iterations' responses (judges/ensemble.py),
    # combined by `ensemble` (mean | majority)
    specs: list[str] = field(default_factory=list)
    ensemble: str = "mean"


@dataclass
class IterationSection:
    rho: float = 0.0
    beta: float = 0.1
    learning_rate: float = 1e-5
    epochs: float = 1.0
    batch_size: int = 8
    max_length: int = 1024
    pair_types: list[str] = field(default_factory=lambda: ["actor"])
    max_chosen_len: int | None = None
    max_judgment_len: int | None = None
    meta_judge_max_tokens: int = 64


@dataclass
class EvalSection:
    benchmarks: list[str] = field(default_factory=lambda: ["judge", "taskworld"])
    judge_data: str = BUILTIN
    judge_n: int = 1
    reference_judge: str | None = None
    limit: int | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainingSection:
    launcher: str = "inprocess"  # inprocess | accelerate (several GPUs: `accelerate launch` per training stage)
    accelerate_args: list[str] = field(default_factory=list)  # e.g. [--multi_gpu, --num_processes, "8"]


@dataclass
class RunConfig:
    mode: str = "meta_rewarding"  # or self_rewarding
    base_model: str = "builtin:tiny"
    out_dir: str = "runs/iterate"
    backend: str = "vllm"  # generation/judging backend for local checkpoints: vllm | hf
    backend_options: dict[str, Any] = field(default_factory=dict)  # spec options, e.g. {batch_size: 64}
    seed: int = 0
    ift_data: str = BUILTIN
    eft_data: str = BUILTIN
    seed_prompts: str = BUILTIN
    sft: SFTSection = field(default_factory=SFTSection)
    eft: EFTSection = field(default_factory=EFTSection)
    prompts: PromptsSection = field(default_factory=PromptsSection)
    generation: GenerationSection = field(default_factory=GenerationSection)
    judge: JudgeSection = field(default_factory=JudgeSection)
    iterations: list[IterationSection] = field(default_factory=lambda: [IterationSection(), IterationSection()])
    eval: EvalSection = field(default_factory=EvalSection)
    training: TrainingSection = field(default_factory=TrainingSection)
    gates: list[str] = field(default_factory=list)
    best_metric: str = "judge.pairwise_accuracy"


_SECTIONS = {
    "sft": SFTSection, "eft": EFTSection, "prompts": PromptsSection, "generation": GenerationSection,
    "judge": JudgeSection, "eval": EvalSection, "training": TrainingSection,
}  # fmt: skip


def _build(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise HarnessError(f"{where}: expected a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in data.items():
        if key not in fields:
            raise HarnessError(f"{where}.{key}: unknown key (known: {', '.join(sorted(fields))})")
        kwargs[key] = value
    try:
        obj = cls(**kwargs)
    except TypeError as exc:
        raise HarnessError(f"{where}: {exc}") from exc
    default = cls()
    for key, value in kwargs.items():
        ref = getattr(default, key)
        # the type of each key is its default's (or, for an optional string, its annotation's): a list given for
        # a path would otherwise fail deep inside the loop, after work has started
        if (isinstance(ref, str) or (ref is None and fields[key].type == "str | None")) and not (
            isinstance(value, str) or (ref is None and value is None)
        ):
            raise HarnessError(f"{where}.{key}: expected a string, got {value!r:.60}")
        if isinstance(ref, list) and not isinstance(value, list):
            raise HarnessError(f"{where}.{key}: expected a list, got {value!r:.60}")
        if isinstance(ref, dict) and not isinstance(value, dict):
            raise HarnessError(f"{where}.{key}: expected a mapping, got {value!r:.60}")
        if isinstance(ref, bool) and not isinstance(value, bool):
            raise HarnessError(f"{where}.{key}: expected true/false, got {value!r}")
        if isinstance(ref, int | float) and not isinstance(ref, bool) and value is not None:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise HarnessError(f"{where}.{key}: expected a number, got {value!r}")
            if isinstance(ref, int) and not isinstance(ref, bool) and isinstance(value, float) and key != "epochs":
                raise HarnessError(f"{where}.{key}: expected an integer, got {value!r}")
    return obj


# the numeric keys that have a range (checked up front, so nothing fails after work has started)
_POSITIVE = (
    "sft.epochs", "sft.learning_rate", "sft.batch_size", "sft.max_length", "eft.judge_n", "eft.max_prompts",
    "prompts.n", "prompts.max_attempts", "prompts.min_words", "prompts.max_words", "generation.max_tokens",
    "judge.n", "judge.max_tokens", "eval.judge_n", "eval.limit",
)  # fmt: skip
_NON_NEGATIVE = ("prompts.temperature", "generation.temperature", "judge.temperature")
_UNIT = ("prompts.top_p", "generation.top_p", "judge.top_p")  # (0, 1]


def _check_ranges(cfg: RunConfig) -> None:
    def value(key: str) -> Any:
        section, _, name = key.partition(".")
        return getattr(getattr(cfg, section), name, None)

    for key in (*_POSITIVE, *_NON_NEGATIVE, *_UNIT):
        v = value(key)
        if v is None:
            continue
        if not math.isfinite(v):
            raise HarnessError(f"{key}: must be a finite number, got {v!r}")
        if key in _POSITIVE and v <= 0:
            raise HarnessError(f"{key}: must be > 0, got {v!r}")
        if key in _NON_NEGATIVE and v < 0:
            raise HarnessError(f"{key}: must be >= 0, got {v!r}")
        if key in _UNIT and not 0 < v <= 1:
            raise HarnessError(f"{key}: must lie in (0, 1], got {v!r}")


def _check(cfg: RunConfig, base_dir: Path) -> None:
    if cfg.mode not in ("self_rewarding", "meta_rewarding"):
        raise HarnessError(f"mode: expected self_rewarding or meta_rewarding, got {cfg.mode!r}")
    if cfg.backend not in ("vllm", "hf"):
        raise HarnessError(f"backend: expected vllm or hf, got {cfg.backend!r}")
    if cfg.training.launcher not in ("inprocess", "accelerate"):
        raise HarnessError(f"training.launcher: expected inprocess or accelerate, got {cfg.training.launcher!r}")
    args = cfg.training.accelerate_args
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise HarnessError(f"training.accelerate_args: expected a list of strings, got {args!r}")
    opts = cfg.backend_options
    if not isinstance(opts, dict) or not all(isinstance(v, str | int | float | bool) for v in opts.values()):
        raise HarnessError(f"backend_options: expected a mapping of option: value, got {opts!r}")
    if not isinstance(cfg.base_model, str) or not cfg.base_model:
        raise HarnessError("base_model: required (a checkpoint directory, builtin:tiny or builtin:tiny-random)")
    if not cfg.base_model.startswith("builtin:"):
        local = Path(cfg.base_model) if os.path.isabs(cfg.base_model) else base_dir / cfg.base_model
        hub_id = re.fullmatch(r"[\w.-]+/[\w.-]+", cfg.base_model) is not None  # org/name, downloaded when run
        if not local.is_dir() and not (hub_id and not Path(cfg.base_model).exists()):
            raise HarnessError(f"base_model: {cfg.base_model} is not a checkpoint directory (nor a hub id org/name)")
    if cfg.judge.random_scores and cfg.judge.reference_scores:
        raise HarnessError("judge.random_scores and judge.reference_scores: choose at most one")
    if cfg.judge.random_meta_verdicts and cfg.judge.reference_meta_verdicts:
        raise HarnessError("judge.random_meta_verdicts and judge.reference_meta_verdicts: choose at most one")
    if cfg.sft.ift_examples <= 0:
        raise HarnessError(f"sft.ift_examples: must be a positive integer, got {cfg.sft.ift_examples}")
    _check_ranges(cfg)
    from judges.prompts import META_FIELDS, POINTWISE_FIELDS, load_prompt

    load_prompt(cfg.judge.prompt, POINTWISE_FIELDS)  # an unknown prompt fails here, not after EFT
    load_prompt(cfg.judge.meta_prompt, META_FIELDS)
    if cfg.eft.meta_examples_per_prompt < 1:
        raise HarnessError(f"eft.meta_examples_per_prompt: must be >= 1, got {cfg.eft.meta_examples_per_prompt}")
    if not 0 <= cfg.eft.miscopy_share < 1:
        raise HarnessError(f"eft.miscopy_share: must lie in [0, 1), got {cfg.eft.miscopy_share}")
    if cfg.eft.miscopy_share > 0 and cfg.eft_data != BUILTIN:
        # the planted miscopies are task-world reference judgments: elsewhere the key would do nothing, silently
        raise HarnessError(f"eft.miscopy_share: needs eft_data: {BUILTIN}, got {cfg.eft_data}")
    bad_errors = set(cfg.eft.meta_errors) - {"score", "copy", "check"}
    if bad_errors or not cfg.eft.meta_errors:
        raise HarnessError(
            f"eft.meta_errors: expected a non-empty list of score, copy, check; got {cfg.eft.meta_errors}"
        )
    if not cfg.iterations:
        raise HarnessError("iterations: give at least one iteration")
    for i, it in enumerate(cfg.iterations):
        if not 0.0 <= it.rho <= 1.0:
            raise HarnessError(f"iterations[{i}].rho: must lie in [0, 1], got {it.rho}")
        bad = set(it.pair_types) - {"actor", "judge"}
        if bad or not it.pair_types:
            raise HarnessError(
                f"iterations[{i}].pair_types: expected a non-empty subset of [actor, judge], got {it.pair_types}"
            )
        if "judge" in it.pair_types and cfg.mode != "meta_rewarding":
            raise HarnessError(f"iterations[{i}].pair_types: judge pairs need mode meta_rewarding")
        if it.beta <= 0 or it.learning_rate <= 0 or it.epochs <= 0:
            raise HarnessError(f"iterations[{i}]: beta, learning_rate and epochs must be > 0")
    for name, value in (("generation.k", cfg.generation.k), ("judge.n", cfg.judge.n), ("prompts.n", cfg.prompts.n)):
        if value <= 0:
            raise HarnessError(f"{name}: must be a positive integer, got {value}")
    if cfg.generation.k < 2:
        raise HarnessError(f"generation.k: pairs need at least 2 responses per prompt, got {cfg.generation.k}")
    if cfg.prompts.source not in ("self_instruct", "mixed", "taskworld", "file"):
        raise HarnessError(
            f"prompts.source: expected self_instruct, mixed, taskworld or file, got {cfg.prompts.source!r}"
        )
    if cfg.prompts.source == "file" and not cfg.prompts.path:
        raise HarnessError("prompts.path: required when prompts.source is file")
    for key in ("ift_data", "eft_data", "seed_prompts"):
        value = getattr(cfg, key)
        if value != BUILTIN:
            path = (base_dir / value) if not os.path.isabs(value) else Path(value)
            if not path.is_file():
                raise HarnessError(f"{key}: seed data {value} not found")
            setattr(cfg, key, str(path))
    from benchmarks.core.registry import check_options, get, higher_is_better, known_metrics, names
    from training.gates import validate_rules

    for name in cfg.eval.benchmarks:
        try:
            runnable = get(name).run is not None
        except HarnessError:
            runnable = False
        if not runnable:
            raise HarnessError(f"eval.benchmarks: unknown benchmark {name!r} (known: {', '.join(names())})")
    try:
        check_options(cfg.eval.benchmarks, cfg.eval.options)
    except HarnessError as exc:
        raise HarnessError(f"eval.options: {exc}") from None
    for key, value in cfg.eval.options.items():  # lm_eval's local task directories: relative to the config
        if key.rpartition(".")[2] == "include_path" and isinstance(value, str) and value:
            path = Path(value) if os.path.isabs(value) else base_dir / value
            if not path.is_dir():
                raise HarnessError(f"eval.options.{key}: {value} is not a directory")
            cfg.eval.options[key] = str(path)
    known = known_metrics(cfg.eval.benchmarks)
    # the loop's own alarms (benchmarks/judge/alarms.py) are gateable too: checked before each DPO step
    validate_rules(cfg.gates, [*known, *known_metrics([ALARMS])])
    from harness.spec import parse_spec
    from judges.ensemble import METHODS

    specs = cfg.judge.specs
    if not isinstance(specs, list) or not all(isinstance(x, str) and x for x in specs):
        raise HarnessError("judge.specs: expected a list of model specs")
    if cfg.judge.spec is not None and not isinstance(cfg.judge.spec, str):
        raise HarnessError("judge.spec: expected a model spec")
    if cfg.judge.spec is not None and cfg.judge.specs:
        raise HarnessError("judge: give spec (one judge) or specs (an ensemble), not both")
    if len(cfg.judge.specs) == 1 or len(set(cfg.judge.specs)) != len(cfg.judge.specs):
        raise HarnessError("judge.specs: an ensemble needs 2 or more different model specs (one judge: judge.spec)")
    for where, spec in [("judge.spec", cfg.judge.spec), *((f"judge.specs[{i}]", s) for i, s in
                                                          enumerate(cfg.judge.specs))]:  # fmt: skip
        if spec is None:
            continue
        try:
            parse_spec(spec)
        except HarnessError as exc:
            raise HarnessError(f"{where}: {exc}") from None
    from judges.pointwise import SCORE_MODES

    if cfg.judge.score not in SCORE_MODES:
        raise HarnessError(f"judge.score: must be one of {', '.join(SCORE_MODES)}, got {cfg.judge.score!r}")
    if cfg.judge.ensemble not in METHODS:
        raise HarnessError(f"judge.ensemble: must be one of {', '.join(METHODS)}, got {cfg.judge.ensemble!r}")
    if cfg.best_metric not in known:
        raise HarnessError(f"best_metric: unknown metric {cfg.best_metric!r} for benchmarks {cfg.eval.benchmarks}")
    if higher_is_better(cfg.best_metric) is None:
        raise HarnessError(f"best_metric: {cfg.best_metric} has no better direction (declared higher_is_better=None)")
    if cfg.prompts.path:
        path = Path(cfg.prompts.path) if os.path.isabs(cfg.prompts.path) else base_dir / cfg.prompts.path
        if not path.is_file():
            raise HarnessError(f"prompts.path: {cfg.prompts.path} not found")
        cfg.prompts.path = str(path)


def parse_config(data: Any, base_dir: Path | None = None) -> RunConfig:
    """Build a validated :class:`RunConfig` from parsed YAML."""
    if not isinstance(data, dict):
        raise HarnessError("config: expected a mapping at the top level")
    top = {f.name for f in dataclasses.fields(RunConfig)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in top:
            raise HarnessError(f"{key}: unknown key (known: {', '.join(sorted(top))})")
        if key in _SECTIONS:
            kwargs[key] = _build(_SECTIONS[key], value or {}, key)
        elif key == "iterations":
            if not isinstance(value, list):
                raise HarnessError("iterations: expected a list")
            kwargs[key] = [_build(IterationSection, v or {}, f"iterations[{i}]") for i, v in enumerate(value)]
        elif key == "gates":
            if not isinstance(value, list) or not all(isinstance(g, str) for g in value):
                raise HarnessError("gates: expected a list of rule strings")
            kwargs[key] = value
        else:
            kwargs[key] = value
    cfg = _build(RunConfig, {k: v for k, v in kwargs.items() if k not in _SECTIONS and k != "iterations"}, "config")
    for key, value in kwargs.items():
        if key in _SECTIONS or key == "iterations":
            setattr(cfg, key, value)
    _check(cfg, base_dir or Path.cwd())
    return cfg


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> RunConfig:
    from harness.files import read_yaml

    data = read_yaml(path)
    if data is None:
        raise HarnessError(f"{path}: empty config")
    if not isinstance(data, dict):
        raise HarnessError(f"{path}: expected a mapping of keys at the top level, got a {type(data).__name__}")
    if overrides:
        data = {**data, **overrides}
    try:
        return parse_config(data, Path(path).resolve().parent)
    except HarnessError as exc:  # "eval.limit: ..." names the key; the line names the file too
        raise HarnessError(f"{path}: {exc}") from exc


def config_dict(cfg: RunConfig) -> dict[str, Any]:
    return dataclasses.asdict(cfg)
