"""``hf:PATH`` — transformers ``generate``, batched by prompt length with left padding.

Sampling uses the Gumbel-max trick with one ``torch.Generator`` per sample (seeded
``seed + i``), so a sample is the same whatever batch it lands in: a resumed run and an
uninterrupted one give the same text. Options: ``batch_size`` (default 16), ``dtype``
(default float32 on CPU), ``device``, ``trust_remote_code`` (default false), ``cache``
(``static``, the default for a model class that supports it: the KV cache is allocated once per batch, where transformers' dynamic cache
concatenates every layer's keys and values at every step; ``dynamic``: transformers' default).
Neither compiles the model (``disable_compile``: transformers would compile a static cache's forward on a
GPU, once per shape). ``bench/hf_batch_size.py`` times both on the demo's heaviest stage.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from harness.backends import checkpoint_identity, gather, register
from harness.spec import ModelSpec
from harness.types import Completion, HarnessError, Request, SamplingParams


class _SeededSampler:
    """Logits processor: temperature, top-p, then per-row Gumbel noise; greedy argmax picks the sample."""

    def __init__(self, seeds: list[int], temperature: float, top_p: float, device: Any) -> None:
        import torch

        self.torch = torch
        self.gens = [torch.Generator(device="cpu").manual_seed(s) for s in seeds]
        self.temperature = temperature
        self.top_p = top_p
        self.device = device

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        torch = self.torch
        if self.temperature == 0:
            return scores
        scores = scores.float() / self.temperature
        if self.top_p < 1.0:
            scores = scores.masked_fill(self._outside_nucleus(scores), float("-inf"))
        vocab = scores.shape[-1]
        uniform = torch.stack([torch.rand(vocab, generator=g) for g in self.gens]).to(scores.device)
        gumbel = -torch.log(-torch.log(uniform.clamp_min(1e-20)))
        return scores + gumbel

    def _outside_nucleus(self, scores: Any) -> Any:
        """The tokens outside the top-p nucleus: those after which, in descending order, the mass before them
        already reaches top_p (at least one token stays). The nucleus of a peaked distribution lies in its few
        most likely tokens, so the top 64 are ranked first and the whole vocabulary is sorted only for a batch
        where they hold less than top_p of the mass (a full sort of 64 x 2,048 logits was 12% of judging)."""
        torch = self.torch
        k = min(64, scores.shape[-1])
        top, idx = torch.topk(scores, k, dim=-1)
        probs = (top - torch.logsumexp(scores, dim=-1, keepdim=True)).exp()
        before = probs.cumsum(dim=-1) - probs
        if bool((before[:, -1] + probs[:, -1] >= self.top_p).all()):
            drop = torch.ones_like(scores, dtype=torch.bool)
            return drop.scatter(-1, idx, before >= self.top_p)
        ordered, order = torch.sort(scores, descending=True, dim=-1)
        probs = ordered.softmax(dim=-1)
        before_all = probs.cumsum(dim=-1) - probs
        return (before_all >= self.top_p).scatter(-1, order, before_all >= self.top_p)


@register("hf")
class HFModel:
    def __init__(self, spec: ModelSpec, store: Any = None) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path, self.identity = checkpoint_identity(spec, store)
        opts = dict(spec.options)
        trust = bool(opts.pop("trust_remote_code", False))
        self.batch_size = int(opts.pop("batch_size", 16))
        cache = opts.pop("cache", None)  # harness.spec checks the value
        dtype = getattr(torch, str(opts.pop("dtype", "float32")))
        self.device = str(opts.pop("device", "cuda" if torch.cuda.is_available() else "cpu"))
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust)
            model: Any = AutoModelForCausalLM.from_pretrained(
                path, dtype=dtype, use_safetensors=True, trust_remote_code=trust
            )
            self.model = model.to(self.device)
        except Exception as exc:
            raise HarnessError(f"model path {spec.target}: cannot load ({str(exc).splitlines()[0]})") from exc
        self.model.eval()
        # a static cache needs a model class that declares it can run one (transformers' _can_compile_fullgraph):
        # by default such a model gets it and any other the dynamic cache; asked for explicitly, it is refused
        static_ok = bool(getattr(self.model, "_can_compile_fullgraph", False))
        if cache == "static" and not static_ok:
            raise HarnessError(
                f"model {spec.target}: option cache=static: {type(self.model).__name__} has no static cache"
            )
        self.cache = str(cache or ("static" if static_ok else "dynamic"))
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token

    def _prompt_text(self, req: Request) -> tuple[str, bool]:
        if req.messages is None:
            return req.prompt or "", True
        msgs = [{"role": m.role, "content": m.content} for m in req.messages]
        text = self.tokenizer.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
        return str(text), False

    @property
    def context_length(self) -> int | None:
        """The most tokens (prompt + completion) the model takes: its ``max_position_embeddings``."""
        n = getattr(self.model.config, "max_position_embeddings", None)
        return int(n) if n else None

    def prompt_tokens(self, req: Request) -> int:
        """The request's prompt length in tokens, as it is given to ``generate`` (chat template applied)."""
        return len(self.tokenizer(self._prompt_text(req)[0]).input_ids)

    def generate(self, requests: list[Request]) -> list[list[Completion]]:
        return gather(self.stream(requests), len(requests))

    def stream(
        self, requests: list[Request], window: int | None = None
    ) -> Iterator[list[tuple[int, list[Completion]]]]:
        """Batches of ``batch_size`` samples grouped by prompt length (less padding, as lm-eval's ``Collator``
        orders by length), over windows of ``window`` requests (default: all); a request is yielded as soon as
        the batch holding its last sample is done."""
        win = window or max(len(requests), 1)
        for start in range(0, len(requests), win):
            yield from self._stream_window(requests, list(range(start, min(start + win, len(requests)))))

    def _stream_window(self, requests: list[Request], idxs: list[int]) -> Iterator[list[tuple[int, list[Completion]]]]:
        groups: dict[tuple[Any, ...], list[int]] = defaultdict(list)
        for i in idxs:
            p = requests[i].params
            groups[(p.temperature, p.top_p, p.max_tokens, p.stop, p.logprobs, requests[i].messages is None)].append(i)
        for members in groups.values():
            length = {i: self.prompt_tokens(requests[i]) for i in members}
            # longest first (a memory error shows at once), a request's samples side by side
            order = sorted(members, key=lambda i: -length[i])
            rows = [(i, s) for i in order for s in range(requests[i].params.n)]
            got: dict[int, list[Completion]] = {}
            for start in range(0, len(rows), self.batch_size):
                batch = rows[start : start + self.batch_size]
                for (i, _), comp in zip(batch, self._generate_rows(requests, batch), strict=True):
                    got.setdefault(i, []).append(comp)
                finished = [(i, got.pop(i)) for i in dict.fromkeys(i for i, _ in batch)
                            if len(got.get(i, ())) == requests[i].params.n]  # fmt: skip
                if finished:
                    yield finished

    def _generate_rows(self, requests: list[Request], rows: list[tuple[int, int]]) -> list[Completion]:
        import torch
        from transformers import LogitsProcessorList

        params: SamplingParams = requests[rows[0][0]].params
        texts, special = zip(*(self._prompt_text(requests[i]) for i, _ in rows), strict=True)
        enc = self.tokenizer(list(texts), return_tensors="pt", padding=True, add_special_tokens=special[0])
        enc = {k: v.to(self.device) for k, v in enc.items()}
        seeds = []
        for i, s in rows:
            seed = requests[i].params.sample_seed(s)
            seeds.append(seed if seed is not None else random.getrandbits(63))
        sampler = _SeededSampler(seeds, params.temperature, params.top_p, self.device)
        kwargs: dict[str, Any] = {}
        if params.stop:
            kwargs.update(stop_strings=list(params.stop), tokenizer=self.tokenizer)
        with torch.no_grad():
            gen = self.model.generate(
                **enc,
                do_sample=False,
                max_new_tokens=params.max_tokens,
                logits_processor=LogitsProcessorList([sampler]),
                return_dict_in_generate=True,
                output_logits=params.logprobs is not None,
                pad_token_id=self.tokenizer.pad_token_id,
                eos_token_id=self.tokenizer.eos_token_id,
                temperature=None,
                top_p=None,
                top_k=None,
                cache_implementation="static" if self.cache == "static" else None,
                disable_compile=True,
                **kwargs,
            )
        prompt_len = enc["input_ids"].shape[1]
        prompt_tokens = enc["attention_mask"].sum(dim=1).tolist()
        comps = []
        for row, seq in enumerate(gen.sequences):
            new: list[int] = seq[prompt_len:].tolist()
            finish = "length"
            if self.tokenizer.eos_token_id in new:
                new = new[: new.index(self.tokenizer.eos_token_id) + 1]
                finish = "stop"
            text = str(self.tokenizer.decode(new, skip_special_tokens=True))
            for stop in params.stop:
                if stop in text:
                    text, finish = text[: text.index(stop)], "stop"
            logprobs: list[dict[str, float]] | None = None
            tokens: list[str] | None = None
            if params.logprobs is not None:
                logprobs = []
                tokens = [str(self.tokenizer.decode([t], skip_special_tokens=True)) for t in new]
                for step in range(len(new)):
                    lp = torch.log_softmax(gen.logits[step][row].float(), dim=-1)
                    top = torch.topk(lp, max(params.logprobs, 1))
                    entry = {
                        str(self.tokenizer.decode([t])): float(v) for v, t in zip(top.values, top.indices, strict=True)
                    }
                    entry.setdefault(str(self.tokenizer.decode([new[step]])), float(lp[new[step]]))
                    logprobs.append(entry)
            comps.append(Completion(text, finish, int(prompt_tokens[row]), len(new), logprobs, tokens))
        return comps

    def close(self) -> None:
        import gc

        del self.model
        gc.collect()
