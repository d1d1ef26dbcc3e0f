"""SFT and DPO through TRL (Self-Rewarding 2.1 and 2.3; Meta-Rewarding A.3 for the per-iteration settings).

Both take plain rows, build a `datasets.Dataset`, and save a complete checkpoint (weights in
safetensors + tokenizer) that every backend can load. On CPU they run with ``use_cpu=True,
bf16=False`` and without gradient checkpointing (TRL's defaults assume a GPU).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.files import DIR_MARKER, replace_dir
from harness.types import HarnessError


@dataclass
class TrainSettings:
    epochs: float = 1.0
    learning_rate: float = 1e-5
    batch_size: int = 8
    grad_accum: int = 1
    max_length: int = 512
    seed: int = 0
    beta: float = 0.1  # DPO only


def _device_args() -> dict[str, Any]:
    import torch

    # `accelerate launch --cpu` sets ACCELERATE_USE_CPU=True in the launched process: the CPU is asked for on a GPU
    # machine too (accelerate's own flag parsing, so "true", "1", "yes" all count)
    from accelerate.utils import parse_flag_from_env

    on_gpu = torch.cuda.is_available() and not parse_flag_from_env("ACCELERATE_USE_CPU")
    return {
        "use_cpu": not on_gpu,
        "bf16": on_gpu and torch.cuda.is_bf16_supported(),
        "gradient_checkpointing": on_gpu,
        "report_to": [],
        "save_strategy": "no",
        "logging_steps": 1,
        "disable_tqdm": True,
    }


def _scratch(out_dir: str | Path) -> Path:
    return Path(out_dir).parent / f".{Path(out_dir).name}.trainer"


def _common_args(out_dir: str | Path, settings: TrainSettings) -> dict[str, Any]:
    """The TrainingArguments shared by SFT and DPO."""
    return {
        # scratch space beside the checkpoint, not in it: the checkpoint directory appears only when complete
        "output_dir": str(_scratch(out_dir)),
        "num_train_epochs": settings.epochs,
        "learning_rate": settings.learning_rate,
        "per_device_train_batch_size": settings.batch_size,
        "gradient_accumulation_steps": settings.grad_accum,
        "max_length": settings.max_length,
        "seed": settings.seed,
        **_device_args(),
    }


# progress(label, total) -> context manager yielding advance(k, note); set by the training loop (in-process runs)
PROGRESS: list[Callable[[str, int], Any]] = []


def _quiet(trainer: Any, label: str) -> Any:
    """No printed log dicts nor tqdm bars: one progress bar with the running loss instead (when the loop gave one)."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback, TrainerCallback

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    if not PROGRESS:
        return trainer
    factory = PROGRESS[-1]

    class _Bar(TrainerCallback):
        def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.ctx = factory(label, int(state.max_steps))
            self.advance = self.ctx.__enter__()

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.advance(1)

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
            if logs and "loss" in logs:
                self.advance(0, f"loss {float(logs['loss']):.3f}")

        def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.ctx.__exit__(None, None, None)

    trainer.add_callback(_Bar())
    return trainer


def _save(trainer: Any, tokenizer: Any, out_dir: Path, history_name: str) -> list[dict[str, Any]]:
    """Write the checkpoint under a temporary name and rename it into place when complete.

    Under ``accelerate launch`` every process takes part in ``save_model`` (sharded states are gathered) and
    the main process writes; a process killed while saving leaves no half-written checkpoint.
    """
    history = [h for h in trainer.state.log_history if "loss" in h or "train_loss" in h]
    main = trainer.is_world_process_zero()
    staging = out_dir.parent / f".{out_dir.name}.saving"
    if main:
        shutil.rmtree(staging, ignore_errors=True)
    trainer.accelerator.wait_for_everyone()
    trainer.save_model(str(staging))
    if main:
        (staging / "training_args.bin").unlink(missing_ok=True)
        tokenizer.save_pretrained(str(staging))
        (staging / history_name).write_text(json.dumps(history, indent=1) + "\n")
        (staging / DIR_MARKER).write_text("built by harness; replaced only by harness\n")
        replace_dir(staging, out_dir)
        shutil.rmtree(_scratch(out_dir), ignore_errors=True)
    trainer.accelerator.wait_for_everyone()
    return history


def sft(
    base: str | Path, rows: list[dict[str, Any]], out_dir: str | Path, settings: TrainSettings
) -> list[dict[str, Any]]:
    """Supervised fine-tuning on chat rows ``{"messages": [...]}`` with the loss on assistant turns only.

    The chat template's ``{% generation %}`` markers give TRL the assistant mask.
    """
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    if not rows:
        raise HarnessError("sft: no training rows")
    tok = AutoTokenizer.from_pretrained(str(base))
    model = AutoModelForCausalLM.from_pretrained(str(base), use_safetensors=True)
    cfg = SFTConfig(
        assistant_only_loss=True,
        **_common_args(out_dir, settings),
    )
    trainer = SFTTrainer(model=model, args=cfg, train_dataset=Dataset.from_list(rows), processing_class=tok)
    _quiet(trainer, "SFT").train()
    return _save(trainer, tok, Path(out_dir), "sft_history.json")


def dpo(
    policy: str | Path, rows: list[dict[str, Any]], out_dir: str | Path, settings: TrainSettings
) -> list[dict[str, Any]]:
    """DPO on ``{"prompt": [messages], "chosen": [assistant msg], "rejected": [assistant msg]}`` rows.

    The policy starts from ``policy`` and the frozen reference model is the same checkpoint
    (the previous iteration's model, as in Self-Rewarding 2.3).
    """
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    if not rows:
        raise HarnessError("dpo: no preference pairs")
    tok = AutoTokenizer.from_pretrained(str(policy))
    model = AutoModelForCausalLM.from_pretrained(str(policy), use_safetensors=True)
    ref = AutoModelForCausalLM.from_pretrained(str(policy), use_safetensors=True)
    cfg = DPOConfig(
        beta=settings.beta,
        **_common_args(out_dir, settings),
    )
    trainer = DPOTrainer(
        model=model, ref_model=ref, args=cfg, train_dataset=Dataset.from_list(rows), processing_class=tok
    )
    _quiet(trainer, "DPO").train()
    return _save(trainer, tok, Path(out_dir), "dpo_history.json")


def logprob_margins(model_dir: str | Path, rows: list[dict[str, Any]], batch_size: int = 32) -> list[float]:
    """Per pair: log p(chosen | prompt) - log p(rejected | prompt) under a checkpoint (summed over response tokens).

    Used to show that DPO moved the model: the margins on the training pairs grow. Sequences are scored in
    right-padded batches (the padding is masked out of the sums).
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), use_safetensors=True).eval()
    seqs: list[tuple[list[int], int]] = []  # (token ids, index of the first response token)
    for r in rows:
        p_ids = tok.apply_chat_template(r["prompt"], add_generation_prompt=True, tokenize=True, return_dict=False)
        for answer in (r["chosen"], r["rejected"]):
            full = tok.apply_chat_template(r["prompt"] + answer, tokenize=True, return_dict=False)
            seqs.append((list(full), len(p_ids)))  # type: ignore[arg-type]  # token ids: tokenize=True
    totals: list[float] = []
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    for start in range(0, len(seqs), batch_size):
        batch = seqs[start : start + batch_size]
        width = max(len(ids) for ids, _ in batch)
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for i, (seq, _) in enumerate(batch):
            ids[i, : len(seq)] = torch.tensor(seq)
            mask[i, : len(seq)] = 1
        with torch.no_grad():
            logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
        lp = torch.log_softmax(logits, dim=-1).gather(2, ids[:, 1:, None])[..., 0]
        for i, (seq, first) in enumerate(batch):
            totals.append(float(lp[i, first - 1 : len(seq) - 1].sum()))
    return [totals[2 * k] - totals[2 * k + 1] for k in range(len(rows))]
