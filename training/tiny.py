"""An offline tiny Llama chat model for tests and the demo, and the pretrained base the demo starts from.

``make_tiny`` trains a byte-level BPE tokenizer whose pre-tokenizer splits every digit into its own token
(arithmetic is learnable only then) on ``pydoc_data.topics`` (text that ships with CPython) plus task-world
text, and saves a small randomly initialised ``LlamaForCausalLM`` next to it, with a chat template whose
assistant turns are wrapped in ``{% generation %}`` markers so TRL can train on completions only. Everything
is deterministic for a seed and needs no network. head_dim is 32 because vLLM's CPU attention needs >= 32.

``pretrained_base`` is ``builtin:tiny``, the demo's M0: the papers start from a pretrained Llama, so the
faithful analogue is a short causal-LM pretraining of a few-million-parameter model on plain task-world text
(``benchmarks.core.world.pretraining_corpus``: facts and some questions, never a chat or a judgment), then a
mid-training phase on corrected exercises (``review_corpus``: an attempt and a review that checks it), as real
pretraining mixes end on the text they most want learned. It is
built once per content hash of (seed, architecture, corpus, steps) into the cache directory
(``$HARNESS_CACHE`` or ``~/.cache/harness``) and reused by the demo and the tests. The seed-0 base, as built on
the development machine, ships in ``training/assets/tiny-base`` (8.5 MB, with the sha256 of each file): ``make
setup`` copies it into the cache instead of pretraining (11 to 21 minutes on 2 cores), and ``make base`` rebuilds
it from the corpus and says whether the result matches the shipped files on this CPU.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from harness.files import atomic_dir
from harness.types import HarnessError

SPECIAL_TOKENS = ["<|pad|>", "<|bos|>", "<|end|>", "<|system|>", "<|user|>", "<|assistant|>"]

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "<|assistant|>\n{% generation %}{{ message['content'] }}<|end|>{% endgeneration %}\n"
    "{% else %}"
    "<|{{ message['role'] }}|>\n{{ message['content'] }}<|end|>\n"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


@dataclass(frozen=True)
class TinyArch:
    """The architecture of a tiny model (the defaults: the fast, random one the unit tests use)."""

    vocab_size: int = 2048
    hidden_size: int = 128
    num_layers: int = 2
    num_heads: int = 4
    intermediate_size: int = 256
    max_positions: int = 8192


# the demo's base: ~2.2M parameters, 4 layers (~10k training tokens/s on 2 cores)
BASE_ARCH = TinyArch(
    vocab_size=2048, hidden_size=192, num_layers=4, num_heads=6, intermediate_size=512, max_positions=2048
)


@dataclass(frozen=True)
class PretrainSettings:
    steps: int = 1400
    batch_size: int = 8
    # the judge's prompt puts the response ~150 tokens in: a base pretrained on 64-token windows cannot copy
    # from there (measured: 0-45% copy past position 64, 95-100% after 256-token pretraining)
    seq_len: int = 256
    learning_rate: float = 7e-4  # a GPU sweep at 256 tokens: mean first-answer accuracy 0.11 at 3e-3, 0.44-0.65 at 7e-4
    warmup: int = 50
    corpus_docs: int = 30_000
    # a second, mid-training phase on corrected exercises (benchmarks.core.world.review_corpus): with the first
    # phase alone the judge copied the numbers of a check but its verdicts were at chance (issue 11's note)
    review_steps: int = 1500
    review_learning_rate: float = 5e-4
    review_warmup: int = 30
    review_docs: int = 20_000
    corpus_version: int = 8  # bump when benchmarks.core.world.pretraining_corpus or review_corpus changes


def _training_text() -> list[str]:
    from pydoc_data.topics import topics

    from benchmarks.core import world as taskworld
    from judges.prompts import PROMPT_DIR

    # the judge prompts and the task world weigh as much as the Python docs: their words become single tokens
    prompts = [p.read_text() for p in sorted(PROMPT_DIR.glob("*.txt"))] * 50
    return [topics[k] for k in sorted(topics)] + prompts + taskworld.pretraining_corpus(20_000, seed=-1)


def make_tiny(out_dir: str | Path, *, seed: int = 0, arch: TinyArch | None = None) -> Path:
    """Build the tokenizer and a randomly initialised model into ``out_dir`` and return it."""
    with atomic_dir(out_dir) as tmp:  # a killed build leaves no half-written checkpoint
        _build(tmp, seed, arch or TinyArch())
    return Path(out_dir)


def _tokenizer(vocab_size: int, max_positions: int):  # type: ignore[no-untyped-def]
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    # each digit its own token, then byte-level BPE
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_training_text(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|bos|>",
        eos_token="<|end|>",
        pad_token="<|pad|>",
        additional_special_tokens=["<|system|>", "<|user|>", "<|assistant|>"],
        padding_side="left",
        model_max_length=max_positions,
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def _build(out: Path, seed: int, arch: TinyArch) -> None:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    fast = _tokenizer(arch.vocab_size, arch.max_positions)
    fast.save_pretrained(out)
    torch.manual_seed(seed)
    config = LlamaConfig(  # type: ignore[call-arg]  # torch_dtype: kept, so that a rebuilt config.json equals the shipped one
        vocab_size=len(fast),
        hidden_size=arch.hidden_size,
        intermediate_size=arch.intermediate_size,
        num_hidden_layers=arch.num_layers,
        num_attention_heads=arch.num_heads,
        num_key_value_heads=arch.num_heads,
        head_dim=arch.hidden_size // arch.num_heads,
        max_position_embeddings=arch.max_positions,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
        tie_word_embeddings=True,
        torch_dtype="float32",
    )
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = fast.pad_token_id
    model.save_pretrained(out, safe_serialization=True)
    (out / "harness_tiny.json").write_text(json.dumps({"seed": seed, "source": "harness make-tiny"}) + "\n")


def cache_dir() -> Path:
    return Path(os.environ.get("HARNESS_CACHE") or Path.home() / ".cache" / "harness")


def base_key(seed: int, arch: TinyArch = BASE_ARCH, settings: PretrainSettings | None = None) -> str:
    """Content hash of everything the pretrained base depends on."""
    settings = settings or PretrainSettings()
    doc = json.dumps({"seed": seed, "arch": asdict(arch), "pretrain": asdict(settings), "format": 1}, sort_keys=True)
    return hashlib.blake2b(doc.encode(), digest_size=8).hexdigest()


# the demo's base as built on the development machine (2 CPU cores): shipped so that `make setup` does not pretrain
SHIPPED_BASE = Path(__file__).resolve().parent / "assets" / "tiny-base"
SHIPPED_MANIFEST = "shipped.json"  # {"base_key": ..., "sha256": {file: digest}, "built_on": ...}


def file_digests(path: Path) -> dict[str, str]:
    """sha256 of each file of a base directory (its weights, tokenizer and configs), by name."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(path.iterdir())
        if p.is_file() and not p.name.startswith(".") and p.name != SHIPPED_MANIFEST
    }


def shipped_base(seed: int = 0, settings: PretrainSettings | None = None) -> Path | None:
    """The shipped base directory when it is the base for (``seed``, ``settings``) and its files are intact."""
    manifest = SHIPPED_BASE / SHIPPED_MANIFEST
    if not manifest.is_file():
        return None
    doc = json.loads(manifest.read_text())
    if doc.get("base_key") != base_key(seed, BASE_ARCH, settings):
        return None
    found, recorded = file_digests(SHIPPED_BASE), doc.get("sha256", {})
    for name in sorted(set(found) | set(recorded)):
        if found.get(name) != recorded.get(name):
            what = "is missing" if name not in found else "is not recorded" if name not in recorded else "differs"
            raise HarnessError(
                f"{SHIPPED_BASE / name}: {what} from {manifest}'s sha256 (a damaged checkout? git checkout -- "
                f"training/assets, or make base to rebuild it)"
            )
    return SHIPPED_BASE


def pretrained_base(
    seed: int = 0,
    *,
    settings: PretrainSettings | None = None,
    log: Callable[[str], None] | None = None,
) -> Path:
    """The pretrained tiny base for ``seed``: from the cache, else a copy of the shipped one when it is this
    recipe's, else built (and cached)."""
    settings = settings or PretrainSettings()
    path = cache_dir() / "tiny" / f"base-{base_key(seed, BASE_ARCH, settings)}"
    if (path / "model.safetensors").is_file():
        return path
    shipped = shipped_base(seed, settings)
    if shipped is not None:
        import shutil

        with atomic_dir(path) as tmp:
            for name in file_digests(shipped):
                shutil.copyfile(shipped / name, tmp / name)
        return path
    if log:
        # ~10,000 training tokens/s on 2 cores (0.2 s per step of 8 x 256), plus about a minute and a half for the
        # tokenizer and the corpus: ~690 s for the demo's base, which took 11 to 12 minutes in the last builds
        eta = (settings.steps + settings.review_steps) * settings.batch_size * settings.seq_len // 10_000 + 90
        log(f"building the pretrained tiny base into {path} (once; ~{eta} s on 2 cores)")
    with atomic_dir(path) as tmp:
        _build(tmp, seed, BASE_ARCH)
        pretrain(tmp, settings, seed=seed, log=log)
    return path


def rebuild_and_compare(log: Callable[[str], None] = print) -> bool:
    """`make base`: pretrain the demo's base from the corpus here, into a temporary directory, and say whether it
    matches the shipped one on this CPU (float arithmetic differs between CPUs, so it may not). Returns the match."""
    import tempfile

    settings = PretrainSettings()
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "base"
        eta = (settings.steps + settings.review_steps) * settings.batch_size * settings.seq_len // 10_000 + 90
        log(f"rebuilding the pretrained tiny base from the corpus into {out} (~{eta} s on 2 cores)")
        out.mkdir()
        _build(out, 0, BASE_ARCH)
        pretrain(out, settings, seed=0, log=log)
        built = file_digests(out)
        doc = json.loads((SHIPPED_BASE / SHIPPED_MANIFEST).read_text())
        shipped = doc["sha256"]
        for name in sorted(set(built) | set(shipped)):
            same = built.get(name) == shipped.get(name)
            log(f"  {name:<24} {'same' if same else 'DIFFERENT'}  built {str(built.get(name))[:16]}  "
                f"shipped {str(shipped.get(name))[:16]}")  # fmt: skip
        if built.get("model.safetensors") != shipped.get("model.safetensors"):
            from safetensors.numpy import load_file

            a, b = load_file(str(out / "model.safetensors")), load_file(str(SHIPPED_BASE / "model.safetensors"))
            diff = max(float(abs(a[k] - b[k]).max()) for k in a)
            log(f"  largest weight difference: {diff:.3g}")
    match = built.get("model.safetensors") == shipped.get("model.safetensors")
    where = doc.get("built_on", "the development machine")
    log(f"the rebuilt base {'matches' if match else 'does not match'} the shipped one (built on {where})")
    return match


def pretrain(
    model_dir: Path, settings: PretrainSettings, *, seed: int = 0, log: Callable[[str], None] | None = None
) -> list[float]:
    """Causal-LM pretraining in place on packed sequences: the task-world corpus, then a mid-training phase on
    corrected exercises (``review_steps``, 0 for none). Returns the loss curve of both phases."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from benchmarks.core import world as taskworld

    torch.manual_seed(seed)
    tok = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), use_safetensors=True)
    model.train()
    phases = [("pretrain", taskworld.pretraining_corpus(settings.corpus_docs, seed=seed), settings.steps,
               settings.learning_rate, settings.warmup)]  # fmt: skip
    if settings.review_steps:
        phases.append(("reviews", taskworld.review_corpus(settings.review_docs, seed=seed), settings.review_steps,
                       settings.review_learning_rate, settings.review_warmup))  # fmt: skip
    losses: list[float] = []
    for name, docs, steps, lr, warmup in phases:
        losses += _train_phase(model, tok, docs, settings, steps, lr, warmup, seed=seed, name=name, log=log)
    model.eval()
    model.save_pretrained(model_dir, safe_serialization=True)
    info = {"seed": seed, "source": "harness pretrained base", "pretrain": asdict(settings), "final_loss": losses[-1]}
    (model_dir / "harness_tiny.json").write_text(json.dumps(info) + "\n")
    return losses


def _train_phase(  # type: ignore[no-untyped-def]
    model,
    tok,
    docs: list[str],
    settings: PretrainSettings,
    steps: int,
    lr: float,
    warmup: int,
    *,
    seed: int,
    name: str,
    log: Callable[[str], None] | None,
) -> list[float]:
    """One phase: AdamW with a linear warmup and a cosine decay to 5%, on random packed windows of ``docs``."""
    import torch

    ids: list[int] = []
    for enc in tok(docs, add_special_tokens=False)["input_ids"]:
        ids += [tok.bos_token_id, *enc, tok.eos_token_id]
    data = torch.tensor(ids, dtype=torch.long)
    n_seq = len(data) // settings.seq_len
    data = data[: n_seq * settings.seq_len].view(n_seq, settings.seq_len)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01, betas=(0.9, 0.98))

    def lr_at(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        frac = (step - warmup) / max(1, steps - warmup)
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    gen = torch.Generator().manual_seed(seed)
    losses = []
    start = time.monotonic()
    for step in range(steps):
        batch = data[torch.randint(0, n_seq, (settings.batch_size,), generator=gen)]
        loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
        if log and (step + 1) % 250 == 0:
            log(f"  {name} step {step + 1}/{steps} loss {sum(losses[-50:]) / 50:.3f} "
                f"({time.monotonic() - start:.0f} s)")  # fmt: skip
    return losses


if __name__ == "__main__":  # `python -m training.tiny`: the base into the cache (make setup); --rebuild: make base
    import sys

    if "--rebuild" in sys.argv[1:]:
        rebuild_and_compare()
    else:
        print(pretrained_base(0, log=print))
